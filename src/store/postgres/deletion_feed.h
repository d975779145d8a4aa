// The cross-instance revocation feed: a thread holding its own connection
// with LISTEN on the deletion channel. Internal to src/store/postgres/.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/time.h"
#include "store/postgres/pg_common.h"

namespace tokend::store::pg {

// The NOTIFY channel; the payload is the deleted token's id.
inline constexpr char kDeletionChannel[] = "tokend_token_deleted";
// The NOTIFY channel of rotation overlaps begun; the payload is the overlap's
// end (epoch milliseconds), so that every instance sweeps the old token away
// when it ends, not only the one that rotated.
inline constexpr char kOverlapChannel[] = "tokend_overlap_started";
// Prefix of the per-feed channel on which the feed notifies itself to prove
// that notifications are really delivered (some PostgreSQL-compatible engines
// accept LISTEN/NOTIFY and deliver nothing).
inline constexpr char kProbeChannelPrefix[] = "tokend_probe_";
// application_name of the listening connection (visible in pg_stat_activity).
inline constexpr char kListenApplicationName[] = "tokend-listen";

class DeletionFeed {
 public:
  struct Callbacks {
    std::function<void(std::string_view id)> on_deleted;
    std::function<void(bool healthy)> on_health;
    // true once the session has not proved for kFreshness that it is
    // current (every deletion committed before then delivered); false when
    // it has again. Only while healthy.
    std::function<void(bool lagging)> on_lagging;
    // A rotation overlap (of this instance or another) ends at `end`.
    std::function<void(core::EpochMillis end)> on_overlap_started;
    // Every deletion committed before `until` - kFreshness has been handed
    // to on_deleted: the session vouches for it until `until`. Told at the
    // start of each session and as each round trip completes.
    std::function<void(std::chrono::steady_clock::time_point until)> on_fresh_until;
  };

  // How long a completed round trip on the listening session vouches for
  // it: every deletion committed before the round trip's command was sent
  // has been delivered (PostgreSQL sends pending notifications ahead of
  // ReadyForQuery). So a deletion is heard, or the feed reported lagging,
  // within this much of its commit.
  static constexpr std::chrono::milliseconds kFreshness{90};
  // Round trips (an empty query; a NOTIFY probe once a second) follow each
  // other this often, so that each renews the freshness well before it ends.
  static constexpr std::chrono::milliseconds kRoundTripInterval{20};

  // Both callbacks run on the feed's thread and must not block.
  DeletionFeed(const ConnectionConfig& config, Callbacks callbacks);
  // Stops the thread (promptly: it never blocks longer than ~100 ms).
  ~DeletionFeed();
  DeletionFeed(const DeletionFeed&) = delete;
  DeletionFeed& operator=(const DeletionFeed&) = delete;

  // Connects, LISTENs and proves delivery with a probe notification once,
  // synchronously, then starts the thread, which reconnects by itself from
  // then on. Unavailable when the first connect fails or the engine does not
  // deliver notifications (the thread is not started).
  Status Start();

 private:
  void Run();
  // Connects without blocking past the connect timeout or a Stop; null on
  // failure.
  ConnPtr ConnectInterruptibly();
  // LISTENs on the deletion and probe channels and waits for a probe
  // notification sent on the same session to come back.
  bool Listen(PGconn* conn);
  // Serves one connected session until it breaks or the feed stops.
  void Serve(PGconn* conn);
  // Hands deletions to the callback; true when the probe came back.
  bool DrainNotifications(PGconn* conn);
  void SetHealthy(bool healthy);
  void SetLagging(bool lagging);
  void SleepFor(std::chrono::milliseconds duration);

  const ConnectionConfig& config_;
  const Callbacks callbacks_;
  const std::string probe_channel_;
  ConnPtr first_conn_;    // handed from Start() to the thread
  bool healthy_ = false;  // only touched by Start() and then the thread
  bool lagging_ = false;  // the same
  // When Listen() sent its probe: the first round trip of a session.
  std::chrono::steady_clock::time_point listened_at_;

  std::atomic<bool> stop_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread thread_;
};

}  // namespace tokend::store::pg
