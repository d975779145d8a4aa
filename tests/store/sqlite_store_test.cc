// SQLite-only behaviour: files, migrations, opening errors. The shared
// contract is in token_store_contract_test.cc.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "core/secret.h"
#include "store/sqlite/wal_checkpointer.h"
#include "store/store_backends.h"
#include "store/token_store.h"

namespace tokend::store {
namespace {

using core::Token;
using core::TokenType;
using testing::Ids;
using testing::ImportAsBeforeTheLedger;
using testing::NewTempDir;
using testing::Only;

Token MakeToken(int n, TokenType type = TokenType::kTeam) {
  Token token;
  token.id = std::string(20, '0') + std::to_string(1000 + n);
  token.type = type;
  token.name = "n" + std::to_string(n);
  token.principal = "p";
  token.creation_date = 1'770'000'000'000 + n;
  token.actions = {"token/read", "token/write"};
  token.secret_hash = std::string(60, 'a') + std::to_string(1000 + n);
  return token;
}

std::unique_ptr<TokenStore> MustOpen(const std::string& url) {
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open(url);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

// Runs `sql` on `path` with a plain connection and returns `column` of each
// row as text, one line per row ("" when none).
std::string QueryFile(const std::string& path, const std::string& sql, int column = 0) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        if (!result.empty()) result += '\n';
        const unsigned char* text = sqlite3_column_text(stmt, column);
        if (text != nullptr) result += reinterpret_cast<const char*>(text);
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

TEST(SqliteStoreTest, DataPersistsAcrossReopen) {
  const std::string path = NewTempDir() + "/tokend.db";
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
    ASSERT_TRUE(store->Insert(MakeToken(2, TokenType::kUser), {}).ok());
    ASSERT_TRUE(store->Delete(MakeToken(2).id, {}).ok());
  }
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  Result<Token> found = store->FindById(MakeToken(1).id);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, MakeToken(1));
  EXPECT_TRUE(store->FindById(MakeToken(2).id).status().IsNotFound());
  Result<TokenPage> page = store->Query({}, {}, 0, 0, true);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 1);
  EXPECT_EQ(QueryFile(path, "PRAGMA journal_mode"), "wal");
}

TEST(SqliteStoreTest, RecordedUsesPersistAcrossReopen) {
  const std::string path = NewTempDir() + "/tokend.db";
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
    const std::vector<TokenUse> uses = {{MakeToken(1).id, 1'770'000'123'456}};
    ASSERT_TRUE(store->RecordUses(uses).ok());
  }
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  Result<Token> found = store->FindById(MakeToken(1).id);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->last_used_date, 1'770'000'123'456);
  EXPECT_EQ(QueryFile(path, "SELECT last_used_date FROM tokens"), "1770000123456");
}

// Every version in src/store/migrations/sqlite/, each applied exactly once.
constexpr const char* kAllMigrations = "1,2,3,4,5,6,7,8,9,10,11,12";

