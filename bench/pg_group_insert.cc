// pg_group_insert: the baseline for durable creates on PostgreSQL. Inserts
// token-shaped rows through libpq into a bare table on the given server, one
// connection, one prepared multi-row INSERT of `--group` rows per
// transaction, for `--seconds`, and prints the rate: PostgreSQL's own
// grouped-insert ceiling on that server, against which tokend's creates on
// the same server are measured.
//
//   pg_group_insert --url postgresql://... [--group 64] [--seconds 10]
//   pg_group_insert --url postgresql://... --schema 0001_init.sql ... [--with-events]
//
// The table (pg_group_insert_tokens, dropped and recreated) has the columns a
// token needs, the id as primary key, a unique index on the secret hash and
// the two indexes the queries need (creation date; type, principal, creation
// date). Everything tokend's schema adds is paid from tokend's budget.
//
// --schema applies the given files in order instead (tokend's PostgreSQL
// migrations), in a schema of their own (group_insert, dropped before and
// after), and inserts into its tokens table, counters and all, as context.
// --with-events also writes each row's audit event as tokend's schema holds
// it, in the same statement (an audit_events row of the same shape, the
// chain's end moved once per group), computing nothing the rows carry: what
// PostgreSQL itself sustains for everything a tokend create writes.
//
// Output (stdout, one line): "BENCH rows=N seconds=S rows_per_s=R commits_per_s=C"
#include <libpq-fe.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/object_id.h"
#include "core/secret.h"
#include "core/time.h"
#include "core/token.h"
#include "created_event.h"
#include "schema_files.h"

namespace {

constexpr int kColumns = 9;
constexpr int kEventColumns = 8;  // id, seq, time, subject_id, subject_principal, body, hashes

constexpr const char* kSchema = R"sql(
DROP TABLE IF EXISTS pg_group_insert_tokens;
CREATE TABLE pg_group_insert_tokens (
  id              text COLLATE "C" NOT NULL PRIMARY KEY,
  type            text COLLATE "C" NOT NULL,
  name            text COLLATE "C" NOT NULL,
  description     text COLLATE "C",
  principal       text COLLATE "C",
  creation_date   bigint NOT NULL,
  expiration_date bigint,
  actions         text COLLATE "C" NOT NULL,
  secret_hash     text COLLATE "C" NOT NULL UNIQUE
);
CREATE INDEX pg_group_insert_by_creation ON pg_group_insert_tokens (creation_date, id);
CREATE INDEX pg_group_insert_by_type_principal_creation
  ON pg_group_insert_tokens (type, principal, creation_date, id);
)sql";

bool Exec(PGconn* conn, const char* sql) {
  PGresult* result = PQexec(conn, sql);
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  if (!ok) std::fprintf(stderr, "pg_group_insert: %s\n", PQerrorMessage(conn));
  PQclear(result);
  return ok;
}

// "$first, $first+1, ..." for one row of `columns` parameters, with the
// casts the given columns need.
std::string RowParams(int first, int columns, const std::vector<int>& bigint_columns) {
  std::string row = "(";
  for (int column = 0; column < columns; ++column) {
    if (column > 0) row += ", ";
    row += "$" + std::to_string(first + column);
    for (int bigint_column : bigint_columns) {
      if (column == bigint_column) row += "::bigint";
    }
  }
  return row + ")";
}

std::string InsertSql(const std::string& table, int group, bool with_events) {
  std::string sql = "INSERT INTO " + table +
                    " (id, type, name, description, principal, creation_date, expiration_date, "
                    "actions, secret_hash) VALUES ";
  for (int row = 0; row < group; ++row) {
    if (row > 0) sql += ", ";
    sql += RowParams(row * kColumns + 1, kColumns, {5, 6});
  }
  if (!with_events) return sql;
  // One statement, so one commit, as tokend's grouped creates.
  const int events_first = group * kColumns + 1;
  std::string events =
      "INSERT INTO audit_events (id, writer, seq, time, action, subject_id, subject_type, "
      "subject_principal, body, prev_hash, hash) SELECT id, '" +
      std::string(tokend::bench::kEventWriter) +
      "', seq, time, "
      "'token.created', subject_id, 'user', subject_principal, body, prev_hash, hash FROM "
      "(VALUES ";
  for (int row = 0; row < group; ++row) {
    if (row > 0) events += ", ";
    events += RowParams(events_first + row * kEventColumns, kEventColumns, {1, 2});
  }
  events += ") AS e(id, seq, time, subject_id, subject_principal, body, prev_hash, hash)";
  const std::string last = std::to_string(events_first + group * kEventColumns);
  return "WITH created AS (" + sql + " RETURNING 1), events AS (" + events +
         " RETURNING 1) INSERT INTO audit_chains (writer, first_seq, first_prev_hash, last_seq, "
         "last_hash) VALUES ('" +
         std::string(tokend::bench::kEventWriter) + "', 1, $" + last + ", $" +
         std::to_string(events_first + group * kEventColumns + 1) + "::bigint, $" + last +
         ") ON CONFLICT (writer) DO UPDATE SET last_seq = EXCLUDED.last_seq, "
         "last_hash = EXCLUDED.last_hash";
}

