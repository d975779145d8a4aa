#include "store/store_backends.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "support/forwarding_store.h"

namespace tokend::store::testing {
namespace {

// The root temp dir of this test process, created on first use and removed
// when the process exits.
class TempRoot {
 public:
  ~TempRoot() {
    if (!path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  std::string Get() {
    std::lock_guard lock(mu_);
    if (path_.empty()) {
      std::string pattern =
          (std::filesystem::temp_directory_path() / "tokend-store-test-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr) std::abort();
      path_ = pattern;
    }
    return path_;
  }

 private:
  std::mutex mu_;
  std::string path_;
};

TempRoot& Root() {
  static TempRoot root;
  return root;
}

// Holds the database of a FreshPostgresStore; a base listed before the
// store's, so that it is destroyed after it (bases go in reverse order).
struct ScopedDatabaseHolder {
  std::unique_ptr<ScopedPostgresDatabase> database;
};

// A store on its own fresh database, dropped once the store has closed.
class FreshPostgresStore final : private ScopedDatabaseHolder,
                                 public tokend::testing::ForwardingStore {
 public:
  FreshPostgresStore(std::unique_ptr<ScopedPostgresDatabase> database,
                     std::unique_ptr<TokenStore> store)
      : ScopedDatabaseHolder{std::move(database)}, ForwardingStore(std::move(store)) {}
};

Result<std::unique_ptr<TokenStore>> OpenFreshPostgres(const std::string& admin_url,
                                                      const StoreOptions& options = {},
                                                      std::string* database_url = nullptr) {
  Result<std::unique_ptr<ScopedPostgresDatabase>> database =
      ScopedPostgresDatabase::Create(admin_url);
  if (!database.ok()) return database.status();
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open((*database)->url(), options);
  if (!store.ok()) return store.status();
  if (database_url != nullptr) *database_url = (*database)->url();
  return std::unique_ptr<TokenStore>(
      std::make_unique<FreshPostgresStore>(std::move(database).value(), std::move(store).value()));
}

// Runs `sql` through a connection of its own to the SQLite file at `path`.
std::string RunSqliteStatements(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    error = db != nullptr ? sqlite3_errmsg(db) : "cannot open";
  } else {
    sqlite3_busy_timeout(db, 5000);
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      error = message != nullptr ? message : "failed";
    }
    sqlite3_free(message);
  }
  sqlite3_close(db);
  return error;
}

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};

// Runs one statement through a new connection to `url`; empty on success,
// else the error text.
std::string RunAdminStatement(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, PgConnCloser> conn(PQconnectdb(url.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) return PQerrorMessage(conn.get());
  PGresult* result = PQexec(conn.get(), sql.c_str());
  std::string error;
  if (PQresultStatus(result) != PGRES_COMMAND_OK) error = PQresultErrorMessage(result);
  PQclear(result);
  return error;
}

// `url` with its database name replaced by `database`.
std::string WithDatabase(const std::string& url, const std::string& database) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const std::size_t query = std::min(url.find('?', authority), url.size());
  const std::size_t slash = url.find('/', authority);
  if (slash == std::string::npos || slash > query) {
    return url.substr(0, query) + "/" + database + url.substr(query);
  }
  return url.substr(0, slash + 1) + database + url.substr(query);
}

}  // namespace

Result<std::unique_ptr<ScopedPostgresDatabase>> ScopedPostgresDatabase::Create(
    const std::string& admin_url) {
  static std::mutex mu;
  static std::mt19937_64 random(std::random_device{}());
  std::string name = "tokend_t_";
  {
    std::lock_guard lock(mu);
    char suffix[17];
    std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random()));
    name += suffix;
  }
  const std::string error = RunAdminStatement(admin_url, "CREATE DATABASE " + name);
  if (!error.empty()) return Status::Unavailable("CREATE DATABASE failed: " + error);
  std::string url = WithDatabase(admin_url, name);
  return std::unique_ptr<ScopedPostgresDatabase>(
      new ScopedPostgresDatabase(admin_url, std::move(name), std::move(url)));
}

