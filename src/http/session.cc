#include "http/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <functional>
#include <iterator>
#include <memory>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include "http/error_response.h"
#include "http/listener.h"
#include "http/metrics.h"
#include "http/request_handler.h"
#include "http/request_log.h"
#include "http/router.h"
#include "http/wire.h"

namespace tokend::http {
namespace {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// The connection's peer address ("127.0.0.1", "::1"); empty when unknown.
std::string PeerAddress(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  return ec ? std::string() : peer.address().to_string();
}

// "ip:port" ("[v6]:port") of the connection's peer; "-" when unknown.
std::string PeerText(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return "-";
  const std::string address = peer.address().to_string();
  const std::string port = std::to_string(peer.port());
  return peer.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
}
using error_code = boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// How long a closing connection keeps reading (and discarding) what the
// client still sends, so that the last response is not lost to a reset.
constexpr std::chrono::seconds kLingerTime{2};
// What a request line holds besides its target: the method, two spaces,
// "HTTP/1.1" and the line end, with room for a long method.
constexpr std::size_t kMaxLineFraming = 64;
// Empty lines before a request line are skipped (RFC 9112 section 2.2: a
// client may end a body with an extra CRLF), up to this many bytes of them;
// more are a malformed request.
constexpr std::size_t kMaxLeadingEmptyLineBytes = 16;
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;
// A write buffer grown beyond this by one large response is released.
constexpr std::size_t kKeptWriteBuffer = 64 * 1024;

// True when a header over the limit is so because of its request line (414,
// not 431). The parser consumes the request line once it is complete, so a
// request line is still in the buffer exactly when the target is not parsed.
bool RequestLineTooLong(const beast_http::request_parser<beast_http::string_body>& parser,
                        const beast::flat_buffer& buffer, std::size_t max_target) {
  const std::string_view target = parser.get().target();
  if (!target.empty()) return target.size() > max_target;
  const auto data = buffer.data();
  const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  const auto end = bytes.find("\r\n");
  return end == std::string_view::npos || end > max_target;
}

// The path of `parser`'s request once its start line is parsed, else of the
// request at the start of `buffer` as far as it has come; empty when there
// is none yet.
std::string_view RequestPathSoFar(const beast_http::request_parser<beast_http::string_body>& parser,
                                  const beast::flat_buffer& buffer) {
  // The start line is kept once parsed, even when the header then fails.
  std::string_view target = parser.get().target();
  if (target.empty()) {
    const auto data = buffer.data();
    target = std::string_view(static_cast<const char*>(data.data()), data.size());
    const auto space = target.find(' ');
    if (space == std::string_view::npos) return {};
    target.remove_prefix(space + 1);
    target = target.substr(0, target.find_first_of(" \r\n"));
  }
  const std::optional<Target> parsed = ParseTarget(target);
  return parsed ? parsed->path : std::string_view();
}

// Cuts a wire response after its header block: an answer to HEAD ends there
// (RFC 9110 section 9.3.2). Its Content-Length describes a body the client
// does not read, and bytes after the header would be taken for the next
// response.
void DropBody(std::string& wire) { wire.resize(wire.find("\r\n\r\n") + 4); }

// Whether the header at the start of `buffer` (up to its blank line, or all
// of it while incomplete) continues a field on a line that starts with a
// space or a tab (obs-fold). Refused (400), as RFC 9112 section 5.2 allows: a
// proxy in front that joins or splits folded lines differently would frame
// the request otherwise (a folded Transfer-Encoding, say).
bool HoldsFoldedHeaderLine(const beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  // Line by line, up to the blank line that ends the header: a body may
  // follow in the buffer, and is not a header.
  for (std::size_t at = bytes.find('\n'); at != std::string_view::npos && at + 1 < bytes.size();
       at = bytes.find('\n', at + 1)) {
    const char next = bytes[at + 1];
    if (next == ' ' || next == '\t') return true;
    if (next == '\r' || next == '\n') return false;
  }
  return false;
}

// Why a request's body framing is refused, or nullopt. tokend reads bodies
// framed by Content-Length or by exactly `Transfer-Encoding: chunked`; any
// other transfer coding, or a coding together with a Content-Length, could be
// framed differently by a proxy in front (request smuggling, RFC 9112
// section 6.3), so such a request is answered 400 and the connection closed.
std::optional<std::string> FramingRefusal(const Request& req) {
  const auto codings = req.equal_range(beast_http::field::transfer_encoding);
  if (codings.first == codings.second) return std::nullopt;
  if (req.version() < 11) {
    return "Transfer-Encoding is not allowed in an HTTP/1.0 request.";
  }
  if (req.count(beast_http::field::content_length) > 0) {
    return "A request may not carry both Transfer-Encoding and Content-Length.";
  }
  if (std::next(codings.first) != codings.second) {
    return "Transfer-Encoding may be given once, as 'chunked'.";
  }
  std::string_view value = codings.first->value();
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (!beast::iequals(value, "chunked")) {
    return "Transfer-Encoding must be exactly 'chunked'; no other transfer coding is accepted.";
  }
  return std::nullopt;
}

// RFC 9112 section 2.3: a request of a later minor version of HTTP/1 is
// answered as one of HTTP/1.1, the highest tokend speaks. Beast's parser
// refuses every version but 1.0 and 1.1 (bad_version) before it consumes the
// request line, so the line at the start of `buffer` is read as HTTP/1.1
// instead: true when it ends (so far) in " HTTP/1.2" to " HTTP/1.9", which
// then says " HTTP/1.1". Any other version stays as it is, and refused.
bool ReadLaterMinorVersionAsHttp11(beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  char* const bytes = static_cast<char*>(data.data());
  const std::string_view text(bytes, data.size());
  constexpr std::string_view kHttp1 = " HTTP/1.";
  // The line may not have ended yet: Beast judges the version before it
  // looks for the line's end.
  std::size_t end = std::min(text.find('\n'), text.size());
  if (end > 0 && text[end - 1] == '\r') --end;
  if (end < kHttp1.size() + 1) return false;
  const std::size_t minor = end - 1;
  if (text.substr(minor - kHttp1.size(), kHttp1.size()) != kHttp1 || text[minor] < '2' ||
      text[minor] > '9') {
    return false;
  }
  bytes[minor] = '1';
  return true;
}

// The lines at the start of `buffer` up to the blank line that ends a header,
// each with its CRLF; nullopt while that blank line has not arrived.
std::optional<std::string_view> RestOfHeader(const beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  if (bytes.starts_with("\r\n")) return bytes.substr(0, 0);
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  return bytes.substr(0, end + 2);
}

// The value of the first field named `name` (case-insensitive) among
// `lines`, header lines as RestOfHeader gives them; nullopt too when that
// field goes on in a folded line (its value would be a guess).
std::optional<std::string_view> FieldAmong(std::string_view lines, std::string_view name) {
  while (!lines.empty()) {
    const auto end = lines.find("\r\n");
    std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !beast::iequals(line.substr(0, colon), name)) continue;
    if (lines.starts_with(' ') || lines.starts_with('\t')) return std::nullopt;
    line.remove_prefix(colon + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    return line;
  }
  return std::nullopt;
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool ExpectsContinue(const Request& req) {
  return req.version() >= 11 && beast::iequals(req[beast_http::field::expect], "100-continue");
}

}  // namespace

void Session::Start(Listener& listener, tcp::socket socket, bool admitted, TlsContextPtr tls) {
  auto session = std::make_shared<Session>(listener, std::move(socket), admitted, std::move(tls));
  asio::co_spawn(
      listener.context(), [session]() -> asio::awaitable<void> { co_await session->Run(); },
      asio::detached);
}

Session::Session(Listener& listener, tcp::socket socket, bool admitted, TlsContextPtr tls)
    : listener_(listener),
      options_(listener.server().options),
      socket_(std::move(socket)),
      tls_context_(std::move(tls)),
      deadline_(listener.context().get_executor()),
      buffer_(options_.max_header_bytes + kReadChunk),
      on_chunk_header_([this](std::uint64_t size, beast::string_view extensions, error_code& ec) {
        OnChunkHeader(size, extensions, ec);
      }),
      admitted_(admitted) {
  if (tls_context_) tls_.emplace(tls_context_->native_handle(), socket_);
  listener_.SessionStarted(this);
  if (admitted_) listener_.server().metrics.ConnectionOpened();
  error_code ignored;
  socket_.non_blocking(true, ignored);
}

Session::~Session() {
  if (admitted_) {
    listener_.server().connections.fetch_sub(1);
    listener_.server().metrics.ConnectionClosed();
  }
  listener_.SessionEnded(this);
}

void Session::OnDrain() {
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kClosing;
    error_code ignored;
    socket_.cancel(ignored);
  }
}

void Session::ForceClose() {
  phase_ = Phase::kClosing;
  error_code ignored;
  socket_.close(ignored);
}

asio::awaitable<void> Session::Run() {
  try {
    if (tls_ && !co_await Handshake()) {
      // Closed below: nothing can be answered without a TLS session.
    } else if (admitted_) {
      co_await Serve();
    } else {
      co_await SendErrorAndClose(core::ApiError::kTooManyConnections,
                                 "Too many open connections; retry later.");
    }
  } catch (const std::exception& e) {
    spdlog::error("connection ended by unexpected {}", typeid(e).name());
  }
  deadline_.Cancel();
  error_code ignored;
  socket_.close(ignored);
}

// The TLS handshake, under the header timeout: one that stalls, or is not
// TLS at all (plain HTTP sent to the HTTPS port, garbage), ends the
// connection, as a slow header does. False when the connection must close.
asio::awaitable<bool> Session::Handshake() {
  phase_ = Phase::kIdle;  // a drain closes a connection still in its handshake
  deadline_.Arm(*this, options_.header_timeout);
  const error_code ec = co_await UntilTlsDone([this] { return tls_->Handshake(); });
  deadline_.Disarm();
  if (phase_ == Phase::kIdle) phase_ = Phase::kBusy;
  if (ec || phase_ == Phase::kClosing) {
    spdlog::debug("TLS handshake with {} failed: {}", PeerText(socket_),
                  deadline_.expired() ? std::string("timed out") : ec.message());
    co_return false;
  }
  co_return true;
}

asio::awaitable<Session::error_code> Session::UntilTlsDone(
    const std::function<error_code()>& attempt) {
  for (;;) {
    error_code ec = attempt();
    if (ec != asio::error::would_block) co_return ec;
    if ((ec = co_await WaitForTls())) co_return ec;
  }
}

asio::awaitable<Session::error_code> Session::WaitForTls() {
  const auto direction =
      tls_->want() == TlsConnection::Want::kRead ? tcp::socket::wait_read : tcp::socket::wait_write;
  auto [ec] = co_await socket_.async_wait(direction, kNoThrow);
  if (!ec && (phase_ == Phase::kClosing || deadline_.expired())) {
    ec = asio::error::operation_aborted;
  }
  co_return ec;
}

// Read, answer, write; again while the connection is kept alive. One
// coroutine, whose reads and writes are tried inline first: a request whose
// bytes are there and whose answer the cache knows suspends nowhere and
// costs no coroutine frame.
asio::awaitable<void> Session::Serve() {
  const RequestHandler& handler = listener_.server().handler;
  if (handler.access_logged()) remote_ = PeerText(socket_);
  peer_ip_ = PeerAddress(socket_);
  for (bool first = true;; first = false) {
    // Read. The idle time (the header time for the first request) runs
    // until the request's first byte; then the header time, then the body
    // time.
    // Empty lines before a request (RFC 9112 section 2.2: a client may end a
    // body with an extra CRLF) are skipped here, as idle time: a request
    // begins with its first other byte.
    empty_line_bytes_ = 0;
    DropEmptyLines();
    while (buffer_.size() == 0 || MayStartAnEmptyLine()) {
      if (listener_.draining()) co_return;
      error_code ec = ReadNow();
      if (ec == asio::error::would_block) {
        phase_ = Phase::kIdle;
        deadline_.Arm(*this, first ? options_.header_timeout : options_.idle_timeout);
        ec = co_await ReadWhenReady();
        deadline_.Disarm();
        if (phase_ == Phase::kIdle) phase_ = Phase::kBusy;
      }
      if (ec || phase_ == Phase::kClosing) co_return;
      DropEmptyLines();
    }
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser_->body_limit(options_.max_body_bytes);
    parser_->on_chunk_header(on_chunk_header_);
    chunked_bytes_ = 0;
    parser_->eager(false);
    std::size_t header_n = 0;
    error_code header_ec = ParseNow(/*whole_message=*/false, header_n);
    if (header_ec == asio::error::would_block) {
      deadline_.Arm(*this, options_.header_timeout);
      header_ec = co_await ParseWhenReady(/*whole_message=*/false, header_n);
      deadline_.Disarm();
    }
    if (header_ec) {
      co_await OnReadError(header_ec, /*header=*/true);
      co_return;
    }
    // The fields every request reads, found once: the checks below and the
    // Exchange share them.
    const RequestHeaders headers = RequestHeaders::Of(parser_->get());
    if (auto refusal = CheckHeader(header_n, headers)) {
      co_await SendErrorAndClose(refusal->first, std::move(refusal->second));
      co_return;
    }
    if (!parser_->is_done()) {
      // A chunked body may end in trailer fields, which Beast adds to the
      // header's. They are dropped below: a credential or a demand read
      // from a trailer would pass a proxy in front that checks headers only
      // (RFC 9110 section 6.5.1: trailers are not header fields).
      // Beast puts a field next to the others of its name, so the header's
      // own fields are told apart by identity, not by position.
      const bool chunked = parser_->chunked();
      std::vector<const void*> header_fields;
      if (chunked) {
        for (const auto& field : parser_->get()) header_fields.push_back(&field);
      }
      parser_->eager(true);
      std::size_t body_n = 0;
      error_code body_ec = ParseNow(/*whole_message=*/true, body_n);
      if (body_ec == asio::error::would_block) {
        if (ExpectsContinue(parser_->get()) &&
            (!co_await WriteAll(kContinue) || phase_ == Phase::kClosing)) {
          co_return;
        }
        deadline_.Arm(*this, options_.body_timeout);
        body_ec = co_await ParseWhenReady(/*whole_message=*/true, body_n);
        deadline_.Disarm();
      }
      if (body_ec) {
        co_await OnReadError(body_ec, /*header=*/false);
        co_return;
      }
      if (chunked) {
        Request& req = parser_->get();
        for (auto field = req.begin(); field != req.end();) {
          const bool from_header =
              std::find(header_fields.begin(), header_fields.end(), &*field) != header_fields.end();
          field = from_header ? std::next(field) : req.erase(field);
        }
      }
    }
    if (phase_ == Phase::kClosing) co_return;

    const bool head_request = parser_->get().method() == beast_http::verb::head;
    // Answer: at once, or after the Step's blocking work on the store pool.
    std::optional<Response> res;
    {
      Exchange ex(parser_->get(), headers, &memo_);
      ex.remote = remote_;
      ex.peer_ip = peer_ip_;
      Step step = handler.Handle(ex);
      if (!step.ready()) step = co_await CompleteOnStorePool(ex, std::move(step));
      res.emplace(std::move(step.value()));
      handler.Finish(ex, *res);
    }
    // Write. Serialized, and request and response freed, before the wait
    // below: held by every connection of the thread at once, they would
    // overflow the allocator's per-thread cache. A drain that begins during
    // the wait closes the connection after this response (the loop's first
    // check), as a server may close a keep-alive connection at any time.
    if (listener_.draining() || phase_ == Phase::kClosing) res->keep_alive(false);
    const bool keep_alive = res->keep_alive();
    out_.clear();
    AppendWireResponse(*res, out_);
    if (head_request) DropBody(out_);
    res.reset();
    parser_.reset();
    // The response waits for the other connections whose requests are ready
    // on this thread, so that the responses leave together: a client (or
    // proxy) multiplexing many connections then wakes once for several
    // answers instead of once for each, and those wake-ups are what cost the
    // most system time on both sides.
    co_await asio::post(socket_.get_executor(), asio::use_awaitable);
    std::string_view rest = out_;
    bool sent = SendNow(rest);
    if (sent && !rest.empty()) sent = co_await SendWhenReady(rest);
    TrimWriteBuffer();
    if (!sent) co_return;
    if (!keep_alive) {
      co_await LingeringClose();
      co_return;
    }
    if (phase_ == Phase::kClosing) co_return;
  }
}

// Runs `step`'s blocking work on the store pool, or starts its submitted
// work here, and resumes it here, until the step is ready.
asio::awaitable<Step> Session::CompleteOnStorePool(Exchange& ex, Step step) {
  const RequestHandler& handler = listener_.server().handler;
  while (!step.ready()) {
    Step::Resume resume;
    if (step.submitted()) {
      Step::Submit submit = step.TakeSubmit();
      resume = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Step::Resume)>(
          [&](auto completion) {
            auto shared = std::make_shared<decltype(completion)>(std::move(completion));
            // Tracked: the I/O thread keeps running (a drain waits) until
            // the work has finished and its answer is back here.
            auto home =
                asio::prefer(socket_.get_executor(), asio::execution::outstanding_work.tracked);
            handler.RunSubmit(ex, submit, [shared, home](Step::Resume finished) {
              asio::post(home, [shared, finished = std::move(finished)]() mutable {
                std::move (*shared)(std::move(finished));
              });
            });
          },
          asio::use_awaitable);
    } else {
      Step::Work work = step.TakeWork();
      resume = co_await asio::co_spawn(
          listener_.server().store_pool,
          [&]() -> asio::awaitable<Step::Resume> { co_return handler.RunWork(ex, work); },
          asio::use_awaitable);
    }
    step = handler.Resume(ex, resume);
  }
  co_return step;
}

