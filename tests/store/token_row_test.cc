// The token-row encoding shared by every backend (store/token_row.h).
#include "store/token_row.h"

#include <gtest/gtest.h>

#include <string>

namespace tokend::store {
namespace {

using core::Result;
using core::Token;
using core::TokenType;

Token FullToken() {
  Token token;
  token.id = "65f0a1b2c3d4e5f601020304";
  token.type = TokenType::kWorkflow;
  token.name = "Jörg's 🔑";
  token.description = "";
  token.principal = "wf-1";
  token.creation_date = 1'770'000'000'000;
  token.expiration_date = 1'780'000'000'000;
  token.actions = {"workflow/read", "**/action"};
  token.secret_hash = std::string(64, 'a');
  return token;
}

TEST(TokenRowTest, EncodesEveryColumnAsTheSchemasSay) {
  Result<TokenRow> row = EncodeTokenRow(FullToken());
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->id, "65f0a1b2c3d4e5f601020304");
  EXPECT_EQ(row->type, "workflow");
  EXPECT_EQ(row->name, "Jörg's 🔑");
  EXPECT_EQ(row->description, std::optional<std::string>(""));
  EXPECT_EQ(row->principal, std::optional<std::string>("wf-1"));
  EXPECT_EQ(row->creation_date, 1'770'000'000'000);
  EXPECT_EQ(row->expiration_date, std::optional<std::int64_t>(1'780'000'000'000));
  EXPECT_EQ(row->actions, "workflow/read **/action");
  EXPECT_EQ(row->secret_hash, std::string(64, 'a'));
}

TEST(TokenRowTest, NullsStayNullAndNoActionsIsEmptyText) {
  Token global = FullToken();
  global.type = TokenType::kGlobal;
  global.description.reset();
  global.principal.reset();
  global.expiration_date.reset();
  global.actions.clear();
  Result<TokenRow> row = EncodeTokenRow(global);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->description, std::nullopt);
  EXPECT_EQ(row->principal, std::nullopt);
  EXPECT_EQ(row->expiration_date, std::nullopt);
  EXPECT_EQ(row->actions, "");
  Result<Token> back = DecodeTokenRow(*row);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, global);
}

TEST(TokenRowTest, EveryTypeRoundTrips) {
  for (const TokenType type : core::kAllTokenTypes) {
    Token token = FullToken();
    token.type = type;
    Result<TokenRow> row = EncodeTokenRow(token);
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->type, core::ToString(type));
    Result<Token> back = DecodeTokenRow(std::move(row).value());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, token);
  }
}

TEST(TokenRowTest, RefusesWhatARowCannotHoldWithoutEchoingIt) {
  const std::string secretish = "s3cret\xff";
  Token token = FullToken();
  token.name = secretish;
  Result<TokenRow> row = EncodeTokenRow(token);
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(row.status().message().find("name"), std::string::npos) << row.status().message();
  EXPECT_EQ(row.status().message().find("s3cret"), std::string::npos) << row.status().message();

  token = FullToken();
  token.actions = {"a b"};
  EXPECT_EQ(EncodeTokenRow(token).status().code(), core::StatusCode::kInvalidArgument);
  token.actions = {""};
  EXPECT_EQ(EncodeTokenRow(token).status().code(), core::StatusCode::kInvalidArgument);
}

TEST(TokenRowTest, UnknownStoredTypeIsInternal) {
  Result<TokenRow> row = EncodeTokenRow(FullToken());
  ASSERT_TRUE(row.ok());
  row->type = "Team";  // types are case-sensitive
  Result<Token> token = DecodeTokenRow(std::move(row).value());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), core::StatusCode::kInternal);
}

TEST(TokenRowTest, SplitIgnoresRepeatedSpaces) {
  EXPECT_EQ(SplitActions("  a/read   b/write "), (std::vector<std::string>{"a/read", "b/write"}));
  EXPECT_TRUE(SplitActions("").empty());
  EXPECT_EQ(JoinActions({"a/read", "b/write"}), "a/read b/write");
}

TEST(TokenRowTest, StorableTextIsStrictUtf8WithoutNul) {
  EXPECT_TRUE(IsStorableText(""));
  EXPECT_TRUE(IsStorableText("usér-✓-𝄞"));
  EXPECT_FALSE(IsStorableText(std::string("a\0b", 3)));
  EXPECT_FALSE(IsStorableText("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsStorableText("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsStorableText("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsStorableText("\xe2\x9c"));          // truncated
}

}  // namespace
}  // namespace tokend::store
