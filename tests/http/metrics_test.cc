#include "http/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tokend::http {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  std::istringstream lines(text);
  for (std::string current; std::getline(lines, current);) {
    if (current == line) return true;
  }
  return false;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

TEST(MetricsTest, RequestsByRouteAndStatus) {
  Metrics metrics;
  metrics.RecordRequest("GET /api/v2/token/{id}", 200, 0.0002);
  metrics.RecordRequest("GET /api/v2/token/{id}", 200, 0.003);
  metrics.RecordRequest("GET /api/v2/token/{id}", 404, 0.7);
  metrics.RecordRequest("POST /api/v2/token", 200, 0.01);
  const std::string text = metrics.Render({});
  EXPECT_TRUE(HasLine(text, "# TYPE tokend_http_requests_total counter")) << text;
  EXPECT_TRUE(HasLine(text,
                      "tokend_http_requests_total{route=\"GET /api/v2/token/{id}\","
                      "status=\"200\"} 2"))
      << text;
  EXPECT_TRUE(HasLine(text,
                      "tokend_http_requests_total{route=\"GET /api/v2/token/{id}\","
                      "status=\"404\"} 1"));
  EXPECT_TRUE(HasLine(text,
                      "tokend_http_requests_total{route=\"POST /api/v2/token\","
                      "status=\"200\"} 1"));
  EXPECT_EQ(text.find("status=\"500\""), std::string::npos);
}

TEST(MetricsTest, HistogramIsCumulative) {
  Metrics metrics;
  const std::string route = "POST /api/v2/token/introspect";
  metrics.RecordRequest(route, 200, 0.0002);  // le 0.0005
  metrics.RecordRequest(route, 200, 0.001);   // le 0.001 (bounds are inclusive)
  metrics.RecordRequest(route, 200, 0.003);   // le 0.005
  metrics.RecordRequest(route, 200, 0.7);     // le 1
  metrics.RecordRequest(route, 200, 10);      // +Inf only
  const std::string text = metrics.Render({});
  EXPECT_TRUE(HasLine(text, "# TYPE tokend_http_request_duration_seconds histogram"));
  const std::string prefix =
      "tokend_http_request_duration_seconds_bucket{route=\"" + route + "\",le=\"";
  const std::vector<std::pair<std::string, int>> want = {
      {"0.0005", 1}, {"0.001", 2}, {"0.0025", 2}, {"0.005", 3}, {"0.01", 3},
      {"0.025", 3},  {"0.05", 3},  {"0.1", 3},    {"0.25", 3},  {"0.5", 3},
      {"1", 4},      {"2.5", 4},   {"5", 4},      {"+Inf", 5}};
  for (const auto& [le, n] : want) {
    EXPECT_TRUE(HasLine(text, prefix + le + "\"} " + std::to_string(n))) << le << "\n" << text;
  }
  EXPECT_TRUE(
      HasLine(text, "tokend_http_request_duration_seconds_count{route=\"" + route + "\"} 5"));
  const std::string sum_prefix =
      "tokend_http_request_duration_seconds_sum{route=\"" + route + "\"} ";
  bool found_sum = false;
  for (const std::string& line : Lines(text)) {
    if (line.rfind(sum_prefix, 0) == 0) {
      found_sum = true;
      EXPECT_NEAR(std::stod(line.substr(sum_prefix.size())), 10.7042, 1e-6);
    }
  }
  EXPECT_TRUE(found_sum) << text;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics metrics;
  metrics.RecordRequest("GET /a\"b\\c\nd", 200, 0.001);
  metrics.RecordAuthFailure("odd \"reason\"\n");
  const std::string text = metrics.Render({});
  EXPECT_TRUE(HasLine(text,
                      "tokend_http_requests_total{route=\"GET /a\\\"b\\\\c\\nd\","
                      "status=\"200\"} 1"))
      << text;
  EXPECT_TRUE(HasLine(text, "tokend_auth_failures_total{reason=\"odd \\\"reason\\\"\\n\"} 1"))
      << text;
}

TEST(MetricsTest, AuthFailuresAndConnections) {
  Metrics metrics;
  metrics.RecordAuthFailure("missing");
  metrics.RecordAuthFailure("missing");
  metrics.RecordAuthFailure("unknown");
  metrics.ConnectionOpened();
  metrics.ConnectionOpened();
  metrics.ConnectionOpened();
  metrics.ConnectionClosed();
  const std::string text = metrics.Render({});
  EXPECT_TRUE(HasLine(text, "# TYPE tokend_auth_failures_total counter"));
  EXPECT_TRUE(HasLine(text, "tokend_auth_failures_total{reason=\"missing\"} 2"));
  EXPECT_TRUE(HasLine(text, "tokend_auth_failures_total{reason=\"unknown\"} 1"));
  EXPECT_TRUE(HasLine(text, "# TYPE tokend_open_connections gauge"));
  EXPECT_TRUE(HasLine(text, "tokend_open_connections 2"));
}