// Writes four times the WAL's checkpoint threshold into a new store at
// `path` (rows of about 16 KB, 100 per commit: enough for background passes,
// the writer's catch-ups and restarts), calling `before_each_commit` first
// each time, and checks that the WAL's pages reached the database file while
// the store was open and that the WAL started over instead of growing with
// every write. `held_back` says what a file that did not grow means.
void ExpectCheckpointsKeepTheWalShort(const std::string& path,
                                      const std::function<void(TokenStore&)>& before_each_commit,
                                      const std::string& held_back) {
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  const auto file_size = [](const std::string& file) {
    std::error_code ignored;
    return std::filesystem::file_size(file, ignored);
  };
  const std::uintmax_t size_at_open = file_size(path);
  constexpr int kRowsPerCommit = 100;
  constexpr std::uintmax_t kRowBytes = 16'000;
  constexpr std::uintmax_t kWritten = 4 * sqlite::WalCheckpointer::kThresholdPages * 4096;
  constexpr int kCommits = static_cast<int>(kWritten / (kRowsPerCommit * kRowBytes)) + 1;
  std::uintmax_t longest_wal = 0;
  for (int commit = 0; commit < kCommits; ++commit) {
    before_each_commit(*store);
    std::vector<Token> tokens;
    for (int i = 0; i < kRowsPerCommit; ++i) {
      tokens.push_back(MakeToken(commit * 1000 + i));
      tokens.back().description = std::string(kRowBytes, 'd');
    }
    ASSERT_TRUE(store->InsertMany(tokens).ok());
    longest_wal = std::max(longest_wal, file_size(path + "-wal"));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (file_size(path) < size_at_open + kWritten / 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(file_size(path), size_at_open + kWritten / 2)
      << "the database file did not grow while open: " << held_back;
  // A WAL that never started over would hold every page written; one that
  // does stays near the threshold, plus what the writer adds during a pass
  // (more on a loaded machine).
  EXPECT_LT(longest_wal, kWritten * 3 / 4) << "the WAL never started over";
}

// The writer hands checkpoints to a thread of its own: the WAL's pages still
// reach the database file while the store is open, and the WAL starts over
// instead of growing with every write.
TEST(SqliteStoreTest, CheckpointsKeepTheWalShortWhileTheStoreIsOpen) {
  ExpectCheckpointsKeepTheWalShort(
      NewTempDir() + "/tokend.db", [](TokenStore&) {}, "nothing was checkpointed");
}

// Secret lookups keep their reader's read transaction between commits. A
// reader busy with a lookup while the writer commits still holds the old
// snapshot afterwards; its next lookup must read anew, so that every lookup
// sees what was committed before it started (a revoked token is never
// found again once its deletion returned).
TEST(SqliteStoreTest, LookupsSeeEveryCommitMadeBeforeThem) {
  const std::string path = NewTempDir() + "/tokend.db";
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  // Round n's token and what has returned: 0 nothing, 1 its create, 2 its
  // deletion (3 while it is being deleted); one value, so that a thread
  // reads both at once.
  std::atomic<int> state{0};
  std::atomic<bool> stop{false};
  std::atomic<int> missed{0};
  std::atomic<int> stale{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        const int now = state.load(std::memory_order_acquire);
        const std::string secret_hash = MakeToken(now / 4).secret_hash;
        std::optional<Result<SecretLookup>> at_once = store->TryLookupSecret(secret_hash);
        Result<SecretLookup> lookup =
            at_once ? std::move(*at_once) : store->LookupSecret(secret_hash);
        if (!lookup.ok()) {
          ++failed;
        } else if (now % 4 == 1 && !lookup->token && state.load() == now) {
          ++missed;  // not deleted meanwhile: the create was missed
        } else if (now % 4 == 2 && lookup->token) {
          ++stale;
        }
      }
    });
  }
  for (int n = 1; n <= 40; ++n) {
    state.store(n * 4);
    ASSERT_TRUE(store->Insert(MakeToken(n), {}).ok());
    state.store(n * 4 + 1, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    state.store(n * 4 + 3);  // deleting: either answer is right
    ASSERT_TRUE(store->Delete(MakeToken(n).id, {}).ok());
    state.store(n * 4 + 2, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop.store(true);
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(missed.load(), 0) << "lookups after a create returned did not find its token";
  EXPECT_EQ(stale.load(), 0) << "lookups after a deletion returned still found its token";
  EXPECT_EQ(failed.load(), 0);
}

// Readers left idle after lookups keep a read transaction; a commit ends
// theirs, or they would hold every checkpoint back and the WAL would grow
// with every write.
TEST(SqliteStoreTest, IdleLookupReadersDoNotHoldTheWalBack) {
  // Every reader of the pool busy at once with lookups, then left idle.
  const auto look_up_on_every_reader = [](TokenStore& store) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&store, t] {
        for (int i = 0; i < 50; ++i) (void)store.LookupSecret(MakeToken(t * 100 + i).secret_hash);
      });
    }
    for (std::thread& thread : threads) thread.join();
  };
  ExpectCheckpointsKeepTheWalShort(NewTempDir() + "/tokend.db", look_up_on_every_reader,
                                   "an idle reader held the checkpoints back");
}

// The rotation sweep runs every few seconds on the writer: it must read the
// rotated tokens it deletes, not every expired token to find them.
TEST(SqliteStoreTest, TheRotationSweepReadsOnlyRotatedTokens) {
  const std::string path = NewTempDir() + "/tokend.db";
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    std::vector<Token> expired;
    for (int i = 0; i < 300; ++i) {
      expired.push_back(MakeToken(i));
      expired.back().expiration_date = 1'600'000'000'000;
    }
    ASSERT_TRUE(store->InsertMany(expired).ok());
  }
  // The sweep's statement, as the SQLite store runs it.
  const std::string plan = QueryFile(path,
                                     "EXPLAIN QUERY PLAN DELETE FROM tokens WHERE rotated_to IS "
                                     "NOT NULL AND expiration_date <= ?1 RETURNING id, type, "
                                     "principal",
                                     /*column=*/3);
  EXPECT_NE(plan.find("tokens_rotated_by_expiration"), std::string::npos) << plan;
}

// `count` tokens over seven principals (team-0 to team-6), a third of
// them user tokens and the rest team tokens.
std::vector<Token> TeamsOfMixedTypes(int count) {
  std::vector<Token> tokens;
  for (int i = 0; i < count; ++i) {
    tokens.push_back(MakeToken(i, i % 3 == 0 ? TokenType::kUser : TokenType::kTeam));
    tokens.back().principal = "team-" + std::to_string(i % 7);
  }
  return tokens;
}

