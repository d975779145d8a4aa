#include "http/json_codec.h"

#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "core/text.h"

namespace tokend::http {
namespace {

namespace json = boost::json;

using core::ApiError;
using core::Result;
using core::Status;

constexpr std::string_view kInvalidTokenRequest =
    "Invalid Token request. Token type, name, and permissions are required. Principal is "
    "required for all but Global types.";
constexpr std::string_view kIntrospectShape =
    "Introspection body must be {\"token\": \"<secret>\"}.";
constexpr std::string_view kNotAnObject = "Request body must be a JSON object.";

// Doubles represent every integer up to 2^53 exactly; beyond that a JSON
// number such as 1e300 is not a meaningful millisecond count.
constexpr double kMaxExactDouble = 9007199254740992.0;

// ---------------------------------------------------------------------------
// Writing

// Whether any of the eight bytes of `word` needs more than a copy in a JSON
// string: a control character, a quote, a backslash, or a byte of 0x80 and
// up (UTF-8 beyond ASCII, checked a sequence at a time by the caller). Each
// byte's test is exact: the high bits are cleared before the additions, so
// no byte carries into the next.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

bool WordNeedsCare(std::uint64_t word) {
  const std::uint64_t high = word & kHighBits;
  const std::uint64_t low7 = word & ~kHighBits;
  const std::uint64_t control = (low7 + (kOnes * (0x80 - 0x20))) & kHighBits;  // >= 0x20?
  const std::uint64_t quote = ((low7 ^ (kOnes * '"')) + (kOnes * 0x7F)) & kHighBits;
  const std::uint64_t backslash = ((low7 ^ (kOnes * '\\')) + (kOnes * 0x7F)) & kHighBits;
  return (high | (control ^ kHighBits) | (quote ^ kHighBits) | (backslash ^ kHighBits)) != 0;
}

// Bytes a JSON string holds as they are: printable ASCII but the quote and
// the backslash.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// The length of the prefix of [p, end) made of plain bytes, eight at a time.
std::size_t PlainPrefix(const unsigned char* p, const unsigned char* end) {
  const unsigned char* start = p;
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if (WordNeedsCare(word)) break;
    p += 8;
  }
  while (p < end && kPlainByte[*p]) ++p;
  return static_cast<std::size_t>(p - start);
}

// Appends `text` escaped for the inside of a JSON string literal. Quotes,
// backslashes and control characters are escaped (the short forms Jackson
// uses where JSON has them, \u00XX otherwise); valid UTF-8 passes through
// unchanged, and a byte that is not part of a valid sequence becomes U+FFFD
// so the output is always valid.
void AppendEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  for (;;) {
    const std::size_t plain = PlainPrefix(p, end);
    out.append(reinterpret_cast<const char*>(p), plain);
    p += plain;
    if (p == end) return;
    const unsigned char c = *p;
    if (c >= 0x80) {
      const std::size_t n = core::Utf8SequenceLength(
          std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p)));
      if (n != 0) {
        out.append(reinterpret_cast<const char*>(p), n);
        p += n;
      } else {
        out.append("\\ufffd");
        ++p;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(escape, sizeof escape);
      }
    }
    ++p;
  }
}

// Appends `text` as a JSON string literal (see AppendEscaped).
void AppendString(std::string& out, std::string_view text) {
  out += '"';
  AppendEscaped(out, text);
  out += '"';
}

