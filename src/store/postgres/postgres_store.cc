// The PostgreSQL backend: plain libpq, a bounded connection pool, prepared
// statements, and a LISTEN/NOTIFY feed of deletions shared by every instance.
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/embedded_migrations.h"
#include "store/postgres/connection_pool.h"
#include "store/postgres/deletion_feed.h"
#include "store/postgres/pg_common.h"
#include "store/token_row.h"

namespace tokend::store {
namespace {

using pg::ConnPtr;
using pg::ResultPtr;
using pg::Succeeded;

// Taken (transaction-scoped) while migrating: "tokend" in ASCII.
constexpr std::int64_t kMigrationLockKey = 0x746f6b656e64;
constexpr std::string_view kMigrationPrefix = "postgres/";
// Rows per statement in InsertMany.
constexpr std::size_t kInsertBatch = 1000;

struct Statement {
  const char* name;
  const char* sql;
  int params;
};

constexpr Statement kFindById = {"tokend_find_by_id",
                                 "SELECT " TOKEND_TOKEN_COLUMNS " FROM tokens WHERE id = $1", 1};
constexpr Statement kFindBySecretHash = {
    "tokend_find_by_hash", "SELECT " TOKEND_TOKEN_COLUMNS " FROM tokens WHERE secret_hash = $1", 1};
constexpr Statement kInsert = {"tokend_insert",
                               "INSERT INTO tokens (" TOKEND_TOKEN_COLUMNS
                               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                               13};
#define TOKEND_INSERT_MANY_SQL                                                               \
  "INSERT INTO tokens (" TOKEND_TOKEN_COLUMNS                                                \
  ") SELECT * FROM unnest($1::text[], $2::text[], "                                          \
  "$3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], " \
  "$10::bigint[], $11::text[], $12::text[], $13::text[])"
constexpr Statement kInsertMany = {"tokend_insert_many", TOKEND_INSERT_MANY_SQL, 13};
// Without a conflict target: a row taking an id or a secret_hash already
// stored, or taken earlier in the same statement, is skipped.
constexpr Statement kInsertAbsent = {"tokend_insert_absent",
                                     TOKEND_INSERT_MANY_SQL " ON CONFLICT DO NOTHING", 13};
// The delete and its announcement commit together (one implicit transaction).
constexpr Statement kDelete = {"tokend_delete",
                               "WITH deleted AS (DELETE FROM tokens WHERE id = $1 RETURNING id) "
                               "SELECT pg_notify('tokend_token_deleted', deleted.id) FROM deleted",
                               1};
constexpr Statement kCountByType = {
    "tokend_count_by_type",
    "SELECT type, sum(n)::bigint FROM token_counts GROUP BY type HAVING sum(n) > 0", 0};
constexpr Statement kPing = {"tokend_ping", "SELECT 1", 0};
// Newest wins across instances: GREATEST ignores a null stored value, and a
// use older than the stored one changes nothing (its row is not even
// rewritten, which would leave a dead tuple). Uses of one id are merged
// first (an UPDATE ... FROM applies only one joined row per target row). Ids
// no row has join nothing.
constexpr Statement kRecordUses = {
    "tokend_record_uses",
    "UPDATE tokens AS t SET last_used_date = GREATEST(t.last_used_date, u.at) "
    "FROM (SELECT id, max(at) AS at FROM unnest($1::text[], $2::bigint[]) AS x(id, at) "
    "GROUP BY id) AS u "
    "WHERE t.id = u.id AND (t.last_used_date IS NULL OR t.last_used_date < u.at)",
    2};

// Rotation. The old token's row is locked for the rotation's transaction, so
// two rotations of one token cannot both pass the rotated_to check.
constexpr Statement kRotationState = {"tokend_rotation_state",
                                      "SELECT rotated_to FROM tokens WHERE id = $1 FOR UPDATE", 1};
// The old token's change and its announcement commit together; a changed
// expiry is announced like a deletion (caches drop the entry and re-read it).
constexpr Statement kKeepRotated = {
    "tokend_keep_rotated",
    "WITH changed AS (UPDATE tokens SET rotated_to = $2, expiration_date = $3::bigint "
    "WHERE id = $1 RETURNING id) "
    "SELECT pg_notify('tokend_token_deleted', changed.id) FROM changed",
    3};
constexpr Statement kInsertRetired = {
    "tokend_insert_retired",
    "INSERT INTO retired_secrets (secret_hash, token_id, family_id, overlap_end, forget_after) "
    "VALUES ($1, $2, $3, $4::bigint, $5::bigint) ON CONFLICT (secret_hash) DO UPDATE SET "
    "token_id = EXCLUDED.token_id, family_id = EXCLUDED.family_id, "
    "overlap_end = EXCLUDED.overlap_end, forget_after = EXCLUDED.forget_after, "
    "reuse_detected_at = NULL",
    5};
// One statement: the mark, the family's deletion and its announcements
// commit together, and nothing is deleted when the reuse was marked before.
constexpr Statement kRevokeFamily = {
    "tokend_revoke_family",
    "WITH marked AS (UPDATE retired_secrets SET reuse_detected_at = $3::bigint "
    "WHERE secret_hash = $2 AND reuse_detected_at IS NULL RETURNING 1), "
    "deleted AS (DELETE FROM tokens WHERE (id = $1 OR family_id = $1) "
    "AND EXISTS (SELECT 1 FROM marked) RETURNING id) "
    "SELECT (SELECT count(*) FROM marked), deleted.id, "
    "CASE WHEN deleted.id IS NOT NULL THEN pg_notify('tokend_token_deleted', deleted.id) END "
    "FROM (SELECT 1) AS k LEFT JOIN deleted ON true",
    3};
constexpr Statement kSweepTokens = {
    "tokend_sweep_tokens",
    "WITH deleted AS (DELETE FROM tokens WHERE rotated_to IS NOT NULL "
    "AND expiration_date <= $1::bigint RETURNING id) "
    "SELECT deleted.id, pg_notify('tokend_token_deleted', deleted.id) FROM deleted",
    1};
constexpr Statement kSweepRetired = {
    "tokend_sweep_retired", "DELETE FROM retired_secrets WHERE forget_after <= $1::bigint", 1};
// The token and the retired secret of one hash in one round trip: one row,
// whose token columns are null without a token and whose retired columns
// (from kTokenColumnCount on) are null when the secret is not retired.
constexpr Statement kLookupSecret = {
    "tokend_lookup_secret",
    "SELECT t.*, r.* FROM (SELECT 1) AS k "
    "LEFT JOIN (SELECT " TOKEND_TOKEN_COLUMNS
    " FROM tokens WHERE secret_hash = $1) AS t ON true "
    "LEFT JOIN (SELECT token_id, family_id, overlap_end, forget_after, reuse_detected_at "
    "FROM retired_secrets WHERE secret_hash = $1) AS r ON true",
    1};

constexpr const Statement* kPrepared[] = {
    &kFindById,     &kFindBySecretHash, &kInsert,       &kInsertMany,
    &kDelete,       &kCountByType,      &kPing,         &kInsertAbsent,
    &kRecordUses,   &kRotationState,    &kKeepRotated,  &kInsertRetired,
    &kRevokeFamily, &kSweepTokens,      &kSweepRetired, &kLookupSecret};

ResultPtr Exec(PGconn* conn, const Statement& statement, const std::vector<const char*>& params) {
  return ResultPtr(PQexecPrepared(conn, statement.name, static_cast<int>(params.size()),
                                  params.data(), nullptr, nullptr, 0));
}

ResultPtr ExecSql(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                  std::size_t count) {
  std::vector<const char*> values;
  values.reserve(count);
  for (std::size_t i = 0; i < count; ++i) values.push_back(params[i].c_str());
  return ResultPtr(PQexecParams(conn, sql.c_str(), static_cast<int>(count), nullptr, values.data(),
                                nullptr, nullptr, 0));
}

std::optional<std::int64_t> ParseInt64(const char* text) {
  std::int64_t value = 0;
  const char* end = text + std::char_traits<char>::length(text);
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

const char* OptionalParam(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

std::optional<std::string> OptionalText(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return std::nullopt;
  return std::string(PQgetvalue(result, row, column),
                     static_cast<std::size_t>(PQgetlength(result, row, column)));
}

// Row `row` of `result`, whose columns are TOKEND_TOKEN_COLUMNS. Dates
// arrive as decimal text (text result format).
Result<core::Token> RowToToken(const PGresult* result, int row) {
  TokenRow columns;
  columns.id = *OptionalText(result, row, 0);
  columns.type = *OptionalText(result, row, 1);
  columns.name = *OptionalText(result, row, 2);
  columns.description = OptionalText(result, row, 3);
  columns.principal = OptionalText(result, row, 4);
  const std::optional<std::int64_t> created = ParseInt64(PQgetvalue(result, row, 5));
  if (!created) return Status::Internal("PostgreSQL: bad creation_date for " + columns.id);
  columns.creation_date = *created;
  if (!PQgetisnull(result, row, 6)) {
    columns.expiration_date = ParseInt64(PQgetvalue(result, row, 6));
    if (!columns.expiration_date) {
      return Status::Internal("PostgreSQL: bad expiration_date for " + columns.id);
    }
  }
  columns.actions = *OptionalText(result, row, 7);
  columns.secret_hash = *OptionalText(result, row, 8);
  if (!PQgetisnull(result, row, 9)) {
    columns.last_used_date = ParseInt64(PQgetvalue(result, row, 9));
    if (!columns.last_used_date) {
      return Status::Internal("PostgreSQL: bad last_used_date for " + columns.id);
    }
  }
  columns.rotated_from = OptionalText(result, row, 10);
  columns.rotated_to = OptionalText(result, row, 11);
  columns.family_id = OptionalText(result, row, 12);
  return DecodeTokenRow(std::move(columns));
}

// The unnest() parameters of kInsertMany and kInsertAbsent for `rows`: one
// array literal per column, in TOKEND_TOKEN_COLUMNS order.
// The kInsert parameters of one row, in TOKEND_TOKEN_COLUMNS order; the
// texts of its numbers are kept here, so `values` lives as long as this.
class InsertParams {
 public:
  explicit InsertParams(const TokenRow& row)
      : created_(std::to_string(row.creation_date)),
        expires_(row.expiration_date ? std::to_string(*row.expiration_date) : std::string()),
        last_used_(row.last_used_date ? std::to_string(*row.last_used_date) : std::string()),
        values{row.id.c_str(),
               row.type.c_str(),
               row.name.c_str(),
               OptionalParam(row.description),
               OptionalParam(row.principal),
               created_.c_str(),
               row.expiration_date ? expires_.c_str() : nullptr,
               row.actions.c_str(),
               row.secret_hash.c_str(),
               row.last_used_date ? last_used_.c_str() : nullptr,
               OptionalParam(row.rotated_from),
               OptionalParam(row.rotated_to),
               OptionalParam(row.family_id)} {}
  InsertParams(const InsertParams&) = delete;
  InsertParams& operator=(const InsertParams&) = delete;

 private:
  const std::string created_;
  const std::string expires_;
  const std::string last_used_;

 public:
  const std::vector<const char*> values;
};

std::vector<std::string> ColumnArrays(std::span<const TokenRow> rows) {
  std::vector<std::vector<std::optional<std::string>>> columns(13);
  for (const TokenRow& r : rows) {
    columns[0].emplace_back(r.id);
    columns[1].emplace_back(r.type);
    columns[2].emplace_back(r.name);
    columns[3].emplace_back(r.description);
    columns[4].emplace_back(r.principal);
    columns[5].emplace_back(std::to_string(r.creation_date));
    columns[6].emplace_back(r.expiration_date
                                ? std::optional<std::string>(std::to_string(*r.expiration_date))
                                : std::nullopt);
    columns[7].emplace_back(r.actions);
    columns[8].emplace_back(r.secret_hash);
    columns[9].emplace_back(r.last_used_date
                                ? std::optional<std::string>(std::to_string(*r.last_used_date))
                                : std::nullopt);
    columns[10].emplace_back(r.rotated_from);
    columns[11].emplace_back(r.rotated_to);
    columns[12].emplace_back(r.family_id);
  }
  std::vector<std::string> arrays;
  for (const auto& column : columns) arrays.push_back(pg::ArrayLiteral(column));
  return arrays;
}

bool IsNullableSortColumn(core::SortField field) {
  return field == core::SortField::kExpirationDate || field == core::SortField::kPrincipal ||
         field == core::SortField::kLastUsedDate;
}

// ORDER BY matching the indexes: nullable columns are indexed NULLS FIRST,
// so ASC NULLS FIRST scans forward and DESC NULLS LAST backward.
std::string OrderBy(core::SortField field, core::SortOrder order) {
  const std::string column(SortColumn(field));
  const bool nullable = IsNullableSortColumn(field);
  if (order == core::SortOrder::kAsc) {
    return " ORDER BY " + column + (nullable ? " ASC NULLS FIRST" : " ASC") + ", id ASC";
  }
  return " ORDER BY " + column + (nullable ? " DESC NULLS LAST" : " DESC") + ", id DESC";
}

std::string TypeArray(const std::vector<core::TokenType>& types) {
  std::vector<std::optional<std::string>> names;
  for (core::TokenType type : types) names.emplace_back(std::string(core::ToString(type)));
  return pg::ArrayLiteral(names);
}

// The WHERE clauses of a query, over tokens and over token_counts, sharing
// one parameter list ($1..$n). Input only ever travels as parameters.
struct Filter {
  std::vector<std::string> params;
  std::string tokens_where;
  std::string counts_where;
  bool matches_nothing = false;
  bool has_dates = false;  // a filter token_counts cannot answer: count rows

  std::string Param(std::string value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  }
  void Add(const std::string& tokens_condition, const std::string& counts_condition) {
    tokens_where += tokens_where.empty() ? " WHERE " : " AND ";
    tokens_where += tokens_condition;
    counts_where += counts_where.empty() ? " WHERE " : " AND ";
    counts_where += counts_condition;
  }
};

Filter BuildFilter(const core::TokenQuery& query, const core::Visibility& visibility) {
  Filter filter;
  if (!query.types.empty()) {
    const std::string p = filter.Param(TypeArray(query.types));
    filter.Add("type = ANY(" + p + "::text[])", "type = ANY(" + p + "::text[])");
  }
  if (!visibility.everything) {
    // A principal the database could not store matches no token.
    if (visibility.types.empty() || !IsStorableText(visibility.principal)) {
      filter.matches_nothing = true;
      return filter;
    }
    const std::string types = filter.Param(TypeArray(visibility.types));
    const std::string principal = filter.Param(visibility.principal);
    filter.Add(
        "type = ANY(" + types + "::text[]) AND principal = " + principal,
        "type = ANY(" + types + "::text[]) AND NOT principal_null AND principal = " + principal);
  }
  if (!query.principals.empty()) {
    std::vector<std::optional<std::string>> principals;
    for (const std::string& principal : query.principals) {
      if (IsStorableText(principal)) principals.emplace_back(principal);
    }
    if (principals.empty()) {
      filter.matches_nothing = true;
      return filter;
    }
    const std::string p = filter.Param(pg::ArrayLiteral(principals));
    filter.Add("principal = ANY(" + p + "::text[])",
               "NOT principal_null AND principal = ANY(" + p + "::text[])");
  }
  if (query.from_date) {
    filter.has_dates = true;
    const std::string p = filter.Param(std::to_string(*query.from_date));
    filter.Add("creation_date >= " + p, "");
  }
  if (query.to_date) {
    filter.has_dates = true;
    const std::string p = filter.Param(std::to_string(*query.to_date));
    filter.Add("creation_date < " + p, "");
  }
  if (query.lifetime_beyond_policy) {
    // Per type with a maximum: no expiry, or a longer lifetime. Without any
    // maximum nothing matches. Counted over tokens, like a date filter.
    if (query.policy_max_lifetimes.empty()) {
      filter.matches_nothing = true;
      return filter;
    }
    filter.has_dates = true;
    std::string condition = "(";
    for (const auto& [type, max_millis] : query.policy_max_lifetimes) {
      const std::string t = filter.Param(std::string(core::ToString(type)));
      const std::string m = filter.Param(std::to_string(max_millis));
      if (condition.size() > 1) condition += " OR ";
      condition += "(type = " + t + " AND (expiration_date IS NULL OR expiration_date - " +
                   "creation_date > " + m + "::bigint))";
    }
    condition += ")";
    filter.Add(condition, "");
  }
  if (query.last_used_before) {
    filter.has_dates = true;
    const std::string p = filter.Param(std::to_string(*query.last_used_before));
    filter.Add("(last_used_date IS NULL OR last_used_date < " + p + "::bigint)", "");
  }
  if (query.last_used_after) {
    filter.has_dates = true;
    const std::string p = filter.Param(std::to_string(*query.last_used_after));
    filter.Add("last_used_date >= " + p + "::bigint", "");
  }
  return filter;
}

Status Migrate(PGconn* conn, const pg::ConnectionConfig& config) {
  auto fail = [&](const PGresult* result, std::string_view what) {
    Status status = pg::TranslateError(config, conn, result, what);
    ResultPtr rollback(PQexec(conn, "ROLLBACK"));
    return status;
  };
  auto run = [&](const std::string& sql, ExecStatusType expected, std::string_view what,
                 ResultPtr* out) -> Status {
    ResultPtr result(PQexec(conn, sql.c_str()));
    if (!Succeeded(result.get(), expected)) return fail(result.get(), what);
    if (out != nullptr) *out = std::move(result);
    return Status::Ok();
  };

  if (Status s = run("BEGIN", PGRES_COMMAND_OK, "migration", nullptr); !s.ok()) return s;
  if (Status s = run("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")",
                     PGRES_TUPLES_OK, "migration lock", nullptr);
      !s.ok()) {
    return s;
  }
  if (Status s = run("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "version bigint PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())",
                     PGRES_COMMAND_OK, "migration", nullptr);
      !s.ok()) {
    return s;
  }
  ResultPtr applied_rows;
  if (Status s =
          run("SELECT version FROM schema_migrations", PGRES_TUPLES_OK, "migration", &applied_rows);
      !s.ok()) {
    return s;
  }
  std::vector<std::int64_t> applied;
  for (int row = 0; row < PQntuples(applied_rows.get()); ++row) {
    if (auto v = ParseInt64(PQgetvalue(applied_rows.get(), row, 0))) applied.push_back(*v);
  }

  std::vector<std::pair<std::int64_t, std::string_view>> pending;
  for (const EmbeddedFile& file : EmbeddedMigrations()) {
    if (!file.name.starts_with(kMigrationPrefix)) continue;
    const std::string_view base = file.name.substr(kMigrationPrefix.size());
    std::int64_t version = 0;
    auto [ptr, ec] = std::from_chars(base.data(), base.data() + base.size(), version);
    if (ec != std::errc() || ptr == base.data()) {
      ResultPtr rollback(PQexec(conn, "ROLLBACK"));
      return Status::Internal("PostgreSQL migration file without a version: " +
                              std::string(file.name));
    }
    if (std::find(applied.begin(), applied.end(), version) == applied.end()) {
      pending.emplace_back(version, file.sql);
    }
  }
  std::sort(pending.begin(), pending.end());
  for (const auto& [version, sql] : pending) {
    const std::string what = "migration " + std::to_string(version);
    if (Status s = run(std::string(sql), PGRES_COMMAND_OK, what, nullptr); !s.ok()) return s;
    if (Status s =
            run("INSERT INTO schema_migrations (version) VALUES (" + std::to_string(version) + ")",
                PGRES_COMMAND_OK, what, nullptr);
        !s.ok()) {
      return s;
    }
  }
  return run("COMMIT", PGRES_COMMAND_OK, "migration commit", nullptr);
}

class PostgresStore final : public TokenStore {
 public:
  PostgresStore(pg::ConnectionConfig config, const StoreOptions& options)
      : config_(std::move(config)),
        pool_(config_, options.pool_size,
              std::chrono::seconds(std::max(1, options.connect_timeout_seconds)),
              [this](PGconn* conn) { return Prepare(conn); }) {}