// A new store file at `path` holding TeamsOfMixedTypes(count), closed.
void WriteMixedTypes(const std::string& path, int count) {
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->InsertMany(TeamsOfMixedTypes(count)).ok());
}

// A scoped caller's page (one principal, the types it may see, newest first)
// walks one principal-led index in order and checks the type in it: no sort,
// and no table row read for the entries a deep page skips.
TEST(SqliteStoreTest, APrincipalsPageByCreationDateWalksOneIndexCheckingTypesInIt) {
  const std::string path = NewTempDir() + "/tokend.db";
  ASSERT_NO_FATAL_FAILURE(WriteMixedTypes(path, 300));
  // The page's ids, as the SQLite store selects them for one type or for a
  // caller's visibility.
  for (const char* types : {"type IN ('team')", "+type IN ('team')", "+type IN ('team','user')"}) {
    const std::string plan = QueryFile(
        path,
        std::string("EXPLAIN QUERY PLAN SELECT id FROM tokens WHERE 1=1 AND ") + types +
            " AND principal = 'team-3' ORDER BY creation_date DESC, id DESC LIMIT 20 OFFSET 40",
        /*column=*/3);
    EXPECT_NE(plan.find("COVERING INDEX tokens_by_principal_creation_type"), std::string::npos)
        << types << ": " << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << types << ": " << plan;
  }
}

// A file written before migration 8 (two principal-led indexes by creation
// date) gets the one index at its next open and answers the same pages.
TEST(SqliteStoreTest, AStoreFromBeforeTheMergedPrincipalIndexAnswersTheSamePagesAfterIt) {
  const std::string path = NewTempDir() + "/tokend.db";
  const core::Visibility scoped = Only({TokenType::kTeam, TokenType::kUser}, "team-3");
  core::TokenQuery newest_first;
  newest_first.order = core::SortOrder::kDesc;
  std::vector<std::string> before;
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->InsertMany(TeamsOfMixedTypes(120)).ok());
    Result<TokenPage> page = store->Query(newest_first, scoped, 5, 5, true);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    before = Ids(page->tokens);
    EXPECT_EQ(page->total, 17);
  }
  // The schema as migration 7 left it.
  for (const char* sql :
       {"DROP INDEX tokens_by_principal_creation_type",
        "CREATE INDEX tokens_by_principal_creation ON tokens (principal, creation_date, id)",
        "CREATE INDEX tokens_by_principal_type_creation "
        "ON tokens (principal, type, creation_date, id)",
        "ALTER TABLE audit_chains DROP COLUMN last_removed_body",
        "ALTER TABLE audit_chains DROP COLUMN last_removed_prev_hash",
        "DROP TABLE audit_unrecorded_tokens", "DROP TABLE import_ledger",
        "DELETE FROM schema_migrations WHERE version >= 8"}) {
    QueryFile(path, sql);
  }
  ASSERT_EQ(QueryFile(path, "SELECT group_concat(version) FROM schema_migrations"),
            "1,2,3,4,5,6,7");

  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryFile(path,
                      "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema "
                      "WHERE type = 'index' AND name LIKE 'tokens_by_principal%' ORDER BY name)"),
            "tokens_by_principal,tokens_by_principal_creation_type");
  Result<TokenPage> page = store->Query(newest_first, scoped, 5, 5, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Ids(page->tokens), before);
  EXPECT_EQ(before.size(), 5u);
  EXPECT_EQ(page->total, 17);
}

// The sort indexes, by the column each orders by.
constexpr std::pair<const char*, const char*> kSortIndexes[] = {
    {"creation_date", "tokens_by_creation"},
    {"expiration_date", "tokens_by_expiration"},
    {"name", "tokens_by_name"},
    {"principal", "tokens_by_principal"},
    {"last_used_date", "tokens_by_last_used"}};

// Whether `plan` reads `index` alone ("... COVERING INDEX <index>", the
// name whole, not the start of a longer one).
bool ReadsOnlyIndex(const std::string& plan, const std::string& index) {
  const std::string wanted = "COVERING INDEX " + index;
  for (std::size_t at = plan.find(wanted); at != std::string::npos;
       at = plan.find(wanted, at + 1)) {
    const std::size_t end = at + wanted.size();
    if (end == plan.size() || plan[end] == '\n' || plan[end] == ' ') return true;
  }
  return false;
}

