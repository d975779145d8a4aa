// tokend_seed: fills a store with a realistic mix of tokens, fast, for the
// benchmarks (bench/run.sh).
//
//   tokend_seed --store URL --count N --secrets-out FILE [--seed S] [--batch 10000]
//               [--stream-out FILE] [--unknown-out FILE --unknown-count M]
//
// Tokens go through TokenStore::InsertMany in batches of 10,000, so the store
// under test writes its own rows, counters and indexes. The mix:
// - ~5% global tokens (principal null), the rest owned by one of 1,000
//   principals whose popularity follows Zipf's law (a few large teams, a long
//   tail), each principal being a team, a user or a workflow;
// - creation dates uniformly over the past year (ids derived from them, so ids
//   sort by creation second as in production);
// - ~30% with an expiration date, some of them already past.
// Secrets are real (core::GenerateSecret) and stored as core::HashSecret.
//
// FILE receives, one per line ("kind value..."), what the wrk scripts need:
//   admin <secret>                   a global **/** token that never expires
//   token <secret>                   active tokens to introspect
//   query <type> <principal> <count> the largest (type, principal) groups
//
// --stream-out receives the secret of every seeded token that is not
// expired, one per line, in random order: the cold introspection scenario
// walks it so that no secret is asked twice. --unknown-out receives
// --unknown-count fresh secrets of every type, well formed (valid checksum,
// core::GenerateSecret) but never stored: the unknown-secret scenario.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/object_id.h"
#include "core/secret.h"
#include "core/time.h"
#include "core/token.h"
#include "store/token_store.h"

namespace tokend::bench {

inline constexpr std::int64_t kDefaultBatch = 10000;

namespace {

constexpr int kPrincipals = 1000;
constexpr int kSecretsOut = 32;
constexpr int kQueryGroupsOut = 6;
constexpr core::EpochMillis kDayMillis = 24LL * 3600 * 1000;
constexpr core::EpochMillis kYearMillis = 365 * kDayMillis;

struct Principal {
  std::string name;
  core::TokenType type;
};

std::vector<Principal> MakePrincipals() {
  std::vector<Principal> principals;
  principals.reserve(kPrincipals);
  char name[32];
  for (int i = 0; i < kPrincipals; ++i) {
    switch (i % 3) {
      case 0:
        std::snprintf(name, sizeof name, "team-%04d", i);
        principals.push_back({name, core::TokenType::kTeam});
        break;
      case 1:
        std::snprintf(name, sizeof name, "user-%04d", i);
        principals.push_back({name, core::TokenType::kUser});
        break;
      default:
        std::snprintf(name, sizeof name, "wf-%04d", i);
        principals.push_back({name, core::TokenType::kWorkflow});
        break;
    }
  }
  return principals;
}

// Zipf(s = 1) over ranks 0..n-1.
std::discrete_distribution<int> ZipfRanks(int n) {
  std::vector<double> weights(n);
  for (int i = 0; i < n; ++i) weights[i] = 1.0 / (i + 1);
  return std::discrete_distribution<int>(weights.begin(), weights.end());
}

const std::vector<std::vector<std::string>>& ActionSets(core::TokenType type) {
  static const std::vector<std::vector<std::string>> kGlobal = {
      {"**/**"}, {"**/read"}, {"**/read", "**/write", "**/action"}};
  static const std::vector<std::vector<std::string>> kTeam = {
      {"**/read"}, {"workflow/read", "workflow/write", "workflowrun/action"}, {"**/**"}};
  static const std::vector<std::vector<std::string>> kUser = {
      {"**/**"}, {"workflow/read"}, {"token/read", "token/write"}};
  static const std::vector<std::vector<std::string>> kWorkflow = {
      {"workflowrun/action"}, {"workflow/read", "parameter/read"}};
  switch (type) {
    case core::TokenType::kGlobal:
      return kGlobal;
    case core::TokenType::kTeam:
      return kTeam;
    case core::TokenType::kUser:
      return kUser;
    default:
      return kWorkflow;
  }
}

class Generator {
 public:
  Generator(std::uint64_t seed, core::EpochMillis now)
      : rng_(seed), now_(now), principals_(MakePrincipals()), ranks_(ZipfRanks(kPrincipals)) {}

