// The PostgreSQL backend: plain libpq, a bounded connection pool, prepared
// statements, and a LISTEN/NOTIFY feed of deletions shared by every instance.
// Audit events are linked into one hash chain per concurrent writer of this
// instance (see Transact), so that writes never queue behind a single chain.
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/rotation.h"
#include "store/audit_json.h"
#include "store/audit_log.h"
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
// The 13 columns' arrays, in TOKEND_TOKEN_COLUMNS order, for unnest().
#define TOKEND_TOKEN_ARRAYS                                                                  \
  "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], " \
  "$8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[]"
#define TOKEND_INSERT_MANY_SQL \
  "INSERT INTO tokens (" TOKEND_TOKEN_COLUMNS ") SELECT * FROM unnest(" TOKEND_TOKEN_ARRAYS ")"
constexpr Statement kInsertMany = {"tokend_insert_many", TOKEND_INSERT_MANY_SQL, 13};
// Without a conflict target: a row taking an id or a secret_hash already
// stored, or taken earlier in the same statement, is skipped; so is one
// whose id or secret_hash an earlier import met (import_ledger), and the
// others are recorded there. Of copies of one row, the first is stored. The
// rows stored come back, so that their events are written.
constexpr Statement kInsertAbsent = {
    "tokend_insert_absent",
    "WITH met AS (INSERT INTO import_ledger (id, secret_hash) "
    "SELECT * FROM unnest($1::text[], $9::text[]) ON CONFLICT DO NOTHING "
    "RETURNING id, secret_hash) "
    "INSERT INTO tokens (" TOKEND_TOKEN_COLUMNS ") SELECT DISTINCT ON (id) " TOKEND_TOKEN_COLUMNS
    " FROM unnest(" TOKEND_TOKEN_ARRAYS ") WITH ORDINALITY AS r(" TOKEND_TOKEN_COLUMNS
    ", n) JOIN met USING (id, secret_hash) ORDER BY id, n "
    "ON CONFLICT DO NOTHING RETURNING id, secret_hash",
    13};
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

// A rotation family's lock, held to the end of the transaction by every
// rotation in the family and by the family's revocation: a revocation that
// starts while a rotation of one of the family's tokens is under way waits
// for it, and its DELETE's snapshot (taken after the wait) holds the new
// token. Without it, READ COMMITTED let the revocation miss a token a racing
// rotation inserted and committed after the DELETE began. The two-key form
// ("tokf" and the family id's hash) shares no key with the migration lock;
// two families with one hash only wait for each other.
constexpr Statement kLockFamily = {"tokend_lock_family",
                                   "SELECT pg_advisory_xact_lock(1953459046, hashtext($1))", 1};
// Revocation in bulk against rotation: every rotation holds this lock
// shared to the end of its transaction, a bulk revocation exclusively, before
// its DELETE. A rotation replaces a token the filter matches with one it
// matches too (same type and principal); under READ COMMITTED a DELETE whose
// snapshot predates the rotation's commit found the old row gone and never
// saw the new one, so "revoke every token of P" answered 0 and left P's
// token live. Now the revocation waits for rotations under way, its DELETE's
// snapshot (taken after the wait) holds their new tokens, and rotations that
// start meanwhile wait for it and find their old token revoked. Bulk
// revocations are rare; rotations never wait for each other on it.
constexpr Statement kLockForRotation = {"tokend_lock_for_rotation",
                                        "SELECT pg_advisory_xact_lock_shared(1953459042, 0)", 0};
constexpr Statement kLockForBulkRevocation = {"tokend_lock_for_bulk_revocation",
                                              "SELECT pg_advisory_xact_lock(1953459042, 0)", 0};
// Rotation. The old token's row is locked for the rotation's transaction, so
// two rotations of one token cannot both pass the check. A token is being
// replaced while a newer token of its family exists: once the one it was
// rotated to is revoked or deleted (and no later one remains), it is the
// newest again and may be rotated. The family lock, taken first, keeps
// another rotation of the family from adding a newer one meanwhile.
constexpr Statement kRotationState = {
    "tokend_rotation_state",
    "SELECT (SELECT h.id FROM tokens AS h WHERE h.family_id = coalesce(t.family_id, t.id) "
    "AND (h.creation_date, h.id) > (t.creation_date, t.id) "
    "ORDER BY h.creation_date DESC, h.id DESC LIMIT 1) "
    "FROM tokens AS t WHERE t.id = $1 FOR UPDATE OF t",
    1};
// The old token's change and its announcements commit together: a changed
// expiry is announced like a deletion (caches drop the entry and re-read it),
// and the overlap's end to every instance (each sweeps the token away then).
constexpr Statement kKeepRotated = {
    "tokend_keep_rotated",
    "WITH changed AS (UPDATE tokens SET rotated_to = $2, expiration_date = $3::bigint "
    "WHERE id = $1 RETURNING id, expiration_date) "
    "SELECT pg_notify('tokend_token_deleted', changed.id), "
    "pg_notify('tokend_overlap_started', changed.expiration_date::text) FROM changed",
    3};
constexpr Statement kInsertRetired = {
    "tokend_insert_retired",
    "INSERT INTO retired_secrets (secret_hash, token_id, family_id, overlap_end, forget_after, "
    "token_type, principal, name) "
    "VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6, $7, $8) ON CONFLICT (secret_hash) DO UPDATE "
    "SET token_id = EXCLUDED.token_id, family_id = EXCLUDED.family_id, "
    "overlap_end = EXCLUDED.overlap_end, forget_after = EXCLUDED.forget_after, "
    "reuse_detected_at = NULL, token_type = EXCLUDED.token_type, "
    "principal = EXCLUDED.principal, name = EXCLUDED.name",
    8};
// One statement: the mark, the family's deletion and its announcements
// go together, and nothing is deleted when the reuse was marked before.
// Columns: whether it was marked now, a deleted token's id, (its
// announcement), type, principal and name, then the retired secret's
// subject columns, then whether the deleted token's overlap had ended (it was
// gone already; the sweep had not removed it yet).
constexpr Statement kRevokeFamily = {
    "tokend_revoke_family",
    "WITH marked AS (UPDATE retired_secrets SET reuse_detected_at = $3::bigint "
    "WHERE secret_hash = $2 AND reuse_detected_at IS NULL "
    "RETURNING token_id, token_type, principal, name), "
    "deleted AS (DELETE FROM tokens WHERE (id = $1 OR family_id = $1) "
    "AND EXISTS (SELECT 1 FROM marked) RETURNING id, type, principal, name, "
    "rotated_to IS NOT NULL AND expiration_date <= $3::bigint AS ended) "
    "SELECT (SELECT count(*) FROM marked), deleted.id, "
    "CASE WHEN deleted.id IS NOT NULL THEN pg_notify('tokend_token_deleted', deleted.id) END, "
    "deleted.type, deleted.principal, deleted.name, "
    "m.token_id, m.token_type, m.principal, m.name, deleted.ended "
    "FROM (SELECT 1) AS k LEFT JOIN deleted ON true LEFT JOIN marked AS m ON true",
    3};
constexpr Statement kSweepTokens = {
    "tokend_sweep_tokens",
    "WITH deleted AS (DELETE FROM tokens WHERE rotated_to IS NOT NULL "
    "AND expiration_date <= $1::bigint RETURNING id) "
    "SELECT deleted.id, pg_notify('tokend_token_deleted', deleted.id) FROM deleted",
    1};
// Through tokens_rotated_by_expiration: the first entry of a short index.
constexpr Statement kNextOverlapEnd = {
    "tokend_next_overlap_end",
    "SELECT min(expiration_date) FROM tokens WHERE rotated_to IS NOT NULL", 0};
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
    "LEFT JOIN (SELECT token_id, family_id, overlap_end, forget_after, reuse_detected_at, "
    "token_type, principal, name FROM retired_secrets WHERE secret_hash = $1) AS r ON true",
    1};

// Events (API 8), in one round trip: the event rows of one transaction (in
// chain order), their outbox rows (one per event and webhook URL) and their
// chain's record, whose head is set only by the chain's first transaction.
constexpr Statement kWriteEvents = {
    "tokend_write_events",
    "WITH events AS (INSERT INTO audit_events (id, writer, seq, time, action, subject_id, "
    "subject_type, subject_principal, body, prev_hash, hash) "
    "SELECT e.id, $1, e.seq, e.time, e.action, e.subject_id, e.subject_type, "
    "e.subject_principal, e.body, e.prev_hash, e.hash "
    "FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], "
    "$8::text[], $9::text[], $10::text[], $11::text[]) "
    "AS e(id, seq, time, action, subject_id, subject_type, subject_principal, body, prev_hash, "
    "hash) RETURNING 1), "
    "queued AS (INSERT INTO webhook_outbox (event_id, url, payload, attempts, next_attempt_at, "
    "failed, queued_at) "
    "SELECT e.id, u.url, e.payload, 0, e.time, false, e.time "
    "FROM unnest($2::text[], $4::bigint[], $12::text[]) AS e(id, time, payload) "
    "CROSS JOIN unnest($13::text[]) AS u(url) RETURNING 1) "
    "INSERT INTO audit_chains (writer, first_seq, first_prev_hash, last_seq, last_hash) "
    "VALUES ($1, $14::bigint, $15, $16::bigint, $17) ON CONFLICT (writer) DO UPDATE SET "
    "last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash",
    17};
constexpr Statement kNoticeProgress = {
    "tokend_notice_progress",
    "SELECT done_until FROM notice_progress WHERE threshold_seconds = $1::bigint", 1};
constexpr Statement kNoticeStart = {
    "tokend_notice_start",
    "INSERT INTO notice_progress (threshold_seconds, done_until) VALUES ($1::bigint, $2::bigint) "
    "ON CONFLICT (threshold_seconds) DO NOTHING",
    2};