int Run(const std::string& url, const std::vector<std::string>& schema_paths, bool with_events,
        int group, double seconds) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::fprintf(stderr, "pg_group_insert: cannot connect: %s\n", PQerrorMessage(conn));
    PQfinish(conn);
    return 1;
  }
  std::string schema = kSchema;
  std::string table = "pg_group_insert_tokens";
  std::string drop = "DROP TABLE pg_group_insert_tokens";
  if (!schema_paths.empty()) {
    schema =
        "DROP SCHEMA IF EXISTS group_insert CASCADE; CREATE SCHEMA group_insert; "
        "SET search_path TO group_insert;\n";
    if (!tokend::bench::AppendSchemaFiles("pg_group_insert", schema_paths, schema)) {
      PQfinish(conn);
      return 1;
    }
    table = "tokens";
    drop = "DROP SCHEMA group_insert CASCADE";
  }
  if (!Exec(conn, "SET client_min_messages = warning") || !Exec(conn, schema.c_str())) {
    PQfinish(conn);
    return 1;
  }
  PGresult* prepared =
      PQprepare(conn, "insert", InsertSql(table, group, with_events).c_str(), 0, nullptr);
  if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
    std::fprintf(stderr, "pg_group_insert: prepare: %s\n", PQerrorMessage(conn));
    PQclear(prepared);
    PQfinish(conn);
    return 1;
  }
  PQclear(prepared);

  std::mt19937 rng(7);
  std::uniform_int_distribution<int> principal(0, 999);
  const std::size_t token_params = static_cast<std::size_t>(group) * kColumns;
  const std::size_t event_params =
      with_events ? static_cast<std::size_t>(group) * kEventColumns + 2 : 0;
  std::vector<std::string> values(token_params + event_params);
  std::vector<const char*> params(values.size());
  long long seq = 0;
  long long rows = 0;
  long long commits = 0;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    for (int row = 0; row < group; ++row) {
      const tokend::core::EpochMillis now = tokend::core::NowMillis();
      const std::string secret = tokend::core::GenerateSecret(tokend::core::TokenType::kUser);
      std::string* v = &values[static_cast<std::size_t>(row) * kColumns];
      v[0] = tokend::core::NewObjectId(now);
      v[1] = "user";
      v[2] = "bench";
      v[4] = "user-" + std::to_string(principal(rng));
      v[5] = std::to_string(now);
      v[7] = "token/read";
      v[8] = tokend::core::HashSecret(secret);
      const char** p = &params[static_cast<std::size_t>(row) * kColumns];
      for (int column = 0; column < kColumns; ++column) {
        // description and expiration_date stay NULL, as in the SQLite baseline.
        p[column] = column == 3 || column == 6 ? nullptr : v[column].c_str();
      }
      if (with_events) {
        std::string* e = &values[token_params + static_cast<std::size_t>(row) * kEventColumns];
        e[0] = tokend::core::NewObjectId(now);
        e[1] = std::to_string(++seq);
        e[2] = v[5];
        e[3] = v[0];
        e[4] = v[4];
        e[5] = tokend::bench::CreatedEventBody(e[0], v[0], v[4]);
        e[6] = v[8];
        e[7] = v[8];
      }
    }
    if (with_events) {
      values[values.size() - 2] = values[token_params + (group - 1) * kEventColumns + 7];
      values[values.size() - 1] = std::to_string(seq);
      for (std::size_t i = token_params; i < values.size(); ++i) params[i] = values[i].c_str();
    }
    // One statement outside a transaction block is its own transaction: one
    // commit (and one WAL flush) per group.
    PGresult* result = PQexecPrepared(conn, "insert", static_cast<int>(params.size()),
                                      params.data(), nullptr, nullptr, 0);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      std::fprintf(stderr, "pg_group_insert: insert: %s\n", PQerrorMessage(conn));
      Exec(conn, drop.c_str());
      PQclear(result);
      PQfinish(conn);
      return 1;
    }
    PQclear(result);
    rows += group;
    ++commits;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  Exec(conn, drop.c_str());
  PQfinish(conn);
  std::printf("BENCH rows=%lld seconds=%.2f rows_per_s=%.1f commits_per_s=%.1f\n", rows, elapsed,
              rows / elapsed, commits / elapsed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"pg_group_insert: grouped durable inserts into PostgreSQL (baseline)"};
  std::string url;
  int group = 64;
  double seconds = 10;
  cli.add_option("--url", url, "PostgreSQL connection URL")->required();
  cli.add_option("--group", group, "Rows per transaction")->check(CLI::Range(1, 7000));
  cli.add_option("--seconds", seconds, "How long to insert")->check(CLI::PositiveNumber);
  std::vector<std::string> schema;
  auto* schema_option =
      cli.add_option("--schema", schema, "Schema files (tokend's PostgreSQL migrations, in order)");
  bool with_events = false;
  cli.add_flag("--with-events", with_events,
               "With --schema: also each row's audit event, as tokend's schema holds it")
      ->needs(schema_option);
  CLI11_PARSE(cli, argc, argv);
  return Run(url, schema, with_events, group, seconds);
}
