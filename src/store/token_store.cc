#include "store/token_store.h"

#include <string>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace tokend::store {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kPostgresPrefixes[] = {"postgresql://", "postgres://"};
constexpr std::size_t kMaxSchemeShown = 32;

// The scheme of `url` for an error message, and nothing after it: whatever
// follows may hold a password.
std::string SchemeForMessage(std::string_view url) {
  const std::size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > kMaxSchemeShown) return {};
  const std::string_view scheme = url.substr(0, colon);
  for (const char c : scheme) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '-' || c == '.';
    if (!plain) return {};
  }
  return std::string(scheme);
}

}  // namespace

Result<std::unique_ptr<TokenStore>> TokenStore::Open(std::string_view url,
                                                     const StoreOptions& options) {
  if (url.starts_with(kSqlitePrefix))
    return OpenSqliteStore(url.substr(kSqlitePrefix.size()), options);
  for (const std::string_view prefix : kPostgresPrefixes) {
    if (url.starts_with(prefix)) return OpenPostgresStore(url, options);
  }
  const std::string scheme = SchemeForMessage(url);
  const std::string expected =
      "; expected sqlite:PATH, sqlite::memory: or postgresql://user:pass@host:port/db";
  if (scheme.empty())
    return Status::InvalidArgument("the store URL has no known scheme" + expected);
  return Status::InvalidArgument("unsupported store URL scheme '" + scheme + "'" + expected);
}

}  // namespace tokend::store
