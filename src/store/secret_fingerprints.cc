#include "store/secret_fingerprints.h"

#include <algorithm>
#include <bit>
#include <mutex>
#include <string>
#include <utility>

#include "core/object_id.h"
#include "core/text.h"

namespace tokend::store {
namespace {

constexpr std::size_t kFingerprintDigits = 16;

}  // namespace

std::optional<std::uint64_t> SecretFingerprints::Fingerprint(std::string_view secret_hash) {
  if (secret_hash.size() < kFingerprintDigits) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kFingerprintDigits; ++i) {
    const int digit = core::HexValue(secret_hash[i]);
    if (digit < 0) return std::nullopt;
    value = (value << 4) | static_cast<std::uint64_t>(digit);
  }
  // 0 marks an empty slot; the hash whose prefix is 0 shares 1's slot (a
  // false positive at worst).
  return value == 0 ? 1 : value;
}

std::size_t SecretFingerprints::SlotOf(const std::vector<std::uint64_t>& slots,
                                       std::uint64_t fingerprint) {
  // The hash is uniform already: its low bits pick the slot.
  const std::size_t mask = slots.size() - 1;
  std::size_t i = fingerprint & mask;
  while (slots[i] != fingerprint && slots[i] != 0) i = (i + 1) & mask;
  return i;
}

void SecretFingerprints::GrowTo(Shard& shard, std::size_t slot_count) {
  std::vector<std::uint64_t> grown(slot_count, 0);
  std::vector<IdBytes> grown_ids(slot_count, IdBytes{});
  for (std::size_t i = 0; i < shard.slots.size(); ++i) {
    if (shard.slots[i] == 0) continue;
    const std::size_t to = SlotOf(grown, shard.slots[i]);
    grown[to] = shard.slots[i];
    grown_ids[to] = shard.ids[i];
  }
  shard.slots = std::move(grown);
  shard.ids = std::move(grown_ids);
}

void SecretFingerprints::Reserve(std::size_t hashes) {
  // At most half full once `hashes` are in, spread evenly over the shards.
  const std::size_t per_shard =
      std::bit_ceil(std::max<std::size_t>(kInitialSlots, 2 * ((hashes + kShards - 1) / kShards)));
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    if (shard.slots.size() < per_shard) GrowTo(shard, per_shard);
  }
}

void SecretFingerprints::Add(std::string_view secret_hash, std::string_view token_id) {
  const std::optional<std::uint64_t> fingerprint = Fingerprint(secret_hash);
  if (!fingerprint) return;
  // Any other id (imported ones may differ) gives no hint.
  const std::optional<IdBytes> id = core::ParseObjectId(token_id);
  Shard& shard = ShardFor(*fingerprint);
  std::unique_lock lock(shard.mutex);
  if (shard.slots.empty()) GrowTo(shard, kInitialSlots);
  // At most half full, so that probes stay short.
  if ((shard.used + 1) * 2 > shard.slots.size()) GrowTo(shard, shard.slots.size() * 2);
  const std::size_t i = SlotOf(shard.slots, *fingerprint);
  if (shard.slots[i] == 0) {
    shard.slots[i] = *fingerprint;
    ++shard.used;
  }
  if (id) shard.ids[i] = *id;
}

std::optional<core::ObjectIdBytes> SecretFingerprints::TokenIdHint(
    std::string_view secret_hash) const {
  const std::optional<std::uint64_t> fingerprint = Fingerprint(secret_hash);
  if (!fingerprint) return std::nullopt;
  const Shard& shard = ShardFor(*fingerprint);
  std::shared_lock lock(shard.mutex);
  if (shard.slots.empty()) return std::nullopt;
  const std::size_t i = SlotOf(shard.slots, *fingerprint);
  if (shard.slots[i] == 0 || shard.ids[i] == IdBytes{}) return std::nullopt;
  return shard.ids[i];
}

bool SecretFingerprints::MayContain(std::string_view secret_hash) const {
  if (!complete()) return true;
  const std::optional<std::uint64_t> fingerprint = Fingerprint(secret_hash);
  if (!fingerprint) return true;
  const Shard& shard = ShardFor(*fingerprint);
  std::shared_lock lock(shard.mutex);
  if (shard.slots.empty()) return false;
  return shard.slots[SlotOf(shard.slots, *fingerprint)] != 0;
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