// What is wrong with a parsed header that Beast's parser lets through: the
// error to answer (before any body is read), or nullopt.
std::optional<std::pair<core::ApiError, std::string>> Session::CheckHeader(
    std::size_t header_n, const RequestHeaders& headers) const {
  const auto& req = parser_->get();
  if (req.target().size() > options_.max_target_bytes) {
    return std::pair{core::ApiError::kUriTooLong, "The request target is longer than " +
                                                      std::to_string(options_.max_target_bytes) +
                                                      " bytes."};
  }
  // Beast counts its header limit per read, so a header of many short fields
  // arriving in pieces can pass it; the total is checked here.
  if (header_n > options_.max_header_bytes) {
    return std::pair{core::ApiError::kHeadersTooLarge,
                     "The request header is larger than " +
                         std::to_string(options_.max_header_bytes) + " bytes."};
  }
  // RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host, and
  // no request a Host that is not one.
  if (req.version() >= 11 && headers.host_count != 1) {
    return std::pair{core::ApiError::kBadHttpRequest,
                     std::string("An HTTP/1.1 request must carry exactly one Host header.")};
  }
  if (headers.host_count > 1 || !IsHostFieldValue(headers.host)) {
    return std::pair{core::ApiError::kBadHttpRequest,
                     std::string("The Host header is not a host with an optional port.")};
  }
  // Content-Type is a singleton field (RFC 9110 section 8.3): of two, which
  // one describes the body would be a guess, and a proxy in front may guess
  // otherwise. Refused on every request, as a repeated Authorization is.
  if (headers.content_type_count > 1) {
    return std::pair{core::ApiError::kBadHttpRequest,
                     std::string("The Content-Type header is given more than once.")};
  }
  if (auto refusal = FramingRefusal(req)) {
    return std::pair{core::ApiError::kBadHttpRequest, std::move(*refusal)};
  }
  // RFC 9110 section 8.4: a coded body is not the media type it names, and
  // tokend decodes no coding. Refused before the body is read (415, as
  // section 15.5.16 says for a coding the server does not accept). A request
  // without a body is left alone: a gateway's check carries the client's
  // fields without its body.
  if (headers.content_coded && (parser_->chunked() || parser_->content_length().value_or(0) > 0)) {
    return std::pair{core::ApiError::kUnsupportedMediaType,
                     std::string("A request body with a content coding (Content-Encoding) is not "
                                 "accepted; send it unencoded.")};
  }
  if (const auto length = parser_->content_length(); length && *length > options_.max_body_bytes) {
    return std::pair{core::ApiError::kPayloadTooLarge, TooLargeMessage()};
  }
  return std::nullopt;
}

