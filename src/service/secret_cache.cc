#include "service/secret_cache.h"

#include <algorithm>
#include <functional>

namespace tokend::service {

SecretCache::SecretCache(std::size_t capacity)
    : shard_capacity_(capacity == 0 ? 0 : std::max<std::size_t>(capacity / kShards, 1)) {
  // The tables are sized for the capacity once (up to kReservedEntries, 8
  // bytes a bucket), so that filling the cache after a start never rehashes
  // them on the request path, under the mutation lock.
  const std::size_t reserved = std::min(capacity, kReservedEntries);
  if (reserved == 0) return;
  for (Shard& shard : shards_) shard.by_hash.reserve(reserved / kShards + 1);
  id_to_hash_.reserve(reserved);
}

namespace {

// The characters that choose a secret hash's shard (see SecretHashHasher).
std::size_t ShardHash(std::string_view secret_hash, std::size_t hashed_characters) {
  if (secret_hash.size() >= 2 * hashed_characters) {
    secret_hash = secret_hash.substr(hashed_characters, hashed_characters);
  }
  return std::hash<std::string_view>{}(secret_hash);
}

}  // namespace

SecretCache::Shard& SecretCache::ShardFor(std::string_view secret_hash) {
  return shards_[ShardHash(secret_hash, kHashedCharacters) % kShards];
}

const SecretCache::Shard& SecretCache::ShardFor(std::string_view secret_hash) const {
  return shards_[ShardHash(secret_hash, kHashedCharacters) % kShards];
}

core::SharedToken SecretCache::Find(std::string_view secret_hash) const {
  if (!Trusted()) return nullptr;
  const Shard& shard = ShardFor(secret_hash);
  std::shared_lock lock(shard.mutex);
  auto it = shard.by_hash.find(secret_hash);
  if (it == shard.by_hash.end()) return nullptr;
  return it->second;
}

void SecretCache::Insert(const core::Token& token, std::uint64_t epoch_before_lookup) {
  if (shard_capacity_ == 0) return;
  Insert(std::make_shared<const core::Token>(token), epoch_before_lookup);
}

void SecretCache::Insert(core::SharedToken shared, std::uint64_t epoch_before_lookup) {
  if (shard_capacity_ == 0 || shared == nullptr) return;
  const core::Token& token = *shared;
  std::lock_guard mutation(mutation_mutex_);
  // Checked under the mutation lock: an invalidation either happened before
  // (epoch moved, the fill is dropped) or will run after and erase the entry.
  if (!Trusted() || epoch_.load(std::memory_order_acquire) != epoch_before_lookup) {
    return;
  }
  // One entry per id and one id per entry, so that no view in id_to_hash_
  // outlives the token it points into.
  if (auto same_id = id_to_hash_.find(token.id); same_id != id_to_hash_.end()) {
    EraseLocked(same_id);
  }
  Shard& shard = ShardFor(token.secret_hash);
  std::unique_lock lock(shard.mutex);
  auto replaced = shard.by_hash.find(token.secret_hash);
  if (replaced == shard.by_hash.end() && shard.by_hash.size() >= shard_capacity_) {
    replaced = shard.by_hash.begin();  // evicted
  }
  if (replaced != shard.by_hash.end()) {
    id_to_hash_.erase(replaced->second->id);  // while its token still lives
    shard.by_hash.erase(replaced);
  }
  id_to_hash_.emplace(std::string_view(token.id), std::string_view(token.secret_hash));
  shard.by_hash.emplace(std::string_view(token.secret_hash), std::move(shared));
}

void SecretCache::EraseLocked(IdIndex::iterator by_id) {
  const std::string_view secret_hash = by_id->second;  // its token is still in its shard
  id_to_hash_.erase(by_id);
  Shard& shard = ShardFor(secret_hash);
  std::unique_lock lock(shard.mutex);
  if (auto entry = shard.by_hash.find(secret_hash); entry != shard.by_hash.end()) {
    shard.by_hash.erase(entry);
  }
}

void SecretCache::EraseById(std::string_view id) {
  // The epoch moves before the erase so that a fill racing with this call
  // either sees the new epoch or is erased here.
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard mutation(mutation_mutex_);
  if (auto it = id_to_hash_.find(id); it != id_to_hash_.end()) {
    EraseLocked(it);
    // Entries dropped: a deletion is announced more than once (by the
    // instance that made it, then by the feed), and most tokens deleted
    // were never cached.
    invalidations_.fetch_add(1, std::memory_order_relaxed);
  }
}

void SecretCache::ClearLocked() {
  id_to_hash_.clear();  // its views first, then the tokens they point into
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    shard.by_hash.clear();
  }
}

void SecretCache::SetTrusted(bool trusted) {
  // Distrust takes effect before the clear, trust only after it, so that no
  // lookup in between can answer from what was cached while the feed was down.
  if (!trusted) trusted_.store(false, std::memory_order_release);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard mutation(mutation_mutex_);
  feed_down_ = !trusted;
  ClearLocked();
  trusted_.store(!feed_down_ && !feed_lagging_, std::memory_order_release);
}

void SecretCache::SetFreshUntil(std::chrono::steady_clock::time_point until) {
  fresh_until_.store(until.time_since_epoch().count(), std::memory_order_release);
}

void SecretCache::SetLagging(bool lagging) {
  if (lagging) trusted_.store(false, std::memory_order_release);
  // Fills that looked the store up before now are dropped, and memos made
  // on the epoch before are not reused.
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard mutation(mutation_mutex_);
  feed_lagging_ = lagging;
  trusted_.store(!feed_down_ && !feed_lagging_, std::memory_order_release);
}

}  // namespace tokend::service
