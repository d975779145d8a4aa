// The secret parser. Invariants:
// - anything ParseSecret accepts is 40 characters with the prefix of the type
//   it reports, and either a lowercase UUID (legacy) or 30 base62 characters
//   followed by their CRC-32 in base62;
// - a secret from GenerateSecret always parses, as its type, not legacy;
// - changing any one character of a generated secret makes it unparseable;
// - HashSecret is 64 lowercase hex characters.
//
// Input: byte 0 picks the mode and the type; the rest is the candidate text.
// In "fix-up" mode the text's first 34 bytes get their correct checksum
// appended, so the accepting path is reached as often as the refusing one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/secret.h"
#include "core/token.h"
#include "fuzz_check.h"

namespace {

using tokend::core::TokenType;

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool IsBase62(char c) { return kBase62.find(c) != std::string_view::npos && c != '\0'; }

bool IsLowercaseUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

void CheckAccepted(std::string_view secret, const tokend::core::SecretShape& shape) {
  const std::string text(secret);
  FUZZ_CHECK(secret.size() == tokend::core::kSecretLength, text);
  const std::string prefix = std::string(tokend::core::SecretPrefix(shape.type)) + "_";
  FUZZ_CHECK(secret.substr(0, 4) == prefix, text);
  const std::string_view body = secret.substr(4);
  if (shape.legacy) {
    FUZZ_CHECK(IsLowercaseUuid(body), text);
  } else {
    for (char c : body) FUZZ_CHECK(IsBase62(c), text);
    FUZZ_CHECK(tokend::core::Base62Checksum(tokend::core::Crc32(secret.substr(0, 34))) ==
                   secret.substr(34),
               text);
  }
  const std::string hash = tokend::core::HashSecret(secret);
  FUZZ_CHECK(hash.size() == 64, hash);
  for (char c : hash) FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), hash);
}

void CheckParse(std::string_view candidate) {
  const auto shape = tokend::core::ParseSecret(candidate);
  if (shape) CheckAccepted(candidate, *shape);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  CheckParse(rest);
  if ((control & 0x80) != 0 && rest.size() >= 34) {
    std::string fixed(rest.substr(0, 34));
    fixed += tokend::core::Base62Checksum(tokend::core::Crc32(fixed));
    CheckParse(fixed);
  }

  // A generated secret parses, and any one-character change breaks it.
  const TokenType type = tokend::core::kAllTokenTypes[control % 5];
  const std::string secret = tokend::core::GenerateSecret(type);
  const auto shape = tokend::core::ParseSecret(secret);
  FUZZ_CHECK(shape && shape->type == type && !shape->legacy, secret);
  CheckAccepted(secret, *shape);
  if (rest.size() >= 2) {
    const std::size_t pos = static_cast<std::uint8_t>(rest[0]) % secret.size();
    if (rest[1] != secret[pos]) {
      std::string changed = secret;
      changed[pos] = rest[1];
      FUZZ_CHECK(!tokend::core::ParseSecret(changed), secret + " -> " + changed);
    }
  }
  return 0;
}