// Compare-and-set: of two instances claiming one window, the second waits
// for the first's row lock, then finds done_until moved and claims nothing.
constexpr Statement kNoticeClaim = {
    "tokend_notice_claim",
    "UPDATE notice_progress SET done_until = $3::bigint "
    "WHERE threshold_seconds = $1::bigint AND done_until = $2::bigint",
    3};
// Tokens whose crossing time (expiration_date - $3 ms) lies in ($1, $2]: a
// range of tokens_by_expiration. $4 = 1 for a threshold > 0: created before
// the crossing and not yet inside the next threshold ($5 ms) at $6.
constexpr Statement kNoticeTokens = {
    "tokend_notice_tokens",
    "SELECT " TOKEND_TOKEN_COLUMNS
    " FROM tokens WHERE expiration_date > $1::bigint + $3::bigint "
    "AND expiration_date <= $2::bigint + $3::bigint AND rotated_to IS NULL "
    "AND ($4::int = 0 OR creation_date < expiration_date - $3::bigint) "
    "AND NOT EXISTS (SELECT 1 FROM audit_events AS e WHERE e.subject_id = tokens.id "
    "AND e.time > tokens.expiration_date - $3::bigint AND e.action = 'token.created') "
    "ORDER BY expiration_date, id",
    4};
constexpr Statement kChainWriters = {
    "tokend_chain_writers",
    "SELECT writer, first_seq, first_prev_hash, last_seq, last_hash, last_removed_body, "
    "last_removed_prev_hash FROM audit_chains "
    "WHERE writer > $1 ORDER BY writer LIMIT 100",
    1};
constexpr Statement kLockChain = {
    "tokend_lock_chain",
    "SELECT writer, first_seq, first_prev_hash, last_seq, last_hash FROM audit_chains "
    "WHERE writer = $1 FOR UPDATE",
    1};
constexpr Statement kUnrecordedWriter = {
    "tokend_unrecorded_writer",
    "SELECT writer FROM audit_events e WHERE NOT EXISTS "
    "(SELECT 1 FROM audit_chains c WHERE c.writer = e.writer) LIMIT 1",
    0};
// The first token created at or after $1 with no token.created event, other
// than those stored before every token had one.
constexpr Statement kUnrecordedCreation = {
    "tokend_unrecorded_creation",
    "SELECT t.id FROM tokens t WHERE t.creation_date >= $1::bigint "
    "AND NOT EXISTS (SELECT 1 FROM audit_events e "
    "WHERE e.subject_id = t.id AND e.action = 'token.created') "
    "AND NOT EXISTS (SELECT 1 FROM audit_unrecorded_tokens u WHERE u.id = t.id) "
    "ORDER BY t.creation_date, t.id LIMIT 1",
    1};
constexpr Statement kChainEvents = {
    "tokend_chain_events",
    "SELECT id, seq, time, action, subject_id, subject_type, subject_principal, body, "
    "prev_hash, hash FROM audit_events WHERE writer = $1 AND seq > $2::bigint "
    "ORDER BY seq LIMIT 1000",
    2};
constexpr Statement kPruneFirstKept = {
    "tokend_prune_first_kept",
    "SELECT seq, prev_hash FROM audit_events WHERE writer = $1 AND time >= $2::bigint "
    "ORDER BY seq LIMIT 1",
    2};
constexpr Statement kPruneLastRemoved = {
    "tokend_prune_last_removed",
    "SELECT body, prev_hash FROM audit_events WHERE writer = $1 AND seq = $2::bigint", 2};
constexpr Statement kPruneEvents = {
    "tokend_prune_events", "DELETE FROM audit_events WHERE writer = $1 AND seq < $2::bigint", 2};
constexpr Statement kPruneChain = {
    "tokend_prune_chain",
    "UPDATE audit_chains SET first_seq = $2::bigint, first_prev_hash = $3, "
    "last_removed_body = $4, last_removed_prev_hash = $5 WHERE writer = $1",
    5};
// Due deliveries, oldest first; rows another instance is claiming right now
// are skipped, and a row it claimed meanwhile fails the recheck of the
// WHERE clause after its lock is released. RETURNING has no order: the
// caller sorts. The rows are picked once, in a materialized CTE: as an IN
// subquery, a generic plan made while the outbox was empty rescanned it for
// every row of the outbox, and each rescan skipped the rows this UPDATE had
// just claimed and locked the next, so one claim took every due row.
constexpr Statement kClaimDeliveries = {
    "tokend_claim_deliveries",
    "WITH picked AS MATERIALIZED (SELECT event_id, url FROM webhook_outbox WHERE NOT failed "
    "AND next_attempt_at <= $1::bigint AND (claimed_until IS NULL OR claimed_until <= $1::bigint) "
    "AND url <> ALL($4::text[]) "
    "ORDER BY queued_at, event_id, url LIMIT $3::bigint FOR UPDATE SKIP LOCKED) "
    "UPDATE webhook_outbox o SET claimed_until = $2::bigint FROM picked "
    "WHERE o.event_id = picked.event_id AND o.url = picked.url "
    "RETURNING o.event_id, o.url, o.payload, o.attempts, o.queued_at",
    4};
constexpr Statement kDelivered = {"tokend_delivered",
                                  "DELETE FROM webhook_outbox WHERE event_id = $1 AND url = $2", 2};
constexpr Statement kRetryDelivery = {
    "tokend_retry_delivery",
    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $3::bigint, "
    "claimed_until = NULL, last_error = $4 WHERE event_id = $1 AND url = $2",
    4};
constexpr Statement kFailDelivery = {
    "tokend_fail_delivery",
    "UPDATE webhook_outbox SET attempts = attempts + 1, failed = true, claimed_until = NULL, "
    "last_error = $3 WHERE event_id = $1 AND url = $2",
    3};
constexpr Statement kOutboxStats = {
    "tokend_outbox_stats",
    "SELECT (SELECT count(*) FROM webhook_outbox WHERE NOT failed), "
    "(SELECT count(*) FROM webhook_outbox WHERE failed), "
    "(SELECT min(queued_at) FROM webhook_outbox WHERE NOT failed)",
    0};

constexpr Statement kKnownToImports = {
    "tokend_known_to_imports",
    "SELECT EXISTS (SELECT 1 FROM import_ledger WHERE id = $1 OR secret_hash = $2)", 2};

constexpr const Statement* kPrepared[] = {&kFindById,
                                          &kFindBySecretHash,
                                          &kInsert,
                                          &kInsertMany,
                                          &kDelete,
                                          &kCountByType,
                                          &kPing,
                                          &kInsertAbsent,
                                          &kKnownToImports,
                                          &kRecordUses,
                                          &kLockFamily,
                                          &kLockForRotation,
                                          &kLockForBulkRevocation,
                                          &kRotationState,
                                          &kKeepRotated,
                                          &kInsertRetired,
                                          &kRevokeFamily,
                                          &kSweepTokens,
                                          &kSweepRetired,
                                          &kNextOverlapEnd,
                                          &kLookupSecret,
                                          &kWriteEvents,
                                          &kNoticeProgress,
                                          &kNoticeStart,
                                          &kNoticeClaim,
                                          &kNoticeTokens,
                                          &kChainWriters,
                                          &kLockChain,
                                          &kUnrecordedWriter,
                                          &kChainEvents,
                                          &kPruneFirstKept,
                                          &kPruneLastRemoved,
                                          &kPruneEvents,
                                          &kPruneChain,
                                          &kClaimDeliveries,
                                          &kDelivered,
                                          &kRetryDelivery,
                                          &kFailDelivery,
                                          &kOutboxStats,
                                          &kUnrecordedCreation};

ResultPtr Exec(PGconn* conn, const Statement& statement, const std::vector<const char*>& params) {
  const pg::CallDeadline deadline(conn);
  return ResultPtr(PQexecPrepared(conn, statement.name, static_cast<int>(params.size()),
                                  params.data(), nullptr, nullptr, 0));
}

