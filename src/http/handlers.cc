#include "http/handlers.h"

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "core/query.h"
#include "core/time.h"
#include "http/auth.h"
#include "http/error_response.h"
#include "http/json_codec.h"
#include "http/offload.h"

namespace tokend::http {
namespace {

using beast_http::field;
using beast_http::status;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kForm = "application/x-www-form-urlencoded";

Response JsonResponse(status code, std::string body) {
  Response res{code, 11};
  res.set(field::content_type, kJson);
  res.body() = std::move(body);
  return res;
}

Response NoStore(Response res) {
  res.set(field::cache_control, "no-store");
  return res;
}

// True when the media type of the request body (case-insensitive, blanks
// ignored, parameters after ';' ignored) is `expected` (lowercase).
bool MediaTypeIs(const Request& req, std::string_view expected) {
  std::string_view value = req[field::content_type];
  value = value.substr(0, value.find(';'));
  std::size_t matched = 0;
  for (char c : value) {
    if (c == ' ' || c == '\t') continue;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (matched == expected.size() || c != expected[matched]) return false;
    ++matched;
  }
  return matched == expected.size();
}

core::Status UnsupportedMediaType(std::string_view expected) {
  return core::Status::Error(
      core::ApiError::kUnsupportedMediaType,
      "The request body must be sent as Content-Type: " + std::string(expected) + ".");
}

}  // namespace

asio::awaitable<Response> HandleCreateToken(const HandlerEnv& env, Exchange& ex) {
  if (!MediaTypeIs(ex.req, kJson)) co_return ErrorResponse(UnsupportedMediaType(kJson));
  auto request = ParseCreateTokenRequest(ex.req.body());
  if (!request.ok()) co_return ErrorResponse(request.status());
  auto created =
      co_await Offload(env.blocking, [&] { return env.service.Create(ex.caller(), *request); });
  if (!created.ok()) co_return ErrorResponse(created.status());
  co_return NoStore(JsonResponse(status::ok, SerializeCreatedToken(*created)));
}

asio::awaitable<Response> HandleDeleteToken(const HandlerEnv& env, Exchange& ex) {
  const core::Status deleted =
      co_await Offload(env.blocking, [&] { return env.service.Delete(ex.caller(), ex.id); });
  if (!deleted.ok()) co_return ErrorResponse(deleted);
  co_return Response{status::ok, 11};
}

asio::awaitable<Response> HandleQueryTokens(const HandlerEnv& env, Exchange& ex) {
  auto params = core::ParseQueryString(ex.query);
  if (!params.ok()) co_return ErrorResponse(params.status());
  auto query = core::ParseTokenQuery(*params);
  if (!query.ok()) co_return ErrorResponse(query.status());
  auto page =
      co_await Offload(env.blocking, [&] { return env.service.Query(ex.caller(), *query); });
  if (!page.ok()) co_return ErrorResponse(page.status());
  co_return JsonResponse(status::ok, SerializePage(*page, *query, ex.now));
}

asio::awaitable<Response> HandleGetToken(const HandlerEnv& env, Exchange& ex) {
  auto token = co_await Offload(env.blocking, [&] { return env.service.Get(ex.caller(), ex.id); });
  if (!token.ok()) co_return ErrorResponse(token.status());
  co_return JsonResponse(status::ok, SerializeToken(*token, ex.now));
}

asio::awaitable<Response> HandleSelf(const HandlerEnv& env, Exchange& ex) {
  core::SharedToken token = ex.auth->token;
  if (!token) {
    // Authentication off: the bearer presented, if any, still names "self".
    std::string storage;
    auto presented = PresentedSecret(ex.req, ex.query, storage);
    if (!presented.ok()) co_return ErrorResponse(presented.status());
    if (!presented->has_value()) {
      co_return ErrorResponse(core::Status::Unauthenticated(
          "Authentication required: send Authorization: Bearer <token>."));
    }
    core::Result<core::SharedToken> resolved = core::SharedToken();
    if (auto cached = ResolveFromCache(env, **presented, ex.now)) {
      resolved = std::move(*cached);
    } else {
      resolved = co_await ResolveFromStore(env, std::string(**presented));
    }
    if (!resolved.ok()) co_return ErrorResponse(resolved.status());
    if (*resolved == nullptr) {
      co_return ErrorResponse(core::Status::Unauthenticated(
          "The presented token is not valid: it is malformed, unknown, expired or revoked."));
    }
    token = std::move(*resolved);
  }
  co_return JsonResponse(status::ok, SerializeToken(*token, ex.now));
}

namespace {

// The secret an introspection request presents (JSON or form body), as it
// stands in the body or, when decoded, in `storage`; or the error response.
std::variant<std::string_view, Response> IntrospectedSecret(const Exchange& ex,
                                                            std::string& storage) {
  if (MediaTypeIs(ex.req, kJson)) {
    auto parsed = ParseIntrospectJson(ex.req.body(), storage);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    return *parsed;
  }
  if (!MediaTypeIs(ex.req, kForm)) {
    return ErrorResponse(UnsupportedMediaType(std::string(kJson) + " or " + std::string(kForm)));
  }
  auto params = core::ParseQueryString(ex.req.body());
  if (!params.ok()) {
    return ErrorResponse(core::Status::InvalidArgument(
        "The form body is malformed (invalid percent-encoding or UTF-8)."));
  }
  std::optional<std::string> secret;
  for (auto& [name, value] : *params) {
    if (name != "token") continue;
    if (secret && value != *secret) {
      return ErrorResponse(core::Status::InvalidArgument(
          "The form parameter 'token' is given more than once with different values."));
    }
    secret = std::move(value);
  }
  if (!secret) {
    return ErrorResponse(core::Status::InvalidArgument("The form parameter 'token' is required."));
  }
  storage = std::move(*secret);
  return std::string_view(storage);
}

Response IntrospectionResponse(const Exchange& ex,
                               const core::Result<core::SharedToken>& resolved) {
  if (!resolved.ok()) return ErrorResponse(resolved.status());
  const core::SharedToken visible =
      service::TokenService::Introspection(ex.caller(), *resolved, ex.now);
  return NoStore(JsonResponse(status::ok, SerializeIntrospection(visible.get(), ex.now)));
}

// Introspection as far as it goes without the store: the response, or the
// secret the cache does not know.
std::variant<std::string, Response> IntrospectFromCache(const HandlerEnv& env, const Exchange& ex) {
  if (const core::Status allowed = core::CheckOperation(ex.caller(), core::TokenOperation::kRead);
      !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  std::string storage;
  auto secret = IntrospectedSecret(ex, storage);
  if (auto* answer = std::get_if<Response>(&secret)) return std::move(*answer);
  const std::string_view presented = std::get<std::string_view>(secret);
  if (auto cached = ResolveFromCache(env, presented, ex.now)) {
    return IntrospectionResponse(ex, std::move(*cached));
  }
  return std::string(presented);
}

}  // namespace

asio::awaitable<Response> HandleIntrospect(const HandlerEnv& env, Exchange& ex) {
  auto step = IntrospectFromCache(env, ex);
  if (auto* answer = std::get_if<Response>(&step)) co_return std::move(*answer);
  // A cache miss: the hop to the store.
  const auto resolved = co_await ResolveFromStore(env, std::move(std::get<std::string>(step)));
  co_return IntrospectionResponse(ex, resolved);
}

std::optional<Response> QuickIntrospect(const HandlerEnv& env, Exchange& ex) {
  auto step = IntrospectFromCache(env, ex);
  if (auto* answer = std::get_if<Response>(&step)) return std::move(*answer);
  return std::nullopt;
}

asio::awaitable<Response> HandleHealth(const HandlerEnv& env, Exchange& ex) {
  const core::Status ping = co_await Offload(env.blocking, [&] { return env.service.Ping(); });
  Response res = ping.ok() ? JsonResponse(status::ok, R"({"status":"UP"})")
                           : JsonResponse(status::service_unavailable, R"({"status":"DOWN"})");
  co_return NoStore(std::move(res));
}

asio::awaitable<Response> HandleMetrics(const HandlerEnv& env, Exchange& ex) {
  auto counts = co_await Offload(env.blocking, [&] { return env.service.CountByType(); });
  MetricsSnapshotExtras extras;
  if (counts.ok()) {
    extras.tokens_by_type = std::move(*counts);
  } else {
    extras.store_up = false;
  }
  const service::CacheStats cache = env.service.cache_stats();
  extras.cache_hits = cache.hits;
  extras.cache_misses = cache.misses;
  extras.cache_invalidations = cache.invalidations;
  Response res{status::ok, 11};
  res.set(field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = env.metrics.Render(extras);
  co_return NoStore(std::move(res));
}

asio::awaitable<Response> HandleOpenApiSpec(const HandlerEnv& env, Exchange& ex) {
  co_return JsonResponse(status::ok, std::string(OpenApiSpec()));
}

}  // namespace tokend::http
