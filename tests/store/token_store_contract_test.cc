// The TokenStore contract: every backend in AllBackends() must pass all of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/secret.h"
#include "store/audit_json.h"
#include "store/store_backends.h"
#include "store/token_store.h"
#include "support/failing_store.h"

namespace tokend::store {
namespace {

using core::SortField;
using core::SortOrder;
using core::Token;
using core::TokenQuery;
using core::TokenType;
using core::Visibility;
using testing::AllBackends;
using testing::BackendCase;
using testing::Ids;
using testing::Only;

constexpr std::int64_t kBase = 1'770'000'000'000;  // a creation date in 2026

std::string IdOf(int n) {
  char id[25];
  std::snprintf(id, sizeof id, "65f0a1b2%016x", n);
  return id;
}

std::string HashOf(int n) {
  char hash[65];
  std::snprintf(hash, sizeof hash, "%064x", n + 0xabc000);
  return hash;
}

Token MakeToken(int n, TokenType type, std::optional<std::string> principal,
                std::int64_t creation = kBase) {
  Token token;
  token.id = IdOf(n);
  token.type = type;
  token.name = "token " + std::to_string(n);
  token.principal = std::move(principal);
  token.creation_date = creation;
  token.actions = {"token/read"};
  token.secret_hash = HashOf(n);
  return token;
}

Visibility Everything() { return Visibility{}; }

TokenQuery SortedBy(SortField field, SortOrder order) {
  TokenQuery query;
  query.sort = field;
  query.order = order;
  return query;
}

// An independent model of the query rules, to check backends against.
bool Matches(const Token& token, const TokenQuery& query, const Visibility& visibility) {
  auto has = [](const auto& list, const auto& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  if (!query.types.empty() && !has(query.types, token.type)) return false;
  if (!query.principals.empty() && (!token.principal || !has(query.principals, *token.principal))) {
    return false;
  }
  if (query.from_date && token.creation_date < *query.from_date) return false;
  if (query.to_date && token.creation_date >= *query.to_date) return false;
  if (query.lifetime_beyond_policy) {
    const auto max =
        std::find_if(query.policy_max_lifetimes.begin(), query.policy_max_lifetimes.end(),
                     [&](const auto& entry) { return entry.first == token.type; });
    if (max == query.policy_max_lifetimes.end()) return false;
    if (token.expiration_date && *token.expiration_date - token.creation_date <= max->second) {
      return false;
    }
  }
  if (query.last_used_before && token.last_used_date &&
      *token.last_used_date >= *query.last_used_before) {
    return false;
  }
  if (query.last_used_after &&
      (!token.last_used_date || *token.last_used_date < *query.last_used_after)) {
    return false;
  }
  if (!visibility.everything &&
      (!has(visibility.types, token.type) || token.principal != visibility.principal)) {
    return false;
  }
  return true;
}

// -1, 0, 1 comparing the sort field ascending: nulls first, strings by bytes.
int CompareField(const Token& a, const Token& b, SortField field) {
  auto compare_optional = [](const auto& x, const auto& y) {
    if (!x && !y) return 0;
    if (!x) return -1;
    if (!y) return 1;
    return *x < *y ? -1 : (*y < *x ? 1 : 0);
  };
  switch (field) {
    case SortField::kCreationDate:
      return compare_optional(std::optional(a.creation_date), std::optional(b.creation_date));
    case SortField::kExpirationDate:
      return compare_optional(a.expiration_date, b.expiration_date);
    case SortField::kName:
      return compare_optional(std::optional(a.name), std::optional(b.name));
    case SortField::kType:
      return compare_optional(std::optional(std::string(core::ToString(a.type))),
                              std::optional(std::string(core::ToString(b.type))));
    case SortField::kPrincipal:
      return compare_optional(a.principal, b.principal);
    case SortField::kLastUsedDate:
      return compare_optional(a.last_used_date, b.last_used_date);
  }
  return 0;
}

std::vector<std::string> ExpectedIds(std::vector<Token> all, const TokenQuery& query,
                                     const Visibility& visibility) {
  std::erase_if(all, [&](const Token& t) { return !Matches(t, query, visibility); });
  std::sort(all.begin(), all.end(), [&](const Token& a, const Token& b) {
    int c = CompareField(a, b, query.sort);
    if (c == 0) c = a.id < b.id ? -1 : (a.id > b.id ? 1 : 0);
    return query.order == SortOrder::kAsc ? c < 0 : c > 0;
  });
  return Ids(all);
}

class RecordingListener : public ChangeListener {
 public:
  void OnTokenDeleted(std::string_view id) override {
    std::lock_guard lock(mu_);
    deleted_.emplace_back(id);
  }
  void OnFeedHealthChanged(bool) override {}
  void OnFeedLagging(bool) override {}
  std::vector<std::string> deleted() {
    std::lock_guard lock(mu_);
    return deleted_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> deleted_;
};

class TokenStoreContractTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    if (!GetParam().skip_reason.empty()) GTEST_SKIP() << GetParam().skip_reason;
    Result<std::unique_ptr<TokenStore>> opened = GetParam().open();
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  void InsertAll(const std::vector<Token>& tokens) {
    for (const Token& token : tokens) {
      const Status status = store_->Insert(token, {});
      ASSERT_TRUE(status.ok()) << status.ToString();
    }
  }

  TokenPage MustQuery(const TokenQuery& query, const Visibility& visibility, std::int64_t limit,
                      std::int64_t offset, bool count_total = true) {
    Result<TokenPage> page = store_->Query(query, visibility, limit, offset, count_total);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? std::move(*page) : TokenPage{};
  }

  // A varied data set: every type, null and equal principals, null and equal
  // expiration dates, equal creation dates, names that differ only in bytes.
  std::vector<Token> VariedTokens() {
    const char* names[] = {"B", "a", "é", "a", "Zed", "", "ab", "B"};
    const char* principals[] = {"alice", "bob", "Alice", "carol", "bob"};
    std::vector<Token> tokens;
    for (int i = 0; i < 20; ++i) {
      const TokenType type = core::kAllTokenTypes[i % 5];
      std::optional<std::string> principal;
      if (type != TokenType::kGlobal) principal = principals[i % 5 == 0 ? 0 : (i / 2) % 5];
      Token token = MakeToken(100 - i, type, principal, kBase + (i / 3) * 1000);
      token.name = names[i % 8];
      if (i % 3 != 0) token.expiration_date = kBase + 5000 + (i % 4) * 100;
      // Never used, or used at one of a few (partly equal) dates.
      if (i % 4 != 1) token.last_used_date = kBase + 10'000 + (i % 5) * 1000;
      tokens.push_back(token);
    }
    return tokens;
  }

  std::unique_ptr<TokenStore> store_;
};

TEST_P(TokenStoreContractTest, InsertThenFindRoundTripsEveryField) {
  Token full = MakeToken(1, TokenType::kTeam, "team-42", kBase);
  full.name = "Jörg's 🔑 token — ünïcødé";
  full.description = "a description";
  full.expiration_date = kBase + 86'400'000;
  full.actions = {"**/read", "token/write", "workflow/action"};
  full.last_used_date = kBase + 5;
  Token empty_description = MakeToken(2, TokenType::kUser, "u1");
  empty_description.description = "";
  empty_description.actions = {};
  Token global = MakeToken(3, TokenType::kGlobal, std::nullopt);
  InsertAll({full, empty_description, global});

  for (const Token& token : {full, empty_description, global}) {
    Result<Token> by_id = store_->FindById(token.id);
    ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
    EXPECT_EQ(*by_id, token);
    Result<Token> by_hash = store_->FindBySecretHash(token.secret_hash);
    ASSERT_TRUE(by_hash.ok()) << by_hash.status().ToString();
    EXPECT_EQ(*by_hash, token);
  }
  EXPECT_EQ(store_->FindById(empty_description.id)->description, std::optional<std::string>(""));
  EXPECT_EQ(store_->FindById(global.id)->description, std::nullopt);
  EXPECT_EQ(store_->FindById(global.id)->principal, std::nullopt);
}

// Every backend refuses the same tokens, the same way: text a backend could
// not return unchanged (invalid UTF-8, NUL) and permissions the actions column
// could not hold. Nothing is stored and nothing counted.
TEST_P(TokenStoreContractTest, TokensNoBackendCanHoldAreRefusedAlike) {
  const std::string bad_utf8 = "name \xf8\x88\x80\x80\x80";
  const std::string with_nul("team\0x", 6);
  std::vector<std::pair<std::string, Token>> refused;
  auto add = [&](std::string what, auto change) {
    Token token = MakeToken(static_cast<int>(refused.size()) + 1, TokenType::kTeam, "t1");
    change(token);
    refused.emplace_back(std::move(what), std::move(token));
  };
  add("name", [&](Token& t) { t.name = bad_utf8; });
  add("name with NUL", [&](Token& t) { t.name = with_nul; });
  add("description", [&](Token& t) { t.description = with_nul; });
  add("principal", [&](Token& t) { t.principal = "\xc0\xaf"; });
  add("id", [&](Token& t) { t.id = "\xed\xa0\x80"; });
  add("secret_hash", [&](Token& t) { t.secret_hash = with_nul; });
  add("permission with a space", [&](Token& t) { t.actions = {"token/read write"}; });
  add("empty permission", [&](Token& t) { t.actions = {"token/read", ""}; });
  add("permission", [&](Token& t) { t.actions = {"token/\xff"}; });
  for (const auto& [what, token] : refused) {
    const Status single = store_->Insert(token, {});
    EXPECT_EQ(single.code(), core::StatusCode::kInvalidArgument)
        << what << ": " << single.ToString();
    const std::vector<Token> batch = {MakeToken(100, TokenType::kUser, "u"), token};
    const Status many = store_->InsertMany(batch);
    EXPECT_EQ(many.code(), core::StatusCode::kInvalidArgument) << what << ": " << many.ToString();
  }
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 0);
  EXPECT_TRUE(store_->FindById(IdOf(100)).status().IsNotFound()) << "all or none";
}

TEST_P(TokenStoreContractTest, ExpiredTokensAreStillFoundByHash) {
  Token expired = MakeToken(1, TokenType::kUser, "u1");
  expired.expiration_date = 1;
  InsertAll({expired});
  EXPECT_TRUE(store_->FindBySecretHash(expired.secret_hash).ok());
}

TEST_P(TokenStoreContractTest, DuplicateIdIsAlreadyExistsAndKeepsTheFirst) {
  const Token first = MakeToken(1, TokenType::kTeam, "t1");
  InsertAll({first});
  Token second = MakeToken(2, TokenType::kUser, "u2");
  second.id = first.id;
  const Status status = store_->Insert(second, {});
  EXPECT_EQ(status.code(), core::StatusCode::kAlreadyExists) << status.ToString();
  EXPECT_EQ(*store_->FindById(first.id), first);
  EXPECT_TRUE(store_->FindBySecretHash(second.secret_hash).status().IsNotFound());
}

// SubmitInsert answers as Insert does, once each, whether the store queues
// it (SQLite's writer) or runs it at once; many at a time as under load.
TEST_P(TokenStoreContractTest, SubmittedInsertsAreAnsweredOnceEachAsInsertWould) {
  const Token taken = MakeToken(1, TokenType::kTeam, "t1");
  InsertAll({taken});
  constexpr int kInserts = 40;
  std::mutex mu;
  std::condition_variable answered;
  std::vector<int> answers(kInserts + 1, 0);
  std::vector<Status> results(kInserts + 1);
  for (int i = 0; i <= kInserts; ++i) {
    Token token = MakeToken(100 + i, TokenType::kUser, "u");
    if (i == kInserts) token.id = taken.id;  // the last one is a duplicate
    const core::AuditEvent event = core::MakeEvent(
        core::AuditAction::kCreated, token, core::EventOrigin::System(), token.creation_date);
    store_->SubmitInsert(token, std::span(&event, 1), [&, i](Status status) {
      std::lock_guard lock(mu);
      ++answers[i];
      results[i] = std::move(status);
      answered.notify_all();
    });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(answered.wait_for(lock, std::chrono::seconds(30), [&] {
    return std::all_of(answers.begin(), answers.end(), [](int n) { return n > 0; });
  }));
  lock.unlock();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a second answer would land here
  lock.lock();
  for (int i = 0; i <= kInserts; ++i) {
    EXPECT_EQ(answers[i], 1) << "insert " << i;
    if (i < kInserts) {
      EXPECT_TRUE(results[i].ok()) << results[i].ToString();
      EXPECT_EQ(*store_->FindById(MakeToken(100 + i, TokenType::kUser, "u").id),
                MakeToken(100 + i, TokenType::kUser, "u"));
    } else {
      EXPECT_EQ(results[i].code(), core::StatusCode::kAlreadyExists) << results[i].ToString();
    }
  }
  EXPECT_EQ(*store_->FindById(taken.id), taken);
  Result<AuditPage> events = store_->QueryAudit({}, Everything(), 100, 0, true);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_EQ(events->total, kInserts) << "one event per stored token, none for the duplicate";
}

// Creates submitted and creates waited for, at once: whichever leads a
// group answers every member the way it was asked.
TEST_P(TokenStoreContractTest, SubmittedAndWaitedInsertsAreAnsweredTogether) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  constexpr int kSubmitted = 40;
  std::atomic<int> answers = 0;
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Token token = MakeToken(1000 + t * 100 + i, TokenType::kTeam, "t");
        const core::AuditEvent event = core::MakeEvent(
            core::AuditAction::kCreated, token, core::EventOrigin::System(), token.creation_date);
        if (!store_->Insert(token, std::span(&event, 1)).ok()) ++failures;
      }
    });
  }
  for (int i = 0; i < kSubmitted; ++i) {
    const Token token = MakeToken(5000 + i, TokenType::kUser, "u");
    const core::AuditEvent event = core::MakeEvent(
        core::AuditAction::kCreated, token, core::EventOrigin::System(), token.creation_date);
    store_->SubmitInsert(token, std::span(&event, 1), [&](Status status) {
      if (!status.ok()) ++failures;
      ++answers;
    });
  }
  for (std::thread& thread : threads) thread.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (answers < kSubmitted && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(answers, kSubmitted);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, kThreads * kPerThread + kSubmitted);
  Result<AuditPage> events = store_->QueryAudit({}, Everything(), 1, 0, true);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_EQ(events->total, kThreads * kPerThread + kSubmitted);
}

// Closing the store answers every insert submitted before, written or not.
TEST_P(TokenStoreContractTest, ClosingAnswersEverySubmittedInsert) {
  constexpr int kSubmitted = 300;
  std::atomic<int> answers = 0;
  for (int i = 0; i < kSubmitted; ++i) {
    const Token token = MakeToken(100 + i, TokenType::kUser, "u");
    const core::AuditEvent event = core::MakeEvent(
        core::AuditAction::kCreated, token, core::EventOrigin::System(), token.creation_date);
    store_->SubmitInsert(token, std::span(&event, 1), [&](Status) { ++answers; });
  }
  store_.reset();
  EXPECT_EQ(answers, kSubmitted);
}

TEST_P(TokenStoreContractTest, DuplicateHashIsAlreadyExistsAndKeepsTheFirst) {
  const Token first = MakeToken(1, TokenType::kTeam, "t1");
  InsertAll({first});
  Token second = MakeToken(2, TokenType::kUser, "u2");
  second.secret_hash = first.secret_hash;
  const Status status = store_->Insert(second, {});
  EXPECT_EQ(status.code(), core::StatusCode::kAlreadyExists) << status.ToString();
  EXPECT_EQ(status.message().find(first.secret_hash), std::string::npos) << "hash leaked";
  EXPECT_EQ(*store_->FindBySecretHash(first.secret_hash), first);
  EXPECT_TRUE(store_->FindById(second.id).status().IsNotFound());
  // The failed insert left the counters alone.
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 1);
  EXPECT_EQ(MustQuery({.principals = {"u2"}}, Everything(), 0, 0).total, 0);
}

TEST_P(TokenStoreContractTest, FindOfUnknownOrOddTextIsNotFound) {
  InsertAll({MakeToken(1, TokenType::kTeam, "t1")});
  for (const std::string& id :
       {std::string(), std::string("'; DROP TABLE tokens;--"), std::string(24, 'f'),
        std::string("65f0a1b2%"), std::string("x\0y", 3)}) {
    EXPECT_TRUE(store_->FindById(id).status().IsNotFound()) << id;
    EXPECT_TRUE(store_->FindBySecretHash(id).status().IsNotFound()) << id;
  }
  EXPECT_TRUE(store_->FindById(IdOf(1)).ok()) << "the table survived";
}