void AppendInt(std::string& out, std::int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void AppendBool(std::string& out, bool value) { out.append(value ? "true" : "false"); }

// Appends core::FormatSpringDate(millis) in quotes.
void AppendDate(std::string& out, core::EpochMillis millis) {
  out.push_back('"');
  core::AppendSpringDate(out, millis);
  out.push_back('"');
}

// A generous upper bound of one serialized Token, so the output buffer is
// allocated once.
std::size_t EstimateTokenBytes(const core::Token& token) {
  std::size_t bytes = 432 + token.id.size() + token.name.size();
  if (token.description) bytes += token.description->size();
  if (token.principal) bytes += 2 * token.principal->size();
  for (const std::string& action : token.actions) bytes += action.size() + 3;
  return bytes + bytes / 8;  // escapes
}

// The Token fields, without the surrounding braces, starting with `"id":`.
// lastUsedDate is the newer of the stored one and `used_at`.
void AppendTokenFields(std::string& out, const core::Token& token, core::EpochMillis now,
                       std::optional<core::EpochMillis> used_at) {
  out.append("\"id\":");
  AppendString(out, token.id);
  out.append(",\"type\":\"");
  out.append(core::ToString(token.type));
  out.append("\",\"name\":");
  AppendString(out, token.name);
  if (token.description) {
    out.append(",\"description\":");
    AppendString(out, *token.description);
  }
  out.append(",\"creationDate\":");
  AppendDate(out, token.creation_date);
  if (token.expiration_date) {
    out.append(",\"expirationDate\":");
    AppendDate(out, *token.expiration_date);
  }
  std::optional<core::EpochMillis> last_used = token.last_used_date;
  if (used_at && (!last_used || *last_used < *used_at)) last_used = used_at;
  if (last_used) {
    out.append(",\"lastUsedDate\":");
    AppendDate(out, *last_used);
  }
  out.append(",\"valid\":");
  AppendBool(out, token.IsValidAt(now));
  if (token.principal) {
    out.append(",\"principal\":");
    AppendString(out, *token.principal);
  }
  // token.Permissions(), written without copying it.
  out.append(",\"permissions\":[{\"scope\":\"");
  out.append(core::ToString(token.type));
  out.append("\",\"principal\":");
  AppendString(out, token.principal ? std::string_view(*token.principal) : std::string_view("**"));
  out.append(",\"actions\":[");
  for (std::size_t i = 0; i < token.actions.size(); ++i) {
    if (i != 0) out.push_back(',');
    AppendString(out, token.actions[i]);
  }
  out.append("]}]");
  if (token.rotated_from) {
    out.append(",\"rotatedFrom\":");
    AppendString(out, *token.rotated_from);
  }
  if (token.rotated_to) {
    out.append(",\"rotatedTo\":");
    AppendString(out, *token.rotated_to);
  }
}

void AppendToken(std::string& out, const core::Token& token, core::EpochMillis now) {
  out.push_back('{');
  AppendTokenFields(out, token, now, std::nullopt);
  out.push_back('}');
}

// Seconds since the epoch, rounded down (also before 1970).
std::int64_t FloorSeconds(core::EpochMillis millis) {
  return millis >= 0 ? millis / 1000 : -((-millis + 999) / 1000);
}

// RFC 7662 section 2.2's members, so that resource servers and gateways
// that know only the standard read the answer unchanged: the permissions as
// a space-separated `scope`, the principal as `sub`, seconds since the epoch
// (rounded down) for `iat` and `exp`.
void AppendRfc7662Members(std::string& out, const core::Token& token) {
  // The actions joined by spaces; escaping each one is escaping the whole,
  // since a space cannot end or begin an escape or a UTF-8 sequence.
  out.append(",\"scope\":\"");
  for (std::size_t i = 0; i < token.actions.size(); ++i) {
    if (i != 0) out += ' ';
    AppendEscaped(out, token.actions[i]);
  }
  out += '"';
  if (token.principal) {
    out.append(",\"sub\":");
    AppendString(out, *token.principal);
  }
  out.append(",\"iat\":");
  AppendInt(out, FloorSeconds(token.creation_date));
  if (token.expiration_date) {
    out.append(",\"exp\":");
    AppendInt(out, FloorSeconds(*token.expiration_date));
  }
  out.append(",\"token_type\":\"Bearer\"");
}

// [{"direction":..., "property":..., "ignoreCase":false, "nullHandling":"NATIVE", "ascending":...}]

// ---------------------------------------------------------------------------
// Parsing

std::string_view KindName(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

Status InvalidRequest(std::string_view detail) {
  std::string message;
  message.reserve(kInvalidTokenRequest.size() + 1 + detail.size());
  message.append(kInvalidTokenRequest).append(" ").append(detail);
  return Status::InvalidArgument(std::move(message), ApiError::kTokenInvalidRequest);
}

Status WrongType(std::string_view field, std::string_view expected, const json::value& found) {
  std::string detail;
  detail.append("Field '").append(field).append("' must be ").append(expected);
  detail.append(", not ").append(KindName(found)).append(".");
  return InvalidRequest(detail);
}

// True when every string and key in `value` is at most kMaxJsonStringBytes.
// Recursion is bounded by kMaxJsonDepth, which the parser enforces.
bool StringsWithinLimit(const json::value& value) {
  switch (value.kind()) {
    case json::kind::string:
      return value.get_string().size() <= kMaxJsonStringBytes;
    case json::kind::array:
      for (const json::value& element : value.get_array()) {
        if (!StringsWithinLimit(element)) return false;
      }
      return true;
    case json::kind::object:
      for (const json::key_value_pair& member : value.get_object()) {
        if (member.key().size() > kMaxJsonStringBytes) return false;
        if (!StringsWithinLimit(member.value())) return false;
      }
      return true;
    default:
      return true;
  }
}

// Parses one request body into a JSON value whose memory comes from a
// buffer inside this object (small bodies never touch the heap). The value
// is valid for the lifetime of the BodyParser.
class BodyParser {
 public:
  BodyParser()
      : resource_(arena_, sizeof arena_),
        parser_(json::storage_ptr(), Options(), scratch_, sizeof scratch_) {}
  BodyParser(const BodyParser&) = delete;
  BodyParser& operator=(const BodyParser&) = delete;

  // A JSON object, or InvalidArgument (1002) naming the problem and where
  // it is, never quoting the body.
  // One leading UTF-8 byte order mark is skipped, as Jackson does for the
  // clients tokend replaces (RFC 8259 section 8.1 lets a parser ignore it);
  // a byte named in a message still counts from the body's first byte.
  Status ParseObject(std::string_view body) {
    const std::size_t bom =
        body.starts_with(core::kUtf8ByteOrderMark) ? core::kUtf8ByteOrderMark.size() : 0;
    const std::string_view json_text = body.substr(bom);
    try {
      parser_.reset(json::storage_ptr(&resource_));
      boost::system::error_code ec;
      const std::size_t consumed = parser_.write(json_text.data(), json_text.size(), ec);
      if (ec) return ParseError(json_text, consumed, ec, bom);
      // Constructed, not assigned: assignment would copy into the default heap.
      value_.emplace(parser_.release());
    } catch (const std::exception&) {
      // Allocation failures; Boost.JSON reports everything else by error code.
      return Status::InvalidArgument("Request body could not be parsed as JSON.");
    }
    if (!value_->is_object()) return Status::InvalidArgument(std::string(kNotAnObject));
    if (!StringsWithinLimit(*value_)) {
      return Status::InvalidArgument("Request body has a JSON string longer than " +
                                     std::to_string(kMaxJsonStringBytes) + " bytes.");
    }
    return Status::Ok();
  }

  // Precondition: ParseObject() returned ok.
  const json::object& object() const { return value_->get_object(); }

 private:
  static json::parse_options Options() {
    json::parse_options options;
    options.max_depth = kMaxJsonDepth;
    return options;
  }

  // `offset`: how many bytes of the body come before `body`.
  static Status ParseError(std::string_view body, std::size_t consumed,
                           const boost::system::error_code& ec, std::size_t offset) {
    const std::size_t bad_utf8 = core::ScanUtf8(body).first_invalid;
    if (bad_utf8 != std::string_view::npos && bad_utf8 <= consumed) {
      return Status::InvalidArgument("Request body is not valid UTF-8 (byte " +
                                     std::to_string(offset + bad_utf8) + ").");
    }
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return Status::InvalidArgument("Request body must be a JSON object; it is empty.");
    }
    if (ec == json::error::too_deep) {
      return Status::InvalidArgument("Request body is nested deeper than " +
                                     std::to_string(kMaxJsonDepth) + " levels.");
    }
    std::string message = "Request body is not valid JSON";
    if (ec) {
      message.append(" (").append(ec.message()).append(")");
    } else {
      message.append(" (incomplete JSON)");
    }
    message.append(" at byte ").append(std::to_string(offset + consumed)).append(".");
    return Status::InvalidArgument(std::move(message));
  }

  unsigned char arena_[4096];
  unsigned char scratch_[512];
  json::monotonic_resource resource_;
  json::parser parser_;
  std::optional<json::value> value_;  // declared last: destroyed before resource_
};

// null: absent; a string: the value; anything else: 1010.
Status ReadOptionalString(const json::value& value, std::string_view field,
                          std::optional<std::string>* out) {
  if (value.is_null()) {
    out->reset();
    return Status::Ok();
  }
  if (!value.is_string()) return WrongType(field, "a string", value);
  const json::string& text = value.get_string();
  out->emplace(text.data(), text.size());
  return Status::Ok();
}

Status ReadExpirationDate(const json::value& value, std::optional<core::EpochMillis>* out) {
  constexpr std::string_view kField = "expirationDate";
  switch (value.kind()) {
    case json::kind::null:
      out->reset();
      return Status::Ok();
    case json::kind::int64:
      *out = value.get_int64();
      return Status::Ok();
    case json::kind::uint64:
      if (value.get_uint64() <=
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        *out = static_cast<std::int64_t>(value.get_uint64());
        return Status::Ok();
      }
      return InvalidRequest("Field 'expirationDate' is out of range.");
    case json::kind::double_: {
      const double millis = value.get_double();
      if (std::isfinite(millis) && std::trunc(millis) == millis &&
          std::fabs(millis) <= kMaxExactDouble) {
        *out = static_cast<std::int64_t>(millis);
        return Status::Ok();
      }
      return InvalidRequest(
          "Field 'expirationDate' must be whole epoch milliseconds within range.");
    }
    case json::kind::string: {
      const json::string& text = value.get_string();
      const std::string_view view(text.data(), text.size());
      if (std::optional<core::EpochMillis> millis = core::ParseDateString(view)) {
        *out = *millis;
        return Status::Ok();
      }
      return InvalidRequest("Field 'expirationDate' " + core::QuoteForMessage(view) +
                            " is not a date (expected epoch milliseconds or an ISO-8601 "
                            "date-time).");
    }
    default:
      return WrongType(kField, "epoch milliseconds or a date string", value);
  }
}

Status ReadPermissions(const json::value& value, std::optional<std::vector<std::string>>* out) {
  if (value.is_null()) {
    out->reset();
    return Status::Ok();
  }
  if (!value.is_array()) return WrongType("permissions", "an array of strings", value);
  const json::array& array = value.get_array();
  std::vector<std::string> permissions;
  permissions.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    const json::value& element = array[i];
    if (!element.is_string()) {
      return WrongType("permissions[" + std::to_string(i) + "]", "a string", element);
    }
    const json::string& text = element.get_string();
    permissions.emplace_back(text.data(), text.size());
  }
  *out = std::move(permissions);
  return Status::Ok();
}

