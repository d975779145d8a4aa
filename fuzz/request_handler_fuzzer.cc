// RequestHandler::Handle on raw HTTP/1.1 bytes: the input goes through Beast's
// request parser with the server's limits and, when it yields a complete
// request, is answered by a handler over an in-memory SQLite store (one per
// process, rebuilt now and then so it stays small). Built twice: with
// authentication off, and with TOKEND_FUZZ_AUTH_REQUIRED for `--auth required`.
//
// Before parsing, placeholders in the input are replaced so that the fuzzer
// can present real credentials and ids: $ADMIN (a global **/** secret), $TEAM
// (team "t1" with token/read and token/write), $USER (user "u1", acting as
// its user), $ID (the id of a team "t1" token, recreated when deleted), and
// in the header, $LEN (the byte length of the body after the first blank
// line), so that mutated bodies keep a correct Content-Length.
//
// Invariants: Handle never throws and never answers 500; every 4xx/5xx body
// (but /health's) is a RestErrorResponse; a body sent as application/json
// is valid JSON (and UTF-8); Content-Length matches the body;
// with authentication required, an /api/v2 request without any credential
// is 401 whatever its method and path.
//
// TOKEND_FUZZ_TRACE=1 in the environment prints each answered request's
// status and target (to check what a corpus reaches).
#include <spdlog/spdlog.h>

#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/authz.h"
#include "core/create_request.h"
#include "fuzz_check.h"
#include "http/metrics.h"
#include "http/request_handler.h"
#include "http/router.h"
#include "http/wire.h"
#include "service/token_service.h"
#include "store/token_store.h"

#ifndef TOKEND_FUZZ_AUTH_REQUIRED
#define TOKEND_FUZZ_AUTH_REQUIRED 0
#endif

namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using tokend::http::Request;
using tokend::http::Response;

constexpr bool kAuthRequired = TOKEND_FUZZ_AUTH_REQUIRED != 0;

// The server's defaults (http/server.h, ServerOptions).
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kMaxTargetBytes = 8 * 1024;

// Inputs answered before the store is replaced by an empty one.
constexpr int kRunsPerStore = 20000;

std::string MustCreate(tokend::service::TokenService& service, std::string type,
                       std::string principal, std::vector<std::string> permissions,
                       std::string* id) {
  tokend::core::CreateTokenRequest request;
  request.type = std::move(type);
  request.name = "fuzz fixture";
  request.principal = std::move(principal);
  if (!permissions.empty()) request.permissions = std::move(permissions);
  auto created = service.Create(tokend::core::Caller::Unrestricted(), request);
  FUZZ_CHECK(created.ok(), created.status().ToString());
  if (id != nullptr) *id = created->token.id;
  return created->secret;
}

class Fixture {
 public:
  Fixture() { Rebuild(); }

  Response Handle(Request req) {
    if (++runs_ >= kRunsPerStore) Rebuild();
    tokend::http::Exchange ex(req, nullptr);
    return handler_->HandleHere(ex);
  }

  // Replaces the placeholders in `text`.
  void Substitute(std::string& text) const {
    Replace(text, "$ADMIN", admin_);
    Replace(text, "$TEAM", team_);
    Replace(text, "$USER", user_);
    Replace(text, "$ID", victim_id_);
  }

  // Recreates the $ID token once a request has deleted it.
  void RestoreVictim() {
    auto found = service_->Get(tokend::core::Caller::Unrestricted(), victim_id_);
    if (found.ok()) return;
    FUZZ_CHECK(found.status().IsNotFound(), found.status().ToString());
    MustCreate(*service_, "team", "t1", {"token/read"}, &victim_id_);
  }

 private:
  static void Replace(std::string& text, std::string_view from, std::string_view to) {
    for (std::size_t pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
      text.replace(pos, from.size(), to);
    }
  }

  void Rebuild() {
    runs_ = 0;
    handler_.reset();
    service_.reset();
    store_.reset();
    auto store = tokend::store::TokenStore::Open("sqlite::memory:");
    FUZZ_CHECK(store.ok(), store.status().ToString());
    store_ = std::move(*store);
    tokend::service::ServiceOptions options;
    options.auth_required = kAuthRequired;
    options.max_unpaged = 500;
    options.cache_capacity = 1024;
    service_ = std::make_unique<tokend::service::TokenService>(*store_, options);
    auto admin = service_->CreateBootstrapAdmin();
    FUZZ_CHECK(admin.ok(), admin.status().ToString());
    admin_ = admin->secret;
    team_ = MustCreate(*service_, "team", "t1", {"token/read", "token/write"}, nullptr);
    user_ = MustCreate(*service_, "user", "u1", {}, nullptr);
    MustCreate(*service_, "team", "t1", {"token/read"}, &victim_id_);
    // Blocking work runs on the calling thread: one thread, reproducible.
    handler_ = std::make_unique<tokend::http::RequestHandler>(
        tokend::http::HandlerEnv{*service_, metrics_});
  }

