// The backends the store contract suite runs against, and temporary files
// for tests that need real database files.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/authz.h"
#include "core/token.h"
#include "store/token_store.h"

namespace tokend::store::testing {

// Runs SQL statements on a store's database behind the store's back (to
// tamper with what it wrote); "" on success, else the error text.
using RawSql = std::function<std::string(const std::string& sql)>;

// A store opened with options, and a way into its database.
struct OpenedStore {
  std::unique_ptr<TokenStore> store;
  RawSql raw_sql;  // null when nothing outside the store can reach it (in memory)
};

struct BackendCase {
  std::string name;  // test-name suffix: "SqliteFile", "SqliteMemory", "Postgres"
  // Opens a fresh, empty store (each call: a new database).
  std::function<Result<std::unique_ptr<TokenStore>>()> open;
  // Non-empty: the backend is not available here; tests GTEST_SKIP() with it.
  std::string skip_reason;
  // As `open`, with options, also giving raw access to the database.
  std::function<Result<OpenedStore>(const StoreOptions&)> open_with;
};

// Lets GoogleTest print a case by name.
inline void PrintTo(const BackendCase& backend, std::ostream* out) { *out << backend.name; }

// SqliteFile, SqliteMemory and Postgres (skipped unless TOKEND_TEST_PG_URL is set).
std::vector<BackendCase> AllBackends();

// A new, empty PostgreSQL database ("tokend_t_<random>") on the server that
// `admin_url` reaches, dropped (WITH (FORCE)) on destruction.
class ScopedPostgresDatabase {
 public:
  // Unavailable when the server cannot be reached or refuses.
  static Result<std::unique_ptr<ScopedPostgresDatabase>> Create(const std::string& admin_url);
  ~ScopedPostgresDatabase();
  ScopedPostgresDatabase(const ScopedPostgresDatabase&) = delete;
  ScopedPostgresDatabase& operator=(const ScopedPostgresDatabase&) = delete;

  const std::string& name() const { return name_; }
  // `admin_url` with the database replaced by this one.
  const std::string& url() const { return url_; }

 private:
  ScopedPostgresDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// Runs `sql` on a new connection to `url`; the first column of the first
// row, or the error text prefixed with "error: ".
std::string QueryValue(const std::string& url, const std::string& sql);

// Fills `store` as imports did before the import ledger existed: `kept` and
// `deleted` imported (each with its token.created saying so), `created_here`
// created with its own event, then `deleted` deleted. Ok, or the first error.
core::Status ImportAsBeforeTheLedger(TokenStore& store, const core::Token& kept,
                                     const core::Token& deleted, const core::Token& created_here);

// The environment variable's value, or "" when unset.
std::string GetEnv(const char* name);

// Runs `pg_ctl -D $TOKEND_TEST_PG_DATA ARGS` from $TOKEND_TEST_PG_BIN as the
// user owning the test cluster (scripts/with-postgres.sh); its exit status.
int PgCtl(const std::string& args);

// The ids of `tokens`, in order.
std::vector<std::string> Ids(const std::vector<core::Token>& tokens);

// What a caller sees who may see tokens of `types` held by `principal`.
core::Visibility Only(std::vector<core::TokenType> types, std::string principal);

// A new, empty directory under the system temp dir, removed (with its
// contents) at process exit. Thread-safe.
std::string NewTempDir();

}  // namespace tokend::store::testing
