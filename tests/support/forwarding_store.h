// A TokenStore that forwards every call to another store: the base of test
// decorators that change one aspect of a real store and keep the rest.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/token_store.h"

namespace tokend::testing {

class ForwardingStore : public store::TokenStore {
 public:
  // Owns `inner`, which must not be null.
  explicit ForwardingStore(std::unique_ptr<store::TokenStore> inner) : inner_(std::move(inner)) {}

  core::Status Insert(const core::Token& token, std::span<const core::AuditEvent> events) override {
    return inner_->Insert(token, events);
  }
  bool QueuesInserts() const override { return inner_->QueuesInserts(); }
  void SubmitInsert(const core::Token& token, std::span<const core::AuditEvent> events,
                    std::function<void(core::Status)> done) override {
    inner_->SubmitInsert(token, events, std::move(done));
  }
  core::Status InsertMany(std::span<const core::Token> tokens) override {
    return inner_->InsertMany(tokens);
  }
  core::Result<core::Token> FindById(std::string_view id) override { return inner_->FindById(id); }
  core::Result<core::Token> FindBySecretHash(std::string_view secret_hash) override {
    return inner_->FindBySecretHash(secret_hash);
  }
  core::Status Delete(std::string_view id, std::span<const core::AuditEvent> events) override {
    return inner_->Delete(id, events);
  }
  core::Result<std::vector<std::string>> DeleteMatching(const core::TokenQuery& query,
                                                        const core::Visibility& visibility,
                                                        const core::EventOrigin& origin,
                                                        core::EpochMillis now) override {
    return inner_->DeleteMatching(query, visibility, origin, now);
  }
  core::Result<store::TokenPage> Query(const core::TokenQuery& query,
                                       const core::Visibility& visibility, std::int64_t limit,
                                       std::int64_t offset, bool count_total) override {
    return inner_->Query(query, visibility, limit, offset, count_total);
  }
  core::Result<std::vector<std::pair<core::TokenType, std::int64_t>>> CountByType() override {
    return inner_->CountByType();
  }
  core::Status Ping() override { return inner_->Ping(); }
  core::Status AfterBulkLoad() override { return inner_->AfterBulkLoad(); }
  void SetChangeListener(store::ChangeListener* listener) override {
    inner_->SetChangeListener(listener);
  }
  bool IsShared() const override { return inner_->IsShared(); }
  core::Result<std::int64_t> InsertAbsent(std::span<const core::Token> tokens,
                                          std::span<const core::AuditEvent> events) override {
    return inner_->InsertAbsent(tokens, events);
  }
  core::Result<bool> KnownToImports(std::string_view id, std::string_view secret_hash) override {
    return inner_->KnownToImports(id, secret_hash);
  }
  core::Status RecordUses(std::span<const store::TokenUse> uses) override {
    return inner_->RecordUses(uses);
  }
  core::Status Rotate(const store::Rotation& rotation) override { return inner_->Rotate(rotation); }
  core::Result<store::SecretLookup> LookupSecret(std::string_view secret_hash) override {
    return inner_->LookupSecret(secret_hash);
  }
  bool MayHoldSecret(std::string_view secret_hash) const override {
    return inner_->MayHoldSecret(secret_hash);
  }
  std::optional<core::Result<store::SecretLookup>> TryLookupSecret(
      std::string_view secret_hash) override {
    return inner_->TryLookupSecret(secret_hash);
  }
  core::Result<store::FamilyRevocation> RevokeFamily(std::string_view family_id,
                                                     std::string_view secret_hash,
                                                     core::EpochMillis now) override {
    return inner_->RevokeFamily(family_id, secret_hash, now);
  }
  core::Result<store::SweepCounts> SweepRotations(core::EpochMillis now) override {
    return inner_->SweepRotations(now);
  }
  core::Result<std::int64_t> RecordExpiryNotices(const store::NoticeScan& scan) override {
    return inner_->RecordExpiryNotices(scan);
  }
  core::Result<store::AuditPage> QueryAudit(const store::AuditQuery& query,
                                            const core::Visibility& visibility, std::int64_t limit,
                                            std::int64_t offset, bool count_total) override {
    return inner_->QueryAudit(query, visibility, limit, offset, count_total);
  }
  core::Result<std::int64_t> PruneAudit(core::EpochMillis before) override {
    return inner_->PruneAudit(before);
  }
  core::Result<store::ChainReport> VerifyAudit(core::EpochMillis removable_before) override {
    return inner_->VerifyAudit(removable_before);
  }
  core::Result<std::vector<store::Delivery>> ClaimDeliveries(
      core::EpochMillis now, std::int64_t lease_millis, int max,
      const std::vector<std::string>& skipped_urls) override {
    return inner_->ClaimDeliveries(now, lease_millis, max, skipped_urls);
  }
  core::Status FinishDelivery(const store::Delivery& delivery,
                              const store::DeliveryOutcome& outcome) override {
    return inner_->FinishDelivery(delivery, outcome);
  }
  core::Result<store::OutboxStats> GetOutboxStats() override { return inner_->GetOutboxStats(); }

  store::TokenStore& inner() { return *inner_; }

 private:
  std::unique_ptr<store::TokenStore> inner_;
};

}  // namespace tokend::testing