  tokend::http::Metrics metrics_;
  std::unique_ptr<tokend::store::TokenStore> store_;
  std::unique_ptr<tokend::service::TokenService> service_;
  std::unique_ptr<tokend::http::RequestHandler> handler_;
  std::string admin_, team_, user_, victim_id_;
  int runs_ = 0;
};

Fixture& TheFixture() {
  // Never destroyed: it stays reachable for LeakSanitizer, and exit-time
  // destruction order cannot matter.
  static Fixture* const fixture = [] {
    spdlog::set_level(spdlog::level::err);
    return new Fixture();
  }();
  return *fixture;
}

// The input with placeholders replaced and $LEN in the header set to the
// body's length.
std::string Prepare(const Fixture& fixture, std::string_view input) {
  std::string text(input);
  fixture.Substitute(text);
  const std::size_t blank = text.find("\r\n\r\n");
  if (blank == std::string::npos) return text;
  std::string head = text.substr(0, blank + 4);
  const std::string body = text.substr(blank + 4);
  const std::string length = std::to_string(body.size());
  for (std::size_t pos = head.find("$LEN"); pos != std::string::npos;
       pos = head.find("$LEN", pos + length.size())) {
    head.replace(pos, 4, length);
  }
  return head + body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& fixture = TheFixture();
  const std::string wire =
      Prepare(fixture, std::string_view(reinterpret_cast<const char*>(data), size));

  beast_http::request_parser<beast_http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(kMaxBodyBytes);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < wire.size() && !parser.is_done()) {
    const std::size_t n = parser.put(asio::buffer(wire.data() + used, wire.size() - used), ec);
    if (ec) return 0;  // the session answers framing errors itself
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) return 0;  // the session would wait for more bytes

  Request req = parser.release();
  const std::string target(req.target());
  if (target.size() > kMaxTargetBytes) return 0;  // 414 from the session
  // Forward auth also takes access_token from the original request's URI.
  const bool has_credential =
      req.find(beast_http::field::authorization) != req.end() ||
      target.find("access_token") != std::string::npos || target.find('%') != std::string::npos ||
      req.find("X-Original-URI") != req.end() || req.find("X-Forwarded-Uri") != req.end();
  const std::string_view path = std::string_view(target).substr(0, target.find('?'));
  const bool deletes = req.method() == beast_http::verb::delete_;

  const Response res = fixture.Handle(std::move(req));

  const int status = res.result_int();
  static const bool trace = std::getenv("TOKEND_FUZZ_TRACE") != nullptr;
  if (trace) std::fprintf(stderr, "%d %s\n", status, target.c_str());
  FUZZ_CHECK(status != 500, target + " -> " + res.body());
  std::string answer;
  tokend::http::AppendWireResponse(res, answer);
  const std::size_t header_end = answer.find("\r\n\r\n");
  if (status == 204 || status == 304) {
    // RFC 9110 8.6: no Content-Length, and nothing after the header.
    FUZZ_CHECK(res.body().empty() && answer.find("\r\nContent-Length:") > header_end &&
                   header_end + 4 == answer.size(),
               target);
  } else {
    FUZZ_CHECK(answer.find("\r\nContent-Length: " + std::to_string(res.body().size()) + "\r\n") <
                   header_end,
               target);
  }
  if (res[beast_http::field::content_type].starts_with("application/json")) {
    boost::json::error_code json_ec;
    boost::json::parse(res.body(), json_ec);
    FUZZ_CHECK(!json_ec, target + " -> invalid JSON: " + res.body());
  }
  // No answer on forward auth's path carries a body, whatever the method,
  // errors included: the gateway reads only the status and headers. Every
  // path below it is the check too (Envoy appends the original path); an
  // absolute-form target may reach them as well.
  constexpr std::string_view kForwardAuthPath = "/api/v2/token/check";
  constexpr std::string_view kForwardAuthPrefix = "/api/v2/token/check/";
  if (path == kForwardAuthPath || path.starts_with(kForwardAuthPrefix)) {
    FUZZ_CHECK(res.body().empty(), target + " -> " + std::to_string(status) + " " + res.body());
  }
  if (status >= 400 && path != "/health") {
    FUZZ_CHECK(tokend::fuzz::IsErrorBody(res.body()) ||
                   ((path.ends_with(kForwardAuthPath) ||
                     path.find(kForwardAuthPrefix) != std::string_view::npos) &&
                    res.body().empty()),
               target + " -> " + std::to_string(status) + " " + res.body());
  }
  if (kAuthRequired && !has_credential && !path.empty() && path.front() == '/' &&
      tokend::http::IsApiPath(path)) {
    FUZZ_CHECK(status == 401, target + " -> " + std::to_string(status) + " " + res.body());
  }
  if (deletes) fixture.RestoreVictim();
  return 0;
}
