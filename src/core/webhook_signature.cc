#include "core/webhook_signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cctype>

namespace tokend::core {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string_view TrimWhitespace(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return Status::InvalidArgument("not standard base64 (its length is not a multiple of 4)");
  }
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::array<int, 4> v{};
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 4 - static_cast<int>(padding)) {
        v[k] = 0;
        continue;
      }
      v[k] = Base64Value(c);
      if (v[k] < 0) return Status::InvalidArgument("not standard base64 (a character outside it)");
    }
    const std::uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((n >> 16) & 0xff);
    if (!(last && padding == 2)) out += static_cast<char>((n >> 8) & 0xff);
    if (!(last && padding >= 1)) out += static_cast<char>(n & 0xff);
    // Canonical form only: the bits a padded group drops must be zero.
    if (last && padding == 2 && (v[1] & 0x0f) != 0) {
      return Status::InvalidArgument("not standard base64 (non-zero padding bits)");
    }
    if (last && padding == 1 && (v[2] & 0x03) != 0) {
      return Status::InvalidArgument("not standard base64 (non-zero padding bits)");
    }
  }
  return out;
}

Result<WebhookSecret> WebhookSecret::Parse(std::string_view text) {
  text = TrimWhitespace(text);
  if (!text.starts_with(kWebhookSecretPrefix)) {
    return Status::InvalidArgument("a webhook secret must start with \"whsec_\"");
  }
  text.remove_prefix(kWebhookSecretPrefix.size());
  auto key = Base64Decode(text);
  if (!key.ok()) {
    return Status::InvalidArgument("the webhook secret after \"whsec_\" is " +
                                   key.status().message());
  }
  if (key->size() < kWebhookKeyMinBytes || key->size() > kWebhookKeyMaxBytes) {
    return Status::InvalidArgument("the webhook secret's key is " + std::to_string(key->size()) +
                                   " bytes; it must be 24 to 64");
  }
  return WebhookSecret(std::move(*key));
}

Result<WebhookSecret> WebhookSecret::Generate() {
  std::string key(kWebhookKeyGeneratedBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return Status::Internal("the random generator failed to make a webhook secret");
  }
  return WebhookSecret(std::move(key));
}

std::string WebhookSecret::ToText() const {
  return std::string(kWebhookSecretPrefix) + Base64Encode(key_);
}

std::string WebhookSecret::Sign(std::string_view message_id, std::int64_t timestamp_seconds,
                                std::string_view body) const {
  std::string signed_content;
  signed_content.reserve(message_id.size() + body.size() + 24);
  signed_content.append(message_id);
  signed_content += '.';
  signed_content += std::to_string(timestamp_seconds);
  signed_content += '.';
  signed_content.append(body);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(signed_content.data()), signed_content.size(),
       mac.data(), &mac_size);
  return "v1," +
         Base64Encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_size));
}

}  // namespace tokend::core