ScopedPostgresDatabase::~ScopedPostgresDatabase() {
  const std::string error =
      RunAdminStatement(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  if (!error.empty()) {
    std::fprintf(stderr, "DROP DATABASE %s failed: %s\n", name_.c_str(), error.c_str());
  }
}

std::vector<std::string> Ids(const std::vector<core::Token>& tokens) {
  std::vector<std::string> ids;
  for (const core::Token& token : tokens) ids.push_back(token.id);
  return ids;
}

core::Visibility Only(std::vector<core::TokenType> types, std::string principal) {
  core::Visibility visibility;
  visibility.everything = false;
  visibility.types = std::move(types);
  visibility.principal = std::move(principal);
  return visibility;
}

std::string NewTempDir() {
  static std::atomic<int> counter{0};
  const std::filesystem::path dir =
      std::filesystem::path(Root().Get()) / ("d" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::vector<BackendCase> AllBackends() {
  std::vector<BackendCase> cases;
  cases.push_back(
      {"SqliteFile", [] { return TokenStore::Open("sqlite:" + NewTempDir() + "/tokend.db"); }, "",
       [](const StoreOptions& options) -> Result<OpenedStore> {
         const std::string path = NewTempDir() + "/tokend.db";
         Result<std::unique_ptr<TokenStore>> store = TokenStore::Open("sqlite:" + path, options);
         if (!store.ok()) return store.status();
         return OpenedStore{std::move(store).value(), [path](const std::string& sql) {
                              return RunSqliteStatements(path, sql);
                            }};
       }});
  cases.push_back({"SqliteMemory", [] { return TokenStore::Open("sqlite::memory:"); }, "",
                   [](const StoreOptions& options) -> Result<OpenedStore> {
                     Result<std::unique_ptr<TokenStore>> store =
                         TokenStore::Open("sqlite::memory:", options);
                     if (!store.ok()) return store.status();
                     return OpenedStore{std::move(store).value(), nullptr};
                   }});
  const char* pg_url = std::getenv("TOKEND_TEST_PG_URL");
  if (pg_url == nullptr || *pg_url == '\0') {
    cases.push_back({"Postgres", nullptr, "TOKEND_TEST_PG_URL not set", nullptr});
  } else {
    std::string url = pg_url;
    cases.push_back({"Postgres", [url] { return OpenFreshPostgres(url); }, "",
                     [url](const StoreOptions& options) -> Result<OpenedStore> {
                       std::string database_url;
                       Result<std::unique_ptr<TokenStore>> store =
                           OpenFreshPostgres(url, options, &database_url);
                       if (!store.ok()) return store.status();
                       return OpenedStore{std::move(store).value(),
                                          [database_url](const std::string& sql) {
                                            return RunAdminStatement(database_url, sql);
                                          }};
                     }});
  }
  return cases;
}

std::string QueryValue(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return std::string("error: ") + PQerrorMessage(conn.get());
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return std::string("error: ") + PQresultErrorMessage(result.get());
  }
  return PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
}

core::Status ImportAsBeforeTheLedger(TokenStore& store, const core::Token& kept,
                                     const core::Token& deleted, const core::Token& created_here) {
  const std::vector<core::Token> imported = {kept, deleted};
  std::vector<core::AuditEvent> events;
  for (const core::Token& token : imported) {
    events.push_back(
        core::MakeEvent(core::AuditAction::kCreated, token, core::EventOrigin::System(), 1));
    events.back().details.push_back({"importedFrom", std::string("boomerang")});
  }
  core::Result<std::int64_t> stored = store.InsertAbsent(imported, events);
  if (!stored.ok()) return stored.status();
  if (*stored != 2) return core::Status::Internal("the import stored " + std::to_string(*stored));
  const core::AuditEvent created =
      core::MakeEvent(core::AuditAction::kCreated, created_here, core::EventOrigin::System(), 1);
  if (core::Status status = store.Insert(created_here, std::span(&created, 1)); !status.ok()) {
    return status;
  }
  return store.Delete(deleted.id, {});
}

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

int PgCtl(const std::string& args) {
  std::string command;
  if (geteuid() == 0) {
    const std::string user = GetEnv("TOKEND_TEST_PG_USER");
    command = "runuser -u " + (user.empty() ? std::string("postgres") : user) + " -- ";
  }
  command += GetEnv("TOKEND_TEST_PG_BIN") + "/pg_ctl -D '" + GetEnv("TOKEND_TEST_PG_DATA") + "' " +
             args + " </dev/null >/dev/null 2>&1";
  return std::system(command.c_str());
}

}  // namespace tokend::store::testing