ResultPtr ExecSql(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                  std::size_t count) {
  std::vector<const char*> values;
  values.reserve(count);
  for (std::size_t i = 0; i < count; ++i) values.push_back(params[i].c_str());
  const pg::CallDeadline deadline(conn);
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

// The subject of an event from a result row: the id in column `id`, the
// type, principal and name from column `type` on.
core::EventSubject ReadSubject(const PGresult* result, int row, int id, int type) {
  return SubjectFromColumns(
      OptionalText(result, row, id).value_or(""), OptionalText(result, row, type).value_or(""),
      OptionalText(result, row, type + 1), OptionalText(result, row, type + 2).value_or(""));
}

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

// The unnest() parameters of kInsertMany and kInsertAbsent for `rows`: one
// array literal per column, in TOKEND_TOKEN_COLUMNS order.
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

std::vector<std::optional<std::string>> TypeNames(const std::vector<core::TokenType>& types) {
  std::vector<std::optional<std::string>> names;
  for (core::TokenType type : types) names.emplace_back(std::string(core::ToString(type)));
  return names;
}

std::string TypeArray(const std::vector<core::TokenType>& types) {
  return pg::ArrayLiteral(TypeNames(types));
}

// The WHERE clauses of a query, over tokens and over token_counts, sharing
// one parameter list ($1..$n). Input only ever travels as parameters.
struct Filter {
  std::vector<std::string> params;
  std::string tokens_where;
  std::string counts_where;
  bool matches_nothing = false;
  bool has_dates = false;  // a filter token_counts cannot answer: count rows
  // The columns compared with "= $n", and whether any condition is of
  // another kind (ANY, a range, a policy).
  std::unordered_set<std::string_view> equal_columns;
  bool only_equalities = true;

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

// "= $n" for one value, "= ANY($n::text[])" for several: PostgreSQL reads
// an index in order under an equality, not under ANY (even of one element),
// so a one-value filter with ANY would sort every match to find a page.
std::string MatchAnyOf(Filter& filter, std::string_view column,
                       const std::vector<std::optional<std::string>>& values) {
  if (values.size() == 1) {
    filter.equal_columns.insert(column);
    return std::string(column) + " = " + filter.Param(*values.front());
  }
  filter.only_equalities = false;
  return std::string(column) + " = ANY(" + filter.Param(pg::ArrayLiteral(values)) + "::text[])";
}

// True when one index serves a page of `filter` in `sort` order the same
// way whatever the values compared: every condition an equality on one
// value, over none, the principal, or the type and the principal, which
// lead an index that continues with the creation date. PostgreSQL may then
// keep one plan for the statement on a connection (a generic plan) with no
// value it serves worse. Under any other filter the best plan depends on
// how many rows the values match (a principal with three tokens or with a
// hundred thousand), so the statement is planned for its values each time.
bool OneIndexServesEveryValue(const Filter& filter, core::SortField sort) {
  if (!filter.only_equalities || sort != core::SortField::kCreationDate) return false;
  const auto& columns = filter.equal_columns;
  if (columns.empty()) return true;
  if (!columns.contains("principal")) return false;
  return columns.size() == 1 || (columns.size() == 2 && columns.contains("type"));
}

Filter BuildFilter(const core::TokenQuery& query, const core::Visibility& visibility) {
  Filter filter;
  if (!query.types.empty()) {
    const std::string condition = MatchAnyOf(filter, "type", TypeNames(query.types));
    filter.Add(condition, condition);
  }
  if (!visibility.everything) {
    // A principal the database could not store matches no token.
    if (visibility.types.empty() || !IsStorableText(visibility.principal)) {
      filter.matches_nothing = true;
      return filter;
    }
    const std::string type_condition = MatchAnyOf(filter, "type", TypeNames(visibility.types));
    const std::string principal = filter.Param(visibility.principal);
    filter.equal_columns.insert("principal");
    filter.Add(type_condition + " AND principal = " + principal,
               type_condition + " AND NOT principal_null AND principal = " + principal);
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
    const std::string condition = MatchAnyOf(filter, "principal", principals);
    filter.Add(condition, "NOT principal_null AND " + condition);
  }
  if (query.from_date) {
    filter.has_dates = true;
    filter.only_equalities = false;
    const std::string p = filter.Param(std::to_string(*query.from_date));
    filter.Add("creation_date >= " + p, "");
  }
  if (query.to_date) {
    filter.has_dates = true;
    filter.only_equalities = false;
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
    filter.only_equalities = false;
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
    filter.only_equalities = false;
    const std::string p = filter.Param(std::to_string(*query.last_used_before));
    filter.Add("(last_used_date IS NULL OR last_used_date < " + p + "::bigint)", "");
  }
  if (query.last_used_after) {
    filter.has_dates = true;
    filter.only_equalities = false;
    const std::string p = filter.Param(std::to_string(*query.last_used_after));
    filter.Add("last_used_date >= " + p + "::bigint", "");
  }
  return filter;
}

// The migrations whose versions are not among `applied` (one version per
// row, first column), in version order, each with its SQL.
Result<std::vector<std::pair<std::int64_t, std::string_view>>> PendingMigrations(
    const PGresult* applied_rows) {
  std::vector<std::int64_t> applied;
  for (int row = 0; row < PQntuples(applied_rows); ++row) {
    if (auto v = ParseInt64(PQgetvalue(applied_rows, row, 0))) applied.push_back(*v);
  }
  std::vector<std::pair<std::int64_t, std::string_view>> pending;
  for (const EmbeddedFile& file : EmbeddedMigrations()) {
    if (!file.name.starts_with(kMigrationPrefix)) continue;
    const std::string_view base = file.name.substr(kMigrationPrefix.size());
    std::int64_t version = 0;
    auto [ptr, ec] = std::from_chars(base.data(), base.data() + base.size(), version);
    if (ec != std::errc() || ptr == base.data()) {
      return Status::Internal("PostgreSQL migration file without a version: " +
                              std::string(file.name));
    }
    if (std::find(applied.begin(), applied.end(), version) == applied.end()) {
      pending.emplace_back(version, file.sql);
    }
  }
  std::sort(pending.begin(), pending.end());
  return pending;
}

// For StoreOptions::migrate false: reads, changes nothing.
Status CheckSchemaIsCurrent(PGconn* conn, const pg::ConnectionConfig& config) {
  ResultPtr exists(PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL"));
  if (!Succeeded(exists.get(), PGRES_TUPLES_OK)) {
    return pg::TranslateError(config, conn, exists.get(), "reading the schema");
  }
  if (std::string_view(PQgetvalue(exists.get(), 0, 0)) != "t") {
    return Status::NotFound("the database holds no tokend store yet");
  }
  ResultPtr applied(PQexec(conn, "SELECT version FROM schema_migrations"));
  if (!Succeeded(applied.get(), PGRES_TUPLES_OK)) {
    return pg::TranslateError(config, conn, applied.get(), "reading the schema");
  }
  Result<std::vector<std::pair<std::int64_t, std::string_view>>> pending =
      PendingMigrations(applied.get());
  if (!pending.ok()) return pending.status();
  if (!pending->empty()) return SchemaOlderThanThisTokend("the database");
  return Status::Ok();
}

Status Migrate(PGconn* conn, const pg::ConnectionConfig& config) {
  auto fail = [&](const PGresult* result, std::string_view what) {
    Status status = pg::TranslateError(config, conn, result, what);
    ResultPtr rollback = pg::ExecBounded(conn, "ROLLBACK");
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
  // No statement timeout while migrating: an index built over a million
  // tokens takes longer than a request may, and an instance starting beside
  // one that migrates waits for its lock as long as that takes.
  if (Status s = run("SET LOCAL statement_timeout = 0", PGRES_COMMAND_OK, "migration", nullptr);
      !s.ok()) {
    return s;
  }
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
  Result<std::vector<std::pair<std::int64_t, std::string_view>>> pending =
      PendingMigrations(applied_rows.get());
  if (!pending.ok()) {
    ResultPtr rollback = pg::ExecBounded(conn, "ROLLBACK");
    return pending.status();
  }
  for (const auto& [version, sql] : *pending) {
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
        webhook_urls_(options.webhook_urls),
        max_insert_groups_(std::max(1, options.pool_size / 2)),
        open_pool_at_start_(options.open_pool_at_start),
        pool_(config_, options.pool_size,
              std::chrono::seconds(std::max(1, options.connect_timeout_seconds)),
              [this](PGconn* conn) { return Prepare(conn); }) {}

  ~PostgresStore() override {
    stopping_pool_opener_.store(true, std::memory_order_relaxed);
    if (pool_opener_.joinable()) pool_opener_.join();
    {
      std::lock_guard lock(inserts_mu_);
      stopping_insert_writers_ = true;
    }
    insert_writers_cv_.notify_all();
    for (std::thread& writer : insert_writers_) writer.join();
    feed_.reset();
  }

  Status Start() {
    feed_ = std::make_unique<pg::DeletionFeed>(
        config_,
        pg::DeletionFeed::Callbacks{
            [this](std::string_view id) { AnnounceDeleted(id); },
            [this](bool healthy) { AnnounceHealth(healthy); },
            [this](bool lagging) { AnnounceLagging(lagging); },
            [this](core::EpochMillis end) { AnnounceOverlapStarted(end); },
            [this](std::chrono::steady_clock::time_point until) { AnnounceFreshUntil(until); }});
    Status status = feed_->Start();
    if (!status.ok()) {
      feed_.reset();
      return status;
    }
    if (open_pool_at_start_) pool_opener_ = std::thread([this] { OpenPool(); });
    return status;
  }

  Status Insert(const core::Token& token, std::span<const core::AuditEvent> events) override {
    Result<TokenRow> row = EncodeTokenRow(token);
    if (!row.ok()) return row.status();
    if (events.empty()) {
      // One statement, one round trip. Not retried: a lost reply leaves the
      // outcome unknown.
      const InsertParams params(*row);
      return WithConnection(false, [&](PGconn* conn) {
        ResultPtr result = Exec(conn, kInsert, params.values);
        if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
          return pg::TranslateError(config_, conn, result.get(), "insert");
        }
        return Status::Ok();
      });
    }
    PendingInsert pending(std::move(row).value(), events);
    return GroupInsert(pending);
  }

  bool QueuesInserts() const override { return true; }

  // Queued for the insert writers, which write it in a group as Insert would
  // and call `done` after the COMMIT: no thread waits for the round trips.
  void SubmitInsert(const core::Token& token, std::span<const core::AuditEvent> events,
                    std::function<void(Status)> done) override {
    Result<TokenRow> row = EncodeTokenRow(token);
    if (!row.ok()) {
      done(row.status());
      return;
    }
    auto* pending = new PendingInsert(std::move(row).value(), {});
    pending->owned_events.assign(events.begin(), events.end());
    pending->events = pending->owned_events;
    pending->submitted = std::move(done);
    std::call_once(insert_writers_started_, [this] {
      for (int i = 0; i < max_insert_groups_; ++i) {
        insert_writers_.emplace_back([this] { InsertWriterLoop(); });
      }
    });
    {
      std::lock_guard lock(inserts_mu_);
      queued_inserts_.push_back(pending);
    }
    insert_writers_cv_.notify_one();
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
        ResultPtr rollback = pg::ExecBounded(conn, "ROLLBACK");
        return status;
      };
      ResultPtr begin = pg::ExecBounded(conn, "BEGIN");
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
      ResultPtr commit = pg::ExecBounded(conn, "COMMIT");
      if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return fail(commit.get(), "insert commit");
      return Status::Ok();
    });
  }

  Result<core::Token> FindById(std::string_view id) override {
    return FindOne(kFindById, id, "token id");
  }

  Result<std::int64_t> InsertAbsent(std::span<const core::Token> tokens,
                                    std::span<const core::AuditEvent> events) override {
    if (tokens.empty()) return std::int64_t{0};
    if (!events.empty() && events.size() != tokens.size()) {
      return Status::InvalidArgument("InsertAbsent needs one event per token, or none");
    }
    std::vector<TokenRow> rows;
    rows.reserve(tokens.size());
    for (const core::Token& token : tokens) {
      Result<TokenRow> row = EncodeTokenRow(token);
      if (!row.ok()) return row.status();
      rows.push_back(std::move(row).value());
    }
    std::int64_t inserted = 0;
    // Not retried: a lost reply leaves the outcome unknown.
    Status status = Transact("insert", [&](PGconn* conn, ChainAppender& chain) {
      inserted = 0;
      std::vector<core::AuditEvent> stored_events;
      for (std::size_t start = 0; start < rows.size(); start += kInsertBatch) {
        const std::size_t end = std::min(rows.size(), start + kInsertBatch);
        const std::vector<std::string> arrays =
            ColumnArrays(std::span(rows).subspan(start, end - start));
        std::vector<const char*> params;
        for (const std::string& array : arrays) params.push_back(array.c_str());
        ResultPtr result = Exec(conn, kInsertAbsent, params);
        if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
          return pg::TranslateError(config_, conn, result.get(), "insert");
        }
        const int stored = PQntuples(result.get());
        inserted += stored;
        if (events.empty()) continue;
        // A stored row is named by its id and hash together (both unique),
        // which tells it from a skipped row of the same id or hash.
        std::vector<bool> matched(end - start, false);
        for (int r = 0; r < stored; ++r) {
          const std::string_view id = PQgetvalue(result.get(), r, 0);
          const std::string_view hash = PQgetvalue(result.get(), r, 1);
          for (std::size_t i = start; i < end; ++i) {
            if (!matched[i - start] && rows[i].id == id && rows[i].secret_hash == hash) {
              matched[i - start] = true;
              break;
            }
          }
        }
        for (std::size_t i = start; i < end; ++i) {
          if (matched[i - start]) stored_events.push_back(events[i]);
        }
      }
      return WriteEvents(conn, chain, stored_events);
    });
    if (!status.ok()) return status;
    return inserted;
  }

  Result<core::Token> FindBySecretHash(std::string_view secret_hash) override {
    return FindOne(kFindBySecretHash, secret_hash, "token secret hash");
  }

  Result<bool> KnownToImports(std::string_view id, std::string_view secret_hash) override {
    // Text PostgreSQL cannot hold is in no row.
    if (!IsStorableText(id) || !IsStorableText(secret_hash)) return false;
    const std::string id_value(id);
    const std::string hash_value(secret_hash);
    bool known = false;
    Status status = WithConnection(true, [&](PGconn* conn) {
      ResultPtr result = Exec(conn, kKnownToImports, {id_value.c_str(), hash_value.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "lookup");
      }
      known = std::string_view(PQgetvalue(result.get(), 0, 0)) == "t";
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return known;
  }

  Status Delete(std::string_view id, std::span<const core::AuditEvent> events) override {
    if (!IsStorableText(id)) return Status::NotFound("no token with this id");
    const std::string key(id);
    {
      std::lock_guard lock(listener_mu_);
      ++own_deletions_[key].in_flight;
    }
    Status status = Transact("delete", [&](PGconn* conn, ChainAppender& chain) {
      ResultPtr result = Exec(conn, kDelete, {key.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "delete");
      }
      if (PQntuples(result.get()) == 0) return Status::NotFound("no token with id " + key);
      return WriteEvents(conn, chain, events);
    });
    FinishOwnDeletion(key, status.ok());
    return status;
  }

  Result<std::vector<std::string>> DeleteMatching(const core::TokenQuery& query,
                                                  const core::Visibility& visibility,
                                                  const core::EventOrigin& origin,
                                                  core::EpochMillis now) override {
    std::vector<std::string> deleted;
    Filter filter = BuildFilter(query, visibility);
    if (filter.matches_nothing) return deleted;
    // One transaction: the rows go, their announcements are queued and a
    // `token.revoked` event (reason "bulk") per row is written together, or
    // nothing happens. A notification is delivered only at commit. The rows
    // come (and their events are written) in id order, as on SQLite.
    const std::string sql = "WITH deleted AS (DELETE FROM tokens" + filter.tokens_where +
                            " RETURNING id, type, principal, name) SELECT deleted.id, "
                            "pg_notify('tokend_token_deleted', deleted.id), deleted.type, "
                            "deleted.principal, deleted.name FROM deleted ORDER BY deleted.id";
    StartOwnBulkDeletion();
    Status status = Transact("delete", [&](PGconn* conn, ChainAppender& chain) -> Status {
      deleted.clear();
      ResultPtr locked = Exec(conn, kLockForBulkRevocation, {});
      if (!Succeeded(locked.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, locked.get(), "bulk revocation lock");
      }
      ResultPtr result = ExecSql(conn, sql, filter.params, filter.params.size());
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "delete");
      }
      const int n = PQntuples(result.get());
      deleted.reserve(static_cast<std::size_t>(n));
      std::vector<core::AuditEvent> events;
      events.reserve(static_cast<std::size_t>(n));
      for (int row = 0; row < n; ++row) {
        deleted.push_back(*OptionalText(result.get(), row, 0));
        events.push_back(
            RevokedEvent(ReadSubject(result.get(), row, 0, 2), core::kReasonBulk, origin, now));
      }
      return WriteEvents(conn, chain, events);
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
    const std::string order = OrderBy(query.sort, query.order);
    std::string select = "SELECT " TOKEND_TOKEN_COLUMNS " FROM tokens";
    if (offset > 0) {
      // A deep page takes its ids from the index first: the rows OFFSET
      // skips are then index entries (an index-only scan once the table is
      // vacuumed) instead of one table row fetched for each.
      select += " WHERE id IN (SELECT id FROM tokens" + filter.tokens_where + order;
      if (limit >= 0) select += " LIMIT " + filter.Param(std::to_string(limit));
      select += " OFFSET " + filter.Param(std::to_string(offset)) + ")" + order;
    } else {
      select += filter.tokens_where + order;
      if (limit >= 0) select += " LIMIT " + filter.Param(std::to_string(limit));
    }
    const std::string count =
        filter.has_dates
            ? "SELECT count(*) FROM tokens" + filter.tokens_where
            : "SELECT coalesce(sum(n), 0)::bigint FROM token_counts" + filter.counts_where;

    // The count reads token_counts by its key whatever the values.
    const bool prepare_select = OneIndexServesEveryValue(filter, query.sort);
    const bool prepare_count = !filter.has_dates;
    Status status = WithLease(true, [&](pg::ConnectionPool::Lease& lease) -> Status {
      page = TokenPage();
      return ReadPage(lease, "query", {select, limit != 0, prepare_select},
                      {count, count_total, prepare_count}, filter.params, filter_params, page.total,
                      [&](const PGresult* rows, int row) -> Status {
                        Result<core::Token> token = RowToToken(rows, row);
                        if (!token.ok()) return token.status();
                        page.tokens.push_back(std::move(token).value());
                        return Status::Ok();
                      });
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

  // After a bulk load, PostgreSQL's autovacuum gets to the new rows only
  // later: until then the planner's row estimates are stale and the
  // visibility map is empty, so every index-only scan (each deep page reads
  // its ids that way) visits the table for every entry it passes. At a
  // million tokens that made the first minutes' deep pages 5 to 10 times
  // slower (docs/PERFORMANCE.md). VACUUM cannot run inside a transaction:
  // one statement on its own.
  Status AfterBulkLoad() override {
    return WithConnection(true, [&](PGconn* conn) {
      ResultPtr result(PQexec(conn, "VACUUM (ANALYZE) tokens, audit_events"));
      if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "vacuum after a bulk load");
      }
      return Status::Ok();
    });
  }

  void SetChangeListener(ChangeListener* listener) override {
    std::lock_guard lock(listener_mu_);
    listener_ = listener;
    if (listener_ != nullptr && !feed_healthy_) listener_->OnFeedHealthChanged(false);
    if (listener_ != nullptr && feed_lagging_) listener_->OnFeedLagging(true);
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

  // kLockFamily, in the caller's transaction.
  Status LockFamily(PGconn* conn, const std::string& family_id) {
    ResultPtr locked = Exec(conn, kLockFamily, {family_id.c_str()});
    if (!Succeeded(locked.get(), PGRES_TUPLES_OK)) {
      return pg::TranslateError(config_, conn, locked.get(), "rotation family lock");
    }
    return Status::Ok();
  }

  Status Rotate(const Rotation& rotation) override {
    Result<TokenRow> row = EncodeTokenRow(rotation.new_token);
    if (!row.ok()) return row.status();
    if (!IsStorableText(rotation.old_id)) return Status::NotFound("no token with this id");
    const InsertParams insert(*row);
    const std::string old_expiration =
        rotation.old_expiration ? std::to_string(*rotation.old_expiration) : std::string();
    const std::string type_name(
        core::ToString(rotation.retired ? rotation.retired->token_type : core::TokenType::kGlobal));
    bool changed = false;
    StartOwnBulkDeletion();
    // Not retried: a lost reply leaves the outcome unknown.
    Status status = Transact("rotate", [&](PGconn* conn, ChainAppender& chain) -> Status {
      changed = false;
      ResultPtr shared = Exec(conn, kLockForRotation, {});
      if (!Succeeded(shared.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, shared.get(), "rotation lock");
      }
      if (Status locked = LockFamily(conn, rotation.new_token.Family()); !locked.ok()) {
        return locked;
      }
      ResultPtr state = Exec(conn, kRotationState, {rotation.old_id.c_str()});
      if (!Succeeded(state.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, state.get(), "rotate");
      }
      if (PQntuples(state.get()) == 0) {
        return Status::NotFound("no token with id " + rotation.old_id);
      }
      if (const std::optional<std::string> newer = OptionalText(state.get(), 0, 0)) {
        return core::RotationPending(rotation.old_id, *newer);
      }
      ResultPtr inserted = Exec(conn, kInsert, insert.values);
      if (!Succeeded(inserted.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, inserted.get(), "rotate");
      }
      ResultPtr old = rotation.keep_old
                          ? Exec(conn, kKeepRotated,
                                 {rotation.old_id.c_str(), rotation.new_token.id.c_str(),
                                  rotation.old_expiration ? old_expiration.c_str() : nullptr})
                          : Exec(conn, kDelete, {rotation.old_id.c_str()});
      if (!Succeeded(old.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, old.get(), "rotate");
      }
      if (rotation.retired) {
        const RetiredSecret& retired = *rotation.retired;
        const std::string overlap_end = std::to_string(retired.overlap_end);
        const std::string forget_after = std::to_string(retired.forget_after);
        ResultPtr written =
            Exec(conn, kInsertRetired,
                 {retired.secret_hash.c_str(), retired.token_id.c_str(), retired.family_id.c_str(),
                  overlap_end.c_str(), forget_after.c_str(), type_name.c_str(),
                  OptionalParam(retired.principal), retired.name.c_str()});
        if (!Succeeded(written.get(), PGRES_COMMAND_OK)) {
          return pg::TranslateError(config_, conn, written.get(), "rotate");
        }
      }
      return WriteEvents(conn, chain, rotation.events);
    });
    changed = status.ok();
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
        // Null in rows written before these columns existed.
        retired.token_type = core::ParseTokenType(OptionalText(result.get(), 0, r + 5).value_or(""))
                                 .value_or(core::TokenType::kGlobal);
        retired.principal = OptionalText(result.get(), 0, r + 6);
        retired.name = OptionalText(result.get(), 0, r + 7).value_or("");
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
    // One transaction: the mark, the deletions and their events.
    Status status = Transact("revoke family", [&](PGconn* conn, ChainAppender& chain) -> Status {
      revocation = FamilyRevocation();
      if (Status locked = LockFamily(conn, family); !locked.ok()) return locked;
      ResultPtr result = Exec(conn, kRevokeFamily, {family.c_str(), hash.c_str(), when.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "revoke family");
      }
      std::vector<core::EventSubject> members;
      RetiredSubject retired;
      for (int row = 0; row < PQntuples(result.get()); ++row) {
        if (row == 0) {
          revocation.first_detection = ParseInt64(PQgetvalue(result.get(), 0, 0)).value_or(0) > 0;
          if (revocation.first_detection) {
            retired.token_id = OptionalText(result.get(), 0, 6).value_or("");
            retired.type = OptionalText(result.get(), 0, 7);
            retired.principal = OptionalText(result.get(), 0, 8);
            retired.name = OptionalText(result.get(), 0, 9);
          }
        }
        if (!PQgetisnull(result.get(), row, 1)) {
          revocation.deleted.push_back(*OptionalText(result.get(), row, 1));
          // One whose overlap ended is removed as the sweep would, with no event.
          if (OptionalText(result.get(), row, 10) != "t") {
            members.push_back(ReadSubject(result.get(), row, 1, 3));
          }
        }
      }
      if (!revocation.first_detection) return Status::Ok();
      revocation.revoked = static_cast<std::int64_t>(members.size());
      return WriteEvents(conn, chain, ReuseEvents(retired, members, now));
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
      ResultPtr next = Exec(conn, kNextOverlapEnd, {});
      if (!Succeeded(next.get(), PGRES_TUPLES_OK) || PQntuples(next.get()) != 1) {
        return pg::TranslateError(config_, conn, next.get(), "sweep");
      }
      counts.next_overlap_end = ParseInt64(PQgetvalue(next.get(), 0, 0));
      return Status::Ok();
    });
    // The tokens' statement commits on its own, so its deletions stand even
    // when the second one fails.
    FinishOwnBulkDeletion(deleted);
    if (!status.ok()) return status;
    counts.tokens = static_cast<std::int64_t>(deleted.size());
    return counts;
  }

  Result<std::int64_t> RecordExpiryNotices(const NoticeScan& scan) override {
    const std::string threshold = std::to_string(scan.threshold_seconds);
    const std::string until = std::to_string(scan.until);
    const std::string threshold_millis = std::to_string(scan.threshold_seconds * 1000);
    const char* with_rules = scan.threshold_seconds > 0 ? "1" : "0";
    std::int64_t written = 0;
    Status status = Transact("expiry notices", [&](PGconn* conn, ChainAppender& chain) -> Status {
      written = 0;
      ResultPtr progress = Exec(conn, kNoticeProgress, {threshold.c_str()});
      if (!Succeeded(progress.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, progress.get(), "expiry notices");
      }
      if (PQntuples(progress.get()) == 0) {
        // A threshold never scanned starts now: nothing before is notified.
        ResultPtr start = Exec(conn, kNoticeStart, {threshold.c_str(), until.c_str()});
        if (!Succeeded(start.get(), PGRES_COMMAND_OK)) {
          return pg::TranslateError(config_, conn, start.get(), "expiry notices");
        }
        return Status::Ok();
      }
      const std::optional<std::int64_t> done_until = ParseInt64(PQgetvalue(progress.get(), 0, 0));
      if (!done_until) return Status::Internal("PostgreSQL: bad notice progress");
      if (*done_until >= scan.until) return Status::Ok();
      const std::string from = std::to_string(*done_until);
      ResultPtr claim = Exec(conn, kNoticeClaim, {threshold.c_str(), from.c_str(), until.c_str()});
      if (!Succeeded(claim.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, claim.get(), "expiry notices");
      }
      if (ParseInt64(PQcmdTuples(claim.get())).value_or(0) == 0) return Status::Ok();
      // A smaller threshold never scanned starts at this round's end.
      std::vector<core::ThresholdProgress> smaller;
      for (const std::int64_t seconds : scan.smaller_thresholds_seconds) {
        const std::string smaller_threshold = std::to_string(seconds);
        ResultPtr scanned = Exec(conn, kNoticeProgress, {smaller_threshold.c_str()});
        if (!Succeeded(scanned.get(), PGRES_TUPLES_OK)) {
          return pg::TranslateError(config_, conn, scanned.get(), "expiry notices");
        }
        const std::optional<std::int64_t> done = PQntuples(scanned.get()) == 0
                                                     ? std::optional<std::int64_t>(scan.until)
                                                     : ParseInt64(PQgetvalue(scanned.get(), 0, 0));
        if (!done) return Status::Internal("PostgreSQL: bad notice progress");
        smaller.push_back({seconds, *done});
      }
      ResultPtr tokens = Exec(conn, kNoticeTokens,
                              {from.c_str(), until.c_str(), threshold_millis.c_str(), with_rules});
      if (!Succeeded(tokens.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, tokens.get(), "expiry notices");
      }
      std::vector<core::AuditEvent> events;
      for (int row = 0; row < PQntuples(tokens.get()); ++row) {
        Result<core::Token> token = RowToToken(tokens.get(), row);
        if (!token.ok()) return token.status();
        if (!core::NoticeFallsToThisThreshold(*token->expiration_date, scan.now, smaller)) {
          continue;
        }
        events.push_back(core::MakeNoticeEvent(*token, scan.threshold_seconds, scan.now));
      }
      written = static_cast<std::int64_t>(events.size());
      return WriteEvents(conn, chain, events);
    });
    if (!status.ok()) return status;
    return written;
  }

  Result<AuditPage> QueryAudit(const AuditQuery& query, const core::Visibility& visibility,
                               std::int64_t limit, std::int64_t offset, bool count_total) override {
    AuditPage page;
    Filter filter;
    auto nothing = [&] {
      if (count_total) page.total = 0;
      return page;
    };
    if (query.token_id) {
      if (!IsStorableText(*query.token_id)) return nothing();
      filter.Add("subject_id = " + filter.Param(*query.token_id), "");
    }
    if (!query.principals.empty()) {
      std::vector<std::optional<std::string>> principals;
      for (const std::string& principal : query.principals) {
        if (IsStorableText(principal)) principals.emplace_back(principal);
      }
      if (principals.empty()) return nothing();
      filter.Add(
          "subject_principal = ANY(" + filter.Param(pg::ArrayLiteral(principals)) + "::text[])",
          "");
    }
    if (!query.types.empty()) {
      filter.Add("subject_type = ANY(" + filter.Param(TypeArray(query.types)) + "::text[])", "");
    }
    if (!query.actions.empty()) {
      std::vector<std::optional<std::string>> actions;
      for (core::AuditAction action : query.actions) {
        actions.emplace_back(std::string(core::ToString(action)));
      }
      filter.Add("action = ANY(" + filter.Param(pg::ArrayLiteral(actions)) + "::text[])", "");
    }
    if (query.from_date) {
      filter.Add("time >= " + filter.Param(std::to_string(*query.from_date)) + "::bigint", "");
    }
    if (query.to_date) {
      filter.Add("time < " + filter.Param(std::to_string(*query.to_date)) + "::bigint", "");
    }
    if (!visibility.everything) {
      if (visibility.types.empty() || !IsStorableText(visibility.principal)) return nothing();
      filter.Add("subject_type = ANY(" + filter.Param(TypeArray(visibility.types)) +
                     "::text[]) AND subject_principal = " + filter.Param(visibility.principal),
                 "");
    }
    const std::size_t filter_params = filter.params.size();
    const std::string direction = query.ascending ? " ASC" : " DESC";
    std::string select = "SELECT body, hash FROM audit_events" + filter.tokens_where +
                         " ORDER BY time" + direction + ", id" + direction;
    if (limit >= 0) select += " LIMIT " + filter.Param(std::to_string(limit));
    if (offset > 0) select += " OFFSET " + filter.Param(std::to_string(offset));
    const std::string count = "SELECT count(*) FROM audit_events" + filter.tokens_where;
    Status status = WithLease(true, [&](pg::ConnectionPool::Lease& lease) -> Status {
      page = AuditPage();
      return ReadPage(lease, "audit query", {select, limit != 0}, {count, count_total},
                      filter.params, filter_params, page.total,
                      [&](const PGresult* rows, int row) -> Status {
                        page.events.push_back(
                            ServedEventJson(PQgetvalue(rows, row, 0), PQgetvalue(rows, row, 1)));
                        return Status::Ok();
                      });
    });
    if (!status.ok()) return status;
    return page;
  }

  Result<std::int64_t> PruneAudit(core::EpochMillis before) override {
    const std::string cutoff = std::to_string(before);
    std::int64_t removed = 0;
    std::string after;
    for (;;) {
      std::vector<std::string> writers;
      Status listed = WithConnection(true, [&](PGconn* conn) -> Status {
        writers.clear();
        ResultPtr list = Exec(conn, kChainWriters, {after.c_str()});
        if (!Succeeded(list.get(), PGRES_TUPLES_OK)) {
          return pg::TranslateError(config_, conn, list.get(), "audit retention");
        }
        for (int row = 0; row < PQntuples(list.get()); ++row) {
          writers.push_back(*OptionalText(list.get(), row, 0));
        }
        return Status::Ok();
      });
      if (!listed.ok()) return listed;
      if (writers.empty()) break;
      after = writers.back();
      for (const std::string& writer : writers) {
        // One transaction per chain, holding its record's row lock: the
        // chain's writer waits meanwhile, so its end cannot move under us.
        Status pruned = WithConnection(false, [&](PGconn* conn) -> Status {
          auto fail = [&](const PGresult* result) {
            Status failure = pg::TranslateError(config_, conn, result, "audit retention");
            ResultPtr rollback = pg::ExecBounded(conn, "ROLLBACK");
            return failure;
          };
          ResultPtr begin = pg::ExecBounded(conn, "BEGIN");
          if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) return fail(begin.get());
          ResultPtr locked = Exec(conn, kLockChain, {writer.c_str()});
          if (!Succeeded(locked.get(), PGRES_TUPLES_OK)) return fail(locked.get());
          if (PQntuples(locked.get()) == 1) {
            const std::int64_t first_seq = ParseInt64(PQgetvalue(locked.get(), 0, 1)).value_or(0);
            std::string cut =
                std::to_string(ParseInt64(PQgetvalue(locked.get(), 0, 3)).value_or(0) + 1);
            std::string head = PQgetvalue(locked.get(), 0, 4);
            // Only a prefix of the chain goes, so that what is kept still
            // links up: everything before its first event at or after the
            // cutoff.
            ResultPtr first = Exec(conn, kPruneFirstKept, {writer.c_str(), cutoff.c_str()});
            if (!Succeeded(first.get(), PGRES_TUPLES_OK)) return fail(first.get());
            if (PQntuples(first.get()) == 1) {
              cut = PQgetvalue(first.get(), 0, 0);
              head = PQgetvalue(first.get(), 0, 1);
            }
            const std::int64_t cut_seq = ParseInt64(cut.c_str()).value_or(0);
            if (cut_seq > first_seq) {
              // The last event removed, kept in the record: its time shows
              // that the removal was retention's (ChainChecker).
              const std::string last_seq = std::to_string(cut_seq - 1);
              ResultPtr last = Exec(conn, kPruneLastRemoved, {writer.c_str(), last_seq.c_str()});
              if (!Succeeded(last.get(), PGRES_TUPLES_OK)) return fail(last.get());
              const bool found = PQntuples(last.get()) == 1;
              const char* removed_body = found ? PQgetvalue(last.get(), 0, 0) : nullptr;
              const char* removed_prev_hash = found ? PQgetvalue(last.get(), 0, 1) : nullptr;
              ResultPtr gone = Exec(conn, kPruneEvents, {writer.c_str(), cut.c_str()});
              if (!Succeeded(gone.get(), PGRES_COMMAND_OK)) return fail(gone.get());
              removed += ParseInt64(PQcmdTuples(gone.get())).value_or(0);
              ResultPtr moved = Exec(
                  conn, kPruneChain,
                  {writer.c_str(), cut.c_str(), head.c_str(), removed_body, removed_prev_hash});
              if (!Succeeded(moved.get(), PGRES_COMMAND_OK)) return fail(moved.get());
            }
          }
          ResultPtr commit = pg::ExecBounded(conn, "COMMIT");
          if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return fail(commit.get());
          return Status::Ok();
        });
        if (!pruned.ok()) return pruned;
      }
    }
    return removed;
  }

  Result<ChainReport> VerifyAudit(core::EpochMillis removable_before) override {
    ChainReport report;
    Status status = WithConnection(true, [&](PGconn* conn) -> Status {
      report = ChainReport();
      auto fail = [&](const PGresult* result) {
        Status failure = pg::TranslateError(config_, conn, result, "audit verify");
        ResultPtr rollback = pg::ExecBounded(conn, "ROLLBACK");
        return failure;
      };
      // One snapshot: the chains and their events as committed together.
      ResultPtr begin = pg::ExecBounded(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) return fail(begin.get());
      // Walks one chain page by page; a failed read is returned.
      auto walk = [&](ChainChecker& checker, const std::string& writer) -> Status {
        std::string after = std::to_string(std::numeric_limits<std::int64_t>::min());
        for (;;) {
          ResultPtr events = Exec(conn, kChainEvents, {writer.c_str(), after.c_str()});
          if (!Succeeded(events.get(), PGRES_TUPLES_OK)) return fail(events.get());
          const int rows = PQntuples(events.get());
          if (rows == 0) break;
          for (int row = 0; row < rows; ++row) {
            StoredEvent event;
            event.id = *OptionalText(events.get(), row, 0);
            event.seq = ParseInt64(PQgetvalue(events.get(), row, 1)).value_or(0);
            event.time = ParseInt64(PQgetvalue(events.get(), row, 2)).value_or(0);
            event.action = *OptionalText(events.get(), row, 3);
            event.subject_id = *OptionalText(events.get(), row, 4);
            event.subject_type = *OptionalText(events.get(), row, 5);
            event.subject_principal = OptionalText(events.get(), row, 6);
            event.body = *OptionalText(events.get(), row, 7);
            event.prev_hash = *OptionalText(events.get(), row, 8);
            event.hash = *OptionalText(events.get(), row, 9);
            after = std::to_string(event.seq);
            if (!checker.Add(event)) return Status::Ok();
          }
        }
        checker.Finish();
        return Status::Ok();
      };
      auto conclude = [&](const ChainChecker& checker) {
        ++report.chains;
        report.events += checker.events();
        if (!checker.broken()) return false;
        report.broken_event_id = checker.broken_event_id();
        report.problem = checker.problem();
        return true;
      };
      auto finish = [&]() -> Status {
        ResultPtr commit = pg::ExecBounded(conn, "COMMIT");
        if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return fail(commit.get());
        return Status::Ok();
      };
      std::string after_writer;
      for (;;) {
        std::vector<ChainRecord> chains;
        ResultPtr list = Exec(conn, kChainWriters, {after_writer.c_str()});
        if (!Succeeded(list.get(), PGRES_TUPLES_OK)) return fail(list.get());
        for (int row = 0; row < PQntuples(list.get()); ++row) {
          chains.push_back(ChainRecord{*OptionalText(list.get(), row, 0),
                                       ParseInt64(PQgetvalue(list.get(), row, 1)).value_or(0),
                                       *OptionalText(list.get(), row, 2),
                                       ParseInt64(PQgetvalue(list.get(), row, 3)).value_or(0),
                                       *OptionalText(list.get(), row, 4),
                                       OptionalText(list.get(), row, 5),
                                       OptionalText(list.get(), row, 6)});
        }
        if (chains.empty()) break;
        after_writer = chains.back().writer;
        for (ChainRecord& record : chains) {
          const std::string writer = record.writer;
          ChainChecker checker(writer, std::move(record), removable_before);
          if (Status walked = walk(checker, writer); !walked.ok()) return walked;
          if (conclude(checker)) return finish();
        }
      }
      ResultPtr orphan = Exec(conn, kUnrecordedWriter, {});
      if (!Succeeded(orphan.get(), PGRES_TUPLES_OK)) return fail(orphan.get());
      if (PQntuples(orphan.get()) == 1) {
        const std::string writer = *OptionalText(orphan.get(), 0, 0);
        ChainChecker checker(writer, std::nullopt, removable_before);
        if (Status walked = walk(checker, writer); !walked.ok()) return walked;
        if (conclude(checker)) return finish();
      }
      // Whole chains can still have lost their last events, or a whole chain
      // its record too: the tokens whose creation they recorded tell.
      const std::string horizon = std::to_string(removable_before);
      ResultPtr unrecorded = Exec(conn, kUnrecordedCreation, {horizon.c_str()});
      if (!Succeeded(unrecorded.get(), PGRES_TUPLES_OK)) return fail(unrecorded.get());
      if (PQntuples(unrecorded.get()) == 1) {
        report.problem = MissingCreationProblem(*OptionalText(unrecorded.get(), 0, 0));
      }
      return finish();
    });
    if (!status.ok()) return status;
    return report;
  }

  Result<std::vector<Delivery>> ClaimDeliveries(
      core::EpochMillis now, std::int64_t lease_millis, int max,
      const std::vector<std::string>& skipped_urls) override {
    std::vector<Delivery> claimed;
    if (max <= 0) return claimed;
    const std::string due = std::to_string(now);
    const std::string until = std::to_string(now + lease_millis);
    const std::string limit = std::to_string(max);
    const std::string skipped = pg::ArrayLiteral(
        std::vector<std::optional<std::string>>(skipped_urls.begin(), skipped_urls.end()));
    Status status = WithConnection(false, [&](PGconn* conn) -> Status {
      claimed.clear();
      ResultPtr result = Exec(conn, kClaimDeliveries,
                              {due.c_str(), until.c_str(), limit.c_str(), skipped.c_str()});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "claim deliveries");
      }
      for (int row = 0; row < PQntuples(result.get()); ++row) {
        Delivery delivery;
        delivery.event_id = *OptionalText(result.get(), row, 0);
        delivery.url = *OptionalText(result.get(), row, 1);
        delivery.payload = *OptionalText(result.get(), row, 2);
        delivery.attempts =
            static_cast<int>(ParseInt64(PQgetvalue(result.get(), row, 3)).value_or(0));
        delivery.queued_at = ParseInt64(PQgetvalue(result.get(), row, 4)).value_or(0);
        claimed.push_back(std::move(delivery));
      }
      return Status::Ok();
    });
    if (!status.ok()) return status;
    std::sort(claimed.begin(), claimed.end(), [](const Delivery& a, const Delivery& b) {
      return std::tie(a.queued_at, a.event_id, a.url) < std::tie(b.queued_at, b.event_id, b.url);
    });
    return claimed;
  }

  Status FinishDelivery(const Delivery& delivery, const DeliveryOutcome& outcome) override {
    if (!IsStorableText(delivery.event_id) || !IsStorableText(delivery.url)) return Status::Ok();
    const std::string retry_at = std::to_string(outcome.retry_at);
    // Applying the same outcome twice changes nothing more: retried.
    return WithConnection(true, [&](PGconn* conn) -> Status {
      ResultPtr result;
      switch (outcome.kind) {
        case DeliveryOutcome::Kind::kDelivered:
          result = Exec(conn, kDelivered, {delivery.event_id.c_str(), delivery.url.c_str()});
          break;
        case DeliveryOutcome::Kind::kRetry:
          result = Exec(conn, kRetryDelivery,
                        {delivery.event_id.c_str(), delivery.url.c_str(), retry_at.c_str(),
                         outcome.last_error.c_str()});
          break;
        case DeliveryOutcome::Kind::kFailed:
          result =
              Exec(conn, kFailDelivery,
                   {delivery.event_id.c_str(), delivery.url.c_str(), outcome.last_error.c_str()});
          break;
      }
      if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "finish delivery");
      }
      return Status::Ok();
    });
  }

  Result<OutboxStats> GetOutboxStats() override {
    OutboxStats stats;
    Status status = WithConnection(true, [&](PGconn* conn) -> Status {
      ResultPtr result = Exec(conn, kOutboxStats, {});
      if (!Succeeded(result.get(), PGRES_TUPLES_OK) || PQntuples(result.get()) != 1) {
        return pg::TranslateError(config_, conn, result.get(), "outbox stats");
      }
      stats.waiting = ParseInt64(PQgetvalue(result.get(), 0, 0)).value_or(0);
      stats.failed = ParseInt64(PQgetvalue(result.get(), 0, 1)).value_or(0);
      if (!PQgetisnull(result.get(), 0, 2)) {
        stats.oldest_waiting = ParseInt64(PQgetvalue(result.get(), 0, 2));
      }
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return stats;
  }

 private:
  // Group commit for creates, as the SQLite writer does it: a create queues
  // and either waits or, while fewer than max_insert_groups_ groups are being
  // written, takes everything queued (itself included, up to
  // kMaxInsertGroup) and writes it in one transaction: one multi-row INSERT,
  // one statement for the events, one COMMIT and its WAL flush for the whole
  // group. A group that fails before COMMIT changed nothing, and its creates
  // are written one by one, so that each gets its own answer (a duplicate
  // fails alone).
  struct PendingInsert {
    PendingInsert(TokenRow token_row, std::span<const core::AuditEvent> its_events)
        : row(std::move(token_row)), events(its_events) {}
    TokenRow row;
    std::span<const core::AuditEvent> events;
    std::vector<core::AuditEvent> owned_events;  // what `events` views, when submitted
    // Set for a submitted insert: called with the result once written (then
    // the PendingInsert is deleted); a blocking caller waits on `cv` instead.
    std::function<void(Status)> submitted;
    Status result = Status::Ok();
    bool taken = false;          // guarded by inserts_mu_
    bool done = false;           // guarded by inserts_mu_
    std::condition_variable cv;  // woken when done, or when it may lead
  };
  static constexpr std::size_t kMaxInsertGroup = 64;

  // Wake-ups are addressed: a group's members when it is written, and the
  // first queued create when a group's place frees up. Waking every waiter
  // on each commit cost more in context switches than the writes.
  Status GroupInsert(PendingInsert& pending) {
    std::unique_lock lock(inserts_mu_);
    queued_inserts_.push_back(&pending);
    while (!pending.done) {
      if (pending.taken || insert_groups_running_ >= max_insert_groups_) {
        pending.cv.wait(lock);
        continue;
      }
      WriteQueuedGroup(lock, &pending);
    }
    return pending.result;
  }

  // The insert writers lead groups while submitted inserts are queued; a
  // blocking Insert may lead one too, taking submitted inserts with it.
  void InsertWriterLoop() {
    std::unique_lock lock(inserts_mu_);
    for (;;) {
      // Stopping, a writer still answers every queued insert first.
      insert_writers_cv_.wait(lock, [this] {
        return (stopping_insert_writers_ && queued_inserts_.empty()) ||
               (!queued_inserts_.empty() && insert_groups_running_ < max_insert_groups_);
      });
      if (queued_inserts_.empty()) return;
      WriteQueuedGroup(lock, nullptr);
      if (stopping_insert_writers_) insert_writers_cv_.notify_all();
    }
  }

  // Takes up to kMaxInsertGroup queued inserts and writes them as one group,
  // with `lock` (on inserts_mu_) released meanwhile; then answers every
  // member but `leader` (the calling Insert, if any).
  void WriteQueuedGroup(std::unique_lock<std::mutex>& lock, PendingInsert* leader) {
    std::vector<PendingInsert*> group;
    while (!queued_inserts_.empty() && group.size() < kMaxInsertGroup) {
      queued_inserts_.front()->taken = true;
      group.push_back(queued_inserts_.front());
      queued_inserts_.pop_front();
    }
    ++insert_groups_running_;
    WakeNextLeader();
    lock.unlock();
    WriteInsertGroup(group);
    std::vector<PendingInsert*> submitted;
    lock.lock();
    --insert_groups_running_;
    for (PendingInsert* member : group) {
      if (member->submitted) {
        submitted.push_back(member);
        continue;
      }
      member->done = true;
      if (member != leader) member->cv.notify_one();
    }
    WakeNextLeader();
    if (submitted.empty()) return;
    lock.unlock();
    for (PendingInsert* member : submitted) {
      const std::function<void(Status)> answer = std::move(member->submitted);
      const Status result = member->result;
      delete member;
      answer(result);
    }
    lock.lock();
  }

  void WakeNextLeader() {
    if (queued_inserts_.empty() || insert_groups_running_ >= max_insert_groups_) return;
    if (queued_inserts_.front()->submitted) {
      insert_writers_cv_.notify_one();
    } else {
      queued_inserts_.front()->cv.notify_one();
    }
  }

  void WriteInsertGroup(std::vector<PendingInsert*>& group) {
    if (group.size() > 1) {
      // Rows in one (type, principal) order in every group, so that two
      // groups take the counter rows' locks in the same order.
      std::sort(group.begin(), group.end(), [](const PendingInsert* a, const PendingInsert* b) {
        return std::tie(a->row.type, a->row.principal, a->row.id) <
               std::tie(b->row.type, b->row.principal, b->row.id);
      });
      std::vector<TokenRow> rows;
      std::vector<core::AuditEvent> events;
      rows.reserve(group.size());
      for (const PendingInsert* member : group) {
        rows.push_back(member->row);
        events.insert(events.end(), member->events.begin(), member->events.end());
      }
      bool body_failed = false;
      const Status status = Transact("insert", [&](PGconn* conn, ChainAppender& chain) {
        const std::vector<std::string> arrays = ColumnArrays(rows);
        std::vector<const char*> params;
        for (const std::string& array : arrays) params.push_back(array.c_str());
        ResultPtr result = Exec(conn, kInsertMany, params);
        Status written = Succeeded(result.get(), PGRES_COMMAND_OK)
                             ? WriteEvents(conn, chain, events)
                             : pg::TranslateError(config_, conn, result.get(), "insert");
        body_failed = !written.ok();
        return written;
      });
      if (!body_failed) {
        // Committed, or failed at BEGIN or COMMIT: one outcome for all.
        for (PendingInsert* member : group) member->result = status;
        return;
      }
    }
    for (PendingInsert* member : group) member->result = InsertOne(member->row, member->events);
  }

  Status InsertOne(const TokenRow& row, std::span<const core::AuditEvent> events) {
    const InsertParams params(row);
    return Transact("insert", [&](PGconn* conn, ChainAppender& chain) {
      ResultPtr result = Exec(conn, kInsert, params.values);
      if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, result.get(), "insert");
      }
      return WriteEvents(conn, chain, events);
    });
  }

  // One statement of a page read: its SQL, whether it is run at all, and
  // whether it is prepared on the connection (see PreparedStatements) or
  // planned for its values each time.
  struct PageStatement {
    const std::string& sql;
    bool run;
    bool prepare = false;
  };

  // Reads a page's rows (each given to `take_row`, which may refuse one)
  // and its total (`count` with the first `count_params` of `params`),
  // both from one snapshot when both are read.
  Status ReadPage(pg::ConnectionPool::Lease& lease, std::string_view what, PageStatement select,
                  PageStatement count, const std::vector<std::string>& params,
                  std::size_t count_params, std::int64_t& total,
                  const std::function<Status(const PGresult*, int)>& take_row) {
    PGconn* conn = lease.get();
    auto run = [&](const PageStatement& statement, std::size_t param_count) {
      if (!statement.prepare) return ExecSql(conn, statement.sql, params, param_count);
      std::vector<const char*> values;
      values.reserve(param_count);
      for (std::size_t i = 0; i < param_count; ++i) values.push_back(params[i].c_str());
      return lease.prepared().Exec(conn, statement.sql, values);
    };
    const bool snapshot = select.run && count.run;
    auto fail = [&](Status failure) {
      if (snapshot) ResultPtr rollback = pg::ExecBounded(conn, "ROLLBACK");
      return failure;
    };
    auto failed = [&](const PGresult* result) {
      return fail(pg::TranslateError(config_, conn, result, what));
    };
    if (snapshot) {
      ResultPtr begin = pg::ExecBounded(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) return failed(begin.get());
    }
    if (select.run) {
      ResultPtr rows = run(select, params.size());
      if (!Succeeded(rows.get(), PGRES_TUPLES_OK)) return failed(rows.get());
      for (int row = 0; row < PQntuples(rows.get()); ++row) {
        if (Status taken = take_row(rows.get(), row); !taken.ok()) return fail(taken);
      }
    }
    if (count.run) {
      ResultPtr counted = run(count, count_params);
      if (!Succeeded(counted.get(), PGRES_TUPLES_OK) || PQntuples(counted.get()) != 1) {
        return failed(counted.get());
      }
      total = ParseInt64(PQgetvalue(counted.get(), 0, 0)).value_or(0);
    }
    if (snapshot) {
      ResultPtr commit = pg::ExecBounded(conn, "COMMIT");
      if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) return failed(commit.get());
    }
    return Status::Ok();
  }

  ChainTail AcquireChain() {
    std::lock_guard lock(chains_mu_);
    if (!idle_chains_.empty()) {
      ChainTail tail = std::move(idle_chains_.back());
      idle_chains_.pop_back();
      return tail;
    }
    return ChainTail{instance_id_ + "-" + std::to_string(chains_made_++)};
  }

  void ReleaseChain(ChainTail tail) {
    std::lock_guard lock(chains_mu_);
    idle_chains_.push_back(std::move(tail));
  }

  // Runs `body` in one transaction on a pooled connection, with a chain for
  // the events it writes: BEGIN, body, COMMIT; ROLLBACK when the body fails
  // (its status is returned). Not retried: a lost reply leaves the outcome
  // unknown. The chain moves on only when COMMIT succeeded; when COMMIT's
  // outcome is unknown the chain is dropped (a new one is started next), as
  // the store's record of it may or may not hold this transaction's events.
  Status Transact(std::string_view what,
                  const std::function<Status(PGconn*, ChainAppender&)>& body) {
    ChainTail tail = AcquireChain();
    bool keep_chain = true;
    ChainTail next = tail;
    Status status = WithConnection(false, [&](PGconn* conn) -> Status {
      ChainAppender chain(tail);
      ResultPtr begin = pg::ExecBounded(conn, "BEGIN");
      if (!Succeeded(begin.get(), PGRES_COMMAND_OK)) {
        return pg::TranslateError(config_, conn, begin.get(), what);
      }
      Status done = body(conn, chain);
      if (!done.ok()) {
        ResultPtr rollback = pg::ExecBounded(conn, "ROLLBACK");
        return done;
      }
      ResultPtr commit = pg::ExecBounded(conn, "COMMIT");
      if (!Succeeded(commit.get(), PGRES_COMMAND_OK)) {
        if (!chain.empty()) keep_chain = false;
        return pg::TranslateError(config_, conn, commit.get(), what);
      }
      next = chain.tail();
      return Status::Ok();
    });
    if (keep_chain) ReleaseChain(status.ok() ? std::move(next) : std::move(tail));
    return status;
  }

  // Links `events` into `chain` and writes them, their outbox rows and the
  // chain's record in one statement.
  Status WriteEvents(PGconn* conn, ChainAppender& chain, std::span<const core::AuditEvent> events) {
    if (events.empty()) return Status::Ok();
    std::vector<std::vector<std::optional<std::string>>> columns(11);
    for (const core::AuditEvent& event : events) {
      EventRow row = chain.Append(event);
      columns[0].emplace_back(std::move(row.id));
      columns[1].emplace_back(std::to_string(row.seq));
      columns[2].emplace_back(std::to_string(row.time));
      columns[3].emplace_back(std::move(row.action));
      columns[4].emplace_back(std::move(row.subject_id));
      columns[5].emplace_back(std::move(row.subject_type));
      columns[6].emplace_back(std::move(row.subject_principal));
      columns[7].emplace_back(std::move(row.body));
      columns[8].emplace_back(std::move(row.prev_hash));
      columns[9].emplace_back(std::move(row.hash));
      columns[10].emplace_back(std::move(row.payload));
    }
    std::vector<std::optional<std::string>> urls(webhook_urls_.begin(), webhook_urls_.end());
    std::vector<std::string> params;
    params.reserve(17);
    params.push_back(chain.tail().writer);
    for (const auto& column : columns) params.push_back(pg::ArrayLiteral(column));
    params.push_back(pg::ArrayLiteral(urls));
    params.push_back(std::to_string(chain.first_seq()));
    params.push_back(chain.first_prev_hash());
    params.push_back(std::to_string(chain.tail().seq));
    params.push_back(chain.tail().hash);
    std::vector<const char*> values;
    for (const std::string& param : params) values.push_back(param.c_str());
    ResultPtr result = Exec(conn, kWriteEvents, values);
    if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
      return pg::TranslateError(config_, conn, result.get(), "record events");
    }
    return Status::Ok();
  }

  // Opens the pool's connections one by one until all are open (or one
  // cannot be made, or the store closes). A new backend loads the catalog
  // entries of a table and its indexes when it first plans a statement on
  // it (17 to 25 ms for the tokens table); a lookup of no secret does that
  // here, so that no request waits for it.
  void OpenPool() {
    while (!stopping_pool_opener_.load(std::memory_order_relaxed)) {
      std::optional<Result<pg::ConnectionPool::Lease>> lease = pool_.OpenAnother();
      if (!lease || !lease->ok()) return;
      ResultPtr result = Exec((*lease)->get(), kLookupSecret, {""});
    }
  }

  Status Prepare(PGconn* conn) {
    for (const Statement* statement : kPrepared) {
      const pg::CallDeadline deadline(conn);
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
  // restarted since) runs once more on a fresh connection; not one the call
  // deadline cut (the server stopped answering: a retry would wait again).
  Status WithConnection(bool retry_if_stale, const std::function<Status(PGconn*)>& body) {
    return WithLease(retry_if_stale,
                     [&](pg::ConnectionPool::Lease& lease) { return body(lease.get()); });
  }

  // WithConnection, giving `body` the lease (for its prepared statements).
  Status WithLease(bool retry_if_stale,
                   const std::function<Status(pg::ConnectionPool::Lease&)>& body) {
    for (int attempt = 0;; ++attempt) {
      Result<pg::ConnectionPool::Lease> lease = pool_.Acquire();
      if (!lease.ok()) return lease.status();
      const auto started = std::chrono::steady_clock::now();
      Status status = body(*lease);
      if (status.ok() || !retry_if_stale || attempt > 0 || !lease->reused() ||
          PQstatus(lease->get()) == CONNECTION_OK ||
          std::chrono::steady_clock::now() - started >= pg::kCallDeadline) {
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

  void AnnounceLagging(bool lagging) {
    std::lock_guard lock(listener_mu_);
    feed_lagging_ = lagging;
    if (listener_ != nullptr) listener_->OnFeedLagging(lagging);
  }

  void AnnounceFreshUntil(std::chrono::steady_clock::time_point until) {
    std::lock_guard lock(listener_mu_);
    if (listener_ != nullptr) listener_->OnFeedFreshUntil(until);
  }

  void AnnounceOverlapStarted(core::EpochMillis end) {
    std::lock_guard lock(listener_mu_);
    if (listener_ != nullptr) listener_->OnOverlapStarted(end);
  }

  const pg::ConnectionConfig config_;
  const std::vector<std::string> webhook_urls_;
  const int max_insert_groups_;  // creates written at once, each group on its own connection
  const bool open_pool_at_start_;
  pg::ConnectionPool pool_;
  std::thread pool_opener_;  // OpenPool, when open_pool_at_start_
  std::atomic<bool> stopping_pool_opener_{false};

  // The chains of this instance: one per concurrent writer (at most one per
  // pooled connection), so that writes never queue behind one chain. Their
  // writer ids are this open's instance id and an index.
  const std::string instance_id_ = NewWriterInstanceId();
  std::mutex chains_mu_;
  std::vector<ChainTail> idle_chains_;  // guarded by chains_mu_
  int chains_made_ = 0;                 // guarded by chains_mu_

  std::mutex inserts_mu_;
  std::deque<PendingInsert*> queued_inserts_;  // guarded by inserts_mu_
  int insert_groups_running_ = 0;              // guarded by inserts_mu_
  // Threads that write submitted inserts, started by the first one.
  std::once_flag insert_writers_started_;
  std::vector<std::thread> insert_writers_;
  std::condition_variable insert_writers_cv_;
  bool stopping_insert_writers_ = false;  // guarded by inserts_mu_

  std::mutex listener_mu_;
  ChangeListener* listener_ = nullptr;                          // guarded by listener_mu_
  bool feed_healthy_ = true;                                    // guarded by listener_mu_
  bool feed_lagging_ = false;                                   // guarded by listener_mu_
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
    if (Status s = options.migrate ? Migrate(conn->get(), *config)
                                   : CheckSchemaIsCurrent(conn->get(), *config);
        !s.ok()) {
      return s;
    }
  }
  auto store = std::make_unique<PostgresStore>(std::move(config).value(), options);
  if (Status s = store->Start(); !s.ok()) return s;
  return std::unique_ptr<TokenStore>(std::move(store));
}

}  // namespace tokend::store
