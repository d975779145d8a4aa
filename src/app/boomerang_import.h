// Reading an export of Boomerang Flow's `tokens` MongoDB collection, as
// `mongoexport` writes it, into the tokens tokend stores. Pure functions: no
// file, store or clock is touched, so every rule is unit-tested alone.
//
// A Boomerang TokenEntity document holds `_id`, `type`, `name`,
// `description`, `creationDate`, `expirationDate`, `principal`,
// `permissions` (a list of {scope, principal, actions}), `token` (the hex
// SHA-256 of the secret) and `_class` (ignored, as is any unknown field).
// Both Extended JSON modes are read: relaxed (`{"$date": "ISO"}`, or epoch
// milliseconds) and canonical (`{"$date": {"$numberLong": "ms"}}`), ids as
// `{"$oid": "..."}` or plain strings. The id, the dates, the hash and the
// permissions are kept as they are, so every Boomerang secret keeps working.
//
// A document tokend cannot hold exactly as Boomerang did is rejected with
// the reason, never imported half-right; docs/OPERATIONS.md lists the rules.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "core/token.h"

namespace tokend::app {

// The token one document (the JSON text of one TokenEntity) describes, or
// InvalidArgument whose message names the field and what is wrong with it.
// Messages never quote the secret hash. A creationDate after `now` is
// refused.
core::Result<core::Token> ParseBoomerangToken(std::string_view document, core::EpochMillis now);

struct BoomerangRejection {
  // "line 12" (the line a document of a sequence starts on) or "document 3"
  // (the position in a JSON array).
  std::string where;
  std::string reason;  // a field rule broken, or where the JSON broke
};

struct BoomerangExport {
  bool json_array = false;    // the file was one JSON array
  std::size_t documents = 0;  // documents found (blank lines are none)
  // The valid documents' tokens in file order, each id and hash once.
  std::vector<core::Token> tokens;
  // Valid documents repeating an earlier one of the file (same id or hash).
  std::size_t repeated = 0;
  std::vector<BoomerangRejection> rejected;
};

// Reads a whole export, after a UTF-8 byte order mark if there is one. When
// its first non-blank character is '[' it is one JSON array (`mongoexport
// --jsonArray`, pretty-printed or not) whose documents are numbered from 1 by
// position; an array that does not parse is one rejection naming the line
// where it broke. Otherwise it is JSON documents one after another
// (`mongoexport`'s default of one per line, or `--pretty`'s several lines
// each), each named by the line it starts on, blank lines skipped. A document
// that does not parse is one rejection, whose reason names the line where it
// broke; reading resumes at the next line that starts with '{'.
// `now`: as for ParseBoomerangToken.
BoomerangExport ParseBoomerangExport(std::string_view text, core::EpochMillis now);

}  // namespace tokend::app
