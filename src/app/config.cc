#include "app/config.h"

#include <charconv>
#include <filesystem>

#include "store/redact.h"

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

std::optional<std::string> SqliteParentDir(std::string_view store_url) {
  if (!store_url.starts_with(kSqlitePrefix)) return std::nullopt;
  const std::string_view path = store_url.substr(kSqlitePrefix.size());
  if (path.empty() || path == ":memory:") return std::nullopt;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

std::string DataDirFor(const ServeConfig& config) {
  if (!config.data_dir.empty()) return config.data_dir;
  if (auto parent = SqliteParentDir(config.store)) return *parent;
  return "./data";
}

std::string RedactStoreUrl(std::string_view store_url) { return store::RedactStoreUrl(store_url); }

std::string RedactStoreSecrets(std::string_view store_url, std::string_view message) {
  return store::RedactStoreSecrets(store_url, message);
}

}  // namespace tokend::app
