// sqlite_group_insert: the baseline for durable creates. Inserts token-shaped
// rows straight into SQLite, WAL and synchronous=FULL, committing every
// `--group` rows from one thread, for `--seconds`, and prints the rate. This
// is about the best any SQLite-backed service can do when it groups
// concurrent creates into shared commits.
//
//   sqlite_group_insert --db FILE --physical [--group 64] [--seconds 10]
//   sqlite_group_insert --db FILE --schema 0001_init.sql 0002_....sql [--with-events] [--group 64]
//                       [--seconds 10]
//
// --physical (the baseline of the create ratio) creates the bare table a
// token needs: its columns, the id as primary key, a unique index on the
// secret hash and the two indexes the queries need (creation date; principal,
// type, creation date). Everything tokend's schema adds (counter triggers,
// the indexes of the other sort orders) is then paid from tokend's budget.
// --schema applies the given files in order instead (tokend's migrations:
// the same indexes and counters as tokend, kept as context). --with-events,
// with --schema, also writes each row's audit event as tokend's schema holds
// it (an audit_events row of the same shape, the chain's end moved once per
// commit), without computing anything the rows carry: what SQLite itself
// sustains for everything a tokend create writes.
//
// --checkpointer moves WAL checkpoints off the inserting thread, to a thread
// and connection of their own (WalCheckpointer, as tokend runs them); without
// it the inserting connection checkpoints, SQLite's default. --batched-wal
// opens the inserting connection with BatchedWalVfs (each commit's WAL
// frames in a few writes, as tokend's writer does). bench/run.sh takes the
// fastest of SQLite alone and these as the baseline.
//
// Output (stdout, one line): "BENCH rows=N seconds=S rows_per_s=R commits_per_s=C"
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/object_id.h"
#include "core/secret.h"
#include "core/time.h"
#include "core/token.h"
#include "created_event.h"
#include "schema_files.h"
#include "store/sqlite/batched_wal_vfs.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/wal_checkpointer.h"

namespace {

bool Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite_group_insert: %s\n", error != nullptr ? error : "error");
    sqlite3_free(error);
    return false;
  }
  return true;
}

// The physical baseline: what any token table needs, nothing tokend adds.
constexpr const char* kPhysicalSchema = R"sql(
CREATE TABLE tokens (
  id              TEXT    NOT NULL PRIMARY KEY,
  type            TEXT    NOT NULL,
  name            TEXT    NOT NULL,
  description     TEXT,
  principal       TEXT,
  creation_date   INTEGER NOT NULL,
  expiration_date INTEGER,
  actions         TEXT    NOT NULL,
  secret_hash     TEXT    NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX tokens_by_secret_hash ON tokens (secret_hash);
CREATE INDEX tokens_by_creation ON tokens (creation_date, id);
CREATE INDEX tokens_by_principal_type_creation ON tokens (principal, type, creation_date, id);
)sql";

// A created token's audit event, shaped as tokend writes it
// (bench/created_event.h), with 64-hex chain hashes.
struct EventStatements {
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* move_chain_end = nullptr;
  long long seq = 0;

  bool Prepare(sqlite3* db) {
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit_events (id, writer, seq, time, action, subject_id, "
                           "subject_type, subject_principal, body, prev_hash, hash) VALUES (?1, "
                           "?9, ?2, ?3, 'token.created', ?4, 'user', ?5, ?6, ?7, ?8)",
                           -1, &insert, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO audit_chains (writer, first_seq, first_prev_hash, "
                           "last_seq, last_hash) VALUES (?3, 1, ?1, ?2, ?1) "
                           "ON CONFLICT (writer) DO UPDATE SET last_seq = excluded.last_seq, "
                           "last_hash = excluded.last_hash",
                           -1, &move_chain_end, nullptr) != SQLITE_OK) {
      return false;
    }
    // Kept across resets: one chain for the whole run.
    sqlite3_bind_text(insert, 9, tokend::bench::kEventWriter, -1, SQLITE_STATIC);
    sqlite3_bind_text(move_chain_end, 3, tokend::bench::kEventWriter, -1, SQLITE_STATIC);
    return true;
  }

