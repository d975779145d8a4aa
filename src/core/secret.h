// Token secrets: generation, shape check and hashing.
//
// Format (GitHub-style): "<prefix>_" + 30 base62 chars from a CSPRNG + 6 base62
// chars of CRC-32 over the 34 characters before them (most significant digit
// first, left-padded with '0'); base62 alphabet 0-9A-Za-z. 40 characters.
// Legacy Boomerang secrets: "<prefix>_" + lowercase UUID (8-4-4-4-12 hex).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/token.h"

namespace tokend::core {

inline constexpr std::size_t kSecretLength = 40;

// A new secret for `type` from OpenSSL's CSPRNG. Thread-safe.
std::string GenerateSecret(TokenType type);

struct SecretShape {
  TokenType type;  // from the prefix
  bool legacy;     // a Boomerang "<prefix>_<uuid>" secret (no checksum)
};

// Checks prefix, length, alphabet and checksum (or legacy UUID form) without
// touching any store. nullopt when the text cannot be a tokend secret.
std::optional<SecretShape> ParseSecret(std::string_view secret);

// hex(SHA-256(secret)), 64 lowercase hex chars. Uses a per-thread digest
// context over an EVP_MD fetched once. Thread-safe.
std::string HashSecret(std::string_view secret);

// HashSecret into a caller's buffer, allocating nothing (the hot path).
inline constexpr std::size_t kSecretHashLength = 64;
void HashSecretInto(std::string_view secret, std::span<char, kSecretHashLength> hex);

// A presented secret and its hash, computed once per request and passed
// along instead of the bare text. A view: `text` must outlive it.
struct HashedSecret {
  std::string_view text;
  std::array<char, kSecretHashLength> hex{};

  static HashedSecret Of(std::string_view text);
  std::string_view hash() const { return {hex.data(), hex.size()}; }
};

// zlib-compatible CRC-32 (IEEE 802.3) and its 6-digit base62 rendering.
std::uint32_t Crc32(std::string_view data);
std::string Base62Checksum(std::uint32_t crc);

}  // namespace tokend::core
