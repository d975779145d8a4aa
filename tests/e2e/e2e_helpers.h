// Small helpers shared by the end-to-end tests.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "test_client.h"

namespace tokend::e2e {

using http::testing::Headers;
using http::testing::HttpResponse;
using http::testing::TestClient;

// Parses a response body; a null value when it is not JSON.
boost::json::value ParseJson(std::string_view body);

// Headers with a bearer secret (none when empty) and a JSON content type.
Headers JsonWithBearer(std::string_view secret);

// POST /api/v2/token; the parsed answer when 200.
std::optional<boost::json::object> CreateToken(TestClient& client, std::string_view secret,
                                               std::string_view body);

// True when introspecting `token` as `caller` answers {"active":true}.
std::optional<bool> IsActive(TestClient& client, std::string_view caller, std::string_view token);

// SQLite's `PRAGMA integrity_check` of a database file: "ok" when sound.
// Runs `sql` on the SQLite file at `path` (a change by hand, as an attacker
// with the file would make); the error text, empty on success.
std::string ExecSqlite(const std::string& path, const std::string& sql);

// The first column of the first row of `sql` on the SQLite file at `path`, as
// text ("" when there is no row).
std::string QuerySqlite(const std::string& path, const std::string& sql);

std::string IntegrityCheck(const std::string& path);

// A tmpfs mounted on `dir` on construction and detached on destruction, even
// when the test fails half-way: a real small file system to fill (root
// ignores file permissions, and RLIMIT_FSIZE would kill the process with
// SIGXFSZ). Mounting needs root; mounted() says whether it worked.
class TmpfsMount {
 public:
  TmpfsMount(std::filesystem::path dir, const std::string& size);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  std::string error() const;

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  int error_ = 0;
};

// Writes `path` until the file system refuses (ENOSPC); the bytes written.
std::size_t FillUntilFull(const std::string& path);

}  // namespace tokend::e2e