  bool Write(const std::string& token_id, const std::string& principal, const std::string& hash,
             tokend::core::EpochMillis now) {
    const std::string id = tokend::core::NewObjectId(now);
    const std::string body = tokend::bench::CreatedEventBody(id, token_id, principal);
    sqlite3_bind_text(insert, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(insert, 2, ++seq);
    sqlite3_bind_int64(insert, 3, now);
    sqlite3_bind_text(insert, 4, token_id.data(), static_cast<int>(token_id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 5, principal.data(), static_cast<int>(principal.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 6, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 7, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 8, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
    const bool written = sqlite3_step(insert) == SQLITE_DONE;
    sqlite3_reset(insert);
    return written;
  }

  bool MoveChainEnd(const std::string& hash) {
    sqlite3_bind_text(move_chain_end, 1, hash.data(), static_cast<int>(hash.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(move_chain_end, 2, seq);
    const bool written = sqlite3_step(move_chain_end) == SQLITE_DONE;
    sqlite3_reset(move_chain_end);
    return written;
  }

  ~EventStatements() {
    sqlite3_finalize(insert);
    sqlite3_finalize(move_chain_end);
  }
};

int Run(const std::string& path, const std::vector<std::string>& schema_paths, int group,
        double seconds, bool checkpointer_thread, bool batched_wal, bool with_events) {
  // The library as tokend sets it up, in every variant.
  tokend::store::sqlite::ConfigureSqliteLibrary();
  std::string schema;
  if (schema_paths.empty()) schema = kPhysicalSchema;
  if (!tokend::bench::AppendSchemaFiles("sqlite_group_insert", schema_paths, schema)) return 1;

  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  sqlite3* db = nullptr;
  const char* vfs = batched_wal ? tokend::store::sqlite::BatchedWalVfs() : nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) !=
      SQLITE_OK) {
    std::fprintf(stderr, "sqlite_group_insert: cannot open %s\n", path.c_str());
    return 1;
  }
  if (!Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA mmap_size=268435456;") ||
      !Exec(db, schema)) {
    sqlite3_close(db);
    return 1;
  }
  std::unique_ptr<tokend::store::sqlite::WalCheckpointer> checkpointer;
  if (checkpointer_thread) {
    std::string error;
    checkpointer = tokend::store::sqlite::WalCheckpointer::Start(path, db, error);
    if (checkpointer == nullptr) {
      std::fprintf(stderr, "sqlite_group_insert: checkpointer: %s\n", error.c_str());
      return 1;
    }
  }
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO tokens (id, type, name, description, principal, creation_date, "
                     "expiration_date, actions, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     -1, &insert, nullptr);
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr);
  sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr);
  std::unique_ptr<EventStatements> events;
  if (with_events) {
    events = std::make_unique<EventStatements>();
    if (!events->Prepare(db)) {
      std::fprintf(stderr, "sqlite_group_insert: events: %s\n", sqlite3_errmsg(db));
      return 1;
    }
  }

  std::mt19937 rng(7);
  std::uniform_int_distribution<int> principal(0, 999);
  long long rows = 0;
  long long commits = 0;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    sqlite3_step(begin);
    sqlite3_reset(begin);
    std::string last_hash;
    for (int i = 0; i < group; ++i) {
      const tokend::core::EpochMillis now = tokend::core::NowMillis();
      const std::string id = tokend::core::NewObjectId(now);
      const std::string who = "user-" + std::to_string(principal(rng));
      const std::string secret = tokend::core::GenerateSecret(tokend::core::TokenType::kUser);
      const std::string hash = tokend::core::HashSecret(secret);
      sqlite3_bind_text(insert, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 2, "user", 4, SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, "bench", 5, SQLITE_STATIC);
      sqlite3_bind_null(insert, 4);
      sqlite3_bind_text(insert, 5, who.data(), static_cast<int>(who.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert, 6, now);
      sqlite3_bind_null(insert, 7);
      sqlite3_bind_text(insert, 8, "token/read", 10, SQLITE_STATIC);
      sqlite3_bind_text(insert, 9, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(insert) != SQLITE_DONE) {
        std::fprintf(stderr, "sqlite_group_insert: insert: %s\n", sqlite3_errmsg(db));
        return 1;
      }
      sqlite3_reset(insert);
      if (events != nullptr && !events->Write(id, who, hash, now)) {
        std::fprintf(stderr, "sqlite_group_insert: event: %s\n", sqlite3_errmsg(db));
        return 1;
      }
      last_hash = hash;
    }
    if (events != nullptr && !events->MoveChainEnd(last_hash)) {
      std::fprintf(stderr, "sqlite_group_insert: chain: %s\n", sqlite3_errmsg(db));
      return 1;
    }
    if (sqlite3_step(commit) != SQLITE_DONE) {
      std::fprintf(stderr, "sqlite_group_insert: commit: %s\n", sqlite3_errmsg(db));
      return 1;
    }
    sqlite3_reset(commit);
    rows += group;
    ++commits;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  sqlite3_finalize(insert);
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);
  events.reset();
  checkpointer.reset();
  sqlite3_close(db);
  std::printf("BENCH rows=%lld seconds=%.2f rows_per_s=%.1f commits_per_s=%.1f\n", rows, elapsed,
              rows / elapsed, commits / elapsed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"sqlite_group_insert: grouped durable inserts into SQLite (baseline)"};
  std::string db;
  std::vector<std::string> schema;
  int group = 64;
  double seconds = 10;
  cli.add_option("--db", db, "SQLite file (recreated)")->required();
  bool physical = false;
  auto* schema_option =
      cli.add_option("--schema", schema, "Schema files (tokend's SQLite migrations, in order)");
  cli.add_flag("--physical", physical,
               "Bare token table: unique secret hash index and the two query indexes")
      ->excludes(schema_option);
  cli.add_option("--group", group, "Rows per transaction")->check(CLI::PositiveNumber);
  cli.add_option("--seconds", seconds, "How long to insert")->check(CLI::PositiveNumber);
  bool checkpointer = false;
  cli.add_flag("--checkpointer", checkpointer,
               "Checkpoint on a thread and connection of its own, not the inserting one");
  bool with_events = false;
  cli.add_flag("--with-events", with_events,
               "With --schema: also each row's audit event, as tokend's schema holds it")
      ->needs(schema_option);
  bool batched_wal = false;
  cli.add_flag("--batched-wal", batched_wal,
               "Write each commit's WAL frames in a few calls (tokend's writer VFS)");
  CLI11_PARSE(cli, argc, argv);
  if (!physical && schema.empty()) {
    std::fprintf(stderr, "sqlite_group_insert: give --physical or --schema FILES\n");
    return 2;
  }
  return Run(db, schema, group, seconds, checkpointer, batched_wal, with_events);
}
