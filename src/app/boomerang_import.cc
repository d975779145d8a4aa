#include "app/boomerang_import.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <unordered_set>
#include <utility>

#include "core/create_request.h"
#include "core/object_id.h"
#include "core/permission.h"
#include "core/secret.h"
#include "core/text.h"
#include "core/time.h"

namespace tokend::app {
namespace {

namespace json = boost::json;
using core::Result;
using core::Status;

Status FieldError(std::string_view field, std::string_view what) {
  return Status::InvalidArgument("field '" + std::string(field) + "' " + std::string(what));
}

bool IsAbsent(const json::value* value) { return value == nullptr || value->is_null(); }

// Text every store keeps unchanged (valid UTF-8 is guaranteed by the JSON
// parser; NUL can still arrive as \u0000), within `max_code_points`.
Status CheckText(std::string_view field, std::string_view text, std::size_t max_code_points) {
  if (core::HasNul(text)) {
    return FieldError(field, "must not contain a NUL character");
  }
  if (core::CountCodePoints(text) > max_code_points) {
    return FieldError(field, "must be at most " + std::to_string(max_code_points) + " characters");
  }
  return Status::Ok();
}

// A string field, or InvalidArgument when present and not a string.
Result<std::optional<std::string>> OptionalString(const json::object& document,
                                                  std::string_view field) {
  const json::value* value = document.if_contains(field);
  if (IsAbsent(value)) return std::optional<std::string>();
  if (!value->is_string()) return FieldError(field, "must be a string");
  return std::optional<std::string>(std::string(value->get_string()));
}

std::optional<core::EpochMillis> Int64Of(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64() && value.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<core::EpochMillis>(value.get_uint64());
  }
  return std::nullopt;
}

// {"$numberLong": "123"} (canonical) or {"$numberInt": "123"}.
std::optional<core::EpochMillis> WrappedInt64(const json::object& object) {
  if (object.size() != 1) return std::nullopt;
  const json::value* text = object.if_contains("$numberLong");
  if (text == nullptr) text = object.if_contains("$numberInt");
  if (text == nullptr || !text->is_string()) return std::nullopt;
  return core::ParseInt64(std::string_view(text->get_string()));
}

// Every form a date takes in mongoexport's output (and a bare ISO string or
// number, should a document hold one): {"$date": "ISO"}, {"$date": ms},
// {"$date": {"$numberLong": "ms"}}, "ISO", ms, {"$numberLong": "ms"}.
std::optional<core::EpochMillis> DateOf(const json::value& value) {
  const json::value* inner = &value;
  if (value.is_object()) {
    const json::object& object = value.get_object();
    if (object.size() == 1 && object.contains("$date")) {
      inner = &object.at("$date");
    }
  }
  if (inner->is_string()) return core::ParseDateString(std::string_view(inner->get_string()));
  if (inner->is_object()) return WrappedInt64(inner->get_object());
  return Int64Of(*inner);
}

Result<std::optional<core::EpochMillis>> OptionalDate(const json::object& document,
                                                      std::string_view field) {
  const json::value* value = document.if_contains(field);
  if (IsAbsent(value)) return std::optional<core::EpochMillis>();
  const std::optional<core::EpochMillis> date = DateOf(*value);
  if (!date) {
    return FieldError(field,
                      "must be a date: {\"$date\": ...} as mongoexport writes it, an ISO-8601 "
                      "string or epoch milliseconds");
  }
  // Responses write dates with a four-digit year, from 1970 on (Boomerang
  // never stored earlier ones).
  if (*date < 0 || *date > core::kMaxExpirationDate) {
    return FieldError(field, "must be between 1970-01-01 and 9999-12-31");
  }
  return std::optional<core::EpochMillis>(*date);
}

Result<std::string> IdOf(const json::object& document) {
  const json::value* value = document.if_contains("_id");
  if (IsAbsent(value)) return FieldError("_id", "is required");
  const json::value* text = value;
  if (value->is_object()) {
    const json::object& object = value->get_object();
    if (object.size() == 1 && object.contains("$oid")) text = &object.at("$oid");
  }
  if (!text->is_string() || !core::IsObjectId(std::string_view(text->get_string()))) {
    return FieldError("_id", "must be an ObjectId: 24 lowercase hex characters");
  }
  return std::string(text->get_string());
}

// The hex SHA-256 of the secret. Upper-case digits name the same digest, so
// they are taken, written in lower case as tokend hashes secrets.
Result<std::string> SecretHashOf(const json::object& document) {
  const json::value* value = document.if_contains("token");
  if (IsAbsent(value)) return FieldError("token", "is required (the hex SHA-256 of the secret)");
  if (!value->is_string()) return FieldError("token", "must be a string");
  std::string hash(value->get_string());
  const bool hex = std::all_of(hash.begin(), hash.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
  if (hash.size() != core::kSecretHashLength || !hex) {
    return FieldError("token", "must be the hex SHA-256 of the secret: 64 hex characters");
  }
  std::transform(hash.begin(), hash.end(), hash.begin(), [](char c) {
    return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return hash;
}

// tokend gives a token exactly one ResolvedPermissions entry: its own type as
// scope, its own principal ("**" for global). Entries with that scope and
// principal are merged (their union grants what each granted); any other
// entry would grant what tokend cannot express, so the document is refused.
Result<std::vector<std::string>> ActionsOf(const json::object& document, const core::Token& token) {
  std::vector<std::string> actions;
  const json::value* value = document.if_contains("permissions");
  if (!IsAbsent(value)) {
    if (!value->is_array()) return FieldError("permissions", "must be a list");
    const json::array& entries = value->get_array();
    const std::string own_principal = token.principal.value_or("**");
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const std::string field = "permissions[" + std::to_string(i) + "]";
      if (!entries[i].is_object()) {
        return FieldError(field, "must be an object {scope, principal, actions}");
      }
      const json::object& entry = entries[i].get_object();
      const json::value* scope = entry.if_contains("scope");
      if (IsAbsent(scope) || !scope->is_string()) {
        return FieldError(field + ".scope", "must be a string");
      }
      if (std::string_view(scope->get_string()) != core::ToString(token.type)) {
        return FieldError(field + ".scope",
                          "is " + core::QuoteForMessage(std::string_view(scope->get_string())) +
                              " but the token's type is '" +
                              std::string(core::ToString(token.type)) +
                              "': a tokend token acts only in its own scope");
      }
      const json::value* principal = entry.if_contains("principal");
      const bool global_without = token.type == core::TokenType::kGlobal && IsAbsent(principal);
      if (!global_without) {
        if (IsAbsent(principal) || !principal->is_string()) {
          return FieldError(field + ".principal", "must be a string");
        }
        if (std::string_view(principal->get_string()) != own_principal) {
          return FieldError(field + ".principal",
                            "is " +
                                core::QuoteForMessage(std::string_view(principal->get_string())) +
                                " but must be the token's own principal (" +
                                core::QuoteForMessage(own_principal) +
                                "): a tokend token acts only for its own principal");
        }
      }
      const json::value* list = entry.if_contains("actions");
      if (IsAbsent(list)) continue;
      if (!list->is_array()) return FieldError(field + ".actions", "must be a list of strings");
      for (const json::value& action : list->get_array()) {
        if (!action.is_string() ||
            !core::IsValidPermission(std::string_view(action.get_string()))) {
          const std::string shown =
              action.is_string() ? core::QuoteForMessage(std::string_view(action.get_string()))
                                 : std::string("a non-string");
          return FieldError(field + ".actions",
                            "holds " + shown +
                                ", not a permission 'resource/action' with a known resource and "
                                "an action of read, write, action, delete or **");
        }
        std::string text(action.get_string());
        if (std::find(actions.begin(), actions.end(), text) == actions.end()) {
          actions.push_back(std::move(text));
        }
      }
    }
  }
  if (actions.size() > core::kMaxPermissions) {
    return FieldError("permissions", "must hold at most " + std::to_string(core::kMaxPermissions) +
                                         " permissions");
  }
  const bool needs_permissions = token.type == core::TokenType::kGlobal ||
                                 token.type == core::TokenType::kTeam ||
                                 token.type == core::TokenType::kWorkflow;
  if (needs_permissions && actions.empty()) {
    return FieldError("permissions", "must grant at least one permission for type '" +
                                         std::string(core::ToString(token.type)) + "'");
  }
  return actions;
}

Result<core::Token> TokenOf(const json::object& document, core::EpochMillis now) {
  core::Token token;

  Result<std::string> id = IdOf(document);
  if (!id.ok()) return id.status();
  token.id = std::move(id).value();

  const json::value* type = document.if_contains("type");
  if (IsAbsent(type)) return FieldError("type", "is required");
  if (!type->is_string()) return FieldError("type", "must be a string");
  const std::optional<core::TokenType> parsed_type =
      core::ParseTokenType(std::string_view(type->get_string()));
  if (!parsed_type) {
    return FieldError("type", "is " + core::QuoteForMessage(std::string_view(type->get_string())) +
                                  "; expected one of global, team, workflow, user, session");
  }
  token.type = *parsed_type;

  Result<std::optional<std::string>> name = OptionalString(document, "name");
  if (!name.ok()) return name.status();
  if (!*name && token.type == core::TokenType::kSession) {
    *name = std::string("session");  // Boomerang's session tokens have no name
  }
  if (!*name) return FieldError("name", "is required");
  if (Status s = CheckText("name", **name, core::kMaxNameCodePoints); !s.ok()) return s;
  if (core::TrimAsciiSpace(**name).empty()) return FieldError("name", "must not be blank");
  token.name = std::move(**name);

  Result<std::optional<std::string>> description = OptionalString(document, "description");
  if (!description.ok()) return description.status();
  if (*description) {
    if (Status s = CheckText("description", **description, core::kMaxDescriptionCodePoints);
        !s.ok()) {
      return s;
    }
  }
  token.description = std::move(description).value();

  // A global token has no principal, whatever the document says (as on create).
  if (token.type != core::TokenType::kGlobal) {
    Result<std::optional<std::string>> principal = OptionalString(document, "principal");
    if (!principal.ok()) return principal.status();
    if (!*principal) {
      return FieldError("principal",
                        "is required for type '" + std::string(core::ToString(token.type)) + "'");
    }
    if ((*principal)->size() > core::kMaxPrincipalBytes) {
      return FieldError("principal",
                        "must be at most " + std::to_string(core::kMaxPrincipalBytes) + " bytes");
    }
    if (Status s = CheckText("principal", **principal, core::kMaxPrincipalBytes); !s.ok()) {
      return s;
    }
    if (const std::optional<std::string_view> problem =
            core::NonGlobalPrincipalProblem(**principal)) {
      return FieldError("principal", *problem);
    }
    token.principal = std::move(principal).value();
  }

  Result<std::optional<core::EpochMillis>> created = OptionalDate(document, "creationDate");
  if (!created.ok()) return created.status();
  if (!*created) return FieldError("creationDate", "is required");
  // A token cannot have been made after it was exported. Audit verify also
  // relies on it: a token's token.created, written at the import, is kept
  // by retention at least as long as the token's own creation date.
  if (**created > now) return FieldError("creationDate", "is in the future");
  token.creation_date = **created;

  // Null or absent: never expires. A date in the past is kept: the token is
  // imported expired (valid: false), as Boomerang showed it.
  Result<std::optional<core::EpochMillis>> expires = OptionalDate(document, "expirationDate");
  if (!expires.ok()) return expires.status();
  token.expiration_date = *expires;

  Result<std::vector<std::string>> actions = ActionsOf(document, token);
  if (!actions.ok()) return actions.status();
  token.actions = std::move(actions).value();

  Result<std::string> hash = SecretHashOf(document);
  if (!hash.ok()) return hash.status();
  token.secret_hash = std::move(hash).value();
  return token;
}

Result<core::Token> TokenOfValue(const json::value& value, core::EpochMillis now) {
  if (!value.is_object()) return Status::InvalidArgument("the document is not a JSON object");
  return TokenOf(value.get_object(), now);
}

// Adds one document's outcome to `result`, skipping repeats within the file.
class ExportBuilder {
 public:
  explicit ExportBuilder(BoomerangExport& result) : result_(result) {}

  void Add(std::string where, Result<core::Token> token) {
    ++result_.documents;
    if (!token.ok()) {
      result_.rejected.push_back({std::move(where), token.status().message()});
      return;
    }
    if (ids_.contains(token->id) || hashes_.contains(token->secret_hash)) {
      ++result_.repeated;
      return;
    }
    ids_.insert(token->id);
    hashes_.insert(token->secret_hash);
    result_.tokens.push_back(std::move(token).value());
  }

 private:
  BoomerangExport& result_;
  std::unordered_set<std::string> ids_;
  std::unordered_set<std::string> hashes_;
};

// 1-based line of byte `offset` in `text`.
std::size_t LineAt(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

void ReadArray(std::string_view text, core::EpochMillis now, BoomerangExport& result) {
  result.json_array = true;
  json::parser parser;
  boost::system::error_code ec;
  // write() takes the whole text as one JSON value: trailing data is an error.
  const std::size_t used = parser.write(text.data(), text.size(), ec);
  if (ec) {
    result.rejected.push_back({"line " + std::to_string(LineAt(text, used)),
                               "the JSON array does not parse: " + ec.message()});
    return;
  }
  const json::value value = parser.release();
  if (!value.is_array()) {
    result.rejected.push_back({"line 1", "the file starts with '[' but is not a JSON array"});
    return;
  }
  ExportBuilder builder(result);
  const json::array& documents = value.get_array();
  for (std::size_t i = 0; i < documents.size(); ++i) {
    builder.Add("document " + std::to_string(i + 1), TokenOfValue(documents[i], now));
  }
}

std::size_t NewlinesIn(std::string_view text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Where reading resumes after a document starting at `start` broke: the first
// later line that starts with '{', or the end. Only an unindented '{' counts,
// because a pretty-printed document starts there while the objects nested in
// it (the permissions) are indented; a one-line document's next line is the
// next document either way.
std::size_t NextDocumentStart(std::string_view text, std::size_t start) {
  std::size_t newline = text.find('\n', start);
  while (newline != std::string_view::npos) {
    if (newline + 1 < text.size() && text[newline + 1] == '{') return newline + 1;
    newline = text.find('\n', newline + 1);
  }
  return text.size();
}

// Why the document starting at `start` (on `line`) is rejected, when the
// parser stopped `used` bytes into it and reading resumes at `next`. Names the
// line where it broke and the lines skipped, so that nothing is lost unseen.
std::string BrokenDocumentReason(std::string_view text, std::size_t start, std::size_t line,
                                 std::size_t used, std::size_t next,
                                 const boost::system::error_code& ec) {
  std::string reason = "the document is not valid JSON";
  const std::size_t broken_line = line + NewlinesIn(text.substr(start, used));
  if (broken_line != line) reason += " at line " + std::to_string(broken_line);
  reason += ": " + ec.message();
  std::size_t last = next;
  while (last > start && core::IsAsciiSpace(text[last - 1])) --last;
  const std::size_t last_line = line + NewlinesIn(text.substr(start, last - start));
  if (last_line != line) {
    reason += "; lines " + std::to_string(line) + " to " + std::to_string(last_line) +
              " are skipped (reading resumes at the next line that starts with '{')";
  }
  return reason;
}

// Moves `offset` past the blanks there, `line` past their newlines.
void SkipBlanks(std::string_view text, std::size_t& offset, std::size_t& line) {
  while (offset < text.size() && core::IsAsciiSpace(text[offset])) {
    if (text[offset] == '\n') ++line;
    ++offset;
  }
}

// After a document, past the blanks and the one comma that may follow it:
// the items of a JSON array written without its brackets, one per line, are
// documents one after another too. With no comma there, nothing moves.
void SkipOneSeparator(std::string_view text, std::size_t& offset, std::size_t& line) {
  std::size_t at = offset;
  std::size_t at_line = line;
  SkipBlanks(text, at, at_line);
  if (at == text.size() || text[at] != ',') return;
  offset = at + 1;
  line = at_line;
}

// JSON documents one after another, as mongoexport writes them without
// --jsonArray: one per line, or each over several lines with --pretty; several
// on one line are read too.
void ReadDocuments(std::string_view text, core::EpochMillis now, BoomerangExport& result) {
  ExportBuilder builder(result);
  json::parser parser;
  std::size_t offset = 0;
  std::size_t line = 1;  // the line holding `offset`
  while (true) {
    SkipBlanks(text, offset, line);
    if (offset == text.size()) return;
    std::string where = "line " + std::to_string(line);
    parser.reset();
    boost::system::error_code ec;
    // write_some() stops after one complete value and says how far it read.
    const std::size_t used = parser.write_some(text.data() + offset, text.size() - offset, ec);
    if (!ec) {
      builder.Add(std::move(where), TokenOfValue(parser.release(), now));
      line += NewlinesIn(text.substr(offset, used));
      offset += used;
      SkipOneSeparator(text, offset, line);
      continue;
    }
    const std::size_t next = NextDocumentStart(text, offset);
    builder.Add(std::move(where),
                Status::InvalidArgument(BrokenDocumentReason(text, offset, line, used, next, ec)));
    line += NewlinesIn(text.substr(offset, next - offset));
    offset = next;
  }
}

}  // namespace

Result<core::Token> ParseBoomerangToken(std::string_view document, core::EpochMillis now) {
  boost::system::error_code ec;
  const json::value value = json::parse(document, ec);
  if (ec) return Status::InvalidArgument("the document is not valid JSON: " + ec.message());
  return TokenOfValue(value, now);
}

BoomerangExport ParseBoomerangExport(std::string_view text, core::EpochMillis now) {
  BoomerangExport result;
  // Editors save one; it is not JSON and holds no newline, so lines keep
  // their numbers.
  if (text.starts_with(core::kUtf8ByteOrderMark)) {
    text.remove_prefix(core::kUtf8ByteOrderMark.size());
  }
  const std::string_view content = core::TrimAsciiSpace(text);
  if (!content.empty() && content.front() == '[') {
    ReadArray(text, now, result);
  } else {
    ReadDocuments(text, now, result);
  }
  return result;
}

}  // namespace tokend::app
