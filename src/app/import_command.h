// `tokend import boomerang FILE`: brings the tokens of a Boomerang Flow
// export (app/boomerang_import.h) into a store, so that every Boomerang
// secret keeps working against tokend.
//
// Every document is read and checked before anything is written; the valid
// ones are then written in batches, one transaction each, skipping what the
// store already holds (same id or same secret hash), so running the same
// import again is harmless. stdout gets one line,
// `imported N, skipped M (already present), rejected K`; stderr gets every
// rejected document with its line (or index) and the reason, and a progress
// line per batch on files of more than one batch.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>
#include <vector>

namespace tokend::app {

struct ImportConfig {
  std::string file;
  std::string store;
  bool dry_run = false;
  bool json_array = false;  // accepted for mongoexport's spelling; the file tells
  std::size_t batch_size = 1000;
  // As for serve: each imported token's token.created is queued for these
  // URLs, for serve to deliver.
  std::vector<std::string> webhook_urls;
};

// Adds `import` with its subcommand `boomerang` to `cli`, filling `config`;
// returns the `boomerang` subcommand (true once parsed).
CLI::App* AddImportCommand(CLI::App& cli, ImportConfig& config);

// Runs the import. Exit status: 0 when every document was imported or
// already present; 1 when any was rejected, or the store failed part-way
// (batches written before stay; the same command finishes the job); 2 for
// a usage error: an unreadable file, a bad store URL, or a SQLite file
// held by another process (a running tokend).
int RunImport(const ImportConfig& config);

}  // namespace tokend::app
