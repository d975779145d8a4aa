// The one route table: (method, path pattern) -> handler, with the route
// label metrics use. Matching is pure (no I/O) and works on the path alone,
// without the query string.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/authz.h"
#include "core/status.h"
#include "core/time.h"
#include "core/token.h"
#include "http/auth.h"
#include "http/request_handler.h"

namespace tokend::http {

// The label of requests no route answers (404, 405, malformed requests).
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

// One request on its way through a handler.
struct Exchange {
  const Request& req;
  std::string_view path;       // target up to '?'
  std::string_view query;      // raw text after '?', possibly empty
  std::string id{};            // the {id} segment, percent-decoded
  core::EpochMillis now = 0;   // the request's instant: expiry and "valid" are judged at it
  SharedAuthenticated auth{};  // set by the authentication step on /api/v2 paths

  // Who is calling (an /api/v2 route's handler only).
  const core::Caller& caller() const { return auth->caller; }
};

using HandlerFn = asio::awaitable<Response> (*)(const HandlerEnv& env, Exchange& exchange);
// A route's answer when it needs nothing to wait for (the cache knows), or
// nullopt when it must wait: then its HandlerFn runs, from the start, so a
// quick handler changes nothing before it returns nullopt.
using QuickHandlerFn = std::optional<Response> (*)(const HandlerEnv& env, Exchange& exchange);

struct Route {
  beast_http::verb method;
  std::string_view pattern;  // "/api/v2/token/{id}"; {id} is one non-empty segment
  std::string_view label;    // "GET /api/v2/token/{id}"
  HandlerFn handler;
  QuickHandlerFn quick = nullptr;  // for the hot routes: answers without a coroutine
};

// Every route tokend serves.
std::span<const Route> Routes();

struct RouteMatch {
  const Route* route = nullptr;  // the route for this method and path
  std::string id;                // its decoded {id}, when the pattern has one
  // No route for this method, but the path is served: the allowed methods
  // ("GET, DELETE") for a 405. Empty for an unknown path (404).
  std::string allow;
  core::Status error;  // an {id} segment with an invalid percent escape (400)
};

// Literal segments win over {id} (GET /api/v2/token/query is the search),
// among the routes of the request's method.
RouteMatch MatchRoute(beast_http::verb method, std::string_view path);

// True for "/api/v2" and every path under it: authentication comes before
// routing there.
bool IsApiPath(std::string_view path);

}  // namespace tokend::http
