// Boomerang exports: ParseBoomerangExport on any bytes. Invariants: every
// document is counted once (imported, repeated or rejected), and every token
// it lets through is one tokend can store and serve as is: an ObjectId, a
// lowercase hex hash, valid permissions, a principal exactly for non-global
// types, dates within 1970..9999, and no id or hash twice.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "app/boomerang_import.h"
#include "core/create_request.h"
#include "core/object_id.h"
#include "core/permission.h"
#include "core/secret.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const tokend::app::BoomerangExport parsed =
      tokend::app::ParseBoomerangExport(text, 1'772'341'200'000);
  const std::size_t counted = parsed.tokens.size() + parsed.repeated + parsed.rejected.size();
  // An array that does not parse is one rejection and no document.
  FUZZ_CHECK(counted == parsed.documents || (parsed.documents == 0 && parsed.rejected.size() == 1),
             std::to_string(counted) + " vs " + std::to_string(parsed.documents));
  std::set<std::string> ids;
  std::set<std::string> hashes;
  for (const tokend::core::Token& token : parsed.tokens) {
    FUZZ_CHECK(tokend::core::IsObjectId(token.id), token.id);
    FUZZ_CHECK(ids.insert(token.id).second, token.id);
    FUZZ_CHECK(hashes.insert(token.secret_hash).second, token.id);
    FUZZ_CHECK(token.secret_hash.size() == tokend::core::kSecretHashLength, token.id);
    for (char c : token.secret_hash) {
      FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), token.id);
    }
    FUZZ_CHECK(token.principal.has_value() == (token.type != tokend::core::TokenType::kGlobal),
               token.id);
    FUZZ_CHECK(!token.name.empty(), token.id);
    FUZZ_CHECK(token.actions.size() <= tokend::core::kMaxPermissions, token.id);
    for (const std::string& action : token.actions) {
      FUZZ_CHECK(tokend::core::IsValidPermission(action), action);
    }
    FUZZ_CHECK(token.creation_date >= 0 && token.creation_date <= tokend::core::kMaxExpirationDate,
               token.id);
    if (token.expiration_date) {
      FUZZ_CHECK(
          *token.expiration_date >= 0 && *token.expiration_date <= tokend::core::kMaxExpirationDate,
          token.id);
    }
  }
  for (const tokend::app::BoomerangRejection& rejection : parsed.rejected) {
    FUZZ_CHECK(!rejection.where.empty() && !rejection.reason.empty(), rejection.reason);
  }
  return 0;
}