// A whole number of seconds from 0 to kMaxRotationOverlapSeconds (a number
// with a zero fraction counts as whole); null: absent.
Status ReadOverlapSeconds(const json::value& value, std::optional<std::int64_t>* out) {
  const std::string range = "Field 'overlapSeconds' must be a whole number of seconds from 0 to " +
                            std::to_string(core::kMaxRotationOverlapSeconds) + ".";
  switch (value.kind()) {
    case json::kind::null:
      out->reset();
      return Status::Ok();
    case json::kind::int64:
      if (value.get_int64() < 0 || value.get_int64() > core::kMaxRotationOverlapSeconds) {
        return InvalidRequest(range);
      }
      *out = value.get_int64();
      return Status::Ok();
    case json::kind::uint64:
      return InvalidRequest(range);
    case json::kind::double_: {
      const double seconds = value.get_double();
      if (!std::isfinite(seconds) || std::trunc(seconds) != seconds || seconds < 0 ||
          seconds > static_cast<double>(core::kMaxRotationOverlapSeconds)) {
        return InvalidRequest(range);
      }
      *out = static_cast<std::int64_t>(seconds);
      return Status::Ok();
    }
    default:
      return WrongType("overlapSeconds", "a whole number of seconds", value);
  }
}

void ReadPrincipal(const json::value& value, core::CreateTokenRequest* request) {
  request->principal.reset();
  request->principal_not_a_string = false;
  if (value.is_string()) {
    const json::string& text = value.get_string();
    request->principal.emplace(text.data(), text.size());
  } else if (!value.is_null()) {
    request->principal_not_a_string = true;
  }
}

}  // namespace

