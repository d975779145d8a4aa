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
#include "store/postgres/prepared_statements.h"

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

  // A connection and the statements prepared on it since it was opened.
  struct Pooled {
    ConnPtr conn;
    PreparedStatements prepared;
  };

  // Exclusive use of one connection, returned to the pool on destruction
  // (or closed, when it broke or was left inside a transaction).
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(other.pool_), pooled_(std::move(other.pooled_)), reused_(other.reused_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PGconn* get() const { return pooled_.conn.get(); }
    // The statements this connection has prepared on demand (they live as
    // long as the connection).
    PreparedStatements& prepared() { return pooled_.prepared; }
    // True when the connection served earlier leases (so it may have gone
    // stale since); false for a connection opened for this lease.
    bool reused() const { return reused_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, Pooled pooled, bool reused)
        : pool_(pool), pooled_(std::move(pooled)), reused_(reused) {}
    ConnectionPool* pool_;
    Pooled pooled_;
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
  void Release(Pooled pooled);
  // Opens and sets up a connection counted in open_ already (uncounted
  // again when that fails).
  Result<Lease> OpenCounted();

  const ConnectionConfig config_;
  const int size_;
  const std::chrono::milliseconds wait_;
  const SetUp set_up_;

  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<Pooled> idle_;  // guarded by mu_
  int open_ = 0;              // idle + leased + being opened; guarded by mu_
};

}  // namespace tokend::store::pg
