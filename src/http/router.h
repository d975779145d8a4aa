// The one route table: (method, path pattern) -> handler, with the route
// label metrics use. Matching is pure (no I/O) and works on the path alone,
// without the query string.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/authz.h"
#include "core/status.h"
#include "http/exchange.h"

namespace tokend::http {

// A route: decodes the exchange, calls the service, encodes the answer; the
// answer is a Step (ready, or blocking work first).
using RouteFn = Step (*)(const HandlerEnv& env, Exchange& ex);

struct Route {
  beast_http::verb method;
  std::string_view pattern;  // "/api/v2/token/{id}"; {id} is one non-empty segment
  std::string_view label;    // "GET /api/v2/token/{id}"
  // The operation the caller must hold, checked after authentication and
  // before the route decodes anything; nullopt: any authenticated caller
  // (or nobody, outside /api/v2).
  std::optional<core::TokenOperation> needs;
  RouteFn run;
  // On /api/v2: served without authentication. The request's credentials
  // (Authorization header, access_token) are ignored, never checked, so
  // the route never answers 401 and ex.auth stays null.
  bool anonymous = false;
  // A gateway's forward-auth route: the credential may come from the
  // original request's URI (X-Original-URI, X-Forwarded-Uri) and no answer
  // has a body.
  bool forward_auth = false;
};

// Every route tokend serves with a method of its own and a pattern of
// whole segments.
std::span<const Route> Routes();
// And the one that takes any method and anything below its prefix: the
// forward-auth check as Envoy's HTTP ext_authz calls it.
const Route& CheckUnderPrefixRoute();

struct RouteMatch {
  const Route* route = nullptr;  // the route for this method and path
  std::string id;                // its decoded {id}, when the pattern has one
  // No route for this method, but the path is served: the allowed methods
  // ("GET, DELETE") for a 405. Empty for an unknown path (404).
  std::string allow;
  // An {id} segment with an invalid percent escape (400, answered after the
  // route's permission is checked; `route` is still set).
  core::Status error;
  // The path is a forward-auth route's, whatever the method: no answer on it
  // has a body (405s included).
  bool forward_auth_path = false;
};

// Literal segments win over {id} (GET /api/v2/token/query is the search),
// among the routes of the request's method.
RouteMatch MatchRoute(beast_http::verb method, std::string_view path);

struct Target {
  std::string_view path;
  std::string_view query;
};

// The path and query of a request target; nullopt when it has no absolute
// path. Absolute-form targets ("http://host/path?q", RFC 9112 section 3.2.2)
// are taken like their origin form, the authority ignored; an empty path
// ("http://host?q") is "/".
std::optional<Target> ParseTarget(std::string_view target);

// True for "/api/v2" and every path under it: authentication comes before
// routing there.
bool IsApiPath(std::string_view path);

// True for the forward-auth check's path and every path below it, where no
// answer has a body (RouteMatch::forward_auth_path, for answers given
// before a request could be routed: 408, 413, 414, 431).
bool IsForwardAuthPath(std::string_view path);

}  // namespace tokend::http
