// SecretCache: resolved secrets (by hex SHA-256) kept in memory so that
// authentication and introspection of a known token never touch the store.
//
// Correctness over reuse: a deletion must win over any concurrent fill. Every
// invalidation bumps an epoch; a fill carries the epoch read before its store
// lookup and is dropped when any invalidation happened since. While the store's
// change feed is down the cache is untrusted: it answers nothing and keeps
// nothing, so a deletion made elsewhere can never be missed.
//
// Thread safety: all methods are thread-safe. Lookups take a shared lock on
// one of kShards shards; mutations are serialized.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/token.h"

namespace tokend::service {

class SecretCache {
 public:
  // `capacity`: the most tokens kept; past it, arbitrary entries are evicted.
  // 0 keeps nothing (every lookup goes to the store).
  explicit SecretCache(std::size_t capacity);

  // The cached token for a secret hash, or null (absent or untrusted).
  core::SharedToken Find(std::string_view secret_hash) const;

  // Read before a store lookup whose result will be passed to Insert().
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // The epoch while the cache keeps and answers entries; nullopt while it is
  // off (capacity 0) or untrusted. A resolution made after reading epoch E
  // is still current while this reads E: any invalidation moves it.
  std::optional<std::uint64_t> TrustedEpoch() const {
    if (shard_capacity_ == 0) return std::nullopt;
    const std::uint64_t epoch = epoch_.load(std::memory_order_acquire);
    if (!Trusted()) return std::nullopt;
    return epoch;
  }

  // Keeps `token` unless an invalidation happened since `epoch_before_lookup`
  // or the cache is untrusted.
  void Insert(const core::Token& token, std::uint64_t epoch_before_lookup);
  // The same, keeping `token` itself (shared with whoever else holds it).
  void Insert(core::SharedToken token, std::uint64_t epoch_before_lookup);

  // Drops the token with this id, if cached.
  void EraseById(std::string_view id);

  // false: stop answering and keeping anything (feed down); true: start
  // afresh (everything cached before is dropped).
  void SetTrusted(bool trusted);
  // true: stop answering and keeping anything, but keep what is cached (the
  // feed is behind: deletions may have been made that it has not delivered
  // yet); false: answer again (it has caught up, every deletion it missed
  // meanwhile already erased). Trusted only while neither down nor lagging.
  void SetLagging(bool lagging);
  // Until when the feed vouches that every deletion made elsewhere has been
  // erased (moved on by each of its round trips): from then on, the cache
  // answers and keeps nothing until it is moved again, as when lagging. The
  // check is made at each lookup, so that requests a stalled process wakes
  // up to are never answered from the cache before the feed has had its
  // turn. Never set (a store with no other writer): always fresh.
  void SetFreshUntil(std::chrono::steady_clock::time_point until);

  std::uint64_t invalidations() const { return invalidations_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kShards = 16;
  // The most entries the tables are sized for up front (about 16 MB of
  // buckets); a larger capacity grows them as it fills.
  static constexpr std::size_t kReservedEntries = 1'000'000;
  // Keys are views of the cached token's own secret_hash (and id, in
  // id_to_hash_): a cached token is immutable and its entry holds it, so
  // caching one costs no copy of its strings. An entry's views must be
  // dropped before (or with) the entry that holds the token.
  //
  // Every secret hash cached is the SHA-256 (in hex) of a secret that was
  // presented or that tokend generated, as evenly spread as a hash
  // function's output and chosen by nobody: 16 of its characters serve as
  // the key's hash, the first 16 for the map and the next 16 for the shard,
  // a quarter of hashing all 64 each time. Shorter keys are hashed whole.
  struct SecretHashHasher {
    std::size_t operator()(std::string_view secret_hash) const {
      return std::hash<std::string_view>{}(secret_hash.substr(0, kHashedCharacters));
    }
  };
  static constexpr std::size_t kHashedCharacters = 16;
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string_view, core::SharedToken, SecretHashHasher> by_hash;
  };

  Shard& ShardFor(std::string_view secret_hash);
  const Shard& ShardFor(std::string_view secret_hash) const;
  using IdIndex = std::unordered_map<std::string_view, std::string_view>;
  // Drops one cached token: its id_to_hash_ entry, then its shard's entry.
  // Caller holds mutation_mutex_.
  void EraseLocked(IdIndex::iterator by_id);
  void ClearLocked();

  // Trusted (neither down nor lagging) and fresh.
  bool Trusted() const {
    if (!trusted_.load(std::memory_order_acquire)) return false;
    const std::int64_t fresh_until = fresh_until_.load(std::memory_order_acquire);
    return fresh_until == kAlwaysFresh ||
           std::chrono::steady_clock::now().time_since_epoch().count() < fresh_until;
  }
  static constexpr std::int64_t kAlwaysFresh = INT64_MAX;

  const std::size_t shard_capacity_;
  std::array<Shard, kShards> shards_;
  std::mutex mutation_mutex_;  // guards id_to_hash_ and orders mutations
  // Token id -> secret hash, both views of a token held in a shard.
  IdIndex id_to_hash_;
  std::atomic<std::uint64_t> epoch_{0};
  std::atomic<bool> trusted_{true};  // !feed_down_ && !feed_lagging_
  // steady_clock ticks; kAlwaysFresh until SetFreshUntil.
  std::atomic<std::int64_t> fresh_until_{kAlwaysFresh};
  bool feed_down_ = false;     // guarded by mutation_mutex_
  bool feed_lagging_ = false;  // guarded by mutation_mutex_
  std::atomic<std::uint64_t> invalidations_{0};
};

}  // namespace tokend::service
