#include "store/postgres/deletion_feed.h"

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "core/text.h"

namespace tokend::store::pg {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPollSlice{100};       // bounds shutdown latency
constexpr milliseconds kReconnectDelay{200};  // between failed attempts
constexpr milliseconds kProbeInterval{1000};  // between NOTIFY probes
// A round trip or a probe unanswered this long: the session is given up.
constexpr milliseconds kHeartbeatTimeout{3000};

// Channel names are identifiers: lowercase hex keeps them valid unquoted.
std::string NewProbeChannel() {
  std::random_device random;
  constexpr char kHex[] = "0123456789abcdef";
  std::string channel = kProbeChannelPrefix;
  for (int i = 0; i < 16; ++i) channel += kHex[random() % 16];
  return channel;
}

}  // namespace

DeletionFeed::DeletionFeed(const ConnectionConfig& config, Callbacks callbacks)
    : config_(config), callbacks_(std::move(callbacks)), probe_channel_(NewProbeChannel()) {}

DeletionFeed::~DeletionFeed() {
  {
    std::lock_guard lock(sleep_mu_);
    stop_ = true;
  }
  sleep_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status DeletionFeed::Start() {
  ConnPtr conn = ConnectInterruptibly();
  if (conn == nullptr || !Listen(conn.get())) {
    return Status::Unavailable("PostgreSQL: cannot set up the deletion feed (LISTEN " +
                               std::string(kDeletionChannel) +
                               "), or the server does not deliver notifications; without them "
                               "revocation could not reach other instances");
  }
  first_conn_ = std::move(conn);
  healthy_ = true;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void DeletionFeed::Run() {
  ConnPtr conn = std::move(first_conn_);
  while (!stop_) {
    if (conn == nullptr) {
      conn = ConnectInterruptibly();
      if (conn != nullptr && !Listen(conn.get())) conn.reset();
      if (conn == nullptr) {
        SleepFor(kReconnectDelay);
        continue;
      }
      SetHealthy(true);
    }
    Serve(conn.get());
    conn.reset();
    if (!stop_) SetHealthy(false);
  }
}

void DeletionFeed::Serve(PGconn* conn) {
  // Round trips one after the other: each, once complete, proves that the
  // server answers and that every deletion committed before it was sent has
  // been delivered (PostgreSQL sends pending notifications ahead of
  // ReadyForQuery), which keeps the session fresh for kFreshness. Once a
  // second the round trip is a notification to this very session, which
  // proves that notifications are still delivered at all.
  const std::string probe = "NOTIFY " + probe_channel_;
  auto fresh_until = listened_at_ + kFreshness;
  if (callbacks_.on_fresh_until) callbacks_.on_fresh_until(fresh_until);
  std::optional<Clock::time_point> sent_at;        // the command in flight
  std::optional<Clock::time_point> probe_sent_at;  // a probe not heard yet
  auto last_probe = listened_at_;
  auto next_round_trip = Clock::now();
  while (!stop_) {
    auto now = Clock::now();
    // Wakes for the next round trip, or while one is in flight for its
    // timeout; and for the end of the freshness, to report the lag on time.
    auto wake = sent_at ? *sent_at + kHeartbeatTimeout : next_round_trip;
    if (probe_sent_at) wake = std::min(wake, *probe_sent_at + kHeartbeatTimeout);
    if (!lagging_) wake = std::min(wake, fresh_until);
    const auto wait =
        std::clamp(std::chrono::ceil<milliseconds>(wake - now), milliseconds(1), kPollSlice);
    if (WaitSocket(PQsocket(conn), false, wait)) {
      if (PQconsumeInput(conn) == 0) return;
      // Deletions first: a round trip completes only after the notifications
      // sent ahead of it are handed over.
      if (DrainNotifications(conn)) probe_sent_at.reset();
      while (sent_at && PQisBusy(conn) == 0) {
        ResultPtr result(PQgetResult(conn));
        if (result == nullptr) {
          if (DrainNotifications(conn)) probe_sent_at.reset();
          fresh_until = std::max(fresh_until, *sent_at + kFreshness);
          if (callbacks_.on_fresh_until) callbacks_.on_fresh_until(fresh_until);
          sent_at.reset();
          break;
        }
        const ExecStatusType status = PQresultStatus(result.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_EMPTY_QUERY) return;
      }
    }
    if (PQstatus(conn) != CONNECTION_OK) return;
    now = Clock::now();
    SetLagging(now >= fresh_until);
    // The server or its delivery stopped.
    if (sent_at && now - *sent_at > kHeartbeatTimeout) return;
    if (probe_sent_at && now - *probe_sent_at > kHeartbeatTimeout) return;
    if (!sent_at && now >= next_round_trip) {
      const bool probing = !probe_sent_at && now - last_probe >= kProbeInterval;
      if (PQsendQuery(conn, probing ? probe.c_str() : "") == 0) return;
      sent_at = now;
      next_round_trip = now + kRoundTripInterval;
      if (probing) probe_sent_at = last_probe = now;
    }
  }
}

bool DeletionFeed::DrainNotifications(PGconn* conn) {
  bool probe_heard = false;
  while (PGnotify* notify = PQnotifies(conn)) {
    const bool has_payload = notify->extra != nullptr && notify->extra[0] != '\0';
    if (probe_channel_ == notify->relname) {
      probe_heard = true;
    } else if (std::string_view(notify->relname) == kOverlapChannel) {
      const std::optional<std::int64_t> end =
          has_payload ? core::ParseInt64(notify->extra) : std::nullopt;
      if (callbacks_.on_overlap_started && end) callbacks_.on_overlap_started(*end);
    } else if (callbacks_.on_deleted && has_payload) {
      callbacks_.on_deleted(std::string_view(notify->extra));
    }
    PQfreemem(notify);
  }
  return probe_heard;
}

ConnPtr DeletionFeed::ConnectInterruptibly() {
  ConnPtr conn = config_.StartConnect(kListenApplicationName);
  if (conn == nullptr || PQstatus(conn.get()) == CONNECTION_BAD) return nullptr;
  const auto deadline = Clock::now() + std::chrono::seconds(config_.connect_timeout_seconds());
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED || stop_ || Clock::now() > deadline) return nullptr;
    if (WaitSocket(PQsocket(conn.get()), state == PGRES_POLLING_WRITING, kPollSlice) ||
        PQsocket(conn.get()) < 0) {
      state = PQconnectPoll(conn.get());
    }
  }
  if (!SetUpSession(conn.get(), config_).ok()) return nullptr;
  return conn;
}

