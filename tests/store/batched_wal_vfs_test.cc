// The WAL-batching VFS of the SQLite writer, through SQLite itself: a
// transaction's frames reach the file in a few writes, and every other
// connection reads exactly what was committed, whatever the sync setting.
#include "store/sqlite/batched_wal_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "store/store_backends.h"

namespace tokend::store::sqlite {
namespace {

using testing::NewTempDir;

// Write system calls made by the calling thread so far.
std::int64_t ThreadWriteCalls() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  std::int64_t value = 0;
  while (io >> key >> value) {
    if (key == "syscw:") return value;
  }
  ADD_FAILURE() << "no syscw in /proc/thread-self/io";
  return 0;
}

class Db {
 public:
  Db(const std::string& path, const char* vfs) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string text = "(no row)";
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* column = sqlite3_column_text(stmt, 0);
      text = column ? reinterpret_cast<const char*>(column) : "NULL";
    }
    sqlite3_finalize(stmt);
    return text;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Rows k in [first, first + count) with `bytes` of pseudo-random content
// each, so that every row takes pages of its own.
std::string InsertRows(int first, int count, int bytes) {
  return "WITH RECURSIVE s(x) AS (SELECT " + std::to_string(first) +
         " UNION ALL SELECT x + 1 FROM s WHERE x < " + std::to_string(first + count - 1) +
         ") INSERT INTO t (k, v) SELECT x, randomblob(" + std::to_string(bytes) + ") FROM s";
}

TEST(BatchedWalVfsTest, IsRegistered) {
  const char* name = BatchedWalVfs();
  ASSERT_NE(name, nullptr);
  EXPECT_NE(sqlite3_vfs_find(name), nullptr);
  EXPECT_EQ(BatchedWalVfs(), name);
}

TEST(BatchedWalVfsTest, WritesATransactionsFramesInAFewCallsVisibleWithoutASync) {
  const std::string path = NewTempDir() + "/batched.db";
  Db writer(path, BatchedWalVfs());
  writer.Exec("PRAGMA journal_mode=WAL");
  // No sync at all: only the writes at the commit frame can make the commit
  // readable by others.
  writer.Exec("PRAGMA synchronous=OFF");
  writer.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");

  const std::int64_t before = ThreadWriteCalls();
  writer.Exec("BEGIN");
  writer.Exec(InsertRows(1, 200, 3000));
  writer.Exec("COMMIT");
  const std::int64_t calls = ThreadWriteCalls() - before;
  // About 200 frames, which SQLite alone writes with two calls each.
  EXPECT_LE(calls, 12) << "write calls for one transaction of about 200 frames";
  EXPECT_GE(calls, 1);

  Db reader(path, nullptr);
  EXPECT_EQ(reader.Text("SELECT count(*) || ' ' || sum(length(v)) FROM t"), "200 600000");
  EXPECT_EQ(reader.Text("PRAGMA integrity_check"), "ok");
}

TEST(BatchedWalVfsTest, LargeRolledBackAndRestartedTransactionsStayIntact) {
  const std::string path = NewTempDir() + "/batched.db";
  {
    Db writer(path, BatchedWalVfs());
    writer.Exec("PRAGMA journal_mode=WAL");
    writer.Exec("PRAGMA synchronous=FULL");
    // A small cache makes SQLite spill frames mid-transaction and write some
    // pages again: reads and rewrites of frames not yet committed.
    writer.Exec("PRAGMA cache_size=50");
    writer.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
    Db reader(path, nullptr);

    // More than the VFS collects before writing out (8 MB).
    writer.Exec("BEGIN");
    writer.Exec(InsertRows(1, 3000, 4000));
    writer.Exec("UPDATE t SET v = randomblob(3500) WHERE k % 7 = 0");
    writer.Exec("COMMIT");
    EXPECT_EQ(reader.Text("SELECT count(*) FROM t"), "3000");

    writer.Exec("BEGIN");
    writer.Exec(InsertRows(5001, 500, 2000));
    writer.Exec("DELETE FROM t WHERE k <= 1000");
    writer.Exec("ROLLBACK");
    EXPECT_EQ(reader.Text("SELECT count(*) FROM t"), "3000");

    // The WAL starts over from its first byte on the next write.
    EXPECT_EQ(reader.Text("PRAGMA wal_checkpoint(RESTART)"), "0");
    for (int i = 0; i < 20; ++i) writer.Exec(InsertRows(10'001 + i * 10, 10, 1500));
    EXPECT_EQ(reader.Text("SELECT count(*) || ' ' || sum(length(v)) FROM t WHERE k > 10000"),
              "200 300000");
    EXPECT_EQ(reader.Text("SELECT sum(length(v)) FROM t WHERE k % 7 = 0 AND k <= 3000"),
              std::to_string(428 * 3500));
  }
  Db reopened(path, nullptr);
  EXPECT_EQ(reopened.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(reopened.Text("SELECT count(*) FROM t"), "3200");
}

}  // namespace
}  // namespace tokend::store::sqlite
