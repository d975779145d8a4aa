#include "store/token_row.h"

#include <utility>

namespace tokend::store {
namespace {

using core::Result;
using core::Status;

Status NotStorable(std::string_view field) {
  return Status::InvalidArgument("token " + std::string(field) +
                                 " is not valid UTF-8 text without NUL");
}

}  // namespace

bool IsStorableText(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i <= static_cast<std::size_t>(extra)) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string JoinActions(const std::vector<std::string>& actions) {
  std::string column;
  for (const std::string& action : actions) {
    if (!column.empty()) column += ' ';
    column += action;
  }
  return column;
}

std::vector<std::string> SplitActions(std::string_view column) {
  std::vector<std::string> actions;
  while (!column.empty()) {
    const std::size_t space = column.find(' ');
    const std::string_view action = column.substr(0, space);
    if (!action.empty()) actions.emplace_back(action);
    if (space == std::string_view::npos) break;
    column.remove_prefix(space + 1);
  }
  return actions;
}

Result<TokenRow> EncodeTokenRow(const core::Token& token) {
  if (!IsStorableText(token.id)) return NotStorable("id");
  if (!IsStorableText(token.name)) return NotStorable("name");
  if (token.description && !IsStorableText(*token.description)) return NotStorable("description");
  if (token.principal && !IsStorableText(*token.principal)) return NotStorable("principal");
  if (!IsStorableText(token.secret_hash)) return NotStorable("secret_hash");
  if (token.rotated_from && !IsStorableText(*token.rotated_from)) return NotStorable("rotatedFrom");
  if (token.rotated_to && !IsStorableText(*token.rotated_to)) return NotStorable("rotatedTo");
  if (token.family_id && !IsStorableText(*token.family_id)) return NotStorable("family_id");
  for (const std::string& action : token.actions) {
    if (action.empty() || action.find(' ') != std::string::npos) {
      return Status::InvalidArgument("token permission is empty or contains a space");
    }
    if (!IsStorableText(action)) return NotStorable("permission");
  }
  TokenRow row;
  row.id = token.id;
  row.type = std::string(core::ToString(token.type));
  row.name = token.name;
  row.description = token.description;
  row.principal = token.principal;
  row.creation_date = token.creation_date;
  row.expiration_date = token.expiration_date;
  row.actions = JoinActions(token.actions);
  row.secret_hash = token.secret_hash;
  row.last_used_date = token.last_used_date;
  row.rotated_from = token.rotated_from;
  row.rotated_to = token.rotated_to;
  row.family_id = token.family_id;
  return row;
}

Result<core::Token> DecodeTokenRow(TokenRow row) {
  const std::optional<core::TokenType> type = core::ParseTokenType(row.type);
  if (!type) return Status::Internal("token " + row.id + " has an unknown type in the store");
  core::Token token;
  token.id = std::move(row.id);
  token.type = *type;
  token.name = std::move(row.name);
  token.description = std::move(row.description);
  token.principal = std::move(row.principal);
  token.creation_date = row.creation_date;
  token.expiration_date = row.expiration_date;
  token.actions = SplitActions(row.actions);
  token.secret_hash = std::move(row.secret_hash);
  token.last_used_date = row.last_used_date;
  token.rotated_from = std::move(row.rotated_from);
  token.rotated_to = std::move(row.rotated_to);
  token.family_id = std::move(row.family_id);
  return token;
}

std::string_view SortColumn(core::SortField field) {
  switch (field) {
    case core::SortField::kCreationDate:
      return "creation_date";
    case core::SortField::kExpirationDate:
      return "expiration_date";
    case core::SortField::kName:
      return "name";
    case core::SortField::kType:
      return "type";
    case core::SortField::kPrincipal:
      return "principal";
    case core::SortField::kLastUsedDate:
      return "last_used_date";
  }
  return "creation_date";
}

}  // namespace tokend::store
