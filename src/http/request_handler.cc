#include "http/request_handler.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core/string.hpp>
#include <exception>
#include <optional>
#include <typeinfo>
#include <utility>

#include "core/time.h"
#include "http/auth.h"
#include "http/console_files.h"
#include "http/error_response.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/wire.h"
#include "service/token_service.h"

namespace tokend::http {
namespace {

constexpr std::string_view kTokenExpirationHeader = "Token-Expiration";

// The query of the original request a gateway forwards for checking
// (nginx's X-Original-URI, Traefik's and Caddy's X-Forwarded-Uri), fragment
// excluded; nullopt when neither header is present. Both, or one repeated,
// with different queries are refused: which credential the gateway meant
// cannot be known, and a guess could check the wrong one.
core::Result<std::optional<std::string_view>> ForwardedQuery(const Request& req) {
  std::optional<std::string_view> query;
  for (const auto& field : req) {
    const std::string_view name = field.name_string();
    if (!boost::beast::iequals(name, "X-Original-URI") &&
        !boost::beast::iequals(name, "X-Forwarded-Uri")) {
      continue;
    }
    std::string_view uri = field.value();
    uri = uri.substr(0, uri.find('#'));
    const auto question = uri.find('?');
    const std::string_view this_query =
        question == std::string_view::npos ? std::string_view{} : uri.substr(question + 1);
    if (query && *query != this_query) {
      return core::Status::InvalidArgument(
          "X-Original-URI and X-Forwarded-Uri are given more than once with different queries.");
    }
    query = this_query;
  }
  return query;
}

// The answer for a request no route takes (404, 405).
Response Unrouted(const RouteMatch& match) {
  if (match.allow.empty()) {
    return ErrorResponse(core::ApiError::kRouteNotFound, "No route matches this path.");
  }
  Response res =
      ErrorResponse(core::ApiError::kMethodNotAllowed,
                    "This method is not allowed on this path; allowed: " + match.allow + ".");
  res.set(beast_http::field::allow, match.allow);
  return res;
}

Response Unexpected(const Exchange& ex, const char* what) {
  // what() may quote request data; the type and route are enough to start.
  spdlog::error("unexpected {} while handling {}", what, ex.label);
  return ErrorResponse(core::Status::Internal("An unexpected error occurred."));
}

// Runs `step()`, answering 500 for any exception it throws.
template <typename Call>
auto Guarded(const Exchange& ex, Call call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& e) {
    return Unexpected(ex, typeid(e).name());
  } catch (...) {
    return Unexpected(ex, "exception");
  }
}

// The route's answer once the caller is known: 404/405 for no route, the
// route's authorization gate, a malformed {id}, then the route itself.
Step Dispatch(const HandlerEnv& env, Exchange& ex, RouteMatch& match) {
  if (match.route == nullptr) return Unrouted(match);
  const Route& route = *match.route;
  if (route.needs && ex.auth) {
    // Before the route decodes anything: a caller who may not do this at all
    // learns nothing about what would have been wrong with the request.
    if (core::Status allowed = core::CheckOperation(ex.caller(), *route.needs); !allowed.ok()) {
      return ErrorResponse(allowed);
    }
  }
  if (!match.error.ok()) return ErrorResponse(match.error);
  ex.id = std::move(match.id);
  return route.run(env, ex);
}

}  // namespace

Step RequestHandler::Handle(Exchange& ex) const {
  ex.request_id = RequestIdFor(ex.headers.request_id);
  return Guarded(ex, [&] { return Route(ex); });
}

