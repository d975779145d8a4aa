#include "support/failing_store.h"

#include <bit>
#include <string>
#include <utility>

namespace tokend::testing {
namespace {

constexpr std::string_view kMethodNames[] = {
    "Insert",        "InsertMany",   "FindById",     "FindBySecretHash", "Delete",
    "Query",         "CountByType",  "Ping",         "DeleteMatching",   "RecordUses",
    "Rotate",        "LookupSecret", "RevokeFamily", "SweepRotations",   "RecordExpiryNotices",
    "QueryAudit",    "PruneAudit",   "VerifyAudit",  "ClaimDeliveries",  "FinishDelivery",
    "GetOutboxStats"};

int IndexOf(FailingStore::Methods method) { return std::countr_zero(method); }

}  // namespace

FailingStore::FailingStore(std::unique_ptr<store::TokenStore> inner)
    : ForwardingStore(std::move(inner)) {}

core::Result<std::unique_ptr<FailingStore>> FailingStore::Open(std::string_view url) {
  core::Result<std::unique_ptr<store::TokenStore>> inner = store::TokenStore::Open(url);
  if (!inner.ok()) return inner.status();
  return std::make_unique<FailingStore>(std::move(inner).value());
}

void FailingStore::Fail(Methods methods) { failing_.fetch_or(methods & kAll); }

void FailingStore::FailNext(Methods methods, int count) {
  for (int i = 0; i < kMethodCount; ++i) {
    if (methods & (1u << i)) fail_next_[i].fetch_add(count);
  }
}

void FailingStore::Heal(Methods methods) {
  failing_.fetch_and(~methods);
  for (int i = 0; i < kMethodCount; ++i) {
    if (methods & (1u << i)) fail_next_[i].store(0);
  }
}

void FailingStore::SetFailure(core::Status status) {
  std::lock_guard lock(failure_mu_);
  if (status.ok()) {
    failure_.reset();
  } else {
    failure_ = std::move(status);
  }
}

int FailingStore::Calls(Methods method) const { return calls_[IndexOf(method)].load(); }

int FailingStore::Failures(Methods method) const { return failures_[IndexOf(method)].load(); }

std::vector<std::string> FailingStore::LastRecordedIds() const {
  std::lock_guard lock(recorded_mu_);
  return last_recorded_ids_;
}

std::optional<core::Status> FailingStore::Injected(Methods method) {
  const int index = IndexOf(method);
  calls_[index].fetch_add(1);
  bool fail = (failing_.load() & method) != 0;
  if (!fail) {
    // Takes one of the pending failures, if any, without going below zero.
    int pending = fail_next_[index].load();
    while (pending > 0 && !fail_next_[index].compare_exchange_weak(pending, pending - 1)) {
    }
    fail = pending > 0;
  }
  if (!fail) return std::nullopt;
  failures_[index].fetch_add(1);
  std::lock_guard lock(failure_mu_);
  if (failure_) return *failure_;
  return core::Status::Unavailable("injected store failure: " + std::string(kMethodNames[index]));
}

core::Status FailingStore::Insert(const core::Token& token,
                                  std::span<const core::AuditEvent> events) {
  if (auto failure = Injected(kInsert)) return *failure;
  return ForwardingStore::Insert(token, events);
}

void FailingStore::SubmitInsert(const core::Token& token, std::span<const core::AuditEvent> events,
                                std::function<void(core::Status)> done) {
  if (auto failure = Injected(kInsert)) {
    done(*failure);
    return;
  }
  ForwardingStore::SubmitInsert(token, events, std::move(done));
}

core::Status FailingStore::InsertMany(std::span<const core::Token> tokens) {
  if (auto failure = Injected(kInsertMany)) return *failure;
  return ForwardingStore::InsertMany(tokens);
}

core::Result<core::Token> FailingStore::FindById(std::string_view id) {
  if (auto failure = Injected(kFindById)) return *failure;
  return ForwardingStore::FindById(id);
}

core::Result<core::Token> FailingStore::FindBySecretHash(std::string_view secret_hash) {
  if (auto failure = Injected(kFindBySecretHash)) return *failure;
  return ForwardingStore::FindBySecretHash(secret_hash);
}

core::Status FailingStore::Delete(std::string_view id, std::span<const core::AuditEvent> events) {
  if (auto failure = Injected(kDelete)) return *failure;
  return ForwardingStore::Delete(id, events);
}

core::Result<std::vector<std::string>> FailingStore::DeleteMatching(
    const core::TokenQuery& query, const core::Visibility& visibility,
    const core::EventOrigin& origin, core::EpochMillis now) {
  if (auto failure = Injected(kDeleteMatching)) return *failure;
  return ForwardingStore::DeleteMatching(query, visibility, origin, now);
}

core::Result<store::TokenPage> FailingStore::Query(const core::TokenQuery& query,
                                                   const core::Visibility& visibility,
                                                   std::int64_t limit, std::int64_t offset,
                                                   bool count_total) {
  if (auto failure = Injected(kQuery)) return *failure;
  return ForwardingStore::Query(query, visibility, limit, offset, count_total);
}

core::Result<std::vector<std::pair<core::TokenType, std::int64_t>>> FailingStore::CountByType() {
  if (auto failure = Injected(kCountByType)) return *failure;
  return ForwardingStore::CountByType();
}

core::Status FailingStore::Ping() {
  if (auto failure = Injected(kPing)) return *failure;
  return ForwardingStore::Ping();
}

core::Status FailingStore::RecordUses(std::span<const store::TokenUse> uses) {
  {
    std::lock_guard lock(recorded_mu_);
    last_recorded_ids_.clear();
    for (const store::TokenUse& use : uses) last_recorded_ids_.push_back(use.id);
  }
  if (auto failure = Injected(kRecordUses)) return *failure;
  return ForwardingStore::RecordUses(uses);
}

core::Status FailingStore::Rotate(const store::Rotation& rotation) {
  if (auto failure = Injected(kRotate)) return *failure;
  return ForwardingStore::Rotate(rotation);
}

core::Result<store::SecretLookup> FailingStore::LookupSecret(std::string_view secret_hash) {
  if (auto failure = Injected(kLookupSecret)) return *failure;
  return ForwardingStore::LookupSecret(secret_hash);
}

std::optional<core::Result<store::SecretLookup>> FailingStore::TryLookupSecret(
    std::string_view secret_hash) {
  if (auto failure = Injected(kLookupSecret)) return core::Result<store::SecretLookup>(*failure);
  return ForwardingStore::TryLookupSecret(secret_hash);
}

core::Result<store::FamilyRevocation> FailingStore::RevokeFamily(std::string_view family_id,
                                                                 std::string_view secret_hash,
                                                                 core::EpochMillis now) {
  if (auto failure = Injected(kRevokeFamily)) return *failure;
  return ForwardingStore::RevokeFamily(family_id, secret_hash, now);
}

core::Result<store::SweepCounts> FailingStore::SweepRotations(core::EpochMillis now) {
  if (auto failure = Injected(kSweepRotations)) return *failure;
  return ForwardingStore::SweepRotations(now);
}

core::Result<std::int64_t> FailingStore::RecordExpiryNotices(const store::NoticeScan& scan) {
  if (auto failure = Injected(kRecordExpiryNotices)) return *failure;
  return ForwardingStore::RecordExpiryNotices(scan);
}

core::Result<store::AuditPage> FailingStore::QueryAudit(const store::AuditQuery& query,
                                                        const core::Visibility& visibility,
                                                        std::int64_t limit, std::int64_t offset,
                                                        bool count_total) {
  if (auto failure = Injected(kQueryAudit)) return *failure;
  return ForwardingStore::QueryAudit(query, visibility, limit, offset, count_total);
}

core::Result<std::int64_t> FailingStore::PruneAudit(core::EpochMillis before) {
  if (auto failure = Injected(kPruneAudit)) return *failure;
  return ForwardingStore::PruneAudit(before);
}

core::Result<store::ChainReport> FailingStore::VerifyAudit(core::EpochMillis removable_before) {
  if (auto failure = Injected(kVerifyAudit)) return *failure;
  return ForwardingStore::VerifyAudit(removable_before);
}

core::Result<std::vector<store::Delivery>> FailingStore::ClaimDeliveries(
    core::EpochMillis now, std::int64_t lease_millis, int max,
    const std::vector<std::string>& skipped_urls) {
  if (auto failure = Injected(kClaimDeliveries)) return *failure;
  return ForwardingStore::ClaimDeliveries(now, lease_millis, max, skipped_urls);
}

core::Status FailingStore::FinishDelivery(const store::Delivery& delivery,
                                          const store::DeliveryOutcome& outcome) {
  if (auto failure = Injected(kFinishDelivery)) return *failure;
  return ForwardingStore::FinishDelivery(delivery, outcome);
}

core::Result<store::OutboxStats> FailingStore::GetOutboxStats() {
  if (auto failure = Injected(kGetOutboxStats)) return *failure;
  return ForwardingStore::GetOutboxStats();
}

}  // namespace tokend::testing
