#include "core/secret.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tokend::core {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

TEST(SecretTest, Crc32KnownVector) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
}

TEST(SecretTest, Base62ChecksumRendering) {
  EXPECT_EQ(Base62Checksum(0), "000000");
  EXPECT_EQ(Base62Checksum(61), "00000z");
  EXPECT_EQ(Base62Checksum(62), "000010");
  EXPECT_EQ(Base62Checksum(0xFFFFFFFFu), "4gfFC3");
  EXPECT_EQ(Base62Checksum(0xCBF43926u), "3jZRME");
}

TEST(SecretTest, GeneratedSecretsParseWithTheirType) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const TokenType type = kAllTokenTypes[i % std::size(kAllTokenTypes)];
    const std::string secret = GenerateSecret(type);
    ASSERT_EQ(secret.size(), kSecretLength);
    ASSERT_EQ(secret.substr(0, 4), std::string(SecretPrefix(type)) + "_");
    ASSERT_EQ(secret.find_first_not_of(kBase62, 4), std::string::npos) << secret;
    const std::optional<SecretShape> shape = ParseSecret(secret);
    ASSERT_TRUE(shape.has_value()) << secret;
    EXPECT_EQ(shape->type, type);
    EXPECT_FALSE(shape->legacy);
    seen.insert(secret);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(SecretTest, GeneratedBodyUsesTheWholeAlphabet) {
  // 200 secrets give 6000 random digits; each of 62 digits is expected ~97
  // times, so a missing one means the draw is broken, not unlucky.
  std::set<char> digits;
  for (int i = 0; i < 200; ++i) {
    const std::string secret = GenerateSecret(TokenType::kTeam);
    digits.insert(secret.begin() + 4, secret.begin() + 34);
  }
  EXPECT_EQ(digits.size(), 62u);
}

TEST(SecretTest, AnySingleCharacterChangeIsRejected) {
  for (int round = 0; round < 3; ++round) {
    const std::string secret = GenerateSecret(TokenType::kWorkflow);
    for (std::size_t pos = 0; pos < secret.size(); ++pos) {
      for (char c : kBase62) {
        if (c == secret[pos]) continue;
        std::string changed = secret;
        changed[pos] = c;
        EXPECT_FALSE(ParseSecret(changed).has_value()) << changed;
      }
    }
  }
}

TEST(SecretTest, WrongShapesAreRejected) {
  const std::string good = GenerateSecret(TokenType::kUser);
  EXPECT_FALSE(ParseSecret("").has_value());
  EXPECT_FALSE(ParseSecret(good.substr(0, 39)).has_value());
  EXPECT_FALSE(ParseSecret(good + "0").has_value());
  EXPECT_FALSE(ParseSecret("bfx_" + good.substr(4)).has_value());
  EXPECT_FALSE(ParseSecret("bfu-" + good.substr(4)).has_value());
  EXPECT_FALSE(ParseSecret("BFU_" + good.substr(4)).has_value());
  std::string with_dash = good;
  with_dash[20] = '-';
  EXPECT_FALSE(ParseSecret(with_dash).has_value());
}

TEST(SecretTest, LegacyUuidSecretsAreAccepted) {
  const std::optional<SecretShape> shape = ParseSecret("bft_123e4567-e89b-12d3-a456-426614174000");
  ASSERT_TRUE(shape.has_value());
  EXPECT_EQ(shape->type, TokenType::kTeam);
  EXPECT_TRUE(shape->legacy);

  const std::optional<SecretShape> global = ParseSecret("bfg_00000000-0000-0000-0000-000000000000");
  ASSERT_TRUE(global.has_value());
  EXPECT_EQ(global->type, TokenType::kGlobal);
}

TEST(SecretTest, MalformedLegacySecretsAreRejected) {
  constexpr std::string_view kBad[] = {
      "bft_123E4567-E89B-12D3-A456-426614174000",   // uppercase hex
      "bft_123e4567-e89b-12d3-a456-42661417400g",   // not hex
      "bft_123e4567-e89b-12d3-a456_426614174000",   // wrong separator
      "bft_123e4567e-89b-12d3-a456-426614174000",   // dash misplaced
      "bft_123e4567-e89b-12d3-a456-4266141740000",  // too long
      "bfz_123e4567-e89b-12d3-a456-426614174000",   // unknown prefix
  };
  for (std::string_view secret : kBad) EXPECT_FALSE(ParseSecret(secret).has_value()) << secret;
}

TEST(SecretTest, HashSecretKnownVectors) {
  EXPECT_EQ(HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashSecret(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // The context is reused; a second call must not carry state over.
  EXPECT_EQ(HashSecret("abc"), HashSecret("abc"));
}

}  // namespace
}  // namespace tokend::core
