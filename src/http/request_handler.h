// Answering one HTTP request, without any socket: RequestHandler turns a
// parsed request into a response (authentication, routing, handler, error
// mapping, common headers, metrics). The server's sessions own the sockets
// and call Handle once per request; tests and fuzzers may call it directly.
//
// Internal to the http layer (it exposes Beast and Asio types).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "http/metrics.h"
#include "service/token_service.h"

namespace tokend::http {

class BearerMemo;

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;

using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;

// What handlers need besides the request. `blocking` runs every service call
// documented as "may block"; the I/O threads never do.
struct HandlerEnv {
  service::TokenService& service;
  Metrics& metrics;
  asio::any_io_executor blocking;
};

class RequestHandler {
 public:
  // `env.service` and `env.metrics` must outlive the handler.
  explicit RequestHandler(HandlerEnv env) : env_(std::move(env)) {}

  // The response to `req`, with the request's version and keep-alive
  // semantics (AppendWireResponse adds Server and Content-Length). Never throws: an unexpected
  // exception is logged (without request data) and answered 500. Records the request in the
  // metrics. Must be awaited on an I/O executor; store calls hop to env.blocking and back. `memo`
  // (may be null) is the connection's BearerMemo, used and updated by the authentication step.
  asio::awaitable<Response> Handle(Request req, BearerMemo* memo = nullptr) const;

  // Handle's response when it can be given without suspending (a route with
  // a quick handler, answered from the memo and the cache); nullopt when
  // Handle must run, in which case nothing was done that Handle would not
  // do again alike. Spares the hot path every coroutine frame. Never throws.
  std::optional<Response> AnswerNow(const Request& req, BearerMemo* memo = nullptr) const;

  const HandlerEnv& env() const { return env_; }

 private:
  // FinishResponse, and the request's line in the metrics.
  void Finish(Response& res, const Request& req, std::string_view label,
              std::chrono::steady_clock::time_point start) const;

  HandlerEnv env_;
};

// Sets the request's HTTP version and keep-alive (a Connection field where
// the version needs one) on a finished response.
void FinishResponse(Response& res, unsigned version, bool keep_alive);

// Appends the bytes of `res` as they go on the wire: status line, fields in
// their order, `Server: tokend`, Content-Length (but for 1xx, 204 and 304),
// blank line, body. Byte for byte what Beast's serializer writes for `res`
// with those two fields set last, as one contiguous buffer that one send can
// carry; the two fields are written, not stored, since every response
// carries them and storing them costs two allocations per response.
void AppendWireResponse(const Response& res, std::string& out);

// Turns `wire`, one keep-alive response as AppendWireResponse wrote it, into
// what it would have been with keep_alive(false): "Connection: close" added
// (HTTP/1.1) or "Connection: keep-alive" removed (HTTP/1.0). For a server
// that has already let go of the response object when it decides to close.
void MakeWireResponseClose(std::string& wire);

}  // namespace tokend::http
