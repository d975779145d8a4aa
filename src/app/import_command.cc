#include "app/import_command.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string_view>
#include <vector>

#include "app/boomerang_import.h"
#include "app/config.h"
#include "app/files.h"
#include "core/audit.h"
#include "core/time.h"
#include "core/webhook_url.h"
#include "store/token_store.h"

namespace tokend::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// One line on stderr, prefixed like every message of the command.
__attribute__((format(printf, 1, 2))) void Note(const char* format, ...) {
  std::fputs("tokend import: ", stderr);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

std::optional<std::string> ReadWholeFile(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "is a folder";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    error = "read error";
    return std::nullopt;
  }
  return std::move(content).str();
}

// A dry run opens the store as it is (nothing migrated): NotFound when it
// holds no tokend store yet.
core::Result<std::unique_ptr<store::TokenStore>> OpenStore(
    const std::string& url, const std::vector<std::string>& webhook_urls, bool dry_run) {
  if (auto parent = SqliteParentDir(url)) {
    if (core::Status status = CreatePrivateDirectories(*parent); !status.ok()) {
      return core::Status::Unavailable(status.message() + " (for the SQLite store)");
    }
  }
  // One connection is all the import uses.
  store::StoreOptions options;
  options.pool_size = 1;
  options.webhook_urls = webhook_urls;
  options.migrate = !dry_run;
  return store::TokenStore::Open(url, options);
}

struct Counts {
  std::size_t imported = 0;
  std::size_t skipped = 0;  // already present (in the store or earlier in the file)
};

// Whether an import would skip this token: the store holds a token with
// its id or its secret hash, or an earlier import met one.
core::Result<bool> IsPresent(store::TokenStore& store, const core::Token& token) {
  core::Result<core::Token> by_id = store.FindById(token.id);
  if (by_id.ok()) return true;
  if (!by_id.status().IsNotFound()) return by_id.status();
  core::Result<core::Token> by_hash = store.FindBySecretHash(token.secret_hash);
  if (by_hash.ok()) return true;
  if (!by_hash.status().IsNotFound()) return by_hash.status();
  return store.KnownToImports(token.id, token.secret_hash);
}

// One token.created per token, written with the token if it is stored: a
// system event (the import has no caller) saying where the token came from.
std::vector<core::AuditEvent> CreationEvents(std::span<const core::Token> batch) {
  const core::EpochMillis now = core::NowMillis();
  std::vector<core::AuditEvent> events;
  events.reserve(batch.size());
  for (const core::Token& token : batch) {
    events.push_back(
        core::MakeEvent(core::AuditAction::kCreated, token, core::EventOrigin::System(), now));
    events.back().details.push_back({"importedFrom", std::string("boomerang")});
  }
  return events;
}

// Writes (or, for a dry run, only looks up) `tokens` batch by batch, adding
// to `counts`. Stops at the first store error, which it returns.
core::Status WriteBatches(store::TokenStore* store, std::span<const core::Token> tokens,
                          const ImportConfig& config, Counts& counts) {
  const std::size_t batch_size = std::max<std::size_t>(1, config.batch_size);
  const bool show_progress = tokens.size() > batch_size;
  for (std::size_t start = 0; start < tokens.size(); start += batch_size) {
    const std::span<const core::Token> batch =
        tokens.subspan(start, std::min(batch_size, tokens.size() - start));
    if (config.dry_run) {
      for (const core::Token& token : batch) {
        core::Result<bool> present = store ? IsPresent(*store, token) : core::Result<bool>(false);
        if (!present.ok()) return present.status();
        ++(*present ? counts.skipped : counts.imported);
      }
    } else {
      core::Result<std::int64_t> inserted = store->InsertAbsent(batch, CreationEvents(batch));
      if (!inserted.ok()) return inserted.status();
      const auto stored = static_cast<std::size_t>(*inserted);
      counts.imported += stored;
      counts.skipped += batch.size() - stored;
    }
    if (show_progress) {
      Note("%zu of %zu tokens %s (imported %zu, skipped %zu)", start + batch.size(), tokens.size(),
           config.dry_run ? "checked" : "written", counts.imported, counts.skipped);
    }
  }
  return core::Status::Ok();
}

}  // namespace