// A type filter is checked in the index of the page's sort field, whatever
// that field: the walk neither sorts nor reads the row of each entry it
// passes over to learn its type (migration 9). Where the filtered type sorts
// last, that was a row read for nearly every token in the store.
TEST(SqliteStoreTest, ATypeFilteredPageChecksTheTypeInTheIndexOfItsSortField) {
  const std::string path = NewTempDir() + "/tokend.db";
  ASSERT_NO_FATAL_FAILURE(WriteMixedTypes(path, 300));
  // The page's ids, as the SQLite store selects them under a type filter.
  for (const auto& [column, index] : kSortIndexes) {
    for (const char* order : {"ASC", "DESC"}) {
      const std::string plan =
          QueryFile(path,
                    std::string("EXPLAIN QUERY PLAN SELECT id FROM tokens WHERE 1=1 AND +type IN "
                                "('team','user') ORDER BY ") +
                        column + " " + order + ", id " + order + " LIMIT 20 OFFSET 40",
                    /*column=*/3);
      EXPECT_TRUE(ReadsOnlyIndex(plan, index)) << column << " " << order << ": " << plan;
      EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << column << ": " << plan;
    }
  }
}

// A file written before migration 9 (sort indexes without the type) gets
// them with it at its next open, and answers the same pages.
TEST(SqliteStoreTest, AStoreFromBeforeTheTypedSortIndexesAnswersTheSamePagesAfterThem) {
  const std::string path = NewTempDir() + "/tokend.db";
  std::vector<core::TokenQuery> queries;
  for (core::SortField sort :
       {core::SortField::kCreationDate, core::SortField::kExpirationDate, core::SortField::kName,
        core::SortField::kPrincipal, core::SortField::kLastUsedDate}) {
    for (std::vector<TokenType> types :
         {std::vector<TokenType>{TokenType::kUser},
          std::vector<TokenType>{TokenType::kTeam, TokenType::kUser}}) {
      core::TokenQuery query;
      query.sort = sort;
      query.order = core::SortOrder::kDesc;
      query.types = types;
      queries.push_back(query);
    }
  }
  std::vector<std::vector<std::string>> before;
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    std::vector<Token> tokens = TeamsOfMixedTypes(120);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i % 4 == 0) tokens[i].expiration_date = 1'800'000'000'000 - static_cast<int>(i);
    }
    ASSERT_TRUE(store->InsertMany(tokens).ok());
    for (const core::TokenQuery& query : queries) {
      Result<TokenPage> page = store->Query(query, core::Visibility{}, 5, 5, true);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      ASSERT_EQ(page->tokens.size(), 5u);
      before.push_back(Ids(page->tokens));
    }
  }
  // The sort indexes as migration 8 left them.
  for (const auto& [column, index] : kSortIndexes) {
    QueryFile(path, std::string("DROP INDEX ") + index);
    QueryFile(path, std::string("CREATE INDEX ") + index + " ON tokens (" + column + ", id)");
  }
  QueryFile(path, "ALTER TABLE audit_chains DROP COLUMN last_removed_body");
  QueryFile(path, "ALTER TABLE audit_chains DROP COLUMN last_removed_prev_hash");
  QueryFile(path, "DROP TABLE audit_unrecorded_tokens");
  QueryFile(path, "DROP TABLE import_ledger");
  QueryFile(path, "DELETE FROM schema_migrations WHERE version >= 9");
  ASSERT_EQ(QueryFile(path, "SELECT group_concat(version) FROM schema_migrations"),
            "1,2,3,4,5,6,7,8");

  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  for (const auto& [column, index] : kSortIndexes) {
    EXPECT_EQ(QueryFile(path, std::string("SELECT group_concat(name) FROM pragma_index_info('") +
                                  index + "')"),
              std::string(column) + ",id,type");
  }
  for (std::size_t i = 0; i < queries.size(); ++i) {
    Result<TokenPage> page = store->Query(queries[i], core::Visibility{}, 5, 5, true);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(Ids(page->tokens), before[i]) << core::ToString(queries[i].sort);
  }
}

// SQLite's memory statistics cost every allocation a process-wide mutex;
// the store turns them off before its first use of the library (each test
// runs in a process of its own, so this one is that first use).
TEST(SqliteStoreTest, TheStoreRunsSqliteWithoutMemoryStatistics) {
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + NewTempDir() + "/tokend.db");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  EXPECT_EQ(sqlite3_memory_used(), 0) << "memory statistics are being kept";
}

TEST(SqliteStoreTest, MigrationsAreAppliedOnceWhateverTheNumberOfOpens) {
  const std::string path = NewTempDir() + "/tokend.db";
  for (int open = 0; open < 3; ++open) {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    if (open == 0) {
      ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
    }
    EXPECT_TRUE(store->FindById(MakeToken(1).id).ok()) << "every open sees one database";
  }
  EXPECT_EQ(QueryFile(path, "SELECT group_concat(version) FROM schema_migrations"), kAllMigrations);
}

