#include "core/webhook_url.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

TEST(WebhookUrlTest, ReadsSchemeHostPortAndTarget) {
  auto url = ParseWebhookUrl("https://hooks.example.com/tokend/events?channel=7");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_TRUE(url->https);
  EXPECT_EQ(url->host, "hooks.example.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->target, "/tokend/events?channel=7");
  EXPECT_EQ(url->HostHeader(), "hooks.example.com");
  EXPECT_EQ(url->ForLogs(), "https://hooks.example.com/tokend/events");

  auto plain = ParseWebhookUrl("HTTP://127.0.0.1:8080");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->https);
  EXPECT_EQ(plain->port, 8080);
  EXPECT_EQ(plain->target, "/");
  EXPECT_EQ(plain->HostHeader(), "127.0.0.1:8080");
  // Leading zeros do not count (RFC 3986: any number of digits).
  for (const char* zeros : {"http://127.0.0.1:07821/", "http://127.0.0.1:0000007821/"}) {
    auto padded = ParseWebhookUrl(zeros);
    ASSERT_TRUE(padded.ok()) << zeros << ": " << padded.status().message();
    EXPECT_EQ(padded->port, 7821);
  }

  auto v6 = ParseWebhookUrl("http://[::1]:9000/h");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->HostHeader(), "[::1]:9000");

  auto query_only = ParseWebhookUrl("http://h?x=1");
  ASSERT_TRUE(query_only.ok());
  EXPECT_EQ(query_only->target, "/?x=1");
}

TEST(WebhookUrlTest, RefusesWhatItCannotSendWithTheReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"ftp://example.com/", "http:// or https://"},
      {"example.com/hook", "http:// or https://"},
      {"http:///hook", "no host"},
      {"http://:8080/hook", "no host"},
      {"http://host:0/", "1 to 65535"},
      {"http://host:65536/", "1 to 65535"},
      {"http://host:00000/", "1 to 65535"},
      {"http://host:0065536/", "1 to 65535"},
      {"http://host:1000000/", "1 to 65535"},
      {"http://host:00080a/", "not a number"},
      {"http://host:80a/", "not a number"},
      {"http://host:/", "port is empty"},
      {"https://user:pa55@host/", "userinfo"},
      {"https://host/hook#part", "fragment"},
      {"https://ho st/", "white space"},
      {"https://host/\n", "white space"},
      {"http://[::1/", "closing ]"},
      {"http://ho%73t/", "host is malformed"},
  };
  for (const auto& [text, says] : cases) {
    auto url = ParseWebhookUrl(text);
    ASSERT_FALSE(url.ok()) << text;
    EXPECT_NE(url.status().message().find(says), std::string::npos)
        << text << ": " << url.status().message();
  }
}

TEST(WebhookUrlTest, RedactionDropsUserinfoAndQuery) {
  EXPECT_EQ(RedactWebhookUrl("https://user:pa55@host/x?token=abc"), "https://***@host/x");
  EXPECT_EQ(RedactWebhookUrl("ftp://host/x#frag"), "ftp://host/x");
  EXPECT_EQ(RedactWebhookUrl("http://a/b@c"), "http://a/b@c");
}

}  // namespace
}  // namespace tokend::core
