#include "service/use_recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

namespace tokend::service {
namespace {

std::atomic<std::uint64_t> next_instance{1};

// What the calling thread recorded last. Skipping a record it covers is safe:
// that use is pending or written, and a failed write keeps it pending.
struct LastRecord {
  std::uint64_t recorder = 0;
  core::EpochMillis at = 0;
  std::string id;
};
thread_local LastRecord last_record;

}  // namespace

UseRecorder::UseRecorder(store::TokenStore& store, std::chrono::milliseconds interval)
    : store_(store),
      interval_(std::max(interval, std::chrono::milliseconds(1))),
      instance_(next_instance.fetch_add(1, std::memory_order_relaxed)) {}

UseRecorder::~UseRecorder() { (void)Stop(); }

void UseRecorder::Record(std::string_view id, core::EpochMillis at) {
  LastRecord& last = last_record;
  if (last.recorder == instance_ && last.at >= at && last.id == id) return;
  {
    Shard& shard = ShardOf(id);
    std::lock_guard lock(shard.mu);
    if (auto it = shard.uses.find(id); it != shard.uses.end()) {
      if (it->second < at) it->second = at;
    } else {
      shard.uses.emplace(std::string(id), at);
    }
  }
  last.recorder = instance_;
  last.at = at;
  last.id.assign(id);
}

std::optional<core::EpochMillis> UseRecorder::Pending(std::string_view id) const {
  const Shard& shard = ShardOf(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.uses.find(id);
  if (it == shard.uses.end()) return std::nullopt;
  return it->second;
}

std::size_t UseRecorder::PendingCount() const {
  std::size_t count = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    count += shard.uses.size();
  }
  return count;
}

core::Status UseRecorder::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  // Each shard is swapped out under its lock, so Record waits at most for a
  // swap, never for the store.
  std::array<UseMap, kShards> taken;
  std::size_t count = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    // Each shard starts the next interval sized for as many ids as it took in
    // the last (sized here, outside its lock), so that a burst of new ids,
    // after a start or a cold walk, does not rehash it on the request path.
    UseMap next;
    next.reserve(last_sizes_[i]);
    {
      std::lock_guard lock(shards_[i].mu);
      taken[i] = std::exchange(shards_[i].uses, std::move(next));
    }
    last_sizes_[i] = taken[i].size();
    count += taken[i].size();
  }
  if (count == 0) return core::Status::Ok();
  std::vector<store::TokenUse> uses;
  uses.reserve(count);
  for (const UseMap& map : taken) {
    for (const auto& [id, at] : map) uses.push_back(store::TokenUse{id, at});
  }
  // In id order, the store walks its rows (and the entries they leave in
  // the last-use index) from one end to the other, where the shards' hash
  // order sends each update to a page unrelated to the one before: about
  // half the SQLite writer's CPU per use after a cold walk (docs/PERFORMANCE.md).
  std::sort(uses.begin(), uses.end(),
            [](const store::TokenUse& a, const store::TokenUse& b) { return a.id < b.id; });
  core::Status status = store_.RecordUses(uses);
  if (status.ok()) return status;
  // Kept for the next attempt; a newer use recorded meanwhile wins.
  for (std::size_t i = 0; i < kShards; ++i) {
    if (taken[i].empty()) continue;
    std::lock_guard lock(shards_[i].mu);
    for (auto& [id, at] : taken[i]) {
      auto [it, inserted] = shards_[i].uses.try_emplace(id, at);
      if (!inserted && it->second < at) it->second = at;
    }
  }
  return status;
}

void UseRecorder::Start() {
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void UseRecorder::Run() {
  bool failing = false;
  std::unique_lock lock(thread_mu_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    const core::Status status = Flush();
    // Logged once per streak of failures, not once per interval.
    if (!status.ok() && !failing) {
      spdlog::warn("cannot record token uses (kept, retried every {} ms): {}", interval_.count(),
                   status.message());
    } else if (status.ok() && failing) {
      spdlog::info("token uses recorded again");
    }
    failing = !status.ok();
    lock.lock();
    if (stopping_ && !status.ok()) failed_while_stopping_ = status;
  }
}

core::Status UseRecorder::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) thread.join();
  {
    std::lock_guard lock(thread_mu_);
    if (failed_while_stopping_) return *std::exchange(failed_while_stopping_, std::nullopt);
  }
  return Flush();
}

}  // namespace tokend::service
