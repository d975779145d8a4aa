#include "http/router.h"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <vector>

#include "core/text.h"
#include "http/console_files.h"
#include "http/handlers.h"

namespace tokend::http {
namespace {

using beast_http::verb;

using core::TokenOperation;

constexpr std::array kRoutes = {
    Route{verb::post, "/api/v2/token", "POST /api/v2/token", TokenOperation::kCreate, &CreateToken},
    Route{verb::get, "/api/v2/token/query", "GET /api/v2/token/query", TokenOperation::kRead,
          &QueryTokens},
    Route{verb::get, "/api/v2/token/audit", "GET /api/v2/token/audit", TokenOperation::kRead,
          &AuditEvents},
    Route{verb::get, "/api/v2/token/self", "GET /api/v2/token/self", std::nullopt, &SelfToken},
    Route{verb::get, "/api/v2/token/policy", "GET /api/v2/token/policy", std::nullopt,
          &TokenPolicy},
    Route{verb::get, "/api/v2/token/check", "GET /api/v2/token/check", std::nullopt, &CheckToken,
          /*anonymous=*/false, /*forward_auth=*/true},
    Route{verb::post, "/api/v2/token/introspect", "POST /api/v2/token/introspect",
          TokenOperation::kRead, &IntrospectToken},
    Route{verb::post, "/api/v2/token/revoke", "POST /api/v2/token/revoke", std::nullopt,
          &RevokeTokens, /*anonymous=*/true},
    Route{verb::post, "/api/v2/token/query/revoke", "POST /api/v2/token/query/revoke",
          TokenOperation::kDelete, &RevokeMatchingTokens},
    // Rotation needs token/write here and token/delete too (checked by the
    // service, which also applies create's no-escalation rule).
    Route{verb::post, "/api/v2/token/{id}/rotate", "POST /api/v2/token/{id}/rotate",
          TokenOperation::kCreate, &RotateToken},
    Route{verb::post, "/api/v2/token/self/rotate", "POST /api/v2/token/self/rotate", std::nullopt,
          &RotateSelfToken},
    Route{verb::get, "/api/v2/token/{id}", "GET /api/v2/token/{id}", TokenOperation::kRead,
          &GetToken},
    Route{verb::delete_, "/api/v2/token/{id}", "DELETE /api/v2/token/{id}", TokenOperation::kDelete,
          &DeleteToken},
    Route{verb::get, "/health", "GET /health", std::nullopt, &Health},
    Route{verb::get, "/metrics", "GET /metrics", std::nullopt, &MetricsText},
    Route{verb::get, "/api/docs/spec", "GET /api/docs/spec", std::nullopt, &OpenApiDocument},
    // The web console's static files: outside /api/v2, so no token is needed.
    Route{verb::get, "/console", "GET /console", std::nullopt, &ConsoleRedirect},
    Route{verb::get, "/console/", "GET /console/", std::nullopt, &ConsoleIndex},
    Route{verb::get, "/console/{id}", "GET /console/{file}", std::nullopt, &ConsoleAsset},
};

// Envoy's HTTP ext_authz calls its service with the original request's
// method, at a prefix followed by the original path (and query): the
// forward-auth check, whatever the method and whatever follows.
constexpr Route kCheckUnderPrefix{verb::unknown,
                                  "/api/v2/token/check/{path}",
                                  "ANY /api/v2/token/check/{path}",
                                  std::nullopt,
                                  &CheckToken,
                                  /*anonymous=*/false,
                                  /*forward_auth=*/true};
constexpr std::string_view kCheckPrefix = "/api/v2/token/check/";

constexpr std::string_view kIdSegment = "{id}";

// The segments of a path: "/a/b/c" is {"a","b","c"}; "/" is {""}. Only as
// many as the longest pattern has are kept (no allocation on the request
// path); a longer path is marked `too_long` and matches nothing.
struct Segments {
  static constexpr std::size_t kMax = 8;
  std::array<std::string_view, kMax> items{};
  std::size_t count = 0;
  bool too_long = false;

  explicit Segments(std::string_view path) {
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (true) {
      if (count == kMax) {
        too_long = true;
        return;
      }
      const auto slash = path.find('/');
      items[count++] = path.substr(0, slash);
      if (slash == std::string_view::npos) return;
      path.remove_prefix(slash + 1);
    }
  }
  std::size_t size() const { return too_long ? kMax + 1 : count; }
  std::string_view operator[](std::size_t i) const { return items[i]; }
};

// Number of literal segments matched, or -1 when `pattern` does not match.
int MatchPattern(const Segments& pattern, const Segments& path, std::string_view* id) {
  if (pattern.size() != path.size()) return -1;
  int literals = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == kIdSegment) {
      if (path[i].empty()) return -1;
      *id = path[i];
    } else if (pattern[i] == path[i]) {
      ++literals;
    } else {
      return -1;
    }
  }
  return literals;
}

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

