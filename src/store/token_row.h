// The one encoding of a core::Token as a row of the `tokens` table, shared by
// every backend: a token written by one backend reads back the same from any
// other, and every backend refuses the same tokens.
//
// Columns, in TOKEND_TOKEN_COLUMNS order:
//   id, name, secret_hash   text as given
//   type                    the JSON value ("global", "team", ...)
//   description, principal  text; null when absent (principal: global tokens)
//   creation_date           epoch milliseconds
//   expiration_date         epoch milliseconds; null: never expires
//   actions                 the permission strings joined by single spaces
//                           ('' for none); a permission never holds a space
//   last_used_date          epoch milliseconds; null until the first use
//   rotated_from, rotated_to, family_id
//                           token ids; null when absent (rotation, API 7.3)
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/query.h"
#include "core/status.h"
#include "core/token.h"

// The column list every statement reading or writing a whole token uses, as a
// literal so that backends can splice it into constant SQL.
// Columns added by later migrations are appended at its end, in the order
// every backend reads them by position.
// clang-format off
#define TOKEND_TOKEN_COLUMNS \
  "id, type, name, description, principal, creation_date, expiration_date, actions, secret_hash" \
  /* appended columns, one group per line: */ \
  ", last_used_date" \
  ", rotated_from, rotated_to, family_id"
// clang-format on

namespace tokend::store {

inline constexpr std::string_view kTokenColumns = TOKEND_TOKEN_COLUMNS;

// How many columns TOKEND_TOKEN_COLUMNS names: a statement that selects more
// after them finds its own from this index on.
inline constexpr int kTokenColumnCount = [] {
  int columns = 1;
  for (char c : kTokenColumns) columns += c == ',' ? 1 : 0;
  return columns;
}();

// The column values of one token row (see the table above).
struct TokenRow {
  std::string id;
  std::string type;
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> principal;
  std::int64_t creation_date = 0;
  std::optional<std::int64_t> expiration_date;
  std::string actions;
  std::string secret_hash;
  std::optional<std::int64_t> last_used_date;
  std::optional<std::string> rotated_from;
  std::optional<std::string> rotated_to;
  std::optional<std::string> family_id;
};

// True when `text` is valid UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF) without NUL: what every backend stores and returns
// unchanged (a PostgreSQL UTF8 database refuses anything else).
bool IsStorableText(std::string_view text);

// The row of `token`. InvalidArgument naming the field when a text field is
// not storable text, or a permission is empty or holds a space (it would not
// survive the space-joined column). Never echoes the offending value.
core::Result<TokenRow> EncodeTokenRow(const core::Token& token);

// The token a row holds. Internal when the row cannot have been written by
// EncodeTokenRow (an unknown type): the database was edited by hand or is
// damaged, which no caller input can cause.
core::Result<core::Token> DecodeTokenRow(TokenRow row);

// The column a query sorts on, the same in every backend's schema.
std::string_view SortColumn(core::SortField field);

// The actions column of `actions`, and back (empty items are dropped).
std::string JoinActions(const std::vector<std::string>& actions);
std::vector<std::string> SplitActions(std::string_view column);

}  // namespace tokend::store
