#include "store/audit_log.h"

#include <openssl/rand.h>

#include <array>
#include <utility>

#include "core/object_id.h"
#include "core/text.h"
#include "core/time.h"
#include "store/audit_json.h"

namespace tokend::store {

std::string NewWriterInstanceId() {
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Uniqueness, not secrecy, is what matters here: fall back on the clock
    // and the address of a local, which differ between opens.
    const auto now = static_cast<std::uint64_t>(core::NowMillis());
    const auto here = reinterpret_cast<std::uintptr_t>(&bytes);
    const std::uint64_t mixed = now * 0x9e3779b97f4a7c15ULL ^ here;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = static_cast<unsigned char>(mixed >> (8 * i));
    }
  }
  return core::LowerHex(bytes);
}

core::EventSubject SubjectFromColumns(std::string id, std::string_view type,
                                      std::optional<std::string> principal, std::string name) {
  core::EventSubject subject;
  subject.id = std::move(id);
  subject.type = core::ParseTokenType(type).value_or(core::TokenType::kGlobal);
  subject.principal = std::move(principal);
  subject.name = std::move(name);
  return subject;
}

core::AuditEvent RevokedEvent(core::EventSubject subject, std::string_view reason,
                              const core::EventOrigin& origin, core::EpochMillis now) {
  core::AuditEvent event;
  event.id = core::NewObjectId(now);
  event.time = now;
  event.action = core::AuditAction::kRevoked;
  event.subject = std::move(subject);
  event.origin = origin;
  event.reason = std::string(reason);
  return event;
}

std::vector<core::AuditEvent> ReuseEvents(const RetiredSubject& retired,
                                          const std::vector<core::EventSubject>& deleted,
                                          core::EpochMillis now) {
  std::vector<core::AuditEvent> events;
  events.reserve(deleted.size() + 1);
  core::AuditEvent detected;
  detected.id = core::NewObjectId(now);
  detected.time = now;
  detected.action = core::AuditAction::kReuseDetected;
  detected.subject.id = retired.token_id;
  if (retired.type) {
    detected.subject.type = core::ParseTokenType(*retired.type).value_or(core::TokenType::kGlobal);
    detected.subject.principal = retired.principal;
    detected.subject.name = retired.name.value_or("");
  } else if (!deleted.empty()) {
    detected.subject.type = deleted.front().type;
    detected.subject.principal = deleted.front().principal;
    detected.subject.name = deleted.front().name;
  }
  events.push_back(std::move(detected));
  for (const core::EventSubject& subject : deleted) {
    events.push_back(RevokedEvent(subject, core::kReasonReuse, core::EventOrigin::System(), now));
  }
  return events;
}

EventRow ChainAppender::Append(const core::AuditEvent& event) {
  EventRow row;
  row.id = event.id;
  row.writer = tail_.writer;
  row.seq = tail_.seq + 1;
  row.time = event.time;
  row.action = std::string(core::ToString(event.action));
  row.subject_id = event.subject.id;
  row.subject_type = std::string(core::ToString(event.subject.type));
  row.subject_principal = event.subject.principal;
  row.body = CanonicalEventJson(event);
  row.prev_hash = tail_.hash;
  row.hash = core::ChainHash(row.prev_hash, row.body);
  row.payload = WebhookPayload(event, ServedEventJson(row.body, row.hash));
  if (!first_seq_) {
    first_seq_ = row.seq;
    first_prev_hash_ = row.prev_hash;
  }
  tail_.seq = row.seq;
  tail_.hash = row.hash;
  return row;
}

ChainChecker::ChainChecker(std::string writer, std::optional<ChainRecord> record,
                           core::EpochMillis removable_before)
    : writer_(std::move(writer)), record_(std::move(record)) {
  if (record_) {
    expected_seq_ = record_->first_seq;
    expected_prev_ = record_->first_prev_hash;
    CheckRemovedHead(removable_before);
  }
}

// Retention removes a chain's head in the same way as a hand with write
// access can: the record of the last event removed tells them apart, since
// its hash is the one the kept chain links to and no other text has it.
void ChainChecker::CheckRemovedHead(core::EpochMillis removable_before) {
  if (record_->first_seq <= 1) return;  // nothing removed
  if (!record_->last_removed_body || !record_->last_removed_prev_hash) {
    Break("", "the chain's first events were removed with no record of the last one removed");
    return;
  }
  const std::optional<EventColumns> removed = ReadEventColumns(*record_->last_removed_body);
  if (!removed || core::ChainHash(*record_->last_removed_prev_hash, *record_->last_removed_body) !=
                      record_->first_prev_hash) {
    Break("", "the chain's record of its last removed event does not match the chain");
    return;
  }
  const std::optional<core::EpochMillis> time = core::ParseDateString(removed->time);
  if (!time || *time >= removable_before) {
    Break(removed->id,
          "the chain's first events up to this one were removed before the "
          "retention period ended (by hand, or by a shorter --audit-retention than "
          "the one verified with)");
  }
}

void ChainChecker::Break(std::string event_id, std::string_view why) {
  broken_event_id_ = std::move(event_id);
  problem_ = "chain " + writer_ + ": " + std::string(why);
}

bool ChainChecker::Add(const StoredEvent& event) {
  if (broken()) return false;
  ++events_;
  if (!record_) {
    Break(event.id, "the chain of this event has no record (its record was removed)");
    return false;
  }
  if (event.seq < expected_seq_) {
    Break(event.id, "the event lies before the chain's recorded first event");
    return false;
  }
  if (event.seq > expected_seq_) {
    Break(event.id, expected_seq_ == record_->first_seq
                        ? "the chain's first events before this one are missing"
                        : "events before this one are missing");
    return false;
  }
  if (event.hash != core::ChainHash(event.prev_hash, event.body)) {
    Break(event.id, "the event's hash does not match its content");
    return false;
  }
  if (event.prev_hash != expected_prev_) {
    Break(event.id, "the event does not link to the previous event of its chain");
    return false;
  }
  const std::optional<EventColumns> columns = ReadEventColumns(event.body);
  const EventColumns stored{event.id,           core::FormatSpringDate(event.time),
                            event.action,       event.subject_id,
                            event.subject_type, event.subject_principal};
  if (!columns || *columns != stored) {
    Break(event.id, "the event's columns differ from its recorded content");
    return false;
  }
  expected_seq_ = event.seq + 1;
  expected_prev_ = event.hash;
  last_id_ = event.id;
  return true;
}

void ChainChecker::Finish() {
  if (broken() || !record_) return;
  const std::int64_t last_seen = expected_seq_ - 1;
  if (last_seen < record_->last_seq) {
    Break(last_id_, last_id_.empty() ? "every event of the chain is missing"
                                     : "the chain's last events after this one are missing");
  } else if (last_seen > record_->last_seq) {
    Break(last_id_, "the chain holds events past its recorded last event");
  } else if (expected_prev_ != record_->last_hash) {
    Break(last_id_, "the chain's last event is not the one recorded");
  }
}

std::string MissingCreationProblem(std::string_view token_id) {
  return "token " + std::string(token_id) +
         " was created within the retention period but no chain holds its token.created "
         "event: events were removed together with their chain's record";
}

}  // namespace tokend::store