  ~PostgresStore() override { feed_.reset(); }

  Status Start() {
    feed_ = std::make_unique<pg::DeletionFeed>(
        config_, pg::DeletionFeed::Callbacks{[this](std::string_view id) { AnnounceDeleted(id); },
                                             [this](bool healthy) { AnnounceHealth(healthy); }});
    Status status = feed_->Start();
    if (!status.ok()) feed_.reset();
    return status;
  }

  Status Insert(const core::Token& token) override {
    Result<TokenRow> row = EncodeTokenRow(token);
    if (!row.ok()) return row.status();
    const InsertParams params(*row);
    // Not retried: a lost reply leaves the outcome unknown.
    return WithConnection(false, [&](PGconn* conn) {
      ResultPtr result = Exec(conn, kInsert, params.values);
      if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "insert");
      }
      return Status::Ok();
    });
  }

  Status InsertMany(std::span<const core::Token> tokens) override {
    if (tokens.empty()) return Status::Ok();
    std::vector<TokenRow> rows;
    rows.reserve(tokens.size());
    for (const core::Token& token : tokens) {
      Result<TokenRow> row = EncodeTokenRow(token);
      if (!row.ok()) return row.status();
      rows.push_back(std::move(row).value());
    }
    return WithConnection(false, [&](PGconn* conn) {
      auto fail = [&](const PGresult* result, std::string_view what) {
        Status status = pg::TranslateError(config_, conn, result, what);
        ResultPtr rollback(PQexec(conn, "ROLLBACK"));
        return status;
      };
      ResultPtr begin(PQexec(conn, "BEGIN"));
      if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) return fail(begin.get(), "insert");
      for (std::size_t start = 0; start < rows.size(); start += kInsertBatch) {
        const std::size_t end = std::min(rows.size(), start + kInsertBatch);
        const std::vector<std::string> arrays =
            ColumnArrays(std::span(rows).subspan(start, end - start));
        std::vector<const char*> params;
        for (const std::string& array : arrays) params.push_back(array.c_str());
        ResultPtr result = Exec(conn, kInsertMany, params);
        if (!Succeeded(result.get(), PGRES_COMMAND_OK)) return fail(result.get(), "insert");
      }
      ResultPtr commit(PQexec(conn, "COMMIT"));
      if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return fail(commit.get(), "insert commit");
      return Status::Ok();
    });
  }

  Result<core::Token> FindById(std::string_view id) override {
    return FindOne(kFindById, id, "token id");
  }

  Result<std::int64_t> InsertAbsent(std::span<const core::Token> tokens) override {
    if (tokens.empty()) return std::int64_t{0};
    std::vector<TokenRow> rows;
    rows.reserve(tokens.size());
    for (const core::Token& token : tokens) {
      Result<TokenRow> row = EncodeTokenRow(token);
      if (!row.ok()) return row.status();
      rows.push_back(std::move(row).value());
    }
    std::int64_t inserted = 0;
    // Not retried: a lost reply leaves the outcome unknown.
    Status status = WithConnection(false, [&](PGconn* conn) {
      auto fail = [&](const PGresult* result, std::string_view what) {
        Status failure = pg::TranslateError(config_, conn, result, what);
        ResultPtr rollback(PQexec(conn, "ROLLBACK"));
        return failure;
      };
      inserted = 0;
      ResultPtr begin(PQexec(conn, "BEGIN"));
      if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) return fail(begin.get(), "insert");
      for (std::size_t start = 0; start < rows.size(); start += kInsertBatch) {
        const std::size_t end = std::min(rows.size(), start + kInsertBatch);
        const std::vector<std::string> arrays =
            ColumnArrays(std::span(rows).subspan(start, end - start));
        std::vector<const char*> params;
        for (const std::string& array : arrays) params.push_back(array.c_str());
        ResultPtr result = Exec(conn, kInsertAbsent, params);
        if (!Succeeded(result.get(), PGRES_COMMAND_OK)) return fail(result.get(), "insert");
        const std::optional<std::int64_t> count = ParseInt64(PQcmdTuples(result.get()));
        if (!count) {
          ResultPtr rollback(PQexec(conn, "ROLLBACK"));
          return Status::Internal("PostgreSQL: the insert did not report its row count");
        }
        inserted += *count;
      }
      ResultPtr commit(PQexec(conn, "COMMIT"));
      if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return fail(commit.get(), "insert commit");
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return inserted;
  }

  Result<core::Token> FindBySecretHash(std::string_view secret_hash) override {
    return FindOne(kFindBySecretHash, secret_hash, "token secret hash");
  }

  Status Delete(std::string_view id) override {
    if (!IsStorableText(id)) return Status::NotFound("no token with this id");
    const std::string key(id);
    {
      std::lock_guard lock(listener_mu_);
      ++own_deletions_[key].in_flight;
    }
    Status status = WithConnection(false, [&](PGconn* conn) {
      ResultPtr result = Exec(conn, kDelete, {key.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "delete");
      }
      if (PQntuples(result.get()) == 0) return Status::NotFound("no token with id " + key);
      return Status::Ok();
    });
    FinishOwnDeletion(key, status.ok());
    return status;
  }

  Result<std::vector<std::string>> DeleteMatching(const core::TokenQuery& query,
                                                  const core::Visibility& visibility) override {
    std::vector<std::string> deleted;
    Filter filter = BuildFilter(query, visibility);
    if (filter.matches_nothing) return deleted;
    // One statement, so one implicit transaction: the rows go and their
    // announcements are queued together, or nothing happens. A notification
    // is delivered only at commit. Once the audit trail exists, a
    // `token.revoked` event (reason "bulk") per row is written in this
    // transaction too.
    const std::string sql = "WITH deleted AS (DELETE FROM tokens" + filter.tokens_where +
                            " RETURNING id) SELECT deleted.id, "
                            "pg_notify('tokend_token_deleted', deleted.id) FROM deleted";
    StartOwnBulkDeletion();
    Status status = WithConnection(false, [&](PGconn* conn) -> Status {
      deleted.clear();
      ResultPtr result = ExecSql(conn, sql, filter.params, filter.params.size());
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "delete");
      }
      const int n = PQntuples(result.get());
      deleted.reserve(static_cast<std::size_t>(n));
      for (int row = 0; row < n; ++row) deleted.push_back(*OptionalText(result.get(), row, 0));
      return Status::Ok();
    });
    if (!status.ok()) deleted.clear();
    FinishOwnBulkDeletion(deleted);
    if (!status.ok()) return status;
    return deleted;
  }

  Result<TokenPage> Query(const core::TokenQuery& query, const core::Visibility& visibility,
                          std::int64_t limit, std::int64_t offset, bool count_total) override {
    TokenPage page;
    Filter filter = BuildFilter(query, visibility);
    if (filter.matches_nothing) {
      if (count_total) page.total = 0;
      return page;
    }
    const std::size_t filter_params = filter.params.size();
    std::string select = "SELECT " TOKEND_TOKEN_COLUMNS " FROM tokens" + filter.tokens_where +
                         OrderBy(query.sort, query.order);
    if (limit >= 0) select += " LIMIT " + filter.Param(std::to_string(limit));
    if (offset > 0) select += " OFFSET " + filter.Param(std::to_string(offset));
    const std::string count =
        filter.has_dates
            ? "SELECT count(*) FROM tokens" + filter.tokens_where
            : "SELECT coalesce(sum(n), 0)::bigint FROM token_counts" + filter.counts_where;

    Status status = WithConnection(true, [&](PGconn* conn) -> Status {
      page = TokenPage();
      auto fail = [&](const PGresult* result) {
        Status s = pg::TranslateError(config_, conn, result, "query");
        if (count_total) {
          ResultPtr rollback(PQexec(conn, "ROLLBACK"));
        }
        return s;
      };
      if (count_total) {
        // One snapshot for the page and its total.
        ResultPtr begin(PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) return fail(begin.get());
      }
      if (limit != 0) {
        ResultPtr rows = ExecSql(conn, select, filter.params, filter.params.size());
        if (!Succeeded(rows.get(), PGRES_TUPLES_OK)) return fail(rows.get());
        const int n = PQntuples(rows.get());
        page.tokens.reserve(static_cast<std::size_t>(n));
        for (int row = 0; row < n; ++row) {
          Result<core::Token> token = RowToToken(rows.get(), row);
          if (!token.ok()) {
            if (count_total) {
              ResultPtr rollback(PQexec(conn, "ROLLBACK"));
            }
            return token.status();
          }
          page.tokens.push_back(std::move(token).value());
        }
      }
      if (count_total) {
        ResultPtr total = ExecSql(conn, count, filter.params, filter_params);
        if (!Succeeded(total.get(), PGRES_TUPLES_OK) || PQntuples(total.get()) != 1) {
          return fail(total.get());
        }
        page.total = ParseInt64(PQgetvalue(total.get(), 0, 0)).value_or(0);
        ResultPtr commit(PQexec(conn, "COMMIT"));
        if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return fail(commit.get());
      }
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return page;
  }

  Result<std::vector<std::pair<core::TokenType, std::int64_t>>> CountByType() override {
    std::vector<std::pair<core::TokenType, std::int64_t>> counts;
    Status status = WithConnection(true, [&](PGconn* conn) {
      counts.clear();
      ResultPtr result = Exec(conn, kCountByType, {});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "count");
      }
      for (int row = 0; row < PQntuples(result.get()); ++row) {
        const auto type = core::ParseTokenType(PQgetvalue(result.get(), row, 0));
        const auto n = ParseInt64(PQgetvalue(result.get(), row, 1));
        if (type && n) counts.emplace_back(*type, *n);
      }
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return counts;
  }

  Status Ping() override {
    return WithConnection(true, [&](PGconn* conn) {
      ResultPtr result = Exec(conn, kPing, {});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "ping");
      }
      return Status::Ok();
    });
  }

  void SetChangeListener(ChangeListener* listener) override {
    std::lock_guard lock(listener_mu_);
    listener_ = listener;
    if (listener_ != nullptr && !feed_healthy_) listener_->OnFeedHealthChanged(false);
  }

  bool IsShared() const override { return true; }

  // One statement, so one implicit transaction. No announcement: a use
  // changes no token's validity.
  Status RecordUses(std::span<const TokenUse> uses) override {
    std::vector<std::optional<std::string>> ids;
    std::vector<std::optional<std::string>> times;
    ids.reserve(uses.size());
    times.reserve(uses.size());
    for (const TokenUse& use : uses) {
      if (!IsStorableText(use.id)) continue;  // no row can have this id
      ids.emplace_back(use.id);
      times.emplace_back(std::to_string(use.at));
    }
    if (ids.empty()) return Status::Ok();
    const std::string id_array = pg::ArrayLiteral(ids);
    const std::string time_array = pg::ArrayLiteral(times);
    // Retried on a stale connection: applying the same uses twice changes
    // nothing more (newest wins).
    return WithConnection(true, [&](PGconn* conn) {
      ResultPtr result = Exec(conn, kRecordUses, {id_array.c_str(), time_array.c_str()});
      if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "record uses");
      }
      return Status::Ok();
    });
  }

  Status Rotate(const Rotation& rotation) override {
    Result<TokenRow> row = EncodeTokenRow(rotation.new_token);
    if (!row.ok()) return row.status();
    if (!IsStorableText(rotation.old_id)) return Status::NotFound("no token with this id");
    const InsertParams insert(*row);
    const std::string old_expiration =
        rotation.old_expiration ? std::to_string(*rotation.old_expiration) : std::string();
    bool changed = false;
    StartOwnBulkDeletion();
    // Not retried: a lost reply leaves the outcome unknown.
    Status status = WithConnection(false, [&](PGconn* conn) -> Status {
      changed = false;
      auto fail = [&](const PGresult* result, std::string_view what) {
        Status translated = pg::TranslateError(config_, conn, result, what);
        ResultPtr rollback(PQexec(conn, "ROLLBACK"));
        return translated;
      };
      auto refuse = [&](Status refusal) {
        ResultPtr rollback(PQexec(conn, "ROLLBACK"));
        return refusal;
      };
      ResultPtr begin(PQexec(conn, "BEGIN"));
      if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) return fail(begin.get(), "rotate");
      ResultPtr state = Exec(conn, kRotationState, {rotation.old_id.c_str()});
      if (!Succeeded(state.get(), PGRES_TUPLES_OK)) return fail(state.get(), "rotate");
      if (PQntuples(state.get()) == 0) {
        return refuse(Status::NotFound("no token with id " + rotation.old_id));
      }
      if (!PQgetisnull(state.get(), 0, 0)) {
        return refuse(Status::Error(core::ApiError::kRotationPending,
                                    "token " + rotation.old_id + " is being rotated already"));
      }
      ResultPtr inserted = Exec(conn, kInsert, insert.values);
      if (!Succeeded(inserted.get(), PGRES_COMMAND_OK)) return fail(inserted.get(), "rotate");
      ResultPtr old = rotation.keep_old
                          ? Exec(conn, kKeepRotated,
                                 {rotation.old_id.c_str(), rotation.new_token.id.c_str(),
                                  rotation.old_expiration ? old_expiration.c_str() : nullptr})
                          : Exec(conn, kDelete, {rotation.old_id.c_str()});
      if (!Succeeded(old.get(), PGRES_TUPLES_OK)) return fail(old.get(), "rotate");
      if (rotation.retired) {
        const RetiredSecret& retired = *rotation.retired;
        const std::string overlap_end = std::to_string(retired.overlap_end);
        const std::string forget_after = std::to_string(retired.forget_after);
        ResultPtr written =
            Exec(conn, kInsertRetired,
                 {retired.secret_hash.c_str(), retired.token_id.c_str(), retired.family_id.c_str(),
                  overlap_end.c_str(), forget_after.c_str()});
        if (!Succeeded(written.get(), PGRES_COMMAND_OK)) return fail(written.get(), "rotate");
      }
      // Recorded here, in the same transaction, once the audit trail exists:
      // `token.rotated` for the old token and `token.created` for the new one.
      ResultPtr commit(PQexec(conn, "COMMIT"));
      if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return fail(commit.get(), "rotate commit");
      changed = true;
      return Status::Ok();
    });
    FinishOwnBulkDeletion(changed ? std::vector<std::string>{rotation.old_id}
                                  : std::vector<std::string>{});
    return status;
  }

  Result<SecretLookup> LookupSecret(std::string_view secret_hash) override {
    SecretLookup lookup;
    if (!IsStorableText(secret_hash)) return lookup;
    const std::string value(secret_hash);
    Status status = WithConnection(true, [&](PGconn* conn) -> Status {
      lookup = SecretLookup();
      ResultPtr result = Exec(conn, kLookupSecret, {value.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK) || PQntuples(result.get()) != 1) {
        return pg::TranslateError(config_, conn, result.get(), "lookup");
      }
      if (!PQgetisnull(result.get(), 0, 0)) {
        Result<core::Token> token = RowToToken(result.get(), 0);
        if (!token.ok()) return token.status();
        lookup.token = std::move(token).value();
      }
      constexpr int r = kTokenColumnCount;
      if (!PQgetisnull(result.get(), 0, r)) {
        RetiredSecret retired;
        retired.secret_hash = value;
        retired.token_id = *OptionalText(result.get(), 0, r);
        retired.family_id = *OptionalText(result.get(), 0, r + 1);
        const auto overlap_end = ParseInt64(PQgetvalue(result.get(), 0, r + 2));
        const auto forget_after = ParseInt64(PQgetvalue(result.get(), 0, r + 3));
        if (!overlap_end || !forget_after) {
          return Status::Internal("PostgreSQL: bad retired secret of token " + retired.token_id);
        }
        retired.overlap_end = *overlap_end;
        retired.forget_after = *forget_after;
        if (!PQgetisnull(result.get(), 0, r + 4)) {
          retired.reuse_detected_at = ParseInt64(PQgetvalue(result.get(), 0, r + 4));
        }
        lookup.retired = std::move(retired);
      }
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return lookup;
  }

  Result<FamilyRevocation> RevokeFamily(std::string_view family_id, std::string_view secret_hash,
                                        core::EpochMillis now) override {
    FamilyRevocation revocation;
    if (!IsStorableText(family_id) || !IsStorableText(secret_hash)) return revocation;
    const std::string family(family_id);
    const std::string hash(secret_hash);
    const std::string when = std::to_string(now);
    StartOwnBulkDeletion();
    // One statement, so one implicit transaction (see kRevokeFamily).
    Status status = WithConnection(false, [&](PGconn* conn) -> Status {
      revocation = FamilyRevocation();
      ResultPtr result = Exec(conn, kRevokeFamily, {family.c_str(), hash.c_str(), when.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "revoke family");
      }
      for (int row = 0; row < PQntuples(result.get()); ++row) {
        if (row == 0) {
          revocation.first_detection = ParseInt64(PQgetvalue(result.get(), 0, 0)).value_or(0) > 0;
        }
        if (!PQgetisnull(result.get(), row, 1)) {
          revocation.deleted.push_back(*OptionalText(result.get(), row, 1));
        }
      }
      // Recorded here once the audit trail exists: `token.reuse_detected`
      // and a `token.revoked` (reason "reuse") per deleted token.
      return Status::Ok();
    });
    if (!status.ok()) revocation = FamilyRevocation();
    FinishOwnBulkDeletion(revocation.deleted);
    if (!status.ok()) return status;
    return revocation;
  }

  Result<SweepCounts> SweepRotations(core::EpochMillis now) override {
    SweepCounts counts;
    std::vector<std::string> deleted;
    const std::string when = std::to_string(now);
    StartOwnBulkDeletion();
    Status status = WithConnection(false, [&](PGconn* conn) -> Status {
      deleted.clear();
      ResultPtr tokens = Exec(conn, kSweepTokens, {when.c_str()});
      if (!Succeeded(tokens.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, tokens.get(), "sweep");
      }
      for (int row = 0; row < PQntuples(tokens.get()); ++row) {
        deleted.push_back(*OptionalText(tokens.get(), row, 0));
      }
      ResultPtr retired = Exec(conn, kSweepRetired, {when.c_str()});
      if (!Succeeded(retired.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, retired.get(), "sweep");
      }
      counts.retired = ParseInt64(PQcmdTuples(retired.get())).value_or(0);
      return Status::Ok();
    });
    // The tokens' statement commits on its own, so its deletions stand even
    // when the second one fails.
    FinishOwnBulkDeletion(deleted);
    if (!status.ok()) return status;
    counts.tokens = static_cast<std::int64_t>(deleted.size());
    return counts;
  }

 private:
  Status Prepare(PGconn* conn) {
    for (const Statement* statement : kPrepared) {
      ResultPtr result(
          PQprepare(conn, statement->name, statement->sql, statement->params, nullptr));
      if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "prepare");
      }
    }
    return Status::Ok();
  }

  // Runs `body` on a pooled connection. With `retry_if_stale`, a body that
  // failed because a reused connection turned out dead (e.g. the server
  // restarted since) runs once more on a fresh connection.
  Status WithConnection(bool retry_if_stale, const std::function<Status(PGconn*)>& body) {
    for (int attempt = 0;; ++attempt) {
      Result<pg::ConnectionPool::Lease> lease = pool_.Acquire();
      if (!lease.ok()) return lease.status();
      Status status = body(lease->get());
      if (status.ok() || !retry_if_stale || attempt > 0 || !lease->reused() ||
          PQstatus(lease->get()) == CONNECTION_OK) {
        return status;
      }
    }
  }

  Result<core::Token> FindOne(const Statement& statement, std::string_view key,
                              std::string_view what) {
    // Text PostgreSQL cannot hold is in no row.
    if (!IsStorableText(key)) return Status::NotFound("no token with this " + std::string(what));
    const std::string value(key);
    std::optional<core::Token> found;
    Status status = WithConnection(true, [&](PGconn* conn) {
      ResultPtr result = Exec(conn, statement, {value.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "lookup");
      }
      if (PQntuples(result.get()) == 0) return Status::Ok();
      Result<core::Token> token = RowToToken(result.get(), 0);
      if (!token.ok()) return token.status();
      found = std::move(token).value();
      return Status::Ok();
    });
    if (!status.ok()) return status;
    if (!found) return Status::NotFound("no token with this " + std::string(what));
    return std::move(*found);
  }

  // The feed also delivers this instance's own deletions, which the listener
  // already heard from Delete(); each is announced once. A notice arriving
  // while a local Delete of that id is in flight is held until it returns:
  // it was our own if that Delete succeeded (only one DELETE of an id can),
  // another instance's otherwise.
  struct OwnDeletion {
    int in_flight = 0;
    bool heard = false;                                         // a notice arrived while in flight
    std::optional<std::chrono::steady_clock::time_point> done;  // awaiting its notice
  };
  static constexpr std::chrono::seconds kEchoWait{30};

  void FinishOwnDeletion(const std::string& id, bool deleted) {
    std::lock_guard lock(listener_mu_);
    const auto now = std::chrono::steady_clock::now();
    auto it = own_deletions_.find(id);
    OwnDeletion& entry = it->second;
    --entry.in_flight;
    bool announce = false;
    if (deleted) {
      announce = true;
      if (entry.heard) {
        entry.heard = false;
      } else {
        entry.done = now;
      }
    } else if (entry.heard) {
      entry.heard = false;
      announce = true;
    }
    if (entry.in_flight == 0 && !entry.heard && !entry.done) own_deletions_.erase(it);
    if (announce && listener_ != nullptr) listener_->OnTokenDeleted(id);
    if (own_deletions_.size() > 64) {
      std::erase_if(own_deletions_, [&](const auto& item) {
        return item.second.in_flight == 0 && item.second.done &&
               now - *item.second.done > kEchoWait;
      });
    }
  }

  // DeleteMatching learns its ids only when its statement returns, and the
  // feed may deliver their echoes before that. So while one runs, the ids
  // the feed announces are remembered; when it returns, an id already
  // announced that way is not announced again, and the others are announced
  // and their echoes awaited as for Delete.
  void StartOwnBulkDeletion() {
    std::lock_guard lock(listener_mu_);
    ++bulk_in_flight_;
  }

  void FinishOwnBulkDeletion(const std::vector<std::string>& ids) {
    std::lock_guard lock(listener_mu_);
    const auto now = std::chrono::steady_clock::now();
    --bulk_in_flight_;
    for (const std::string& id : ids) {
      if (heard_during_bulk_.erase(id) > 0) continue;  // its echo, announced already
      own_deletions_[id].done = now;
      if (listener_ != nullptr) listener_->OnTokenDeleted(id);
    }
    if (bulk_in_flight_ == 0) heard_during_bulk_.clear();
    std::erase_if(own_deletions_, [&](const auto& item) {
      return item.second.in_flight == 0 && item.second.done && now - *item.second.done > kEchoWait;
    });
  }

  void AnnounceDeleted(std::string_view id) {
    std::lock_guard lock(listener_mu_);
    auto it = own_deletions_.find(std::string(id));
    if (it != own_deletions_.end()) {
      // The echo of a deletion of ours, announced when it returned. Checked
      // first: a second Delete of the id in flight meanwhile (which will
      // fail) must not take the echo for another instance's deletion.
      if (it->second.done) {
        it->second.done.reset();
        if (it->second.in_flight == 0 && !it->second.heard) own_deletions_.erase(it);
        return;
      }
      if (it->second.in_flight > 0) {
        it->second.heard = true;
        return;
      }
    }
    if (bulk_in_flight_ > 0) heard_during_bulk_.emplace(id);
    if (listener_ != nullptr) listener_->OnTokenDeleted(id);
  }

  void AnnounceHealth(bool healthy) {
    std::lock_guard lock(listener_mu_);
    feed_healthy_ = healthy;
    if (listener_ != nullptr) listener_->OnFeedHealthChanged(healthy);
  }

  const pg::ConnectionConfig config_;
  pg::ConnectionPool pool_;

  std::mutex listener_mu_;
  ChangeListener* listener_ = nullptr;                          // guarded by listener_mu_
  bool feed_healthy_ = true;                                    // guarded by listener_mu_
  std::unordered_map<std::string, OwnDeletion> own_deletions_;  // guarded by listener_mu_
  int bulk_in_flight_ = 0;                                      // guarded by listener_mu_
  std::unordered_set<std::string> heard_during_bulk_;           // guarded by listener_mu_

  std::unique_ptr<pg::DeletionFeed> feed_;  // last: stopped first
};

}  // namespace

Status CheckPostgresUrl(std::string_view url) {
  return pg::ConnectionConfig::Parse(url, 0).status();
}

Result<std::unique_ptr<TokenStore>> OpenPostgresStore(std::string_view url,
                                                      const StoreOptions& options) {
  Result<pg::ConnectionConfig> config =
      pg::ConnectionConfig::Parse(url, options.connect_timeout_seconds);
  if (!config.ok()) return config.status();
  {
    Result<ConnPtr> conn = config->Connect(nullptr);
    if (!conn.ok()) return conn.status();
    if (Status s = Migrate(conn->get(), *config); !s.ok()) return s;
  }
  auto store = std::make_unique<PostgresStore>(std::move(config).value(), options);
  if (Status s = store->Start(); !s.ok()) return s;
  return std::unique_ptr<TokenStore>(std::move(store));
}

}  // namespace tokend::store
