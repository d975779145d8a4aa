// The embedded SQLite backend.
//
// Connections: one writer connection owned by a writer thread, and a pool of
// StoreOptions.pool_size reader connections (WAL lets them read while the
// writer writes). ":memory:" uses a single connection for everything, shared
// by the writer thread and readers under the pool's mutex: every connection to
// a plain ":memory:" database is a separate database, and a shared-cache
// memory URI would bring table-level locks that ignore the busy timeout
// (SQLITE_LOCKED), which is worse than serializing an in-memory store.
//
// Writes use group commit: Insert/Delete enqueue an operation and block; the
// writer drains up to kMaxBatchRows queued rows into one BEGIN IMMEDIATE ...
// COMMIT. The COMMIT writes the WAL without waiting for the disk
// (synchronous=NORMAL); a syncer thread then makes the WAL durable with one
// fdatasync for every batch committed since its last one, and only then
// answers their callers. So a write is acknowledged only once it is on disk,
// as under synchronous=FULL, while the writer runs the next batch during the
// previous one's fsync instead of waiting for it.
//
// Checkpoints (copying the WAL back into the database file) run mostly on a
// thread and connection of their own (WalCheckpointer): done by the writer,
// as SQLite would by default, they would stall every queued write for the
// checkpoint's reads, writes and fsync of the main file.
//
// Audit events: the writer is this store's one writer of its hash chain. The
// events of a batch are linked in op order into the chain, whose end moves
// in memory only once the batch has committed; each open starts a new chain
// (a random writer id), so a restart never has to read where it stopped.
//
// One store per file: a file store holds an exclusive flock on the database
// file for its lifetime, so a second store on the same file (in this process
// or another) is refused. SQLite cannot tell other processes about deletions,
// so a second process would keep accepting tokens deleted through the first.
// flock, not fcntl: SQLite uses fcntl locks on the same file, and closing any
// descriptor of a file drops every fcntl lock the process holds on it.
//
// Owning the file also means seeing every write to it: the store keeps the
// fingerprint of every secret hash it holds (SecretFingerprints), so that
// MayHoldSecret answers a secret it never held without a lookup, and a
// lookup of one it holds reads the token by the id its fingerprint names
// (kLookupByIdHintSql). The writer adds a row's fingerprint before the row is
// written; a thread started with the store adds what the file held at start,
// and until it is done every secret goes to the store.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/object_id.h"
#include "core/rotation.h"
#include "store/audit_json.h"
#include "store/audit_log.h"
#include "store/embedded_migrations.h"
#include "store/secret_fingerprints.h"
#include "store/sqlite/batched_wal_vfs.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/wal_checkpointer.h"
#include "store/token_row.h"

namespace tokend::store {
namespace {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::StatusFromSqlite;

constexpr int kBusyTimeoutMs = 5000;
// How long a secret lookup may reuse its reader's read transaction (see
// SqliteStore::KeepReadForLookup).
constexpr std::chrono::milliseconds kKeptReadLimit{100};
constexpr std::size_t kMaxBatchRows = 256;
// Far below SQLITE_MAX_VARIABLE_NUMBER (32766), so that a long principals list
// is refused as the caller's mistake rather than failing to compile.
constexpr std::size_t kMaxQueryParameters = 10000;
constexpr std::string_view kMemoryTarget = ":memory:";

// No memory map: each connection maps the file on its own and every mapped
// page counts in RSS once per connection (1M tokens, nine connections: over
// 1 GB). Reads go through the OS page cache instead, and each connection's
// own page cache stays small, which is what keeps RSS bounded.
constexpr const char* kConnectionPragmas =
    "PRAGMA foreign_keys=OFF;"
    "PRAGMA mmap_size=0;"
    "PRAGMA cache_size=-8192;"
    "PRAGMA temp_store=MEMORY;";
// The writer's page cache holds a batch's dirty pages with room to spare:
// most indexes grow at their end (ids and times only grow), so a batch of
// creates dirties a few hundred pages, mostly random ones of the secret_hash
// index. A larger cache only keeps clean pages, paid in RSS once last-use
// writes have touched the whole file (64 MiB at a million tokens) and in page
// faults while it fills.
constexpr const char* kWriterCachePragma = "PRAGMA cache_size=-16384;";
// Bulk loads (import, seeding) insert thousands of rows per transaction, all
// over the secret_hash index: there the larger cache saves reading pages
// again. Raised by the first bulk load, for the rest of the connection.
constexpr const char* kBulkWriterCachePragma = "PRAGMA cache_size=-65536;";

constexpr const char* kInsertSql =
    "INSERT INTO tokens (" TOKEND_TOKEN_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
// Changes no row when an earlier import met this id or this secret hash.
constexpr const char* kRecordInImportLedgerSql =
    "INSERT INTO import_ledger (id, secret_hash) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
constexpr const char* kDeleteSql = "DELETE FROM tokens WHERE id = ?1 RETURNING type, principal";
// Newest wins: a use older than the stored one changes nothing, and is not
// even written (no page is dirtied for it). An id no row has updates nothing.
constexpr const char* kRecordUseSql =
    "UPDATE tokens SET last_used_date = max(coalesce(last_used_date, ?2), ?2) "
    "WHERE id = ?1 AND (last_used_date IS NULL OR last_used_date < ?2)";
// The writer's counter changes (see SqliteStore::Count), one per counter row.
constexpr const char* kAddTypeCountSql =
    "INSERT INTO type_counts (type, n) VALUES (?1, ?2) "
    "ON CONFLICT (type) DO UPDATE SET n = n + excluded.n";
constexpr const char* kAddTokenCountSql =
    "INSERT INTO token_counts (principal_null, principal, type, n) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (principal_null, principal, type) DO UPDATE SET n = n + excluded.n";
// Rows of token_counts that reach zero go (there may be one per user ever
// seen); type_counts keeps its few rows, zeros included.
constexpr const char* kDropEmptyTokenCountSql =
    "DELETE FROM token_counts WHERE principal_null = ?1 AND principal = ?2 AND type = ?3 "
    "AND n = 0";
constexpr const char* kCountByTypeSql = "SELECT type, n FROM type_counts WHERE n > 0 ORDER BY type";
constexpr const char* kPingSql = "SELECT count(*) FROM type_counts";

// Rotation. The old token's state is read inside the writer's transaction,
// so the check and the change cannot interleave with another rotation. A
// token is being replaced while a newer token of its family exists: once
// the one it was rotated to is revoked or deleted (and no later one
// remains), it is the newest again and may be rotated.
constexpr const char* kRotationStateSql =
    "SELECT (SELECT h.id FROM tokens AS h WHERE h.family_id = coalesce(t.family_id, t.id) "
    "AND (h.creation_date, h.id) > (t.creation_date, t.id) "
    "ORDER BY h.creation_date DESC, h.id DESC LIMIT 1) "
    "FROM tokens AS t WHERE t.id = ?1";
constexpr const char* kKeepRotatedSql =
    "UPDATE tokens SET rotated_to = ?2, expiration_date = ?3 WHERE id = ?1";
constexpr const char* kInsertRetiredSql =
    "INSERT OR REPLACE INTO retired_secrets (secret_hash, token_id, family_id, overlap_end, "
    "forget_after, reuse_detected_at, token_type, principal, name) "
    "VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?8)";
constexpr const char* kRetiredSubjectSql =
    "SELECT token_id, token_type, principal, name FROM retired_secrets WHERE secret_hash = ?1";
constexpr const char* kMarkReuseSql =
    "UPDATE retired_secrets SET reuse_detected_at = ?2 "
    "WHERE secret_hash = ?1 AND reuse_detected_at IS NULL";
// The last column: an old token whose overlap ended, gone already (the sweep
// had not removed it yet).
constexpr const char* kDeleteFamilySql =
    "DELETE FROM tokens WHERE id = ?1 OR family_id = ?1 RETURNING id, type, principal, name, "
    "rotated_to IS NOT NULL AND expiration_date <= ?2";
constexpr const char* kSweepTokensSql =
    "DELETE FROM tokens WHERE rotated_to IS NOT NULL AND expiration_date <= ?1 "
    "RETURNING id, type, principal";
constexpr const char* kSweepRetiredSql = "DELETE FROM retired_secrets WHERE forget_after <= ?1";
// Through tokens_rotated_by_expiration: the first entry of a short index.
constexpr const char* kNextOverlapEndSql =
    "SELECT min(expiration_date) FROM tokens WHERE rotated_to IS NOT NULL";
// The token and the retired secret of one hash, from one snapshot; one row,
// whose token columns are null when there is no token and whose retired
// columns (from kTokenColumnCount on) are null when the secret is not retired.
constexpr const char* kLookupSecretSql =
    "SELECT t.*, r.* FROM (SELECT 1) AS k "
    "LEFT JOIN (SELECT " TOKEND_TOKEN_COLUMNS
    " FROM tokens WHERE secret_hash = ?1) AS t ON 1=1 "
    "LEFT JOIN (SELECT token_id, family_id, overlap_end, forget_after, reuse_detected_at, "
    "token_type, principal, name FROM retired_secrets WHERE secret_hash = ?1) AS r ON 1=1";

// A secret's token read by the id its fingerprint names (a hint, see
// SecretFingerprints): one descent of the primary key instead of the
// secret-hash index's and then the primary key's. The hash is checked in the
// row itself (as `+secret_hash`, which keeps the planner from taking the
// secret-hash index for it), so a stale hint finds nothing. A token not
// rotated away has no retired record (Rotate writes one in the transaction
// that sets the old token's rotated_to or deletes it), so its row alone is
// the whole answer.
constexpr const char* kLookupByIdHintSql =
    "SELECT " TOKEND_TOKEN_COLUMNS " FROM tokens WHERE id = ?1 AND +secret_hash = ?2";

// Events (API 8). Each event row, its outbox rows and its chain's end are
// written by the writer in the transaction of the change they record.
constexpr const char* kInsertEventSql =
    "INSERT INTO audit_events (id, writer, seq, time, action, subject_id, subject_type, "
    "subject_principal, body, prev_hash, hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr const char* kInsertOutboxSql =
    "INSERT INTO webhook_outbox (event_id, url, payload, attempts, next_attempt_at, "
    "claimed_until, failed, queued_at) VALUES (?1, ?2, ?3, 0, ?4, NULL, 0, ?4)";
// The first event of a chain also records its head; later ones move its end.
constexpr const char* kUpsertChainSql =
    "INSERT INTO audit_chains (writer, first_seq, first_prev_hash, last_seq, last_hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (writer) DO UPDATE SET "
    "last_seq = excluded.last_seq, last_hash = excluded.last_hash";
constexpr const char* kNoticeProgressSql =
    "SELECT done_until FROM notice_progress WHERE threshold_seconds = ?1";
constexpr const char* kNoticeStartSql =
    "INSERT INTO notice_progress (threshold_seconds, done_until) VALUES (?1, ?2) "
    "ON CONFLICT (threshold_seconds) DO NOTHING";
constexpr const char* kNoticeClaimSql =
    "UPDATE notice_progress SET done_until = ?3 WHERE threshold_seconds = ?1 AND done_until = ?2";
// Tokens whose crossing time (expiration_date - ?3 ms) lies in (?1, ?2]: a
// range of tokens_by_expiration. ?4 = 1 for a threshold > 0: created before
// the crossing, and either not yet inside the next threshold (?5 ms) at ?6
// or past that threshold's scan progress (?7), which will then not notice
// it. Never a token that entered the store after its crossing: its
// token.created is later (an import keeps the token's Boomerang dates).
constexpr const char* kNoticeTokensSql =
    "SELECT " TOKEND_TOKEN_COLUMNS
    " FROM tokens WHERE expiration_date > ?1 + ?3 AND expiration_date <= ?2 + ?3 "
    "AND rotated_to IS NULL AND (?4 = 0 OR creation_date < expiration_date - ?3) "
    "AND NOT EXISTS (SELECT 1 FROM audit_events AS e WHERE e.subject_id = tokens.id "
    "AND e.time > tokens.expiration_date - ?3 AND e.action = 'token.created') "
    "ORDER BY expiration_date, id";
constexpr const char* kChainWritersSql =
    "SELECT writer, first_seq, first_prev_hash, last_seq, last_hash, last_removed_body, "
    "last_removed_prev_hash FROM audit_chains "
    "WHERE writer > ?1 ORDER BY writer LIMIT 100";
constexpr const char* kUnrecordedWriterSql =
    "SELECT writer FROM audit_events WHERE writer NOT IN (SELECT writer FROM audit_chains) "
    "LIMIT 1";
// The first token created at or after ?1 with no token.created event, other
// than those stored before every token had one.
constexpr const char* kUnrecordedCreationSql =
    "SELECT t.id FROM tokens t WHERE t.creation_date >= ?1 "
    "AND NOT EXISTS (SELECT 1 FROM audit_events e "
    "WHERE e.subject_id = t.id AND e.action = 'token.created') "
    "AND NOT EXISTS (SELECT 1 FROM audit_unrecorded_tokens u WHERE u.id = t.id) "
    "ORDER BY t.creation_date, t.id LIMIT 1";
constexpr const char* kChainEventsSql =
    "SELECT id, seq, time, action, subject_id, subject_type, subject_principal, body, "
    "prev_hash, hash FROM audit_events WHERE writer = ?1 AND seq > ?2 ORDER BY seq LIMIT 1000";
constexpr const char* kPruneFirstKeptSql =
    "SELECT seq, prev_hash FROM audit_events WHERE writer = ?1 AND time >= ?2 "
    "ORDER BY seq LIMIT 1";
// A row of kChainWritersSql.
ChainRecord ReadChainRecord(const Statement& row) {
  return ChainRecord{std::string(row.ColumnText(0)), row.ColumnInt64(1),
                     std::string(row.ColumnText(2)), row.ColumnInt64(3),
                     std::string(row.ColumnText(4)), row.ColumnOptionalText(5),
                     row.ColumnOptionalText(6)};
}

constexpr const char* kPruneLastRemovedSql =
    "SELECT body, prev_hash FROM audit_events WHERE writer = ?1 AND seq = ?2";
constexpr const char* kPruneEventsSql = "DELETE FROM audit_events WHERE writer = ?1 AND seq < ?2";
constexpr const char* kPruneChainSql =
    "UPDATE audit_chains SET first_seq = ?2, first_prev_hash = ?3, last_removed_body = ?4, "
    "last_removed_prev_hash = ?5 WHERE writer = ?1";
// Due: not failed, retry time reached, no lease running, not to a skipped
// URL (bound from ?4 on, see ClaimSql). Oldest first; the RETURNING rows come
// in no set order, so the caller sorts them.
constexpr std::string_view kClaimSqlHead =
    "UPDATE webhook_outbox SET claimed_until = ?2 WHERE (event_id, url) IN ("
    "SELECT event_id, url FROM webhook_outbox WHERE failed = 0 AND next_attempt_at <= ?1 "
    "AND (claimed_until IS NULL OR claimed_until <= ?1)";
constexpr std::string_view kClaimSqlTail =
    " ORDER BY queued_at, event_id, url LIMIT ?3) "
    "RETURNING event_id, url, payload, attempts, queued_at";
constexpr const char* kDeliveredSql = "DELETE FROM webhook_outbox WHERE event_id = ?1 AND url = ?2";
constexpr const char* kRetrySql =
    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?3, "
    "claimed_until = NULL, last_error = ?4 WHERE event_id = ?1 AND url = ?2";
constexpr const char* kFailedSql =
    "UPDATE webhook_outbox SET attempts = attempts + 1, failed = 1, claimed_until = NULL, "
    "last_error = ?3 WHERE event_id = ?1 AND url = ?2";
constexpr const char* kOutboxStatsSql =
    "SELECT (SELECT count(*) FROM webhook_outbox WHERE failed = 0), "
    "(SELECT count(*) FROM webhook_outbox WHERE failed = 1), "
    "(SELECT min(queued_at) FROM webhook_outbox WHERE failed = 0)";

// Ends a read transaction begun on `connection` ("BEGIN"), whatever way the
// read returns: the rows and any total after them come from one snapshot.
struct EndReadOnExit {
  Connection& connection;
  ~EndReadOnExit() { (void)connection.Exec("COMMIT", ""); }
};

// The total of a paged read, when the page itself tells it: a page that is
// not full, and is not past the end, is the last one. nullopt: count.
std::optional<std::int64_t> TotalFromLastPage(std::int64_t returned, std::int64_t limit,
                                              std::int64_t offset) {
  if ((returned > 0 || offset <= 0) && (limit < 0 || returned < limit)) {
    return std::max<std::int64_t>(0, offset) + returned;
  }
  return std::nullopt;
}

std::string SelectTokensSql(std::string_view where) {
  std::string sql = "SELECT ";
  sql += kTokenColumns;
  sql += " FROM tokens ";
  sql += where;
  return sql;
}

// A row in TOKEND_TOKEN_COLUMNS order.
Result<core::Token> ReadToken(const Statement& stmt) {
  TokenRow row;
  row.id = std::string(stmt.ColumnText(0));
  row.type = std::string(stmt.ColumnText(1));
  row.name = std::string(stmt.ColumnText(2));
  row.description = stmt.ColumnOptionalText(3);
  row.principal = stmt.ColumnOptionalText(4);
  row.creation_date = stmt.ColumnInt64(5);
  row.expiration_date = stmt.ColumnOptionalInt64(6);
  row.actions = std::string(stmt.ColumnText(7));
  row.secret_hash = std::string(stmt.ColumnText(8));
  row.last_used_date = stmt.ColumnOptionalInt64(9);
  row.rotated_from = stmt.ColumnOptionalText(10);
  row.rotated_to = stmt.ColumnOptionalText(11);
  row.family_id = stmt.ColumnOptionalText(12);
  return DecodeTokenRow(std::move(row));
}

// The subject of an event from columns id, type, principal, name starting
// at `first`.
core::EventSubject ReadSubject(const Statement& stmt, int first) {
  return SubjectFromColumns(std::string(stmt.ColumnText(first)), stmt.ColumnText(first + 1),
                            stmt.ColumnOptionalText(first + 2),
                            std::string(stmt.ColumnText(first + 3)));
}

void BindRow(Statement& stmt, const TokenRow& row) {
  stmt.Bind(1, std::string_view(row.id));
  stmt.Bind(2, std::string_view(row.type));
  stmt.Bind(3, std::string_view(row.name));
  stmt.Bind(4, row.description);
  stmt.Bind(5, row.principal);
  stmt.Bind(6, row.creation_date);
  stmt.Bind(7, row.expiration_date);
  stmt.Bind(8, std::string_view(row.actions));
  stmt.Bind(9, std::string_view(row.secret_hash));
  stmt.Bind(10, row.last_used_date);
  stmt.Bind(11, row.rotated_from);
  stmt.Bind(12, row.rotated_to);
  stmt.Bind(13, row.family_id);
}

// Dynamic SQL made only of fixed fragments and "?" placeholders; every value
// is bound, never spliced.
struct SqlWithParams {
  std::string sql;
  std::vector<std::variant<std::string, std::int64_t>> params;

