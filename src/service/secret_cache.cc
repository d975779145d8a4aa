#include "service/secret_cache.h"

#include <algorithm>
#include <functional>

namespace tokend::service {

SecretCache::SecretCache(std::size_t capacity)
    : shard_capacity_(capacity == 0 ? 0 : std::max<std::size_t>(capacity / kShards, 1)) {}

SecretCache::Shard& SecretCache::ShardFor(std::string_view secret_hash) {
  return shards_[std::hash<std::string_view>{}(secret_hash) % kShards];
}

const SecretCache::Shard& SecretCache::ShardFor(std::string_view secret_hash) const {
  return shards_[std::hash<std::string_view>{}(secret_hash) % kShards];
}

core::SharedToken SecretCache::Find(std::string_view secret_hash) const {
  if (!trusted_.load(std::memory_order_acquire)) return nullptr;
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
  if (!trusted_.load(std::memory_order_acquire) ||
      epoch_.load(std::memory_order_acquire) != epoch_before_lookup) {
    return;
  }
  Shard& shard = ShardFor(token.secret_hash);
  std::unique_lock lock(shard.mutex);
  if (shard.by_hash.size() >= shard_capacity_ && !shard.by_hash.contains(token.secret_hash)) {
    auto victim = shard.by_hash.begin();
    id_to_hash_.erase(victim->second->id);
    shard.by_hash.erase(victim);
  }
  id_to_hash_.insert_or_assign(token.id, token.secret_hash);
  shard.by_hash.insert_or_assign(token.secret_hash, std::move(shared));
}

void SecretCache::EraseById(std::string_view id) {
  // The epoch moves before the erase so that a fill racing with this call
  // either sees the new epoch or is erased here.
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  invalidations_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard mutation(mutation_mutex_);
  auto it = id_to_hash_.find(std::string(id));
  if (it == id_to_hash_.end()) return;
  Shard& shard = ShardFor(it->second);
  {
    std::unique_lock lock(shard.mutex);
    shard.by_hash.erase(it->second);
  }
  id_to_hash_.erase(it);
}

void SecretCache::ClearLocked() {
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    shard.by_hash.clear();
  }
  id_to_hash_.clear();
}

void SecretCache::SetTrusted(bool trusted) {
  // Distrust takes effect before the clear, trust only after it, so that no
  // lookup in between can answer from what was cached while the feed was down.
  if (!trusted) trusted_.store(false, std::memory_order_release);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard mutation(mutation_mutex_);
  ClearLocked();
  if (trusted) trusted_.store(true, std::memory_order_release);
}

}  // namespace tokend::service