Result<core::CreateTokenRequest> ParseCreateTokenRequest(std::string_view body) {
  BodyParser parser;
  if (Status status = parser.ParseObject(body); !status.ok()) return status;

  // Boost.JSON keeps one member per key (the last value given), so reading
  // members in order implements "last one wins". A wrong-typed member is
  // answered after the session rule, which comes first (1011).
  core::CreateTokenRequest request;
  Status first_problem;
  for (const json::key_value_pair& member : parser.object()) {
    const std::string_view key = member.key();
    const json::value& value = member.value();
    Status status;
    if (key == "type") {
      status = ReadOptionalString(value, key, &request.type);
    } else if (key == "name") {
      status = ReadOptionalString(value, key, &request.name);
    } else if (key == "principal") {
      ReadPrincipal(value, &request);
    } else if (key == "description") {
      status = ReadOptionalString(value, key, &request.description);
    } else if (key == "expirationDate") {
      status = ReadExpirationDate(value, &request.expiration_date);
    } else if (key == "permissions") {
      status = ReadPermissions(value, &request.permissions);
    } else if (key == "role") {
      status = ReadOptionalString(value, key, &request.role);
    }
    if (first_problem.ok() && !status.ok()) first_problem = std::move(status);
  }
  if (!first_problem.ok() && !core::AsksForSessionToken(request)) return first_problem;
  return request;
}