// Migration 11 lists the tokens stored without their token.created event
// (before the audit trail, or imported before imports recorded one), so that
// verify does not take them for events removed by hand; tokens made after it
// are expected to have theirs.
TEST(SqliteStoreTest, TokensWithoutAnEventBeforeMigration11AreNotTakenForTampering) {
  const std::string path = NewTempDir() + "/tokend.db";
  const Token recorded = MakeToken(1);
  const Token unrecorded = MakeToken(2);
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    const core::AuditEvent created =
        core::MakeEvent(core::AuditAction::kCreated, recorded, core::EventOrigin::System(), 1);
    ASSERT_TRUE(store->Insert(recorded, std::span(&created, 1)).ok());
    ASSERT_TRUE(store->Insert(unrecorded, {}).ok());
  }
  // The store as it was before migration 11.
  QueryFile(path, "DROP TABLE audit_unrecorded_tokens");
  QueryFile(path, "DELETE FROM schema_migrations WHERE version = 11");

  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryFile(path, "SELECT group_concat(id) FROM audit_unrecorded_tokens"), unrecorded.id);
  Result<ChainReport> report = store->VerifyAudit(0);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << report->problem;
  // A token stored without its event since is not excused.
  const Token later = MakeToken(3);
  ASSERT_TRUE(store->Insert(later, {}).ok());
  report = store->VerifyAudit(0);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_NE(report->problem.find(later.id), std::string::npos) << report->problem;
}

// A store imported into before migration 12 starts its import ledger with
// the tokens its imports wrote, gone since or not, from their audit events.
TEST(SqliteStoreTest, TheImportLedgerStartsWithWhatEarlierImportsWrote) {
  const std::string path = NewTempDir() + "/tokend.db";
  const Token kept = MakeToken(1);
  const Token deleted = MakeToken(2);
  const Token created_here = MakeToken(3);
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    const Status filled = ImportAsBeforeTheLedger(*store, kept, deleted, created_here);
    ASSERT_TRUE(filled.ok()) << filled.ToString();
  }
  // The store as it was before migration 12.
  QueryFile(path, "DROP TABLE import_ledger");
  QueryFile(path, "DELETE FROM schema_migrations WHERE version = 12");

  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryFile(path,
                      "SELECT group_concat(id || ':' || coalesce(secret_hash, 'null'), ' ') "
                      "FROM (SELECT * FROM import_ledger ORDER BY id)"),
            kept.id + ":" + kept.secret_hash + " " + deleted.id + ":null");
  Result<std::int64_t> inserted = store->InsertAbsent(std::vector<Token>{kept, deleted}, {});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 0);
  EXPECT_TRUE(store->FindById(deleted.id).status().IsNotFound());
}

// One store per file (two processes could not hear of each other's
// deletions): a second open is refused, naming the file, and leaves the
// first store working; once the first closes, the file opens again.
TEST(SqliteStoreTest, SecondOpenOfAFileInUseIsRefusedNamingIt) {
  const std::string path = NewTempDir() + "/tokend.db";
  std::unique_ptr<TokenStore> first = MustOpen("sqlite:" + path);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Insert(MakeToken(1), {}).ok());

  Result<std::unique_ptr<TokenStore>> second = TokenStore::Open("sqlite:" + path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), core::StatusCode::kAlreadyExists) << second.status().ToString();
  EXPECT_NE(second.status().message().find(path), std::string::npos) << second.status().message();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().message();

  EXPECT_TRUE(first->Insert(MakeToken(2), {}).ok()) << "the refused open disturbed the first store";
  EXPECT_TRUE(first->Ping().ok());
  first.reset();
  std::unique_ptr<TokenStore> again = MustOpen("sqlite:" + path);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->FindById(MakeToken(2).id).ok());
}

// The lock is on the file, not on its name.
TEST(SqliteStoreTest, FileInUseIsRefusedThroughAnyOtherName) {
  const std::string dir = NewTempDir();
  const std::string path = dir + "/tokend.db";
  std::unique_ptr<TokenStore> first = MustOpen("sqlite:" + path);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(::symlink(path.c_str(), (dir + "/symlink.db").c_str()), 0);
  ASSERT_EQ(::link(path.c_str(), (dir + "/hardlink.db").c_str()), 0);
  for (const std::string& alias :
       {dir + "/symlink.db", dir + "/hardlink.db", dir + "/./tokend.db"}) {
    Result<std::unique_ptr<TokenStore>> other = TokenStore::Open("sqlite:" + alias);
    ASSERT_FALSE(other.ok()) << alias;
    EXPECT_EQ(other.status().code(), core::StatusCode::kAlreadyExists) << alias;
  }
}