Step RequestHandler::Route(Exchange& ex) const {
  const std::optional<Target> target = ParseTarget(ex.req.target());
  if (!target) {
    return ErrorResponse(core::ApiError::kBadHttpRequest,
                         "The request target must be an absolute path.");
  }
  ex.path = target->path;
  ex.query = target->query;
  ex.credential_query = target->query;
  RouteMatch match = MatchRoute(ex.req.method(), ex.path);
  if (match.forward_auth_path) ex.bodiless = true;
  if (match.route != nullptr) {
    ex.label = match.route->label;
    if (match.route->forward_auth) {
      ex.bodiless = true;
      auto original = ForwardedQuery(ex.req);
      if (!original.ok()) return ErrorResponse(original.status());
      // Under the check's path, the check's own query is the original
      // request's already: a forwarded URI naming another is ambiguous.
      if (*original && match.route == &CheckUnderPrefixRoute() && **original != ex.query) {
        return ErrorResponse(core::ApiError::kBadHttpRequest,
                             "The query after the check's path and the forwarded URI's differ.");
      }
      if (*original) ex.credential_query = **original;
    }
  }
  // On /api/v2, authentication comes first: an unauthenticated caller learns
  // nothing, not even which paths exist. Anonymous routes (revocation by
  // value) are the exception their table entry declares.
  if (!IsApiPath(ex.path) || (match.route != nullptr && match.route->anonymous)) {
    return Dispatch(env_, ex, match);
  }
  return Authenticate(env_, ex).Then(
      [env = &env_, &ex, match = std::move(match)](AuthResult auth) mutable -> Step {
        if (!auth.ok()) return ErrorResponse(auth.status());
        ex.auth = std::move(*auth);
        // Passing authentication with a token is a use of it, whatever the
        // route answers next (docs/API.md, "Last used").
        if (ex.auth->token) env->service.RecordUse(ex.auth->token->id, ex.now);
        return Dispatch(*env, ex, match);
      });
}

Step::Resume RequestHandler::RunWork(Exchange& ex, Step::Work& work) const {
  try {
    return work();
  } catch (const std::exception& e) {
    return [response = Unexpected(ex, typeid(e).name())] { return Step(response); };
  } catch (...) {
    return [response = Unexpected(ex, "exception")] { return Step(response); };
  }
}

void RequestHandler::RunSubmit(Exchange& ex, Step::Submit& submit,
                               const Step::Finish& finish) const {
  try {
    submit(finish);
  } catch (const std::exception& e) {
    finish([response = Unexpected(ex, typeid(e).name())] { return Step(response); });
  } catch (...) {
    finish([response = Unexpected(ex, "exception")] { return Step(response); });
  }
}

Step RequestHandler::Resume(Exchange& ex, Step::Resume& resume) const {
  return Guarded(ex, [&] { return resume(); });
}

Response RequestHandler::HandleHere(Exchange& ex) const {
  Step step = Handle(ex);
  while (!step.ready()) {
    Step::Resume resume;
    if (step.submitted()) {
      Step::Submit submit = step.TakeSubmit();
      resume = service::WaitForSubmitted<Response>(
          [&](const Step::Finish& finish) { RunSubmit(ex, submit, finish); });
    } else {
      Step::Work work = step.TakeWork();
      resume = RunWork(ex, work);
    }
    step = Resume(ex, resume);
  }
  Response res = std::move(step.value());
  Finish(ex, res);
  return res;
}

void RequestHandler::Finish(const Exchange& ex, Response& res) const {
  if (ex.bodiless) {
    res.body().clear();
    res.erase(beast_http::field::content_type);
  }
  FinishResponse(res, ex.req.version(), ex.headers.keep_alive);
  // Authenticated /api/v2 answers tell the caller when its own token expires.
  if (ex.auth && ex.auth->token && ex.auth->token->expiration_date) {
    res.set(kTokenExpirationHeader, core::FormatSpringDate(*ex.auth->token->expiration_date));
  }
  res.set(kRequestIdHeader, ex.request_id);
  if (IsConsolePath(ex.path)) SetConsoleHeaders(res);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - ex.start;
  env_.metrics.RecordRequest(ex.label, res.result_int(), elapsed.count());
  access_log_.Write(ex, res.result_int());
}

}  // namespace tokend::http