Result<core::RotateRequest> ParseRotateRequest(std::string_view body) {
  core::RotateRequest request;
  if (body.empty()) return request;
  BodyParser parser;
  if (Status status = parser.ParseObject(body); !status.ok()) return status;
  for (const json::key_value_pair& member : parser.object()) {
    const std::string_view key = member.key();
    const json::value& value = member.value();
    Status status;
    if (key == "expirationDate") {
      status = ReadExpirationDate(value, &request.expiration_date);
    } else if (key == "overlapSeconds") {
      status = ReadOverlapSeconds(value, &request.overlap_seconds);
    }
    if (!status.ok()) return status;
  }
  return request;
}

namespace {

// The secret of the body nearly every client sends, {"token":"<secret>"}
// exactly, with a secret of the characters secrets are made of: read in
// place. nullopt for anything else, which the full parser reads.
std::optional<std::string_view> CanonicalIntrospectSecret(std::string_view body) {
  constexpr std::string_view kOpen = "{\"token\":\"";
  constexpr std::string_view kClose = "\"}";
  if (body.size() < kOpen.size() + kClose.size() || !body.starts_with(kOpen) ||
      !body.ends_with(kClose)) {
    return std::nullopt;
  }
  const std::string_view secret =
      body.substr(kOpen.size(), body.size() - kOpen.size() - kClose.size());
  if (secret.size() > kMaxJsonStringBytes) return std::nullopt;
  for (const char c : secret) {
    const bool plain = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                       c == '_' || c == '-';
    if (!plain) return std::nullopt;
  }
  return secret;
}

}  // namespace

