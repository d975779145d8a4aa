#include "e2e_helpers.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace tokend::e2e {

boost::json::value ParseJson(std::string_view body) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(body, error);
  return error ? boost::json::value() : value;
}

Headers JsonWithBearer(std::string_view secret) {
  Headers headers = {{"Content-Type", "application/json"}};
  if (!secret.empty()) headers.emplace_back("Authorization", "Bearer " + std::string(secret));
  return headers;
}

std::optional<boost::json::object> CreateToken(TestClient& client, std::string_view secret,
                                               std::string_view body) {
  auto response = client.Request("POST", "/api/v2/token", JsonWithBearer(secret), body);
  if (!response || response->status != 200) return std::nullopt;
  boost::json::value value = ParseJson(response->body);
  if (!value.is_object()) return std::nullopt;
  return value.as_object();
}

std::optional<bool> IsActive(TestClient& client, std::string_view caller, std::string_view token) {
  boost::json::object body{{"token", token}};
  auto response = client.Request("POST", "/api/v2/token/introspect", JsonWithBearer(caller),
                                 boost::json::serialize(body));
  if (!response || response->status != 200) return std::nullopt;
  boost::json::value value = ParseJson(response->body);
  if (!value.is_object() || !value.as_object().contains("active")) return std::nullopt;
  return value.as_object().at("active").as_bool();
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return result;
}

std::string ExecSqlite(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    error = "cannot open";
  } else {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      error = message != nullptr ? message : "failed";
    }
    sqlite3_free(message);
  }
  sqlite3_close(db);
  return error;
}

std::string QuerySqlite(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return result;
}

TmpfsMount::TmpfsMount(std::filesystem::path dir, const std::string& size) : dir_(std::move(dir)) {
  const std::string options = "size=" + size;
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
    mounted_ = true;
  } else {
    error_ = errno;
  }
}

TmpfsMount::~TmpfsMount() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
}

std::string TmpfsMount::error() const { return std::strerror(error_); }

std::size_t FillUntilFull(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  std::size_t total = 0;
  for (const std::size_t chunk : {std::size_t{64 * 1024}, std::size_t{4096}, std::size_t{1}}) {
    const std::string bytes(chunk, 'f');
    // Bounded: the file system is a few MiB.
    for (int i = 0; i < 10000; ++i) {
      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < chunk) break;
    }
  }
  ::close(fd);
  return total;
}

}  // namespace tokend::e2e