std::string Session::TooLargeMessage() const {
  return "The request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes.";
}

// A chunk line, or the last chunk's trailer section, must be whole in
// buffer_ to be parsed, after the line end of the chunk before it.
std::string Session::ChunkLineTooLongMessage() const {
  return "The request body is larger than " + std::to_string(options_.max_body_bytes) +
         " bytes, or a chunk line or trailer section in it is longer than " +
         std::to_string(buffer_.max_size() - 2) + " bytes.";
}

// Answers what can be answered about a request that could not be read.
asio::awaitable<void> Session::OnReadError(error_code ec, bool header) {
  if (phase_ == Phase::kClosing) co_return;
  if (deadline_.expired()) {
    co_await SendErrorAndClose(core::ApiError::kRequestTimeout,
                               header ? "The request header was not received in time."
                                      : "The request body was not received in time.");
    co_return;
  }
  // Once the header is parsed, buffer_ fills up only with a chunk line (its
  // size, however many leading zeros, and extensions) or a trailer section
  // that does not fit in it. Chunk framing counts toward the body limit
  // (see OnChunkHeader): a 413, not the header's 431.
  if (ec == beast_http::error::buffer_overflow && parser_->is_header_done()) {
    co_await SendErrorAndClose(core::ApiError::kPayloadTooLarge, ChunkLineTooLongMessage(), ec);
    co_return;
  }
  if (ec == beast_http::error::header_limit || ec == beast_http::error::buffer_overflow) {
    if (RequestLineTooLong(*parser_, buffer_, options_.max_target_bytes)) {
      co_await SendErrorAndClose(core::ApiError::kUriTooLong,
                                 "The request target is longer than " +
                                     std::to_string(options_.max_target_bytes) + " bytes.");
    } else {
      co_await SendErrorAndClose(core::ApiError::kHeadersTooLarge,
                                 "The request header is larger than " +
                                     std::to_string(options_.max_header_bytes) + " bytes.");
    }
    co_return;
  }
  if (ec == beast_http::error::body_limit) {
    co_await SendErrorAndClose(core::ApiError::kPayloadTooLarge, TooLargeMessage(), ec);
    co_return;
  }
  if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message) {
    co_return;  // the client went away
  }
  if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category()) {
    co_await SendErrorAndClose(core::ApiError::kBadHttpRequest,
                               "Malformed HTTP request (" + ec.message() + ").", ec);
  }
}

