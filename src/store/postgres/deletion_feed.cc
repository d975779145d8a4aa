#include "store/postgres/deletion_feed.h"

#include <random>
#include <string>
#include <utility>

namespace tokend::store::pg {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPollSlice{100};       // bounds shutdown latency
constexpr milliseconds kReconnectDelay{200};  // between failed attempts
constexpr milliseconds kHeartbeatIdle{1000};  // quiet time before a probe
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
  // The heartbeat is a notification to this very session: it proves both
  // that the server answers and that notifications are still delivered.
  const std::string probe = "NOTIFY " + probe_channel_;
  auto last_traffic = Clock::now();
  bool probing = false;
  bool awaiting_result = false;
  auto probe_deadline = Clock::now();
  while (!stop_) {
    if (WaitSocket(PQsocket(conn), false, kPollSlice)) {
      if (PQconsumeInput(conn) == 0) return;
      last_traffic = Clock::now();
      while (awaiting_result && PQisBusy(conn) == 0) {
        ResultPtr result(PQgetResult(conn));
        if (result == nullptr) {
          awaiting_result = false;
          break;
        }
        if (!Succeeded(result.get(), PGRES_COMMAND_OK)) return;
      }
      if (DrainNotifications(conn)) probing = false;
    }
    if (PQstatus(conn) != CONNECTION_OK) return;
    const auto now = Clock::now();
    if (probing && now > probe_deadline) return;  // the server or its delivery stopped
    if (!probing && !awaiting_result && now - last_traffic >= kHeartbeatIdle) {
      if (PQsendQuery(conn, probe.c_str()) == 0) return;
      probing = true;
      awaiting_result = true;
      probe_deadline = now + kHeartbeatTimeout;
    }
  }
}

bool DeletionFeed::DrainNotifications(PGconn* conn) {
  bool probe_heard = false;
  while (PGnotify* notify = PQnotifies(conn)) {
    if (probe_channel_ == notify->relname) {
      probe_heard = true;
    } else if (callbacks_.on_deleted && notify->extra != nullptr && notify->extra[0] != '\0') {
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
  const std::string sql = std::string("LISTEN ") + kDeletionChannel + "; LISTEN " + probe_channel_ +
                          "; NOTIFY " + probe_channel_;
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

void DeletionFeed::SleepFor(milliseconds duration) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, duration, [this] { return stop_.load(); });
}

}  // namespace tokend::store::pg
