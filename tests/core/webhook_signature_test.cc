#include "core/webhook_signature.h"

#include <gtest/gtest.h>

#include <string>

namespace tokend::core {
namespace {

// The Standard Webhooks reference libraries' published example (the
// specification's own libraries test their Sign against it).
constexpr std::string_view kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kSpecMessageId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kSpecTimestamp = 1614265330;
constexpr std::string_view kSpecPayload = R"({"test": 2432232314})";
constexpr std::string_view kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST(WebhookSignatureTest, SignsTheStandardWebhooksPublishedExample) {
  auto secret = WebhookSecret::Parse(kSpecSecret);
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(secret->size(), 24u);
  EXPECT_EQ(secret->Sign(kSpecMessageId, kSpecTimestamp, kSpecPayload), kSpecSignature);
}

TEST(WebhookSignatureTest, EveryPartOfTheSignedContentCounts) {
  auto secret = WebhookSecret::Parse(kSpecSecret);
  ASSERT_TRUE(secret.ok());
  EXPECT_NE(secret->Sign("msg_other", kSpecTimestamp, kSpecPayload), kSpecSignature);
  EXPECT_NE(secret->Sign(kSpecMessageId, kSpecTimestamp + 1, kSpecPayload), kSpecSignature);
  EXPECT_NE(secret->Sign(kSpecMessageId, kSpecTimestamp, R"({"test": 2432232315})"),
            kSpecSignature);
}

TEST(WebhookSignatureTest, SurroundingWhitespaceOfAFileIsIgnored) {
  auto secret = WebhookSecret::Parse("  " + std::string(kSpecSecret) + "\n");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(secret->ToText(), kSpecSecret);
}

TEST(WebhookSignatureTest, GeneratedSecretsAreThirtyTwoRandomBytesAndRoundTrip) {
  auto first = WebhookSecret::Generate();
  auto second = WebhookSecret::Generate();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->size(), 32u);
  EXPECT_NE(first->ToText(), second->ToText());
  EXPECT_TRUE(first->ToText().starts_with("whsec_"));
  auto reparsed = WebhookSecret::Parse(first->ToText());
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(reparsed->Sign("id", 1, "body"), first->Sign("id", 1, "body"));
}

TEST(WebhookSignatureTest, KeysOfTwentyFourToSixtyFourBytesAreAccepted) {
  EXPECT_TRUE(WebhookSecret::Parse("whsec_" + Base64Encode(std::string(24, 'k'))).ok());
  EXPECT_TRUE(WebhookSecret::Parse("whsec_" + Base64Encode(std::string(64, 'k'))).ok());
  auto short_key = WebhookSecret::Parse("whsec_" + Base64Encode(std::string(23, 'k')));
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.status().message().find("23 bytes"), std::string::npos);
  auto long_key = WebhookSecret::Parse("whsec_" + Base64Encode(std::string(65, 'k')));
  ASSERT_FALSE(long_key.ok());
  EXPECT_NE(long_key.status().message().find("65 bytes"), std::string::npos);
}

TEST(WebhookSignatureTest, MalformedSecretsAreRefusedWithoutQuotingThem) {
  const std::string key = Base64Encode(std::string(32, 'q'));
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {key, "whsec_"},                                    // no prefix
      {"WHSEC_" + key, "whsec_"},                         // prefix in another case
      {"whsec_", "base64"},                               // nothing after it
      {"whsec_" + key.substr(1), "base64"},               // bad length
      {"whsec_" + key.substr(0, 40) + "-_-_", "base64"},  // URL-safe alphabet
      {"whsec_" + key + " extra", "base64"},              // junk inside
  };
  for (const Case& c : cases) {
    auto parsed = WebhookSecret::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.says), std::string::npos)
        << parsed.status().message();
    EXPECT_EQ(parsed.status().message().find(key.substr(0, 12)), std::string::npos)
        << "the message quotes the secret: " << parsed.status().message();
  }
}

TEST(WebhookSignatureTest, Base64MatchesTheRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  for (std::string_view plain : {"f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto decoded = Base64Decode(Base64Encode(plain));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, plain);
  }
  EXPECT_FALSE(Base64Decode("Zh==").ok());  // non-zero padding bits
  EXPECT_FALSE(Base64Decode("Zm9=Zm9v").ok());
  EXPECT_FALSE(Base64Decode("Zm9").ok());
}

}  // namespace
}  // namespace tokend::core
