// Webhook signing in the Standard Webhooks form (API 8.2): the secret, its
// text form and the `webhook-signature` of one delivery attempt. Pure apart
// from OpenSSL's CSPRNG and HMAC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tokend::core {

// The text form of a secret starts with this prefix, then the standard base64
// (with padding) of the key bytes.
inline constexpr std::string_view kWebhookSecretPrefix = "whsec_";
inline constexpr std::size_t kWebhookKeyMinBytes = 24;
inline constexpr std::size_t kWebhookKeyMaxBytes = 64;
// The size of a secret tokend makes itself.
inline constexpr std::size_t kWebhookKeyGeneratedBytes = 32;

// A webhook signing key. The bytes never appear in a message or a log.
class WebhookSecret {
 public:
  // "whsec_" + standard base64 of 24..64 bytes; surrounding white space (a
  // trailing newline in a file) is ignored. InvalidArgument saying what is
  // wrong (no prefix, not base64, too short or too long), never quoting the
  // text itself.
  static Result<WebhookSecret> Parse(std::string_view text);

  // A new secret of kWebhookKeyGeneratedBytes random bytes (OpenSSL
  // RAND_bytes); Internal when the generator fails.
  static Result<WebhookSecret> Generate();

  // "whsec_..." (the form Parse reads).
  std::string ToText() const;

  // "v1," + base64(HMAC-SHA256(key, message_id + "." + timestamp + "." + body)):
  // the `webhook-signature` header of one attempt, `timestamp_seconds` being
  // the attempt's `webhook-timestamp`.
  std::string Sign(std::string_view message_id, std::int64_t timestamp_seconds,
                   std::string_view body) const;

  std::size_t size() const { return key_.size(); }

 private:
  explicit WebhookSecret(std::string key) : key_(std::move(key)) {}
  std::string key_;  // raw bytes
};

// Standard base64 with padding, and its strict inverse (nullopt-like empty
// Result for anything that is not canonical base64). Exposed for tests and
// receivers written against tokend's own code.
std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);

}  // namespace tokend::core
