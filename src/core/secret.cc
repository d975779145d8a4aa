#include "core/secret.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <span>

#include "core/text.h"

namespace tokend::core {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::size_t kPrefixLength = 4;  // "bft_"
constexpr std::size_t kRandomLength = 30;
constexpr std::size_t kChecksumLength = 6;
constexpr std::size_t kUuidLength = 36;
static_assert(kPrefixLength + kRandomLength + kChecksumLength == kSecretLength);
static_assert(kPrefixLength + kUuidLength == kSecretLength);

// 248 = 4 * 62: bytes at or above it would make `byte % 62` favour low digits.
constexpr unsigned kRejectFrom = 248;

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// A weak or predictable secret is worse than no service, so a CSPRNG failure
// ends the process instead of returning something guessable.
void RandomBytesOrDie(unsigned char* out, int size) {
  if (RAND_bytes(out, size) != 1) std::abort();
}

std::optional<TokenType> TypeOfPrefix(std::string_view secret) {
  if (secret.size() < kPrefixLength || secret[kPrefixLength - 1] != '_') return std::nullopt;
  const std::string_view prefix = secret.substr(0, kPrefixLength - 1);
  for (TokenType type : kAllTokenTypes) {
    if (SecretPrefix(type) == prefix) return type;
  }
  return std::nullopt;
}

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in lowercase hex.
bool IsLowercaseUuid(std::string_view text) {
  if (text.size() != kUuidLength) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !IsLowerHex(text[i])) return false;
  }
  return true;
}

const EVP_MD* Sha256() {
  // Fetching per call costs a provider lookup each time; one fetch serves all
  // threads for the process's lifetime.
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::uint32_t Crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed in chunks so any size is safe.
  const auto* bytes = reinterpret_cast<const Bytef*>(data.data());
  std::size_t remaining = data.size();
  while (remaining > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(remaining, 1u << 30));
    crc = crc32(crc, bytes, chunk);
    bytes += chunk;
    remaining -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

std::string Base62Checksum(std::uint32_t crc) {
  std::string out(kChecksumLength, '0');
  for (std::size_t i = kChecksumLength; i-- > 0 && crc != 0;) {
    out[i] = kBase62[crc % 62];
    crc /= 62;
  }
  return out;
}

std::string GenerateSecret(TokenType type) {
  std::string secret;
  secret.reserve(kSecretLength);
  secret += SecretPrefix(type);
  secret += '_';
  std::array<unsigned char, 64> pool;
  std::size_t used = pool.size();
  while (secret.size() < kPrefixLength + kRandomLength) {
    if (used == pool.size()) {
      RandomBytesOrDie(pool.data(), static_cast<int>(pool.size()));
      used = 0;
    }
    const unsigned byte = pool[used++];
    if (byte >= kRejectFrom) continue;
    secret += kBase62[byte % 62];
  }
  secret += Base62Checksum(Crc32(secret));
  return secret;
}

std::optional<SecretShape> ParseSecret(std::string_view secret) {
  if (secret.size() != kSecretLength) return std::nullopt;
  const std::optional<TokenType> type = TypeOfPrefix(secret);
  if (!type) return std::nullopt;
  const std::string_view body = secret.substr(kPrefixLength);
  // Both forms are 40 characters; only the UUID has a '-' (not base62) here.
  if (body[8] == '-') {
    if (!IsLowercaseUuid(body)) return std::nullopt;
    return SecretShape{*type, true};
  }
  for (char c : body) {
    if (!IsBase62(c)) return std::nullopt;
  }
  const std::string_view covered = secret.substr(0, kPrefixLength + kRandomLength);
  const std::string_view checksum = secret.substr(kPrefixLength + kRandomLength);
  if (Base62Checksum(Crc32(covered)) != checksum) return std::nullopt;
  return SecretShape{*type, false};
}

void HashSecretInto(std::string_view secret, std::span<char, kSecretHashLength> hex) {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), Sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), secret.data(), secret.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &digest_length) != 1 ||
      digest_length * 2 != kSecretHashLength) {
    // Without SHA-256 no token can be stored or checked; continuing would
    // compare garbage hashes.
    std::abort();
  }
  WriteLowerHex(std::span<const unsigned char>(digest, digest_length), hex);
}

std::string HashSecret(std::string_view secret) {
  std::string hex(kSecretHashLength, '\0');
  HashSecretInto(secret, std::span<char, kSecretHashLength>(hex.data(), kSecretHashLength));
  return hex;
}

HashedSecret HashedSecret::Of(std::string_view text) {
  HashedSecret hashed{.text = text};
  HashSecretInto(text, hashed.hex);
  return hashed;
}

}  // namespace tokend::core
