// Command line and environment configuration of the tokend executable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/webhook_signature.h"

namespace tokend::app {

inline constexpr std::string_view kDefaultStoreUrl = "sqlite:./data/tokend.db";

struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1", "0.0.0.0"
  std::uint16_t port = 0;
};

struct ServeConfig {
  std::string listen = "127.0.0.1:7700";
  std::string store = std::string(kDefaultStoreUrl);
  std::string auth = "required";  // "required" | "off"
  int threads = 0;                // 0: one I/O thread per core
  std::string data_dir;           // empty: derived from the store URL
  std::int64_t max_unpaged = 10000;
  std::size_t cache_capacity = 100000;  // resolved secrets kept in memory; 0: none
  int last_used_resolution = 5;         // seconds between writes of recorded uses; 1..60
  std::string log_level = "info";
  // "[TYPE=]DURATION" settings of --max-lifetime and --default-lifetime
  // (core::ExpiryPolicy::Parse judges them).
  std::vector<std::string> max_lifetime;
  std::vector<std::string> default_lifetime;
  bool check_config = false;        // --check-config: validate, then exit
  std::string log_format = "text";  // "text" | "json"
  bool access_log = false;          // --access-log
  // --reuse-detection on|off and --retired-retention DURATION (rotation).
  std::string reuse_detection = "on";
  std::string retired_retention = "90d";
  // --expiry-notice LIST (API 8.3) and --audit-retention DURATION (8.1).
  std::string expiry_notice = "7d,1d";
  std::string audit_retention = "365d";
  std::string tls_cert;  // --tls-cert: PEM chain; with tls_key, HTTPS only
  std::string tls_key;   // --tls-key: PEM private key
  // Webhooks (API 8.2): --webhook-url (repeatable), --webhook-secret-file
  // (empty: kWebhookSecretFileName in the data folder), --webhook-ca-file.
  std::vector<std::string> webhook_urls;
  std::string webhook_secret_file;
  std::string webhook_ca_file;
  // --webhook-retry-base DURATION (hidden, for tests): the first retry's
  // delay, doubling up to an hour.
  std::string webhook_retry_base = "5s";
};

// `tokend audit verify`.
struct AuditVerifyConfig {
  std::string store = std::string(kDefaultStoreUrl);
  // As serve's: events older than this may be missing from a chain's head.
  std::string audit_retention = "365d";
};

struct BootstrapConfig {
  std::string store = std::string(kDefaultStoreUrl);
  std::string log_level = "warn";
  // As serve's: the new token's token.created event is queued for each, and
  // delivered by serve.
  std::vector<std::string> webhook_urls;
};

// The webhook secret file's name in the data folder, beside the bootstrap
// token.
inline constexpr std::string_view kWebhookSecretFileName = "webhook-secret";
// The first start's admin secret, in the data folder.
inline constexpr char kBootstrapTokenFile[] = "bootstrap-token";

// --webhook-secret-file, else DATA_DIR/webhook-secret.
std::string WebhookSecretFileFor(const ServeConfig& config);

// Every webhook setting that can be judged without writing anything: each
// --webhook-url parses (core::ParseWebhookUrl), --webhook-retry-base is a
// duration, the CA file holds certificates, and an existing secret file is
// private and valid (ReadWebhookSecretFile). InvalidArgument naming the
// setting or the file and the problem.
core::Status CheckWebhookConfig(const ServeConfig& config);

// The secret in `path`: NotFound when there is no such file; InvalidArgument
// naming the file when it is a link or not a regular file, is open to group
// or others (any of mode 077), cannot be read, or does not hold a whsec_
// secret. Never quotes the file's content.
core::Result<core::WebhookSecret> ReadWebhookSecretFile(const std::string& path);

// ReadWebhookSecretFile, and when the file does not exist a new secret
// written there with mode 0600 (its folder created private): to a fresh
// temporary file (O_EXCL | O_NOFOLLOW), synced, then linked into place, so
// that of two instances starting at once both end up with the one secret.
core::Result<core::WebhookSecret> LoadOrCreateWebhookSecret(const std::string& path,
                                                            bool* created = nullptr);

// "host:port" or "[v6]:port"; InvalidArgument naming the text otherwise.
core::Result<ListenAddress> ParseListenAddress(std::string_view text);

// --data-dir, else the SQLite file's folder, else "./data".
std::string DataDirFor(const ServeConfig& config);

// For "sqlite:PATH": PATH; nullopt for other stores, for ":memory:" and for
// no path.
std::optional<std::string> SqliteFile(std::string_view store_url);

// Ok for a store URL that TokenStore::CheckUrl accepts; InvalidArgument
// naming the (redacted) URL and what is wrong with it.
core::Status CheckStoreUrl(std::string_view store_url);

// Ok for a store URL a command that ends at once can use: one that
// CheckStoreUrl accepts and that keeps what is written once the process ends
// (not "sqlite::memory:"). InvalidArgument naming the (redacted) URL.
core::Status CheckUrlOfLastingStore(std::string_view store_url);

// For "sqlite:PATH": the folder PATH lives in (to create it); nullopt for
// other stores and for ":memory:".
std::optional<std::string> SqliteParentDir(std::string_view store_url);

// The store URL with any password replaced by "***", for logs: userinfo,
// password query parameters (any case, percent-encoded), key=value
// connection strings (store/redact.h lists the forms).
std::string RedactStoreUrl(std::string_view store_url);

// `message` (an error about the store, which may quote its URL or parts of
// it) with every form and piece of the store URL's password replaced.
std::string RedactStoreSecrets(std::string_view store_url, std::string_view message);

}  // namespace tokend::app