// A chunk's extensions count toward the body limit with its data: Beast
// bounds the data only, and would read any amount of extensions on a small
// body within the body timeout.
void Session::OnChunkHeader(std::uint64_t size, std::string_view extensions, error_code& ec) {
  chunked_bytes_ += size + extensions.size();
  if (chunked_bytes_ > options_.max_body_bytes) ec = beast_http::error::body_limit;
}

// Whether the request being answered is a HEAD, as far as it was read: its
// parsed method, else the start of its request line (a request refused
// before its line was whole, for its length).
bool Session::AnswersHead() const {
  if (!parser_) return false;
  if (!parser_->get().target().empty()) return parser_->get().method() == beast_http::verb::head;
  const auto data = buffer_.data();
  return std::string_view(static_cast<const char*>(data.data()), data.size()).starts_with("HEAD ");
}

// The X-Request-Id the request presents, as far as its header was read;
// nullopt when it presents none, or was refused before its header had all
// arrived or was parsed.
std::optional<std::string_view> Session::PresentedRequestId(error_code read_ec) const {
  if (!parser_) return std::nullopt;
  const Request& req = parser_->get();
  if (parser_->is_header_done()) return RequestHeaders::Of(req).request_id;
  // Beast compares the Content-Length with the body limit once the blank
  // line that ends the header is parsed: every field is in req.
  if (read_ec == beast_http::error::body_limit && !req.target().empty()) {
    return RequestHeaders::Of(req).request_id;
  }
  // Beast refuses these fields as it reads them (and a folded line is
  // refused before Beast reads any): the fields before the refused one are
  // in req, and it and those after it still in buffer_, with the request
  // line when Beast took none. Only once the whole header has arrived.
  if (read_ec == beast_http::error::bad_content_length ||
      read_ec == beast_http::error::multiple_content_length ||
      read_ec == beast_http::error::bad_transfer_encoding ||
      read_ec == beast_http::error::bad_field || read_ec == beast_http::error::bad_value) {
    const std::optional<std::string_view> rest = RestOfHeader(buffer_);
    if (!rest) return std::nullopt;
    if (auto id = RequestHeaders::Of(req).request_id) return id;
    return FieldAmong(*rest, kRequestIdHeader);
  }
  return std::nullopt;
}