  void AppendInList(std::string_view column, const std::vector<std::string>& values) {
    sql += " AND ";
    sql += column;
    sql += " IN (";
    for (std::size_t i = 0; i < values.size(); ++i) {
      sql += i == 0 ? "?" : ",?";
      params.emplace_back(values[i]);
    }
    sql += ")";
  }
  void AppendTypes(std::string_view column, const std::vector<core::TokenType>& types) {
    std::vector<std::string> names;
    names.reserve(types.size());
    for (core::TokenType type : types) names.emplace_back(core::ToString(type));
    AppendInList(column, names);
  }
  void BindAll(Statement& stmt, int first = 1) const {
    int index = first;
    for (const auto& param : params) {
      if (const auto* text = std::get_if<std::string>(&param)) {
        stmt.Bind(index++, std::string_view(*text));
      } else {
        stmt.Bind(index++, std::get<std::int64_t>(param));
      }
    }
  }
};

// lifetimeBeyondPolicy: per type with a maximum, no expiry or a longer
// lifetime; without any maximum, nothing matches. "+type" keeps the term a
// filter (see TokenFilter).
void AppendBeyondPolicy(SqlWithParams& filter,
                        const std::vector<std::pair<core::TokenType, std::int64_t>>& maxima) {
  filter.sql += " AND (0=1";
  for (const auto& [type, max_millis] : maxima) {
    filter.sql +=
        " OR (+type = ? AND (expiration_date IS NULL OR expiration_date - creation_date > ?))";
    filter.params.emplace_back(std::string(core::ToString(type)));
    filter.params.emplace_back(max_millis);
  }
  filter.sql += ")";
}

// "WHERE 1=1 AND ..." for the filters of `query` and `visibility` on tokens.
//
// Type has five values, so "type IN (...)" rarely narrows much, but without
// statistics the planner takes any equality for a selective one: it would
// seek the type index and sort every match (100+ ms over 100k rows) instead
// of walking the sort index and stopping after one page. "+type" keeps the
// term a filter. The type index leads only when it also gives the order: one
// type, sorted by creation date or type, and no principal term. Under a
// principal term, (principal, creation_date, id, type) gives the order and
// checks the type in the index.
SqlWithParams TokenFilter(const core::TokenQuery& query, const core::Visibility& visibility) {
  const bool type_leads =
      query.types.size() == 1 && query.principals.empty() && visibility.everything &&
      (query.sort == core::SortField::kCreationDate || query.sort == core::SortField::kType);
  SqlWithParams filter;
  filter.sql = "WHERE 1=1";
  if (!query.types.empty()) filter.AppendTypes(type_leads ? "type" : "+type", query.types);
  if (!query.principals.empty()) filter.AppendInList("principal", query.principals);
  if (query.from_date) {
    filter.sql += " AND creation_date >= ?";
    filter.params.emplace_back(*query.from_date);
  }
  if (query.to_date) {
    filter.sql += " AND creation_date < ?";
    filter.params.emplace_back(*query.to_date);
  }
  if (query.lifetime_beyond_policy) AppendBeyondPolicy(filter, query.policy_max_lifetimes);
  if (query.last_used_before) {
    filter.sql += " AND (last_used_date IS NULL OR last_used_date < ?)";
    filter.params.emplace_back(*query.last_used_before);
  }
  if (query.last_used_after) {
    filter.sql += " AND last_used_date >= ?";
    filter.params.emplace_back(*query.last_used_after);
  }
  if (!visibility.everything) {
    filter.AppendTypes("+type", visibility.types);
    filter.sql += " AND principal = ?";
    filter.params.emplace_back(visibility.principal);
  }
  return filter;
}

// The total of a query without date filters (HasRowFilters), from the
// counter tables.
// True when a query filters on something the counter tables do not count
// (dates, lifetimes): its total is counted over the matching rows.
bool HasRowFilters(const core::TokenQuery& query) {
  return query.from_date || query.to_date || query.lifetime_beyond_policy ||
         query.last_used_before || query.last_used_after;
}

SqlWithParams CounterTotal(const core::TokenQuery& query, const core::Visibility& visibility) {
  SqlWithParams count;
  if (query.principals.empty() && visibility.everything) {
    count.sql = "SELECT coalesce(sum(n), 0) FROM type_counts WHERE 1=1";
    if (!query.types.empty()) count.AppendTypes("type", query.types);
    return count;
  }
  // Global tokens (principal_null = 1) never match a principal filter.
  count.sql = "SELECT coalesce(sum(n), 0) FROM token_counts WHERE principal_null = 0";
  if (!query.principals.empty()) count.AppendInList("principal", query.principals);
  if (!query.types.empty()) count.AppendTypes("type", query.types);
  if (!visibility.everything) {
    count.sql += " AND principal = ?";
    count.params.emplace_back(visibility.principal);
    count.AppendTypes("type", visibility.types);
  }
  return count;
}

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// nice(1)'s lowest priority, for the background fill of the fingerprints.
constexpr int kFillNiceness = 19;

std::string ErrnoText(int error) { return std::generic_category().message(error); }

constexpr std::string_view kSqliteMigrationPrefix = "sqlite/";

// "0001_init.sql" -> 1; nullopt when the name does not start with digits.
std::optional<int> MigrationVersion(std::string_view file_name) {
  int version = 0;
  const auto [end, ec] =
      std::from_chars(file_name.data(), file_name.data() + file_name.size(), version);
  if (ec != std::errc() || end == file_name.data()) return std::nullopt;
  return version;
}

class SqliteStore final : public TokenStore {
 public:
  SqliteStore(std::string display, bool memory) : display_(std::move(display)), memory_(memory) {}
  ~SqliteStore() override;

  Status Start(const std::string& target, const StoreOptions& options);

  Status Insert(const core::Token& token, std::span<const core::AuditEvent> events) override;
  Status InsertMany(std::span<const core::Token> tokens) override;
  Result<core::Token> FindById(std::string_view id) override;
  Result<core::Token> FindBySecretHash(std::string_view secret_hash) override;
  Result<bool> KnownToImports(std::string_view id, std::string_view secret_hash) override;
  Status Delete(std::string_view id, std::span<const core::AuditEvent> events) override;
  Result<std::vector<std::string>> DeleteMatching(const core::TokenQuery& query,
                                                  const core::Visibility& visibility,
                                                  const core::EventOrigin& origin,
                                                  core::EpochMillis now) override;
  Result<TokenPage> Query(const core::TokenQuery& query, const core::Visibility& visibility,
                          std::int64_t limit, std::int64_t offset, bool count_total) override;
  Result<std::vector<std::pair<core::TokenType, std::int64_t>>> CountByType() override;
  Status Ping() override;
  bool QueuesInserts() const override { return true; }
  void SubmitInsert(const core::Token& token, std::span<const core::AuditEvent> events,
                    std::function<void(Status)> done) override;
  void SetChangeListener(ChangeListener* listener) override { listener_.store(listener); }
  bool IsShared() const override { return false; }
  Result<std::int64_t> InsertAbsent(std::span<const core::Token> tokens,
                                    std::span<const core::AuditEvent> events) override;
  Status RecordUses(std::span<const TokenUse> uses) override;
  Status Rotate(const Rotation& rotation) override;
  Result<SecretLookup> LookupSecret(std::string_view secret_hash) override;
  bool MayHoldSecret(std::string_view secret_hash) const override {
    return fingerprints_.MayContain(secret_hash);
  }
  std::optional<Result<SecretLookup>> TryLookupSecret(std::string_view secret_hash) override;
  Result<FamilyRevocation> RevokeFamily(std::string_view family_id, std::string_view secret_hash,
                                        core::EpochMillis now) override;
  Result<SweepCounts> SweepRotations(core::EpochMillis now) override;
  Result<std::int64_t> RecordExpiryNotices(const NoticeScan& scan) override;
  Result<AuditPage> QueryAudit(const AuditQuery& query, const core::Visibility& visibility,
                               std::int64_t limit, std::int64_t offset, bool count_total) override;
  Result<std::int64_t> PruneAudit(core::EpochMillis before) override;
  Result<ChainReport> VerifyAudit(core::EpochMillis removable_before) override;
  Result<std::vector<Delivery>> ClaimDeliveries(
      core::EpochMillis now, std::int64_t lease_millis, int max,
      const std::vector<std::string>& skipped_urls) override;
  Status FinishDelivery(const Delivery& delivery, const DeliveryOutcome& outcome) override;
  Result<OutboxStats> GetOutboxStats() override;

