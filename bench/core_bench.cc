// Micro-benchmarks of the per-request building blocks: secrets, JSON at the
// edge, authorization decisions. Run: core_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "core/authz.h"
#include "core/create_request.h"
#include "core/object_id.h"
#include "core/query.h"
#include "core/secret.h"
#include "core/time.h"
#include "core/token.h"
#include "http/json_codec.h"
#include "service/token_service.h"

namespace tokend::bench {
namespace {

core::Token SampleToken(int i, core::EpochMillis now) {
  core::Token token;
  token.type = core::TokenType::kTeam;
  token.creation_date = now - 1000LL * i;
  token.id = core::NewObjectId(token.creation_date);
  token.name = "deploy token " + std::to_string(i);
  token.description = "used by the nightly pipeline";
  token.principal = "team-" + std::to_string(i % 100);
  if (i % 3 == 0) token.expiration_date = now + 86400000LL * 30;
  token.actions = {"workflow/read", "workflow/write", "workflowrun/action"};
  token.secret_hash = core::HashSecret(core::GenerateSecret(token.type));
  return token;
}

void BM_GenerateSecret(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(core::GenerateSecret(core::TokenType::kTeam));
}
BENCHMARK(BM_GenerateSecret);

void BM_ParseSecret(benchmark::State& state) {
  const std::string secret = core::GenerateSecret(core::TokenType::kTeam);
  for (auto _ : state) benchmark::DoNotOptimize(core::ParseSecret(secret));
}
BENCHMARK(BM_ParseSecret);

void BM_ParseSecretLegacy(benchmark::State& state) {
  const std::string secret = "bft_0f8fad5b-d9cb-469f-a165-70867728950e";
  for (auto _ : state) benchmark::DoNotOptimize(core::ParseSecret(secret));
}
BENCHMARK(BM_ParseSecretLegacy);

void BM_HashSecret(benchmark::State& state) {
  const std::string secret = core::GenerateSecret(core::TokenType::kTeam);
  for (auto _ : state) benchmark::DoNotOptimize(core::HashSecret(secret));
}
BENCHMARK(BM_HashSecret)->ThreadRange(1, 2);

// What HashSecret avoids: the digest looked up by name on every call (an
// implicit fetch in OpenSSL 3) and a fresh context each time.
void BM_Sha256FetchedPerCall(benchmark::State& state) {
  const std::string secret = core::GenerateSecret(core::TokenType::kTeam);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  for (auto _ : state) {
    EVP_Digest(secret.data(), secret.size(), digest, &length, EVP_sha256(), nullptr);
    benchmark::DoNotOptimize(digest);
  }
}
BENCHMARK(BM_Sha256FetchedPerCall);

void BM_SerializePage1000(benchmark::State& state) {
  const core::EpochMillis now = core::NowMillis();
  service::QueryPage page;
  for (int i = 0; i < 1000; ++i) page.tokens.push_back(SampleToken(i, now));
  page.total = 250000;
  core::TokenQuery query;
  query.types = {core::TokenType::kTeam};
  query.limit = 1000;
  query.page = 3;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string body = http::SerializePage(page, query, now);
    bytes += body.size();
    benchmark::DoNotOptimize(body);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_SerializePage1000)->Unit(benchmark::kMicrosecond);

void BM_SerializeIntrospection(benchmark::State& state) {
  const core::EpochMillis now = core::NowMillis();
  const core::Token token = SampleToken(1, now);
  for (auto _ : state) benchmark::DoNotOptimize(http::SerializeIntrospection(&token, now));
}
BENCHMARK(BM_SerializeIntrospection);

void BM_ParseCreateTokenRequest(benchmark::State& state) {
  const std::string body =
      R"({"type":"team","name":"deploy token","principal":"team-42",)"
      R"("description":"used by the nightly pipeline","expirationDate":4102444800000,)"
      R"("permissions":["workflow/read","workflow/write","workflowrun/action"]})";
  for (auto _ : state) benchmark::DoNotOptimize(http::ParseCreateTokenRequest(body));
}
BENCHMARK(BM_ParseCreateTokenRequest);

void BM_ParseIntrospectJson(benchmark::State& state) {
  const std::string body = R"({"token":")" + core::GenerateSecret(core::TokenType::kTeam) + "\"}";
  for (auto _ : state) benchmark::DoNotOptimize(http::ParseIntrospectJson(body));
}
BENCHMARK(BM_ParseIntrospectJson);

void BM_CheckAccess(benchmark::State& state) {
  const core::EpochMillis now = core::NowMillis();
  core::Token caller_token = SampleToken(7, now);
  caller_token.actions = {"workflow/read", "token/read", "token/write"};
  const core::Caller caller = core::Caller::FromToken(caller_token);
  const core::Token target = SampleToken(7, now);
  for (auto _ : state) {
    benchmark::DoNotOptimize(core::CheckAccess(caller, core::TokenOperation::kRead, target));
  }
}
BENCHMARK(BM_CheckAccess);

void BM_CheckCreate(benchmark::State& state) {
  const core::EpochMillis now = core::NowMillis();
  core::Token caller_token = SampleToken(7, now);
  caller_token.actions = {"**/read", "**/write", "workflowrun/action"};
  caller_token.expiration_date.reset();
  const core::Caller caller = core::Caller::FromToken(caller_token);
  core::NewTokenSpec spec;
  spec.type = core::TokenType::kTeam;
  spec.name = "child";
  spec.principal = caller_token.principal;
  spec.expiration_date = now + 86400000LL;
  spec.actions = {"workflow/read", "workflow/write", "workflowrun/action"};
  for (auto _ : state) benchmark::DoNotOptimize(core::CheckCreate(caller, spec));
}
BENCHMARK(BM_CheckCreate);

void BM_ValidateCreate(benchmark::State& state) {
  const core::EpochMillis now = core::NowMillis();
  core::CreateTokenRequest request;
  request.type = "team";
  request.name = "deploy token";
  request.principal = "team-42";
  request.expiration_date = now + 86400000LL;
  request.permissions = std::vector<std::string>{"workflow/read", "workflow/write"};
  request.role = "reader";
  for (auto _ : state) benchmark::DoNotOptimize(core::ValidateCreate(request, now));
}
BENCHMARK(BM_ValidateCreate);

void BM_ParseTokenQuery(benchmark::State& state) {
  const std::string raw = "types=team,user&principals=team-0000&limit=10&page=1000&order=DESC";
  for (auto _ : state) {
    auto params = core::ParseQueryString(raw);
    if (params.ok()) benchmark::DoNotOptimize(core::ParseTokenQuery(*params));
  }
}
BENCHMARK(BM_ParseTokenQuery);

}  // namespace
}  // namespace tokend::bench

BENCHMARK_MAIN();