Result<std::string_view> ParseIntrospectJson(std::string_view body, std::string& storage) {
  if (const auto secret = CanonicalIntrospectSecret(body)) return *secret;
  BodyParser parser;
  // What is wrong with the JSON itself (its syntax, depth, UTF-8, a string's
  // length), named as for every body; never a byte of it.
  if (Status parsed = parser.ParseObject(body); !parsed.ok()) return parsed;
  const json::value* token = parser.object().if_contains("token");
  if (token == nullptr || !token->is_string()) {
    return Status::InvalidArgument(std::string(kIntrospectShape));
  }
  const json::string& secret = token->get_string();
  storage.assign(secret.data(), secret.size());
  return std::string_view(storage);
}

Result<std::string> ParseIntrospectJson(std::string_view body) {
  std::string storage;
  auto secret = ParseIntrospectJson(body, storage);
  if (!secret.ok()) return secret.status();
  return std::string(*secret);
}

Result<RevokeBody> ParseRevokeJson(std::string_view body) {
  static const std::string kShape =
      "Revocation body must be {\"token\": \"<secret>\"} or {\"tokens\": [\"<secret>\", ...]} "
      "with at most " +
      std::to_string(kMaxRevokedSecrets) + " secrets.";
  BodyParser parser;
  if (Status parsed = parser.ParseObject(body); !parsed.ok()) return parsed;
  const json::value* token = parser.object().if_contains("token");
  const json::value* tokens = parser.object().if_contains("tokens");
  if ((token == nullptr) == (tokens == nullptr)) return Status::InvalidArgument(kShape);
  RevokeBody revoke;
  if (token != nullptr) {
    if (!token->is_string()) return Status::InvalidArgument(kShape);
    revoke.secrets.emplace_back(token->get_string());
    return revoke;
  }
  revoke.list = true;
  if (!tokens->is_array()) return Status::InvalidArgument(kShape);
  const json::array& items = tokens->get_array();
  if (items.size() > kMaxRevokedSecrets) {
    return Status::InvalidArgument("The list 'tokens' holds " + std::to_string(items.size()) +
                                   " secrets; at most " + std::to_string(kMaxRevokedSecrets) +
                                   " may be revoked in one request.");
  }
  revoke.secrets.reserve(items.size());
  for (const json::value& item : items) {
    if (!item.is_string()) return Status::InvalidArgument(kShape);
    revoke.secrets.emplace_back(item.get_string());
  }
  return revoke;
}

std::string SerializeRevokeCount(std::int64_t count, bool dry_run) {
  return (dry_run ? "{\"matched\":" : "{\"revoked\":") + std::to_string(count) + "}";
}

std::string SerializeCreatedToken(const service::CreatedToken& created) {
  std::string out;
  out.reserve(160 + created.token.id.size() + 2 * created.secret.size());
  out.append("{\"id\":");
  AppendString(out, created.token.id);
  out.append(",\"type\":\"");
  out.append(core::ToString(created.token.type));
  out.append("\",\"token\":");
  AppendString(out, created.secret);
  if (created.token.expiration_date) {
    out.append(",\"expirationDate\":");
    AppendDate(out, *created.token.expiration_date);
  }
  if (created.token.rotated_from) {
    out.append(",\"rotatedFrom\":");
    AppendString(out, *created.token.rotated_from);
  }
  out.push_back('}');
  return out;
}