 private:
  // A queued write. Lives on the waiting caller's stack until `done`.
  struct WriteOp {
    enum class Kind {
      kInsert,
      kInsertMany,
      kDelete,
      kDeleteMatching,
      kInsertAbsent,
      kRecordUses,
      kRotate,
      kRevokeFamily,
      kSweep,
      kNotices,
      kPruneAudit,
      kClaim,
      kFinishDelivery
    };
    WriteOp(Kind kind, std::span<const TokenRow> rows, std::string_view id)
        : kind(kind), rows(rows), id(id) {}
    const Kind kind;
    const std::span<const TokenRow> rows;   // kInsert: one, kInsertMany: all
    const std::string_view id;              // kDelete
    const SqlWithParams* filter = nullptr;  // kDeleteMatching: "WHERE ..."
    std::vector<std::string> deleted;       // kDeleteMatching, kRevokeFamily, kSweep: ids deleted
    std::int64_t inserted = 0;              // kInsertAbsent: rows stored
    std::span<const TokenUse> uses;         // kRecordUses
    const Rotation* rotation = nullptr;     // kRotate (rows: the new token's)
    std::string_view secret_hash;           // kRevokeFamily (id: the family)
    core::EpochMillis now = 0;              // kRevokeFamily, kSweep
    bool first_detection = false;           // kRevokeFamily
    std::int64_t revoked_members = 0;       // kRevokeFamily: deleted, less those gone already
    std::int64_t retired_swept = 0;         // kSweep
    std::optional<core::EpochMillis> next_overlap_end;  // kSweep
    // kInsert, kDelete: the events of the change; kInsertAbsent: one per row
    // (or none).
    std::span<const core::AuditEvent> events;
    const core::EventOrigin* origin = nullptr;  // kDeleteMatching (with now)
    const NoticeScan* scan = nullptr;           // kNotices
    std::int64_t count = 0;                     // kNotices: events; kPruneAudit: removed
    std::int64_t lease_millis = 0;              // kClaim (with now)
    int max = 0;                                // kClaim
    const std::vector<std::string>* skipped_urls = nullptr;  // kClaim
    std::vector<Delivery> claimed;                           // kClaim
    const Delivery* delivery = nullptr;                      // kFinishDelivery
    const DeliveryOutcome* outcome = nullptr;                // kFinishDelivery
    Status result;
    bool done = false;
    // Set when no caller waits (SubmitInsert): called with the result once
    // the batch is written, instead of `done`; frees the op.
    std::function<void(const Status&)> finished;
  };

  // An insert no caller waits for: owns what its op points to.
  struct QueuedInsert {
    QueuedInsert(TokenRow row_in, std::vector<core::AuditEvent> events_in,
                 std::function<void(Status)> done_in)
        : row(std::move(row_in)),
          events(std::move(events_in)),
          op(WriteOp::Kind::kInsert, std::span(&row, 1), {}),
          done(std::move(done_in)) {
      op.events = events;
    }
    TokenRow row;
    std::vector<core::AuditEvent> events;
    WriteOp op;
    std::function<void(Status)> done;
  };

  // A connection borrowed from the pool, returned on destruction.
  class Lease {
   public:
    Lease(SqliteStore* store, Connection* connection) : store_(store), connection_(connection) {}
    Lease(Lease&& other) noexcept
        : store_(other.store_), connection_(std::exchange(other.connection_, nullptr)) {}
    Lease(const Lease&) = delete;
    ~Lease() {
      if (connection_ != nullptr) store_->Release(connection_);
    }
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_; }

   private:
    SqliteStore* store_;
    Connection* connection_;
  };

  Status LockFile();
  Status CheckFileIdentity() const;
  // Opens the WAL (which the writer's journal_mode=WAL created) for SyncWal.
  Status OpenWal();
  Status OpenConnections(const std::string& target, const StoreOptions& options);
  Status ConfigureWriter(Connection& connection);
  Status Migrate(Connection& connection);
  Status ApplyMigrations(Connection& connection);
  struct PendingMigration {
    int version;
    const EmbeddedFile* file;
  };
  // The migrations not applied yet, in version order.
  Result<std::vector<PendingMigration>> PendingMigrations(Connection& connection);
  // Unavailable for a file holding tables but no schema_migrations: another
  // application's database.
  Status RefuseAnotherApplicationsDatabase(Connection& connection);
  // For StoreOptions::migrate false: ok only when every migration is applied.
  Status CheckSchemaIsCurrent(Connection& connection);

  // A reader connection, without a kept read transaction unless
  // `for_lookup` (see KeepReadForLookup).
  Lease Acquire(bool for_lookup = false);
  // A reader connection for a secret lookup if one is idle now, without
  // waiting.
  std::optional<Lease> TryAcquire();
  // Secret lookups keep their reader's read transaction while the writer
  // has committed nothing since it began, for kKeptReadLimit at most (what
  // changed the file outside this store's writer, a restored backup or a
  // damaged file, is seen that late): taking the WAL's read mark and
  // giving it back (two fcntl locks) is near a third of a lookup's time.
  // Begins one when the reader has none, or only an outdated one. File
  // mode only: an in-memory store's readers would block its writer.
  Status KeepReadForLookup(Connection& connection);
  // Ends `connection`'s kept read transaction, if any.
  void EndKeptRead(Connection& connection);
  // Before a write transaction: ends the kept read transactions of the idle
  // readers. A read transaction holds the WAL's frames after its snapshot
  // out of the database file, and one begun before the last checkpoint
  // finished keeps the WAL from starting over; ended before each write,
  // kept reads hold the WAL no longer than today's reads in flight do.
  // Writer thread.
  void EndIdleKeptReads();
  void Release(Connection* connection);
  Result<SecretLookup> LookupSecretOn(Connection& connection, std::string_view secret_hash);
  // The lookup through the fingerprint's id hint: nullopt when the hint names
  // no row holding `secret_hash`, or a token rotated away (the full lookup
  // answers then).
  Result<std::optional<SecretLookup>> LookupByIdHint(Connection& connection, std::string_view id,
                                                     std::string_view secret_hash);

  Status Submit(WriteOp& op);
  void WriterLoop();
  // Answers the callers of `batch` (its ops may be freed by this).
  void Acknowledge(std::vector<WriteOp*>& batch);
  // The syncer thread: fsyncs the WAL for the batches the writer committed,
  // then acknowledges them.
  void SyncLoop();
  // One fdatasync of the WAL; any failure, once, fails every later write.
  Status SyncWal();
  // What every write answers once an fsync failed.
  Status DurabilityLost() const;
  void RunBatch(Connection& connection, std::vector<WriteOp*>& batch);
  // Gives the writer connection kBulkWriterCachePragma's cache, once.
  void UseBulkCache(Connection& connection);
  Status InsertOne(Connection& connection, const TokenRow& row);
  // Deletes the token `id`, counting it; false when there was none.
  Result<bool> DeleteOne(Connection& connection, std::string_view id);
  // Counts a token of `type` and `principal` in (+1) or out (-1) of the
  // batch's counter changes.
  void Count(std::string_view type, const std::optional<std::string>& principal, int delta);
  // Writes the batch's counter changes (before its COMMIT).
  Status WriteCounts(Connection& connection);
  // Adds the fingerprints of every secret hash the store holds, then marks
  // them complete; stops early (incomplete) when the store closes or a read
  // fails.
  void FillFingerprints();
  Status InsertAbsentRows(Connection& connection, WriteOp& op, ChainAppender& chain);
  // The writer's part of Rotate, RevokeFamily and SweepRotations: the op's
  // result, or a fatal error (returned) that fails the whole batch.
  Status RunRotate(Connection& connection, WriteOp& op, ChainAppender& chain);
  Status RunRevokeFamily(Connection& connection, WriteOp& op, ChainAppender& chain);
  Status RunSweep(Connection& connection, WriteOp& op);
  Status RunNotices(Connection& connection, WriteOp& op, ChainAppender& chain);
  Status RunPruneAudit(Connection& connection, WriteOp& op);
  Status RunClaim(Connection& connection, WriteOp& op);
  Status RunFinishDelivery(Connection& connection, WriteOp& op);
  // Links `events` into the batch's chain and writes them with their outbox
  // rows; any failure is fatal to the batch.
  Status WriteEvents(Connection& connection, ChainAppender& chain,
                     std::span<const core::AuditEvent> events);
  // Records the batch's chain end (and head, for a new chain).
  Status WriteChainRecord(Connection& connection, const ChainAppender& chain);

  Result<core::Token> FindOne(const char* sql, std::string_view key);
  Result<std::int64_t> QueryInt(Connection& connection, const SqlWithParams& sql);

  const std::string display_;  // "SQLite database <path>", for messages
  const bool memory_;
  std::string path_;
  // The file this store opened and locked (file mode only). Declared before
  // the connections, so the lock is released only once they are closed.
  UniqueFd lock_fd_;
  dev_t file_device_ = 0;
  ino_t file_inode_ = 0;

  std::unique_ptr<Connection> writer_connection_;  // file mode only
  // File mode only; after the writer connection, so that it goes first.
  std::unique_ptr<sqlite::WalCheckpointer> checkpointer_;
  // The counters' changes of the batch being written (writer thread only):
  // by type, and by (principal is null, principal, type). Counting here
  // instead of in row triggers makes one counter write per row of
  // type_counts and token_counts per transaction, instead of two per token.
  std::map<std::string, std::int64_t, std::less<>> type_deltas_;
  std::map<std::tuple<bool, std::string, std::string>, std::int64_t> token_deltas_;
  // Writer thread only: whether the writer connection has the bulk loads'
  // page cache (kBulkWriterCachePragma).
  bool bulk_cache_ = false;
  std::vector<std::unique_ptr<Connection>> readers_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<Connection*> idle_;  // guarded by pool_mu_
  // When a reader's kept read transaction began, and the writer's commit
  // count read before it. Whether one is open is SQLite's own state (a
  // reader outside autocommit: no other read leaves a transaction open).
  // One entry per reader, made at open; an entry is used by its reader's
  // lease holder, or under pool_mu_ while the reader is idle.
  struct KeptRead {
    std::uint64_t commits = 0;
    std::chrono::steady_clock::time_point began;
  };
  std::unordered_map<const Connection*, KeptRead> kept_reads_;
  // Commits of the writer connection, counted after each COMMIT returned.
  std::atomic<std::uint64_t> commits_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // writer waits for work
  std::condition_variable done_cv_;   // callers wait for their op
  std::deque<WriteOp*> queue_;        // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_
  std::thread writer_;

  // Batches committed by the writer, waiting for the WAL's fsync (file mode).
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<std::vector<WriteOp*>> to_sync_;  // guarded by sync_mu_
  bool writer_stopped_ = false;                 // guarded by sync_mu_
  // The WAL file, opened by this store for its fsyncs. fsync makes durable
  // what any descriptor of the file wrote, SQLite's included.
  std::string wal_path_;
  UniqueFd wal_fd_;
  dev_t wal_device_ = 0;
  ino_t wal_inode_ = 0;
  // Set by the first failed fsync: the kernel may have dropped the pages it
  // could not write and report success for the next fsync, so no later write
  // can be trusted to be on disk until the store is opened again.
  std::atomic<bool> sync_failed_{false};
  std::thread syncer_;

  std::atomic<ChangeListener*> listener_{nullptr};

  // This store's chain: its writer id is new at every open, so a restart
  // starts a new chain. Used by the writer thread only.
  ChainTail chain_tail_{NewWriterInstanceId()};
  std::vector<std::string> webhook_urls_;

  SecretFingerprints fingerprints_;
  std::atomic<bool> closing_{false};
  std::thread fingerprint_filler_;
};

SqliteStore::~SqliteStore() {
  closing_.store(true, std::memory_order_relaxed);
  if (fingerprint_filler_.joinable()) fingerprint_filler_.join();
  if (writer_.joinable()) {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
  }
  if (syncer_.joinable()) {
    {
      std::lock_guard lock(sync_mu_);
      writer_stopped_ = true;
    }
    sync_cv_.notify_all();
    syncer_.join();
  }
  checkpointer_.reset();
  // Keeps the planner's statistics current at little cost (analysis_limit).
  Connection* last = writer_connection_ ? writer_connection_.get()
                                        : (readers_.empty() ? nullptr : readers_.front().get());
  if (last != nullptr) (void)last->Exec("PRAGMA analysis_limit=400; PRAGMA optimize;", "");
}

Status SqliteStore::Start(const std::string& target, const StoreOptions& options) {
  path_ = target;
  webhook_urls_ = options.webhook_urls;
  if (!memory_) {
    if (Status status = LockFile(); !status.ok()) return status;
  }
  if (Status status = OpenConnections(target, options); !status.ok()) return status;
  // SQLite opened the path by name: it must still be the file locked above.
  if (Status status = CheckFileIdentity(); !status.ok()) return status;
  if (!memory_) {
    std::string error;
    checkpointer_ = sqlite::WalCheckpointer::Start(target, writer_connection_->db(), error);
    if (checkpointer_ == nullptr) {
      return Status::Unavailable("cannot open " + display_ + " for checkpoints: " + error);
    }
    if (Status status = OpenWal(); !status.ok()) return status;
    // From here on the syncer, not the COMMIT, waits for the disk.
    if (Status status =
            writer_connection_->Exec("PRAGMA synchronous=NORMAL", "configuring " + display_);
        !status.ok()) {
      return status;
    }
    syncer_ = std::thread([this] { SyncLoop(); });
  }
  writer_ = std::thread([this] { WriterLoop(); });
  // The fill runs in the background, so that a large file does not delay
  // the start; the writer adds its rows meanwhile, so nothing written during
  // the fill is missed. A memory store starts empty: nothing to fill.
  if (memory_) {
    fingerprints_.MarkComplete();
  } else {
    fingerprint_filler_ = std::thread([this] { FillFingerprints(); });
  }
  return Status::Ok();
}

void SqliteStore::FillFingerprints() {
  // The lowest priority: the fill only saves later lookups, and must not
  // take the CPU from the start-up and the first requests (on a million
  // tokens it reads the whole token table).
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kFillNiceness);
  Lease lease = Acquire();
  // Room for what the file holds, made once (the counters are exact): the
  // shards then grow only for tokens created during the fill. Never more
  // than the file could hold (a row with its 64-digit hash takes at least 64
  // bytes), so that a damaged counter cannot ask for any amount of memory.
  if (Result<Statement> count =
          lease->Prepare("SELECT min((SELECT coalesce(sum(n), 0) FROM type_counts) + "
                         "(SELECT count(*) FROM retired_secrets), "
                         "(SELECT page_count FROM pragma_page_count()) * "
                         "(SELECT page_size FROM pragma_page_size()) / 64)");
      count.ok() && count->Step() == SQLITE_ROW) {
    fingerprints_.Reserve(
        static_cast<std::size_t>(std::max<std::int64_t>(0, count->ColumnInt64(0))));
  }
  // The tokens in the order of their primary key: one pass over the table's
  // own b-tree. Left to itself, SQLite's planner walks a secondary index and
  // seeks every row by its id (it does not count the id, which a `WITHOUT
  // ROWID` table's indexes carry, as covered): 1.3 s against 0.55 s for a
  // million tokens, measured with the sqlite3 shell.
  Result<Statement> stmt = lease->Prepare(
      "SELECT secret_hash, id FROM (SELECT secret_hash, id FROM tokens ORDER BY id) "
      "UNION ALL SELECT secret_hash, NULL FROM retired_secrets");
  if (!stmt.ok()) return;
  int rc = SQLITE_ROW;
  while (!closing_.load(std::memory_order_relaxed) && (rc = stmt->Step()) == SQLITE_ROW) {
    fingerprints_.Add(stmt->ColumnText(0), stmt->ColumnText(1));
  }
  if (rc == SQLITE_DONE) fingerprints_.MarkComplete();
}

