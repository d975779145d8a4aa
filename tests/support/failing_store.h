// FailingStore: a real TokenStore whose chosen methods fail on demand, to
// test how callers (service, HTTP, store users) behave when the store fails
// half-way through their work, without breaking a real database.
//
//   auto store = testing::FailingStore::Open("sqlite::memory:");
//   service::TokenService service(**store, options);
//   (*store)->Fail(FailingStore::kWrites);            // every write: 503
//   (*store)->FailNext(FailingStore::kFindBySecretHash, 1);  // just the next lookup
//   (*store)->Heal();                                 // all back to normal
//
// A failing call does not reach the real store and returns the failure
// status (Unavailable, naming the method, unless SetFailure chose another);
// every other call is forwarded unchanged, listener registration included.
// The ids the last RecordUses call passed are kept, to check their order.
//
// Thread safety: every method, toggles included, may be called from any
// thread while calls are in flight; a toggle applies to calls that start
// after it returns.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/forwarding_store.h"

namespace tokend::testing {

class FailingStore final : public ForwardingStore {
 public:
  // One bit per TokenStore method; combine with |.
  using Methods = std::uint32_t;
  static constexpr Methods kInsert = 1u << 0;
  static constexpr Methods kInsertMany = 1u << 1;
  static constexpr Methods kFindById = 1u << 2;
  static constexpr Methods kFindBySecretHash = 1u << 3;
  static constexpr Methods kDelete = 1u << 4;
  static constexpr Methods kQuery = 1u << 5;
  static constexpr Methods kCountByType = 1u << 6;
  static constexpr Methods kPing = 1u << 7;
  static constexpr Methods kDeleteMatching = 1u << 8;
  static constexpr Methods kRecordUses = 1u << 9;
  static constexpr Methods kRotate = 1u << 10;
  static constexpr Methods kLookupSecret = 1u << 11;
  static constexpr Methods kRevokeFamily = 1u << 12;
  static constexpr Methods kSweepRotations = 1u << 13;
  static constexpr Methods kRecordExpiryNotices = 1u << 14;
  static constexpr Methods kQueryAudit = 1u << 15;
  static constexpr Methods kPruneAudit = 1u << 16;
  static constexpr Methods kVerifyAudit = 1u << 17;
  static constexpr Methods kClaimDeliveries = 1u << 18;
  static constexpr Methods kFinishDelivery = 1u << 19;
  static constexpr Methods kGetOutboxStats = 1u << 20;
  static constexpr Methods kWrites =
      kInsert | kInsertMany | kDelete | kDeleteMatching | kRecordUses | kRotate | kRevokeFamily |
      kSweepRotations | kRecordExpiryNotices | kPruneAudit | kClaimDeliveries | kFinishDelivery;
  static constexpr Methods kReads = kFindById | kFindBySecretHash | kQuery | kCountByType |
                                    kLookupSecret | kQueryAudit | kVerifyAudit | kGetOutboxStats;
  static constexpr Methods kAll = kWrites | kReads | kPing;

  explicit FailingStore(std::unique_ptr<store::TokenStore> inner);

  // Opens `url` with TokenStore::Open and wraps it, healthy.
  static core::Result<std::unique_ptr<FailingStore>> Open(std::string_view url);

  // Every call of `methods` fails from now until Heal.
  void Fail(Methods methods);
  // The next `count` calls of each method in `methods` fail (on top of Fail).
  void FailNext(Methods methods, int count);
  // `methods` work again: both Fail and pending FailNext are cleared.
  void Heal(Methods methods = kAll);
  // What failing calls return from now on. Default (and after an ok
  // status): Unavailable("injected store failure: <Method>").
  void SetFailure(core::Status status);

  // Calls of `method` (one bit) so far, failed or not / failed only.
  int Calls(Methods method) const;
  int Failures(Methods method) const;
  // The ids of the last RecordUses call, in the order they were passed.
  std::vector<std::string> LastRecordedIds() const;

  core::Status Insert(const core::Token& token, std::span<const core::AuditEvent> events) override;
  // Counted and failed as Insert (kInsert).
  void SubmitInsert(const core::Token& token, std::span<const core::AuditEvent> events,
                    std::function<void(core::Status)> done) override;
  core::Status InsertMany(std::span<const core::Token> tokens) override;
  core::Result<core::Token> FindById(std::string_view id) override;
  core::Result<core::Token> FindBySecretHash(std::string_view secret_hash) override;
  core::Status Delete(std::string_view id, std::span<const core::AuditEvent> events) override;
  core::Result<std::vector<std::string>> DeleteMatching(const core::TokenQuery& query,
                                                        const core::Visibility& visibility,
                                                        const core::EventOrigin& origin,
                                                        core::EpochMillis now) override;
  core::Result<store::TokenPage> Query(const core::TokenQuery& query,
                                       const core::Visibility& visibility, std::int64_t limit,
                                       std::int64_t offset, bool count_total) override;
  core::Result<std::vector<std::pair<core::TokenType, std::int64_t>>> CountByType() override;
  core::Status Ping() override;
  core::Status RecordUses(std::span<const store::TokenUse> uses) override;

  core::Status Rotate(const store::Rotation& rotation) override;
  core::Result<store::SecretLookup> LookupSecret(std::string_view secret_hash) override;
  // Counted and failed as LookupSecret (kLookupSecret).
  std::optional<core::Result<store::SecretLookup>> TryLookupSecret(
      std::string_view secret_hash) override;
  core::Result<store::FamilyRevocation> RevokeFamily(std::string_view family_id,
                                                     std::string_view secret_hash,
                                                     core::EpochMillis now) override;
  core::Result<store::SweepCounts> SweepRotations(core::EpochMillis now) override;
  core::Result<std::int64_t> RecordExpiryNotices(const store::NoticeScan& scan) override;
  core::Result<store::AuditPage> QueryAudit(const store::AuditQuery& query,
                                            const core::Visibility& visibility, std::int64_t limit,
                                            std::int64_t offset, bool count_total) override;
  core::Result<std::int64_t> PruneAudit(core::EpochMillis before) override;
  core::Result<store::ChainReport> VerifyAudit(core::EpochMillis removable_before) override;
  core::Result<std::vector<store::Delivery>> ClaimDeliveries(
      core::EpochMillis now, std::int64_t lease_millis, int max,
      const std::vector<std::string>& skipped_urls) override;
  core::Status FinishDelivery(const store::Delivery& delivery,
                              const store::DeliveryOutcome& outcome) override;
  core::Result<store::OutboxStats> GetOutboxStats() override;

 private:
  static constexpr int kMethodCount = 21;

  // Counts the call; the failure to return when this call of `method` fails.
  std::optional<core::Status> Injected(Methods method);

  std::atomic<Methods> failing_{0};
  std::array<std::atomic<int>, kMethodCount> fail_next_{};
  std::array<std::atomic<int>, kMethodCount> calls_{};
  std::array<std::atomic<int>, kMethodCount> failures_{};
  mutable std::mutex failure_mu_;
  std::optional<core::Status> failure_;  // guarded by failure_mu_; nullopt: the default
  mutable std::mutex recorded_mu_;
  std::vector<std::string> last_recorded_ids_;  // guarded by recorded_mu_
};

}  // namespace tokend::testing
