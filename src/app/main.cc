// tokend: wiring only. Parses the command line, opens the store, builds the
// service and the HTTP server, and hands control to them.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "app/config.h"
#include "app/files.h"
#include "app/import_command.h"
#include "app/logging.h"
#include "app/malloc_tuning.h"
#include "core/audit.h"
#include "core/expiry_policy.h"
#include "core/webhook_url.h"
#include "http/metrics.h"
#include "http/server.h"
#include "service/token_service.h"
#include "store/token_store.h"
#include "webhooks/deliverer.h"
#include "webhooks/http_client.h"

namespace tokend::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// The SQLite file is in use by another process: like a usage error, retrying
// the same command will not help.
constexpr int kExitStoreInUse = 2;
// How often ended rotation overlaps and forgotten retired secrets are
// removed from the store (Get and Query also sweep on demand).
constexpr std::chrono::milliseconds kRotationSweepInterval{5000};
// Expiry notices are checked this often (the contract asks for at least once
// a minute); events past retention are removed once an hour.
constexpr std::chrono::milliseconds kEventScanInterval{5000};

core::Result<std::unique_ptr<store::TokenStore>> OpenStore(
    const std::string& url, const store::StoreOptions& options = {}) {
  if (auto parent = SqliteParentDir(url)) {
    if (core::Status status = CreatePrivateDirectories(*parent); !status.ok()) {
      return core::Status::Unavailable(status.message() + " (for the SQLite store)");
    }
  }
  return store::TokenStore::Open(url, options);
}

// The exit status for a store that did not open.
int ExitStatusFor(const core::Status& open_error) {
  return open_error.code() == core::StatusCode::kAlreadyExists ? kExitStoreInUse : kExitFailure;
}

// What `serve` derives from its configuration before touching anything.
struct ServePlan {
  ListenAddress listen;
  core::ExpiryPolicy expiry_policy;
  std::int64_t retired_retention_seconds = 0;
  std::int64_t webhook_retry_base_seconds = 5;
  core::NoticeThresholds expiry_notices;
  std::int64_t audit_retention_seconds = 0;
};

// Every check of the configuration that needs neither the store nor the
// network: what `serve --check-config` runs. InvalidArgument naming the
// setting otherwise.
core::Result<ServePlan> PlanServe(const ServeConfig& config) {
  ServePlan plan;
  auto listen = ParseListenAddress(config.listen);
  if (!listen.ok()) return listen.status();
  plan.listen = *listen;
  auto expiry_policy = core::ExpiryPolicy::Parse(config.max_lifetime, config.default_lifetime);
  if (!expiry_policy.ok()) {
    return core::Status::InvalidArgument("bad expiry policy: " + expiry_policy.status().message());
  }
  plan.expiry_policy = *expiry_policy;
  auto retired_retention = core::ParseDurationSeconds(config.retired_retention);
  if (!retired_retention.ok()) {
    return core::Status::InvalidArgument("bad --retired-retention: " +
                                         retired_retention.status().message());
  }
  plan.retired_retention_seconds = *retired_retention;
  auto notices = core::NoticeThresholds::Parse(config.expiry_notice);
  if (!notices.ok()) return notices.status();
  plan.expiry_notices = *notices;
  auto audit_retention = core::ParseDurationSeconds(config.audit_retention);
  if (!audit_retention.ok()) {
    return core::Status::InvalidArgument("bad --audit-retention: " +
                                         audit_retention.status().message());
  }
  plan.audit_retention_seconds = *audit_retention;
  if (!config.tls_cert.empty()) {
    // A start warns when the server loads them; a check has no other load.
    const http::TlsFileWarnings warnings =
        config.check_config ? http::TlsFileWarnings::kLog : http::TlsFileWarnings::kQuiet;
    if (core::Status tls = http::CheckTlsFiles(config.tls_cert, config.tls_key, warnings);
        !tls.ok()) {
      return tls;
    }
  }
  if (core::Status webhooks = CheckWebhookConfig(config); !webhooks.ok()) return webhooks;
  plan.webhook_retry_base_seconds = *core::ParseDurationSeconds(config.webhook_retry_base);
  if (core::Status store = CheckStoreUrl(config.store); !store.ok()) return store;
  // A SQLite store not created yet (or in memory, new at every start) gets
  // its admin token at the first start, and the token's secret goes to the
  // data folder: that folder must take it.
  // (Whether another store is empty is not known without opening it.)
  if (config.auth == "required") {
    const std::optional<std::string> file = SqliteFile(config.store);
    std::error_code ec;
    const bool in_memory = config.store == "sqlite::memory:";
    if (in_memory || (file && !std::filesystem::exists(*file, ec))) {
      if (core::Status spot = CheckPrivateFileSpot(DataDirFor(config), kBootstrapTokenFile);
          !spot.ok()) {
        return core::Status::InvalidArgument("the first start's bootstrap token: " +
                                             spot.message());
      }
    }
  }
  return plan;
}