bool DeletionFeed::Listen(PGconn* conn) {
  const std::string sql = std::string("LISTEN ") + kDeletionChannel + "; LISTEN " +
                          kOverlapChannel + "; LISTEN " + probe_channel_ + "; NOTIFY " +
                          probe_channel_;
  listened_at_ = Clock::now();
  ResultPtr result(PQexec(conn, sql.c_str()));
  if (!Succeeded(result.get(), PGRES_COMMAND_OK)) return false;
  const auto deadline = Clock::now() + kHeartbeatTimeout;
  while (!stop_ && Clock::now() < deadline) {
    if (DrainNotifications(conn)) return true;
    if (WaitSocket(PQsocket(conn), false, kPollSlice) && PQconsumeInput(conn) == 0) return false;
  }
  return false;
}

void DeletionFeed::SetHealthy(bool healthy) {
  if (healthy == healthy_) return;
  healthy_ = healthy;
  if (callbacks_.on_health) callbacks_.on_health(healthy);
}

void DeletionFeed::SetLagging(bool lagging) {
  if (lagging == lagging_) return;
  lagging_ = lagging;
  if (callbacks_.on_lagging) callbacks_.on_lagging(lagging);
}

void DeletionFeed::SleepFor(milliseconds duration) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, duration, [this] { return stop_.load(); });
}

}  // namespace tokend::store::pg
