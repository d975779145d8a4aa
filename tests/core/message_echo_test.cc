// Every error message of core that names a client value: the value is quoted
// and escaped by QuoteForMessage, so no message carries a raw control
// character or grows with the input.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "core/authz.h"
#include "core/create_request.h"
#include "core/query.h"
#include "core/text.h"

namespace tokend::core {
namespace {

constexpr EpochMillis kNow = 1'772'341'200'000;

// The longest message text around one quoted value.
constexpr std::size_t kMaxMessageBytes = kMaxQuotedBytes + 256;

// About 8 KB of valid UTF-8 without NUL, commas, letters or digits (a value
// holding 30 of those is judged as a secret and never shown): every other
// ASCII control, quotes and backslashes, an ANSI colour sequence, C1 NEL,
// the line separator and a right-to-left override.
std::string HostileText() {
  std::string text = "\x1B[31mred";
  while (text.size() < 8192) {
    for (char c = 1; c < 0x7F; ++c) {
      if (c != ',' && !std::isalnum(static_cast<unsigned char>(c))) text += c;
    }
    text += "\xC2\x85\xE2\x80\xA8\xE2\x80\xAE\x7F";
  }
  return text;
}

// The same with bytes that are not UTF-8.
std::string HostileBytes() { return "\xFF\xC0\xAF\n" + HostileText() + "\xED\xA0\x80"; }

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += '%';
    out += kHex[byte >> 4];
    out += kHex[byte & 0xF];
  }
  return out;
}

void ExpectShortSafeMessage(const Status& status, std::string_view label) {
  ASSERT_FALSE(status.ok()) << label;
  const std::string& message = status.message();
  EXPECT_LE(message.size(), kMaxMessageBytes) << label << ": " << message;
  EXPECT_TRUE(IsValidUtf8(message)) << label << ": " << message;
  for (const char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    ASSERT_TRUE(byte >= 0x20 && byte != 0x7F) << label << ": raw control in " << message;
  }
  for (const std::string_view raw : {"\xC2\x85", "\xE2\x80\xA8"}) {
    EXPECT_EQ(message.find(raw), std::string::npos) << label << ": " << message;
  }
  EXPECT_NE(message.find("'..."), std::string::npos) << label << ": not marked as cut";
}

CreateTokenRequest TeamRequest() {
  CreateTokenRequest request;
  request.type = "team";
  request.name = "ci";
  request.principal = "team-1";
  request.permissions = std::vector<std::string>{"token/read"};
  return request;
}

TEST(MessageEchoTest, CreateRequestValues) {
  for (const std::string& hostile : {HostileText(), HostileBytes()}) {
    CreateTokenRequest request = TeamRequest();
    request.type = hostile;
    ExpectShortSafeMessage(ValidateCreate(request, kNow).status(), "type");

    request = TeamRequest();
    request.role = hostile;
    ExpectShortSafeMessage(ValidateCreate(request, kNow).status(), "role");

    request = TeamRequest();
    request.permissions->push_back(hostile);
    ExpectShortSafeMessage(ValidateCreate(request, kNow).status(), "permission");
  }
}

TEST(MessageEchoTest, QueryParameterNamesAndValues) {
  const std::string hostile = HostileText();
  for (const char* name :
       {"limit", "page", "order", "sort", "fromDate", "toDate", "types", "li%6Dit"}) {
    const Result<QueryParams> params =
        ParseQueryString(std::string(name) + "=" + PercentEncode(hostile));
    ASSERT_TRUE(params.ok()) << name << ": " << params.status().ToString();
    ExpectShortSafeMessage(ParseTokenQuery(*params).status(), name);
  }
  // A name that does not decode is echoed as sent.
  ExpectShortSafeMessage(ParseQueryString("%ZZ" + std::string(8192, '~') + "=1").status(),
                         "undecodable name");
}

TEST(MessageEchoTest, AuthorizationPrincipals) {
  const std::string hostile = HostileText();
  Caller caller;
  caller.scope = TokenType::kTeam;
  caller.principal = hostile;
  caller.actions = {"**/**"};
  NewTokenSpec spec;
  spec.type = TokenType::kTeam;
  spec.name = "x";
  spec.principal = hostile + "other";
  spec.actions = {"token/read"};
  const Status status = CheckCreate(caller, spec);
  ASSERT_FALSE(status.ok());
  // Two quoted values in this one.
  EXPECT_LE(status.message().size(), kMaxMessageBytes + kMaxQuotedBytes) << status.message();
  for (const char c : status.message()) {
    ASSERT_TRUE(static_cast<unsigned char>(c) >= 0x20) << status.message();
  }

  Token target;
  target.id = hostile;
  target.type = TokenType::kTeam;
  target.principal = "someone-else";
  // An uncovered token's id is not echoed at all: the one fixed answer.
  EXPECT_EQ(CheckAccess(caller, TokenOperation::kRead, target).message(),
            TokenNotFound().message());
}

}  // namespace
}  // namespace tokend::core