std::string SerializePolicy(const core::ExpiryPolicy& policy,
                            std::int64_t last_used_resolution_seconds) {
  std::string out = "{\"types\":{";
  bool first_type = true;
  for (core::TokenType type : core::kAllTokenTypes) {
    const core::LifetimeLimits limits = policy.For(type);
    if (limits.empty()) continue;
    if (!first_type) out.push_back(',');
    first_type = false;
    out.push_back('"');
    out.append(core::ToString(type));
    out.append("\":{");
    if (limits.max_seconds) {
      out.append("\"maxLifetimeSeconds\":");
      AppendInt(out, *limits.max_seconds);
    }
    if (limits.default_seconds) {
      if (limits.max_seconds) out.push_back(',');
      out.append("\"defaultLifetimeSeconds\":");
      AppendInt(out, *limits.default_seconds);
    }
    out.push_back('}');
  }
  out.append("},\"lastUsedResolutionSeconds\":");
  AppendInt(out, last_used_resolution_seconds);
  out.append(",\"maxRotationOverlapSeconds\":");
  AppendInt(out, core::kMaxRotationOverlapSeconds);
  out.push_back('}');
  return out;
}

std::string SerializeToken(const core::Token& token, core::EpochMillis now,
                           std::optional<core::EpochMillis> used_at) {
  std::string out;
  out.reserve(EstimateTokenBytes(token));
  out.push_back('{');
  AppendTokenFields(out, token, now, used_at);
  out.push_back('}');
  return out;
}

std::string SerializeIntrospection(const core::Token* token, core::EpochMillis now,
                                   std::optional<core::EpochMillis> used_at) {
  if (!token) return "{\"active\":false}";
  std::string out;
  out.reserve(128 + 2 * EstimateTokenBytes(*token));
  out.append("{\"active\":true,");
  AppendTokenFields(out, *token, now, used_at);
  AppendRfc7662Members(out, *token);
  out.push_back('}');
  return out;
}

namespace {

// What a Spring Data page says about itself besides its content.
struct PageShape {
  std::int64_t count = 0;  // items in this page
  std::int64_t total = 0;  // the store's exact total (paged only)
  std::optional<int> limit;
  std::int64_t page = 0;
  core::SortOrder order = core::SortOrder::kAsc;
  std::string_view sort_property;
};

void AppendSort(std::string& out, const PageShape& shape) {
  out.append("[{\"direction\":\"");
  out.append(core::ToString(shape.order));
  out.append("\",\"property\":\"");
  out.append(shape.sort_property);
  out.append("\",\"ignoreCase\":false,\"nullHandling\":\"NATIVE\",\"ascending\":");
  AppendBool(out, shape.order == core::SortOrder::kAsc);
  out.append("}]");
}

// A Spring Data page whose content `append_content` writes (the items,
// comma-separated).
template <typename AppendContent>
std::string SerializeSpringPage(const PageShape& shape, std::size_t estimate,
                                AppendContent append_content) {
  // Spring Data's PageImpl: size is the page size when paged, else the
  // content size; totalPages = size == 0 ? 1 : ceil(total / size);
  // last = !(number + 1 < totalPages); first = number == 0.
  const std::int64_t count = shape.count;
  const bool paged = shape.limit && *shape.limit > 0;
  const std::int64_t size = paged ? *shape.limit : count;
  const std::int64_t number = paged ? shape.page : 0;
  std::int64_t total = count;
  if (paged) {
    // PageImpl trusts the content over a smaller total on the last page.
    total = shape.total;
    if (count > 0 && number * size + size > total) total = number * size + count;
  }
  const std::int64_t total_pages = size == 0 ? 1 : (total + size - 1) / size;
  const bool first = number == 0;
  const bool last = !(number + 1 < total_pages);

  std::string out;
  out.reserve(estimate + 512);
  out.append("{\"content\":[");
  append_content(out);
  out.append("],\"pageable\":");
  if (paged) {
    out.append("{\"sort\":");
    AppendSort(out, shape);
    out.append(",\"offset\":");
    AppendInt(out, number * size);
    out.append(",\"pageNumber\":");
    AppendInt(out, number);
    out.append(",\"pageSize\":");
    AppendInt(out, size);
    out.append(",\"paged\":true,\"unpaged\":false}");
  } else {
    out.append("\"INSTANCE\"");
  }
  out.append(",\"totalPages\":");
  AppendInt(out, total_pages);
  out.append(",\"totalElements\":");
  AppendInt(out, total);
  out.append(",\"first\":");
  AppendBool(out, first);
  out.append(",\"last\":");
  AppendBool(out, last);
  out.append(",\"size\":");
  AppendInt(out, size);
  out.append(",\"number\":");
  AppendInt(out, number);
  out.append(",\"sort\":");
  AppendSort(out, shape);
  out.append(",\"numberOfElements\":");
  AppendInt(out, count);
  out.append(",\"empty\":");
  AppendBool(out, count == 0);
  out.push_back('}');
  return out;
}

}  // namespace

