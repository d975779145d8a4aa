#include "webhooks/http_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <memory>
#include <optional>

namespace tokend::webhooks {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// What the coroutine of one POST leaves behind.
struct Attempt {
  std::optional<int> status;
  std::string error;
  bool finished = false;
};

std::string Describe(const boost::system::error_code& error, std::string_view step) {
  return std::string(step) + ": " + error.message();
}

// Interim (1xx) answers read before the final one, at most: a receiver that
// sends nothing else is a failure at this count, not at the timeout.
constexpr int kMaxInterimAnswers = 8;

// The answer's status line and headers decide; its body is never read, so
// that neither its size nor its pace holds a delivery thread (the request
// said Connection: close). Interim answers (1xx but 101, which no request of
// ours asks for) come before the final one and are skipped (RFC 9110
// section 15.2: a client must be able to parse one it did not expect).
template <typename Stream>
asio::awaitable<void> Exchange(Stream& stream, const http::request<http::string_body>& request,
                               Attempt& attempt) {
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  for (int interim = 0;; ++interim) {
    http::response_parser<http::empty_body> parser;
    parser.body_limit(boost::none);  // a declared length is no reason to refuse the status
    co_await http::async_read_header(stream, buffer, parser, asio::use_awaitable);
    attempt.status = static_cast<int>(parser.get().result_int());
    const bool is_interim =
        *attempt.status >= 100 && *attempt.status <= 199 && *attempt.status != 101;
    if (!is_interim || interim == kMaxInterimAnswers) co_return;
  }
}

}  // namespace

struct HttpClient::Impl {
  ClientOptions options;
  asio::ssl::context tls{asio::ssl::context::tls_client};

  asio::awaitable<void> Run(asio::io_context& io, const core::WebhookUrl& url,
                            const http::request<http::string_body>& request, Attempt& attempt) {
    std::string step = "resolving " + url.host;
    try {
      tcp::resolver resolver(io);
      auto endpoints =
          co_await resolver.async_resolve(url.host, std::to_string(url.port), asio::use_awaitable);
      step = "connecting";
      if (!url.https) {
        beast::tcp_stream stream(io);
        co_await stream.async_connect(endpoints, asio::use_awaitable);
        step = "sending or reading the answer";
        co_await Exchange(stream, request, attempt);
      } else {
        beast::ssl_stream<beast::tcp_stream> stream(io, tls);
        if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
          attempt.error = "cannot set the TLS server name";
          attempt.finished = true;
          co_return;
        }
        stream.set_verify_mode(asio::ssl::verify_peer);
        stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
        co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
        step = "TLS handshake";
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        step = "sending or reading the answer";
        co_await Exchange(stream, request, attempt);
      }
    } catch (const boost::system::system_error& error) {
      attempt.error = Describe(error.code(), step);
    }
    attempt.finished = true;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

core::Status CheckCaFile(const std::string& ca_file) {
  std::FILE* file = std::fopen(ca_file.c_str(), "r");
  if (file == nullptr) {
    return core::Status::InvalidArgument("cannot read the --webhook-ca-file " + ca_file);
  }
  int certificates = 0;
  while (X509* certificate = PEM_read_X509(file, nullptr, nullptr, nullptr)) {
    X509_free(certificate);
    ++certificates;
  }
  ERR_clear_error();
  std::fclose(file);
  if (certificates == 0) {
    return core::Status::InvalidArgument("the --webhook-ca-file " + ca_file +
                                         " holds no PEM certificate");
  }
  return core::Status::Ok();
}

core::Result<std::unique_ptr<HttpClient>> HttpClient::Create(ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  boost::system::error_code error;
  impl->tls.set_default_verify_paths(error);
  if (!options.ca_file.empty()) {
    if (core::Status status = CheckCaFile(options.ca_file); !status.ok()) return status;
    impl->tls.load_verify_file(options.ca_file, error);
    if (error) {
      return core::Status::InvalidArgument("cannot load the --webhook-ca-file " + options.ca_file +
                                           ": " + error.message());
    }
  }
  SSL_CTX_set_min_proto_version(impl->tls.native_handle(), TLS1_2_VERSION);
  impl->options = std::move(options);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

PostResult HttpClient::Post(const core::WebhookUrl& url,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view body, std::stop_token stop) const {
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.HostHeader());
  request.set(http::field::user_agent, impl_->options.user_agent);
  request.set(http::field::connection, "close");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::string(body);
  request.prepare_payload();

  // Declared before the io_context: an abandoned coroutine, destroyed with
  // the context, still refers to it.
  Attempt attempt;
  asio::io_context io(1);
  asio::co_spawn(io, impl_->Run(io, url, request, attempt), asio::detached);
  {
    // A stop request ends the wait at once; the attempt is abandoned.
    std::stop_callback on_stop(stop, [&io] { io.stop(); });
    io.run_for(impl_->options.timeout);
  }
  if (attempt.status) return PostResult{*attempt.status, {}};
  if (attempt.finished) return PostResult{0, attempt.error};
  if (stop.stop_requested()) return PostResult{0, "stopped"};
  return PostResult{0,
                    "no answer within " + std::to_string(impl_->options.timeout.count()) + " ms"};
}

}  // namespace tokend::webhooks
