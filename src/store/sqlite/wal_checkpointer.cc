#include "store/sqlite/wal_checkpointer.h"

namespace tokend::store::sqlite {

std::unique_ptr<WalCheckpointer> WalCheckpointer::Start(const std::string& path, sqlite3* writer,
                                                        std::string& error) {
  sqlite3* db = nullptr;
  // A connection learns that the file is in WAL mode by reading it; until
  // then its checkpoints do nothing.
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
          SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA journal_mode", nullptr, nullptr, nullptr) != SQLITE_OK) {
    error = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return nullptr;
  }
  std::unique_ptr<WalCheckpointer> checkpointer(new WalCheckpointer(db, writer));
  sqlite3_wal_hook(writer, &WalCheckpointer::OnCommit, checkpointer.get());
  checkpointer->thread_ = std::thread([self = checkpointer.get()] { self->Loop(); });
  return checkpointer;
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  sqlite3_close(db_);
}

int WalCheckpointer::OnCommit(void* self, sqlite3* writer, const char* schema, int wal_pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  {
    std::lock_guard lock(checkpointer->mu_);
    if (checkpointer->running_ || checkpointer->due_) return SQLITE_OK;
    if (wal_pages < kThresholdPages) {
      checkpointer->copied_ = 0;  // the WAL restarted since the last pass
      return SQLITE_OK;
    }
    if (checkpointer->copied_ == 0) {
      checkpointer->due_ = true;
      checkpointer->cv_.notify_one();
      return SQLITE_OK;
    }
    checkpointer->copied_ = 0;
  }
  // A failure leaves the WAL longer and every commit durable; the next
  // commit past the threshold asks for a pass again.
  (void)sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  return SQLITE_OK;
}

void WalCheckpointer::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || due_; });
    if (stopping_) return;
    due_ = false;
    running_ = true;
    lock.unlock();
    int copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied);
    if (rc == SQLITE_OK && copied > 0) FlushDatabaseFile();
    lock.lock();
    running_ = false;
    copied_ = rc == SQLITE_OK && copied > 0 ? copied : 0;
  }
}

void WalCheckpointer::FlushDatabaseFile() {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr) {
    return;
  }
  // A head start only: on failure the pages stay dirty, and the writer's
  // pass, whose sync SQLite checks before the WAL may start over, writes them.
  (void)file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
}

}  // namespace tokend::store::sqlite
