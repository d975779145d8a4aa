#include "http/router.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace tokend::http {
namespace {

using beast_http::verb;

std::string_view LabelOf(const RouteMatch& match) {
  return match.route == nullptr ? kUnmatchedRoute : match.route->label;
}

TEST(RouterTest, MatchesEveryRoute) {
  EXPECT_EQ(LabelOf(MatchRoute(verb::post, "/api/v2/token")), "POST /api/v2/token");
  EXPECT_EQ(LabelOf(MatchRoute(verb::get, "/api/v2/token/query")), "GET /api/v2/token/query");
  EXPECT_EQ(LabelOf(MatchRoute(verb::get, "/api/v2/token/self")), "GET /api/v2/token/self");
  EXPECT_EQ(LabelOf(MatchRoute(verb::post, "/api/v2/token/introspect")),
            "POST /api/v2/token/introspect");
  EXPECT_EQ(LabelOf(MatchRoute(verb::get, "/health")), "GET /health");
  EXPECT_EQ(LabelOf(MatchRoute(verb::get, "/metrics")), "GET /metrics");
  EXPECT_EQ(LabelOf(MatchRoute(verb::get, "/api/docs/spec")), "GET /api/docs/spec");
  const RouteMatch get = MatchRoute(verb::get, "/api/v2/token/abc");
  EXPECT_EQ(LabelOf(get), "GET /api/v2/token/{id}");
  EXPECT_EQ(get.id, "abc");
  const RouteMatch del = MatchRoute(verb::delete_, "/api/v2/token/abc");
  EXPECT_EQ(LabelOf(del), "DELETE /api/v2/token/{id}");
  EXPECT_EQ(del.id, "abc");
}

TEST(RouterTest, LiteralSegmentsWinOverIdWithinTheMethod) {
  EXPECT_EQ(LabelOf(MatchRoute(verb::get, "/api/v2/token/query")), "GET /api/v2/token/query");
  const RouteMatch del = MatchRoute(verb::delete_, "/api/v2/token/query");
  EXPECT_EQ(LabelOf(del), "DELETE /api/v2/token/{id}");
  EXPECT_EQ(del.id, "query");
}

TEST(RouterTest, IdIsPercentDecodedOnce) {
  EXPECT_EQ(MatchRoute(verb::get, "/api/v2/token/a%20b%2541").id, "a b%41");
  EXPECT_EQ(MatchRoute(verb::get, "/api/v2/token/a+b").id, "a+b");
  const RouteMatch bad = MatchRoute(verb::get, "/api/v2/token/a%ZZ");
  ASSERT_NE(bad.route, nullptr) << "the route's permission is checked first";
  EXPECT_EQ(bad.route->label, "GET /api/v2/token/{id}");
  EXPECT_FALSE(bad.error.ok());
  EXPECT_FALSE(MatchRoute(verb::get, "/api/v2/token/a%2").error.ok());
}

TEST(RouterTest, WrongMethodListsTheAllowedOnes) {
  const RouteMatch put = MatchRoute(verb::put, "/api/v2/token/abc");
  EXPECT_EQ(put.route, nullptr);
  EXPECT_EQ(put.allow, "GET, DELETE");
  EXPECT_EQ(MatchRoute(verb::get, "/api/v2/token").allow, "POST");
  EXPECT_EQ(MatchRoute(verb::post, "/health").allow, "GET");
}

TEST(RouterTest, OneTrailingSlashIsThePathWithoutIt) {
  EXPECT_EQ(MatchRoute(verb::post, "/api/v2/token/").route->label, "POST /api/v2/token");
  EXPECT_EQ(MatchRoute(verb::get, "/api/v2/token/query/").route->label, "GET /api/v2/token/query");
  const RouteMatch get = MatchRoute(verb::get, "/api/v2/token/65f0a1b2c3d4e5f607182930/");
  ASSERT_NE(get.route, nullptr);
  EXPECT_EQ(get.route->label, "GET /api/v2/token/{id}");
  EXPECT_EQ(get.id, "65f0a1b2c3d4e5f607182930");
  EXPECT_EQ(MatchRoute(verb::get, "/api/v2/token/").allow, "POST");
  // Only on the API; a path served with its slash keeps it.
  EXPECT_EQ(MatchRoute(verb::get, "/health/").route, nullptr);
  EXPECT_EQ(MatchRoute(verb::get, "/console/app.js/").route, nullptr);
  EXPECT_EQ(MatchRoute(verb::get, "/console/").route->label, "GET /console/");
}

// Below the check's path, any method and anything is the check (Envoy's
// HTTP ext_authz appends the original path and keeps the original method).
TEST(RouterTest, EveryPathBelowTheCheckIsTheCheckForAnyMethod) {
  for (verb method : {verb::get, verb::post, verb::put, verb::delete_, verb::patch, verb::head,
                      verb::options, verb::unknown}) {
    for (const char* path : {"/api/v2/token/check/", "/api/v2/token/check/orders/42",
                             "/api/v2/token/check//a/b/c/d/e/f/g/h/i/j"}) {
      const RouteMatch match = MatchRoute(method, path);
      ASSERT_NE(match.route, nullptr) << path;
      EXPECT_EQ(match.route->label, "ANY /api/v2/token/check/{path}") << path;
      EXPECT_TRUE(match.forward_auth_path) << path;
      EXPECT_TRUE(match.route->forward_auth);
    }
  }
  // The check itself keeps its one method.
  EXPECT_EQ(MatchRoute(verb::get, "/api/v2/token/check").route->label, "GET /api/v2/token/check");
  EXPECT_EQ(MatchRoute(verb::post, "/api/v2/token/check").route, nullptr);
  EXPECT_EQ(MatchRoute(verb::get, "/api/v2/token/checks/x").route, nullptr);
}

// A route's template is one whitespace-separated field of a text access line
// and a metrics label value: it holds no space, and its label is its method,
// one space and the template.
TEST(RouterTest, NoRouteTemplateHoldsASpace) {
  std::vector<const Route*> routes;
  for (const Route& route : Routes()) routes.push_back(&route);
  routes.push_back(&CheckUnderPrefixRoute());
  constexpr std::string_view kBlank = " \t\r\n";
  for (const Route* route : routes) {
    EXPECT_EQ(route->pattern.find_first_of(kBlank), std::string_view::npos) << route->pattern;
    const std::size_t space = route->label.find(' ');
    ASSERT_NE(space, std::string_view::npos) << route->label;
    EXPECT_NE(space, 0u) << route->label;
    EXPECT_EQ(route->label.find_first_of(kBlank, space + 1), std::string_view::npos)
        << route->label;
  }
  EXPECT_EQ(kUnmatchedRoute.find_first_of(kBlank), std::string_view::npos);
}

TEST(RouterTest, UnknownPathsMatchNothing) {
  for (const char* path :
       {"/", "/api", "/api/v2", "/api/v2/token//", "/api/v2/token/a/b", "/api/v2/token/a/b/",
        "/health/", "/nothing", "/nothing/", "//health", "/api/v2/token/a/b/c/d/e/f/g/h",
        "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", "/health////////////////"}) {
    const RouteMatch match = MatchRoute(verb::get, path);
    EXPECT_EQ(match.route, nullptr) << path;
    EXPECT_TRUE(match.allow.empty()) << path;
  }
}

TEST(RouterTest, ApiPaths) {
  EXPECT_TRUE(IsApiPath("/api/v2"));
  EXPECT_TRUE(IsApiPath("/api/v2/"));
  EXPECT_TRUE(IsApiPath("/api/v2/anything/else"));
  EXPECT_FALSE(IsApiPath("/api/v20"));
  EXPECT_FALSE(IsApiPath("/api/docs/spec"));
  EXPECT_FALSE(IsApiPath("/health"));
}

}  // namespace
}  // namespace tokend::http
