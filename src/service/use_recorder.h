// UseRecorder: the "last used" dates of tokens (docs/API.md, "Last used"),
// gathered in memory on the request path and written to the store in batches.
//
// Record is the hot path (every authenticated request and every active
// introspection): a lookup in one of a few mutex-guarded shards and a max, no
// allocation for an id already pending; and nothing at all when the calling
// thread has just recorded the same id at the same or a later time (a
// keep-alive client's bearer, many times per millisecond). A background thread writes what is
// pending with TokenStore::RecordUses every `interval`, and not at all while
// nothing is pending; a failed write keeps its values (merged with newer ones)
// for the next attempt. Stop writes everything still pending.
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "core/status.h"
#include "core/time.h"
#include "store/token_store.h"

namespace tokend::service {

class UseRecorder {
 public:
  // `store` must outlive the recorder. Nothing runs until Start.
  UseRecorder(store::TokenStore& store, std::chrono::milliseconds interval);
  ~UseRecorder();  // Stop()
  UseRecorder(const UseRecorder&) = delete;
  UseRecorder& operator=(const UseRecorder&) = delete;

  // Never blocks on the store. Remembers that token `id` was used at `at`;
  // an older time than one already pending for it changes nothing.
  void Record(std::string_view id, core::EpochMillis at);

  // The newest use pending for `id` (recorded, not yet written).
  std::optional<core::EpochMillis> Pending(std::string_view id) const;
  // How many ids have a use pending.
  std::size_t PendingCount() const;

  // May block. Writes every pending use now, in one RecordUses call (none
  // when nothing is pending). On failure the uses stay pending, merged with
  // any recorded meanwhile, and the store's status is returned.
  core::Status Flush();

  // Starts the background thread that calls Flush every interval.
  void Start();
  // May block. Stops the background thread, then flushes what is pending:
  // unless the thread's own flush, under way when Stop was called, failed
  // (a store that just failed, or hangs until its timeout, would cost the
  // stop that time twice), which is then returned. Idempotent; the recorder
  // keeps recording (and Flush works) afterwards.
  core::Status Stop();

 private:
  // Hashing an id once, for the shard and the map alike.
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  using UseMap = std::unordered_map<std::string, core::EpochMillis, IdHash, std::equal_to<>>;
  // Few shards: enough that I/O threads rarely wait on one another, few
  // enough that a flush visits them all cheaply.
  static constexpr std::size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    UseMap uses;  // guarded by mu
  };

  Shard& ShardOf(std::string_view id) { return shards_[IdHash{}(id) % kShards]; }
  const Shard& ShardOf(std::string_view id) const { return shards_[IdHash{}(id) % kShards]; }
  void Run();

  store::TokenStore& store_;
  const std::chrono::milliseconds interval_;
  // Tells this recorder's entries in the threads' memo of their last record
  // from those of a recorder destroyed before (whose address it may reuse).
  const std::uint64_t instance_;
  std::array<Shard, kShards> shards_;

  std::mutex flush_mu_;                            // one flush at a time
  std::array<std::size_t, kShards> last_sizes_{};  // guarded by flush_mu_

  std::mutex thread_mu_;  // guards stopping_ and the thread's start and join
  std::condition_variable wake_;
  bool stopping_ = false;
  // The thread's flush that ended failing after Stop was asked for.
  std::optional<core::Status> failed_while_stopping_;  // guarded by thread_mu_
  std::thread thread_;
};

}  // namespace tokend::service