TEST(SqliteStoreTest, ConcurrentOpensOfANewFileLetExactlyOneIn) {
  const std::string path = NewTempDir() + "/tokend.db";
  constexpr int kOpeners = 6;
  std::vector<std::unique_ptr<TokenStore>> stores(kOpeners);
  std::vector<Status> errors(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      Result<std::unique_ptr<TokenStore>> store = TokenStore::Open("sqlite:" + path);
      if (store.ok()) {
        stores[i] = std::move(*store);
      } else {
        errors[i] = store.status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int opened = 0;
  for (int i = 0; i < kOpeners; ++i) {
    if (stores[i] != nullptr) {
      ++opened;
      EXPECT_TRUE(stores[i]->Insert(MakeToken(i), {}).ok());
    } else {
      EXPECT_EQ(errors[i].code(), core::StatusCode::kAlreadyExists) << errors[i].ToString();
    }
  }
  EXPECT_EQ(opened, 1);
  stores.clear();
  EXPECT_EQ(QueryFile(path, "SELECT group_concat(version) FROM schema_migrations"), kAllMigrations);
}

// The file holds every token's hash: only its owner may read it, whatever the
// umask, and the same goes for SQLite's side files.
TEST(SqliteStoreTest, NewDatabaseFilesAreOwnerOnly) {
  const std::string path = NewTempDir() + "/tokend.db";
  const mode_t old_umask = ::umask(0);  // the most permissive: nothing taken off
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ::umask(old_umask);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat info {};
    ASSERT_EQ(::stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 07777, 0600u) << file;
  }
}

TEST(SqliteStoreTest, AnExistingFileKeepsItsMode) {
  const std::string path = NewTempDir() + "/tokend.db";
  { ASSERT_NE(MustOpen("sqlite:" + path), nullptr); }
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u) << "the operator's choice is kept";
}

TEST(SqliteStoreTest, FileThatIsNotADatabaseIsUnavailable) {
  const std::string path = NewTempDir() + "/notes.txt";
  std::ofstream(path) << "these are not the tokens you are looking for\n" << std::string(4096, 'x');
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open("sqlite:" + path);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsUnavailable()) << store.status().ToString();
  EXPECT_NE(store.status().message().find("not a tokend database"), std::string::npos)
      << store.status().message();
}

TEST(SqliteStoreTest, SomeoneElsesDatabaseIsRefused) {
  const std::string path = NewTempDir() + "/other.db";
  QueryFile(path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)");
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open("sqlite:" + path);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsUnavailable()) << store.status().ToString();
  EXPECT_NE(store.status().message().find("not a tokend database"), std::string::npos);
  EXPECT_EQ(QueryFile(path, "SELECT count(*) FROM sqlite_schema"), "1") << "left untouched";
}

TEST(SqliteStoreTest, PathInAMissingDirectoryIsUnavailableNamingThePath) {
  const std::string path = NewTempDir() + "/missing/dir/tokend.db";
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open("sqlite:" + path);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsUnavailable()) << store.status().ToString();
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().message();
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(path).parent_path()));
}

TEST(SqliteStoreTest, ReadOnlyDatabaseIsUnavailable) {
  // Permission bits do not bind root (CAP_DAC_OVERRIDE), so there is no
  // portable way to make a file read-only for this test when run as root.
  if (geteuid() == 0) GTEST_SKIP() << "running as root: file permissions are not enforced";
  const std::string dir = NewTempDir();
  const std::string path = dir + "/tokend.db";
  { ASSERT_NE(MustOpen("sqlite:" + path), nullptr); }
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  ASSERT_EQ(chmod(dir.c_str(), 0555), 0);
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open("sqlite:" + path);
  chmod(dir.c_str(), 0755);
  chmod(path.c_str(), 0644);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsUnavailable()) << store.status().ToString();
}

TEST(SqliteStoreTest, PingNoticesTheFileWasRemoved) {
  const std::string path = NewTempDir() + "/tokend.db";
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Ping().ok());
  std::filesystem::remove(path);
  const Status ping = store->Ping();
  EXPECT_TRUE(ping.IsUnavailable()) << ping.ToString();
}

// A store whose file was removed or replaced under it refuses every write:
// what it acknowledged would be gone after a restart.
TEST(SqliteStoreTest, WritesAreRefusedOnceTheFileIsRemovedOrReplaced) {
  for (const bool replace : {false, true}) {
    SCOPED_TRACE(replace ? "replaced" : "removed");
    const std::string dir = NewTempDir();
    const std::string path = dir + "/tokend.db";
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
    ASSERT_TRUE(store->Insert(MakeToken(2), {}).ok());

    // Moved away with its side files, as a backup tool or an operator would.
    for (const char* suffix : {"", "-wal", "-shm"}) {
      ASSERT_EQ(::rename((path + suffix).c_str(), (dir + "/moved.db" + suffix).c_str()), 0);
    }
    if (replace) QueryFile(path, "CREATE TABLE unrelated (x)");  // another file, same path
    const Status insert = store->Insert(MakeToken(3), {});
    EXPECT_TRUE(insert.IsUnavailable()) << insert.ToString();
    EXPECT_NE(insert.message().find(path), std::string::npos) << insert.message();
    const std::vector<Token> batch = {MakeToken(4), MakeToken(5)};
    EXPECT_TRUE(store->InsertMany(batch).IsUnavailable());
    const Status deleted = store->Delete(MakeToken(2).id, {});
    EXPECT_TRUE(deleted.IsUnavailable()) << deleted.ToString();
    EXPECT_TRUE(store->Ping().IsUnavailable());

    // Nothing reached the old file either (reads still go to it).
    EXPECT_TRUE(store->FindById(MakeToken(2).id).ok());
    EXPECT_TRUE(store->FindById(MakeToken(3).id).status().IsNotFound());
    EXPECT_TRUE(store->FindById(MakeToken(4).id).status().IsNotFound());
  }
}

