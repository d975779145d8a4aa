#include "core/token.h"

namespace tokend::core {

std::string_view ToString(TokenType type) {
  switch (type) {
    case TokenType::kGlobal:
      return "global";
    case TokenType::kTeam:
      return "team";
    case TokenType::kWorkflow:
      return "workflow";
    case TokenType::kUser:
      return "user";
    case TokenType::kSession:
      return "session";
  }
  return "unknown";
}

std::optional<TokenType> ParseTokenType(std::string_view text) {
  for (TokenType type : kAllTokenTypes) {
    if (ToString(type) == text) return type;
  }
  return std::nullopt;
}

std::string_view SecretPrefix(TokenType type) {
  switch (type) {
    case TokenType::kGlobal:
      return "bfg";
    case TokenType::kTeam:
      return "bft";
    case TokenType::kWorkflow:
      return "bfw";
    case TokenType::kUser:
      return "bfu";
    case TokenType::kSession:
      return "bfs";
  }
  return "";
}

ResolvedPermissions Token::Permissions() const {
  return ResolvedPermissions{type, principal.value_or("**"), actions};
}

}  // namespace tokend::core
