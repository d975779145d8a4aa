#include "test_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace tokend::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return std::nullopt;
}

struct TestClient::Impl {
  asio::io_context ctx;
  tcp::socket socket{ctx};
  beast::flat_buffer buffer;
  bool connected = false;

  // Runs the operation started by `start` until it completes or `timeout`
  // passes (then the socket's operations are cancelled).
  template <typename Start>
  error_code Run(Start start, std::chrono::milliseconds timeout, std::size_t* size = nullptr) {
    error_code result = asio::error::timed_out;
    bool done = false;
    ctx.restart();
    start([&, size](error_code ec, std::size_t n) {
      result = ec;
      done = true;
      if (size != nullptr) *size = n;
    });
    ctx.run_for(timeout);
    if (!done) {
      error_code ignored;
      socket.cancel(ignored);
      ctx.restart();
      ctx.run();
      result = asio::error::timed_out;
    }
    return result;
  }
};

TestClient::TestClient(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  error_code ec;
  impl_->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  impl_->connected = !ec;
}

TestClient::~TestClient() = default;

bool TestClient::connected() const { return impl_->connected; }

bool TestClient::WriteRaw(std::string_view bytes) {
  error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

std::optional<HttpResponse> TestClient::Request(std::string_view method, std::string_view target,
                                                const Headers& headers, std::string_view body,
                                                std::chrono::milliseconds timeout) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.insert(name, value);
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
  error_code ec;
  bhttp::write(impl_->socket, req, ec);
  if (ec) return std::nullopt;
  return ReadResponse(timeout);
}

std::optional<HttpResponse> TestClient::ReadResponse(std::chrono::milliseconds timeout) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  const error_code ec = impl_->Run(
      [&](auto handler) { bhttp::async_read(impl_->socket, impl_->buffer, parser, handler); },
      timeout);
  if (ec) return std::nullopt;
  const auto& res = parser.get();
  HttpResponse out;
  out.status = res.result_int();
  out.version = res.version();
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = res.body();
  return out;
}

std::string TestClient::ReadUntil(std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto data = impl_->buffer.data();
    const std::string_view have(static_cast<const char*>(data.data()), data.size());
    if (const auto at = have.find(text); at != std::string_view::npos) {
      std::string out(have.substr(0, at + text.size()));
      impl_->buffer.consume(out.size());
      return out;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    std::size_t n = 0;
    const error_code ec = impl_->Run(
        [&](auto handler) { impl_->socket.async_read_some(impl_->buffer.prepare(4096), handler); },
        left, &n);
    if (ec) return {};
    impl_->buffer.commit(n);
  }
}

bool TestClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char discard[4096];
  impl_->buffer.consume(impl_->buffer.size());
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const error_code ec = impl_->Run(
        [&](auto handler) { impl_->socket.async_read_some(asio::buffer(discard), handler); }, left);
    if (ec == asio::error::timed_out) return false;
    if (ec) return true;  // eof or reset
  }
}

}  // namespace tokend::http::testing