std::string SerializePage(const service::QueryPage& page, const core::TokenQuery& query,
                          core::EpochMillis now) {
  const PageShape shape{.count = static_cast<std::int64_t>(page.tokens.size()),
                        .total = page.total,
                        .limit = query.limit,
                        .page = query.page,
                        .order = query.order,
                        .sort_property = core::ToString(query.sort)};
  std::size_t estimate = 0;
  for (const core::Token& token : page.tokens) estimate += EstimateTokenBytes(token);
  return SerializeSpringPage(shape, estimate, [&](std::string& out) {
    for (std::size_t i = 0; i < page.tokens.size(); ++i) {
      if (i != 0) out.push_back(',');
      AppendToken(out, page.tokens[i], now);
    }
  });
}

std::string SerializeAuditPage(const service::AuditPage& page, const core::AuditQuery& query) {
  const PageShape shape{.count = static_cast<std::int64_t>(page.events.size()),
                        .total = page.total,
                        .limit = query.limit,
                        .page = query.page,
                        .order = query.ascending ? core::SortOrder::kAsc : core::SortOrder::kDesc,
                        .sort_property = "time"};
  std::size_t estimate = 0;
  for (const std::string& event : page.events) estimate += event.size() + 1;
  // The store keeps each event as its JSON object text: copied as it is.
  return SerializeSpringPage(shape, estimate, [&](std::string& out) {
    for (std::size_t i = 0; i < page.events.size(); ++i) {
      if (i != 0) out.push_back(',');
      out.append(page.events[i]);
    }
  });
}

std::string SerializeError(const core::Status& status, core::EpochMillis now) {
  const int http_status = core::HttpStatusOf(status.api_error());
  std::string out;
  out.reserve(160 + status.message().size() + status.message().size() / 8);
  out.append("{\"timestamp\":");
  AppendDate(out, now);
  out.append(",\"code\":");
  AppendInt(out, static_cast<int>(status.api_error()));
  out.append(",\"reason\":");
  AppendString(out, core::ReasonOf(status.api_error()));
  out.append(",\"message\":");
  AppendString(out, status.message());
  out.append(",\"status\":\"");
  AppendInt(out, http_status);
  out.push_back(' ');
  out.append(SpringStatusName(http_status));
  out.append("\"}");
  return out;
}

std::string_view SpringStatusName(int http_status) {
  switch (http_status) {
    case 200:
      return "OK";
    case 201:
      return "CREATED";
    case 204:
      return "NO_CONTENT";
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "FORBIDDEN";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 408:
      return "REQUEST_TIMEOUT";
    case 409:
      return "CONFLICT";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 414:
      return "URI_TOO_LONG";
    case 415:
      return "UNSUPPORTED_MEDIA_TYPE";
    case 429:
      return "TOO_MANY_REQUESTS";
    case 431:
      return "REQUEST_HEADER_FIELDS_TOO_LARGE";
    case 500:
      return "INTERNAL_SERVER_ERROR";
    case 501:
      return "NOT_IMPLEMENTED";
    case 502:
      return "BAD_GATEWAY";
    case 503:
      return "SERVICE_UNAVAILABLE";
    case 504:
      return "GATEWAY_TIMEOUT";
    default:
      return "UNKNOWN";
  }
}

}  // namespace tokend::http