Status SqliteStore::LockFile() {
  // Created here with mode 0600, not by SQLite (0644 less the umask): the file
  // holds every token's hash. SQLite gives the -wal, -shm and -journal files
  // it creates the mode of the database file.
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
  const bool created = fd >= 0;
  if (fd < 0 && errno == EEXIST) fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
  // A file this process may only read can still be locked; SQLite then says
  // what it makes of it.
  if (fd < 0 && (errno == EACCES || errno == EROFS)) {
    fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  }
  if (fd < 0) return Status::Unavailable("cannot open " + display_ + ": " + ErrnoText(errno));
  lock_fd_.reset(fd);
  // The umask may have taken bits off the mode asked for above.
  if (created) (void)::fchmod(fd, 0600);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    lock_fd_.reset();
    if (error == EWOULDBLOCK) {
      return Status::AlreadyExists(
          display_ +
          " is in use by another tokend process: only one process may use a SQLite file "
          "(run several instances on PostgreSQL)");
    }
    return Status::Unavailable("cannot lock " + display_ + ": " + ErrnoText(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return Status::Unavailable("cannot read the status of " + display_ + ": " + ErrnoText(errno));
  }
  file_device_ = info.st_dev;
  file_inode_ = info.st_ino;
  return Status::Ok();
}

Status SqliteStore::CheckFileIdentity() const {
  if (memory_) return Status::Ok();
  // An open connection keeps working on a file that was deleted or replaced
  // underneath it, silently diverging from what a restart would open.
  struct stat info {};
  if (::stat(path_.c_str(), &info) != 0) {
    return Status::Unavailable(display_ + " is no longer accessible");
  }
  if (info.st_dev != file_device_ || info.st_ino != file_inode_) {
    return Status::Unavailable(display_ + " was replaced by another file");
  }
  return Status::Ok();
}

Status SqliteStore::OpenConnections(const std::string& target, const StoreOptions& options) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  // The writer hands each commit's WAL frames to the kernel in one write.
  Result<std::unique_ptr<Connection>> first = Connection::Open(
      target, flags, display_, kBusyTimeoutMs, memory_ ? nullptr : sqlite::BatchedWalVfs());
  if (!first.ok()) return first.status();
  if (Status status = ConfigureWriter(**first); !status.ok()) return status;
  if (Status status = options.migrate ? Migrate(**first) : CheckSchemaIsCurrent(**first);
      !status.ok()) {
    return status;
  }

  if (memory_) {
    idle_.push_back(first->get());
    readers_.push_back(std::move(*first));
    return Status::Ok();
  }
  writer_connection_ = std::move(*first);
  const int readers = std::max(1, options.pool_size);
  for (int i = 0; i < readers; ++i) {
    Result<std::unique_ptr<Connection>> reader =
        Connection::Open(target, SQLITE_OPEN_READWRITE, display_, kBusyTimeoutMs);
    if (!reader.ok()) return reader.status();
    if (Status status = (*reader)->Exec(kConnectionPragmas, "configuring " + display_);
        !status.ok()) {
      return status;
    }
    // A reader never writes; if a bug made it try, fail instead of bypassing
    // the writer's group commit.
    if (Status status = (*reader)->Exec("PRAGMA query_only=ON", "configuring " + display_);
        !status.ok()) {
      return status;
    }
    idle_.push_back(reader->get());
    kept_reads_.emplace(reader->get(), KeptRead{});
    readers_.push_back(std::move(*reader));
  }
  return Status::Ok();
}

Status SqliteStore::ConfigureWriter(Connection& connection) {
  const std::string context = "configuring " + display_;
  if (!memory_) {
    // The first read of the file happens here: a file that is not a database
    // fails now, with a message that says so.
    Result<std::string> mode = connection.QueryText("PRAGMA journal_mode=WAL", context);
    // Switching a new file to WAL while other processes open it too can be
    // refused at once with SQLITE_BUSY (SQLite skips the busy handler where
    // waiting could deadlock): retry within the busy timeout.
    for (int waited_ms = 0; !mode.ok() && waited_ms < kBusyTimeoutMs; waited_ms += 20) {
      const int rc = sqlite3_extended_errcode(connection.db()) & 0xff;
      if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      mode = connection.QueryText("PRAGMA journal_mode=WAL", context);
    }
    if (!mode.ok()) {
      if (mode.status().IsUnavailable()) return mode.status();
      return Status::Unavailable(mode.status().message());
    }
    if (*mode != "wal") {
      return Status::Unavailable(display_ + " cannot use write-ahead logging (journal mode " +
                                 *mode + ")");
    }
    // A commit that returned ok is on disk, for the migrations; Start then
    // hands the wait for the disk to the syncer (SyncWal).
    if (Status status = connection.Exec("PRAGMA synchronous=FULL", context); !status.ok()) {
      return status;
    }
  }
  if (Status status = connection.Exec(kConnectionPragmas, context); !status.ok()) return status;
  // Sized for a batch's dirty pages (kWriterCachePragma says why), so that
  // they are not spilled to the WAL mid-transaction.
  return connection.Exec(kWriterCachePragma, context);
}

Status SqliteStore::Migrate(Connection& connection) {
  // BEGIN IMMEDIATE takes the write lock before reading which versions are
  // applied, so two processes opening a new file at once apply each migration
  // exactly once (the second waits, up to the busy timeout, then sees them).
  const std::string context = "migrating " + display_;
  if (Status status = connection.Exec("BEGIN IMMEDIATE", context); !status.ok()) return status;
  Status status = ApplyMigrations(connection);
  if (status.ok()) status = connection.Exec("COMMIT", context);
  if (!status.ok() && !sqlite3_get_autocommit(connection.db())) {
    (void)connection.Exec("ROLLBACK", context);
  }
  return status;
}

Status SqliteStore::ApplyMigrations(Connection& connection) {
  const std::string context = "migrating " + display_;
  // Refused rather than given tables of tokend's.
  if (Status status = RefuseAnotherApplicationsDatabase(connection); !status.ok()) return status;

  if (Status status = connection.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                      "version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
                                      "applied_at INTEGER NOT NULL DEFAULT (unixepoch()))",
                                      context);
      !status.ok()) {
    return status;
  }
  Result<std::vector<PendingMigration>> pending = PendingMigrations(connection);
  if (!pending.ok()) return pending.status();
  for (const PendingMigration& migration : *pending) {
    const std::string sql(migration.file->sql);
    if (Status status =
            connection.Exec(sql.c_str(), context + " (" + std::string(migration.file->name) + ")");
        !status.ok()) {
      return status;
    }
    Result<Statement> record =
        connection.Prepare("INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)");
    if (!record.ok()) return record.status();
    record->Bind(1, static_cast<std::int64_t>(migration.version));
    record->Bind(2, migration.file->name.substr(kSqliteMigrationPrefix.size()));
    if (const int done = record->Step(); done != SQLITE_DONE) {
      return StatusFromSqlite(done, connection.db(), context);
    }
  }
  return Status::Ok();
}

Result<std::vector<SqliteStore::PendingMigration>> SqliteStore::PendingMigrations(
    Connection& connection) {
  const std::string context = "reading the schema of " + display_;
  std::vector<PendingMigration> pending;
  for (const EmbeddedFile& file : EmbeddedMigrations()) {
    if (!file.name.starts_with(kSqliteMigrationPrefix)) continue;
    const std::optional<int> version =
        MigrationVersion(file.name.substr(kSqliteMigrationPrefix.size()));
    if (!version)
      return Status::Internal("migration " + std::string(file.name) + " has no version");

    Result<Statement> applied =
        connection.Prepare("SELECT 1 FROM schema_migrations WHERE version = ?1");
    if (!applied.ok()) return applied.status();
    applied->Bind(1, static_cast<std::int64_t>(*version));
    const int rc = applied->Step();
    if (rc == SQLITE_ROW) continue;
    if (rc != SQLITE_DONE) return StatusFromSqlite(rc, connection.db(), context);
    pending.push_back({*version, &file});
  }
  return pending;
}

Status SqliteStore::RefuseAnotherApplicationsDatabase(Connection& connection) {
  Result<std::string> tables = connection.QueryText(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
      "AND NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'schema_migrations')",
      "reading the schema of " + display_);
  if (!tables.ok()) return tables.status();
  if (*tables != "0") return Status::Unavailable(display_ + " is not a tokend database");
  return Status::Ok();
}

Status SqliteStore::CheckSchemaIsCurrent(Connection& connection) {
  const std::string context = "reading the schema of " + display_;
  if (Status status = RefuseAnotherApplicationsDatabase(connection); !status.ok()) return status;
  Result<std::string> migrated = connection.QueryText(
      "SELECT count(*) FROM sqlite_schema WHERE name = 'schema_migrations'", context);
  if (!migrated.ok()) return migrated.status();
  if (*migrated == "0") return Status::NotFound(display_ + " holds no tokend store yet");
  Result<std::vector<PendingMigration>> pending = PendingMigrations(connection);
  if (!pending.ok()) return pending.status();
  if (!pending->empty()) return SchemaOlderThanThisTokend(display_);
  return Status::Ok();
}

SqliteStore::Lease SqliteStore::Acquire(bool for_lookup) {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [this] { return !idle_.empty(); });
  Connection* connection = idle_.back();
  idle_.pop_back();
  lock.unlock();
  if (!for_lookup) EndKeptRead(*connection);
  return Lease(this, connection);
}

Status SqliteStore::KeepReadForLookup(Connection& connection) {
  const auto kept = kept_reads_.find(&connection);
  if (kept == kept_reads_.end()) return Status::Ok();  // in-memory store
  // Read before BEGIN: the snapshot, taken by the first read after it,
  // holds at least every commit counted here.
  const std::uint64_t commits = commits_.load(std::memory_order_acquire);
  const auto now = std::chrono::steady_clock::now();
  if (!sqlite3_get_autocommit(connection.db()) && kept->second.commits == commits &&
      now - kept->second.began < kKeptReadLimit) {
    return Status::Ok();
  }
  EndKeptRead(connection);
  Result<Statement> begin = connection.Prepare("BEGIN");
  if (!begin.ok()) return begin.status();
  if (const int rc = begin->Step(); rc != SQLITE_DONE) {
    return StatusFromSqlite(rc, connection.db(), "reading " + display_);
  }
  kept->second = KeptRead{.commits = commits, .began = now};
  return Status::Ok();
}

void SqliteStore::EndKeptRead(Connection& connection) {
  if (memory_ || sqlite3_get_autocommit(connection.db())) return;
  // A read transaction has nothing to lose: COMMIT only gives the read
  // mark back, and a failure leaves the connection in autocommit anyway.
  if (Result<Statement> commit = connection.Prepare("COMMIT"); commit.ok()) (void)commit->Step();
}

void SqliteStore::EndIdleKeptReads() {
  if (kept_reads_.empty()) return;
  std::lock_guard lock(pool_mu_);
  for (Connection* connection : idle_) EndKeptRead(*connection);
}

std::optional<SqliteStore::Lease> SqliteStore::TryAcquire() {
  std::lock_guard lock(pool_mu_);
  if (idle_.empty()) return std::nullopt;
  Connection* connection = idle_.back();
  idle_.pop_back();
  return Lease(this, connection);
}

void SqliteStore::Release(Connection* connection) {
  {
    std::lock_guard lock(pool_mu_);
    idle_.push_back(connection);
  }
  pool_cv_.notify_one();
}

Status SqliteStore::Submit(WriteOp& op) {
  std::unique_lock lock(queue_mu_);
  queue_.push_back(&op);
  queue_cv_.notify_one();
  done_cv_.wait(lock, [&op] { return op.done; });
  return op.result;
}

void SqliteStore::WriterLoop() {
  std::vector<WriteOp*> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      // Always at least one op, so that an InsertMany larger than a batch
      // still runs (alone, in its own transaction).
      auto rows_of = [](const WriteOp* op) {
        return std::max<std::size_t>(1, op->rows.size() + op->uses.size());
      };
      std::size_t rows = 0;
      while (!queue_.empty() &&
             (batch.empty() || rows + rows_of(queue_.front()) <= kMaxBatchRows)) {
        rows += rows_of(queue_.front());
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    if (memory_) {
      {
        Lease lease = Acquire();
        RunBatch(*lease, batch);
      }
      // The connection back in the pool first: an answered caller's next
      // read may need it at once.
      Acknowledge(batch);
    } else {
      RunBatch(*writer_connection_, batch);
      {
        std::lock_guard lock(sync_mu_);
        to_sync_.push_back(std::move(batch));
      }
      sync_cv_.notify_one();
    }
    batch.clear();
  }
}

void SqliteStore::Acknowledge(std::vector<WriteOp*>& batch) {
  for (WriteOp*& op : batch) {
    if (!op->finished) continue;
    const std::function<void(const Status&)> finished = std::move(op->finished);
    const Status result = op->result;
    op = nullptr;  // freed by the call below
    finished(result);
  }
  {
    std::lock_guard lock(queue_mu_);
    for (WriteOp* op : batch) {
      if (op != nullptr) op->done = true;
    }
  }
  done_cv_.notify_all();
}

void SqliteStore::SyncLoop() {
  std::vector<std::vector<WriteOp*>> batches;
  for (;;) {
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [this] { return writer_stopped_ || !to_sync_.empty(); });
      if (to_sync_.empty()) return;  // the writer stopped, and all it wrote is answered
      batches.swap(to_sync_);
    }
    // Everything these batches wrote reached the WAL before their COMMIT
    // returned, so one fsync now covers them all.
    const Status synced = SyncWal();
    for (std::vector<WriteOp*>& batch : batches) {
      if (!synced.ok()) {
        for (WriteOp* op : batch) {
          if (op->result.ok()) op->result = synced;
        }
      }
      Acknowledge(batch);
    }
    batches.clear();
  }
}