  // One token and its secret.
  std::pair<core::Token, std::string> Next() {
    core::Token token;
    token.creation_date =
        now_ - std::uniform_int_distribution<core::EpochMillis>(kDayMillis / 24, kYearMillis)(rng_);
    if (std::uniform_int_distribution<int>(0, 99)(rng_) < 5) {
      token.type = core::TokenType::kGlobal;
    } else {
      const Principal& principal = principals_[ranks_(rng_)];
      token.type = principal.type;
      token.principal = principal.name;
    }
    if (std::uniform_int_distribution<int>(0, 99)(rng_) < 30) {
      token.expiration_date =
          token.creation_date +
          std::uniform_int_distribution<core::EpochMillis>(30 * kDayMillis, 2 * kYearMillis)(rng_);
    }
    const auto& sets = ActionSets(token.type);
    token.actions = sets[std::uniform_int_distribution<std::size_t>(0, sets.size() - 1)(rng_)];
    token.id = core::NewObjectId(token.creation_date);
    token.name = std::string(core::ToString(token.type)) + " token " + token.id.substr(16);
    if (std::uniform_int_distribution<int>(0, 1)(rng_) == 0) {
      token.description = "seeded for benchmarks";
    }
    std::string secret = core::GenerateSecret(token.type);
    token.secret_hash = core::HashSecret(secret);
    return {std::move(token), std::move(secret)};
  }

 private:
  std::mt19937_64 rng_;
  core::EpochMillis now_;
  std::vector<Principal> principals_;
  std::discrete_distribution<int> ranks_;
};

struct StreamFiles {
  std::string stream_out;   // every live seeded secret
  std::string unknown_out;  // secrets never stored
  std::int64_t unknown_count = 0;
};

bool WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : lines) out << line << '\n';
  out.close();
  if (!out) std::fprintf(stderr, "tokend_seed: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

bool WriteUnknown(const StreamFiles& files) {
  std::vector<std::string> secrets;
  secrets.reserve(static_cast<std::size_t>(files.unknown_count));
  constexpr core::TokenType kTypes[] = {core::TokenType::kGlobal, core::TokenType::kTeam,
                                        core::TokenType::kUser, core::TokenType::kWorkflow};
  for (std::int64_t i = 0; i < files.unknown_count; ++i) {
    secrets.push_back(core::GenerateSecret(kTypes[i % 4]));
  }
  return WriteLines(files.unknown_out, secrets);
}

int Run(const std::string& url, std::int64_t count, const std::string& secrets_out,
        std::uint64_t seed, std::int64_t batch_size, const StreamFiles& files) {
  const auto started = std::chrono::steady_clock::now();
  auto opened = store::TokenStore::Open(url);
  if (!opened.ok()) {
    std::fprintf(stderr, "tokend_seed: cannot open the store: %s\n",
                 opened.status().ToString().c_str());
    return 1;
  }
  store::TokenStore& store = **opened;
  const core::EpochMillis now = core::NowMillis();

  std::ofstream out(secrets_out, std::ios::trunc);
  if (!out) {
    std::fprintf(stderr, "tokend_seed: cannot write %s\n", secrets_out.c_str());
    return 1;
  }

  // The admin token the load generators authenticate with.
  core::Token admin;
  admin.type = core::TokenType::kGlobal;
  admin.creation_date = now;
  admin.id = core::NewObjectId(now);
  admin.name = "bench admin";
  admin.actions = {"**/**"};
  const std::string admin_secret = core::GenerateSecret(admin.type);
  admin.secret_hash = core::HashSecret(admin_secret);
  if (core::Status status = store.Insert(admin, {}); !status.ok()) {
    std::fprintf(stderr, "tokend_seed: %s\n", status.ToString().c_str());
    return 1;
  }
  out << "admin " << admin_secret << "\n";

  // Generation (secrets, SHA-256) of batch k+1 overlaps the insert of batch k.
  Generator generator(seed, now);
  std::vector<std::string> kept_secrets;
  std::vector<std::string> stream_secrets;
  const bool keep_stream = !files.stream_out.empty();
  if (keep_stream) stream_secrets.reserve(static_cast<std::size_t>(count));
  std::map<std::pair<core::TokenType, std::string>, std::int64_t> groups;
  auto generate = [&](std::size_t n) {
    std::vector<core::Token> batch;
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto [token, secret] = generator.Next();
      if (!token.expiration_date && kept_secrets.size() < kSecretsOut &&
          (token.type != core::TokenType::kGlobal || kept_secrets.size() % 8 == 0)) {
        kept_secrets.push_back(secret);
      }
      if (token.principal) ++groups[{token.type, *token.principal}];
      if (keep_stream && (!token.expiration_date || *token.expiration_date > now)) {
        stream_secrets.push_back(secret);
      }
      batch.push_back(std::move(token));
    }
    return batch;
  };

  std::int64_t remaining = count;
  std::vector<core::Token> current =
      generate(static_cast<std::size_t>(std::min<std::int64_t>(remaining, batch_size)));
  remaining -= static_cast<std::int64_t>(current.size());
  std::int64_t inserted = 0;
  while (!current.empty()) {
    std::vector<core::Token> next;
    std::thread producer([&] {
      next = generate(static_cast<std::size_t>(std::min<std::int64_t>(remaining, batch_size)));
    });
    core::Status status = store.InsertMany(current);
    producer.join();
    if (!status.ok()) {
      std::fprintf(stderr, "tokend_seed: insert failed after %lld tokens: %s\n",
                   static_cast<long long>(inserted), status.ToString().c_str());
      return 1;
    }
    inserted += static_cast<std::int64_t>(current.size());
    remaining -= static_cast<std::int64_t>(next.size());
    current = std::move(next);
  }
  // As `tokend import` does after its load: the benchmarks then measure the
  // store as it serves once settled, not its first minutes after the load.
  if (core::Status status = store.AfterBulkLoad(); !status.ok()) {
    std::fprintf(stderr, "tokend_seed: after the load: %s\n", status.ToString().c_str());
    return 1;
  }

  for (const std::string& secret : kept_secrets) out << "token " << secret << "\n";
  std::vector<std::pair<std::int64_t, std::pair<core::TokenType, std::string>>> largest;
  for (const auto& [key, n] : groups) largest.push_back({n, key});
  std::sort(largest.begin(), largest.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; i < largest.size() && i < kQueryGroupsOut; ++i) {
    out << "query " << core::ToString(largest[i].second.first) << " " << largest[i].second.second
        << " " << largest[i].first << "\n";
  }
  out.close();
  if (!out) {
    std::fprintf(stderr, "tokend_seed: cannot write %s\n", secrets_out.c_str());
    return 1;
  }
  if (keep_stream) {
    // Random order, so that a walk of the file touches the store's pages as
    // unpredictably as a real fleet does (insertion order would be friendlier
    // to SQLite's page cache than real traffic).
    std::shuffle(stream_secrets.begin(), stream_secrets.end(), std::mt19937_64(seed + 1));
    if (!WriteLines(files.stream_out, stream_secrets)) return 1;
  }
  if (!files.unknown_out.empty() && !WriteUnknown(files)) return 1;

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "tokend_seed: %lld tokens (+1 admin) in %.1f s (%.0f tokens/s)\n",
               static_cast<long long>(inserted), seconds, inserted / seconds);
  return 0;
}

}  // namespace
}  // namespace tokend::bench

