#include "http/router.h"

#include <algorithm>
#include <array>
#include <vector>

#include "core/text.h"
#include "http/handlers.h"

namespace tokend::http {
namespace {

using beast_http::verb;

constexpr std::array kRoutes = {
    Route{verb::post, "/api/v2/token", "POST /api/v2/token", &HandleCreateToken},
    Route{verb::get, "/api/v2/token/query", "GET /api/v2/token/query", &HandleQueryTokens},
    Route{verb::get, "/api/v2/token/self", "GET /api/v2/token/self", &HandleSelf},
    Route{verb::post, "/api/v2/token/introspect", "POST /api/v2/token/introspect",
          &HandleIntrospect},
    Route{verb::get, "/api/v2/token/{id}", "GET /api/v2/token/{id}", &HandleGetToken},
    Route{verb::delete_, "/api/v2/token/{id}", "DELETE /api/v2/token/{id}", &HandleDeleteToken},
    Route{verb::get, "/health", "GET /health", &HandleHealth},
    Route{verb::get, "/metrics", "GET /metrics", &HandleMetrics},
    Route{verb::get, "/api/docs/spec", "GET /api/docs/spec", &HandleOpenApiSpec},
};

constexpr std::string_view kIdSegment = "{id}";

// Splits "/a/b/c" into {"a","b","c"}; "/" gives {""}.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Number of literal segments matched, or -1 when `pattern` does not match.
int MatchPattern(const std::vector<std::string_view>& pattern,
                 const std::vector<std::string_view>& path, std::string_view* id) {
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

bool IsApiPath(std::string_view path) {
  constexpr std::string_view kApi = "/api/v2";
  return path.substr(0, kApi.size()) == kApi &&
         (path.size() == kApi.size() || path[kApi.size()] == '/');
}

RouteMatch MatchRoute(beast_http::verb method, std::string_view path) {
  RouteMatch match;
  const auto segments = Segments(path);
  int best = -1;
  std::string_view best_id;
  std::vector<verb> allowed;
  static const std::vector<std::vector<std::string_view>> patterns = [] {
    std::vector<std::vector<std::string_view>> out;
    for (const Route& route : kRoutes) out.push_back(Segments(route.pattern));
    return out;
  }();
  for (std::size_t r = 0; r < kRoutes.size(); ++r) {
    const Route& route = kRoutes[r];
    std::string_view id;
    const int score = MatchPattern(patterns[r], segments, &id);
    if (score < 0) continue;
    if (route.method == method) {
      if (score > best) {
        best = score;
        match.route = &route;
        best_id = id;
      }
    } else if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
      allowed.push_back(route.method);
    }
  }
  if (match.route != nullptr) {
    if (match.route->pattern.find(kIdSegment) != std::string_view::npos) {
      auto decoded = core::PercentDecode(best_id, /*plus_is_space=*/false);
      if (!decoded) {
        match.route = nullptr;
        match.error = core::Status::Error(core::ApiError::kBadHttpRequest,
                                          "The request path has an invalid percent escape.");
        return match;
      }
      match.id = std::move(*decoded);
    }
    return match;
  }
  for (const verb v : allowed) {
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += beast_http::to_string(v);
  }
  return match;
}

}  // namespace tokend::http
