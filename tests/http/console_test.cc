// The web console's static files over real sockets: the redirect, the index,
// a module, the security headers on every answer, no token needed, and 404
// for anything that is not an embedded file (path traversal included).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/console_files.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr std::string_view kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

void ExpectConsoleHeaders(const HttpResponse& res) {
  EXPECT_EQ(res.Header("Content-Security-Policy"), kPolicy);
  EXPECT_EQ(res.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res.Header("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(res.Header("Cache-Control"), "no-cache");
}

class ConsoleTest : public ServerTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer(/*auth_required=*/true)); }
};

TEST_F(ConsoleTest, BarePathRedirectsToTheFolder) {
  auto client = Connect();
  auto res = client->Request("GET", "/console");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 308);
  EXPECT_EQ(res->Header("Location"), "/console/");
  ExpectConsoleHeaders(*res);
}

TEST_F(ConsoleTest, FolderServesTheIndexWithoutAToken) {
  auto client = Connect();
  auto res = client->Request("GET", "/console/");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(res->body.find("<!doctype html>"), std::string::npos);
  EXPECT_NE(res->body.find("src=\"app.js\""), std::string::npos);
  ExpectConsoleHeaders(*res);

  res = client->Request("GET", "/console/index.html");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(ConsoleTest, ModulesAndStylesHaveTheirTypes) {
  auto client = Connect();
  auto res = client->Request("GET", "/console/app.js");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(res->body, FindConsoleFile("app.js")->body);
  ExpectConsoleHeaders(*res);

  res = client->Request("GET", "/console/console.css");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Content-Type"), "text/css; charset=utf-8");
  ExpectConsoleHeaders(*res);
}

TEST_F(ConsoleTest, EveryEmbeddedFileIsServed) {
  auto client = Connect();
  ASSERT_FALSE(ConsoleFiles().empty());
  for (const ConsoleFile& file : ConsoleFiles()) {
    auto res = client->Request("GET", "/console/" + std::string(file.name));
    ASSERT_TRUE(res) << file.name;
    EXPECT_EQ(res->status, 200) << file.name;
    EXPECT_EQ(res->body, file.body) << file.name;
    EXPECT_NE(res->Header("Content-Type"), "application/octet-stream") << file.name;
    ExpectConsoleHeaders(*res);
  }
}

TEST_F(ConsoleTest, NoInlineScriptOrStyleInTheIndex) {
  const ConsoleFile* index = FindConsoleFile("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->body.find("style="), std::string_view::npos);
  EXPECT_EQ(index->body.find("<style"), std::string_view::npos);
  EXPECT_EQ(index->body.find("<script>"), std::string_view::npos);
  EXPECT_EQ(index->body.find("onclick"), std::string_view::npos);
}

TEST_F(ConsoleTest, UnknownFilesAndTraversalAre404) {
  auto client = Connect();
  for (std::string_view target : {
           "/console/nope.js",
           "/console/..",
           "/console/%2e%2e",
           "/console/%2E%2E%2Fdocs%2FAPI.md",
           "/console/..%2f..%2fCMakeLists.txt",
           "/console/../CMakeLists.txt",
           "/console/../../etc/passwd",
           "/console/%2e%2e/%2e%2e/etc/passwd",
           "/console/app.js/",
           "/console/app.js%00.html",
           "/console//app.js",
           "/console/sub/app.js",
           "/console/APP.JS",
           "/console/%61pp.js%2f",
           "/console/a/b",
           "/console//",
       }) {
    auto res = client->Request("GET", target);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->status, 404) << target;
    EXPECT_EQ(res->body.find("root:"), std::string::npos) << target;
    SCOPED_TRACE(target);
    ExpectConsoleHeaders(*res);
  }
}

TEST_F(ConsoleTest, EscapedNameOfAnEmbeddedFileIsThatFile) {
  auto client = Connect();
  auto res = client->Request("GET", "/console/%61pp.js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ConsoleTest, OtherMethodsAreNotAllowed) {
  auto client = Connect();
  auto res = client->Request("POST", "/console/app.js", {}, "x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->Header("Allow"), "GET");
  // Every answer on a console path carries the console's headers.
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    for (const char* target : {"/console", "/console/", "/console/app.js", "/console/a/b"}) {
      auto other = client->Request(method, target, {}, "");
      ASSERT_TRUE(other);
      SCOPED_TRACE(std::string(method) + " " + target);
      EXPECT_GE(other->status, 400);
      ExpectConsoleHeaders(*other);
    }
  }
}

// The console's JSON error answers name their charset, as its files do.
TEST_F(ConsoleTest, ErrorAnswersNameTheirCharset) {
  auto client = Connect();
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/console/nope"},
           {"GET", "/console/a/b"},
           {"POST", "/console/"},
           {"POST", "/console"},
           {"DELETE", "/console/app.js"},
       }) {
    auto res = client->Request(method, target);
    ASSERT_TRUE(res) << method << " " << target;
    EXPECT_GE(res->status, 400) << method << " " << target;
    EXPECT_EQ(res->Header("Content-Type"), "application/json; charset=utf-8")
        << method << " " << target;
  }
}

}  // namespace
}  // namespace tokend::http::testing
