// The token model: types, their secret prefixes, and the stored token record.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace tokend::core {

enum class TokenType { kGlobal, kTeam, kWorkflow, kUser, kSession };

inline constexpr TokenType kAllTokenTypes[] = {TokenType::kGlobal, TokenType::kTeam,
                                               TokenType::kWorkflow, TokenType::kUser,
                                               TokenType::kSession};

// "global", "team", "workflow", "user", "session".
std::string_view ToString(TokenType type);
// Exact, case-sensitive JSON value; nullopt for anything else.
std::optional<TokenType> ParseTokenType(std::string_view text);
// "bfg", "bft", "bfw", "bfu", "bfs" (without the underscore).
std::string_view SecretPrefix(TokenType type);

// The principal a global token's permissions name: every principal. No other
// type may have it as its principal.
inline constexpr std::string_view kGlobalPrincipal = "**";

// Boomerang's ResolvedPermissions: what a token may do, and over what.
struct ResolvedPermissions {
  TokenType scope;
  std::string principal;             // "**" for global scope
  std::vector<std::string> actions;  // "resource/action" strings

  bool operator==(const ResolvedPermissions&) const = default;
};

// A stored token. The secret itself is never kept, only its hash.
struct Token {
  std::string id;  // 24 lowercase hex (ObjectId)
  TokenType type = TokenType::kGlobal;
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> principal;  // null for global tokens
  EpochMillis creation_date = 0;
  std::optional<EpochMillis> expiration_date;  // null: never expires
  std::vector<std::string> actions;            // the permission strings, in order
  std::string secret_hash;                     // hex(SHA-256(secret)), 64 lowercase hex
  // The newest recorded use (docs/API.md, "Last used"); null until the first.
  // It may lag the true last use by the recording resolution.
  std::optional<EpochMillis> last_used_date;
  // Rotation (API 7.3): the token this one replaced, and the one replacing
  // it while this one's rotation overlap runs. Null when none.
  std::optional<std::string> rotated_from;
  std::optional<std::string> rotated_to;
  // The id of the first token of its rotation chain; null for a token never
  // rotated from another (its family is then its own id). Never shown.
  std::optional<std::string> family_id;

  // The family this token belongs to: family_id, or its own id.
  const std::string& Family() const { return family_id ? *family_id : id; }

  // True while there is no expiration date or it is after `now`.
  bool IsValidAt(EpochMillis now) const { return !expiration_date || *expiration_date > now; }

  // The single ResolvedPermissions entry a created token carries: scope = its
  // type, principal = its principal ("**" when null), actions.
  ResolvedPermissions Permissions() const;

  bool operator==(const Token&) const = default;
};

// A token shared read-only between the cache and the requests using it, so
// that a cache hit costs a reference count rather than a copy. Null: none.
using SharedToken = std::shared_ptr<const Token>;

}  // namespace tokend::core
