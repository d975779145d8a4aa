// The hash chains of the audit trail, shared by both backends: linking new
// events into a writer's chain, and checking a stored chain
// (`tokend audit verify`). No I/O: the backends read and write the rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "store/token_store.h"

namespace tokend::store {

// A random writer id part: 16 lowercase hex characters, new at every store
// open, so that a restart starts a new chain.
std::string NewWriterInstanceId();

// The subject of an event the store makes itself, from a token row's id,
// type, principal and name columns (an unknown type reads as global).
core::EventSubject SubjectFromColumns(std::string id, std::string_view type,
                                      std::optional<std::string> principal, std::string name);

// token.revoked about `subject`, with `reason`, made at `now`.
core::AuditEvent RevokedEvent(core::EventSubject subject, std::string_view reason,
                              const core::EventOrigin& origin, core::EpochMillis now);

// A retired secret's subject columns (null in rows from before they existed).
struct RetiredSubject {
  std::string token_id;
  std::optional<std::string> type;
  std::optional<std::string> principal;
  std::optional<std::string> name;
};

// The events of a first reuse detection (API 7.3): token.reuse_detected
// about the retired secret's token, then token.revoked (reason "reuse") for
// each deleted member of its family; system events at `now`. A retired row
// without subject columns takes them from a deleted member (a family shares
// type, principal and name), else global and "".
std::vector<core::AuditEvent> ReuseEvents(const RetiredSubject& retired,
                                          const std::vector<core::EventSubject>& deleted,
                                          core::EpochMillis now);

// Where a writer's chain ends: its last event's seq and hash (0 and
// core::kChainGenesis before its first event).
struct ChainTail {
  std::string writer;
  std::int64_t seq = 0;
  std::string hash = std::string(core::kChainGenesis);
};

// One audit_events row, ready to be written, and its webhook body.
struct EventRow {
  std::string id;
  std::string writer;
  std::int64_t seq = 0;
  core::EpochMillis time = 0;
  std::string action;
  std::string subject_id;
  std::string subject_type;
  std::optional<std::string> subject_principal;
  std::string body;  // the canonical JSON
  std::string prev_hash;
  std::string hash;
  std::string payload;  // the webhook body
};

// Events linked, in order, after a chain's tail within one transaction. The
// store keeps the tail it started from until the transaction commits, then
// takes tail() as the chain's new end; a rolled-back transaction leaves the
// chain where it was.
class ChainAppender {
 public:
  explicit ChainAppender(ChainTail tail) : tail_(std::move(tail)) {}

  // Links `event` after the current end and returns its row.
  EventRow Append(const core::AuditEvent& event);

  const ChainTail& tail() const { return tail_; }
  bool empty() const { return !first_seq_; }
  // The first event linked by this appender and the hash it links to: the
  // chain's head, when this transaction starts the chain.
  std::int64_t first_seq() const { return first_seq_.value_or(0); }
  const std::string& first_prev_hash() const { return first_prev_hash_; }

 private:
  ChainTail tail_;
  std::optional<std::int64_t> first_seq_;
  std::string first_prev_hash_;
};

// An audit_chains row. Once retention has removed the chain's first events,
// the record keeps the last event it removed (its canonical JSON and the
// hash it linked to): that event's hash is first_prev_hash, so its time is
// proof of when the removed events were made.
struct ChainRecord {
  std::string writer;
  std::int64_t first_seq = 1;
  std::string first_prev_hash;
  std::int64_t last_seq = 0;
  std::string last_hash;
  std::optional<std::string> last_removed_body;
  std::optional<std::string> last_removed_prev_hash;
};

// What a retention pass records about the events it removes from the head
// of a chain: the last of them.
struct RemovedHead {
  std::string body;
  std::string prev_hash;
};

// An audit_events row as stored.
struct StoredEvent {
  std::string id;
  std::int64_t seq = 0;
  core::EpochMillis time = 0;
  std::string action;
  std::string subject_id;
  std::string subject_type;
  std::optional<std::string> subject_principal;
  std::string body;
  std::string prev_hash;
  std::string hash;
};

// Checks one writer's chain, fed its events in seq order. Stops at the first
// break (Add returns false from then on); the reason never holds a hash.
class ChainChecker {
 public:
  // `record`: the chain's audit_chains row; nullopt for events whose writer
  // has none (which is itself a break). `removable_before`: events older
  // than this may have been removed by retention; a chain whose first events
  // are gone must show, by its record of the last one removed, that they all
  // were older.
  ChainChecker(std::string writer, std::optional<ChainRecord> record,
               core::EpochMillis removable_before);

  bool Add(const StoredEvent& event);
  // After the last event: checks that the chain ends where its record says.
  void Finish();

  bool broken() const { return !problem_.empty(); }
  const std::string& broken_event_id() const { return broken_event_id_; }
  const std::string& problem() const { return problem_; }
  std::int64_t events() const { return events_; }

 private:
  void Break(std::string event_id, std::string_view why);
  void CheckRemovedHead(core::EpochMillis removable_before);

  std::string writer_;
  std::optional<ChainRecord> record_;
  std::int64_t expected_seq_ = 1;
  std::string expected_prev_;
  std::string last_id_;  // the last event checked
  std::int64_t events_ = 0;
  std::string broken_event_id_;
  std::string problem_;
};

// What verify reports when token `token_id`, created within the retention
// period, has no token.created event in any chain (and is not one of the
// tokens stored before every token had one): its chain, or that chain's
// last events, were removed together with their record.
std::string MissingCreationProblem(std::string_view token_id);

}  // namespace tokend::store
