// JSON at the edge: one Parse/Serialize pair per wire type. Domain types never
// see Boost.JSON; this is the only place that knows field names.
//
// Dates are written in Spring Boot's form ("2026-03-01T05:00:00.000+00:00");
// null fields are omitted. Parsers never throw: malformed input is a Status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/create_request.h"
#include "core/expiry_policy.h"
#include "core/query.h"
#include "core/rotation.h"
#include "core/status.h"
#include "core/time.h"
#include "core/token.h"
#include "service/token_service.h"

namespace tokend::http {

// Limits applied while parsing request bodies.
inline constexpr int kMaxJsonDepth = 16;
inline constexpr std::size_t kMaxJsonStringBytes = 16 * 1024;

// TokenCreateRequest. Body not a JSON object, invalid JSON or UTF-8, too deep:
// InvalidArgument (1002 REQUEST_INVALID_PARAMS). A known field of the wrong
// JSON type: InvalidArgument (1010 TOKEN_INVALID_REQ) naming the field, except
// `principal` (recorded in principal_not_a_string). Unknown fields ignored;
// for a duplicated key the last one wins. JSON null = absent.
// expirationDate: integer millis, a string of digits, or an ISO-8601 string.
core::Result<core::CreateTokenRequest> ParseCreateTokenRequest(std::string_view body);

// The rotate routes' body {"expirationDate"?, "overlapSeconds"?}; an empty
// body is an empty request. Body not a JSON object, invalid JSON or UTF-8,
// too deep: InvalidArgument (1002). expirationDate as in create;
// overlapSeconds not a whole number (from 0 to kMaxRotationOverlapSeconds):
// InvalidArgument (1010) naming the field. Unknown fields ignored and
// duplicated keys read as in create; JSON null = absent.
core::Result<core::RotateRequest> ParseRotateRequest(std::string_view body);

// Introspection body {"token": "<secret>"}: the secret. Missing or non-string
// `token`: InvalidArgument (1002) without echoing the value.
core::Result<std::string> ParseIntrospectJson(std::string_view body);
// The same without a copy: the secret as it stands in `body`, or (when it
// had to be decoded) in `storage`.
core::Result<std::string_view> ParseIntrospectJson(std::string_view body, std::string& storage);

// POST /api/v2/token/revoke: {"token": "<secret>"} (single form) or
// {"tokens": ["<secret>", ...]} (list form, at most kMaxRevokedSecrets).
inline constexpr std::size_t kMaxRevokedSecrets = 1000;
struct RevokeBody {
  bool list = false;                 // the list form: answered {"revoked": N}
  std::vector<std::string> secrets;  // one for the single form
};
// Not a JSON object, neither or both of `token` and `tokens`, a `token` that
// is not a string, `tokens` not an array of strings or longer than
// kMaxRevokedSecrets: InvalidArgument (1002), never echoing a secret.
core::Result<RevokeBody> ParseRevokeJson(std::string_view body);

// {"revoked": N} or, for a dry run, {"matched": N}.
std::string SerializeRevokeCount(std::int64_t count, bool dry_run);

// {id, type, token, expirationDate}, and rotatedFrom when the token has one
// (the answer of a rotation).
std::string SerializeCreatedToken(const service::CreatedToken& created);

// Token {id, type, name, description, creationDate, expirationDate,
// lastUsedDate, valid, principal, permissions: [ResolvedPermissions],
// rotatedFrom, rotatedTo}; `valid` computed at `now`. `used_at`: a use the
// answer itself stands for (GET /self), shown as lastUsedDate when newer
// than the stored one.
std::string SerializeToken(const core::Token& token, core::EpochMillis now,
                           std::optional<core::EpochMillis> used_at = std::nullopt);

// GET /api/v2/token/policy: {"types": {TYPE: {maxLifetimeSeconds?,
// defaultLifetimeSeconds?}}, "lastUsedResolutionSeconds", "maxRotationOverlapSeconds"};
// a type without limits has no entry.
std::string SerializePolicy(const core::ExpiryPolicy& policy,
                            std::int64_t last_used_resolution_seconds);

// {"active":false} alone when `token` is null; else {"active":true, ...Token
// fields}; `used_at` as for SerializeToken (the introspection is a use).
std::string SerializeIntrospection(const core::Token* token, core::EpochMillis now,
                                   std::optional<core::EpochMillis> used_at = std::nullopt);

// Spring Data page (PageToken). Unpaged queries: "pageable":"INSTANCE",
// size = numberOfElements = totalElements, totalPages 1, number 0.
std::string SerializePage(const service::QueryPage& page, const core::TokenQuery& query,
                          core::EpochMillis now);

// GET /api/v2/token/audit: a Spring Data page of events, as SerializePage,
// sorted by "time".
std::string SerializeAuditPage(const service::AuditPage& page, const core::AuditQuery& query);

// RestErrorResponse {timestamp, code, reason, message, status}, where status
// is Spring's "400 BAD_REQUEST" text for the error's HTTP status.
std::string SerializeError(const core::Status& status, core::EpochMillis now);

// Spring's reason phrase for an HTTP status: 400 -> "BAD_REQUEST".
std::string_view SpringStatusName(int http_status);

}  // namespace tokend::http