TEST_P(TokenStoreContractTest, DeleteRemovesTheTokenAndTellsTheListener) {
  RecordingListener listener;
  store_->SetChangeListener(&listener);
  const Token token = MakeToken(1, TokenType::kTeam, "t1");
  InsertAll({token, MakeToken(2, TokenType::kTeam, "t1")});

  ASSERT_TRUE(store_->Delete(token.id, {}).ok());
  EXPECT_EQ(listener.deleted(), std::vector<std::string>{token.id});
  EXPECT_TRUE(store_->FindById(token.id).status().IsNotFound());
  EXPECT_TRUE(store_->FindBySecretHash(token.secret_hash).status().IsNotFound());

  EXPECT_TRUE(store_->Delete(token.id, {}).IsNotFound());
  EXPECT_TRUE(store_->Delete("'; DROP TABLE tokens;--", {}).IsNotFound());
  EXPECT_EQ(listener.deleted().size(), 1u) << "not told about deletions that did not happen";
  EXPECT_TRUE(store_->FindById(IdOf(2)).ok());

  store_->SetChangeListener(nullptr);
  ASSERT_TRUE(store_->Delete(IdOf(2), {}).ok());
  EXPECT_EQ(listener.deleted().size(), 1u);
}

TEST_P(TokenStoreContractTest, EverySortFieldAndOrderMatchesTheRules) {
  const std::vector<Token> tokens = VariedTokens();
  InsertAll(tokens);
  for (SortField field : {SortField::kCreationDate, SortField::kExpirationDate, SortField::kName,
                          SortField::kType, SortField::kPrincipal, SortField::kLastUsedDate}) {
    for (SortOrder order : {SortOrder::kAsc, SortOrder::kDesc}) {
      SCOPED_TRACE(std::string(core::ToString(field)) + " " + std::string(core::ToString(order)));
      const TokenQuery query = SortedBy(field, order);
      const TokenPage page = MustQuery(query, Everything(), -1, 0);
      EXPECT_EQ(Ids(page.tokens), ExpectedIds(tokens, query, Everything()));
      EXPECT_EQ(page.total, 20);
    }
  }
}

TEST_P(TokenStoreContractTest, NullsComeFirstAscendingAndLastDescending) {
  Token no_expiry = MakeToken(1, TokenType::kGlobal, std::nullopt);
  Token expires = MakeToken(2, TokenType::kTeam, "t");
  expires.expiration_date = kBase;
  expires.last_used_date = kBase;
  InsertAll({expires, no_expiry});
  for (SortField field :
       {SortField::kExpirationDate, SortField::kPrincipal, SortField::kLastUsedDate}) {
    EXPECT_EQ(Ids(MustQuery(SortedBy(field, SortOrder::kAsc), Everything(), 10, 0).tokens),
              (std::vector{no_expiry.id, expires.id}));
    EXPECT_EQ(Ids(MustQuery(SortedBy(field, SortOrder::kDesc), Everything(), 10, 0).tokens),
              (std::vector{expires.id, no_expiry.id}));
  }
}

TEST_P(TokenStoreContractTest, EqualSortValuesBreakTiesOnIdInTheSameDirection) {
  InsertAll({MakeToken(3, TokenType::kTeam, "t"), MakeToken(1, TokenType::kTeam, "t"),
             MakeToken(2, TokenType::kTeam, "t")});
  for (SortField field : {SortField::kCreationDate, SortField::kName, SortField::kType}) {
    EXPECT_EQ(Ids(MustQuery(SortedBy(field, SortOrder::kAsc), Everything(), 10, 0).tokens),
              (std::vector{IdOf(1), IdOf(2), IdOf(3)}));
    EXPECT_EQ(Ids(MustQuery(SortedBy(field, SortOrder::kDesc), Everything(), 10, 0).tokens),
              (std::vector{IdOf(3), IdOf(2), IdOf(1)}));
  }
}

TEST_P(TokenStoreContractTest, StringsCompareByUtf8Bytes) {
  Token lower = MakeToken(1, TokenType::kTeam, "t");
  lower.name = "a";
  Token accented = MakeToken(2, TokenType::kTeam, "t");
  accented.name = "é";
  Token upper = MakeToken(3, TokenType::kTeam, "t");
  upper.name = "B";
  InsertAll({lower, accented, upper});
  EXPECT_EQ(Ids(MustQuery(SortedBy(SortField::kName, SortOrder::kAsc), Everything(), 10, 0).tokens),
            (std::vector{upper.id, lower.id, accented.id}));
}

TEST_P(TokenStoreContractTest, PagesNeverOverlapOrSkip) {
  const std::vector<Token> tokens = VariedTokens();
  InsertAll(tokens);
  for (SortField field : {SortField::kCreationDate, SortField::kType, SortField::kPrincipal,
                          SortField::kExpirationDate, SortField::kName, SortField::kLastUsedDate}) {
    for (SortOrder order : {SortOrder::kAsc, SortOrder::kDesc}) {
      SCOPED_TRACE(std::string(core::ToString(field)) + " " + std::string(core::ToString(order)));
      const TokenQuery query = SortedBy(field, order);
      const std::vector<std::string> unpaged = Ids(MustQuery(query, Everything(), -1, 0).tokens);
      std::vector<std::string> walked;
      for (int page = 0; page < 7; ++page) {
        const TokenPage result = MustQuery(query, Everything(), 3, page * 3);
        EXPECT_EQ(result.total, 20);
        EXPECT_EQ(result.tokens.size(), page < 6 ? 3u : 2u);
        for (const Token& token : result.tokens) walked.push_back(token.id);
      }
      EXPECT_EQ(walked, unpaged);
    }
  }
}

