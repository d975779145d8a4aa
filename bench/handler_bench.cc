// The user-space cost of one introspection request, without sockets: the
// bytes wrk sends are parsed as the server's sessions parse them (Beast's
// request parser), answered by RequestHandler and written out as the bytes
// that go on the wire. The store is an in-memory SQLite database, and both
// secrets (the bearer's and the introspected one) are in the cache, as they
// are in the introspection benchmark of bench/run.sh.
//
// Run: handler_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <boost/beast/http/parser.hpp>
#include <cstdlib>
#include <optional>
#include <string>

#include "core/create_request.h"
#include "http/auth.h"
#include "http/metrics.h"
#include "http/request_handler.h"
#include "http/wire.h"
#include "service/token_service.h"
#include "store/token_store.h"

namespace tokend::bench {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;

struct Fixture {
  std::unique_ptr<store::TokenStore> store;
  std::optional<service::TokenService> service;
  std::string admin_secret;
  std::string team_secret;
};

void MakeFixture(Fixture& f) {
  auto opened = store::TokenStore::Open("sqlite::memory:");
  if (!opened.ok()) std::abort();
  f.store = std::move(*opened);
  f.service.emplace(*f.store, service::ServiceOptions{});
  auto admin = f.service->CreateBootstrapAdmin();
  if (!admin.ok()) std::abort();
  f.admin_secret = admin->secret;
  core::CreateTokenRequest request;
  request.type = "team";
  request.name = "deploy token";
  request.principal = "team-42";
  request.permissions = std::vector<std::string>{"workflow/read", "workflow/write"};
  auto team = f.service->Create(core::Caller::FromToken(admin->token), request);
  if (!team.ok()) std::abort();
  f.team_secret = team->secret;
}

// What wrk sends for bench/wrk/introspect.lua.
std::string IntrospectRequest(const Fixture& f) {
  const std::string body = R"({"token":")" + f.team_secret + "\"}";
  return "POST /api/v2/token/introspect HTTP/1.1\r\n"
         "Host: 127.0.0.1:8080\r\n"
         "Content-Type: application/json\r\n"
         "Authorization: Bearer " +
         f.admin_secret +
         "\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// `remember_bearer`: the connection keeps its BearerMemo between requests,
// as a keep-alive connection does; without it every request pays the
// bearer's hash and cache lookup, as the first request of a connection does.
void IntrospectRequests(benchmark::State& state, bool remember_bearer) {
  Fixture f;
  MakeFixture(f);
  http::Metrics metrics;
  const http::RequestHandler handler(http::HandlerEnv{*f.service, metrics});
  const std::string wire = IntrospectRequest(f);
  std::string out;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser;
  http::BearerMemo memo;
  http::BearerMemo* const kept = remember_bearer ? &memo : nullptr;
  for (auto _ : state) {
    parser.emplace();
    parser->header_limit(16 * 1024);
    parser->body_limit(64 * 1024);
    parser->eager(false);
    boost::system::error_code ec;
    std::size_t used = parser->put(asio::buffer(wire), ec);
    parser->eager(true);
    used += parser->put(asio::buffer(wire.data() + used, wire.size() - used), ec);
    if (ec || !parser->is_done()) std::abort();
    // As the server's sessions do; a cache hit needs no blocking work.
    http::Exchange ex(parser->get(), kept);
    http::Step step = handler.Handle(ex);
    if (!step.ready()) std::abort();
    http::Response res = std::move(step.value());
    handler.Finish(ex, res);
    out.clear();
    http::AppendWireResponse(res, out);
    if (res.result_int() != 200 || out.find("\"active\":true") == std::string::npos) {
      std::abort();
    }
  }
}
void BM_IntrospectRequest(benchmark::State& state) { IntrospectRequests(state, true); }
BENCHMARK(BM_IntrospectRequest);

void BM_IntrospectRequestFirstOnItsConnection(benchmark::State& state) {
  IntrospectRequests(state, false);
}
BENCHMARK(BM_IntrospectRequestFirstOnItsConnection);

}  // namespace
}  // namespace tokend::bench

BENCHMARK_MAIN();