// The store answers a write only once an fsync of the WAL covered it; a
// write whose WAL cannot be made durable is refused, and so is every later
// one, since an fsync that failed once may succeed the next time with pages
// the kernel dropped.
TEST(SqliteStoreTest, WritesAreRefusedForGoodOnceTheWalCannotBeMadeDurable) {
  const std::string dir = NewTempDir();
  const std::string path = dir + "/tokend.db";
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());

    // Another file where the WAL was: what the store's fsync covers is no
    // longer what a restart would read.
    ASSERT_EQ(::rename((path + "-wal").c_str(), (dir + "/kept-wal").c_str()), 0);
    std::ofstream(path + "-wal") << "";
    const Status insert = store->Insert(MakeToken(2), {});
    EXPECT_TRUE(insert.IsUnavailable()) << insert.ToString();
    EXPECT_NE(insert.message().find("durable"), std::string::npos) << insert.message();
    EXPECT_NE(insert.message().find(path), std::string::npos) << insert.message();

    // The WAL back in its place changes nothing for this store.
    ASSERT_EQ(::rename((dir + "/kept-wal").c_str(), (path + "-wal").c_str()), 0);
    EXPECT_TRUE(store->Insert(MakeToken(3), {}).IsUnavailable());
    EXPECT_TRUE(store->Delete(MakeToken(1).id, {}).IsUnavailable());
    const std::vector<Token> batch = {MakeToken(4), MakeToken(5)};
    EXPECT_TRUE(store->InsertMany(batch).IsUnavailable());
    EXPECT_TRUE(store->FindById(MakeToken(1).id).ok());  // reads go on
    // Health says so: the store no longer takes writes.
    EXPECT_TRUE(store->Ping().IsUnavailable());
  }
  // Opened again, the store takes writes, and what it acknowledged is there.
  std::unique_ptr<TokenStore> reopened = MustOpen("sqlite:" + path);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->FindById(MakeToken(1).id).ok());
  EXPECT_TRUE(reopened->Insert(MakeToken(6), {}).ok());
  EXPECT_TRUE(reopened->Ping().ok());
}

TEST(SqliteStoreTest, MemoryStoresAreSeparate) {
  std::unique_ptr<TokenStore> first = MustOpen("sqlite::memory:");
  std::unique_ptr<TokenStore> second = MustOpen("sqlite::memory:");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(first->Insert(MakeToken(1), {}).ok());
  EXPECT_TRUE(first->FindById(MakeToken(1).id).ok());
  EXPECT_TRUE(second->FindById(MakeToken(1).id).status().IsNotFound());
}

TEST(SqliteStoreTest, PermissionThatCannotBeStoredIsInvalidArgument) {
  std::unique_ptr<TokenStore> store = MustOpen("sqlite::memory:");
  ASSERT_NE(store, nullptr);
  Token token = MakeToken(1);
  token.actions = {"token/read write"};
  EXPECT_EQ(store->Insert(token, {}).code(), core::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->FindById(token.id).status().IsNotFound());
}

