// One request on its way through tokend: what the session, the request
// handler, the authentication step and the route functions share.
//
// Internal to the http layer (it exposes Beast and Asio types).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/authz.h"
#include "core/time.h"
#include "core/token.h"
#include "service/outcome.h"

namespace tokend::service {
class TokenService;
}  // namespace tokend::service

namespace tokend::http {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;

using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;

// A route's answer: the response now, or blocking work first (see
// service/outcome.h).
using Step = service::Outcome<Response>;

class Metrics;
class BearerMemo;

// What route functions need besides the request.
struct HandlerEnv {
  service::TokenService& service;
  Metrics& metrics;
};

// Who is calling, as the authentication step found it.
struct Authenticated {
  core::Caller caller;
  // The caller's own token; null when authentication is off and no valid
  // token was presented.
  core::SharedToken token;
};

// Shared, so that a connection's memo and its requests hold one copy.
using SharedAuthenticated = std::shared_ptr<const Authenticated>;

// The label of requests no route answers (404, 405, malformed requests).
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

// The header fields read while answering every request, found in one pass
// over the request's fields: Beast finds a field by name with a tree search
// of case-insensitive comparisons, once for each field read.
struct RequestHeaders {
  // Of the fields below, the first of each name (as Beast's lookups by name
  // give), and how many Content-Type, Authorization and Host fields there
  // are; keep_alive from every Connection field, content_coded from every
  // Content-Encoding field.
  static RequestHeaders Of(const Request& req);

  std::string_view content_type;  // empty when there is none
  // More than one is refused (400) before the body is read (the session's
  // header checks): which media type the body has would be a guess.
  int content_type_count = 0;
  std::optional<std::string_view> authorization;
  int authorization_count = 0;
  std::optional<std::string_view> request_id;  // X-Request-Id
  std::string_view host;                       // empty when there is none
  int host_count = 0;
  // Whether a Content-Encoding field names a coding other than identity:
  // the body would not be the JSON or form it claims to be.
  bool content_coded = false;
  // Whether the connection stays open after the answer, as the request's
  // version and its Connection options ask: HTTP/1.1 unless `close` is among
  // them, HTTP/1.0 only when `keep-alive` is and `close` is not. All the
  // Connection fields form one list (RFC 9110 section 5.3), where Beast's
  // keep_alive() reads the first field only.
  bool keep_alive = false;
};

// Whether `value` is a Host field's value (RFC 9112 section 3.2, RFC 3986
// section 3.2.2): empty, or a host (a registered name of unreserved
// characters, sub-delims and %HH escapes; an IPv4 address; or an IP literal
// in brackets) with an optional `:port` of digits.
bool IsHostFieldValue(std::string_view value);

// One request, owned by its session until the response is written: every
// view below points into `req` or into this object, and the continuations of
// a Step may refer to it.
struct Exchange {
  Exchange(const Request& request, BearerMemo* connection_memo)
      : req(request), headers(RequestHeaders::Of(request)), memo(connection_memo) {}
  // With `found`, RequestHeaders::Of(request) taken before: the session finds
  // the fields once, when the header is parsed. Its views point into the
  // request's fields, which stay where they are while the body is read
  // (Beast allocates each field apart; trailer fields are added and removed
  // beside them).
  Exchange(const Request& request, const RequestHeaders& found, BearerMemo* connection_memo)
      : req(request), headers(found), memo(connection_memo) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const Request& req;
  const RequestHeaders headers;
  BearerMemo* const memo;  // the connection's; null when it keeps none
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  // The request's instant: expiry and "valid" are judged at it.
  const core::EpochMillis now = core::NowMillis();
  std::string_view label = kUnmatchedRoute;  // the route, for metrics and logs
  std::string_view path;                     // the target's path ("/" at least)
  std::string_view query;                    // the raw text after '?', possibly empty
  // Where an access_token credential is looked for: `query`, or for a
  // forward-auth route the query of the original request's URI.
  std::string_view credential_query;
  bool bodiless = false;     // every answer is sent without a body (forward auth)
  std::string id;            // the route's {id} segment, percent-decoded
  SharedAuthenticated auth;  // set on /api/v2 paths
  std::string request_id;    // X-Request-Id: the client's, or generated
  std::string_view remote;   // "ip:port" of the peer; empty unless logged
  std::string_view peer_ip;  // the peer's IP address: audit events' remoteAddress
  // A bearer secret that had to be percent-decoded from the query string.
  std::string decoded_credential;
  // An introspected secret that had to be unescaped from the body.
  std::string decoded_secret;

  // Who is calling (on /api/v2 routes only).
  const core::Caller& caller() const { return auth->caller; }
  // The caller with the request's remote address: for the changes that write
  // audit events (a copy, so that the connection's shared caller stays as is).
  core::Caller ActingCaller() const {
    core::Caller acting = auth->caller;
    if (!peer_ip.empty()) acting.remote_address = std::string(peer_ip);
    return acting;
  }
};

}  // namespace tokend::http
