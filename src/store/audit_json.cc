#include "store/audit_json.h"

#include <boost/json.hpp>
#include <string>
#include <variant>

namespace tokend::store {
namespace {

namespace json = boost::json;

// A JSON string literal of `text`, escaped as Boost.JSON escapes it.
void AppendString(std::string& out, std::string_view text) {
  out += json::serialize(json::string_view(text.data(), text.size()));
}

void AppendMember(std::string& out, std::string_view name) {
  out += '"';
  out += name;  // member names are fixed ASCII identifiers
  out += "\":";
}

void AppendOptionalString(std::string& out, const std::optional<std::string>& text) {
  if (text) {
    AppendString(out, *text);
  } else {
    out += "null";
  }
}

std::optional<std::string> StringMember(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string(value->get_string());
}

}  // namespace

std::string CanonicalEventJson(const core::AuditEvent& event) {
  std::string out;
  out.reserve(256);
  out += '{';
  AppendMember(out, "id");
  AppendString(out, event.id);
  out += ',';
  AppendMember(out, "time");
  out += '"';
  core::AppendSpringDate(out, event.time);
  out += "\",";
  AppendMember(out, "action");
  AppendString(out, core::ToString(event.action));
  out += ',';
  AppendMember(out, "subject");
  out += '{';
  AppendMember(out, "id");
  AppendString(out, event.subject.id);
  out += ',';
  AppendMember(out, "type");
  AppendString(out, core::ToString(event.subject.type));
  out += ',';
  AppendMember(out, "principal");
  AppendOptionalString(out, event.subject.principal);
  out += ',';
  AppendMember(out, "name");
  AppendString(out, event.subject.name);
  out += '}';
  if (event.origin.actor) {
    const core::EventActor& actor = *event.origin.actor;
    out += ',';
    AppendMember(out, "actor");
    out += '{';
    AppendMember(out, "id");
    AppendString(out, actor.id);
    out += ',';
    AppendMember(out, "type");
    AppendString(out, core::ToString(actor.type));
    out += ',';
    AppendMember(out, "principal");
    AppendOptionalString(out, actor.principal);
    out += '}';
  }
  if (event.origin.remote_address) {
    out += ',';
    AppendMember(out, "remoteAddress");
    AppendString(out, *event.origin.remote_address);
  }
  if (event.reason) {
    out += ',';
    AppendMember(out, "reason");
    AppendString(out, *event.reason);
  }
  if (!event.details.empty()) {
    out += ',';
    AppendMember(out, "details");
    out += '{';
    bool first = true;
    for (const core::EventDetail& detail : event.details) {
      if (!first) out += ',';
      first = false;
      AppendString(out, detail.name);
      out += ':';
      if (const auto* text = std::get_if<std::string>(&detail.value)) {
        AppendString(out, *text);
      } else {
        out += std::to_string(std::get<std::int64_t>(detail.value));
      }
    }
    out += '}';
  }
  out += '}';
  return out;
}

std::string ServedEventJson(std::string_view canonical, std::string_view hash) {
  std::string out;
  out.reserve(canonical.size() + hash.size() + 12);
  // The canonical text always ends with the object's closing brace.
  out.append(canonical.substr(0, canonical.empty() ? 0 : canonical.size() - 1));
  out += ",\"hash\":";
  AppendString(out, hash);
  out += '}';
  return out;
}

std::string WebhookPayload(const core::AuditEvent& event, std::string_view served) {
  std::string out;
  out.reserve(served.size() + 96);
  out += "{\"type\":";
  AppendString(out, core::ToString(event.action));
  out += ",\"timestamp\":\"";
  core::AppendSpringDate(out, event.time);
  out += "\",\"data\":";
  out += served;
  out += '}';
  return out;
}

std::optional<EventColumns> ReadEventColumns(std::string_view body) {
  boost::system::error_code error;
  const json::value parsed = json::parse(json::string_view(body.data(), body.size()), error);
  if (error || !parsed.is_object()) return std::nullopt;
  const json::object& event = parsed.get_object();
  const json::value* subject_value = event.if_contains("subject");
  if (subject_value == nullptr || !subject_value->is_object()) return std::nullopt;
  const json::object& subject = subject_value->get_object();
  EventColumns columns;
  std::optional<std::string> id = StringMember(event, "id");
  std::optional<std::string> time = StringMember(event, "time");
  std::optional<std::string> action = StringMember(event, "action");
  std::optional<std::string> subject_id = StringMember(subject, "id");
  std::optional<std::string> subject_type = StringMember(subject, "type");
  const json::value* principal = subject.if_contains("principal");
  if (!id || !time || !action || !subject_id || !subject_type || principal == nullptr) {
    return std::nullopt;
  }
  if (principal->is_string()) {
    columns.subject_principal = std::string(principal->get_string());
  } else if (!principal->is_null()) {
    return std::nullopt;
  }
  columns.id = std::move(*id);
  columns.time = std::move(*time);
  columns.action = std::move(*action);
  columns.subject_id = std::move(*subject_id);
  columns.subject_type = std::move(*subject_type);
  return columns;
}

}  // namespace tokend::store