// Sends an error response, then closes the connection.
asio::awaitable<void> Session::SendErrorAndClose(core::ApiError error, std::string message,
                                                 error_code read_ec) {
  Response res = ErrorResponse(error, std::move(message));
  // On the forward-auth check's path no answer has a body, these included.
  if (parser_ && IsForwardAuthPath(RequestPathSoFar(*parser_, buffer_))) {
    res.body().clear();
    res.erase(beast_http::field::content_type);
  }
  FinishResponse(res, 11, /*keep_alive=*/false);
  // The request's own id when its header was read, as for any answer.
  const std::string request_id = RequestIdFor(PresentedRequestId(read_ec));
  res.set(kRequestIdHeader, request_id);
  listener_.server().metrics.RecordRequest(kUnmatchedRoute, res.result_int(), 0.0);
  // One access line per answered request, these too: its method once its
  // request line was read.
  std::string_view method;
  if (parser_ && !parser_->get().target().empty()) {
    method = parser_->get().method() == beast_http::verb::unknown
                 ? std::string_view("UNKNOWN")
                 : std::string_view(parser_->get().method_string());
  }
  listener_.server().handler.access_log().WriteRefusal(remote_, method, res.result_int(), {},
                                                       request_id);
  if (co_await Write(res)) co_await LingeringClose();
}