TEST_P(TokenStoreContractTest, FiltersAndTotalsMatchTheRules) {
  const std::vector<Token> tokens = VariedTokens();
  InsertAll(tokens);
  struct Case {
    std::string label;
    TokenQuery query;
    Visibility visibility;
  };
  const std::vector<Case> cases = {
      {"all", {}, Everything()},
      {"one type", {.types = {TokenType::kTeam}}, Everything()},
      {"two types", {.types = {TokenType::kUser, TokenType::kGlobal}}, Everything()},
      {"one principal", {.principals = {"bob"}}, Everything()},
      {"principal case matters", {.principals = {"Alice"}}, Everything()},
      {"principals and type",
       {.types = {TokenType::kWorkflow, TokenType::kSession}, .principals = {"bob", "alice"}},
       Everything()},
      {"unknown principal", {.principals = {"nobody"}}, Everything()},
      {"empty principal text", {.principals = {""}}, Everything()},
      {"from", {.from_date = kBase + 2000}, Everything()},
      {"to", {.to_date = kBase + 3000}, Everything()},
      {"window and type",
       {.types = {TokenType::kTeam}, .from_date = kBase + 1000, .to_date = kBase + 5000},
       Everything()},
      {"empty window", {.from_date = kBase + 1000, .to_date = kBase + 1000}, Everything()},
      {"visibility", {}, Only({TokenType::kUser, TokenType::kSession}, "bob")},
      {"visibility and type filter",
       {.types = {TokenType::kUser}},
       Only({TokenType::kUser, TokenType::kSession}, "bob")},
      {"visibility and other principal",
       {.principals = {"alice"}},
       Only({TokenType::kTeam}, "bob")},
      {"visibility and dates",
       {.from_date = kBase + 3000},
       Only({TokenType::kTeam, TokenType::kWorkflow}, "bob")},
      {"visibility of nothing", {}, Only({}, "bob")},
      {"used before", {.last_used_before = kBase + 12'000}, Everything()},
      {"used before anything", {.last_used_before = kBase}, Everything()},
      {"used after", {.last_used_after = kBase + 12'000}, Everything()},
      {"used window",
       {.last_used_before = kBase + 14'000, .last_used_after = kBase + 11'000},
       Everything()},
      {"used after and type", {.types = {TokenType::kUser}, .last_used_after = 0}, Everything()},
      {"used before and principal",
       {.principals = {"bob"}, .last_used_before = kBase + 13'000},
       Everything()},
      {"used after and visibility",
       {.last_used_after = kBase + 11'000},
       Only({TokenType::kTeam, TokenType::kWorkflow, TokenType::kUser}, "bob")},
      {"used before, creation window",
       {.from_date = kBase + 1000, .last_used_before = kBase + 13'000},
       Everything()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::vector<std::string> expected = ExpectedIds(tokens, c.query, c.visibility);
    // limit 1, so that the total is not just the length of a last page.
    const TokenPage first = MustQuery(c.query, c.visibility, 1, 0);
    EXPECT_EQ(first.total, static_cast<std::int64_t>(expected.size()));
    const TokenPage all = MustQuery(c.query, c.visibility, -1, 0);
    EXPECT_EQ(Ids(all.tokens), expected);
    EXPECT_EQ(all.total, static_cast<std::int64_t>(expected.size()));
    const TokenPage beyond = MustQuery(c.query, c.visibility, 5, 1000);
    EXPECT_TRUE(beyond.tokens.empty());
    EXPECT_EQ(beyond.total, static_cast<std::int64_t>(expected.size()));
    EXPECT_EQ(MustQuery(c.query, c.visibility, 1, 0, /*count_total=*/false).total, -1);
  }
}

// A store may keep what it learnt from one run of a query's shape (PostgreSQL
// keeps a plan per statement on a connection); every later run, with other
// principals, types, orders and offsets, still answers for its own values.
TEST_P(TokenStoreContractTest, RepeatedQueryShapesAnswerEachValueExactly) {
  std::vector<Token> tokens;
  int n = 0;
  auto add = [&](int count, TokenType type, const std::string& principal) {
    for (int i = 0; i < count; ++i, ++n) {
      tokens.push_back(MakeToken(n, type, principal, kBase + (n % 17) * 1000));
    }
  };
  add(45, TokenType::kTeam, "crowd");
  add(6, TokenType::kUser, "crowd");
  add(2, TokenType::kTeam, "pair");
  add(1, TokenType::kWorkflow, "single");
  InsertAll(tokens);
  struct Shape {
    std::string label;
    std::function<TokenQuery(const std::string&)> query;
    std::function<Visibility(const std::string&)> visibility;
  };
  auto everything = [](const std::string&) { return Everything(); };
  const std::vector<Shape> shapes = {
      {"principal", [](const std::string& p) { return TokenQuery{.principals = {p}}; }, everything},
      {"type and principal",
       [](const std::string& p) {
         return TokenQuery{.types = {TokenType::kTeam}, .principals = {p}};
       },
       everything},
      {"seen by a caller of one type", [](const std::string&) { return TokenQuery{}; },
       [](const std::string& p) { return Only({TokenType::kTeam}, p); }},
      {"seen by a caller of two types", [](const std::string&) { return TokenQuery{}; },
       [](const std::string& p) {
         return Only({TokenType::kTeam, TokenType::kUser}, p);
       }},
      {"nothing but the sort", [](const std::string&) { return TokenQuery{}; }, everything},
  };
  for (int round = 0; round < 3; ++round) {
    for (const Shape& shape : shapes) {
      for (const std::string principal : {"crowd", "pair", "nobody", "single"}) {
        for (SortOrder order : {SortOrder::kAsc, SortOrder::kDesc}) {
          for (std::int64_t offset : {0, 3, 42}) {
            SCOPED_TRACE(shape.label + ", " + principal + ", " +
                         std::string(core::ToString(order)) + ", offset " + std::to_string(offset));
            TokenQuery query = shape.query(principal);
            query.sort = SortField::kCreationDate;
            query.order = order;
            const Visibility visibility = shape.visibility(principal);
            const std::vector<std::string> matching = ExpectedIds(tokens, query, visibility);
            const auto from = std::min<std::size_t>(offset, matching.size());
            const auto to = std::min<std::size_t>(offset + 3, matching.size());
            const TokenPage page = MustQuery(query, visibility, 3, offset);
            EXPECT_EQ(Ids(page.tokens),
                      std::vector<std::string>(matching.begin() + from, matching.begin() + to));
            EXPECT_EQ(page.total, static_cast<std::int64_t>(matching.size()));
          }
        }
      }
    }
  }
}

TEST_P(TokenStoreContractTest, LifetimeBeyondPolicyMatchesTheRulesWithExactTotals) {
  const std::vector<Token> tokens = VariedTokens();
  InsertAll(tokens);
  auto beyond = [](std::vector<std::pair<TokenType, std::int64_t>> maxima) {
    TokenQuery query;
    query.lifetime_beyond_policy = true;
    query.policy_max_lifetimes = std::move(maxima);
    return query;
  };
  TokenQuery typed = beyond({{TokenType::kUser, 2000}, {TokenType::kSession, 5000}});
  typed.types = {TokenType::kUser};
  TokenQuery dated = beyond({{TokenType::kTeam, 1000}, {TokenType::kUser, 1000}});
  dated.from_date = kBase + 1000;
  TokenQuery sorted = beyond({{TokenType::kGlobal, 4000}, {TokenType::kWorkflow, 4000}});
  sorted.sort = SortField::kExpirationDate;
  sorted.order = SortOrder::kDesc;
  struct Case {
    std::string label;
    TokenQuery query;
    Visibility visibility;
  };
  const std::vector<Case> cases = {
      {"no maximum: nothing", beyond({}), Everything()},
      {"one type", beyond({{TokenType::kTeam, 3000}}), Everything()},
      {"every type",
       beyond({{TokenType::kGlobal, 5000},
               {TokenType::kTeam, 3000},
               {TokenType::kWorkflow, 4200},
               {TokenType::kUser, 0},
               {TokenType::kSession, 100000}}),
       Everything()},
      {"with a type filter", typed, Everything()},
      {"with dates", dated, Everything()},
      {"sorted", sorted, Everything()},
      {"visibility", beyond({{TokenType::kUser, 1000}, {TokenType::kTeam, 1000}}),
       Only({TokenType::kUser, TokenType::kSession}, "bob")},
      {"false ignores maxima", {.types = {TokenType::kTeam}}, Everything()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::vector<std::string> expected = ExpectedIds(tokens, c.query, c.visibility);
    const TokenPage first = MustQuery(c.query, c.visibility, 1, 0);
    EXPECT_EQ(first.total, static_cast<std::int64_t>(expected.size()));
    const TokenPage all = MustQuery(c.query, c.visibility, -1, 0);
    EXPECT_EQ(Ids(all.tokens), expected);
    const TokenPage beyond_end = MustQuery(c.query, c.visibility, 5, 1000);
    EXPECT_TRUE(beyond_end.tokens.empty());
    EXPECT_EQ(beyond_end.total, static_cast<std::int64_t>(expected.size()));
  }
  // The data set has matches and non-matches for the cases that need them.
  EXPECT_GT(ExpectedIds(tokens, cases[1].query, Everything()).size(), 0u);
  EXPECT_LT(ExpectedIds(tokens, cases[1].query, Everything()).size(), 4u);  // of 4 team tokens
}

TEST_P(TokenStoreContractTest, LifetimeBeyondPolicyIsStrictlyLonger) {
  Token forever = MakeToken(1, TokenType::kTeam, "t");
  Token at_max = MakeToken(2, TokenType::kTeam, "t");
  at_max.expiration_date = kBase + 1000;
  Token over = MakeToken(3, TokenType::kTeam, "t");
  over.expiration_date = kBase + 1001;
  Token other_type = MakeToken(4, TokenType::kUser, "t");
  InsertAll({forever, at_max, over, other_type});
  TokenQuery query;
  query.lifetime_beyond_policy = true;
  query.policy_max_lifetimes = {{TokenType::kTeam, 1000}};
  const TokenPage page = MustQuery(query, Everything(), 1, 0);
  EXPECT_EQ(page.total, 2);
  EXPECT_EQ(Ids(MustQuery(query, Everything(), -1, 0).tokens), (std::vector{IdOf(1), IdOf(3)}));
}

TEST_P(TokenStoreContractTest, PrincipalFilterNeverMatchesGlobalTokens) {
  InsertAll({MakeToken(1, TokenType::kGlobal, std::nullopt), MakeToken(2, TokenType::kUser, "")});
  const TokenPage page = MustQuery({.principals = {""}}, Everything(), 1, 0);
  EXPECT_EQ(Ids(page.tokens), std::vector{IdOf(2)});
  EXPECT_EQ(page.total, 1);
  EXPECT_EQ(MustQuery({.principals = {"**"}}, Everything(), 1, 0).total, 0);
}

TEST_P(TokenStoreContractTest, DateWindowIsHalfOpen) {
  InsertAll({MakeToken(1, TokenType::kTeam, "t", kBase - 1),
             MakeToken(2, TokenType::kTeam, "t", kBase),
             MakeToken(3, TokenType::kTeam, "t", kBase + 999),
             MakeToken(4, TokenType::kTeam, "t", kBase + 1000)});
  const TokenPage page =
      MustQuery({.from_date = kBase, .to_date = kBase + 1000}, Everything(), 1, 0);
  EXPECT_EQ(Ids(page.tokens), std::vector{IdOf(2)});
  EXPECT_EQ(page.total, 2);
  EXPECT_EQ(
      Ids(MustQuery({.from_date = kBase, .to_date = kBase + 1000}, Everything(), -1, 0).tokens),
      (std::vector{IdOf(2), IdOf(3)}));
}

TEST_P(TokenStoreContractTest, OffsetBeyondTheEndIsEmptyWithTheRightTotal) {
  InsertAll({MakeToken(1, TokenType::kTeam, "t"), MakeToken(2, TokenType::kUser, "u")});
  const TokenPage page = MustQuery({}, Everything(), 10, 2'147'483'647LL * 1000);
  EXPECT_TRUE(page.tokens.empty());
  EXPECT_EQ(page.total, 2);
  const TokenPage typed = MustQuery({.types = {TokenType::kUser}}, Everything(), 10, 10);
  EXPECT_TRUE(typed.tokens.empty());
  EXPECT_EQ(typed.total, 1);
}

TEST_P(TokenStoreContractTest, CountByTypeCountsEachType) {
  InsertAll({MakeToken(1, TokenType::kTeam, "t"), MakeToken(2, TokenType::kTeam, "u"),
             MakeToken(3, TokenType::kGlobal, std::nullopt),
             MakeToken(4, TokenType::kSession, "u")});
  Result<std::vector<std::pair<TokenType, std::int64_t>>> counts = store_->CountByType();
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  std::vector<std::pair<TokenType, std::int64_t>> nonzero;
  for (const auto& entry : *counts) {
    if (entry.second != 0) nonzero.push_back(entry);
  }
  std::sort(nonzero.begin(), nonzero.end());
  EXPECT_EQ(nonzero,
            (std::vector<std::pair<TokenType, std::int64_t>>{
                {TokenType::kGlobal, 1}, {TokenType::kTeam, 2}, {TokenType::kSession, 1}}));
}

TEST_P(TokenStoreContractTest, CountsStayRightAfterDeletes) {
  const std::vector<Token> all = VariedTokens();
  InsertAll(all);
  std::vector<Token> remaining;
  for (int i = 0; i < 20; ++i) {
    if (i % 3 == 0) {
      ASSERT_TRUE(store_->Delete(all[i].id, {}).ok());
    } else {
      remaining.push_back(all[i]);
    }
  }
  for (const TokenQuery& query :
       {TokenQuery{}, TokenQuery{.types = {TokenType::kTeam}}, TokenQuery{.principals = {"bob"}},
        TokenQuery{.types = {TokenType::kGlobal}},
        TokenQuery{.types = {TokenType::kUser}, .principals = {"alice", "carol"}}}) {
    EXPECT_EQ(MustQuery(query, Everything(), 1, 0).total,
              static_cast<std::int64_t>(ExpectedIds(remaining, query, Everything()).size()));
  }
  EXPECT_EQ(
      MustQuery({}, Only({TokenType::kUser, TokenType::kSession}, "bob"), 1, 0).total,
      static_cast<std::int64_t>(
          ExpectedIds(remaining, {}, Only({TokenType::kUser, TokenType::kSession}, "bob")).size()));
  // Deleting everything brings every total back to zero.
  for (const Token& token : remaining) ASSERT_TRUE(store_->Delete(token.id, {}).ok());
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 0);
  EXPECT_EQ(MustQuery({.principals = {"bob"}}, Everything(), 1, 0).total, 0);
  Result<std::vector<std::pair<TokenType, std::int64_t>>> counts = store_->CountByType();
  ASSERT_TRUE(counts.ok());
  for (const auto& [type, n] : *counts) EXPECT_EQ(n, 0) << core::ToString(type);
}

TEST_P(TokenStoreContractTest, ConcurrentInsertsAllLand) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        const Token token = MakeToken(n, t % 2 ? TokenType::kTeam : TokenType::kUser,
                                      "p" + std::to_string(t), kBase + n);
        if (!store_->Insert(token, {}).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, kThreads * kPerThread);
  EXPECT_EQ(MustQuery({.types = {TokenType::kTeam}}, Everything(), 1, 0).total,
            kThreads * kPerThread / 2);
  EXPECT_EQ(MustQuery({.principals = {"p3"}}, Everything(), 1, 0).total, kPerThread);
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    ASSERT_TRUE(store_->FindById(IdOf(n)).ok()) << n;
  }
}

TEST_P(TokenStoreContractTest, ConcurrentDuplicatesFailOnlyTheirOwnCaller) {
  // Half the threads insert fresh tokens, half re-insert one existing id: the
  // fresh ones must all land even when they share a transaction with failures.
  InsertAll({MakeToken(0, TokenType::kTeam, "t")});
  std::atomic<int> fresh_failures{0};
  std::atomic<int> duplicate_results{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (t % 2 == 0) {
          if (!store_->Insert(MakeToken(1 + t * 20 + i, TokenType::kTeam, "t"), {}).ok())
            ++fresh_failures;
        } else {
          Token duplicate = MakeToken(1000 + t * 20 + i, TokenType::kTeam, "t");
          duplicate.id = IdOf(0);
          if (store_->Insert(duplicate, {}).code() == core::StatusCode::kAlreadyExists) {
            ++duplicate_results;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(fresh_failures.load(), 0);
  EXPECT_EQ(duplicate_results.load(), 80);
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 81);
}

TEST_P(TokenStoreContractTest, InsertManyIsAllOrNone) {
  InsertAll({MakeToken(5, TokenType::kTeam, "t")});
  std::vector<Token> batch;
  for (int n = 1; n <= 10; ++n) batch.push_back(MakeToken(n, TokenType::kUser, "u"));
  const Status status = store_->InsertMany(batch);  // token 5 already exists
  EXPECT_EQ(status.code(), core::StatusCode::kAlreadyExists) << status.ToString();
  EXPECT_TRUE(store_->FindById(IdOf(1)).status().IsNotFound());
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 1);

  batch.erase(batch.begin() + 4);
  ASSERT_TRUE(store_->InsertMany(batch).ok());
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 10);
  EXPECT_EQ(MustQuery({.principals = {"u"}}, Everything(), 1, 0).total, 9);

  std::vector<Token> big;
  for (int n = 100; n < 700; ++n) big.push_back(MakeToken(n, TokenType::kWorkflow, "w"));
  ASSERT_TRUE(store_->InsertMany(big).ok()) << "larger than one write batch";
  EXPECT_EQ(MustQuery({.types = {TokenType::kWorkflow}}, Everything(), 1, 0).total, 600);
  EXPECT_TRUE(store_->InsertMany({}).ok());
}

std::vector<std::string> Sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST_P(TokenStoreContractTest, DeleteMatchingDeletesExactlyTheMatchesExpiredOnesToo) {
  const std::vector<Token> tokens = VariedTokens();  // most expired long ago
  struct Case {
    TokenQuery query;
    Visibility visibility;
  };
  const std::vector<Case> cases = {
      {{.types = {TokenType::kTeam}}, Everything()},
      {{.principals = {"bob"}}, Everything()},
      {{.from_date = kBase + 1000, .to_date = kBase + 3000}, Everything()},
      {{.types = {TokenType::kUser, TokenType::kSession}, .principals = {"alice", "bob"}},
       Everything()},
      {{}, Only({TokenType::kUser, TokenType::kSession}, "bob")},
      {{.types = {TokenType::kTeam}}, Only({TokenType::kUser}, "bob")},  // disjoint: none
      {{.principals = {"nobody"}}, Everything()},
      {{.last_used_before = kBase + 12'000}, Everything()},  // never used, or long ago
      {{.last_used_after = kBase + 12'000}, Everything()},
      {{.types = {TokenType::kUser}, .last_used_before = kBase + 13'000},
       Only({TokenType::kUser, TokenType::kSession}, "bob")},
      {{}, Only({}, "bob")},  // sees nothing
      {{}, Everything()},
  };
  for (const Case& c : cases) {
    store_ = nullptr;
    SetUp();
    RecordingListener listener;
    store_->SetChangeListener(&listener);
    InsertAll(tokens);
    std::vector<std::string> expected = ExpectedIds(tokens, c.query, c.visibility);
    Result<std::vector<std::string>> deleted =
        store_->DeleteMatching(c.query, c.visibility, core::EventOrigin::System(), 1);
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    EXPECT_EQ(Sorted(*deleted), Sorted(expected));
    EXPECT_EQ(Sorted(listener.deleted()), Sorted(expected)) << "the listener hears of each";
    for (const Token& token : tokens) {
      const bool gone = std::find(expected.begin(), expected.end(), token.id) != expected.end();
      EXPECT_EQ(store_->FindById(token.id).status().IsNotFound(), gone) << token.id;
      EXPECT_EQ(store_->FindBySecretHash(token.secret_hash).status().IsNotFound(), gone);
    }
    const auto left = static_cast<std::int64_t>(tokens.size() - expected.size());
    EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, left) << "counters follow";
    EXPECT_EQ(MustQuery({.from_date = 0}, Everything(), 1, 0).total, left);
    std::int64_t by_type = 0;
    Result<std::vector<std::pair<TokenType, std::int64_t>>> counts = store_->CountByType();
    ASSERT_TRUE(counts.ok());
    for (const auto& [type, n] : *counts) by_type += n;
    EXPECT_EQ(by_type, left);
    // Nothing left to match: an empty answer, and no announcement.
    const std::size_t heard = listener.deleted().size();
    deleted = store_->DeleteMatching(c.query, c.visibility, core::EventOrigin::System(), 1);
    ASSERT_TRUE(deleted.ok());
    EXPECT_TRUE(deleted->empty());
    EXPECT_EQ(listener.deleted().size(), heard);
    store_->SetChangeListener(nullptr);
  }
}

TEST_P(TokenStoreContractTest, DeleteMatchingIsOneTransaction) {
  // Readers see every matching token or none of them, never part.
  constexpr int kMatching = 600;
  std::vector<Token> tokens;
  for (int n = 0; n < kMatching; ++n) tokens.push_back(MakeToken(n, TokenType::kUser, "u"));
  tokens.push_back(MakeToken(kMatching, TokenType::kTeam, "t"));
  ASSERT_TRUE(store_->InsertMany(tokens).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> partial{0};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      Result<TokenPage> page =
          store_->Query({.types = {TokenType::kUser}, .from_date = 0}, Everything(), 1, 0, true);
      if (!page.ok()) continue;
      if (page->total != 0 && page->total != kMatching) partial.fetch_add(1);
      reads.fetch_add(1);
    }
  });
  while (reads.load() == 0) std::this_thread::yield();
  Result<std::vector<std::string>> deleted = store_->DeleteMatching(
      {.types = {TokenType::kUser}}, Everything(), core::EventOrigin::System(), 1);
  while (reads.load() < 3) std::this_thread::yield();
  stop = true;
  reader.join();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->size(), static_cast<std::size_t>(kMatching));
  EXPECT_EQ(partial.load(), 0);
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 1);
}

TEST_P(TokenStoreContractTest, DeleteMatchingIgnoresSortAndPaging) {
  InsertAll({MakeToken(1, TokenType::kTeam, "t"), MakeToken(2, TokenType::kTeam, "t")});
  TokenQuery query = SortedBy(SortField::kName, SortOrder::kDesc);
  query.types = {TokenType::kTeam};
  query.limit = 1;
  Result<std::vector<std::string>> deleted =
      store_->DeleteMatching(query, Everything(), core::EventOrigin::System(), 1);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->size(), 2u) << "limit and page are not for deletions";
}

// Rotation (API 7.3) --------------------------------------------------------

// The rotation of `old` into a new token numbered `n`.
Rotation RotationOf(const Token& old, int n, bool keep_old,
                    std::optional<std::int64_t> old_expiration = std::nullopt) {
  Rotation rotation;
  rotation.new_token = MakeToken(n, old.type, old.principal, kBase + 10);
  rotation.new_token.rotated_from = old.id;
  rotation.new_token.family_id = old.Family();
  rotation.old_id = old.id;
  rotation.keep_old = keep_old;
  rotation.old_expiration = old_expiration;
  rotation.retired = RetiredSecret{.secret_hash = old.secret_hash,
                                   .token_id = old.id,
                                   .family_id = old.Family(),
                                   .overlap_end = kBase + 100,
                                   .forget_after = kBase + 5000};
  return rotation;
}

TEST_P(TokenStoreContractTest, RotationColumnsRoundTrip) {
  Token linked = MakeToken(1, TokenType::kTeam, "t1");
  linked.rotated_from = IdOf(7);
  linked.rotated_to = IdOf(9);
  linked.family_id = IdOf(5);
  Token batch = MakeToken(2, TokenType::kUser, "u1");
  batch.rotated_from = IdOf(8);
  batch.family_id = IdOf(8);
  InsertAll({linked});
  ASSERT_TRUE(store_->InsertMany(std::vector<Token>{batch}).ok());
  EXPECT_EQ(*store_->FindById(linked.id), linked);
  EXPECT_EQ(*store_->FindBySecretHash(batch.secret_hash), batch);
  Token bad = MakeToken(3, TokenType::kUser, "u1");
  bad.family_id = std::string("x\0y", 3);
  EXPECT_EQ(store_->Insert(bad, {}).code(), core::StatusCode::kInvalidArgument);
}

TEST_P(TokenStoreContractTest, RotateWithoutOverlapReplacesTheTokenAndRetiresItsSecret) {
  RecordingListener listener;
  store_->SetChangeListener(&listener);
  const Token old = MakeToken(1, TokenType::kTeam, "t1");
  InsertAll({old});
  const Rotation rotation = RotationOf(old, 2, /*keep_old=*/false);
  const Status rotated = store_->Rotate(rotation);
  ASSERT_TRUE(rotated.ok()) << rotated.ToString();
  EXPECT_EQ(listener.deleted(), std::vector<std::string>{old.id});
  EXPECT_TRUE(store_->FindById(old.id).status().IsNotFound());
  EXPECT_EQ(*store_->FindById(rotation.new_token.id), rotation.new_token);
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 1) << "counters follow";

  Result<SecretLookup> retired = store_->LookupSecret(old.secret_hash);
  ASSERT_TRUE(retired.ok()) << retired.status().ToString();
  EXPECT_FALSE(retired->token);
  ASSERT_TRUE(retired->retired);
  EXPECT_EQ(*retired->retired, *rotation.retired);

  Result<SecretLookup> current = store_->LookupSecret(rotation.new_token.secret_hash);
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(current->token);
  EXPECT_EQ(*current->token, rotation.new_token);
  EXPECT_FALSE(current->retired);

  for (const std::string& unknown : {HashOf(99), std::string("x\0y", 3), std::string()}) {
    Result<SecretLookup> none = store_->LookupSecret(unknown);
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_FALSE(none->token);
    EXPECT_FALSE(none->retired);
  }
  store_->SetChangeListener(nullptr);
}

TEST_P(TokenStoreContractTest, RotateWithOverlapKeepsTheOldTokenWithItsNewExpiry) {
  RecordingListener listener;
  store_->SetChangeListener(&listener);
  const Token old = MakeToken(1, TokenType::kUser, "u1");
  InsertAll({old});
  Rotation rotation = RotationOf(old, 2, /*keep_old=*/true, kBase + 100);
  rotation.retired.reset();  // as when the old token's own expiry ends the overlap
  ASSERT_TRUE(store_->Rotate(rotation).ok());
  EXPECT_EQ(listener.deleted(), std::vector<std::string>{old.id}) << "its expiry changed";
  Token expected = old;
  expected.rotated_to = rotation.new_token.id;
  expected.expiration_date = kBase + 100;
  EXPECT_EQ(*store_->FindById(old.id), expected);
  Result<SecretLookup> both = store_->LookupSecret(old.secret_hash);
  ASSERT_TRUE(both.ok());
  ASSERT_TRUE(both->token);
  EXPECT_EQ(*both->token, expected);
  EXPECT_FALSE(both->retired) << "no retired record was asked for";
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 2);
  store_->SetChangeListener(nullptr);
}

TEST_P(TokenStoreContractTest, LookupSecretOfATokenInItsOverlapReturnsItsRetiredRecordToo) {
  const Token old = MakeToken(1, TokenType::kUser, "u1");
  const Token untouched = MakeToken(3, TokenType::kUser, "u1");
  InsertAll({old, untouched});
  const Rotation rotation = RotationOf(old, 2, /*keep_old=*/true, kBase + 100);
  ASSERT_TRUE(rotation.retired);
  ASSERT_TRUE(store_->Rotate(rotation).ok());

  Result<SecretLookup> both = store_->LookupSecret(old.secret_hash);
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  ASSERT_TRUE(both->token);
  EXPECT_EQ(both->token->rotated_to, rotation.new_token.id);
  ASSERT_TRUE(both->retired) << "the rotated-away token's secret is retired too";
  EXPECT_EQ(*both->retired, *rotation.retired);

  for (const Token& current : {rotation.new_token, untouched}) {
    Result<SecretLookup> found = store_->LookupSecret(current.secret_hash);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_TRUE(found->token);
    EXPECT_EQ(*found->token, current);
    EXPECT_FALSE(found->retired);
  }
}

// The tests above give every token a hash with the same first 64 bits; here
// they differ, as real hashes do, except for one pair that shares them: a
// backend may route a lookup by that prefix, but never answer from it.
TEST_P(TokenStoreContractTest, LookupSecretAnswersByTheWholeHashWhateverPrefixesShare) {
  auto with_hash = [](Token token, std::string hash) {
    token.secret_hash = std::move(hash);
    return token;
  };
  const std::string prefix_twin_hash = core::HashSecret(core::GenerateSecret(TokenType::kUser));
  std::string twin_hash = prefix_twin_hash;
  twin_hash.back() = twin_hash.back() == '0' ? '1' : '0';
  const Token old = with_hash(MakeToken(1, TokenType::kUser, "u1"),
                              core::HashSecret(core::GenerateSecret(TokenType::kUser)));
  const Token first = with_hash(MakeToken(3, TokenType::kUser, "u1"), prefix_twin_hash);
  const Token twin = with_hash(MakeToken(4, TokenType::kUser, "u1"), twin_hash);
  InsertAll({old, first, twin});
  Rotation kept = RotationOf(old, 2, /*keep_old=*/true, kBase + 100);
  kept.new_token.secret_hash = core::HashSecret(core::GenerateSecret(TokenType::kUser));
  ASSERT_TRUE(store_->Rotate(kept).ok());

  Result<SecretLookup> both = store_->LookupSecret(old.secret_hash);
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  ASSERT_TRUE(both->token);
  EXPECT_EQ(both->token->rotated_to, kept.new_token.id);
  ASSERT_TRUE(both->retired) << "a token rotated away is answered with its retired record";
  EXPECT_EQ(*both->retired, *kept.retired);
  for (const Token& current : {kept.new_token, first, twin}) {
    Result<SecretLookup> found = store_->LookupSecret(current.secret_hash);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_TRUE(found->token) << current.id;
    EXPECT_EQ(*found->token, current);
    EXPECT_FALSE(found->retired);
  }

  ASSERT_TRUE(store_->Delete(twin.id, {}).ok());
  std::string never_held = prefix_twin_hash;
  never_held.back() = never_held.back() == 'a' ? 'b' : 'a';
  for (const std::string& hash : {twin.secret_hash, never_held}) {
    Result<SecretLookup> none = store_->LookupSecret(hash);
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_FALSE(none->token) << hash;
    EXPECT_FALSE(none->retired) << hash;
  }
  Result<SecretLookup> survivor = store_->LookupSecret(first.secret_hash);
  ASSERT_TRUE(survivor.ok() && survivor->token);
  EXPECT_EQ(*survivor->token, first) << "its twin's deletion leaves it found";

  // Without keeping the old token: its secret is retired alone.
  Rotation replaced = RotationOf(first, 5, /*keep_old=*/false);
  replaced.new_token.secret_hash = core::HashSecret(core::GenerateSecret(TokenType::kUser));
  ASSERT_TRUE(store_->Rotate(replaced).ok());
  Result<SecretLookup> retired = store_->LookupSecret(first.secret_hash);
  ASSERT_TRUE(retired.ok()) << retired.status().ToString();
  EXPECT_FALSE(retired->token);
  ASSERT_TRUE(retired->retired);
  EXPECT_EQ(retired->retired->token_id, first.id);
}

TEST_P(TokenStoreContractTest, RotateRefusesAnAbsentOrRotatingTokenAndChangesNothing) {
  RecordingListener listener;
  const Token old = MakeToken(1, TokenType::kTeam, "t1");
  InsertAll({old});
  ASSERT_TRUE(store_->Rotate(RotationOf(old, 2, true, kBase + 100)).ok());
  store_->SetChangeListener(&listener);

  const Status again = store_->Rotate(RotationOf(old, 3, true, kBase + 200));
  EXPECT_EQ(again.api_error(), core::ApiError::kRotationPending) << again.ToString();
  Token absent = MakeToken(4, TokenType::kTeam, "t1");
  EXPECT_TRUE(store_->Rotate(RotationOf(absent, 5, false)).IsNotFound());
  Rotation odd = RotationOf(absent, 6, false);
  odd.old_id = std::string("x\0y", 3);  // no row can hold such an id
  EXPECT_TRUE(store_->Rotate(odd).IsNotFound());

  for (int n : {3, 5, 6}) EXPECT_TRUE(store_->FindById(IdOf(n)).status().IsNotFound()) << n;
  EXPECT_EQ(store_->FindById(old.id)->expiration_date, kBase + 100) << "unchanged";
  EXPECT_FALSE(store_->LookupSecret(absent.secret_hash)->retired);
  EXPECT_TRUE(listener.deleted().empty());
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 2);
  store_->SetChangeListener(nullptr);
}

// "The newest token of a family can always be rotated": once the token a
// rotation made is revoked during the overlap, the old one is the newest
// again. While any newer token of the family exists, it is not.
TEST_P(TokenStoreContractTest, RotateTakesBackATokenWhoseReplacementIsGone) {
  const Token old = MakeToken(1, TokenType::kTeam, "t1");
  InsertAll({old});
  const Rotation to_second = RotationOf(old, 2, true, kBase + 100);
  ASSERT_TRUE(store_->Rotate(to_second).ok());
  Token second = to_second.new_token;
  Rotation to_third = RotationOf(second, 3, /*keep_old=*/false);
  to_third.new_token.family_id = old.Family();
  to_third.new_token.creation_date = kBase + 20;
  ASSERT_TRUE(store_->Rotate(to_third).ok()) << "the newest one";
  const Status pending = store_->Rotate(RotationOf(old, 4, true, kBase + 200));
  EXPECT_EQ(pending.api_error(), core::ApiError::kRotationPending) << pending.ToString();
  EXPECT_NE(pending.message().find(to_third.new_token.id), std::string::npos)
      << "names the token that replaces it now: " << pending.message();

  ASSERT_TRUE(store_->Delete(to_third.new_token.id, {}).ok());
  Rotation again = RotationOf(old, 5, true, kBase + 90);
  again.new_token.creation_date = kBase + 30;
  const Status rotated = store_->Rotate(again);
  ASSERT_TRUE(rotated.ok()) << rotated.ToString();
  Result<Token> kept = store_->FindById(old.id);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->rotated_to, again.new_token.id);
  EXPECT_EQ(kept->expiration_date, kBase + 90);
  EXPECT_EQ(store_->Rotate(RotationOf(old, 6, false)).api_error(),
            core::ApiError::kRotationPending);
}

TEST_P(TokenStoreContractTest, RotateOntoATakenIdOrHashChangesNothing) {
  const Token old = MakeToken(1, TokenType::kTeam, "t1");
  const Token other = MakeToken(2, TokenType::kTeam, "t1");
  InsertAll({old, other});
  Rotation taken_id = RotationOf(old, 3, false);
  taken_id.new_token.id = other.id;
  Rotation taken_hash = RotationOf(old, 4, false);
  taken_hash.new_token.secret_hash = other.secret_hash;
  for (const Rotation& rotation : {taken_id, taken_hash}) {
    const Status status = store_->Rotate(rotation);
    EXPECT_EQ(status.code(), core::StatusCode::kAlreadyExists) << status.ToString();
    EXPECT_EQ(*store_->FindById(old.id), old);
    EXPECT_FALSE(store_->LookupSecret(old.secret_hash)->retired);
  }
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 2);
  ASSERT_TRUE(store_->Rotate(RotationOf(old, 5, false)).ok()) << "and it can still rotate";
}

TEST_P(TokenStoreContractTest, RevokeFamilyDeletesTheWholeChainOnce) {
  // A -> B -> C (family A), B kept in its overlap; D alone; E -> F another family.
  const Token a = MakeToken(1, TokenType::kUser, "u1");
  const Token d = MakeToken(4, TokenType::kUser, "u1");
  const Token e = MakeToken(5, TokenType::kUser, "u1");
  InsertAll({a, d, e});
  const Rotation a_to_b = RotationOf(a, 2, false);
  ASSERT_TRUE(store_->Rotate(a_to_b).ok());
  const Rotation b_to_c = RotationOf(a_to_b.new_token, 3, true, kBase + 100);
  ASSERT_TRUE(store_->Rotate(b_to_c).ok());
  ASSERT_TRUE(store_->Rotate(RotationOf(e, 6, false)).ok());
  EXPECT_EQ(store_->FindById(IdOf(3))->family_id, a.id);

  RecordingListener listener;
  store_->SetChangeListener(&listener);
  // The ids the listener heard of besides A and E: the rotations' own
  // deletions of those may still arrive, and a deletion may be heard twice
  // (PostgreSQL's feed is asynchronous; hearing is at least once).
  auto heard_of_revocation = [&] {
    std::vector<std::string> heard;
    for (const std::string& id : listener.deleted()) {
      if (id != a.id && id != e.id) heard.push_back(id);
    }
    heard = Sorted(heard);
    heard.erase(std::unique(heard.begin(), heard.end()), heard.end());
    return heard;
  };
  Result<FamilyRevocation> revoked = store_->RevokeFamily(a.id, a.secret_hash, kBase + 500);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_TRUE(revoked->first_detection);
  EXPECT_EQ(Sorted(revoked->deleted), Sorted({IdOf(2), IdOf(3)}));
  EXPECT_EQ(revoked->revoked, 1) << "B's overlap had ended: gone already";
  EXPECT_EQ(heard_of_revocation(), Sorted({IdOf(2), IdOf(3)}));
  for (int n : {2, 3}) EXPECT_TRUE(store_->FindById(IdOf(n)).status().IsNotFound()) << n;
  for (int n : {4, 6}) EXPECT_TRUE(store_->FindById(IdOf(n)).ok()) << n;
  EXPECT_EQ(store_->LookupSecret(a.secret_hash)->retired->reuse_detected_at, kBase + 500);

  // Once per retired secret: a second presentation changes nothing.
  revoked = store_->RevokeFamily(a.id, a.secret_hash, kBase + 600);
  ASSERT_TRUE(revoked.ok());
  EXPECT_FALSE(revoked->first_detection);
  EXPECT_TRUE(revoked->deleted.empty());
  EXPECT_EQ(revoked->revoked, 0);
  EXPECT_EQ(store_->LookupSecret(a.secret_hash)->retired->reuse_detected_at, kBase + 500);
  // A secret that is not retired revokes nothing.
  revoked = store_->RevokeFamily(e.id, HashOf(77), kBase + 600);
  ASSERT_TRUE(revoked.ok());
  EXPECT_FALSE(revoked->first_detection);
  EXPECT_TRUE(store_->FindById(IdOf(6)).ok());
  EXPECT_EQ(heard_of_revocation(), Sorted({IdOf(2), IdOf(3)}));
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 2);
  store_->SetChangeListener(nullptr);
}

