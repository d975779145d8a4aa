// A bounded pool of libpq connections, created lazily. Internal to
// src/store/postgres/.
//
// Thread safety: Acquire may be called from any thread; a Lease belongs to
// the thread that holds it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "store/postgres/pg_common.h"

namespace tokend::store::pg {

class ConnectionPool {
 public:
  // Runs once on every new connection (e.g. to prepare statements); a
  // failure discards the connection.
  using SetUp = std::function<Status(PGconn*)>;

  // At most `size` connections are open at once; Acquire waits up to
  // `wait` for one to be free.
  ConnectionPool(ConnectionConfig config, int size, std::chrono::milliseconds wait, SetUp set_up);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Exclusive use of one connection, returned to the pool on destruction
  // (or closed, when it broke or was left inside a transaction).
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(other.pool_), conn_(std::move(other.conn_)), reused_(other.reused_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PGconn* get() const { return conn_.get(); }
    // True when the connection served earlier leases (so it may have gone
    // stale since); false for a connection opened for this lease.
    bool reused() const { return reused_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, ConnPtr conn, bool reused)
        : pool_(pool), conn_(std::move(conn)), reused_(reused) {}
    ConnectionPool* pool_;
    ConnPtr conn_;
    bool reused_;
  };

  // A healthy connection: an idle one (dead ones are dropped), else a new
  // one while fewer than `size` are open. Unavailable when none frees up
  // within the wait, or when a new connection cannot be made.
  Result<Lease> Acquire();

  // A new connection while fewer than `size` are open (never an idle one),
  // to open the pool ahead of its first use; nullopt when `size` are open.
  std::optional<Result<Lease>> OpenAnother();

  const ConnectionConfig& config() const { return config_; }

 private:
  void Release(ConnPtr conn);
  // Opens and sets up a connection counted in open_ already (uncounted
  // again when that fails).
  Result<Lease> OpenCounted();

  const ConnectionConfig config_;
  const int size_;
  const std::chrono::milliseconds wait_;
  const SetUp set_up_;

  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<ConnPtr> idle_;  // guarded by mu_
  int open_ = 0;               // idle + leased + being opened; guarded by mu_
};

}  // namespace tokend::store::pg
