#include "app/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <random>
#include <system_error>

#include "app/files.h"
#include "core/expiry_policy.h"
#include "core/webhook_url.h"
#include "store/redact.h"
#include "store/token_store.h"
#include "webhooks/http_client.h"

namespace tokend::app {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";

}  // namespace

core::Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto invalid = [&] {
    return core::Status::InvalidArgument("--listen must be HOST:PORT or [IPv6]:PORT, got '" +
                                         std::string(text) + "'");
  };
  ListenAddress address;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return invalid();
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return invalid();
    address.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (address.host.empty() || port_text.empty() || error != std::errc() ||
      end != port_text.data() + port_text.size() || port > 65535) {
    return invalid();
  }
  address.port = static_cast<std::uint16_t>(port);
  return address;
}

std::optional<std::string> SqliteFile(std::string_view store_url) {
  if (!store_url.starts_with(kSqlitePrefix)) return std::nullopt;
  const std::string_view path = store_url.substr(kSqlitePrefix.size());
  if (path.empty() || path == ":memory:") return std::nullopt;
  return std::string(path);
}

core::Status CheckStoreUrl(std::string_view store_url) {
  const std::string url(store_url);
  if (core::Status status = store::TokenStore::CheckUrl(url); !status.ok()) {
    return core::Status::InvalidArgument("cannot open the store " + RedactStoreUrl(url) + ": " +
                                         RedactStoreSecrets(url, status.message()));
  }
  return core::Status::Ok();
}

core::Status CheckUrlOfLastingStore(std::string_view store_url) {
  if (core::Status status = CheckStoreUrl(store_url); !status.ok()) return status;
  const std::string url(store_url);
  if (store_url.starts_with(kSqlitePrefix) &&
      store_url.substr(kSqlitePrefix.size()) == ":memory:") {
    return core::Status::InvalidArgument(
        "the store " + url +
        " keeps nothing once this command ends; name a SQLite file or a "
        "PostgreSQL database");
  }
  return core::Status::Ok();
}

std::optional<std::string> SqliteParentDir(std::string_view store_url) {
  const std::optional<std::string> file = SqliteFile(store_url);
  if (!file) return std::nullopt;
  std::filesystem::path parent = std::filesystem::path(*file).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

std::string DataDirFor(const ServeConfig& config) {
  if (!config.data_dir.empty()) return config.data_dir;
  if (auto parent = SqliteParentDir(config.store)) return *parent;
  return "./data";
}

std::string WebhookSecretFileFor(const ServeConfig& config) {
  if (!config.webhook_secret_file.empty()) return config.webhook_secret_file;
  return (std::filesystem::path(DataDirFor(config)) / kWebhookSecretFileName).string();
}

core::Status CheckWebhookConfig(const ServeConfig& config) {
  for (const std::string& text : config.webhook_urls) {
    auto url = core::ParseWebhookUrl(text);
    if (!url.ok()) {
      return core::Status::InvalidArgument("bad --webhook-url " + core::RedactWebhookUrl(text) +
                                           ": " + url.status().message());
    }
  }
  auto retry_base = core::ParseDurationSeconds(config.webhook_retry_base);
  if (!retry_base.ok()) {
    return core::Status::InvalidArgument("bad --webhook-retry-base: " +
                                         retry_base.status().message());
  }
  if (!config.webhook_ca_file.empty()) {
    if (core::Status ca = webhooks::CheckCaFile(config.webhook_ca_file); !ca.ok()) return ca;
  }
  if (!config.webhook_urls.empty()) {
    auto secret = ReadWebhookSecretFile(WebhookSecretFileFor(config));
    if (!secret.ok() && !secret.status().IsNotFound()) return secret.status();
  }
  return core::Status::Ok();
}

core::Result<core::WebhookSecret> ReadWebhookSecretFile(const std::string& path) {
  const std::string named = "the webhook secret file " + path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return core::Status::NotFound(named + " does not exist");
    if (error == ELOOP) return core::Status::InvalidArgument(named + " is a symbolic link");
    return core::Status::InvalidArgument(
        named + " cannot be read: " + std::generic_category().message(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return core::Status::InvalidArgument(named + " is not a regular file");
  }
  if ((info.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return core::Status::InvalidArgument(named + " is open to group or others (mode " + mode +
                                         "); make it private: chmod 600 " + path);
  }
  std::string content;
  char buffer[512];
  while (content.size() < 4096) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto secret = core::WebhookSecret::Parse(content);
  if (!secret.ok()) {
    return core::Status::InvalidArgument(
        named + " does not hold a valid secret: " + secret.status().message());
  }
  return secret;
}

core::Result<core::WebhookSecret> LoadOrCreateWebhookSecret(const std::string& path,
                                                            bool* created) {
  if (created) *created = false;
  auto existing = ReadWebhookSecretFile(path);
  if (existing.ok() || !existing.status().IsNotFound()) return existing;

  const std::filesystem::path target(path);
  const std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  if (core::Status made = CreatePrivateDirectories(dir); !made.ok()) return made;
  auto secret = core::WebhookSecret::Generate();
  if (!secret.ok()) return secret.status();
  const std::string temporary =
      path + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(std::random_device{}());
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Status::Unavailable("cannot write the webhook secret file " + path + ": " +
                                     std::generic_category().message(errno));
  }
  const std::string content = secret->ToText() + "\n";
  const bool written =
      ::fchmod(fd, 0600) == 0 &&
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  // link() never replaces: when another instance got there first, its secret
  // is the one.
  const bool linked = written && ::link(temporary.c_str(), path.c_str()) == 0;
  const int link_error = errno;
  ::unlink(temporary.c_str());
  if (!written) {
    return core::Status::Unavailable("cannot write the webhook secret file " + path);
  }
  if (!linked) {
    if (link_error == EEXIST) return ReadWebhookSecretFile(path);
    return core::Status::Unavailable("cannot write the webhook secret file " + path + ": " +
                                     std::generic_category().message(link_error));
  }
  if (created) *created = true;
  return secret;
}

std::string RedactStoreUrl(std::string_view store_url) { return store::RedactStoreUrl(store_url); }

std::string RedactStoreSecrets(std::string_view store_url, std::string_view message) {
  return store::RedactStoreSecrets(store_url, message);
}

}  // namespace tokend::app
