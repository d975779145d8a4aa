// WalCheckpointer: checkpoints of a WAL database, off the writing connection.
//
// By default SQLite's writing connection checkpoints (copies the WAL back
// into the database file) itself, when a commit leaves 1000 pages or more in
// the WAL: every write queued behind that commit waits for the checkpoint's
// reads, writes and fsync of the main file. A WalCheckpointer takes the
// copying to a thread and connection of its own, past kThresholdPages, with
// PASSIVE checkpoints that never wait on readers or the writer.
//
// The WAL starts over from its beginning only when a write begins with every
// frame already copied back, which a checkpoint running beside a busy writer
// never leaves it to see. So once a background pass is done, the writer's
// next commit past the threshold copies the frames written since (a PASSIVE
// checkpoint of what is left, in the WAL hook, as SQLite's own would), and
// the write after it restarts the WAL: the WAL stays near the threshold, and
// the writer copies only what it wrote during the pass.
//
// SQLite syncs the database file only in a pass that copies the WAL to its
// end, which is the writer's: left alone, that sync would write out every
// page the background pass copied too, and every write would wait tens of
// milliseconds behind it. So the thread syncs the database file after each
// of its passes, and the writer's sync finds only its own few pages to write.
//
// Depends on SQLite alone, so that the grouped-insert baseline can run its
// checkpoints the same way.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace tokend::store::sqlite {

class WalCheckpointer {
 public:
  // In WAL pages (64 MB at 4 KiB pages), sixteen times SQLite's own 1000:
  // the pages a create writes again and again (the last leaf of each index
  // that grows at its end, each principal's leaves) are copied back once per
  // pass, not once per 1000 pages, and the passes (each with its sync of the
  // database file) come half as often as at 8000.
  static constexpr int kThresholdPages = 16000;

  // Opens a connection of its own to `path` (a database in WAL mode),
  // replaces `writer`'s auto-checkpoint with its own WAL hook and starts its
  // thread. Null, with `error` set, when the connection cannot be opened.
  static std::unique_ptr<WalCheckpointer> Start(const std::string& path, sqlite3* writer,
                                                std::string& error);
  // Removes the hook and stops the thread: call it while `writer` is not in
  // use (its pending frames are checkpointed when the last connection closes).
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

 private:
  WalCheckpointer(sqlite3* db, sqlite3* writer) : db_(db), writer_(writer) {}
  // The writer's WAL hook: after each commit, with the WAL's size in pages.
  static int OnCommit(void* self, sqlite3* writer, const char* schema, int wal_pages);
  void Loop();
  // Syncs the database file, so that the pages a pass copied are on the
  // disk before the writer's pass syncs it.
  void FlushDatabaseFile();

  sqlite3* const db_;
  sqlite3* const writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false;       // a pass is asked for; guarded by mu_
  bool running_ = false;   // a pass is running; guarded by mu_
  int copied_ = 0;         // frames the last pass copied, 0 once the WAL restarted; guarded
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace tokend::store::sqlite