TEST(MetricsTest, ExtrasTokensCacheAndStore) {
  Metrics metrics;
  MetricsSnapshotExtras extras;
  extras.tokens_by_type = {{core::TokenType::kTeam, 7}, {core::TokenType::kGlobal, 1}};
  extras.cache_hits = 11;
  extras.cache_misses = 3;
  extras.cache_invalidations = 2;
  extras.store_up = true;
  std::string text = metrics.Render(extras);
  EXPECT_TRUE(HasLine(text, "# TYPE tokend_tokens gauge"));
  EXPECT_TRUE(HasLine(text, "tokend_tokens{type=\"global\"} 1"));
  EXPECT_TRUE(HasLine(text, "tokend_tokens{type=\"team\"} 7"));
  EXPECT_TRUE(HasLine(text, "tokend_tokens{type=\"workflow\"} 0"));
  EXPECT_TRUE(HasLine(text, "tokend_tokens{type=\"user\"} 0"));
  EXPECT_TRUE(HasLine(text, "tokend_tokens{type=\"session\"} 0"));
  EXPECT_TRUE(HasLine(text, "# TYPE tokend_cache_hits_total counter"));
  EXPECT_TRUE(HasLine(text, "tokend_cache_hits_total 11"));
  EXPECT_TRUE(HasLine(text, "tokend_cache_misses_total 3"));
  EXPECT_TRUE(HasLine(text, "tokend_cache_invalidations_total 2"));
  EXPECT_TRUE(HasLine(text, "# TYPE tokend_store_up gauge"));
  EXPECT_TRUE(HasLine(text, "tokend_store_up 1"));

  // A store that did not answer: its figures are left out, not read 0.
  extras.store_up = false;
  extras.tokens_by_type = std::nullopt;
  text = metrics.Render(extras);
  EXPECT_TRUE(HasLine(text, "tokend_store_up 0"));
  EXPECT_EQ(text.find("tokend_tokens"), std::string::npos) << text;
}

TEST(MetricsTest, EveryFamilyHasHelpAndTypeAndTextEndsWithNewline) {
  Metrics metrics;
  metrics.RecordRequest("GET /health", 200, 0.0001);
  metrics.RecordAuthFailure("missing");
  MetricsSnapshotExtras extras;
  extras.tokens_by_type.emplace();  // the store answered, with no token
  const std::string text = metrics.Render(extras);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  for (const std::string family :
       {"tokend_http_requests_total", "tokend_http_request_duration_seconds",
        "tokend_auth_failures_total", "tokend_open_connections", "tokend_tokens",
        "tokend_cache_hits_total", "tokend_cache_misses_total", "tokend_cache_invalidations_total",
        "tokend_store_up"}) {
    bool help = false;
    bool type = false;
    for (const std::string& line : Lines(text)) {
      help |= line.rfind("# HELP " + family + " ", 0) == 0;
      type |= line.rfind("# TYPE " + family + " ", 0) == 0;
    }
    EXPECT_TRUE(help) << family;
    EXPECT_TRUE(type) << family;
  }
  // Every sample line: name{labels} value, or name value.
  for (const std::string& line : Lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_NO_THROW((void)std::stod(line.substr(space + 1))) << line;
  }
}

TEST(MetricsTest, OddValuesDoNotBreakRendering) {
  Metrics metrics;
  metrics.RecordRequest("GET /x", 42, -1.0);
  metrics.RecordRequest("GET /x", 700, std::numeric_limits<double>::quiet_NaN());
  const std::string text = metrics.Render({});
  EXPECT_TRUE(HasLine(text, "tokend_http_requests_total{route=\"GET /x\",status=\"0\"} 2")) << text;
  EXPECT_TRUE(HasLine(
      text, "tokend_http_request_duration_seconds_bucket{route=\"GET /x\",le=\"0.0005\"} 2"));
  EXPECT_TRUE(HasLine(text, "tokend_http_request_duration_seconds_sum{route=\"GET /x\"} 0"));
}

TEST(MetricsTest, RouteTableIsBounded) {
  Metrics metrics;
  for (int i = 0; i < 200; ++i) metrics.RecordRequest("GET /r" + std::to_string(i), 200, 0.001);
  const std::string text = metrics.Render({});
  int routes = 0;
  for (const std::string& line : Lines(text)) {
    if (line.rfind("tokend_http_requests_total{", 0) == 0) ++routes;
  }
  EXPECT_LE(routes, 64);
  EXPECT_TRUE(HasLine(text, "tokend_http_requests_total{route=\"other\",status=\"200\"} 137"))
      << text;
}

TEST(MetricsTest, ConcurrentRecordingCountsEverything) {
  Metrics metrics;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.RecordRequest(i % 2 == 0 ? "GET /a" : "GET /b", 200, 0.001 * (t + 1));
        if (i % 1000 == 0) (void)metrics.Render({});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string text = metrics.Render({});
  const std::string half = std::to_string(kThreads * kPerThread / 2);
  EXPECT_TRUE(HasLine(text, "tokend_http_requests_total{route=\"GET /a\",status=\"200\"} " + half));
  EXPECT_TRUE(HasLine(text, "tokend_http_requests_total{route=\"GET /b\",status=\"200\"} " + half));
  EXPECT_TRUE(
      HasLine(text, "tokend_http_request_duration_seconds_count{route=\"GET /a\"} " + half));
}

}  // namespace
}  // namespace tokend::http