CLI::App* AddImportCommand(CLI::App& cli, ImportConfig& config) {
  CLI::App* import_cmd = cli.add_subcommand("import", "Bring tokens in from another token service");
  import_cmd->require_subcommand(1);
  CLI::App* boomerang = import_cmd->add_subcommand(
      "boomerang",
      "Import a mongoexport of Boomerang Flow's tokens collection (JSON lines or --jsonArray, "
      "--pretty or not, relaxed or canonical Extended JSON); every Boomerang secret keeps "
      "working");
  config.store = std::string(kDefaultStoreUrl);
  boomerang->add_option("FILE", config.file, "The mongoexport output")->required();
  boomerang->add_option("--store", config.store, "Store URL, as for serve")
      ->envname("TOKEND_STORE")
      ->capture_default_str();
  boomerang->add_flag("--dry-run", config.dry_run,
                      "Check everything and report what would happen; write nothing");
  boomerang->add_flag("--jsonArray,--json-array", config.json_array,
                      "Accepted for mongoexport's spelling; a file starting with '[' is read as "
                      "a JSON array anyway");
  boomerang
      ->add_option("--webhook-url", config.webhook_urls,
                   "As for serve: each imported token's token.created event is queued for each "
                   "URL, for serve to deliver; repeatable")
      ->envname("TOKEND_WEBHOOK_URL")
      ->delimiter(',');
  boomerang
      ->add_option("--batch-size", config.batch_size,
                   "Tokens written per transaction (a progress line follows each batch)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
  return boomerang;
}

int RunImport(const ImportConfig& config) {
  for (const std::string& text : config.webhook_urls) {
    if (auto url = core::ParseWebhookUrl(text); !url.ok()) {
      Note("bad --webhook-url %s: %s", core::RedactWebhookUrl(text).c_str(),
           std::string(url.status().message()).c_str());
      return kExitUsage;
    }
  }
  if (core::Status url = CheckUrlOfLastingStore(config.store); !url.ok()) {
    Note("%s", std::string(url.message()).c_str());
    return kExitUsage;
  }
  std::string read_error;
  const std::optional<std::string> text = ReadWholeFile(config.file, read_error);
  if (!text) {
    Note("cannot read %s: %s", config.file.c_str(), read_error.c_str());
    return kExitUsage;
  }

  // Every document is checked before anything is written.
  const BoomerangExport parsed = ParseBoomerangExport(*text, core::NowMillis());
  for (const BoomerangRejection& rejection : parsed.rejected) {
    Note("%s: rejected: %s", rejection.where.c_str(), rejection.reason.c_str());
  }
  if (parsed.documents > config.batch_size) {
    Note("%zu documents read: %zu to import, %zu repeated in the file, %zu rejected",
         parsed.documents, parsed.tokens.size(), parsed.repeated, parsed.rejected.size());
  }

  // A dry run never creates a SQLite file that is not there yet: with no
  // file, nothing is present.
  const std::optional<std::string> sqlite_file = SqliteFile(config.store);
  const bool nothing_to_open =
      config.dry_run && sqlite_file && !std::filesystem::exists(*sqlite_file);
  std::unique_ptr<store::TokenStore> store;
  if (!nothing_to_open) {
    auto opened = OpenStore(config.store, config.webhook_urls, config.dry_run);
    if (config.dry_run && opened.status().IsNotFound()) {
      // Nothing is present in a store not made yet.
    } else if (!opened.ok()) {
      const core::Status& status = opened.status();
      const std::string message = RedactStoreSecrets(config.store, status.message());
      const std::string url = RedactStoreUrl(config.store);
      if (status.code() == core::StatusCode::kAlreadyExists) {
        Note("cannot open the store %s: %s; stop the tokend using it and import again", url.c_str(),
             message.c_str());
        return kExitUsage;
      }
      Note("cannot open the store %s: %s", url.c_str(), message.c_str());
      return status.code() == core::StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    } else {
      store = std::move(opened).value();
    }
  }

  Counts counts;
  counts.skipped = parsed.repeated;
  const core::Status written = WriteBatches(store.get(), parsed.tokens, config, counts);
  // The tokens are in either way: a failure here only leaves the first
  // queries slower until the database's own upkeep catches up.
  if (!config.dry_run && written.ok() && counts.imported > 0) {
    if (core::Status settled = store->AfterBulkLoad(); !settled.ok()) {
      Note("the import is written; refreshing the store's statistics failed: %s",
           RedactStoreSecrets(config.store, settled.message()).c_str());
    }
  }
  if (!written.ok()) {
    Note("store error after %zu tokens: %s", counts.imported + counts.skipped,
         RedactStoreSecrets(config.store, written.message()).c_str());
    if (!config.dry_run) {
      Note(
          "the batches written before it stay; run the same command again to import the rest "
          "(what is already there is skipped)");
    }
  }

  if (config.dry_run) {
    std::printf(
        "dry run, nothing written: would import %zu, skip %zu (already present), "
        "reject %zu\n",
        counts.imported, counts.skipped, parsed.rejected.size());
  } else {
    std::printf("imported %zu, skipped %zu (already present), rejected %zu\n", counts.imported,
                counts.skipped, parsed.rejected.size());
  }
  std::fflush(stdout);
  return written.ok() && parsed.rejected.empty() ? kExitOk : kExitFailure;
}

}  // namespace tokend::app
