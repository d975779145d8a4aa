// Validation of TokenCreateRequest: Boomerang's rules and error codes
// (1010 TOKEN_INVALID_REQ, 1011 TOKEN_INVALID_SESSION_REQ, 1012
// TOKEN_INVALID_PERMISSION), role expansion and the user-acts-as-user rule.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "core/token.h"

namespace tokend::core {

// A create request as decoded from JSON, before any rule is applied. The JSON
// codec fills it; fields of a wrong JSON type are refused there (1010), except
// `principal`, whose type only matters for non-global tokens.
struct CreateTokenRequest {
  std::optional<std::string> type;  // the raw JSON string
  std::optional<std::string> name;
  std::optional<std::string> principal;
  bool principal_not_a_string = false;  // present, not null, not a string
  std::optional<std::string> description;
  std::optional<EpochMillis> expiration_date;
  std::optional<std::vector<std::string>> permissions;
  std::optional<std::string> role;
};

// A validated request: everything needed to mint the token.
struct NewTokenSpec {
  TokenType type = TokenType::kGlobal;
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> principal;  // nullopt exactly for global tokens
  std::optional<EpochMillis> expiration_date;
  std::vector<std::string> actions;  // role's first, then permissions, no duplicates

  bool operator==(const NewTokenSpec&) const = default;
};

inline constexpr std::size_t kMaxNameCodePoints = 256;
inline constexpr std::size_t kMaxDescriptionCodePoints = 1024;
inline constexpr std::size_t kMaxPrincipalBytes = 1024;
inline constexpr std::size_t kMaxPermissions = 64;
// 9999-12-31T23:59:59.999Z: the last date that ISO-8601 requests can name and
// responses can write with a four-digit year.
inline constexpr EpochMillis kMaxExpirationDate = 253402300799999;

// Whether a `principals` list (the query's, bulk revocation's, the audit's)
// can name `principal`: its items are split at commas and trimmed of ASCII
// whitespace, so a principal with a comma or with whitespace at either end
// could never be matched, nor revoked by its principal. Create and import
// refuse such a principal.
bool IsListablePrincipal(std::string_view principal);
// What create and import say of a principal IsListablePrincipal refuses.
inline constexpr std::string_view kUnlistablePrincipal =
    "must not contain a comma nor begin or end with whitespace: a 'principals' filter could not "
    "name it";

// Why `principal` cannot be the principal of a token of a type other than
// global, as create and import say it ("must not be blank", the unlistable
// text above, or that `**` is for global tokens only: on another type it
// would read as "every principal" to whoever consumes introspection or the
// check's headers), or nullopt.
std::optional<std::string_view> NonGlobalPrincipalProblem(std::string_view principal);

// Whether `request` names the session type, which ValidateCreate refuses
// before any other rule (1011): a decoder that meets a wrong-typed member
// leaves that rule to it.
bool AsksForSessionToken(const CreateTokenRequest& request);

// Applies, in Boomerang's order: session type (1011); required fields, blank
// name/principal, lengths, NUL characters, past expiration, unknown type
// (1010); permission grammar and unknown roles (1012). Messages name the field
// and, where safe, the value. `now` decides whether expirationDate is future.
Result<NewTokenSpec> ValidateCreate(const CreateTokenRequest& request, EpochMillis now);

// A 1010 InvalidArgument whose message is Boomerang's fixed text followed by
// `detail`, as every 1010 of ValidateCreate (for rules applied after it).
Status InvalidCreateRequest(std::string_view detail);

}  // namespace tokend::core
