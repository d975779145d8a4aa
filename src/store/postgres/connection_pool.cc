#include "store/postgres/connection_pool.h"

#include <utility>

namespace tokend::store::pg {

ConnectionPool::ConnectionPool(ConnectionConfig config, int size, std::chrono::milliseconds wait,
                               SetUp set_up)
    : config_(std::move(config)),
      size_(size > 0 ? size : 1),
      wait_(wait),
      set_up_(std::move(set_up)) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::~Lease() {
  if (pooled_.conn != nullptr) pool_->Release(std::move(pooled_));
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + wait_;
  std::unique_lock lock(mu_);
  while (true) {
    while (!idle_.empty()) {
      Pooled pooled = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      const bool dead = IdleConnectionIsDead(pooled.conn.get());
      if (!dead) return Lease(this, std::move(pooled), true);
      pooled.conn.reset();
      lock.lock();
      --open_;
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      return OpenCounted();
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_) {
      return Status::Unavailable("PostgreSQL: no free connection in the pool within " +
                                 std::to_string(wait_.count()) + " ms");
    }
  }
}

std::optional<Result<ConnectionPool::Lease>> ConnectionPool::OpenAnother() {
  {
    std::lock_guard lock(mu_);
    if (open_ >= size_) return std::nullopt;
    ++open_;
  }
  return OpenCounted();
}

Result<ConnectionPool::Lease> ConnectionPool::OpenCounted() {
  Result<ConnPtr> conn = config_.Connect(nullptr);
  Status status = conn.status();
  if (status.ok() && set_up_) status = set_up_(conn->get());
  if (status.ok()) return Lease(this, Pooled{std::move(conn).value(), PreparedStatements()}, false);
  std::lock_guard lock(mu_);
  --open_;
  freed_.notify_one();
  return status;
}

void ConnectionPool::Release(Pooled pooled) {
  PGconn* conn = pooled.conn.get();
  const bool healthy = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
  if (!healthy) pooled.conn.reset();  // closed outside the lock
  std::lock_guard lock(mu_);
  if (healthy) {
    idle_.push_back(std::move(pooled));
  } else {
    --open_;
  }
  freed_.notify_one();
}

}  // namespace tokend::store::pg
