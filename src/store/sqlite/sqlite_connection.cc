#include "store/sqlite/sqlite_connection.h"

#include <mutex>
#include <utility>

namespace tokend::store::sqlite {
namespace {

std::string Describe(std::string_view context, std::string_view cause, sqlite3* db, int rc) {
  std::string message(context);
  message += ": ";
  message += cause;
  // sqlite3_errmsg only describes `rc` while it is still the connection's last
  // error; otherwise fall back to the generic text of the code.
  const char* detail = (db != nullptr && sqlite3_extended_errcode(db) == rc) ? sqlite3_errmsg(db)
                                                                             : sqlite3_errstr(rc);
  if (detail != nullptr && cause != detail) {
    message += " (";
    message += detail;
    message += ")";
  }
  return message;
}

}  // namespace

Status StatusFromSqlite(int rc, sqlite3* db, std::string_view context) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return Status::Unavailable(Describe(context, "the disk is full", db, rc));
    case SQLITE_READONLY:
      return Status::Unavailable(Describe(context, "the database is read-only", db, rc));
    case SQLITE_IOERR:
      return Status::Unavailable(Describe(context, "disk I/O error", db, rc));
    case SQLITE_CANTOPEN:
      return Status::Unavailable(Describe(context, "cannot open the database file", db, rc));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(
          Describe(context, "the database stayed locked by another connection", db, rc));
    case SQLITE_NOMEM:
      return Status::Unavailable(Describe(context, "out of memory", db, rc));
    case SQLITE_NOTADB:
      return Status::Unavailable(Describe(context, "the file is not a tokend database", db, rc));
    case SQLITE_CORRUPT:
      return Status::Unavailable(Describe(context, "the database file is corrupt", db, rc));
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status::Unavailable(Describe(context, "access denied", db, rc));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::AlreadyExists(Describe(context, "already exists", db, rc));
      }
      break;
    default:
      break;
  }
  return Status::Internal(Describe(context, "unexpected SQLite error", db, rc));
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      cached_(other.cached_),
      bind_error_(other.bind_error_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (cached_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Statement::NoteBind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::Bind(int index, std::string_view text) {
  NoteBind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Statement::Bind(int index, std::int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value));
}

void Statement::Bind(int index, const std::optional<std::string>& text) {
  if (text) {
    Bind(index, std::string_view(*text));
  } else {
    NoteBind(sqlite3_bind_null(stmt_, index));
  }
}

void Statement::Bind(int index, const std::optional<std::int64_t>& value) {
  if (value) {
    Bind(index, *value);
  } else {
    NoteBind(sqlite3_bind_null(stmt_, index));
  }
}

int Statement::Step() {
  if (bind_error_ != SQLITE_OK) return bind_error_;
  return sqlite3_step(stmt_);
}

std::string_view Statement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return std::string(ColumnText(column));
}

std::int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::optional<std::int64_t> Statement::ColumnOptionalInt64(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, column);
}

void ConfigureSqliteLibrary() {
  static std::once_flag configured;
  std::call_once(configured, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& filename, int flags,
                                                     std::string display, int busy_timeout_ms,
                                                     const char* vfs) {
  ConfigureSqliteLibrary();
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(filename.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    Status status = StatusFromSqlite(rc, db, "cannot open " + display);
    sqlite3_close_v2(db);  // a handle is returned even on failure (or null)
    if (status.code() == core::StatusCode::kInternal) {
      // Whatever stops a file from opening is about the environment, not a bug.
      return Status::Unavailable(status.message());
    }
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<Connection>(new Connection(db, std::move(display)));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) {
    return Statement(it->second, /*cached=*/true);
  }
  const bool cache = cache_.size() < kMaxCachedStatements;
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return StatusFromSqlite(rc, db_, "preparing a statement on " + display_);
  }
  if (cache) cache_.emplace(std::string(sql), stmt);
  return Statement(stmt, cache);
}

Status Connection::Exec(const char* sql, std::string_view context) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return StatusFromSqlite(rc, db_, context);
  return Status::Ok();
}

Result<std::string> Connection::QueryText(const char* sql, std::string_view context) {
  Result<Statement> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  const int rc = stmt->Step();
  if (rc == SQLITE_ROW) return std::string(stmt->ColumnText(0));
  if (rc == SQLITE_DONE) return std::string();
  return StatusFromSqlite(rc, db_, context);
}

}  // namespace tokend::store::sqlite