TEST_P(TokenStoreContractTest, SweepRemovesEndedOverlapsAndForgottenSecrets) {
  const Token early = MakeToken(1, TokenType::kTeam, "t1");
  const Token late = MakeToken(2, TokenType::kTeam, "t1");
  Token expired = MakeToken(3, TokenType::kTeam, "t1");
  expired.expiration_date = kBase;  // expired, never rotated: not the sweep's
  InsertAll({early, late, expired});
  Rotation first = RotationOf(early, 4, true, kBase + 1000);
  first.retired->forget_after = kBase + 3000;
  ASSERT_TRUE(store_->Rotate(first).ok());
  Rotation second = RotationOf(late, 5, true, kBase + 2000);
  second.retired->forget_after = kBase + 9000;
  ASSERT_TRUE(store_->Rotate(second).ok());

  RecordingListener listener;
  store_->SetChangeListener(&listener);
  Result<SweepCounts> swept = store_->SweepRotations(kBase + 999);
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(swept->tokens, 0);
  EXPECT_EQ(swept->retired, 0);
  EXPECT_EQ(swept->next_overlap_end, kBase + 1000) << "when the next sweep has work";

  swept = store_->SweepRotations(kBase + 1000);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->tokens, 1);
  EXPECT_EQ(swept->next_overlap_end, kBase + 2000);
  EXPECT_EQ(listener.deleted(), std::vector<std::string>{early.id});
  EXPECT_TRUE(store_->FindById(early.id).status().IsNotFound());
  EXPECT_TRUE(store_->FindById(late.id).ok());
  EXPECT_TRUE(store_->FindById(expired.id).ok());

  swept = store_->SweepRotations(kBase + 3000);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->tokens, 1);
  EXPECT_EQ(swept->retired, 1);
  EXPECT_FALSE(store_->LookupSecret(early.secret_hash)->retired);
  EXPECT_TRUE(store_->LookupSecret(late.secret_hash)->retired);
  EXPECT_EQ(swept->next_overlap_end, std::nullopt) << "no overlap left";
  EXPECT_EQ(MustQuery({}, Everything(), 10, 0).total, 3) << "the new tokens and the expired one";
  store_->SetChangeListener(nullptr);
}

// The exact totals come from counters, not from counting rows: after every
// kind of write, each total (unfiltered, per type, per principal, per
// principal and type) and CountByType must equal the rows really stored.
TEST_P(TokenStoreContractTest, CountersFollowEveryKindOfWrite) {
  auto expect_counters_match_rows = [&](std::string_view after) {
    SCOPED_TRACE(after);
    const TokenPage all = MustQuery({}, Everything(), -1, 0, false);
    std::map<TokenType, std::int64_t> by_type;
    std::map<std::pair<std::string, TokenType>, std::int64_t> by_owner;
    for (const Token& token : all.tokens) {
      ++by_type[token.type];
      if (token.principal) ++by_owner[{*token.principal, token.type}];
    }
    EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total,
              static_cast<std::int64_t>(all.tokens.size()));
    for (TokenType type : {TokenType::kGlobal, TokenType::kTeam, TokenType::kUser}) {
      EXPECT_EQ(MustQuery({.types = {type}}, Everything(), 1, 0).total, by_type[type]);
      for (const char* principal : {"p1", "p2"}) {
        EXPECT_EQ(MustQuery({.types = {type}, .principals = {principal}}, Everything(), 1, 0).total,
                  (by_owner[{principal, type}]))
            << principal << " " << core::ToString(type);
      }
    }
    Result<std::vector<std::pair<TokenType, std::int64_t>>> counts = store_->CountByType();
    ASSERT_TRUE(counts.ok());
    for (const auto& [type, n] : *counts) EXPECT_EQ(n, by_type[type]) << core::ToString(type);
  };

  std::vector<Token> batch;
  for (int n = 1; n <= 12; ++n) {
    batch.push_back(MakeToken(n, n % 3 ? TokenType::kUser : TokenType::kTeam,
                              n % 2 ? std::optional<std::string>("p1") : "p2"));
  }
  batch.push_back(MakeToken(13, TokenType::kGlobal, std::nullopt));
  InsertAll(batch);
  expect_counters_match_rows("inserts");

  std::vector<Token> refused = {MakeToken(20, TokenType::kUser, "p1"), batch[0]};
  EXPECT_FALSE(store_->InsertMany(refused).ok());
  Result<std::int64_t> absent =
      store_->InsertAbsent(std::vector<Token>{batch[1], MakeToken(21, TokenType::kTeam, "p2")}, {});
  ASSERT_TRUE(absent.ok()) << absent.status().ToString();
  EXPECT_EQ(*absent, 1);
  expect_counters_match_rows("a refused batch and a partly present one");

  ASSERT_TRUE(store_->Delete(IdOf(2), {}).ok());
  EXPECT_TRUE(store_->Delete(IdOf(2), {}).IsNotFound());
  ASSERT_TRUE(store_
                  ->DeleteMatching({.types = {TokenType::kTeam}, .principals = {"p1"}},
                                   Everything(), core::EventOrigin::System(), kBase)
                  .ok());
  expect_counters_match_rows("deletes");

  ASSERT_TRUE(store_->Rotate(RotationOf(batch[3], 30, /*keep_old=*/false)).ok());
  Rotation overlapping = RotationOf(batch[4], 31, /*keep_old=*/true, kBase + 100);
  overlapping.retired->forget_after = kBase + 200;
  ASSERT_TRUE(store_->Rotate(overlapping).ok());
  expect_counters_match_rows("rotations");

  Result<SweepCounts> swept = store_->SweepRotations(kBase + 150);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->tokens, 1);
  Result<FamilyRevocation> revoked =
      store_->RevokeFamily(batch[3].Family(), batch[3].secret_hash, kBase + 300);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->deleted, std::vector<std::string>{IdOf(30)});
  expect_counters_match_rows("a sweep and a family revocation");

  for (const Token& token : MustQuery({}, Everything(), -1, 0, false).tokens) {
    ASSERT_TRUE(store_->Delete(token.id, {}).ok());
  }
  expect_counters_match_rows("everything deleted");
}

TEST_P(TokenStoreContractTest, PingAnswers) { EXPECT_TRUE(store_->Ping().ok()); }