// Half-closes, then discards what the client still sends for a moment, so
// the response is not destroyed by a reset of unread request bytes.
asio::awaitable<void> Session::LingeringClose() {
  error_code ec;
  deadline_.Arm(*this, kLingerTime);
  if (tls_) {
    // close_notify first; then, as without TLS, what the peer still sends
    // (decrypted and dropped) until it closes too.
    ec = co_await UntilTlsDone([this] { return tls_->Shutdown(); });
  }
  if (!ec) socket_.shutdown(tcp::socket::shutdown_send, ec);
  std::size_t total = 0;
  char discard[4096];
  while (!ec && total < kLingerMaxBytes && phase_ != Phase::kClosing) {
    std::size_t n = 0;
    if (tls_) {
      ec = tls_->Read(discard, sizeof discard, n);
      if (ec == asio::error::would_block) ec = co_await WaitForTls();
    } else {
      std::tie(ec, n) = co_await socket_.async_read_some(asio::buffer(discard), kNoThrow);
    }
    total += n;
  }
  deadline_.Disarm();
}

// A large response (the OpenAPI document, an unpaged query) should not pin
// its buffer for the life of the connection.
void Session::TrimWriteBuffer() {
  if (out_.capacity() > kKeptWriteBuffer) std::string().swap(out_);
}