int main(int argc, char** argv) {
  CLI::App cli{"tokend_seed: fills a tokend store with benchmark tokens"};
  std::string url;
  std::int64_t count = 0;
  std::string secrets_out;
  std::uint64_t seed = 42;
  cli.add_option("--store", url, "Store URL (sqlite:PATH, postgresql://...)")->required();
  cli.add_option("--count", count, "Number of tokens to create")
      ->required()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--secrets-out", secrets_out, "File receiving secrets for the load scripts")
      ->required();
  std::int64_t batch = tokend::bench::kDefaultBatch;
  cli.add_option("--batch", batch, "Tokens per InsertMany call")->check(CLI::PositiveNumber);
  cli.add_option("--seed", seed, "Random seed for the token mix (secrets are always random)");
  tokend::bench::StreamFiles files;
  cli.add_option("--stream-out", files.stream_out,
                 "File receiving the secret of every seeded token not expired, shuffled");
  auto* unknown_out = cli.add_option("--unknown-out", files.unknown_out,
                                     "File receiving well-formed secrets that are never stored");
  cli.add_option("--unknown-count", files.unknown_count, "How many secrets --unknown-out gets")
      ->check(CLI::NonNegativeNumber)
      ->needs(unknown_out);
  CLI11_PARSE(cli, argc, argv);
  return tokend::bench::Run(url, count, secrets_out, seed, batch, files);
}