// Runs outside any transaction on PostgreSQL (VACUUM refuses one), and
// leaves every token and total as it was.
TEST_P(TokenStoreContractTest, AfterBulkLoadChangesNoData) {
  std::vector<Token> tokens;
  for (int i = 0; i < 50; ++i) tokens.push_back(MakeToken(i, TokenType::kTeam, "t"));
  ASSERT_TRUE(store_->InsertMany(tokens).ok());
  ASSERT_TRUE(store_->Delete(tokens.front().id, {}).ok());
  const Status settled = store_->AfterBulkLoad();
  ASSERT_TRUE(settled.ok()) << settled.ToString();
  Result<TokenPage> page = store_->Query({.from_date = 0}, Everything(), 100, 0, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, 49);
  EXPECT_EQ(page->tokens.size(), 49u);
  Result<Token> found = store_->FindById(tokens.back().id);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, tokens.back());
}

TEST_P(TokenStoreContractTest, InsertAbsentStoresOnlyWhatIsNotThereAndCountsIt) {
  const Token by_id = MakeToken(1, TokenType::kTeam, "t");
  const Token by_hash = MakeToken(2, TokenType::kTeam, "t");
  InsertAll({by_id, by_hash});
  Token same_id = MakeToken(10, TokenType::kUser, "u");
  same_id.id = by_id.id;  // another hash, a taken id
  Token same_hash = MakeToken(11, TokenType::kUser, "u");
  same_hash.secret_hash = by_hash.secret_hash;  // another id, a taken hash
  const Token fresh = MakeToken(12, TokenType::kUser, "u");
  Token repeated = fresh;  // repeats a token earlier in the same call
  repeated.name = "second copy";
  Token repeated_hash = MakeToken(13, TokenType::kUser, "u");
  repeated_hash.secret_hash = fresh.secret_hash;
  const Token fresh_global = MakeToken(14, TokenType::kGlobal, std::nullopt);

  const std::vector<Token> batch = {same_id,  fresh,         same_hash,
                                    repeated, repeated_hash, fresh_global};
  Result<std::int64_t> inserted = store_->InsertAbsent(batch, {});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 2);
  EXPECT_EQ(*store_->FindById(by_id.id), by_id) << "the stored token is kept";
  EXPECT_EQ(*store_->FindBySecretHash(by_hash.secret_hash), by_hash);
  EXPECT_EQ(*store_->FindById(fresh.id), fresh) << "the first of two copies wins";
  EXPECT_EQ(*store_->FindById(fresh_global.id), fresh_global);
  EXPECT_TRUE(store_->FindById(same_hash.id).status().IsNotFound());
  EXPECT_TRUE(store_->FindById(repeated_hash.id).status().IsNotFound());
  EXPECT_TRUE(store_->FindBySecretHash(same_id.secret_hash).status().IsNotFound());
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 4) << "counters count stored rows only";
  EXPECT_EQ(MustQuery({.principals = {"u"}}, Everything(), 1, 0).total, 1);

  // Again: everything is there already.
  inserted = store_->InsertAbsent(batch, {});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 0);
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 4);
  inserted = store_->InsertAbsent({}, {});
  ASSERT_TRUE(inserted.ok());
  EXPECT_EQ(*inserted, 0);
}

// An import run again (the same export, or another naming the same tokens)
// must not bring back what was deleted, revoked or rotated away since.
TEST_P(TokenStoreContractTest, InsertAbsentNeverStoresAgainWhatAnEarlierCallMet) {
  const Token native = MakeToken(1, TokenType::kTeam, "t");
  InsertAll({native});
  const Token kept = MakeToken(2, TokenType::kTeam, "t");
  const Token deleted = MakeToken(3, TokenType::kTeam, "t");
  const Token rotated = MakeToken(4, TokenType::kUser, "u");
  const std::vector<Token> first = {native, kept, deleted, rotated};
  ASSERT_EQ(*store_->InsertAbsent(first, {}), 3);

  ASSERT_TRUE(store_->Delete(deleted.id, {}).ok());
  ASSERT_TRUE(store_->Delete(native.id, {}).ok());
  ASSERT_TRUE(store_->Rotate(RotationOf(rotated, 5, /*keep_old=*/false)).ok());

  Token same_id = MakeToken(10, TokenType::kUser, "u");
  same_id.id = deleted.id;  // a met id, another hash
  Token same_hash = MakeToken(11, TokenType::kUser, "u");
  same_hash.secret_hash = rotated.secret_hash;  // a met hash, another id
  const Token fresh = MakeToken(12, TokenType::kUser, "u");
  std::vector<Token> again = first;
  again.insert(again.end(), {same_id, same_hash, fresh});
  Result<std::int64_t> inserted = store_->InsertAbsent(again, {});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 1) << "only the token no call met before";
  EXPECT_EQ(*store_->FindById(fresh.id), fresh);
  for (const Token& gone : {native, deleted, rotated}) {
    EXPECT_TRUE(store_->FindById(gone.id).status().IsNotFound()) << gone.id;
    EXPECT_TRUE(store_->FindBySecretHash(gone.secret_hash).status().IsNotFound()) << gone.id;
  }
  EXPECT_TRUE(store_->FindBySecretHash(same_id.secret_hash).status().IsNotFound());
  EXPECT_TRUE(store_->FindById(same_hash.id).status().IsNotFound());
  EXPECT_EQ(*store_->FindById(kept.id), kept);
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 3) << "kept, the rotation's, fresh";

  for (const Token& met : {native, kept, deleted, rotated, fresh}) {
    EXPECT_TRUE(*store_->KnownToImports(met.id, "no such hash")) << met.id;
    EXPECT_TRUE(*store_->KnownToImports(IdOf(999), met.secret_hash)) << met.id;
  }
  const Token never = MakeToken(13, TokenType::kUser, "u");
  EXPECT_FALSE(*store_->KnownToImports(never.id, never.secret_hash));
  InsertAll({never});
  EXPECT_FALSE(*store_->KnownToImports(never.id, never.secret_hash)) << "stored, not imported";
}

TEST_P(TokenStoreContractTest, InsertAbsentIsAllOrNoneAndTakesLargeBatches) {
  std::vector<Token> big;
  for (int n = 100; n < 1300; ++n) big.push_back(MakeToken(n, TokenType::kWorkflow, "w"));
  Token unstorable = MakeToken(99, TokenType::kTeam, "t");
  unstorable.actions = {"token/read write"};
  std::vector<Token> with_bad = big;
  with_bad.push_back(unstorable);
  Result<std::int64_t> refused = store_->InsertAbsent(with_bad, {});
  EXPECT_EQ(refused.status().code(), core::StatusCode::kInvalidArgument)
      << refused.status().ToString();
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 0) << "nothing of a refused call";

  Result<std::int64_t> inserted =
      store_->InsertAbsent(std::span<const Token>(big).subspan(0, 300), {});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 300);
  inserted = store_->InsertAbsent(big, {});  // more rows than one write batch or statement
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 900);
  EXPECT_EQ(MustQuery({.types = {TokenType::kWorkflow}}, Everything(), 1, 0).total, 1200);
  for (int n : {100, 399, 400, 1299}) {
    EXPECT_EQ(*store_->FindById(IdOf(n)), MakeToken(n, TokenType::kWorkflow, "w"));
  }
}

std::optional<std::int64_t> LastUsed(TokenStore& store, const std::string& id) {
  Result<Token> token = store.FindById(id);
  EXPECT_TRUE(token.ok()) << token.status().ToString();
  return token.ok() ? token->last_used_date : std::nullopt;
}

TEST_P(TokenStoreContractTest, RecordUsesKeepsTheNewestUse) {
  InsertAll({MakeToken(1, TokenType::kTeam, "t"), MakeToken(2, TokenType::kTeam, "t")});
  EXPECT_EQ(LastUsed(*store_, IdOf(1)), std::nullopt) << "never used yet";

  const std::vector<TokenUse> first = {{IdOf(1), kBase + 100}};
  ASSERT_TRUE(store_->RecordUses(first).ok());
  EXPECT_EQ(LastUsed(*store_, IdOf(1)), kBase + 100);
  EXPECT_EQ(LastUsed(*store_, IdOf(2)), std::nullopt) << "other tokens are untouched";

  const std::vector<TokenUse> newer = {{IdOf(1), kBase + 200}};
  ASSERT_TRUE(store_->RecordUses(newer).ok());
  EXPECT_EQ(LastUsed(*store_, IdOf(1)), kBase + 200);

  // Another instance's late flush of an older use never goes back in time.
  const std::vector<TokenUse> older = {{IdOf(1), kBase + 150}};
  ASSERT_TRUE(store_->RecordUses(older).ok());
  EXPECT_EQ(LastUsed(*store_, IdOf(1)), kBase + 200);
  Result<Token> by_hash = store_->FindBySecretHash(HashOf(1));
  ASSERT_TRUE(by_hash.ok());
  EXPECT_EQ(by_hash->last_used_date, kBase + 200) << "every read sees it";
}

TEST_P(TokenStoreContractTest, RecordUsesTakesManyUsesAtOnceAndSkipsUnknownIds) {
  std::vector<Token> tokens;
  for (int n = 1; n <= 300; ++n) tokens.push_back(MakeToken(n, TokenType::kUser, "u"));
  ASSERT_TRUE(store_->InsertMany(tokens).ok());
  std::vector<TokenUse> uses;
  for (int n = 1; n <= 300; ++n) uses.push_back({IdOf(n), kBase + n});
  // The same id twice in one call: the newer use wins, in either order.
  uses.push_back({IdOf(7), kBase + 5000});
  uses.push_back({IdOf(8), kBase + 1});
  // Ids that name no token (deleted meanwhile, or never a token) are skipped.
  uses.push_back({IdOf(9999), kBase});
  uses.push_back({"not an id", kBase});
  uses.push_back({"", kBase});
  uses.push_back({std::string("bad \xff utf-8"), kBase});
  RecordingListener listener;
  store_->SetChangeListener(&listener);
  const Status status = store_->RecordUses(uses);
  store_->SetChangeListener(nullptr);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(listener.deleted().empty()) << "a use is not a change of validity";
  EXPECT_EQ(LastUsed(*store_, IdOf(1)), kBase + 1);
  EXPECT_EQ(LastUsed(*store_, IdOf(7)), kBase + 5000);
  EXPECT_EQ(LastUsed(*store_, IdOf(8)), kBase + 8);
  EXPECT_EQ(LastUsed(*store_, IdOf(300)), kBase + 300);
  EXPECT_TRUE(store_->FindById(IdOf(9999)).status().IsNotFound()) << "nothing was created";
  EXPECT_EQ(MustQuery({}, Everything(), 1, 0).total, 300);
  // Tokens 151..300, and token 7 (used last at kBase + 5000).
  EXPECT_EQ(MustQuery({.last_used_after = kBase + 151}, Everything(), 1, 0).total, 151);
  // Tokens 1..100 but token 7.
  EXPECT_EQ(MustQuery({.last_used_before = kBase + 101}, Everything(), 1, 0).total, 99);
  EXPECT_TRUE(store_->RecordUses({}).ok()) << "nothing to record";
}

TEST_P(TokenStoreContractTest, RecordUsesOfADeletedTokenIsSkipped) {
  InsertAll({MakeToken(1, TokenType::kTeam, "t"), MakeToken(2, TokenType::kTeam, "t")});
  ASSERT_TRUE(store_->Delete(IdOf(1), {}).ok());
  const std::vector<TokenUse> uses = {{IdOf(1), kBase}, {IdOf(2), kBase + 1}};
  ASSERT_TRUE(store_->RecordUses(uses).ok());
  EXPECT_TRUE(store_->FindById(IdOf(1)).status().IsNotFound());
  EXPECT_EQ(LastUsed(*store_, IdOf(2)), kBase + 1);
}

TEST_P(TokenStoreContractTest, LastUsedSortPagesNeverOverlapAfterRecordedUses) {
  std::vector<Token> tokens = VariedTokens();
  for (Token& token : tokens) token.last_used_date.reset();
  InsertAll(tokens);
  std::vector<TokenUse> uses;
  for (std::size_t i = 0; i < tokens.size(); i += 2) {
    tokens[i].last_used_date = kBase + static_cast<std::int64_t>(i % 6) * 10;
    uses.push_back({tokens[i].id, *tokens[i].last_used_date});
  }
  ASSERT_TRUE(store_->RecordUses(uses).ok());
  for (SortOrder order : {SortOrder::kAsc, SortOrder::kDesc}) {
    const TokenQuery query = SortedBy(SortField::kLastUsedDate, order);
    std::vector<std::string> walked;
    for (int page = 0; page < 4; ++page) {
      const TokenPage result = MustQuery(query, Everything(), 6, page * 6);
      EXPECT_EQ(result.total, 20);
      for (const Token& token : result.tokens) walked.push_back(token.id);
    }
    EXPECT_EQ(walked, ExpectedIds(tokens, query, Everything()));
  }
}

// MayHoldSecret may answer true for anything, but never false for a secret
// the store holds (as a token or as a retired secret), whichever write put it
// there. Real hashes: the suite's HashOf share their leading digits.
TEST_P(TokenStoreContractTest, MayHoldSecretNeverDeniesAHeldSecret) {
  auto with_real_hash = [](Token token) {
    token.secret_hash = core::HashSecret(core::GenerateSecret(token.type));
    return token;
  };
  const Token inserted = with_real_hash(MakeToken(1, TokenType::kTeam, "t1"));
  InsertAll({inserted});
  EXPECT_TRUE(store_->MayHoldSecret(inserted.secret_hash)) << "held at once after Insert";
  const std::vector<Token> many = {with_real_hash(MakeToken(2, TokenType::kUser, "u1")),
                                   with_real_hash(MakeToken(3, TokenType::kGlobal, std::nullopt))};
  ASSERT_TRUE(store_->InsertMany(many).ok());
  const std::vector<Token> absent = {with_real_hash(MakeToken(4, TokenType::kUser, "u2")),
                                     inserted};
  ASSERT_EQ(*store_->InsertAbsent(absent, {}), 1);
  Rotation rotation = RotationOf(inserted, 5, /*keep_old=*/false);
  rotation.new_token.secret_hash = core::HashSecret(core::GenerateSecret(inserted.type));
  ASSERT_TRUE(store_->Rotate(rotation).ok());

  for (const std::string& held : {inserted.secret_hash, many[0].secret_hash, many[1].secret_hash,
                                  absent[0].secret_hash, rotation.new_token.secret_hash}) {
    EXPECT_TRUE(store_->MayHoldSecret(held));
    Result<SecretLookup> found = store_->LookupSecret(held);
    ASSERT_TRUE(found.ok());
    EXPECT_TRUE(found->token || found->retired);
  }
  // A denial is always right: the lookup finds nothing.
  for (int i = 0; i < 100; ++i) {
    const std::string unknown = core::HashSecret(core::GenerateSecret(TokenType::kTeam));
    if (store_->MayHoldSecret(unknown)) continue;
    Result<SecretLookup> none = store_->LookupSecret(unknown);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->token);
    EXPECT_FALSE(none->retired);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TokenStoreContractTest, ::testing::ValuesIn(AllBackends()),
                         [](const ::testing::TestParamInfo<BackendCase>& info) {
                           return info.param.name;
                         });

// The fault-injecting double other suites build on (tests/support) must be
// indistinguishable from the store it wraps while no fault is injected.
std::vector<BackendCase> ThroughFailingStore() {
  return {
      {"SqliteMemory",
       []() -> Result<std::unique_ptr<TokenStore>> {
         Result<std::unique_ptr<tokend::testing::FailingStore>> store =
             tokend::testing::FailingStore::Open("sqlite::memory:");
         if (!store.ok()) return store.status();
         return std::unique_ptr<TokenStore>(std::move(store).value());
       },
       "",
       [](const StoreOptions& options) -> Result<testing::OpenedStore> {
         Result<std::unique_ptr<TokenStore>> inner = TokenStore::Open("sqlite::memory:", options);
         if (!inner.ok()) return inner.status();
         return testing::OpenedStore{
             std::make_unique<tokend::testing::FailingStore>(std::move(inner).value()), nullptr};
       }}};
}

INSTANTIATE_TEST_SUITE_P(ThroughFailingStore, TokenStoreContractTest,
                         ::testing::ValuesIn(ThroughFailingStore()),
                         [](const ::testing::TestParamInfo<BackendCase>& info) {
                           return info.param.name;
                         });