// Writes one response; false when the connection failed or timed out.
asio::awaitable<bool> Session::Write(const Response& res) {
  out_.clear();
  AppendWireResponse(res, out_);
  if (AnswersHead()) DropBody(out_);
  std::string_view rest = out_;
  // Without a coroutine of its own when the socket takes it all at once.
  bool sent = SendNow(rest);
  if (sent && !rest.empty()) sent = co_await SendWhenReady(rest);
  TrimWriteBuffer();
  co_return sent;
}

// Sends all of `data`; when the socket is full, waits for room under the body
// timeout. False when the connection failed, was cancelled or timed out.
asio::awaitable<bool> Session::WriteAll(std::string_view data) {
  if (!SendNow(data)) co_return false;
  if (data.empty()) co_return true;
  co_return co_await SendWhenReady(data);
}

// Sends what the socket takes now, removing it from `data`; false when the
// connection failed.
bool Session::SendNow(std::string_view& data) {
  while (!data.empty()) {
    error_code ec;
    std::size_t n = 0;
    if (tls_) {
      ec = tls_->Write(data.data(), data.size(), n);
    } else {
      n = socket_.write_some(asio::buffer(data), ec);
    }
    if (ec) return ec == asio::error::would_block || ec == asio::error::try_again;
    data.remove_prefix(n);
  }
  return true;
}

// Sends the rest of `data`, waiting for room under the body timeout.
asio::awaitable<bool> Session::SendWhenReady(std::string_view data) {
  deadline_.Arm(*this, options_.body_timeout);
  while (!data.empty()) {
    error_code wait_ec;
    if (tls_) {
      wait_ec = co_await WaitForTls();
    } else {
      std::tie(wait_ec) = co_await socket_.async_wait(tcp::socket::wait_write, kNoThrow);
    }
    if (wait_ec || !SendNow(data)) break;
  }
  deadline_.Disarm();
  co_return data.empty();
}

// Appends what the socket holds now to buffer_, without waiting:
// would_block when it holds nothing, buffer_overflow when buffer_ is full,
// eof when the client closed its side.
//
// A read that came back shorter than asked took everything the socket had
// (drained_): the next read is then surely would_block, and is not made.
// Under load that spares a failing system call per request, since the next
// request of a connection seldom arrives before its response has left.
Session::error_code Session::ReadNow() {
  const std::size_t size = beast::read_size(buffer_, kReadChunk);
  if (size == 0) return beast_http::error::buffer_overflow;
  // Bytes TLS already holds are there even when the socket is empty.
  if (drained_ && !(tls_ && tls_->HasPending())) return asio::error::would_block;
  error_code ec;
  std::size_t n = 0;
  if (tls_) {
    ec = tls_->Read(buffer_.prepare(size).data(), size, n);
  } else {
    n = socket_.read_some(buffer_.prepare(size), ec);
  }
  if (ec == asio::error::try_again || ec == asio::error::would_block) {
    drained_ = true;
    return asio::error::would_block;
  }
  if (!ec) {
    buffer_.commit(n);
    drained_ = n < size;
  }
  return ec;
}

// Waits (under the deadline the caller armed) for bytes, and appends them to
// buffer_. Errors as ReadNow, or operation_aborted when cancelled.
asio::awaitable<Session::error_code> Session::ReadWhenReady() {
  const std::size_t size = beast::read_size(buffer_, kReadChunk);
  if (size == 0) co_return beast_http::error::buffer_overflow;
  // A deadline or a drain that came while no read was pending cancelled
  // nothing: it is honoured here.
  if (phase_ == Phase::kClosing || deadline_.expired()) co_return asio::error::operation_aborted;
  // Not async_wait: Asio re-arms epoll (another system call) for every wait,
  // while a read joins the descriptor's queue as it is. (See
  // docs/PERFORMANCE.md for why the read's own first try is left in.)
  // With TLS, a wait for what OpenSSL asks for, then its read (which may
  // need more than one record, or a write).
  error_code ec;
  std::size_t n = 0;
  if (tls_) {
    // ReadNow found the socket empty (or knew it was) and OpenSSL holds no
    // byte: a read now would only fail with EAGAIN, a system call per
    // request, so the wait comes first. The wait re-arms epoll, which
    // reports bytes that came in meanwhile as ready.
    if (drained_ && tls_->want() == TlsConnection::Want::kRead && !tls_->HasPending()) {
      if ((ec = co_await WaitForTls())) co_return ec;
    }
    ec = co_await UntilTlsDone([&] { return tls_->Read(buffer_.prepare(size).data(), size, n); });
  } else {
    std::tie(ec, n) = co_await socket_.async_read_some(buffer_.prepare(size), kNoThrow);
  }
  buffer_.commit(n);
  drained_ = n < size;
  if (phase_ == Phase::kClosing) co_return asio::error::operation_aborted;
  co_return ec;
}

