// SecretFingerprints: the first 64 bits of every secret hash a store has held
// since it was opened (its tokens' and its retired secrets'), in memory, so
// that a secret it never held is answered "unknown" without a lookup.
//
// Only a store that sees every write to its data can keep it (one process
// owns a SQLite file): its writer adds a row's hash before the row can be
// read, and a fill at start adds what the file already holds. Until that
// fill is complete, MayContain answers true for everything.
//
// Add-only: a deleted token's fingerprint stays until the next start. Two
// hashes may share a fingerprint, so removing one could hide the other; a
// stale fingerprint only sends that secret to the store, as before.
//
// Each fingerprint may also carry the id of the token last added with it (an
// ObjectId, kept as its 12 bytes): a hint that lets a lookup read the token
// by its primary key instead of through the secret-hash index. A hint is
// never trusted: the row it names must still hold the secret's hash (a
// deleted token or a colliding fingerprint leaves a hint that names another
// row or none). 40 bytes per hash at most (open addressing, at most half
// full: 8 for the fingerprint, 12 for the id).
//
// Thread safety: all methods are thread-safe; lookups take a shared lock on
// one of kShards shards.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/object_id.h"

namespace tokend::store {

class SecretFingerprints {
 public:
  // Adds a hex SHA-256 secret hash (a malformed one is ignored: MayContain
  // answers true for malformed hashes anyway). With a `token_id` that is an
  // ObjectId, it becomes the fingerprint's hint; otherwise any hint it had
  // stays.
  void Add(std::string_view secret_hash, std::string_view token_id = {});

  // Makes room for `hashes` fingerprints in all, so that a fill of known
  // size grows each shard once instead of doubling it over and over.
  void Reserve(std::size_t hashes);

  // False only when the fill is complete and `secret_hash` was never added.
  bool MayContain(std::string_view secret_hash) const;

  // The id last added with `secret_hash`'s fingerprint, if any: a hint to
  // verify (see above), available before the fill is complete too.
  std::optional<core::ObjectIdBytes> TokenIdHint(std::string_view secret_hash) const;

  // Called once everything held at start has been added.
  void MarkComplete() { complete_.store(true, std::memory_order_release); }
  bool complete() const { return complete_.load(std::memory_order_acquire); }

  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kInitialSlots = 1024;  // per shard, a power of two

  // All zero: no hint.
  using IdBytes = core::ObjectIdBytes;

  struct Shard {
    mutable std::shared_mutex mutex;
    std::vector<std::uint64_t> slots;  // 0: empty
    std::vector<IdBytes> ids;          // ids[i]: the hint of slots[i]
    std::size_t used = 0;
  };

  // The first 16 hex digits of `secret_hash` (never 0), or nullopt when they
  // are not hex digits.
  static std::optional<std::uint64_t> Fingerprint(std::string_view secret_hash);
  // Rehashes `shard` into `slot_count` slots (a power of two, more than it
  // holds). The caller holds the shard's lock.
  static void GrowTo(Shard& shard, std::size_t slot_count);
  // Where `fingerprint` is in `slots`, or the empty slot it would take.
  static std::size_t SlotOf(const std::vector<std::uint64_t>& slots, std::uint64_t fingerprint);
  Shard& ShardFor(std::uint64_t fingerprint) { return shards_[fingerprint >> 60]; }
  const Shard& ShardFor(std::uint64_t fingerprint) const { return shards_[fingerprint >> 60]; }

  std::array<Shard, kShards> shards_;
  std::atomic<bool> complete_{false};
};

}  // namespace tokend::store
