#include "http/handlers.h"

#include <boost/beast/core/string.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/access_demand.h"
#include "core/query.h"
#include "core/secret.h"
#include "core/text.h"
#include "http/error_response.h"
#include "http/json_codec.h"
#include "http/metrics.h"
#include "http/router.h"
#include "service/token_service.h"

namespace tokend::http {
namespace {

using beast_http::field;
using beast_http::status;

constexpr std::string_view kJson = "application/json";
// The forward-auth check's demands as request headers (see CheckToken).
constexpr std::string_view kCheckPermissionHeader = "Tokend-Check-Permission";
constexpr std::string_view kCheckPrincipalHeader = "Tokend-Check-Principal";
constexpr std::string_view kForm = "application/x-www-form-urlencoded";

// `call()` on the store pool (see service/outcome.h).
template <typename Call>
auto OnStore(Call call) {
  return service::Outcome<std::invoke_result_t<Call&>>::Blocking(std::move(call));
}

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
bool MediaTypeIs(const Exchange& ex, std::string_view expected) {
  std::string_view value = ex.headers.content_type;
  if (value == expected) return true;  // as clients send it
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

Response UnsupportedMediaType(std::string_view expected) {
  return ErrorResponse(core::Status::Error(
      core::ApiError::kUnsupportedMediaType,
      "The request body must be sent as Content-Type: " + std::string(expected) + "."));
}

// `text` with every byte outside printable ASCII, and '%', percent-encoded:
// a principal may hold any UTF-8, even line breaks, and a header value must
// not.
std::string HeaderSafe(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7F && byte != '%') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

// What a gateway passes on to the service behind it about the token.
void SetTokenHeaders(const core::Token& token, Response& res) {
  res.set("Tokend-Token-Id", token.id);
  res.set("Tokend-Token-Type", core::ToString(token.type));
  if (token.principal) res.set("Tokend-Principal", HeaderSafe(*token.principal));
  std::string permissions;
  for (const std::string& action : token.actions) {
    if (!permissions.empty()) permissions.push_back(',');
    permissions.append(action);
  }
  res.set("Tokend-Permissions", permissions);
}

// The `token` parameter of a form body, decoded into ex.decoded_secret; or
// the error response.
std::variant<std::string_view, Response> FormSecret(Exchange& ex) {
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
  ex.decoded_secret = std::move(*secret);
  return std::string_view(ex.decoded_secret);
}

// The secret an introspection request presents (JSON or form body), as it
// stands in the body or, when it had to be decoded, in ex.decoded_secret;
// or the error response.
std::variant<std::string_view, Response> IntrospectedSecret(Exchange& ex) {
  if (MediaTypeIs(ex, kJson)) {
    auto parsed = ParseIntrospectJson(ex.req.body(), ex.decoded_secret);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    return *parsed;
  }
  if (!MediaTypeIs(ex, kForm)) {
    return UnsupportedMediaType(std::string(kJson) + " or " + std::string(kForm));
  }
  return FormSecret(ex);
}

// The rotate routes' optional body: empty, or JSON, read or not (what is
// wrong with it is answered after the token is found); a 415 otherwise.
std::variant<core::Result<core::RotateRequest>, Response> RotateBody(const Exchange& ex) {
  if (ex.req.body().empty() && ex.headers.content_type.empty()) return core::RotateRequest();
  if (!MediaTypeIs(ex, kJson)) return UnsupportedMediaType(kJson);
  return ParseRotateRequest(ex.req.body());
}

Step RotatedAnswer(core::Result<service::CreatedToken> created) {
  if (!created.ok()) return ErrorResponse(created.status());
  return NoStore(JsonResponse(status::ok, SerializeCreatedToken(*created)));
}

}  // namespace

Step CreateToken(const HandlerEnv& env, Exchange& ex) {
  if (!MediaTypeIs(ex, kJson)) return UnsupportedMediaType(kJson);
  auto request = ParseCreateTokenRequest(ex.req.body());
  if (!request.ok()) return ErrorResponse(request.status());
  return env.service.CreateOutcome(ex.ActingCaller(), *request)
      .Then([](core::Result<service::CreatedToken> created) -> Step {
        if (!created.ok()) return ErrorResponse(created.status());
        return NoStore(JsonResponse(status::ok, SerializeCreatedToken(*created)));
      });
}

Step DeleteToken(const HandlerEnv& env, Exchange& ex) {
  return OnStore([&env, &ex] { return env.service.Delete(ex.ActingCaller(), ex.id); })
      .Then([](core::Status deleted) -> Step {
        if (!deleted.ok()) return ErrorResponse(deleted);
        return Response{status::ok, 11};
      });
}

Step QueryTokens(const HandlerEnv& env, Exchange& ex) {
  auto params = core::ParseQueryString(ex.query);
  if (!params.ok()) return ErrorResponse(params.status());
  auto query = core::ParseTokenQuery(*params);
  if (!query.ok()) return ErrorResponse(query.status());
  return OnStore([&env, &ex, query = *query] { return env.service.Query(ex.caller(), query); })
      .Then([&ex, query = *query](core::Result<service::QueryPage> page) -> Step {
        if (!page.ok()) return ErrorResponse(page.status());
        return JsonResponse(status::ok, SerializePage(*page, query, ex.now));
      });
}

Step AuditEvents(const HandlerEnv& env, Exchange& ex) {
  auto params = core::ParseQueryString(ex.query);
  if (!params.ok()) return ErrorResponse(params.status());
  auto query = core::ParseAuditQuery(*params);
  if (!query.ok()) return ErrorResponse(query.status());
  return OnStore([&env, &ex, query = *query] { return env.service.Audit(ex.caller(), query); })
      .Then([query = *query](core::Result<service::AuditPage> page) -> Step {
        if (!page.ok()) return ErrorResponse(page.status());
        return JsonResponse(status::ok, SerializeAuditPage(*page, query));
      });
}

Step GetToken(const HandlerEnv& env, Exchange& ex) {
  return OnStore([&env, &ex] { return env.service.Get(ex.caller(), ex.id); })
      .Then([&ex](core::Result<core::Token> token) -> Step {
        if (!token.ok()) return ErrorResponse(token.status());
        return JsonResponse(status::ok, SerializeToken(*token, ex.now));
      });
}

Step SelfToken(const HandlerEnv& env, Exchange& ex) {
  if (!ex.auth->token) {
    // Only with authentication off: no valid token was presented.
    return ErrorResponse(core::Status::Unauthenticated(
        "GET /api/v2/token/self needs a valid token: send Authorization: Bearer <token>."));
  }
  // This request is itself a use of the token, newer than any stored one.
  return JsonResponse(status::ok, SerializeToken(*ex.auth->token, ex.now, ex.now));
}

Step IntrospectToken(const HandlerEnv& env, Exchange& ex) {
  auto secret = IntrospectedSecret(ex);
  if (auto* answer = std::get_if<Response>(&secret)) return std::move(*answer);
  const auto hashed = core::HashedSecret::Of(std::get<std::string_view>(secret));
  return env.service.Introspect(ex.caller(), hashed, ex.now)
      .Then([&ex](service::Resolution visible) -> Step {
        if (!visible.ok()) return ErrorResponse(visible.status());
        // An active answer is itself a use of the introspected token.
        return NoStore(
            JsonResponse(status::ok, SerializeIntrospection(visible->get(), ex.now, ex.now)));
      });
}

Step TokenPolicy(const HandlerEnv& env, Exchange& ex) {
  const service::ServiceOptions& options = env.service.options();
  return JsonResponse(status::ok,
                      SerializePolicy(options.expiry_policy, options.last_used_resolution_seconds));
}

Step RotateToken(const HandlerEnv& env, Exchange& ex) {
  auto body = RotateBody(ex);
  if (auto* answer = std::get_if<Response>(&body)) return std::move(*answer);
  return OnStore([&env, &ex, request = std::get<core::Result<core::RotateRequest>>(body)] {
           return env.service.Rotate(ex.ActingCaller(), ex.id, request);
         })
      .Then(RotatedAnswer);
}

Step RotateSelfToken(const HandlerEnv& env, Exchange& ex) {
  if (!ex.auth->token) {
    // Only with authentication off: no valid token was presented.
    return ErrorResponse(core::Status::Unauthenticated(
        "POST /api/v2/token/self/rotate needs a valid token: send Authorization: Bearer "
        "<token>."));
  }
  auto body = RotateBody(ex);
  if (auto* answer = std::get_if<Response>(&body)) return std::move(*answer);
  auto request = std::get<core::Result<core::RotateRequest>>(std::move(body));
  if (!request.ok()) return ErrorResponse(request.status());
  return OnStore([&env, &ex, request = *std::move(request)] {
           return env.service.RotateSelf(ex.ActingCaller(), *ex.auth->token, request);
         })
      .Then(RotatedAnswer);
}

// Anonymous (router.cc): ex.auth is null here; nothing may ask for a caller.
Step RevokeTokens(const HandlerEnv& env, Exchange& ex) {
  RevokeBody body;
  if (MediaTypeIs(ex, kJson)) {
    auto parsed = ParseRevokeJson(ex.req.body());
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    body = std::move(parsed).value();
  } else if (MediaTypeIs(ex, kForm)) {
    auto secret = FormSecret(ex);
    if (auto* answer = std::get_if<Response>(&secret)) return std::move(*answer);
    body.secrets.emplace_back(std::get<std::string_view>(secret));
  } else {
    return UnsupportedMediaType(std::string(kJson) + " or " + std::string(kForm));
  }
  return OnStore([&env, body = std::move(body)] {
           std::vector<std::string_view> secrets(body.secrets.begin(), body.secrets.end());
           return env.service.RevokeSecrets(secrets);
         })
      .Then([list = body.list](core::Result<std::int64_t> revoked) -> Step {
        if (!revoked.ok()) return ErrorResponse(revoked.status());
        // RFC 7009: the single form's answer is the same whether or not the
        // secret named a token.
        if (!list) return NoStore(Response{status::ok, 11});
        return NoStore(JsonResponse(status::ok, SerializeRevokeCount(*revoked, false)));
      });
}

Step RevokeMatchingTokens(const HandlerEnv& env, Exchange& ex) {
  auto params = core::ParseQueryString(ex.query);
  if (!params.ok()) return ErrorResponse(params.status());
  auto revoke = core::ParseRevokeQuery(*params);
  if (!revoke.ok()) return ErrorResponse(revoke.status());
  // The caller's own token may be among those revoked: the answer needs
  // nothing of it (ex.auth keeps the caller alive), so it is still 200.
  return OnStore([&env, &ex, revoke = *revoke] {
           return env.service.RevokeMatching(ex.ActingCaller(), revoke.filters, revoke.dry_run);
         })
      .Then([dry_run = revoke->dry_run](core::Result<std::int64_t> count) -> Step {
        if (!count.ok()) return ErrorResponse(count.status());
        return NoStore(JsonResponse(status::ok, SerializeRevokeCount(*count, dry_run)));
      });
}

Step CheckToken(const HandlerEnv& env, Exchange& ex) {
  auto params = core::ParseQueryString(ex.query);
  if (!params.ok()) return ErrorResponse(params.status());
  // Demands may also come as headers, for a gateway that cannot put them in
  // the check's query (Envoy's ext_authz sends the original query there):
  // each Tokend-Check-Permission holds one or more, comma-separated. They
  // only add to the query's, so a client that sets either can only make its
  // own check stricter.
  for (const auto& field : ex.req) {
    const std::string_view name(field.name_string().data(), field.name_string().size());
    const std::string_view value(field.value().data(), field.value().size());
    if (boost::beast::iequals(name, kCheckPermissionHeader)) {
      // Every item counts, an empty one too (a 400, as `permission=` is): a
      // gateway's variable that came out empty must not drop a demand.
      for (std::string_view rest = value;;) {
        const std::size_t comma = rest.find(',');
        params->emplace_back("permission",
                             std::string(core::TrimAsciiSpace(rest.substr(0, comma))));
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
    } else if (boost::beast::iequals(name, kCheckPrincipalHeader)) {
      params->emplace_back("principal", std::string(core::TrimAsciiSpace(value)));
    }
  }
  auto demand = core::ParseAccessDemand(*params);
  if (!demand.ok()) return ErrorResponse(demand.status());
  if (core::Status met = core::CheckDemand(ex.caller(), *demand); !met.ok()) {
    return ErrorResponse(met);
  }
  // Envoy's HTTP ext_authz, which calls the paths below the check's, lets a
  // request through on 200 only; every other gateway takes any 2xx, and the
  // check itself answers 204 as the contract says. No body either way.
  const bool under_prefix = ex.label == CheckUnderPrefixRoute().label;
  Response res{under_prefix ? status::ok : status::no_content, 11};
  if (const core::SharedToken& token = ex.auth->token) SetTokenHeaders(*token, res);
  return NoStore(std::move(res));
}

Step Health(const HandlerEnv& env, Exchange& ex) {
  return OnStore([&env] { return env.service.Ping(); }).Then([](core::Status ping) -> Step {
    if (ping.ok()) return NoStore(JsonResponse(status::ok, R"({"status":"UP"})"));
    Response res = JsonResponse(status::service_unavailable, R"({"status":"DOWN"})");
    // As every 503: the store may be back in a moment.
    res.set(field::retry_after, "1");
    return NoStore(std::move(res));
  });
}

Step MetricsText(const HandlerEnv& env, Exchange& ex) {
  struct StoreFigures {
    bool up = false;
    std::optional<std::vector<std::pair<core::TokenType, std::int64_t>>> counts;
    std::optional<WebhookFigures> webhooks;
  };
  // The store is asked what /health asks first; once it fails to answer,
  // nothing else asks it, so that a scrape waits for one call timeout at
  // most (within a scraper's usual 10 s).
  auto read = [&env] {
    StoreFigures figures;
    figures.up = env.service.Ping().ok();
    if (figures.up) {
      auto counts = env.service.CountByType();
      if (counts.ok()) figures.counts = std::move(*counts);
      figures.up = counts.ok();
    }
    figures.webhooks = env.metrics.ReadWebhookFigures(figures.up);
    return figures;
  };
  return OnStore(read).Then([&env](StoreFigures figures) -> Step {
    MetricsSnapshotExtras extras;
    extras.webhooks = std::move(figures.webhooks);
    extras.tokens_by_type = std::move(figures.counts);
    extras.store_up = figures.up;
    const service::CacheStats cache = env.service.cache_stats();
    extras.cache_hits = cache.hits;
    extras.cache_misses = cache.misses;
    extras.cache_invalidations = cache.invalidations;
    extras.unknown_checksummed = cache.unknown_checksummed;
    extras.unknown_legacy = cache.unknown_legacy;
    extras.reuse_detected = cache.reuse_detected;
    Response res{status::ok, 11};
    res.set(field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = env.metrics.Render(extras);
    return NoStore(std::move(res));
  });
}

Step OpenApiDocument(const HandlerEnv& env, Exchange& ex) {
  return JsonResponse(status::ok, std::string(OpenApiSpec()));
}

}  // namespace tokend::http