Status SqliteStore::OpenWal() {
  wal_path_ = sqlite3_filename_wal(sqlite3_db_filename(writer_connection_->db(), "main"));
  const int fd = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Status::Unavailable("cannot open the write-ahead log of " + display_ + ": " +
                               ErrnoText(errno));
  }
  wal_fd_.reset(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return Status::Unavailable("cannot read the status of the write-ahead log of " + display_ +
                               ": " + ErrnoText(errno));
  }
  wal_device_ = info.st_dev;
  wal_inode_ = info.st_ino;
  // The WAL may have been created by this open, with nothing committed in it
  // yet, so SQLite has not synced its folder: an fdatasync of the file alone
  // would not make its name durable.
  const std::string folder = std::filesystem::path(wal_path_).parent_path().string();
  UniqueFd folder_fd;
  folder_fd.reset(
      ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY));
  if (folder_fd.get() < 0 || ::fsync(folder_fd.get()) != 0) {
    return Status::Unavailable("cannot sync the folder of " + display_ + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

Status SqliteStore::DurabilityLost() const {
  return Status::Unavailable("a write to " + display_ +
                             " could not be made durable; no write is accepted until tokend "
                             "opens the store again");
}

Status SqliteStore::SyncWal() {
  if (sync_failed_.load()) return DurabilityLost();
  std::string cause;
  struct stat info {};
  if (::fdatasync(wal_fd_.get()) != 0) {
    cause = "fsync of its write-ahead log: " + ErrnoText(errno);
  } else if (::stat(wal_path_.c_str(), &info) != 0 || info.st_dev != wal_device_ ||
             info.st_ino != wal_inode_) {
    // SQLite keeps the WAL file while a connection is open: another file
    // there means what was synced is not what a restart will read.
    cause = "its write-ahead log was removed or replaced";
  } else {
    return Status::Ok();
  }
  sync_failed_.store(true);
  return Status::Unavailable(DurabilityLost().message() + " (" + cause + ")");
}

Status SqliteStore::InsertOne(Connection& connection, const TokenRow& row) {
  // Before the row is written, so that no reader can find the row while
  // MayHoldSecret still denies it (a failed insert leaves a harmless extra).
  // Its id becomes the fingerprint's hint once the row is written: a refused
  // row's id would send every lookup of the hash that holds it the long way.
  fingerprints_.Add(row.secret_hash);
  Result<Statement> stmt = connection.Prepare(kInsertSql);
  if (!stmt.ok()) return stmt.status();
  BindRow(*stmt, row);
  const int rc = stmt->Step();
  if (rc == SQLITE_DONE) {
    fingerprints_.Add(row.secret_hash, row.id);
    Count(row.type, row.principal, 1);
    return Status::Ok();
  }
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    // Never echo the hash; the id is not a secret.
    const bool hash = std::string_view(sqlite3_errmsg(connection.db())).find("secret_hash") !=
                      std::string_view::npos;
    return Status::AlreadyExists(hash ? "a token with the same secret hash already exists"
                                      : "a token with id " + row.id + " already exists");
  }
  return StatusFromSqlite(rc, connection.db(), "inserting into " + display_);
}

void SqliteStore::UseBulkCache(Connection& connection) {
  if (bulk_cache_) return;
  // A cache size is a hint: when it cannot be set the load runs as it is.
  bulk_cache_ = connection.Exec(kBulkWriterCachePragma, "sizing the cache of " + display_).ok();
}

void SqliteStore::RunBatch(Connection& connection, std::vector<WriteOp*>& batch) {
  const std::string context = "writing to " + display_;
  auto fail_all = [&batch](const Status& status) {
    for (WriteOp* op : batch) op->result = status;
  };
  // A write into a file that is no longer the configured one would be
  // acknowledged, then lost to the next start: refused like any store fault.
  if (Status status = CheckFileIdentity(); !status.ok()) {
    fail_all(status);
    return;
  }
  if (sync_failed_.load()) {
    fail_all(DurabilityLost());
    return;
  }
  EndIdleKeptReads();
  if (Status status = connection.Exec("BEGIN IMMEDIATE", context); !status.ok()) {
    fail_all(status);
    return;
  }
  // A row-level failure (duplicate, absent id) fails only its own caller: a
  // failed single statement is undone by SQLite alone, and InsertMany's rows
  // are grouped under a savepoint. Anything else (disk full, I/O) fails the
  // whole transaction.
  Status fatal;
  // The batch's events continue this store's chain in op order; the chain's
  // end moves only once the batch has committed.
  ChainAppender chain(chain_tail_);
  type_deltas_.clear();
  token_deltas_.clear();
  for (WriteOp* op : batch) {
    if (op->kind == WriteOp::Kind::kInsertMany || op->kind == WriteOp::Kind::kInsertAbsent) {
      UseBulkCache(connection);
    }
    switch (op->kind) {
      case WriteOp::Kind::kInsert:
        op->result = InsertOne(connection, op->rows.front());
        if (op->result.ok()) {
          fatal = WriteEvents(connection, chain, op->events);
        } else if (op->result.code() != core::StatusCode::kAlreadyExists) {
          fatal = op->result;
        }
        break;
      case WriteOp::Kind::kInsertMany: {
        // Alone in its transaction (the usual case: bulk loads exceed a
        // batch), the transaction itself is the all-or-nothing unit. A
        // savepoint there slows large loads badly: every page it touches is
        // also written to the statement journal.
        if (batch.size() == 1) {
          op->result = Status::Ok();
          for (const TokenRow& row : op->rows) {
            op->result = InsertOne(connection, row);
            if (!op->result.ok()) break;
          }
          fatal = op->result;
          break;
        }
        if (fatal = connection.Exec("SAVEPOINT insert_many", context); !fatal.ok()) break;
        op->result = Status::Ok();
        std::size_t inserted = 0;
        for (const TokenRow& row : op->rows) {
          op->result = InsertOne(connection, row);
          if (!op->result.ok()) break;
          ++inserted;
        }
        if (!op->result.ok()) {
          if (op->result.code() != core::StatusCode::kAlreadyExists) {
            fatal = op->result;
            break;
          }
          fatal = connection.Exec("ROLLBACK TO insert_many", context);
          if (!fatal.ok()) break;
          for (const TokenRow& row : op->rows.first(inserted)) Count(row.type, row.principal, -1);
        }
        fatal = connection.Exec("RELEASE insert_many", context);
        break;
      }
      case WriteOp::Kind::kDelete: {
        Result<bool> deleted = DeleteOne(connection, op->id);
        if (!deleted.ok()) {
          fatal = deleted.status();
        } else if (!*deleted) {
          op->result = Status::NotFound("no token with id " + std::string(op->id));
        } else {
          op->result = Status::Ok();
          fatal = WriteEvents(connection, chain, op->events);
        }
        break;
      }
      case WriteOp::Kind::kDeleteMatching: {
        // One statement: SQLite applies it whole or not at all; a failure
        // part-way is fatal and rolls the transaction back.
        Result<Statement> stmt = connection.Prepare("DELETE FROM tokens " + op->filter->sql +
                                                    " RETURNING id, type, principal, name");
        if (!stmt.ok()) {
          fatal = stmt.status();
          break;
        }
        op->filter->BindAll(*stmt);
        op->deleted.clear();
        std::vector<core::AuditEvent> events;
        for (;;) {
          const int rc = stmt->Step();
          if (rc == SQLITE_DONE) break;
          if (rc != SQLITE_ROW) {
            fatal = StatusFromSqlite(rc, connection.db(), "deleting from " + display_);
            break;
          }
          op->deleted.emplace_back(stmt->ColumnText(0));
          Count(stmt->ColumnText(1), stmt->ColumnOptionalText(2), -1);
          events.push_back(
              RevokedEvent(ReadSubject(*stmt, 0), core::kReasonBulk, *op->origin, op->now));
        }
        if (fatal.ok()) fatal = WriteEvents(connection, chain, events);
        if (fatal.ok()) op->result = Status::Ok();
        break;
      }
      case WriteOp::Kind::kInsertAbsent:
        fatal = InsertAbsentRows(connection, *op, chain);
        break;
      case WriteOp::Kind::kRecordUses:
        // Any failure is fatal: the whole batch of uses goes or none does.
        for (const TokenUse& use : op->uses) {
          Result<Statement> stmt = connection.Prepare(kRecordUseSql);
          if (!stmt.ok()) {
            fatal = stmt.status();
            break;
          }
          stmt->Bind(1, std::string_view(use.id));
          stmt->Bind(2, std::int64_t{use.at});
          if (const int rc = stmt->Step(); rc != SQLITE_DONE) {
            fatal = StatusFromSqlite(rc, connection.db(), "recording uses in " + display_);
            break;
          }
        }
        if (fatal.ok()) op->result = Status::Ok();
        break;
      case WriteOp::Kind::kRotate:
        fatal = RunRotate(connection, *op, chain);
        break;
      case WriteOp::Kind::kRevokeFamily:
        fatal = RunRevokeFamily(connection, *op, chain);
        break;
      case WriteOp::Kind::kSweep:
        fatal = RunSweep(connection, *op);
        break;
      case WriteOp::Kind::kNotices:
        fatal = RunNotices(connection, *op, chain);
        break;
      case WriteOp::Kind::kPruneAudit:
        fatal = RunPruneAudit(connection, *op);
        break;
      case WriteOp::Kind::kClaim:
        fatal = RunClaim(connection, *op);
        break;
      case WriteOp::Kind::kFinishDelivery:
        fatal = RunFinishDelivery(connection, *op);
        break;
    }
    if (!fatal.ok()) break;
  }
  if (fatal.ok()) fatal = WriteCounts(connection);
  if (fatal.ok() && !chain.empty()) fatal = WriteChainRecord(connection, chain);
  if (fatal.ok()) fatal = connection.Exec("COMMIT", context);
  if (!fatal.ok()) {
    if (!sqlite3_get_autocommit(connection.db())) (void)connection.Exec("ROLLBACK", context);
    fail_all(fatal);
    return;
  }
  // Before the listener hears of a deletion: a lookup that starts after
  // the cache dropped a token finds its kept read outdated, and reads anew.
  commits_.fetch_add(1, std::memory_order_release);
  chain_tail_ = chain.tail();
  if (ChangeListener* listener = listener_.load()) {
    for (const WriteOp* op : batch) {
      if (op->kind == WriteOp::Kind::kDelete && op->result.ok()) listener->OnTokenDeleted(op->id);
      if ((op->kind == WriteOp::Kind::kDeleteMatching || op->kind == WriteOp::Kind::kRevokeFamily ||
           op->kind == WriteOp::Kind::kSweep) &&
          op->result.ok()) {
        for (const std::string& id : op->deleted) listener->OnTokenDeleted(id);
      }
      if (op->kind == WriteOp::Kind::kRotate && op->result.ok()) {
        listener->OnTokenDeleted(op->rotation->old_id);
      }
    }
  }
}

Status SqliteStore::Insert(const core::Token& token, std::span<const core::AuditEvent> events) {
  Result<TokenRow> row = EncodeTokenRow(token);
  if (!row.ok()) return row.status();
  WriteOp op(WriteOp::Kind::kInsert, std::span(&*row, 1), {});
  op.events = events;
  return Submit(op);
}

void SqliteStore::SubmitInsert(const core::Token& token, std::span<const core::AuditEvent> events,
                               std::function<void(Status)> done) {
  Result<TokenRow> row = EncodeTokenRow(token);
  if (!row.ok()) {
    done(row.status());
    return;
  }
  auto* queued =
      new QueuedInsert(std::move(row).value(), {events.begin(), events.end()}, std::move(done));
  queued->op.finished = [queued](const Status& result) {
    const std::function<void(Status)> done = std::move(queued->done);
    delete queued;
    done(result);
  };
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(&queued->op);
  }
  queue_cv_.notify_one();
}

Status SqliteStore::InsertMany(std::span<const core::Token> tokens) {
  if (tokens.empty()) return Status::Ok();
  std::vector<TokenRow> rows;
  rows.reserve(tokens.size());
  for (const core::Token& token : tokens) {
    Result<TokenRow> row = EncodeTokenRow(token);
    if (!row.ok()) return row.status();
    rows.push_back(std::move(row).value());
  }
  WriteOp op(WriteOp::Kind::kInsertMany, rows, {});
  return Submit(op);
}

Status SqliteStore::Delete(std::string_view id, std::span<const core::AuditEvent> events) {
  WriteOp op(WriteOp::Kind::kDelete, {}, id);
  op.events = events;
  return Submit(op);
}

Result<std::vector<std::string>> SqliteStore::DeleteMatching(const core::TokenQuery& query,
                                                             const core::Visibility& visibility,
                                                             const core::EventOrigin& origin,
                                                             core::EpochMillis now) {
  if (!visibility.everything && visibility.types.empty()) {
    return std::vector<std::string>();  // the caller can see nothing
  }
  if (query.principals.size() + query.types.size() > kMaxQueryParameters) {
    return Status::InvalidArgument("too many principals or types in one query",
                                   core::ApiError::kQueryInvalidFilters);
  }
  const SqlWithParams filter = TokenFilter(query, visibility);
  WriteOp op(WriteOp::Kind::kDeleteMatching, {}, {});
  op.filter = &filter;
  op.origin = &origin;
  op.now = now;
  if (Status status = Submit(op); !status.ok()) return status;
  return std::move(op.deleted);
}

Result<bool> SqliteStore::DeleteOne(Connection& connection, std::string_view id) {
  Result<Statement> stmt = connection.Prepare(kDeleteSql);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, id);
  bool deleted = false;
  for (;;) {
    const int rc = stmt->Step();
    if (rc == SQLITE_DONE) return deleted;
    if (rc != SQLITE_ROW) return StatusFromSqlite(rc, connection.db(), "deleting from " + display_);
    Count(stmt->ColumnText(0), stmt->ColumnOptionalText(1), -1);
    deleted = true;
  }
}