// Events (API 8): the audit trail, its hash chains, the webhook outbox and
// expiry notices, on every backend.
class EventStoreContractTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  static constexpr const char* kHookA = "https://a.example/hook";
  static constexpr const char* kHookB = "https://b.example/hook";

  void SetUp() override {
    if (!GetParam().skip_reason.empty()) GTEST_SKIP() << GetParam().skip_reason;
    Reopen();
  }

  void Reopen() {
    store_ = nullptr;
    StoreOptions options;
    options.webhook_urls = {kHookA, kHookB};
    Result<testing::OpenedStore> opened = GetParam().open_with(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened->store);
    raw_sql_ = std::move(opened->raw_sql);
  }

  static core::AuditEvent Event(core::AuditAction action, const Token& subject,
                                core::EpochMillis time) {
    core::EventOrigin origin;
    origin.actor = core::EventActor{IdOf(9999), TokenType::kTeam, "ops"};
    origin.remote_address = "192.0.2.7";
    return core::MakeEvent(action, subject, origin, time);
  }

  // Every event the store holds, oldest first, parsed.
  std::vector<boost::json::object> AllEvents() {
    AuditQuery query;
    query.ascending = true;
    Result<AuditPage> page = store_->QueryAudit(query, Everything(), -1, 0, true);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<boost::json::object> events;
    if (!page.ok()) return events;
    EXPECT_EQ(page->total, static_cast<std::int64_t>(page->events.size()));
    for (const std::string& text : page->events) {
      events.push_back(boost::json::parse(text).as_object());
    }
    return events;
  }

  std::vector<std::string> Actions() {
    std::vector<std::string> actions;
    for (const auto& event : AllEvents()) {
      actions.emplace_back(event.at("action").as_string().c_str());
    }
    return actions;
  }

  // `removable_before`: by default, any event may have been removed by
  // retention.
  ChainReport MustVerify(
      core::EpochMillis removable_before = std::numeric_limits<core::EpochMillis>::max()) {
    Result<ChainReport> report = store_->VerifyAudit(removable_before);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : ChainReport{};
  }

  std::unique_ptr<TokenStore> store_;
  testing::RawSql raw_sql_;
};

TEST_P(EventStoreContractTest, InsertWritesItsEventsAndAFailedInsertNone) {
  const Token token = MakeToken(1, TokenType::kUser, "u1");
  const core::AuditEvent created = Event(core::AuditAction::kCreated, token, kBase);
  ASSERT_TRUE(store_->Insert(token, std::span(&created, 1)).ok());
  // A duplicate fails alone and records nothing.
  const core::AuditEvent again = Event(core::AuditAction::kCreated, token, kBase + 1);
  EXPECT_EQ(store_->Insert(token, std::span(&again, 1)).code(), core::StatusCode::kAlreadyExists);

  Result<AuditPage> page = store_->QueryAudit({}, Everything(), -1, 0, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->total, 1);
  // The served form: the canonical JSON with the chain hash as last member.
  const std::string canonical = CanonicalEventJson(created);
  const std::string& served = page->events.front();
  ASSERT_GT(served.size(), canonical.size());
  EXPECT_EQ(served.substr(0, canonical.size() - 1), canonical.substr(0, canonical.size() - 1));
  const boost::json::object parsed = boost::json::parse(served).as_object();
  const std::string hash(parsed.at("hash").as_string().c_str());
  EXPECT_EQ(hash, core::ChainHash(core::kChainGenesis, canonical));
  EXPECT_EQ(served, ServedEventJson(canonical, hash));
  EXPECT_EQ(parsed.at("actor").at("principal").as_string(), "ops");
  EXPECT_EQ(parsed.at("remoteAddress").as_string(), "192.0.2.7");

  // Queued for both URLs, with the webhook body.
  Result<OutboxStats> stats = store_->GetOutboxStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->waiting, 2);
  EXPECT_EQ(stats->oldest_waiting, kBase);
  Result<std::vector<Delivery>> claimed = store_->ClaimDeliveries(kBase, 10'000, 10, {});
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  ASSERT_EQ(claimed->size(), 2u);
  for (const Delivery& delivery : *claimed) {
    EXPECT_EQ(delivery.event_id, created.id);
    EXPECT_EQ(delivery.payload, WebhookPayload(created, served));
    EXPECT_EQ(delivery.attempts, 0);
  }
  EXPECT_TRUE(MustVerify().ok());
}

// A webhook URL given twice is one receiver: each event is queued for it
// once, and changes go on (a second delivery of the same event and URL
// would break the outbox's key, and fail every change).
TEST_P(EventStoreContractTest, AWebhookUrlGivenTwiceIsQueuedOnce) {
  store_ = nullptr;
  StoreOptions options;
  options.webhook_urls = {kHookA, kHookB, kHookA};
  Result<testing::OpenedStore> opened = GetParam().open_with(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store_ = std::move(opened->store);
  const Token token = MakeToken(1, TokenType::kUser, "u1");
  const core::AuditEvent created = Event(core::AuditAction::kCreated, token, kBase);
  ASSERT_TRUE(store_->Insert(token, std::span(&created, 1)).ok());
  const core::AuditEvent deleted = Event(core::AuditAction::kDeleted, token, kBase + 1);
  ASSERT_TRUE(store_->Delete(token.id, std::span(&deleted, 1)).ok());
  Result<OutboxStats> stats = store_->GetOutboxStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->waiting, 4);
  Result<std::vector<Delivery>> claimed = store_->ClaimDeliveries(kBase + 2, 10'000, 10, {});
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  std::vector<std::string> urls;
  for (const Delivery& delivery : *claimed) urls.push_back(delivery.url);
  std::sort(urls.begin(), urls.end());
  EXPECT_EQ(urls, (std::vector<std::string>{kHookA, kHookA, kHookB, kHookB}));
}

TEST_P(EventStoreContractTest, DeleteWritesItsEventsOnlyWhenATokenIsDeleted) {
  const Token token = MakeToken(1, TokenType::kTeam, "t1");
  ASSERT_TRUE(store_->Insert(token, {}).ok());
  const core::AuditEvent missing =
      Event(core::AuditAction::kDeleted, MakeToken(2, TokenType::kTeam, "t1"), kBase);
  EXPECT_TRUE(store_->Delete(IdOf(2), std::span(&missing, 1)).IsNotFound());
  EXPECT_TRUE(Actions().empty());
  const core::AuditEvent deleted = Event(core::AuditAction::kDeleted, token, kBase);
  ASSERT_TRUE(store_->Delete(token.id, std::span(&deleted, 1)).ok());
  EXPECT_EQ(Actions(), std::vector<std::string>{"token.deleted"});
  EXPECT_TRUE(MustVerify().ok());
}

// One event per token, written in token id order on every store (inserted
// here in another order), so that the trail reads the same on both.
TEST_P(EventStoreContractTest, DeleteMatchingRecordsABulkRevocationPerToken) {
  ASSERT_TRUE(store_->Insert(MakeToken(2, TokenType::kUser, "u2"), {}).ok());
  ASSERT_TRUE(store_->Insert(MakeToken(1, TokenType::kUser, "u1"), {}).ok());
  ASSERT_TRUE(store_->Insert(MakeToken(3, TokenType::kGlobal, std::nullopt), {}).ok());
  const core::EventOrigin origin =
      Event(core::AuditAction::kRevoked, MakeToken(1, TokenType::kUser, "u1"), 0).origin;
  Result<std::vector<std::string>> deleted =
      store_->DeleteMatching({.types = {TokenType::kUser}}, Everything(), origin, kBase + 5);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(deleted->size(), 2u);
  const auto events = AllEvents();
  ASSERT_EQ(events.size(), 2u);
  std::vector<std::string> subjects;
  for (const auto& event : events) {
    EXPECT_EQ(event.at("action").as_string(), "token.revoked");
    EXPECT_EQ(event.at("reason").as_string(), "bulk");
    EXPECT_EQ(event.at("actor").at("id").as_string(), IdOf(9999));
    EXPECT_EQ(event.at("subject").at("type").as_string(), "user");
    EXPECT_EQ(event.at("time").as_string(), core::FormatSpringDate(kBase + 5));
    subjects.emplace_back(event.at("subject").at("id").as_string().c_str());
  }
  EXPECT_EQ(subjects, (std::vector<std::string>{IdOf(1), IdOf(2)}));
  EXPECT_EQ(*deleted, (std::vector<std::string>{IdOf(1), IdOf(2)}));
  // Nothing matched: nothing recorded.
  ASSERT_TRUE(
      store_->DeleteMatching({.types = {TokenType::kUser}}, Everything(), origin, kBase + 6).ok());
  EXPECT_EQ(AllEvents().size(), 2u);
  // Without a filter (a scan in the order rows were written), the same.
  ASSERT_TRUE(store_->Insert(MakeToken(5, TokenType::kTeam, "t5"), {}).ok());
  ASSERT_TRUE(store_->Insert(MakeToken(4, TokenType::kTeam, "t4"), {}).ok());
  deleted = store_->DeleteMatching({}, Everything(), origin, kBase + 7);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, (std::vector<std::string>{IdOf(3), IdOf(4), IdOf(5)}));
  subjects.clear();
  for (const auto& event : AllEvents()) {
    if (event.at("time").as_string() != core::FormatSpringDate(kBase + 7)) continue;
    subjects.emplace_back(event.at("subject").at("id").as_string().c_str());
  }
  EXPECT_EQ(subjects, (std::vector<std::string>{IdOf(3), IdOf(4), IdOf(5)}));
  EXPECT_TRUE(MustVerify().ok());
}

TEST_P(EventStoreContractTest, RotationAndReuseRecordTheirEvents) {
  Token old_token = MakeToken(1, TokenType::kUser, "u1");
  old_token.name = "laptop";
  ASSERT_TRUE(store_->Insert(old_token, {}).ok());
  Token new_token = MakeToken(2, TokenType::kUser, "u1");
  new_token.name = "laptop";
  new_token.rotated_from = old_token.id;
  new_token.family_id = old_token.id;
  Rotation rotation;
  rotation.new_token = new_token;
  rotation.old_id = old_token.id;
  rotation.retired =
      RetiredSecret{old_token.secret_hash, old_token.id, TokenType::kUser,  "u1",        "laptop",
                    old_token.id,          kBase,        kBase + 1'000'000, std::nullopt};
  rotation.events = {Event(core::AuditAction::kRotated, old_token, kBase),
                     Event(core::AuditAction::kCreated, new_token, kBase)};
  ASSERT_TRUE(store_->Rotate(rotation).ok());
  // A refused rotation records nothing.
  EXPECT_TRUE(store_->Rotate(rotation).IsNotFound());
  EXPECT_EQ(Actions(), (std::vector<std::string>{"token.rotated", "token.created"}));

  Result<SecretLookup> lookup = store_->LookupSecret(old_token.secret_hash);
  ASSERT_TRUE(lookup.ok() && lookup->retired);
  EXPECT_EQ(lookup->retired->token_type, TokenType::kUser);
  EXPECT_EQ(lookup->retired->principal, "u1");
  EXPECT_EQ(lookup->retired->name, "laptop");

  Result<FamilyRevocation> revoked =
      store_->RevokeFamily(old_token.id, old_token.secret_hash, kBase + 10);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  ASSERT_TRUE(revoked->first_detection);
  const auto events = AllEvents();
  ASSERT_EQ(events.size(), 4u);
  const auto& detected = events[2];
  EXPECT_EQ(detected.at("action").as_string(), "token.reuse_detected");
  EXPECT_EQ(detected.at("subject").at("id").as_string(), old_token.id);
  EXPECT_EQ(detected.at("subject").at("name").as_string(), "laptop");
  EXPECT_EQ(detected.at("subject").at("principal").as_string(), "u1");
  EXPECT_FALSE(detected.contains("actor"));
  EXPECT_FALSE(detected.contains("remoteAddress"));
  EXPECT_EQ(events[3].at("action").as_string(), "token.revoked");
  EXPECT_EQ(events[3].at("reason").as_string(), "reuse");
  EXPECT_EQ(events[3].at("subject").at("id").as_string(), new_token.id);
  // Detected once.
  revoked = store_->RevokeFamily(old_token.id, old_token.secret_hash, kBase + 11);
  ASSERT_TRUE(revoked.ok());
  EXPECT_FALSE(revoked->first_detection);
  EXPECT_EQ(AllEvents().size(), 4u);
  EXPECT_TRUE(MustVerify().ok());
}

// An old token whose overlap ended is gone already (the sweep only had not
// removed it yet): revoking its family removes it without a token.revoked,
// which would record a change that did not happen. During its overlap it is
// revoked like the others.
TEST_P(EventStoreContractTest, ReuseRecordsNoRevocationOfAnOldTokenWhoseOverlapEnded) {
  for (const bool overlap_ended : {true, false}) {
    SCOPED_TRACE(overlap_ended ? "after the overlap" : "during the overlap");
    Reopen();
    const Token old_token = MakeToken(1, TokenType::kUser, "u1");
    ASSERT_TRUE(store_->Insert(old_token, {}).ok());
    Rotation rotation = RotationOf(old_token, 2, /*keep_old=*/true, kBase + 100);
    ASSERT_TRUE(store_->Rotate(rotation).ok());
    Result<FamilyRevocation> revoked = store_->RevokeFamily(
        old_token.Family(), old_token.secret_hash, overlap_ended ? kBase + 100 : kBase + 99);
    ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
    ASSERT_TRUE(revoked->first_detection);
    std::vector<std::string> deleted = revoked->deleted;
    std::sort(deleted.begin(), deleted.end());
    EXPECT_EQ(deleted, (std::vector<std::string>{old_token.id, rotation.new_token.id}));
    std::vector<std::string> revoked_subjects;
    for (const boost::json::object& event : AllEvents()) {
      if (event.at("action") == "token.revoked") {
        revoked_subjects.emplace_back(event.at("subject").at("id").as_string());
      }
    }
    std::sort(revoked_subjects.begin(), revoked_subjects.end());
    if (overlap_ended) {
      EXPECT_EQ(revoked_subjects, (std::vector<std::string>{rotation.new_token.id}));
    } else {
      EXPECT_EQ(revoked_subjects, deleted);
    }
    EXPECT_EQ(revoked->revoked, static_cast<std::int64_t>(revoked_subjects.size()));
    EXPECT_TRUE(MustVerify().ok());
  }
}

// A change refused part-way (here the new token's hash is taken) is rolled
// back with its events, and the chain goes on from where it was.
TEST_P(EventStoreContractTest, ARolledBackChangeLeavesTheChainWhole) {
  const Token old_token = MakeToken(1, TokenType::kUser, "u1");
  const Token other = MakeToken(2, TokenType::kUser, "u1");
  ASSERT_TRUE(store_->Insert(old_token, {}).ok());
  const core::AuditEvent created = Event(core::AuditAction::kCreated, other, kBase);
  ASSERT_TRUE(store_->Insert(other, std::span(&created, 1)).ok());
  Token clash = MakeToken(3, TokenType::kUser, "u1");
  clash.secret_hash = other.secret_hash;
  Rotation rotation;
  rotation.new_token = clash;
  rotation.old_id = old_token.id;
  rotation.events = {Event(core::AuditAction::kRotated, old_token, kBase + 1),
                     Event(core::AuditAction::kCreated, clash, kBase + 1)};
  EXPECT_EQ(store_->Rotate(rotation).code(), core::StatusCode::kAlreadyExists);
  EXPECT_EQ(Actions(), std::vector<std::string>{"token.created"});
  const core::AuditEvent deleted = Event(core::AuditAction::kDeleted, other, kBase + 2);
  ASSERT_TRUE(store_->Delete(other.id, std::span(&deleted, 1)).ok());
  const ChainReport report = MustVerify();
  EXPECT_TRUE(report.ok()) << report.problem;
  EXPECT_EQ(report.events, 2);
}

TEST_P(EventStoreContractTest, InsertAbsentRecordsTheEventsOfStoredTokensOnly) {
  ASSERT_TRUE(store_->Insert(MakeToken(1, TokenType::kUser, "u1"), {}).ok());
  const std::vector<Token> tokens = {MakeToken(1, TokenType::kUser, "u1"),
                                     MakeToken(2, TokenType::kUser, "u1"),
                                     MakeToken(2, TokenType::kUser, "u1")};
  std::vector<core::AuditEvent> events;
  for (const Token& token : tokens)
    events.push_back(Event(core::AuditAction::kCreated, token, kBase));
  Result<std::int64_t> stored = store_->InsertAbsent(tokens, events);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(*stored, 1);
  const auto recorded = AllEvents();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].at("id").as_string(), events[1].id);
  // InsertMany records nothing.
  ASSERT_TRUE(store_->InsertMany(std::vector<Token>{MakeToken(3, TokenType::kUser, "u1")}).ok());
  EXPECT_EQ(AllEvents().size(), 1u);
}

