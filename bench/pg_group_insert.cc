// pg_group_insert: the baseline for durable creates on PostgreSQL. Inserts
// token-shaped rows through libpq into a bare table on the given server, one
// connection, one prepared multi-row INSERT of `--group` rows per
// transaction, for `--seconds`, and prints the rate: PostgreSQL's own
// grouped-insert ceiling on that server, against which tokend's creates on
// the same server are measured.
//
//   pg_group_insert --url postgresql://... [--group 64] [--seconds 10]
//
// The table (pg_group_insert_tokens, dropped and recreated) has the columns a
// token needs, the id as primary key, a unique index on the secret hash and
// the two indexes the queries need (creation date; type, principal, creation
// date). Everything tokend's schema adds is paid from tokend's budget.
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

namespace {

constexpr int kColumns = 9;

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

std::string InsertSql(int group) {
  std::string sql =
      "INSERT INTO pg_group_insert_tokens (id, type, name, description, principal, "
      "creation_date, expiration_date, actions, secret_hash) VALUES ";
  for (int row = 0; row < group; ++row) {
    sql += row == 0 ? "(" : ", (";
    for (int column = 0; column < kColumns; ++column) {
      if (column > 0) sql += ", ";
      sql += "$" + std::to_string(row * kColumns + column + 1);
      if (column == 5 || column == 6) sql += "::bigint";
    }
    sql += ")";
  }
  return sql;
}

int Run(const std::string& url, int group, double seconds) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::fprintf(stderr, "pg_group_insert: cannot connect: %s\n", PQerrorMessage(conn));
    PQfinish(conn);
    return 1;
  }
  if (!Exec(conn, "SET client_min_messages = warning") || !Exec(conn, kSchema)) {
    PQfinish(conn);
    return 1;
  }
  PGresult* prepared = PQprepare(conn, "insert", InsertSql(group).c_str(), 0, nullptr);
  if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
    std::fprintf(stderr, "pg_group_insert: prepare: %s\n", PQerrorMessage(conn));
    PQclear(prepared);
    PQfinish(conn);
    return 1;
  }
  PQclear(prepared);

  std::mt19937 rng(7);
  std::uniform_int_distribution<int> principal(0, 999);
  std::vector<std::string> values(static_cast<std::size_t>(group) * kColumns);
  std::vector<const char*> params(values.size());
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
    }
    // One statement outside a transaction block is its own transaction: one
    // commit (and one WAL flush) per group.
    PGresult* result = PQexecPrepared(conn, "insert", static_cast<int>(params.size()),
                                      params.data(), nullptr, nullptr, 0);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      std::fprintf(stderr, "pg_group_insert: insert: %s\n", PQerrorMessage(conn));
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
  Exec(conn, "DROP TABLE pg_group_insert_tokens");
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
  CLI11_PARSE(cli, argc, argv);
  return Run(url, group, seconds);
}