const Route& CheckUnderPrefixRoute() { return kCheckUnderPrefix; }

std::optional<Target> ParseTarget(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() &&
        boost::beast::iequals(target.substr(0, scheme.size()), scheme)) {
      target.remove_prefix(scheme.size());
      const auto path = target.find_first_of("/?");
      if (path == std::string_view::npos) return Target{"/", {}};
      if (target[path] == '?') return Target{"/", target.substr(path + 1)};
      target.remove_prefix(path);
      break;
    }
  }
  if (target.empty() || target.front() != '/') return std::nullopt;
  const auto question = target.find('?');
  if (question == std::string_view::npos) return Target{target, {}};
  return Target{target.substr(0, question), target.substr(question + 1)};
}

bool IsApiPath(std::string_view path) {
  constexpr std::string_view kApi = "/api/v2";
  return path.substr(0, kApi.size()) == kApi &&
         (path.size() == kApi.size() || path[kApi.size()] == '/');
}

bool IsForwardAuthPath(std::string_view path) {
  return path == kCheckPrefix.substr(0, kCheckPrefix.size() - 1) || path.starts_with(kCheckPrefix);
}

namespace {

RouteMatch MatchExactly(beast_http::verb method, std::string_view path) {
  RouteMatch match;
  // A path equal to a literal pattern of its method is that route's: no
  // pattern with {id} can beat it. (The hot routes are all literal.)
  for (const Route& route : kRoutes) {
    if (route.method == method && route.pattern == path &&
        route.pattern.find(kIdSegment) == std::string_view::npos) {
      match.route = &route;
      return match;
    }
  }
  const Segments segments(path);
  int best = -1;
  std::string_view best_id;
  std::array<verb, kRoutes.size()> allowed{};
  std::size_t allowed_count = 0;
  static const std::vector<Segments> patterns = [] {
    std::vector<Segments> out;
    for (const Route& route : kRoutes) out.emplace_back(route.pattern);
    return out;
  }();
  for (std::size_t r = 0; r < kRoutes.size(); ++r) {
    const Route& route = kRoutes[r];
    std::string_view id;
    const int score = MatchPattern(patterns[r], segments, &id);
    if (score < 0) continue;
    if (route.forward_auth && route.pattern.find(kIdSegment) == std::string_view::npos) {
      match.forward_auth_path = true;
    }
    if (route.method == method) {
      if (score > best) {
        best = score;
        match.route = &route;
        best_id = id;
      }
    } else if (std::find(allowed.begin(), allowed.begin() + allowed_count, route.method) ==
               allowed.begin() + allowed_count) {
      allowed[allowed_count++] = route.method;
    }
  }
  if (match.route != nullptr) {
    if (match.route->pattern.find(kIdSegment) != std::string_view::npos) {
      auto decoded = core::PercentDecode(best_id, /*plus_is_space=*/false);
      if (!decoded) {
        match.error = core::Status::Error(core::ApiError::kBadHttpRequest,
                                          "The request path has an invalid percent escape.");
        return match;
      }
      match.id = std::move(*decoded);
    }
    return match;
  }
  for (std::size_t i = 0; i < allowed_count; ++i) {
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += beast_http::to_string(allowed[i]);
  }
  return match;
}

}  // namespace

RouteMatch MatchRoute(beast_http::verb method, std::string_view path) {
  if (path.starts_with(kCheckPrefix)) {
    RouteMatch match;
    match.route = &kCheckUnderPrefix;
    match.forward_auth_path = true;
    return match;
  }
  // Spring MVC 5, which Boomerang runs on, matches a path ending in one slash
  // as the path without it, and its clients may send one; never two. Only on
  // the API: the console's files are named exactly. Other paths (every hot
  // route) are matched once, the match built in place.
  const bool one_trailing_slash =
      IsApiPath(path) && path.back() == '/' && path[path.size() - 2] != '/';
  if (!one_trailing_slash) return MatchExactly(method, path);
  RouteMatch match = MatchExactly(method, path);
  if (match.route != nullptr || !match.allow.empty()) return match;
  return MatchExactly(method, path.substr(0, path.size() - 1));
}

}  // namespace tokend::http