TEST_P(EventStoreContractTest, AuditQueryFiltersOrdersPagesAndCountsExactly) {
  std::vector<core::AuditEvent> all;
  for (int i = 0; i < 12; ++i) {
    const TokenType type =
        i % 3 == 0 ? TokenType::kGlobal : (i % 3 == 1 ? TokenType::kUser : TokenType::kTeam);
    std::optional<std::string> principal;
    if (type != TokenType::kGlobal) principal = i % 2 == 0 ? "p1" : "p2";
    const Token token = MakeToken(i, type, principal);
    // Pairs of events share a time: ties break on id.
    core::AuditEvent event =
        Event(i % 4 == 0 ? core::AuditAction::kDeleted : core::AuditAction::kCreated, token,
              kBase + (i / 2) * 1000);
    ASSERT_TRUE(store_->Insert(token, std::span(&event, 1)).ok());
    all.push_back(event);
  }
  auto ids_of = [](const AuditPage& page) {
    std::vector<std::string> ids;
    for (const std::string& text : page.events) {
      ids.emplace_back(boost::json::parse(text).at("id").as_string().c_str());
    }
    return ids;
  };
  auto expected = [&](auto keep, bool ascending) {
    std::vector<core::AuditEvent> kept;
    for (const auto& event : all) {
      if (keep(event)) kept.push_back(event);
    }
    std::sort(kept.begin(), kept.end(), [&](const auto& a, const auto& b) {
      return ascending ? std::tie(a.time, a.id) < std::tie(b.time, b.id)
                       : std::tie(a.time, a.id) > std::tie(b.time, b.id);
    });
    std::vector<std::string> ids;
    for (const auto& event : kept) ids.push_back(event.id);
    return ids;
  };
  // Default: newest first; paging never overlaps, the total is exact.
  std::vector<std::string> walked;
  for (int offset = 0; offset < 12; offset += 5) {
    Result<AuditPage> page = store_->QueryAudit({}, Everything(), 5, offset, true);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->total, 12);
    for (const auto& id : ids_of(*page)) walked.push_back(id);
  }
  EXPECT_EQ(walked, expected([](const auto&) { return true; }, false));

  AuditQuery query;
  query.ascending = true;
  query.types = {TokenType::kUser, TokenType::kTeam};
  query.principals = {"p1"};
  query.actions = {core::AuditAction::kCreated};
  query.from_date = kBase + 1000;
  query.to_date = kBase + 4000;
  Result<AuditPage> page = store_->QueryAudit(query, Everything(), 100, 0, true);
  ASSERT_TRUE(page.ok());
  const auto want = expected(
      [&](const core::AuditEvent& e) {
        return e.subject.type != TokenType::kGlobal && e.subject.principal == "p1" &&
               e.action == core::AuditAction::kCreated && e.time >= kBase + 1000 &&
               e.time <= kBase + 4000;
      },
      true);
  EXPECT_EQ(ids_of(*page), want);
  EXPECT_EQ(page->total, static_cast<std::int64_t>(want.size()));

  AuditQuery by_token;
  by_token.token_id = IdOf(5);
  page = store_->QueryAudit(by_token, Everything(), 100, 0, true);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(ids_of(*page), std::vector<std::string>{all[5].id});

  // A scoped caller sees the events of the tokens it covers only.
  page = store_->QueryAudit({}, Only({TokenType::kUser}, "p2"), 100, 0, true);
  ASSERT_TRUE(page.ok());
  const auto visible = expected(
      [](const core::AuditEvent& e) {
        return e.subject.type == TokenType::kUser && e.subject.principal == "p2";
      },
      false);
  EXPECT_EQ(ids_of(*page), visible);
  EXPECT_EQ(page->total, static_cast<std::int64_t>(visible.size()));
  page = store_->QueryAudit({}, Only({}, "p2"), 100, 0, true);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->total, 0);
  // Past the end: empty, exact total.
  page = store_->QueryAudit({}, Everything(), 5, 50, true);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->total, 12);
}

// Writes a chain of five events (one per transaction) and returns their ids.
std::vector<std::string> WriteFiveEvents(TokenStore& store) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const Token token = MakeToken(i, TokenType::kUser, "u1");
    const core::AuditEvent event =
        core::MakeEvent(core::AuditAction::kCreated, token, core::EventOrigin::System(), kBase + i);
    EXPECT_TRUE(store.Insert(token, std::span(&event, 1)).ok());
    ids.push_back(event.id);
  }
  return ids;
}

TEST_P(EventStoreContractTest, VerifyFindsEveryKindOfTampering) {
  if (!raw_sql_) GTEST_SKIP() << "nothing outside this store reaches its database";
  struct Tampering {
    std::string name;
    std::string sql;      // %s: the id of the event tampered with
    int event;            // which event (0..4) is tampered with
    int reported;         // which event the report names
    std::string problem;  // a word of the reason
  };
  const std::vector<Tampering> cases = {
      {"edited body",
       "UPDATE audit_events SET body = replace(body, 'token 2', 'token X') WHERE id = '%s'", 2, 2,
       "content"},
      {"edited hash",
       "UPDATE audit_events SET hash = replace(hash, substr(hash, 1, 1), CASE WHEN substr(hash, 1, "
       "1) = 'a' THEN 'b' ELSE 'a' END) WHERE id = '%s'",
       2, 2, "hash"},
      {"edited column", "UPDATE audit_events SET subject_principal = 'u9' WHERE id = '%s'", 1, 1,
       "columns"},
      {"deleted middle", "DELETE FROM audit_events WHERE id = '%s'", 2, 3, "missing"},
      {"deleted last", "DELETE FROM audit_events WHERE id = '%s'", 4, 3, "last"},
      {"deleted first", "DELETE FROM audit_events WHERE id = '%s'", 0, 1, "first"},
  };
  for (const Tampering& tampering : cases) {
    SCOPED_TRACE(tampering.name);
    Reopen();
    const std::vector<std::string> ids = WriteFiveEvents(*store_);
    ChainReport report = MustVerify();
    EXPECT_TRUE(report.ok()) << report.problem;
    EXPECT_EQ(report.events, 5);
    std::string sql = tampering.sql;
    sql.replace(sql.find("%s"), 2, ids[tampering.event]);
    ASSERT_EQ(raw_sql_(sql), "");
    report = MustVerify();
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.broken_event_id, ids[tampering.reported]) << report.problem;
    EXPECT_NE(report.problem.find(tampering.problem), std::string::npos) << report.problem;
    EXPECT_EQ(report.problem.find(core::kChainGenesis), std::string::npos);
  }
  // A chain whose record is gone is found too.
  Reopen();
  const std::vector<std::string> ids = WriteFiveEvents(*store_);
  ASSERT_EQ(raw_sql_("DELETE FROM audit_chains"), "");
  const ChainReport report = MustVerify();
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.broken_event_id, ids[0]);
}

// A chain removed whole, record included, or cut short with its record moved
// back, leaves whole chains: the tokens whose creation it recorded tell,
// unless retention may have removed their events, or they were stored before
// every token had one (audit_unrecorded_tokens).
TEST_P(EventStoreContractTest, VerifyFindsRemovedEventsByTheTokensTheyCreated) {
  if (!raw_sql_) GTEST_SKIP() << "nothing outside this store reaches its database";
  // Events at kBase + 0..4 about tokens 0..4, created at kBase.
  const core::EpochMillis kept_from = kBase;
  {
    SCOPED_TRACE("a whole chain and its record removed");
    Reopen();
    WriteFiveEvents(*store_);
    EXPECT_TRUE(MustVerify(kept_from).ok());
    ASSERT_EQ(raw_sql_("DELETE FROM audit_events"), "");
    ASSERT_EQ(raw_sql_("DELETE FROM audit_chains"), "");
    const ChainReport report = MustVerify(kept_from);
    EXPECT_FALSE(report.ok());
    EXPECT_NE(report.problem.find("token " + IdOf(0)), std::string::npos) << report.problem;
    EXPECT_NE(report.problem.find("token.created"), std::string::npos) << report.problem;
    // Events older than the retention period may be gone: nothing to tell.
    EXPECT_TRUE(MustVerify(kBase + 1).ok());
  }
  {
    SCOPED_TRACE("the last two events removed, the record moved back");
    Reopen();
    const std::vector<std::string> ids = WriteFiveEvents(*store_);
    ASSERT_EQ(raw_sql_("UPDATE audit_chains SET last_seq = last_seq - 2, last_hash = (SELECT hash "
                       "FROM audit_events WHERE id = '" +
                       ids[2] + "')"),
              "");
    ASSERT_EQ(raw_sql_("DELETE FROM audit_events WHERE id IN ('" + ids[3] + "', '" + ids[4] + "')"),
              "");
    const ChainReport report = MustVerify(kept_from);
    EXPECT_FALSE(report.ok());
    EXPECT_NE(report.problem.find("token " + IdOf(3)), std::string::npos) << report.problem;
  }
  {
    SCOPED_TRACE("a token stored without its event");
    Reopen();
    WriteFiveEvents(*store_);
    const Token bare = MakeToken(7, TokenType::kUser, "u1");
    ASSERT_TRUE(store_->Insert(bare, {}).ok());
    const ChainReport report = MustVerify(kept_from);
    EXPECT_FALSE(report.ok());
    EXPECT_NE(report.problem.find("token " + IdOf(7)), std::string::npos) << report.problem;
    // One stored before every token had its event.
    ASSERT_EQ(raw_sql_("INSERT INTO audit_unrecorded_tokens (id) VALUES ('" + IdOf(7) + "')"), "");
    EXPECT_TRUE(MustVerify(kept_from).ok());
  }
}

// Removing a chain's first events and moving its record's head, as retention
// does, is found unless the record proves (by the last removed event, whose
// hash the kept chain links to) that every removed event was old enough.
TEST_P(EventStoreContractTest, VerifyTellsARemovalOfTheHeadByHandFromRetention) {
  if (!raw_sql_) GTEST_SKIP() << "nothing outside this store reaches its database";
  // Events 0..4 at kBase + 0..4. Removes events 0..last_removed, moving the
  // record's head past them; with `record` the last removed one is copied
  // into the record, as retention does.
  auto remove_head = [&](const std::vector<std::string>& ids, int last_removed, bool record) {
    const std::string first_kept_prev =
        last_removed + 1 < 5
            ? "(SELECT prev_hash FROM audit_events WHERE id = '" + ids[last_removed + 1] + "')"
            : "last_hash";
    std::string sql = "UPDATE audit_chains SET first_seq = " + std::to_string(last_removed + 2) +
                      ", first_prev_hash = " + first_kept_prev;
    if (record) {
      const std::string removed = "FROM audit_events WHERE id = '" + ids[last_removed] + "')";
      sql += ", last_removed_body = (SELECT body " + removed +
             ", last_removed_prev_hash = (SELECT prev_hash " + removed;
    }
    ASSERT_EQ(raw_sql_(sql), "");
    ASSERT_EQ(raw_sql_("DELETE FROM audit_events WHERE id IN ('" + ids[0] + "'" +
                       [&] {
                         std::string more;
                         for (int i = 1; i <= last_removed; ++i) more += ",'" + ids[i] + "'";
                         return more;
                       }() +
                       ")"),
              "");
  };
  {
    SCOPED_TRACE("the first two removed, no record of them");
    Reopen();
    const std::vector<std::string> ids = WriteFiveEvents(*store_);
    remove_head(ids, 1, false);
    const ChainReport report = MustVerify();
    EXPECT_FALSE(report.ok());
    EXPECT_NE(report.problem.find("no record"), std::string::npos) << report.problem;
  }
  {
    SCOPED_TRACE("the first two removed and recorded, younger than the retention");
    Reopen();
    const std::vector<std::string> ids = WriteFiveEvents(*store_);
    remove_head(ids, 1, true);
    ChainReport report = MustVerify(kBase + 1);
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.broken_event_id, ids[1]) << report.problem;
    EXPECT_NE(report.problem.find("retention"), std::string::npos) << report.problem;
    // Older than the retention: what retention itself leaves.
    report = MustVerify(kBase + 2);
    EXPECT_TRUE(report.ok()) << report.problem;
    EXPECT_EQ(report.events, 3);
  }
  {
    SCOPED_TRACE("every event removed and the last recorded");
    Reopen();
    const std::vector<std::string> ids = WriteFiveEvents(*store_);
    remove_head(ids, 4, true);
    ChainReport report = MustVerify(kBase + 4);
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.broken_event_id, ids[4]) << report.problem;
    EXPECT_TRUE(MustVerify(kBase + 5).ok());
  }
  {
    SCOPED_TRACE("a record of another event than the last removed");
    Reopen();
    const std::vector<std::string> ids = WriteFiveEvents(*store_);
    remove_head(ids, 2, true);
    ASSERT_EQ(raw_sql_("UPDATE audit_chains SET last_removed_body = replace(last_removed_body, "
                       "'token 2', 'token 0')"),
              "");
    const ChainReport report = MustVerify();
    EXPECT_FALSE(report.ok());
    EXPECT_NE(report.problem.find("does not match"), std::string::npos) << report.problem;
  }
  {
    SCOPED_TRACE("retention itself, verified with a shorter and a longer period");
    Reopen();
    const std::vector<std::string> ids = WriteFiveEvents(*store_);
    ASSERT_EQ(*store_->PruneAudit(kBase + 3), 3);
    EXPECT_TRUE(MustVerify(kBase + 3).ok());
    const ChainReport report = MustVerify(kBase + 2);
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.broken_event_id, ids[2]) << report.problem;
  }
}

TEST_P(EventStoreContractTest, PruneRemovesOldEventsAndKeepsChainsVerifiable) {
  const std::vector<std::string> ids = WriteFiveEvents(*store_);
  Result<std::int64_t> removed = store_->PruneAudit(kBase + 2);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2);
  const auto events = AllEvents();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].at("id").as_string(), ids[2]);
  ChainReport report = MustVerify();
  EXPECT_TRUE(report.ok()) << report.problem;
  // The chain goes on after a pruning, and may be pruned whole.
  const Token token = MakeToken(50, TokenType::kUser, "u1");
  const core::AuditEvent event =
      core::MakeEvent(core::AuditAction::kCreated, token, core::EventOrigin::System(), kBase + 50);
  ASSERT_TRUE(store_->Insert(token, std::span(&event, 1)).ok());
  removed = store_->PruneAudit(kBase + 1000);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 4);
  EXPECT_TRUE(AllEvents().empty());
  report = MustVerify();
  EXPECT_TRUE(report.ok()) << report.problem;
  const Token later = MakeToken(51, TokenType::kUser, "u1");
  const core::AuditEvent next = core::MakeEvent(core::AuditAction::kCreated, later,
                                                core::EventOrigin::System(), kBase + 2000);
  ASSERT_TRUE(store_->Insert(later, std::span(&next, 1)).ok());
  report = MustVerify();
  EXPECT_TRUE(report.ok()) << report.problem;
  EXPECT_EQ(report.events, 1);
}