void SqliteStore::Count(std::string_view type, const std::optional<std::string>& principal,
                        int delta) {
  auto it = type_deltas_.find(type);
  if (it == type_deltas_.end()) it = type_deltas_.emplace(std::string(type), 0).first;
  it->second += delta;
  token_deltas_[{!principal.has_value(), principal.value_or(""), std::string(type)}] += delta;
}

Status SqliteStore::WriteCounts(Connection& connection) {
  const std::string context = "counting tokens in " + display_;
  for (const auto& [type, delta] : type_deltas_) {
    if (delta == 0) continue;
    Result<Statement> add = connection.Prepare(kAddTypeCountSql);
    if (!add.ok()) return add.status();
    add->Bind(1, std::string_view(type));
    add->Bind(2, delta);
    if (const int rc = add->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
  }
  for (const auto& entry : token_deltas_) {
    // Plain names rather than structured bindings: clang before 16 cannot capture those.
    const std::int64_t delta = entry.second;
    if (delta == 0) continue;
    const bool principal_null = std::get<0>(entry.first);
    const std::string& principal = std::get<1>(entry.first);
    const std::string& type = std::get<2>(entry.first);
    // Both statements name the counter row by ?1..?3; the upsert adds ?4.
    auto change_row = [&](const char* sql) -> Status {
      Result<Statement> change = connection.Prepare(sql);
      if (!change.ok()) return change.status();
      change->Bind(1, std::int64_t{principal_null ? 1 : 0});
      change->Bind(2, std::string_view(principal));
      change->Bind(3, std::string_view(type));
      if (sql == kAddTokenCountSql) change->Bind(4, delta);
      const int rc = change->Step();
      return rc == SQLITE_DONE ? Status::Ok() : StatusFromSqlite(rc, connection.db(), context);
    };
    if (Status status = change_row(kAddTokenCountSql); !status.ok()) return status;
    if (delta < 0) {
      if (Status status = change_row(kDropEmptyTokenCountSql); !status.ok()) return status;
    }
  }
  return Status::Ok();
}

Status SqliteStore::RunRotate(Connection& connection, WriteOp& op, ChainAppender& chain) {
  const Rotation& rotation = *op.rotation;
  const std::string context = "rotating in " + display_;
  {
    Result<Statement> state = connection.Prepare(kRotationStateSql);
    if (!state.ok()) return state.status();
    state->Bind(1, std::string_view(rotation.old_id));
    const int rc = state->Step();
    if (rc == SQLITE_DONE) {
      op.result = Status::NotFound("no token with id " + rotation.old_id);
      return Status::Ok();
    }
    if (rc != SQLITE_ROW) return StatusFromSqlite(rc, connection.db(), context);
    if (const std::optional<std::string> newer = state->ColumnOptionalText(0)) {
      op.result = core::RotationPending(rotation.old_id, *newer);
      return Status::Ok();
    }
  }
  // The insert may fail alone (a taken id or hash): it runs first, and
  // nothing else has changed when it does.
  op.result = InsertOne(connection, op.rows.front());
  if (!op.result.ok()) {
    return op.result.code() == core::StatusCode::kAlreadyExists ? Status::Ok() : op.result;
  }
  if (rotation.keep_old) {
    Result<Statement> keep = connection.Prepare(kKeepRotatedSql);
    if (!keep.ok()) return keep.status();
    keep->Bind(1, std::string_view(rotation.old_id));
    keep->Bind(2, std::string_view(rotation.new_token.id));
    keep->Bind(3, rotation.old_expiration);
    if (const int rc = keep->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
  } else if (Result<bool> deleted = DeleteOne(connection, rotation.old_id); !deleted.ok()) {
    return deleted.status();
  }
  if (rotation.retired) {
    const RetiredSecret& retired = *rotation.retired;
    Result<Statement> insert = connection.Prepare(kInsertRetiredSql);
    if (!insert.ok()) return insert.status();
    insert->Bind(1, std::string_view(retired.secret_hash));
    insert->Bind(2, std::string_view(retired.token_id));
    insert->Bind(3, std::string_view(retired.family_id));
    insert->Bind(4, retired.overlap_end);
    insert->Bind(5, retired.forget_after);
    insert->Bind(6, core::ToString(retired.token_type));
    insert->Bind(7, retired.principal);
    insert->Bind(8, std::string_view(retired.name));
    if (const int rc = insert->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
  }
  if (Status status = WriteEvents(connection, chain, rotation.events); !status.ok()) {
    return status;
  }
  op.result = Status::Ok();
  return Status::Ok();
}

Status SqliteStore::RunRevokeFamily(Connection& connection, WriteOp& op, ChainAppender& chain) {
  Result<Statement> mark = connection.Prepare(kMarkReuseSql);
  if (!mark.ok()) return mark.status();
  mark->Bind(1, op.secret_hash);
  mark->Bind(2, op.now);
  if (const int rc = mark->Step(); rc != SQLITE_DONE) {
    return StatusFromSqlite(rc, connection.db(), "marking a reuse in " + display_);
  }
  op.deleted.clear();
  op.first_detection = sqlite3_changes(connection.db()) > 0;
  if (op.first_detection) {
    RetiredSubject retired;
    {
      Result<Statement> read = connection.Prepare(kRetiredSubjectSql);
      if (!read.ok()) return read.status();
      read->Bind(1, op.secret_hash);
      const int rc = read->Step();
      if (rc != SQLITE_ROW) return StatusFromSqlite(rc, connection.db(), "reading " + display_);
      retired.token_id = std::string(read->ColumnText(0));
      retired.type = read->ColumnOptionalText(1);
      retired.principal = read->ColumnOptionalText(2);
      retired.name = read->ColumnOptionalText(3);
    }
    Result<Statement> revoke = connection.Prepare(kDeleteFamilySql);
    if (!revoke.ok()) return revoke.status();
    revoke->Bind(1, op.id);
    revoke->Bind(2, op.now);
    // Revoked members; one whose overlap ended is removed as the sweep would,
    // with no event.
    std::vector<core::EventSubject> members;
    for (;;) {
      const int rc = revoke->Step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW)
        return StatusFromSqlite(rc, connection.db(), "deleting from " + display_);
      op.deleted.emplace_back(revoke->ColumnText(0));
      Count(revoke->ColumnText(1), revoke->ColumnOptionalText(2), -1);
      if (revoke->ColumnInt64(4) == 0) members.push_back(ReadSubject(*revoke, 0));
    }
    op.revoked_members = static_cast<std::int64_t>(members.size());
    const std::vector<core::AuditEvent> events = ReuseEvents(retired, members, op.now);
    if (Status status = WriteEvents(connection, chain, events); !status.ok()) return status;
  }
  op.result = Status::Ok();
  return Status::Ok();
}

Status SqliteStore::RunSweep(Connection& connection, WriteOp& op) {
  Result<Statement> tokens = connection.Prepare(kSweepTokensSql);
  if (!tokens.ok()) return tokens.status();
  tokens->Bind(1, op.now);
  op.deleted.clear();
  for (;;) {
    const int rc = tokens->Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return StatusFromSqlite(rc, connection.db(), "sweeping " + display_);
    op.deleted.emplace_back(tokens->ColumnText(0));
    Count(tokens->ColumnText(1), tokens->ColumnOptionalText(2), -1);
  }
  Result<Statement> retired = connection.Prepare(kSweepRetiredSql);
  if (!retired.ok()) return retired.status();
  retired->Bind(1, op.now);
  if (const int rc = retired->Step(); rc != SQLITE_DONE) {
    return StatusFromSqlite(rc, connection.db(), "sweeping " + display_);
  }
  op.retired_swept = sqlite3_changes(connection.db());
  Result<Statement> next = connection.Prepare(kNextOverlapEndSql);
  if (!next.ok()) return next.status();
  if (const int rc = next->Step(); rc != SQLITE_ROW) {
    return StatusFromSqlite(rc, connection.db(), "sweeping " + display_);
  }
  op.next_overlap_end = next->ColumnOptionalInt64(0);
  op.result = Status::Ok();
  return Status::Ok();
}

Status SqliteStore::Rotate(const Rotation& rotation) {
  Result<TokenRow> row = EncodeTokenRow(rotation.new_token);
  if (!row.ok()) return row.status();
  WriteOp op(WriteOp::Kind::kRotate, std::span(&*row, 1), {});
  op.rotation = &rotation;
  return Submit(op);
}

Result<FamilyRevocation> SqliteStore::RevokeFamily(std::string_view family_id,
                                                   std::string_view secret_hash,
                                                   core::EpochMillis now) {
  WriteOp op(WriteOp::Kind::kRevokeFamily, {}, family_id);
  op.secret_hash = secret_hash;
  op.now = now;
  if (Status status = Submit(op); !status.ok()) return status;
  return FamilyRevocation{op.first_detection, std::move(op.deleted), op.revoked_members};
}

Result<SweepCounts> SqliteStore::SweepRotations(core::EpochMillis now) {
  WriteOp op(WriteOp::Kind::kSweep, {}, {});
  op.now = now;
  if (Status status = Submit(op); !status.ok()) return status;
  return SweepCounts{static_cast<std::int64_t>(op.deleted.size()), op.retired_swept,
                     op.next_overlap_end};
}

Result<SecretLookup> SqliteStore::LookupSecret(std::string_view secret_hash) {
  Lease lease = Acquire(/*for_lookup=*/true);
  return LookupSecretOn(*lease, secret_hash);
}

std::optional<Result<SecretLookup>> SqliteStore::TryLookupSecret(std::string_view secret_hash) {
  std::optional<Lease> lease = TryAcquire();
  if (!lease) return std::nullopt;
  return LookupSecretOn(**lease, secret_hash);
}

Result<SecretLookup> SqliteStore::LookupSecretOn(Connection& connection,
                                                 std::string_view secret_hash) {
  if (Status status = KeepReadForLookup(connection); !status.ok()) return status;
  if (const std::optional<core::ObjectIdBytes> id = fingerprints_.TokenIdHint(secret_hash)) {
    const core::ObjectIdChars id_text = core::ObjectIdCharsOf(*id);
    Result<std::optional<SecretLookup>> hinted =
        LookupByIdHint(connection, std::string_view(id_text.data(), id_text.size()), secret_hash);
    if (!hinted.ok()) return hinted.status();
    if (*hinted) return std::move(**hinted);
  }
  Result<Statement> stmt = connection.Prepare(kLookupSecretSql);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, secret_hash);
  const int rc = stmt->Step();
  if (rc != SQLITE_ROW) {
    Status failed = StatusFromSqlite(rc, connection.db(), "reading " + display_);
    EndKeptRead(connection);
    return failed;
  }
  SecretLookup lookup;
  if (stmt->ColumnOptionalText(0)) {
    Result<core::Token> token = ReadToken(*stmt);
    if (!token.ok()) return token.status();
    lookup.token = std::move(token).value();
  }
  constexpr int r = kTokenColumnCount;
  if (std::optional<std::string> token_id = stmt->ColumnOptionalText(r)) {
    RetiredSecret retired;
    retired.secret_hash = std::string(secret_hash);
    retired.token_id = std::move(*token_id);
    retired.family_id = std::string(stmt->ColumnText(r + 1));
    retired.overlap_end = stmt->ColumnInt64(r + 2);
    retired.forget_after = stmt->ColumnInt64(r + 3);
    retired.reuse_detected_at = stmt->ColumnOptionalInt64(r + 4);
    // Null in rows written before these columns existed.
    retired.token_type = core::ParseTokenType(stmt->ColumnOptionalText(r + 5).value_or(""))
                             .value_or(core::TokenType::kGlobal);
    retired.principal = stmt->ColumnOptionalText(r + 6);
    retired.name = stmt->ColumnOptionalText(r + 7).value_or("");
    lookup.retired = std::move(retired);
  }
  return lookup;
}

Result<std::optional<SecretLookup>> SqliteStore::LookupByIdHint(Connection& connection,
                                                                std::string_view id,
                                                                std::string_view secret_hash) {
  Result<Statement> stmt = connection.Prepare(kLookupByIdHintSql);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, id);
  stmt->Bind(2, secret_hash);
  const int rc = stmt->Step();
  if (rc == SQLITE_DONE) return std::optional<SecretLookup>();
  if (rc != SQLITE_ROW) {
    Status failed = StatusFromSqlite(rc, connection.db(), "reading " + display_);
    EndKeptRead(connection);
    return failed;
  }
  Result<core::Token> token = ReadToken(*stmt);
  if (!token.ok()) return token.status();
  // A token rotated away may have a retired record for this secret: the
  // full lookup reads both.
  if (token->rotated_to) return std::optional<SecretLookup>();
  SecretLookup lookup;
  lookup.token = std::move(token).value();
  return std::optional<SecretLookup>(std::move(lookup));
}

Result<core::Token> SqliteStore::FindOne(const char* sql, std::string_view key) {
  Lease lease = Acquire();
  Result<Statement> stmt = lease->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, key);
  const int rc = stmt->Step();
  if (rc == SQLITE_ROW) return ReadToken(*stmt);
  if (rc == SQLITE_DONE) return Status::NotFound("no such token");
  return StatusFromSqlite(rc, lease->db(), "reading " + display_);
}

Result<core::Token> SqliteStore::FindById(std::string_view id) {
  static const std::string sql = SelectTokensSql("WHERE id = ?1");
  Result<core::Token> token = FindOne(sql.c_str(), id);
  if (token.status().IsNotFound()) return Status::NotFound("no token with id " + std::string(id));
  return token;
}

Result<bool> SqliteStore::KnownToImports(std::string_view id, std::string_view secret_hash) {
  Lease lease = Acquire();
  Result<Statement> stmt = lease->Prepare(
      "SELECT EXISTS (SELECT 1 FROM import_ledger WHERE id = ?1 OR secret_hash = ?2)");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, id);
  stmt->Bind(2, secret_hash);
  const int rc = stmt->Step();
  if (rc != SQLITE_ROW) return StatusFromSqlite(rc, lease->db(), "reading " + display_);
  return stmt->ColumnInt64(0) != 0;
}

Result<core::Token> SqliteStore::FindBySecretHash(std::string_view secret_hash) {
  static const std::string sql = SelectTokensSql("WHERE secret_hash = ?1");
  return FindOne(sql.c_str(), secret_hash);
}

