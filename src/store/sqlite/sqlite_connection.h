// Private to the SQLite backend: one sqlite3 connection with its cache of
// prepared statements, a statement handle, and the translation of SQLite
// result codes into Status.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace tokend::store::sqlite {

using core::Result;
using core::Status;

// Translates a (possibly extended) SQLite result code into a Status whose
// message starts with `context` and names the cause: full disk, read-only
// file, I/O error, cannot open, locked after the busy timeout, out of memory
// and not-a-database are Unavailable; a UNIQUE or PRIMARY KEY violation is
// AlreadyExists; anything else is Internal (a bug in this backend).
Status StatusFromSqlite(int rc, sqlite3* db, std::string_view context);

// A prepared statement in use. Move-only. On destruction a cached statement
// is reset and its bindings cleared (ready for the next user of the
// connection); an uncached one is finalized. Binding errors are remembered and
// returned by the next Step(). Not thread-safe (neither is its connection).
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, bool cached) : stmt_(stmt), cached_(cached) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in sqlite3_bind_*. Text is copied.
  void Bind(int index, std::string_view text);
  void Bind(int index, std::int64_t value);
  void Bind(int index, const std::optional<std::string>& text);
  void Bind(int index, const std::optional<std::int64_t>& value);

  // SQLITE_ROW, SQLITE_DONE, or an error code (extended).
  int Step();

  std::string_view ColumnText(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;
  std::int64_t ColumnInt64(int column) const;
  std::optional<std::int64_t> ColumnOptionalInt64(int column) const;

 private:
  void NoteBind(int rc);

  sqlite3_stmt* stmt_;
  bool cached_;
  int bind_error_ = SQLITE_OK;
};

// Sets the SQLite library's process-wide options, once, before its first use
// (afterwards SQLite refuses them and they stay as they were): memory
// statistics off. They take one process-wide mutex on every allocation of
// every connection, readers' and writer's alike, and nothing reads them.
// Called by Connection::Open and BatchedWalVfs.
void ConfigureSqliteLibrary();

// One sqlite3 connection. Used by one thread at a time (opened with
// SQLITE_OPEN_NOMUTEX); the owner serializes access.
class Connection {
 public:
  // Opens `filename` with `flags` (SQLITE_OPEN_* plus NOMUTEX is added),
  // extended result codes on and the busy timeout set. `display` names the
  // database in error messages; `vfs` names a registered VFS (null: the
  // default). Unavailable when it cannot be opened.
  static Result<std::unique_ptr<Connection>> Open(const std::string& filename, int flags,
                                                  std::string display, int busy_timeout_ms,
                                                  const char* vfs = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }
  const std::string& display() const { return display_; }

  // A statement for `sql`, from the per-connection cache (prepared once with
  // SQLITE_PREPARE_PERSISTENT) while the cache has room; otherwise a one-off
  // statement finalized after use. Internal when `sql` does not compile.
  Result<Statement> Prepare(std::string_view sql);

  // Runs one or more statements without results (sqlite3_exec); errors are
  // translated with `context`.
  Status Exec(const char* sql, std::string_view context);

  // Runs a statement returning one row of one text column (e.g. a PRAGMA).
  Result<std::string> QueryText(const char* sql, std::string_view context);

 private:
  Connection(sqlite3* db, std::string display) : db_(db), display_(std::move(display)) {}

  // Enough for the fixed statements and the common query shapes; queries with
  // unusual IN-list lengths beyond that are prepared per use.
  static constexpr std::size_t kMaxCachedStatements = 64;

  // Transparent, so that finding a cached statement copies no SQL text.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const {
      return std::hash<std::string_view>{}(sql);
    }
  };

  sqlite3* db_;
  std::string display_;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

}  // namespace tokend::store::sqlite
