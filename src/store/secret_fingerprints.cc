#include "store/secret_fingerprints.h"

#include <mutex>
#include <utility>

namespace tokend::store {
namespace {

constexpr std::size_t kFingerprintDigits = 16;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::uint64_t> SecretFingerprints::Fingerprint(std::string_view secret_hash) {
  if (secret_hash.size() < kFingerprintDigits) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kFingerprintDigits; ++i) {
    const int digit = HexValue(secret_hash[i]);
    if (digit < 0) return std::nullopt;
    value = (value << 4) | static_cast<std::uint64_t>(digit);
  }
  // 0 marks an empty slot; the hash whose prefix is 0 shares 1's slot (a
  // false positive at worst).
  return value == 0 ? 1 : value;
}

void SecretFingerprints::InsertInto(std::vector<std::uint64_t>& slots, std::uint64_t fingerprint) {
  // The hash is uniform already: its low bits pick the slot.
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = fingerprint & mask;; i = (i + 1) & mask) {
    if (slots[i] == fingerprint) return;
    if (slots[i] == 0) {
      slots[i] = fingerprint;
      return;
    }
  }
}

void SecretFingerprints::Add(std::string_view secret_hash) {
  const std::optional<std::uint64_t> fingerprint = Fingerprint(secret_hash);
  if (!fingerprint) return;
  Shard& shard = ShardFor(*fingerprint);
  std::unique_lock lock(shard.mutex);
  if (shard.slots.empty()) shard.slots.assign(kInitialSlots, 0);
  // At most half full, so that probes stay short.
  if ((shard.used + 1) * 2 > shard.slots.size()) {
    std::vector<std::uint64_t> grown(shard.slots.size() * 2, 0);
    for (std::uint64_t kept : shard.slots) {
      if (kept != 0) InsertInto(grown, kept);
    }
    shard.slots = std::move(grown);
  }
  const std::size_t mask = shard.slots.size() - 1;
  for (std::size_t i = *fingerprint & mask;; i = (i + 1) & mask) {
    if (shard.slots[i] == *fingerprint) return;
    if (shard.slots[i] == 0) {
      shard.slots[i] = *fingerprint;
      ++shard.used;
      return;
    }
  }
}

bool SecretFingerprints::MayContain(std::string_view secret_hash) const {
  if (!complete()) return true;
  const std::optional<std::uint64_t> fingerprint = Fingerprint(secret_hash);
  if (!fingerprint) return true;
  const Shard& shard = ShardFor(*fingerprint);
  std::shared_lock lock(shard.mutex);
  if (shard.slots.empty()) return false;
  const std::size_t mask = shard.slots.size() - 1;
  for (std::size_t i = *fingerprint & mask;; i = (i + 1) & mask) {
    if (shard.slots[i] == *fingerprint) return true;
    if (shard.slots[i] == 0) return false;
  }
}

std::size_t SecretFingerprints::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    total += shard.used;
  }
  return total;
}

}  // namespace tokend::store