Result<std::int64_t> SqliteStore::QueryInt(Connection& connection, const SqlWithParams& sql) {
  Result<Statement> stmt = connection.Prepare(sql.sql);
  if (!stmt.ok()) return stmt.status();
  sql.BindAll(*stmt);
  const int rc = stmt->Step();
  if (rc == SQLITE_ROW) return stmt->ColumnInt64(0);
  if (rc == SQLITE_DONE) return std::int64_t{0};
  return StatusFromSqlite(rc, connection.db(), "counting tokens in " + display_);
}

Result<TokenPage> SqliteStore::Query(const core::TokenQuery& query,
                                     const core::Visibility& visibility, std::int64_t limit,
                                     std::int64_t offset, bool count_total) {
  TokenPage page;
  if (!count_total) page.total = -1;
  if (!visibility.everything && visibility.types.empty()) {
    if (count_total) page.total = 0;
    return page;  // the caller can see nothing
  }
  if (query.principals.size() + query.types.size() > kMaxQueryParameters) {
    return Status::InvalidArgument("too many principals or types in one query",
                                   core::ApiError::kQueryInvalidFilters);
  }
  const std::string_view direction = query.order == core::SortOrder::kDesc ? "DESC" : "ASC";
  const std::string_view column = SortColumn(query.sort);

  std::string order_by = " ORDER BY ";
  order_by += column;
  order_by += ' ';
  order_by += direction;
  order_by += ", id ";
  order_by += direction;
  // The page's ids come from the index alone; only those rows are read from
  // the table. Skipping OFFSET rows in a WITHOUT ROWID table otherwise seeks
  // the table once per skipped row (figures in docs/PERFORMANCE.md).
  SqlWithParams select = TokenFilter(query, visibility);
  select.sql = SelectTokensSql("WHERE id IN (SELECT id FROM tokens " + select.sql + order_by +
                               " LIMIT ? OFFSET ?)") +
               order_by;
  // A negative limit means no limit to SQLite, which is what the caller means.
  select.params.emplace_back(limit);
  select.params.emplace_back(std::max<std::int64_t>(0, offset));

  Lease lease = Acquire();
  const std::string context = "querying " + display_;
  // One read transaction: the page and its total come from the same snapshot.
  if (Status status = lease->Exec("BEGIN", context); !status.ok()) return status;
  const EndReadOnExit end_read{*lease};

  Result<Statement> stmt = lease->Prepare(select.sql);
  if (!stmt.ok()) return stmt.status();
  select.BindAll(*stmt);
  for (;;) {
    const int rc = stmt->Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return StatusFromSqlite(rc, lease->db(), context);
    Result<core::Token> token = ReadToken(*stmt);
    if (!token.ok()) return token.status();
    page.tokens.push_back(std::move(*token));
  }
  if (!count_total) return page;

  const auto returned = static_cast<std::int64_t>(page.tokens.size());
  if (std::optional<std::int64_t> total = TotalFromLastPage(returned, limit, offset)) {
    page.total = *total;
    return page;
  }
  Result<std::int64_t> total = 0;
  if (HasRowFilters(query)) {
    SqlWithParams count = TokenFilter(query, visibility);
    count.sql = "SELECT count(*) FROM tokens " + count.sql;
    total = QueryInt(*lease, count);
  } else {
    total = QueryInt(*lease, CounterTotal(query, visibility));
  }
  if (!total.ok()) return total.status();
  page.total = *total;
  return page;
}

Result<std::vector<std::pair<core::TokenType, std::int64_t>>> SqliteStore::CountByType() {
  Lease lease = Acquire();
  Result<Statement> stmt = lease->Prepare(kCountByTypeSql);
  if (!stmt.ok()) return stmt.status();
  std::vector<std::pair<core::TokenType, std::int64_t>> counts;
  for (;;) {
    const int rc = stmt->Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW)
      return StatusFromSqlite(rc, lease->db(), "counting tokens in " + display_);
    if (const std::optional<core::TokenType> type = core::ParseTokenType(stmt->ColumnText(0))) {
      counts.emplace_back(*type, stmt->ColumnInt64(1));
    }
  }
  return counts;
}

Status SqliteStore::Ping() {
  if (Status status = CheckFileIdentity(); !status.ok()) return status;
  if (sync_failed_.load()) return DurabilityLost();
  Lease lease = Acquire();
  Result<Statement> stmt = lease->Prepare(kPingSql);
  if (!stmt.ok()) return stmt.status();
  const int rc = stmt->Step();
  if (rc != SQLITE_ROW) return StatusFromSqlite(rc, lease->db(), "pinging " + display_);
  return Status::Ok();
}

// Queued like any write, so that one fsync covers the whole batch (and any
// inserts or deletes grouped with it). A use changes no token's validity:
// listeners hear nothing (RunBatch announces deletions only).
Status SqliteStore::RecordUses(std::span<const TokenUse> uses) {
  if (uses.empty()) return Status::Ok();
  WriteOp op(WriteOp::Kind::kRecordUses, {}, {});
  op.uses = uses;
  return Submit(op);
}

}  // namespace

Result<std::unique_ptr<TokenStore>> OpenSqliteStore(std::string_view target,
                                                    const StoreOptions& options) {
  if (target.empty()) {
    return Status::InvalidArgument("a sqlite: store URL needs a path or :memory:");
  }
  const bool memory = target == kMemoryTarget;
  std::string display =
      memory ? "SQLite in-memory database" : "SQLite database " + std::string(target);
  auto store = std::make_unique<SqliteStore>(std::move(display), memory);
  if (Status status = store->Start(std::string(target), options); !status.ok()) return status;
  return std::unique_ptr<TokenStore>(std::move(store));
}

Status SqliteStore::InsertAbsentRows(Connection& connection, WriteOp& op, ChainAppender& chain) {
  // A conflicting row is skipped by the statement itself, so no row can fail
  // alone: any failure here is fatal and rolls the whole transaction back,
  // which keeps the call all or none without a savepoint.
  const std::string sql = std::string(kInsertSql) + " ON CONFLICT DO NOTHING";
  op.inserted = 0;
  for (std::size_t i = 0; i < op.rows.size(); ++i) {
    Result<Statement> ledger = connection.Prepare(kRecordInImportLedgerSql);
    if (!ledger.ok()) return ledger.status();
    ledger->Bind(1, std::string_view(op.rows[i].id));
    ledger->Bind(2, std::string_view(op.rows[i].secret_hash));
    if (const int rc = ledger->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), "inserting into " + display_);
    }
    if (sqlite3_changes(connection.db()) == 0) continue;  // met by an earlier import
    fingerprints_.Add(op.rows[i].secret_hash);            // before the row, as in InsertOne
    Result<Statement> stmt = connection.Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    BindRow(*stmt, op.rows[i]);
    const int rc = stmt->Step();
    if (rc != SQLITE_DONE)
      return StatusFromSqlite(rc, connection.db(), "inserting into " + display_);
    const int stored = sqlite3_changes(connection.db());
    op.inserted += stored;
    if (stored > 0) {
      fingerprints_.Add(op.rows[i].secret_hash, op.rows[i].id);
      Count(op.rows[i].type, op.rows[i].principal, 1);
    }
    if (stored > 0 && i < op.events.size()) {
      if (Status status = WriteEvents(connection, chain, op.events.subspan(i, 1)); !status.ok()) {
        return status;
      }
    }
  }
  return Status::Ok();
}

Result<std::int64_t> SqliteStore::InsertAbsent(std::span<const core::Token> tokens,
                                               std::span<const core::AuditEvent> events) {
  if (tokens.empty()) return std::int64_t{0};
  std::vector<TokenRow> rows;
  rows.reserve(tokens.size());
  for (const core::Token& token : tokens) {
    Result<TokenRow> row = EncodeTokenRow(token);
    if (!row.ok()) return row.status();
    rows.push_back(std::move(row).value());
  }
  if (!events.empty() && events.size() != tokens.size()) {
    return Status::InvalidArgument("InsertAbsent needs one event per token, or none");
  }
  WriteOp op(WriteOp::Kind::kInsertAbsent, rows, {});
  op.events = events;
  if (Status status = Submit(op); !status.ok()) return status;
  return op.inserted;
}

}  // namespace tokend::store