// Raises the soft limit on open descriptors to the hard one, as a server
// that holds a descriptor per connection must (systemd's default soft limit,
// 1024, is far below the 10,000 connections served). Logs what it leaves.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 10'240) {
    spdlog::warn(
        "at most {} open file descriptors (RLIMIT_NOFILE): fewer connections than the 10000 "
        "allowed can be served; raise LimitNOFILE",
        static_cast<unsigned long long>(limit.rlim_cur));
  }
}

int Serve(const ServeConfig& config) {
  SetUpLogging(config.log_level, config.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  auto plan = PlanServe(config);
  if (!plan.ok()) {
    spdlog::error("{}", plan.status().message());
    return kExitUsage;
  }
  if (config.check_config) {
    std::fputs("configuration ok\n", stdout);
    return kExitOk;
  }
  // A taken or unusable address is found before anything is made: the store,
  // its admin token, the file of that token's secret.
  if (core::Status listen = http::CheckListenAddress(plan->listen.host, plan->listen.port);
      !listen.ok()) {
    spdlog::error("{}", listen.message());
    return kExitFailure;
  }
  RaiseDescriptorLimit();
  const bool auth_required = config.auth == "required";
  if (!auth_required) {
    spdlog::warn(
        "AUTHENTICATION IS OFF (--auth off): every caller acts as a global admin. "
        "Use this for local development only.");
  }

  store::StoreOptions store_options;
  store_options.webhook_urls = config.webhook_urls;  // every event is queued for each
  store_options.open_pool_at_start = true;
  auto store = OpenStore(config.store, store_options);
  if (!store.ok()) {
    spdlog::error("cannot open the store {}: {}", RedactStoreUrl(config.store),
                  RedactStoreSecrets(config.store, store.status().message()));
    return ExitStatusFor(store.status());
  }
  spdlog::info("store: {}", RedactStoreUrl(config.store));

  service::ServiceOptions service_options;
  service_options.auth_required = auth_required;
  service_options.max_unpaged = config.max_unpaged;
  service_options.cache_capacity = config.cache_capacity;
  service_options.expiry_policy = plan->expiry_policy;
  service_options.last_used_resolution_seconds = config.last_used_resolution;
  service_options.reuse_detection = config.reuse_detection == "on";
  service_options.retired_retention_seconds = plan->retired_retention_seconds;
  service_options.rotation_sweep_interval = kRotationSweepInterval;
  service_options.expiry_notices = plan->expiry_notices;
  service_options.audit_retention_seconds = plan->audit_retention_seconds;
  service_options.event_scan_interval = kEventScanInterval;
  service::TokenService service(**store, service_options);

  if (auth_required) {
    auto empty = service.StoreIsEmpty();
    if (!empty.ok()) {
      spdlog::error("cannot read the store: {}",
                    RedactStoreSecrets(config.store, empty.status().message()));
      return kExitFailure;
    }
    if (*empty) {
      // The token and its secret's file go together: a token whose secret
      // nobody could read would keep the store non-empty, and no later start
      // would mint another.
      const std::string data_dir = DataDirFor(config);
      if (core::Status spot = CheckPrivateFileSpot(data_dir, kBootstrapTokenFile); !spot.ok()) {
        spdlog::error("cannot write the bootstrap token's secret: {}", spot.message());
        return kExitFailure;
      }
      auto admin = service.CreateBootstrapAdmin();
      if (!admin.ok()) {
        spdlog::error("cannot create the bootstrap token: {}",
                      RedactStoreSecrets(config.store, admin.status().message()));
        return kExitFailure;
      }
      auto path = WritePrivateFile(data_dir, kBootstrapTokenFile, admin->secret + "\n");
      if (!path.ok()) {
        spdlog::error("{}", path.status().message());
        if (core::Status discarded = service.DiscardBootstrapAdmin(admin->token); !discarded.ok()) {
          spdlog::error("cannot remove the bootstrap token {} whose secret was not written: {}",
                        admin->token.id, RedactStoreSecrets(config.store, discarded.message()));
        }
        return kExitFailure;
      }
      spdlog::info("empty store: created a global admin token (id {}); its secret is in {}",
                   admin->token.id, *path);
    }
  }

  http::Metrics metrics;
  // Webhooks (API 8.2): the deliverer drains the outbox in its own threads;
  // declared after the store, so it stops (abandoning a try in flight to its
  // lease) before the store closes.
  std::unique_ptr<webhooks::HttpClient> webhook_client;
  std::unique_ptr<webhooks::Deliverer> deliverer;
  if (!config.webhook_urls.empty()) {
    bool created = false;
    const std::string secret_file = WebhookSecretFileFor(config);
    auto secret = LoadOrCreateWebhookSecret(secret_file, &created);
    if (!secret.ok()) {
      spdlog::error("{}", secret.status().message());
      return secret.status().code() == core::StatusCode::kInvalidArgument ? kExitUsage
                                                                          : kExitFailure;
    }
    if (created) spdlog::info("webhooks: wrote a new signing secret to {}", secret_file);
    webhooks::ClientOptions client_options;
    client_options.ca_file = config.webhook_ca_file;
    client_options.user_agent = "tokend/" TOKEND_VERSION;
    auto client = webhooks::HttpClient::Create(client_options);
    if (!client.ok()) {
      spdlog::error("{}", client.status().message());
      return kExitUsage;
    }
    webhook_client = std::move(*client);
    webhooks::DelivererOptions deliverer_options;
    // A thread more than there are receivers: each that hangs, fails or
    // answers slowly holds one at most, so the prompt ones always find one.
    const std::size_t receivers =
        std::set<std::string>(config.webhook_urls.begin(), config.webhook_urls.end()).size();
    deliverer_options.threads =
        std::max(deliverer_options.threads, static_cast<int>(receivers) + 1);
    deliverer_options.retry.base_delay_millis = plan->webhook_retry_base_seconds * 1000;
    deliverer = std::make_unique<webhooks::Deliverer>(**store, *webhook_client, std::move(*secret),
                                                      deliverer_options);
    deliverer->Start();
    spdlog::info("webhooks: delivering every event to {} URL(s) with {} threads", receivers,
                 deliverer_options.threads);
  }
  metrics.SetWebhookSource([&store, &deliverer](bool store_answers) {
    http::WebhookFigures figures;
    if (deliverer) {
      const webhooks::DeliveryCounts counts = deliverer->counts();
      figures.delivered = counts.delivered;
      figures.retried = counts.retried;
      figures.failed = counts.failed;
    }
    if (auto outbox = store_answers ? (*store)->GetOutboxStats()
                                    : core::Result<store::OutboxStats>(
                                          core::Status::Unavailable("the store did not answer"));
        outbox.ok()) {
      figures.outbox_known = true;
      figures.events_waiting = outbox->waiting;
      figures.events_failed = outbox->failed;
      if (outbox->oldest_waiting) {
        figures.oldest_waiting_seconds = std::max<double>(
            0, static_cast<double>(core::NowMillis() - *outbox->oldest_waiting) / 1000.0);
      }
    }
    return figures;
  });
  http::ServerOptions server_options;
  server_options.address = plan->listen.host;
  server_options.port = plan->listen.port;
  server_options.io_threads = config.threads;
  server_options.access_log = config.access_log;
  server_options.json_logs = config.log_format == "json";
  server_options.tls_cert_file = config.tls_cert;
  server_options.tls_key_file = config.tls_key;
  http::Server server(server_options, service, metrics);
  auto port = server.Start();
  if (!port.ok()) {
    spdlog::error("{}", port.status().message());
    return kExitFailure;
  }
  spdlog::info("tokend listening on {}:{} ({})", plan->listen.host, *port,
               config.tls_cert.empty() ? "HTTP" : "HTTPS");
  server.Wait();
  // Every request has finished: the background work stops, and what the
  // requests recorded is written before exit. The deliverer is asked first,
  // so that a store that hangs holds the stop for one call's timeout in all.
  if (deliverer) deliverer->RequestStop();
  if (core::Status flushed = service.Shutdown(); !flushed.ok()) {
    spdlog::error("cannot record the last token uses: {}",
                  RedactStoreSecrets(config.store, flushed.message()));
  }
  if (deliverer) deliverer->Stop();
  spdlog::info("tokend stopped");
  return kExitOk;
}

int Bootstrap(const BootstrapConfig& config) {
  SetUpLogging(config.log_level, LogFormat::kText);
  for (const std::string& text : config.webhook_urls) {
    if (auto url = core::ParseWebhookUrl(text); !url.ok()) {
      spdlog::error("bad --webhook-url {}: {}", core::RedactWebhookUrl(text),
                    url.status().message());
      return kExitUsage;
    }
  }
  if (core::Status url = CheckUrlOfLastingStore(config.store); !url.ok()) {
    spdlog::error("{}", url.message());
    return kExitUsage;
  }
  store::StoreOptions store_options;
  store_options.webhook_urls = config.webhook_urls;
  auto store = OpenStore(config.store, store_options);
  if (!store.ok()) {
    spdlog::error("cannot open the store {}: {}", RedactStoreUrl(config.store),
                  RedactStoreSecrets(config.store, store.status().message()));
    return ExitStatusFor(store.status());
  }
  service::TokenService service(**store, service::ServiceOptions{});
  auto admin = service.CreateBootstrapAdmin();
  if (!admin.ok()) {
    spdlog::error("cannot create the token: {}",
                  RedactStoreSecrets(config.store, admin.status().message()));
    return kExitFailure;
  }
  std::fputs((admin->secret + "\n").c_str(), stdout);
  std::fflush(stdout);
  return kExitOk;
}

// `tokend audit verify`: walks every writer's hash chain. 0 when whole, 1
// naming the first broken event, 2 when the store cannot be read.
int VerifyAudit(const AuditVerifyConfig& config) {
  SetUpLogging("warn", LogFormat::kText);
  // Opening a SQLite path creates the file: a mistyped one would verify as
  // an empty, intact trail.
  std::error_code error;
  if (const std::optional<std::string> file = SqliteFile(config.store);
      file && !std::filesystem::exists(*file, error)) {
    spdlog::error("cannot open the store {}: no such file", RedactStoreUrl(config.store));
    return kExitUsage;
  }
  auto store = OpenStore(config.store);
  if (!store.ok()) {
    spdlog::error("cannot open the store {}: {}", RedactStoreUrl(config.store),
                  RedactStoreSecrets(config.store, store.status().message()));
    return kExitUsage;
  }
  auto retention = core::ParseDurationSeconds(config.audit_retention);
  if (!retention.ok()) {
    spdlog::error("bad --audit-retention: {}", retention.status().message());
    return kExitUsage;
  }
  auto report = (*store)->VerifyAudit(core::NowMillis() - *retention * 1000);
  if (!report.ok()) {
    spdlog::error("cannot read the audit trail: {}",
                  RedactStoreSecrets(config.store, report.status().message()));
    return kExitUsage;
  }
  if (!report->ok()) {
    if (report->broken_event_id.empty()) {
      std::fprintf(stdout, "audit trail broken: %s\n", report->problem.c_str());
    } else {
      std::fprintf(stdout, "audit trail broken at event %s: %s\n", report->broken_event_id.c_str(),
                   report->problem.c_str());
    }
    return kExitFailure;
  }
  std::fprintf(stdout, "audit trail ok: %lld events in %lld chains\n",
               static_cast<long long>(report->events), static_cast<long long>(report->chains));
  return kExitOk;
}

int Main(int argc, char** argv) {
  // A log or an output read through a pipe whose reader has gone must not
  // end the process: its write fails with EPIPE instead, and the service
  // goes on answering (a log shipper restarts; `| head` reads enough).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App cli{"tokend: API token management service"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", "tokend " TOKEND_VERSION);

  ServeConfig serve;
  CLI::App* serve_cmd = cli.add_subcommand("serve", "Run the HTTP service");
  serve_cmd->add_option("--listen", serve.listen, "Address to listen on, HOST:PORT")
      ->envname("TOKEND_LISTEN")
      ->capture_default_str();
  serve_cmd
      ->add_option("--store", serve.store,
                   "sqlite:PATH, sqlite::memory: or postgresql://user:pass@host:port/db")
      ->envname("TOKEND_STORE")
      ->capture_default_str();
  serve_cmd->add_option("--auth", serve.auth, "required (default) or off (development only)")
      ->envname("TOKEND_AUTH")
      ->check(CLI::IsMember({"required", "off"}))
      ->capture_default_str();
  serve_cmd->add_option("--threads", serve.threads, "I/O threads (0: one per core)")
      ->envname("TOKEND_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  serve_cmd
      ->add_option("--data-dir", serve.data_dir,
                   "Folder for the bootstrap-token file (default: the SQLite file's folder, "
                   "else ./data)")
      ->envname("TOKEND_DATA_DIR");
  serve_cmd
      ->add_option("--max-unpaged", serve.max_unpaged, "Most tokens one unpaged query may return")
      ->envname("TOKEND_MAX_UNPAGED")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--cache-capacity", serve.cache_capacity,
                   "Resolved tokens kept in memory (about 300 bytes each; 0: no cache, "
                   "every check reads the store)")
      ->envname("TOKEND_CACHE_CAPACITY")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--last-used-resolution", serve.last_used_resolution,
                   "Seconds between writes of token uses to the store (1..60): how far "
                   "lastUsedDate may lag")
      ->envname("TOKEND_LAST_USED_RESOLUTION")
      ->check(CLI::Range(1, static_cast<int>(core::kLastUsedResolutionSeconds)))
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-lifetime", serve.max_lifetime,
                   "[TYPE=]DURATION (N followed by s, m, h or d): the longest lifetime of a new "
                   "token, for TYPE or every type without its own; repeatable")
      ->envname("TOKEND_MAX_LIFETIME")
      ->delimiter(',');
  serve_cmd
      ->add_option("--default-lifetime", serve.default_lifetime,
                   "[TYPE=]DURATION: the lifetime of a new token created without an "
                   "expirationDate, for TYPE or every type without its own; repeatable")
      ->envname("TOKEND_DEFAULT_LIFETIME")
      ->delimiter(',');
  serve_cmd
      ->add_option("--reuse-detection", serve.reuse_detection,
                   "on (default) or off: a rotated-away secret presented after its overlap "
                   "revokes every token of its rotation family")
      ->envname("TOKEND_REUSE_DETECTION")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--retired-retention", serve.retired_retention,
                   "DURATION (N followed by s, m, h or d): how long a rotated-away secret is "
                   "remembered for reuse detection after its overlap ends")
      ->envname("TOKEND_RETIRED_RETENTION")
      ->capture_default_str();
  serve_cmd
      ->add_option("--expiry-notice", serve.expiry_notice,
                   "Comma list of DURATIONs (N followed by s, m, h or d): a token.expiring event "
                   "as each is crossed before a token's expiry (empty: none)")
      ->envname("TOKEND_EXPIRY_NOTICE")
      ->capture_default_str();
  serve_cmd
      ->add_option("--audit-retention", serve.audit_retention,
                   "DURATION: audit events older than this are removed in the background")
      ->envname("TOKEND_AUDIT_RETENTION")
      ->capture_default_str();
  serve_cmd->add_option("--log-level", serve.log_level, "trace, debug, info, warn, error")
      ->envname("TOKEND_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  serve_cmd
      ->add_option("--log-format", serve.log_format, "text (default) or json (one object a line)")
      ->envname("TOKEND_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  serve_cmd
      ->add_flag("--access-log", serve.access_log,
                 "One log line per request: remote address, method, route, status, duration, "
                 "request id, token id (never a secret, query string or body)")
      ->envname("TOKEND_ACCESS_LOG");
  auto* tls_cert = serve_cmd->add_option("--tls-cert", serve.tls_cert,
                                         "PEM certificate chain: serve HTTPS only (TLS 1.2, 1.3); "
                                         "SIGHUP reloads it");
  auto* tls_key =
      serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key of --tls-cert");
  tls_cert->envname("TOKEND_TLS_CERT")->needs(tls_key);
  tls_key->envname("TOKEND_TLS_KEY")->needs(tls_cert);
  serve_cmd
      ->add_option("--webhook-url", serve.webhook_urls,
                   "http:// or https:// URL every audit event is POSTed to (Standard Webhooks); "
                   "repeatable")
      ->envname("TOKEND_WEBHOOK_URL")
      ->delimiter(',');
  serve_cmd
      ->add_option("--webhook-secret-file", serve.webhook_secret_file,
                   "File holding the whsec_ signing secret (mode 0600); written on first start "
                   "when missing (default: webhook-secret in the data folder)")
      ->envname("TOKEND_WEBHOOK_SECRET_FILE");
  serve_cmd
      ->add_option("--webhook-ca-file", serve.webhook_ca_file,
                   "PEM certificates trusted for https webhook receivers, besides the system's")
      ->envname("TOKEND_WEBHOOK_CA_FILE");
  // For tests only: retries within seconds instead of minutes.
  serve_cmd->add_option("--webhook-retry-base", serve.webhook_retry_base)->group("");
  serve_cmd->add_flag(
      "--check-config", serve.check_config,
      "Check the flags, the environment, the store URL and the TLS files, then exit: 0 when "
      "valid, 2 otherwise (connects to nothing, creates nothing)");

  BootstrapConfig bootstrap;
  CLI::App* bootstrap_cmd = cli.add_subcommand(
      "bootstrap", "Create a global admin token and print its secret once on stdout");
  bootstrap_cmd->add_option("--store", bootstrap.store, "Store URL, as for serve")
      ->envname("TOKEND_STORE")
      ->capture_default_str();
  bootstrap_cmd
      ->add_option("--webhook-url", bootstrap.webhook_urls,
                   "As for serve: the new token's token.created event is queued for each URL, "
                   "for serve to deliver; repeatable")
      ->envname("TOKEND_WEBHOOK_URL")
      ->delimiter(',');
  bootstrap_cmd->add_option("--log-level", bootstrap.log_level, "Logging level (stderr)")
      ->envname("TOKEND_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  AuditVerifyConfig audit_verify;
  CLI::App* audit_cmd = cli.add_subcommand("audit", "Audit trail tools");
  audit_cmd->require_subcommand(1);
  CLI::App* audit_verify_cmd = audit_cmd->add_subcommand(
      "verify",
      "Walk every hash chain of the audit trail: exit 0 when whole, 1 naming the first broken "
      "event");
  audit_verify_cmd->add_option("--store", audit_verify.store, "Store URL, as for serve")
      ->envname("TOKEND_STORE")
      ->capture_default_str();
  audit_verify_cmd
      ->add_option("--audit-retention", audit_verify.audit_retention,
                   "DURATION serve runs with: older events may be missing from a chain's head, "
                   "a younger one missing is a break")
      ->envname("TOKEND_AUDIT_RETENTION")
      ->capture_default_str();

  ImportConfig import_config;
  CLI::App* import_boomerang_cmd = AddImportCommand(cli, import_config);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // cli.exit prints the message (or the help); every usage error exits 2,
    // whatever CLI11's own code for its kind.
    return cli.exit(error) == 0 ? 0 : kExitUsage;
  }
  if (*serve_cmd) return Serve(serve);
  if (*import_boomerang_cmd) return RunImport(import_config);
  if (*audit_verify_cmd) return VerifyAudit(audit_verify);
  return Bootstrap(bootstrap);
}

}  // namespace
}  // namespace tokend::app

int main(int argc, char** argv) {
  tokend::app::ReexecWithTunedMalloc(argv);
  return tokend::app::Main(argc, argv);
}
