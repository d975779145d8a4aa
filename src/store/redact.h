// Keeping database passwords out of logs and error messages.
//
// A store URL can carry a password in several forms, and every one of them
// is found:
//   * URL userinfo: postgresql://user:PASSWORD@host/db, also when PASSWORD
//     holds '@', ':', '/' or '?' unencoded (the last '@' ends it);
//   * URL query parameters whose name holds "password" in any case, also
//     percent-encoded: ?password=, ?PassWord=, ?sslpassword=, ?pass%77ord=;
//   * key=value connection strings (libpq conninfo): password=PASSWORD,
//     password = 'a b', with backslash escapes;
//   * text without a scheme that looks like either (user:PASSWORD@host).
// A URL a parser misreads may also scatter pieces of the password into
// other fields (postgresql://u:p@ss@host makes "ss@host" the host), which an
// error message may then quote: PasswordFragments lists those pieces too.
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokend::store {

// What a password is replaced with.
inline constexpr std::string_view kRedacted = "***";

// `url` with every password replaced by kRedacted; the rest (scheme, user,
// hosts, database, other parameters) kept for the reader. "sqlite:" URLs are
// returned unchanged.
std::string RedactStoreUrl(std::string_view url);

// Every text that is, or is part of, a password in `url`: as written,
// percent-decoded and unquoted, and split at the characters a URL parser
// may cut it at. Empty when `url` holds no password.
std::vector<std::string> PasswordFragments(std::string_view url);

// `text` with every occurrence of any fragment replaced by kRedacted
// (longest fragments first).
std::string RedactFragments(std::string_view text, std::span<const std::string> fragments);

// RedactFragments(text, PasswordFragments(url)): an error message about the
// store at `url` with nothing of its password left.
std::string RedactStoreSecrets(std::string_view url, std::string_view text);

}  // namespace tokend::store