namespace tokend::store {
namespace {

Status SqliteStore::WriteEvents(Connection& connection, ChainAppender& chain,
                                std::span<const core::AuditEvent> events) {
  const std::string context = "recording events in " + display_;
  for (const core::AuditEvent& event : events) {
    const EventRow row = chain.Append(event);
    Result<Statement> insert = connection.Prepare(kInsertEventSql);
    if (!insert.ok()) return insert.status();
    insert->Bind(1, std::string_view(row.id));
    insert->Bind(2, std::string_view(row.writer));
    insert->Bind(3, row.seq);
    insert->Bind(4, std::int64_t{row.time});
    insert->Bind(5, std::string_view(row.action));
    insert->Bind(6, std::string_view(row.subject_id));
    insert->Bind(7, std::string_view(row.subject_type));
    insert->Bind(8, row.subject_principal);
    insert->Bind(9, std::string_view(row.body));
    insert->Bind(10, std::string_view(row.prev_hash));
    insert->Bind(11, std::string_view(row.hash));
    if (const int rc = insert->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
    for (const std::string& url : webhook_urls_) {
      Result<Statement> queue = connection.Prepare(kInsertOutboxSql);
      if (!queue.ok()) return queue.status();
      queue->Bind(1, std::string_view(row.id));
      queue->Bind(2, std::string_view(url));
      queue->Bind(3, std::string_view(row.payload));
      queue->Bind(4, std::int64_t{row.time});
      if (const int rc = queue->Step(); rc != SQLITE_DONE) {
        return StatusFromSqlite(rc, connection.db(), context);
      }
    }
  }
  return Status::Ok();
}

Status SqliteStore::WriteChainRecord(Connection& connection, const ChainAppender& chain) {
  Result<Statement> upsert = connection.Prepare(kUpsertChainSql);
  if (!upsert.ok()) return upsert.status();
  upsert->Bind(1, std::string_view(chain.tail().writer));
  upsert->Bind(2, chain.first_seq());
  upsert->Bind(3, std::string_view(chain.first_prev_hash()));
  upsert->Bind(4, chain.tail().seq);
  upsert->Bind(5, std::string_view(chain.tail().hash));
  if (const int rc = upsert->Step(); rc != SQLITE_DONE) {
    return StatusFromSqlite(rc, connection.db(), "recording events in " + display_);
  }
  return Status::Ok();
}

Status SqliteStore::RunNotices(Connection& connection, WriteOp& op, ChainAppender& chain) {
  const NoticeScan& scan = *op.scan;
  const std::string context = "scanning expiry notices in " + display_;
  op.count = 0;
  op.result = Status::Ok();
  auto progress_of = [&](std::int64_t threshold_seconds) -> Result<std::optional<std::int64_t>> {
    Result<Statement> progress = connection.Prepare(kNoticeProgressSql);
    if (!progress.ok()) return progress.status();
    progress->Bind(1, threshold_seconds);
    const int rc = progress->Step();
    if (rc == SQLITE_ROW) return std::optional<std::int64_t>(progress->ColumnInt64(0));
    if (rc != SQLITE_DONE) return StatusFromSqlite(rc, connection.db(), context);
    return std::optional<std::int64_t>();
  };
  Result<std::optional<std::int64_t>> progress = progress_of(scan.threshold_seconds);
  if (!progress.ok()) return progress.status();
  const std::optional<std::int64_t> done_until = *progress;
  if (!done_until) {
    // A threshold never scanned starts now: nothing before is notified.
    Result<Statement> start = connection.Prepare(kNoticeStartSql);
    if (!start.ok()) return start.status();
    start->Bind(1, scan.threshold_seconds);
    start->Bind(2, std::int64_t{scan.until});
    if (const int rc = start->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
    return Status::Ok();
  }
  if (*done_until >= scan.until) return Status::Ok();
  {
    Result<Statement> claim = connection.Prepare(kNoticeClaimSql);
    if (!claim.ok()) return claim.status();
    claim->Bind(1, scan.threshold_seconds);
    claim->Bind(2, *done_until);
    claim->Bind(3, std::int64_t{scan.until});
    if (const int rc = claim->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
    if (sqlite3_changes(connection.db()) == 0) return Status::Ok();
  }
  // A smaller threshold never scanned starts at this round's end.
  std::vector<core::ThresholdProgress> smaller;
  for (const std::int64_t seconds : scan.smaller_thresholds_seconds) {
    Result<std::optional<std::int64_t>> scanned = progress_of(seconds);
    if (!scanned.ok()) return scanned.status();
    smaller.push_back({seconds, scanned->value_or(scan.until)});
  }
  std::vector<core::AuditEvent> events;
  {
    Result<Statement> tokens = connection.Prepare(kNoticeTokensSql);
    if (!tokens.ok()) return tokens.status();
    tokens->Bind(1, *done_until);
    tokens->Bind(2, std::int64_t{scan.until});
    tokens->Bind(3, scan.threshold_seconds * 1000);
    tokens->Bind(4, std::int64_t{scan.threshold_seconds > 0 ? 1 : 0});
    for (;;) {
      const int rc = tokens->Step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return StatusFromSqlite(rc, connection.db(), context);
      Result<core::Token> token = ReadToken(*tokens);
      if (!token.ok()) return token.status();
      if (!core::NoticeFallsToThisThreshold(*token->expiration_date, scan.now, smaller)) continue;
      events.push_back(core::MakeNoticeEvent(*token, scan.threshold_seconds, scan.now));
    }
  }
  if (Status status = WriteEvents(connection, chain, events); !status.ok()) return status;
  op.count = static_cast<std::int64_t>(events.size());
  return Status::Ok();
}

Status SqliteStore::RunPruneAudit(Connection& connection, WriteOp& op) {
  const std::string context = "pruning the audit trail of " + display_;
  op.count = 0;
  std::vector<ChainRecord> chains;
  std::string after;
  for (;;) {
    Result<Statement> list = connection.Prepare(kChainWritersSql);
    if (!list.ok()) return list.status();
    list->Bind(1, std::string_view(after));
    const std::size_t before = chains.size();
    for (;;) {
      const int rc = list->Step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return StatusFromSqlite(rc, connection.db(), context);
      chains.push_back(ReadChainRecord(*list));
    }
    if (chains.size() == before) break;
    after = chains.back().writer;
  }
  for (const ChainRecord& record : chains) {
    // Only a prefix of a chain goes, so that what is kept still links up:
    // everything before its first event at or after `before`.
    std::int64_t cut = record.last_seq + 1;
    std::string head = record.last_hash;
    {
      Result<Statement> first = connection.Prepare(kPruneFirstKeptSql);
      if (!first.ok()) return first.status();
      first->Bind(1, std::string_view(record.writer));
      first->Bind(2, std::int64_t{op.now});
      const int rc = first->Step();
      if (rc == SQLITE_ROW) {
        cut = first->ColumnInt64(0);
        head = std::string(first->ColumnText(1));
      } else if (rc != SQLITE_DONE) {
        return StatusFromSqlite(rc, connection.db(), context);
      }
    }
    if (cut <= record.first_seq) continue;
    // The last event removed, kept in the record: its time shows that the
    // removal was retention's (ChainChecker).
    std::optional<std::string> removed_body;
    std::optional<std::string> removed_prev_hash;
    {
      Result<Statement> last = connection.Prepare(kPruneLastRemovedSql);
      if (!last.ok()) return last.status();
      last->Bind(1, std::string_view(record.writer));
      last->Bind(2, cut - 1);
      const int rc = last->Step();
      if (rc == SQLITE_ROW) {
        removed_body = std::string(last->ColumnText(0));
        removed_prev_hash = std::string(last->ColumnText(1));
      } else if (rc != SQLITE_DONE) {
        return StatusFromSqlite(rc, connection.db(), context);
      }
    }
    Result<Statement> remove = connection.Prepare(kPruneEventsSql);
    if (!remove.ok()) return remove.status();
    remove->Bind(1, std::string_view(record.writer));
    remove->Bind(2, cut);
    if (const int rc = remove->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
    op.count += sqlite3_changes(connection.db());
    Result<Statement> update = connection.Prepare(kPruneChainSql);
    if (!update.ok()) return update.status();
    update->Bind(1, std::string_view(record.writer));
    update->Bind(2, cut);
    update->Bind(3, std::string_view(head));
    update->Bind(4, removed_body);
    update->Bind(5, removed_prev_hash);
    if (const int rc = update->Step(); rc != SQLITE_DONE) {
      return StatusFromSqlite(rc, connection.db(), context);
    }
  }
  op.result = Status::Ok();
  return Status::Ok();
}

// The claim with one parameter per skipped URL: a few texts, one per count
// of skipped receivers, each prepared once.
std::string ClaimSql(std::size_t skipped) {
  std::string sql(kClaimSqlHead);
  if (skipped > 0) {
    sql += " AND url NOT IN (";
    for (std::size_t i = 0; i < skipped; ++i) {
      if (i > 0) sql += ',';
      sql += '?' + std::to_string(4 + i);
    }
    sql += ')';
  }
  sql += kClaimSqlTail;
  return sql;
}

Status SqliteStore::RunClaim(Connection& connection, WriteOp& op) {
  const std::vector<std::string>& skipped = *op.skipped_urls;
  Result<Statement> claim = connection.Prepare(ClaimSql(skipped.size()));
  if (!claim.ok()) return claim.status();
  claim->Bind(1, std::int64_t{op.now});
  claim->Bind(2, std::int64_t{op.now + op.lease_millis});
  claim->Bind(3, std::int64_t{op.max});
  for (std::size_t i = 0; i < skipped.size(); ++i) {
    claim->Bind(static_cast<int>(4 + i), std::string_view(skipped[i]));
  }
  op.claimed.clear();
  for (;;) {
    const int rc = claim->Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      return StatusFromSqlite(rc, connection.db(), "claiming deliveries in " + display_);
    }
    Delivery delivery;
    delivery.event_id = std::string(claim->ColumnText(0));
    delivery.url = std::string(claim->ColumnText(1));
    delivery.payload = std::string(claim->ColumnText(2));
    delivery.attempts = static_cast<int>(claim->ColumnInt64(3));
    delivery.queued_at = claim->ColumnInt64(4);
    op.claimed.push_back(std::move(delivery));
  }
  std::sort(op.claimed.begin(), op.claimed.end(), [](const Delivery& a, const Delivery& b) {
    return std::tie(a.queued_at, a.event_id, a.url) < std::tie(b.queued_at, b.event_id, b.url);
  });
  op.result = Status::Ok();
  return Status::Ok();
}

Status SqliteStore::RunFinishDelivery(Connection& connection, WriteOp& op) {
  const Delivery& delivery = *op.delivery;
  const DeliveryOutcome& outcome = *op.outcome;
  const char* sql = outcome.kind == DeliveryOutcome::Kind::kDelivered ? kDeliveredSql
                    : outcome.kind == DeliveryOutcome::Kind::kRetry   ? kRetrySql
                                                                      : kFailedSql;
  Result<Statement> stmt = connection.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, std::string_view(delivery.event_id));
  stmt->Bind(2, std::string_view(delivery.url));
  if (outcome.kind == DeliveryOutcome::Kind::kRetry) {
    stmt->Bind(3, std::int64_t{outcome.retry_at});
    stmt->Bind(4, std::string_view(outcome.last_error));
  } else if (outcome.kind == DeliveryOutcome::Kind::kFailed) {
    stmt->Bind(3, std::string_view(outcome.last_error));
  }
  if (const int rc = stmt->Step(); rc != SQLITE_DONE) {
    return StatusFromSqlite(rc, connection.db(), "finishing a delivery in " + display_);
  }
  op.result = Status::Ok();
  return Status::Ok();
}

Result<std::int64_t> SqliteStore::RecordExpiryNotices(const NoticeScan& scan) {
  WriteOp op(WriteOp::Kind::kNotices, {}, {});
  op.scan = &scan;
  if (Status status = Submit(op); !status.ok()) return status;
  return op.count;
}

Result<std::int64_t> SqliteStore::PruneAudit(core::EpochMillis before) {
  WriteOp op(WriteOp::Kind::kPruneAudit, {}, {});
  op.now = before;
  if (Status status = Submit(op); !status.ok()) return status;
  return op.count;
}

Result<std::vector<Delivery>> SqliteStore::ClaimDeliveries(
    core::EpochMillis now, std::int64_t lease_millis, int max,
    const std::vector<std::string>& skipped_urls) {
  if (max <= 0) return std::vector<Delivery>();
  WriteOp op(WriteOp::Kind::kClaim, {}, {});
  op.now = now;
  op.lease_millis = lease_millis;
  op.max = max;
  op.skipped_urls = &skipped_urls;
  if (Status status = Submit(op); !status.ok()) return status;
  return std::move(op.claimed);
}

Status SqliteStore::FinishDelivery(const Delivery& delivery, const DeliveryOutcome& outcome) {
  WriteOp op(WriteOp::Kind::kFinishDelivery, {}, {});
  op.delivery = &delivery;
  op.outcome = &outcome;
  return Submit(op);
}

Result<OutboxStats> SqliteStore::GetOutboxStats() {
  Lease lease = Acquire();
  Result<Statement> stmt = lease->Prepare(kOutboxStatsSql);
  if (!stmt.ok()) return stmt.status();
  const int rc = stmt->Step();
  if (rc != SQLITE_ROW) return StatusFromSqlite(rc, lease->db(), "reading " + display_);
  OutboxStats stats;
  stats.waiting = stmt->ColumnInt64(0);
  stats.failed = stmt->ColumnInt64(1);
  stats.oldest_waiting = stmt->ColumnOptionalInt64(2);
  return stats;
}

Result<AuditPage> SqliteStore::QueryAudit(const AuditQuery& query,
                                          const core::Visibility& visibility, std::int64_t limit,
                                          std::int64_t offset, bool count_total) {
  AuditPage page;
  if (!visibility.everything && visibility.types.empty()) {
    if (count_total) page.total = 0;
    return page;  // the caller can see nothing
  }
  if (query.principals.size() + query.types.size() + query.actions.size() > kMaxQueryParameters) {
    return Status::InvalidArgument("too many principals, types or actions in one query",
                                   core::ApiError::kQueryInvalidFilters);
  }
  SqlWithParams filter;
  filter.sql = "WHERE 1=1";
  if (query.token_id) {
    filter.sql += " AND subject_id = ?";
    filter.params.emplace_back(*query.token_id);
  }
  if (!query.principals.empty()) filter.AppendInList("subject_principal", query.principals);
  if (!query.types.empty()) filter.AppendTypes("subject_type", query.types);
  if (!query.actions.empty()) {
    std::vector<std::string> actions;
    for (core::AuditAction action : query.actions) actions.emplace_back(core::ToString(action));
    filter.AppendInList("action", actions);
  }
  if (query.from_date) {
    filter.sql += " AND time >= ?";
    filter.params.emplace_back(*query.from_date);
  }
  if (query.to_date) {
    filter.sql += " AND time < ?";
    filter.params.emplace_back(*query.to_date);
  }
  if (!visibility.everything) {
    filter.AppendTypes("subject_type", visibility.types);
    filter.sql += " AND subject_principal = ?";
    filter.params.emplace_back(visibility.principal);
  }
  const std::string_view direction = query.ascending ? "ASC" : "DESC";
  SqlWithParams select = filter;
  select.sql = "SELECT body, hash FROM audit_events " + select.sql + " ORDER BY time " +
               std::string(direction) + ", id " + std::string(direction) + " LIMIT ? OFFSET ?";
  select.params.emplace_back(limit);
  select.params.emplace_back(std::max<std::int64_t>(0, offset));

  Lease lease = Acquire();
  const std::string context = "querying the audit trail of " + display_;
  if (Status status = lease->Exec("BEGIN", context); !status.ok()) return status;
  const EndReadOnExit end_read{*lease};
  Result<Statement> stmt = lease->Prepare(select.sql);
  if (!stmt.ok()) return stmt.status();
  select.BindAll(*stmt);
  for (;;) {
    const int rc = stmt->Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return StatusFromSqlite(rc, lease->db(), context);
    page.events.push_back(ServedEventJson(stmt->ColumnText(0), stmt->ColumnText(1)));
  }
  if (!count_total) return page;
  const auto returned = static_cast<std::int64_t>(page.events.size());
  if (std::optional<std::int64_t> total = TotalFromLastPage(returned, limit, offset)) {
    page.total = *total;
    return page;
  }
  filter.sql = "SELECT count(*) FROM audit_events " + filter.sql;
  Result<std::int64_t> total = QueryInt(*lease, filter);
  if (!total.ok()) return total.status();
  page.total = *total;
  return page;
}

Result<ChainReport> SqliteStore::VerifyAudit(core::EpochMillis removable_before) {
  Lease lease = Acquire();
  const std::string context = "verifying the audit trail of " + display_;
  // One snapshot: the chains and their events as one commit left them.
  if (Status status = lease->Exec("BEGIN", context); !status.ok()) return status;
  const EndReadOnExit end_read{*lease};
  ChainReport report;
  // Walks one chain, page by page; true when it is whole.
  auto walk = [&](ChainChecker& checker, const std::string& writer) -> Status {
    std::int64_t after = std::numeric_limits<std::int64_t>::min();
    for (;;) {
      Result<Statement> events = lease->Prepare(kChainEventsSql);
      if (!events.ok()) return events.status();
      events->Bind(1, std::string_view(writer));
      events->Bind(2, after);
      int rows = 0;
      for (;;) {
        const int rc = events->Step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return StatusFromSqlite(rc, lease->db(), context);
        ++rows;
        StoredEvent event;
        event.id = std::string(events->ColumnText(0));
        event.seq = events->ColumnInt64(1);
        event.time = events->ColumnInt64(2);
        event.action = std::string(events->ColumnText(3));
        event.subject_id = std::string(events->ColumnText(4));
        event.subject_type = std::string(events->ColumnText(5));
        event.subject_principal = events->ColumnOptionalText(6);
        event.body = std::string(events->ColumnText(7));
        event.prev_hash = std::string(events->ColumnText(8));
        event.hash = std::string(events->ColumnText(9));
        after = event.seq;
        if (!checker.Add(event)) return Status::Ok();
      }
      if (rows == 0) break;
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
  std::string after_writer;
  for (;;) {
    std::vector<ChainRecord> chains;
    {
      Result<Statement> list = lease->Prepare(kChainWritersSql);
      if (!list.ok()) return list.status();
      list->Bind(1, std::string_view(after_writer));
      for (;;) {
        const int rc = list->Step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return StatusFromSqlite(rc, lease->db(), context);
        chains.push_back(ReadChainRecord(*list));
      }
    }
    if (chains.empty()) break;
    after_writer = chains.back().writer;
    for (ChainRecord& record : chains) {
      const std::string writer = record.writer;
      ChainChecker checker(writer, std::move(record), removable_before);
      if (Status status = walk(checker, writer); !status.ok()) return status;
      if (conclude(checker)) return report;
    }
  }
  // Events whose chain has no record at all.
  Result<Statement> orphan = lease->Prepare(kUnrecordedWriterSql);
  if (!orphan.ok()) return orphan.status();
  const int rc = orphan->Step();
  if (rc == SQLITE_ROW) {
    const std::string writer(orphan->ColumnText(0));
    ChainChecker checker(writer, std::nullopt, removable_before);
    if (Status status = walk(checker, writer); !status.ok()) return status;
    if (conclude(checker)) return report;
  } else if (rc != SQLITE_DONE) {
    return StatusFromSqlite(rc, lease->db(), context);
  }
  // Whole chains can still have lost their last events, or a whole chain its
  // record too: the tokens whose creation they recorded tell.
  Result<Statement> unrecorded = lease->Prepare(kUnrecordedCreationSql);
  if (!unrecorded.ok()) return unrecorded.status();
  unrecorded->Bind(1, removable_before);
  const int found = unrecorded->Step();
  if (found == SQLITE_ROW) {
    report.problem = MissingCreationProblem(unrecorded->ColumnText(0));
  } else if (found != SQLITE_DONE) {
    return StatusFromSqlite(found, lease->db(), context);
  }
  return report;
}

}  // namespace
}  // namespace tokend::store