TEST_P(EventStoreContractTest, OutboxClaimsLeasesRetriesAndFails) {
  const Token token = MakeToken(1, TokenType::kUser, "u1");
  const core::AuditEvent event = Event(core::AuditAction::kCreated, token, kBase);
  ASSERT_TRUE(store_->Insert(token, std::span(&event, 1)).ok());
  Result<std::vector<Delivery>> claimed = store_->ClaimDeliveries(kBase + 1, 10'000, 1, {});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  const Delivery first = claimed->front();
  // Leased: the other URL only, then nothing until the lease ends.
  claimed = store_->ClaimDeliveries(kBase + 2, 10'000, 10, {});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  const Delivery second = claimed->front();
  EXPECT_NE(first.url, second.url);
  EXPECT_TRUE(store_->ClaimDeliveries(kBase + 3, 10'000, 10, {})->empty());
  // Lease over: claimed again.
  claimed = store_->ClaimDeliveries(kBase + 20'000, 10'000, 10, {});
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(claimed->size(), 2u);

  ASSERT_TRUE(store_->FinishDelivery(first, {DeliveryOutcome::Kind::kDelivered, 0, ""}).ok());
  ASSERT_TRUE(
      store_->FinishDelivery(second, {DeliveryOutcome::Kind::kRetry, kBase + 60'000, "HTTP 503"})
          .ok());
  Result<OutboxStats> stats = store_->GetOutboxStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->waiting, 1);
  EXPECT_EQ(stats->failed, 0);
  EXPECT_TRUE(store_->ClaimDeliveries(kBase + 59'999, 10'000, 10, {})->empty());
  claimed = store_->ClaimDeliveries(kBase + 60'000, 10'000, 10, {});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().attempts, 1);
  EXPECT_EQ(claimed->front().url, second.url);

  ASSERT_TRUE(
      store_->FinishDelivery(claimed->front(), {DeliveryOutcome::Kind::kFailed, 0, "timeout"})
          .ok());
  stats = store_->GetOutboxStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->waiting, 0);
  EXPECT_EQ(stats->failed, 1);
  EXPECT_FALSE(stats->oldest_waiting.has_value());
  EXPECT_TRUE(store_->ClaimDeliveries(kBase + 10'000'000, 10'000, 10, {})->empty());
}

// A claim takes at most `max` deliveries, however the store plans it: on
// PostgreSQL, after its statistics found the outbox empty and its claim's
// plan was made for that, a burst of events was once taken in one claim.
TEST_P(EventStoreContractTest, AClaimOfOneTakesOneAfterTheOutboxWasEmpty) {
  const Token first = MakeToken(1, TokenType::kUser, "u1");
  const core::AuditEvent event = Event(core::AuditAction::kCreated, first, kBase);
  ASSERT_TRUE(store_->Insert(first, std::span(&event, 1)).ok());
  for (int i = 0; i < 2; ++i) {
    Result<std::vector<Delivery>> claimed = store_->ClaimDeliveries(kBase, 10'000, 1, {});
    ASSERT_TRUE(claimed.ok());
    ASSERT_EQ(claimed->size(), 1u);
    ASSERT_TRUE(
        store_->FinishDelivery(claimed->front(), {DeliveryOutcome::Kind::kDelivered, 0, ""}).ok());
  }
  if (raw_sql_) ASSERT_EQ(raw_sql_("ANALYZE webhook_outbox"), "");
  // Enough empty claims for every pooled connection to settle on a plan.
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store_->ClaimDeliveries(kBase, 10'000, 1, {})->empty());
  }
  for (int n = 2; n < 52; ++n) {
    const Token token = MakeToken(n, TokenType::kUser, "u1");
    const core::AuditEvent created = Event(core::AuditAction::kCreated, token, kBase + n);
    ASSERT_TRUE(store_->Insert(token, std::span(&created, 1)).ok());
  }
  for (int i = 0; i < 3; ++i) {
    Result<std::vector<Delivery>> claimed = store_->ClaimDeliveries(kBase + 100, 10'000, 1, {});
    ASSERT_TRUE(claimed.ok());
    EXPECT_EQ(claimed->size(), 1u);
  }
  // The other 97 (50 events, two URLs) are still there to claim.
  Result<std::vector<Delivery>> rest = store_->ClaimDeliveries(kBase + 100, 10'000, 1000, {});
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 97u);
}

TEST_P(EventStoreContractTest, AClaimLeavesTheDeliveriesToSkippedUrlsWhereTheyAre) {
  for (int n = 1; n <= 3; ++n) {
    const Token token = MakeToken(n, TokenType::kUser, "u1");
    const core::AuditEvent event = Event(core::AuditAction::kCreated, token, kBase + n);
    ASSERT_TRUE(store_->Insert(token, std::span(&event, 1)).ok());
  }
  Result<std::vector<Delivery>> claimed = store_->ClaimDeliveries(kBase + 10, 10'000, 10, {kHookA});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 3u);
  for (const Delivery& delivery : *claimed) EXPECT_EQ(delivery.url, kHookB);
  // Skipping both leaves everything; skipping none then takes the rest.
  EXPECT_TRUE(store_->ClaimDeliveries(kBase + 11, 10'000, 10, {kHookB, kHookA})->empty());
  claimed = store_->ClaimDeliveries(kBase + 12, 10'000, 10, {});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 3u);
  for (const Delivery& delivery : *claimed) EXPECT_EQ(delivery.url, kHookA);
  // A URL no delivery has, and one with a quote, skip nothing.
  claimed = store_->ClaimDeliveries(kBase + 20'000, 10'000, 10,
                                    {"https://elsewhere.example/\"x\"", "https://x.example/"});
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(claimed->size(), 6u);
}

// An imported token keeps its Boomerang dates, so its creation date says
// nothing of when it entered the store; its token.created does. One that
// entered after a crossing (or already expired) gets no notice of it.
TEST_P(EventStoreContractTest, ExpiryNoticesSkipTokensThatEnteredAfterTheirCrossing) {
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t start = kBase + 100 * kDay;
  auto insert = [&](int n, std::int64_t expires, std::int64_t entered) {
    Token token = MakeToken(n, TokenType::kUser, "u1", kBase);
    token.expiration_date = expires;
    const core::AuditEvent created = Event(core::AuditAction::kCreated, token, entered);
    ASSERT_TRUE(store_->Insert(token, std::span(&created, 1)).ok());
  };
  NoticeScan seven{7 * 86'400, {86'400, 0}, start, start};
  NoticeScan expired{0, {}, start, start};
  ASSERT_TRUE(store_->RecordExpiryNotices(seven).ok());
  ASSERT_TRUE(store_->RecordExpiryNotices(expired).ok());
  insert(1, start + 7 * kDay + 1000, kBase);         // crosses 7d at start + 1 s
  insert(2, start + 7 * kDay + 1000, start + 2000);  // imported after that
  insert(3, start + 500, kBase);                     // expires at start + 0.5 s
  insert(4, start + 500, start + 2000);              // imported expired
  for (NoticeScan* scan : {&seven, &expired}) {
    scan->until = start + 3000;
    scan->now = start + 5000;
    Result<std::int64_t> written = store_->RecordExpiryNotices(*scan);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    EXPECT_EQ(*written, 1) << scan->threshold_seconds;
  }
  std::vector<std::string> noticed;
  for (const boost::json::object& event : AllEvents()) {
    if (event.at("action").as_string() != "token.created") {
      noticed.emplace_back(event.at("subject").at("id").as_string());
    }
  }
  std::sort(noticed.begin(), noticed.end());
  EXPECT_EQ(noticed, (std::vector<std::string>{IdOf(1), IdOf(3)}));
}

// After a pause, a crossing is deferred to the next threshold only when
// that threshold's scan will see it: not when that threshold is new, since
// a new threshold starts at its first scan.
TEST_P(EventStoreContractTest, ACrossingMissedInAPauseIsToldWhenTheNextThresholdIsNew) {
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t start = kBase + 100 * kDay;
  NoticeScan seven{7 * 86'400, {86'400, 0}, start, start};
  ASSERT_TRUE(store_->RecordExpiryNotices(seven).ok());
  Token token = MakeToken(1, TokenType::kUser, "u1", kBase);
  token.expiration_date = start + 7 * kDay + 1000;  // crosses 7d at start + 1 s
  ASSERT_TRUE(store_->Insert(token, {}).ok());
  // The first scan after the pause comes when the token is inside 1d, a
  // threshold never scanned before: the 7d scan tells it.
  seven.now = *token.expiration_date - kDay / 2;
  seven.until = seven.now - 2000;
  Result<std::int64_t> written = store_->RecordExpiryNotices(seven);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 1);
  NoticeScan one{86'400, {0}, seven.until, seven.now};
  ASSERT_TRUE(store_->RecordExpiryNotices(one).ok());
  const auto events = AllEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("details").at("daysRemaining").as_int64(), 0);
}

// After a pause in which a token crossed 60 s and 20 s, with a 30 s
// threshold added at the restart: the 30 s threshold starts after the
// crossing and tells nothing, and the 60 s scan must look past it to 20 s,
// whose scan will tell the token. One notice, the nearest.
TEST_P(EventStoreContractTest, APauseAcrossSeveralThresholdsGivesTheNearestNoticeOnly) {
  const std::int64_t start = kBase + 1'000'000;
  NoticeScan sixty{60, {20, 0}, start, start};
  NoticeScan twenty{20, {0}, start, start};
  NoticeScan expired{0, {}, start, start};
  for (NoticeScan* scan : {&sixty, &twenty, &expired}) {
    ASSERT_TRUE(store_->RecordExpiryNotices(*scan).ok());  // their first scans, before the pause
  }
  Token token = MakeToken(1, TokenType::kUser, "u1", kBase);
  token.expiration_date = start + 75'000;
  ASSERT_TRUE(store_->Insert(token, {}).ok());
  // The restart, 9 s before expiry: 60 s and 20 s crossed meanwhile.
  const std::int64_t now = start + 66'000;
  NoticeScan thirty{30, {20, 0}, now - 2000, now};
  sixty.smaller_thresholds_seconds = {30, 20, 0};
  std::int64_t written = 0;
  for (NoticeScan* scan : {&sixty, &thirty, &twenty, &expired}) {
    scan->until = now - 2000;
    scan->now = now;
    Result<std::int64_t> notices = store_->RecordExpiryNotices(*scan);
    ASSERT_TRUE(notices.ok()) << notices.status().ToString();
    written += *notices;
  }
  EXPECT_EQ(written, 1);
  const auto events = AllEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("action").as_string(), "token.expiring");
  // And a token that expired during a later pause gets token.expired alone.
  const std::int64_t later = start + 1'000'000;
  for (NoticeScan* scan : {&sixty, &thirty, &twenty, &expired}) {
    scan->until = later;
    scan->now = later;
    ASSERT_TRUE(store_->RecordExpiryNotices(*scan).ok());
  }
  Token expiring = MakeToken(2, TokenType::kUser, "u1", kBase);
  expiring.expiration_date = later + 75'000;
  ASSERT_TRUE(store_->Insert(expiring, {}).ok());
  written = 0;
  for (NoticeScan* scan : {&sixty, &thirty, &twenty, &expired}) {
    scan->until = later + 90'000;
    scan->now = later + 92'000;
    Result<std::int64_t> notices = store_->RecordExpiryNotices(*scan);
    ASSERT_TRUE(notices.ok()) << notices.status().ToString();
    written += *notices;
  }
  EXPECT_EQ(written, 1);
  // Token 1's expiry was told by the scans before that pause.
  const auto after = AllEvents();
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[1].at("action").as_string(), "token.expired");
  EXPECT_EQ(after[1].at("subject").at("id").as_string(), IdOf(1));
  EXPECT_EQ(after[2].at("action").as_string(), "token.expired");
  EXPECT_EQ(after[2].at("subject").at("id").as_string(), IdOf(2));
}

TEST_P(EventStoreContractTest, ExpiryNoticesFollowTheirRules) {
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t start = kBase + 100 * kDay;
  auto token_expiring = [&](int n, std::int64_t created, std::int64_t expires) {
    Token token = MakeToken(n, TokenType::kUser, "u1", created);
    token.expiration_date = expires;
    return token;
  };
  // The first scan of a threshold writes nothing, whatever it would cover.
  ASSERT_TRUE(store_->Insert(token_expiring(1, kBase, start + 7 * kDay - 1), {}).ok());
  NoticeScan seven{7 * 86'400, {86'400, 0}, start, start};
  Result<std::int64_t> written = store_->RecordExpiryNotices(seven);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 0);

  // Crossing 7d within (start, start + 1h]:
  const std::int64_t until = start + 3'600'000;
  ASSERT_TRUE(
      store_->Insert(token_expiring(2, kBase, start + 7 * kDay + 1000), {}).ok());  // notified
  // Created inside the threshold already: skipped (its creation notice covered it).
  ASSERT_TRUE(store_->Insert(token_expiring(3, start + 1000, start + 7 * kDay + 1000), {}).ok());
  // Rotated away: skipped.
  Token rotated = token_expiring(4, kBase, start + 7 * kDay + 2000);
  rotated.rotated_to = IdOf(40);
  ASSERT_TRUE(store_->Insert(rotated, {}).ok());
  // Crossing later than this window: not yet.
  ASSERT_TRUE(store_->Insert(token_expiring(5, kBase, start + 8 * kDay), {}).ok());
  seven.until = until;
  seven.now = until;
  written = store_->RecordExpiryNotices(seven);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 1);
  auto events = AllEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("action").as_string(), "token.expiring");
  EXPECT_EQ(events[0].at("subject").at("id").as_string(), IdOf(2));
  EXPECT_EQ(events[0].at("details").at("daysRemaining").as_int64(), 6);
  EXPECT_FALSE(events[0].contains("actor"));
  // The same window again: nothing.
  written = store_->RecordExpiryNotices(seven);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, 0);

  // A token already inside the next threshold at `now` gets that one instead:
  // the 1d scan sees it, the 7d scan skips it.
  NoticeScan one{86'400, {0}, until, until};
  ASSERT_TRUE(store_->RecordExpiryNotices(one).ok());  // first scan of 1d: starts here
  const std::int64_t later = until + 3'600'000;
  ASSERT_TRUE(store_->Insert(token_expiring(6, kBase, until + 7 * kDay + 1000), {}).ok());
  seven.until = later;
  seven.now = until + 7 * kDay - kDay + 5000;  // the scan runs late: token 6 is inside 1d
  written = store_->RecordExpiryNotices(seven);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, 0);

  // token.expired: every token expiring in the window, created inside or not.
  NoticeScan expired{0, {}, start, start};
  ASSERT_TRUE(store_->RecordExpiryNotices(expired).ok());
  ASSERT_TRUE(store_->Insert(token_expiring(7, start - 1000, start + 500), {}).ok());
  expired.until = start + 1000;
  expired.now = start + 1000;
  written = store_->RecordExpiryNotices(expired);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, 1);
  events = AllEvents();
  ASSERT_EQ(events.size(), 2u);
  // Oldest first: the expiry (at start + 1 s) before the 7d notice (at start + 1 h).
  EXPECT_EQ(events[0].at("action").as_string(), "token.expired");
  EXPECT_EQ(events[0].at("subject").at("id").as_string(), IdOf(7));
  EXPECT_EQ(events[0].at("details").at("daysRemaining").as_int64(), 0);
  EXPECT_TRUE(MustVerify().ok());
}

TEST_P(EventStoreContractTest, ConcurrentWritersKeepEveryChainWhole) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Token token = MakeToken(1000 + t * kPerThread + i, TokenType::kUser, "u1");
        const core::AuditEvent event = core::MakeEvent(core::AuditAction::kCreated, token,
                                                       core::EventOrigin::System(), kBase + i);
        if (!store_->Insert(token, std::span(&event, 1)).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  const ChainReport report = MustVerify();
  EXPECT_TRUE(report.ok()) << report.problem;
  EXPECT_EQ(report.events, kThreads * kPerThread);
}

// Concurrent creates may be written together (group commit): a duplicate
// among them fails alone, with its events, and the others land with theirs;
// per-principal counts stay exact through concurrent creates and deletes.
TEST_P(EventStoreContractTest, ConcurrentCreatesWithEventsKeepTheirOwnOutcomes) {
  const Token existing = MakeToken(1, TokenType::kTeam, "t1");
  const core::AuditEvent first = Event(core::AuditAction::kCreated, existing, kBase);
  ASSERT_TRUE(store_->Insert(existing, std::span(&first, 1)).ok());

  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::atomic<int> fresh_failures{0};
  std::atomic<int> duplicates_refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Token token = MakeToken(100 + t * kPerThread + i, TokenType::kUser,
                                "p" + std::to_string(i % 3), kBase + i);
        if (t % 4 == 3) token.id = existing.id;  // a duplicate
        const core::AuditEvent event = Event(core::AuditAction::kCreated, token, kBase + i);
        const Status status = store_->Insert(token, std::span(&event, 1));
        if (t % 4 == 3) {
          if (status.code() == core::StatusCode::kAlreadyExists) ++duplicates_refused;
        } else if (!status.ok()) {
          ++fresh_failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(fresh_failures.load(), 0);
  EXPECT_EQ(duplicates_refused.load(), 2 * kPerThread);
  constexpr int kFresh = (kThreads - 2) * kPerThread;
  EXPECT_EQ(AllEvents().size(), static_cast<std::size_t>(1 + kFresh));
  auto total = [&](TokenQuery query) {
    Result<TokenPage> page = store_->Query(query, Visibility{}, 1, 0, true);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->total : -1;
  };
  EXPECT_EQ(total({}), 1 + kFresh);
  EXPECT_EQ(total({.types = {TokenType::kUser}, .principals = {"p0"}}), 42);

  // Deleted from several threads at once: every count comes back to what
  // remains, whichever connection counted each token in.
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    if (t % 4 == 3) continue;
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i += 2) {
        const Token token = MakeToken(100 + t * kPerThread + i, TokenType::kUser,
                                      "p" + std::to_string(i % 3), kBase + i);
        const core::AuditEvent event = Event(core::AuditAction::kDeleted, token, kBase + 100);
        if (!store_->Delete(token.id, std::span(&event, 1)).ok()) ++fresh_failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(fresh_failures.load(), 0);
  EXPECT_EQ(total({}), 1 + kFresh / 2);
  // i even and i % 3 == 0: i in {0, 6, 12, 18} of each thread's 20 are gone.
  EXPECT_EQ(total({.principals = {"p0"}}), 42 - 6 * 4);
  Result<std::vector<std::pair<TokenType, std::int64_t>>> counts = store_->CountByType();
  ASSERT_TRUE(counts.ok());
  for (const auto& [type, n] : *counts) {
    EXPECT_EQ(n, type == TokenType::kUser ? kFresh / 2 : 1) << core::ToString(type);
  }
  const ChainReport report = MustVerify();
  EXPECT_TRUE(report.ok()) << report.problem;
  EXPECT_EQ(report.events, 1 + kFresh + kFresh / 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventStoreContractTest, ::testing::ValuesIn(AllBackends()),
                         [](const ::testing::TestParamInfo<BackendCase>& info) {
                           return info.param.name;
                         });
INSTANTIATE_TEST_SUITE_P(ThroughFailingStore, EventStoreContractTest,
                         ::testing::ValuesIn(ThroughFailingStore()),
                         [](const ::testing::TestParamInfo<BackendCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace tokend::store