// Drops the empty lines (CRLF) at the start of buffer_, up to
// kMaxLeadingEmptyLineBytes of them before one request; more are left to the
// parser, which refuses them.
void Session::DropEmptyLines() {
  const auto data = buffer_.data();
  const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  std::size_t empty = 0;
  while (empty_line_bytes_ + empty < kMaxLeadingEmptyLineBytes &&
         bytes.substr(empty, 2) == "\r\n") {
    empty += 2;
  }
  empty_line_bytes_ += empty;
  buffer_.consume(empty);
}

// A lone CR, while more empty lines may still be skipped: the next byte
// tells whether it ends one.
bool Session::MayStartAnEmptyLine() const {
  return empty_line_bytes_ < kMaxLeadingEmptyLineBytes && buffer_.size() == 1 &&
         *static_cast<const char*>(buffer_.data().data()) == '\r';
}

// Feeds buffer_ to parser_, reading what the socket holds, until the header
// (or, with `whole_message`, the whole request) is parsed; adds the bytes the
// parser consumed to `total`. would_block when more bytes must be waited for
// (ParseWhenReady); otherwise the errors of Beast's http::read_header and
// http::read.
Session::error_code Session::ParseNow(bool whole_message, std::size_t& total) {
  auto& parser = *parser_;
  for (;;) {
    if (whole_message ? parser.is_done() : parser.is_header_done()) return {};
    if (buffer_.size() > 0) {
      if (!parser.is_header_done() && HoldsFoldedHeaderLine(buffer_)) {
        return beast_http::error::bad_field;
      }
      error_code ec;
      const std::size_t used = parser.put(buffer_.data(), ec);
      total += used;
      buffer_.consume(used);
      if (ec == beast_http::error::bad_version && ReadLaterMinorVersionAsHttp11(buffer_)) continue;
      if (ec && ec != beast_http::error::need_more) return ec;
      if (!ec && used > 0) continue;
      // A request line that cannot end within the target limit is refused
      // now (414), not once the whole header limit is read or times out.
      if (parser.get().target().empty() &&
          buffer_.size() > options_.max_target_bytes + kMaxLineFraming) {
        const auto data = buffer_.data();
        const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
        if (bytes.find('\n') == std::string_view::npos) return beast_http::error::header_limit;
      }
    }
    const error_code ec = ReadNow();
    if (ec == asio::error::eof) return OnEndOfStream();
    if (ec) return ec;
  }
}

// ParseNow, waiting for bytes as long as they are missing.
asio::awaitable<Session::error_code> Session::ParseWhenReady(bool whole_message,
                                                             std::size_t& total) {
  for (;;) {
    error_code ec = ParseNow(whole_message, total);
    if (ec != asio::error::would_block) co_return ec;
    ec = co_await ReadWhenReady();
    if (ec == asio::error::eof) co_return OnEndOfStream();
    if (ec) co_return ec;
  }
}

// The client closed its side: the request ends here if its framing allows
// (as Beast's readers decide), else end_of_stream or partial_message.
Session::error_code Session::OnEndOfStream() {
  if (!parser_->got_some()) return beast_http::error::end_of_stream;
  error_code ec;
  parser_->put_eof(ec);
  return ec;
}

void Session::Deadline::Arm(Session& session, std::chrono::steady_clock::duration timeout) {
  expired_ = false;
  at_ = std::chrono::steady_clock::now() + timeout;
  if (!ticking_) Tick(session.weak_from_this());
}

void Session::Deadline::Tick(std::weak_ptr<Session> weak) {
  ticking_ = true;
  timer_.expires_after(kTick);
  timer_.async_wait([this, weak = std::move(weak)](error_code ec) {
    const auto session = weak.lock();
    if (!session) return;
    ticking_ = false;
    if (ec || at_ == kNever) return;  // stopped, or nothing to watch
    if (std::chrono::steady_clock::now() < at_) {
      Tick(weak);
      return;
    }
    at_ = kNever;
    expired_ = true;
    error_code ignored;
    session->socket_.cancel(ignored);
  });
}

}  // namespace tokend::http
