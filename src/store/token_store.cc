#include "store/token_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

Status UnknownScheme(std::string_view url) {
  const std::string scheme = SchemeForMessage(url);
  const std::string expected =
      "; expected sqlite:PATH, sqlite::memory: or postgresql://user:pass@host:port/db";
  if (scheme.empty())
    return Status::InvalidArgument("the store URL has no known scheme" + expected);
  return Status::InvalidArgument("unsupported store URL scheme '" + scheme + "'" + expected);
}

bool IsPostgresUrl(std::string_view url) {
  for (const std::string_view prefix : kPostgresPrefixes) {
    if (url.starts_with(prefix)) return true;
  }
  return false;
}

Status CheckSqlitePath(const std::string& path) {
  if (path.empty())
    return Status::InvalidArgument("the SQLite store URL names no file (sqlite:PATH)");
  if (path == ":memory:") return Status::Ok();
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return Status::Ok();  // created by the first start
    return Status::InvalidArgument("the SQLite file " + path +
                                   " cannot be read: " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return Status::InvalidArgument("the SQLite store " + path + " is not a regular file");
  }
  if (::access(path.c_str(), R_OK | W_OK) != 0) {
    return Status::InvalidArgument("the SQLite file " + path +
                                   " is not readable and writable: " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Status SchemaOlderThanThisTokend(std::string_view display) {
  return Status::Unavailable(
      std::string(display) +
      " was made by an older tokend; its schema is brought up to date by the next `tokend "
      "serve`, `tokend bootstrap` or import");
}

Status TokenStore::CheckUrl(std::string_view url) {
  if (url.starts_with(kSqlitePrefix)) {
    return CheckSqlitePath(std::string(url.substr(kSqlitePrefix.size())));
  }
  if (IsPostgresUrl(url)) return CheckPostgresUrl(url);
  return UnknownScheme(url);
}

Result<std::unique_ptr<TokenStore>> TokenStore::Open(std::string_view url,
                                                     const StoreOptions& given) {
  // A URL given twice is one receiver: the outbox holds one delivery per
  // event and URL, so the repeat would make every change fail.
  StoreOptions options = given;
  options.webhook_urls.clear();
  for (const std::string& webhook_url : given.webhook_urls) {
    if (std::find(options.webhook_urls.begin(), options.webhook_urls.end(), webhook_url) ==
        options.webhook_urls.end()) {
      options.webhook_urls.push_back(webhook_url);
    }
  }
  if (url.starts_with(kSqlitePrefix))
    return OpenSqliteStore(url.substr(kSqlitePrefix.size()), options);
  if (IsPostgresUrl(url)) return OpenPostgresStore(url, options);
  return UnknownScheme(url);
}

}  // namespace tokend::store