TEST(TokenStoreOpenTest, UnknownSchemeIsInvalidArgumentWithoutThePassword) {
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open("mysql://admin:s3cret@db:3306/x");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(store.status().message().find("mysql"), std::string::npos) << store.status().message();
  EXPECT_EQ(store.status().message().find("s3cret"), std::string::npos) << store.status().message();

  for (const char* url : {"", "tokend.db", "admin:s3cret@db/x", "sqlite:"}) {
    Result<std::unique_ptr<TokenStore>> bad = TokenStore::Open(url);
    ASSERT_FALSE(bad.ok()) << url;
    EXPECT_EQ(bad.status().code(), core::StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(bad.status().message().find("s3cret"), std::string::npos) << url;
  }
}

// `count` tokens, each with a secret hash of its own.
std::vector<Token> TokensWithSecrets(int count) {
  std::vector<Token> tokens;
  for (int i = 0; i < count; ++i) {
    Token token = MakeToken(i);
    token.secret_hash = core::HashSecret(core::GenerateSecret(token.type));
    tokens.push_back(token);
  }
  return tokens;
}

// Waits (10 s at most) for the background fill of `store`'s fingerprints to
// complete, seen as a secret never held being denied; true once it is.
bool FillCompletes(const TokenStore& store) {
  const std::string never_held = core::HashSecret(core::GenerateSecret(TokenType::kUser));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store.MayHoldSecret(never_held) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return !store.MayHoldSecret(never_held);
}

// The fingerprints of what the file held at start are filled in the
// background: until then every secret may be held; afterwards a secret never
// held is denied without a lookup, and tokens, retired secrets and new
// inserts are never denied.
TEST(SqliteStoreTest, SecretsHeldAtStartAreNeverDeniedAndOthersAreOnceFilled) {
  const std::string path = NewTempDir() + "/tokend.db";
  const std::vector<Token> tokens = TokensWithSecrets(2000);
  Rotation rotation;
  rotation.new_token = MakeToken(5000);
  rotation.new_token.secret_hash = core::HashSecret(core::GenerateSecret(TokenType::kTeam));
  rotation.new_token.rotated_from = tokens[0].id;
  rotation.new_token.family_id = tokens[0].id;
  rotation.old_id = tokens[0].id;
  rotation.retired = RetiredSecret{.secret_hash = tokens[0].secret_hash,
                                   .token_id = tokens[0].id,
                                   .family_id = tokens[0].id,
                                   .overlap_end = 1'770'000'000'100,
                                   .forget_after = 4'000'000'000'000};
  {
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->InsertMany(tokens).ok());
    ASSERT_TRUE(store->Rotate(rotation).ok());
  }
  std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
  ASSERT_NE(store, nullptr);
  // Inserted while the fill may still run: never denied either.
  Token fresh = MakeToken(6000);
  fresh.secret_hash = core::HashSecret(core::GenerateSecret(TokenType::kTeam));
  ASSERT_TRUE(store->Insert(fresh, {}).ok());

  EXPECT_TRUE(FillCompletes(*store)) << "the fill did not complete";
  for (const Token& token : tokens) EXPECT_TRUE(store->MayHoldSecret(token.secret_hash));
  EXPECT_TRUE(store->MayHoldSecret(tokens[0].secret_hash)) << "retired secret";
  EXPECT_TRUE(store->MayHoldSecret(rotation.new_token.secret_hash));
  EXPECT_TRUE(store->MayHoldSecret(fresh.secret_hash));
  // Deleting never makes a later insert of the same hash deniable.
  ASSERT_TRUE(store->Delete(fresh.id, {}).ok());
  Token again = MakeToken(6001);
  again.secret_hash = fresh.secret_hash;
  ASSERT_TRUE(store->Insert(again, {}).ok());
  EXPECT_TRUE(store->MayHoldSecret(again.secret_hash));
  // Malformed hashes are never denied (the lookup decides).
  EXPECT_TRUE(store->MayHoldSecret("not hex"));
}

// The fill makes room for as many fingerprints as the counters say the file
// holds: a damaged counter, however large or negative, must not make it ask
// for memory the file could never need (that would end the process).
TEST(SqliteStoreTest, TheFillSurvivesDamagedCounters) {
  for (const char* damage : {"UPDATE type_counts SET n = 1000000000000000",
                             "UPDATE type_counts SET n = -1000000000000000"}) {
    const std::string path = NewTempDir() + "/tokend.db";
    const std::vector<Token> tokens = TokensWithSecrets(50);
    {
      std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
      ASSERT_NE(store, nullptr);
      ASSERT_TRUE(store->InsertMany(tokens).ok());
    }
    QueryFile(path, damage);
    std::unique_ptr<TokenStore> store = MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr) << damage;
    EXPECT_TRUE(FillCompletes(*store)) << damage << ": the fill did not complete";
    for (const Token& token : tokens)
      EXPECT_TRUE(store->MayHoldSecret(token.secret_hash)) << damage;
  }
}

}  // namespace
}  // namespace tokend::store

namespace tokend::store {
namespace {

// Each open of a file is a writer of its own: a restart starts a new chain,
// and the old one still verifies.
TEST(SqliteStoreTest, EachOpenWritesAChainOfItsOwn) {
  const std::string url = "sqlite:" + NewTempDir() + "/tokend.db";
  for (int open = 0; open < 2; ++open) {
    std::unique_ptr<TokenStore> store = MustOpen(url);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 3; ++i) {
      const Token token = MakeToken(open * 10 + i);
      const core::AuditEvent event = core::MakeEvent(
          core::AuditAction::kCreated, token, core::EventOrigin::System(), 1'770'000'000'000 + i);
      ASSERT_TRUE(store->Insert(token, std::span(&event, 1)).ok());
    }
  }
  std::unique_ptr<TokenStore> store = MustOpen(url);
  ASSERT_NE(store, nullptr);
  Result<ChainReport> report = store->VerifyAudit(core::NowMillis());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << report->problem;
  EXPECT_EQ(report->chains, 2);
  EXPECT_EQ(report->events, 6);
}

}  // namespace
}  // namespace tokend::store
