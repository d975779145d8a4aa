// The JSON forms of an audit event (API 8.1, 8.2), shared by both backends:
// the canonical text an event's chain hash covers, the form the audit query
// answers and webhooks carry (the canonical text with "hash" added), and the
// webhook body. Also the reading back of a stored body, which `tokend audit
// verify` compares with the event's indexed columns.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/audit.h"

namespace tokend::store {

// Exactly, with no spaces and in this member order:
// {"id","time" (Spring date),"action","subject":{"id","type","principal"
// (null for none),"name"},"actor":{"id","type","principal"} (absent without
// an actor),"remoteAddress" (absent when null),"reason" (absent when null),
// "details":{...} (absent when empty, members in the event's order)}.
// The same event always gives the same text: its hash depends on it.
std::string CanonicalEventJson(const core::AuditEvent& event);

// `canonical` with "hash": `hash` appended as its last member: the event as
// GET /api/v2/token/audit answers it.
std::string ServedEventJson(std::string_view canonical, std::string_view hash);

// The webhook body: {"type":"<action>","timestamp":"<Spring date of the
// event's time>","data":<served>}.
std::string WebhookPayload(const core::AuditEvent& event, std::string_view served);

// The members of a stored body that an event's indexed columns repeat.
struct EventColumns {
  std::string id;
  std::string time;  // the Spring date text
  std::string action;
  std::string subject_id;
  std::string subject_type;
  std::optional<std::string> subject_principal;

  bool operator==(const EventColumns&) const = default;
};

// nullopt when `body` is not a JSON object holding those members with the
// right kinds.
std::optional<EventColumns> ReadEventColumns(std::string_view body);

}  // namespace tokend::store
