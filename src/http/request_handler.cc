#include "http/request_handler.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core/string.hpp>
#include <charconv>
#include <chrono>
#include <exception>
#include <optional>
#include <typeinfo>
#include <utility>

#include "http/auth.h"
#include "http/error_response.h"
#include "http/router.h"

namespace tokend::http {
namespace {

// The path-and-query of a target. Absolute-form targets
// ("http://host/path?q", RFC 9112 section 3.2.2) are accepted like their
// origin form; the authority is ignored.
std::string_view OriginForm(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() &&
        boost::beast::iequals(target.substr(0, scheme.size()), scheme)) {
      target.remove_prefix(scheme.size());
      const auto path = target.find_first_of("/?");
      if (path == std::string_view::npos) return "/";
      // "http://host?q" has an empty path, which is "/".
      return target[path] == '/' ? target.substr(path) : std::string_view();
    }
  }
  return target;
}

// The answer for a request no route takes (404, 405, a bad {id}), or
// nullopt when match.route will handle it.
std::optional<Response> Unrouted(const RouteMatch& match) {
  if (!match.error.ok()) return ErrorResponse(match.error);
  if (match.route != nullptr) return std::nullopt;
  if (match.allow.empty()) {
    return ErrorResponse(core::ApiError::kRouteNotFound, "No route matches this path.");
  }
  Response res =
      ErrorResponse(core::ApiError::kMethodNotAllowed,
                    "This method is not allowed on this path; allowed: " + match.allow + ".");
  res.set(beast_http::field::allow, match.allow);
  return res;
}

// The request as handlers see it, for a target in origin form.
Exchange MakeExchange(const Request& req, std::string_view target) {
  const auto question = target.find('?');
  return Exchange{.req = req,
                  .path = target.substr(0, question),
                  .query = question == std::string_view::npos ? std::string_view()
                                                              : target.substr(question + 1),
                  .now = core::NowMillis()};
}

}  // namespace

void FinishResponse(Response& res, unsigned version, bool keep_alive) {
  res.version(version);
  res.keep_alive(keep_alive);
}

void AppendWireResponse(const Response& res, std::string& out) {
  const unsigned version = res.version();
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + version / 10 % 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + version % 10));
  out.push_back(' ');
  char code[3];
  const unsigned status = res.result_int() % 1000;
  code[0] = static_cast<char>('0' + status / 100);
  code[1] = static_cast<char>('0' + status / 10 % 10);
  code[2] = static_cast<char>('0' + status % 10);
  out.append(code, sizeof code);
  out.push_back(' ');
  const auto reason = res.reason();
  if (reason.empty()) {
    const auto obsolete = beast_http::obsolete_reason(res.result());
    out.append(obsolete.data(), obsolete.size());
  } else {
    out.append(reason.data(), reason.size());
  }
  out.append("\r\n");
  for (const auto& field : res) {
    const auto name = field.name_string();
    const auto value = field.value();
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("Server: tokend\r\n");
  const bool bodiless = status / 100 == 1 || status == 204 || status == 304;
  if (!bodiless) {
    out.append("Content-Length: ");
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, res.body().size()).ptr;
    out.append(digits, end);
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(res.body());
}

void RequestHandler::Finish(Response& res, const Request& req, std::string_view label,
                            std::chrono::steady_clock::time_point start) const {
  FinishResponse(res, req.version(), req.keep_alive());
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  env_.metrics.RecordRequest(label, res.result_int(), elapsed.count());
}

std::optional<Response> RequestHandler::AnswerNow(const Request& req, BearerMemo* memo) const {
  const auto start = std::chrono::steady_clock::now();
  try {
    const std::string_view target = OriginForm(req.target());
    if (target.empty() || target.front() != '/') return std::nullopt;
    Exchange ex = MakeExchange(req, target);
    RouteMatch match = MatchRoute(req.method(), ex.path);
    if (match.route == nullptr || match.route->quick == nullptr || !match.error.ok()) {
      return std::nullopt;
    }
    std::optional<Response> res;
    if (IsApiPath(ex.path)) {
      AuthAttempt attempt = StartAuthentication(env_, req, ex.query, ex.now, memo);
      if (!attempt.result) return std::nullopt;  // the store must be asked
      if (attempt.result->ok()) {
        ex.auth = std::move(**attempt.result);
      } else {
        res.emplace(ErrorResponse(attempt.result->status()));
      }
    }
    if (!res) {
      ex.id = std::move(match.id);
      res = match.route->quick(env_, ex);
      if (!res) return std::nullopt;
    }
    Finish(*res, req, match.route->label, start);
    return res;
  } catch (...) {
    return std::nullopt;  // Handle answers (and logs) it
  }
}

void MakeWireResponseClose(std::string& wire) {
  const auto head_end = wire.find("\r\n\r\n");
  if (head_end == std::string::npos) return;
  if (wire.starts_with("HTTP/1.0")) {
    constexpr std::string_view kKeepAlive = "\r\nConnection: keep-alive\r\n";
    const auto at = wire.find(kKeepAlive);
    if (at != std::string::npos && at <= head_end) {
      wire.erase(at + 2, kKeepAlive.size() - 2);
    }
    return;
  }
  wire.insert(head_end + 2, "Connection: close\r\n");
}

// Target, route, authentication, handler: one coroutine (the route's
// handler is the only other), and authentication suspends only on a cache
// miss.
asio::awaitable<Response> RequestHandler::Handle(Request req, BearerMemo* memo) const {
  const auto start = std::chrono::steady_clock::now();
  std::string_view label = kUnmatchedRoute;
  std::optional<Response> res;
  try {
    const std::string_view target = OriginForm(req.target());
    if (target.empty() || target.front() != '/') {
      res.emplace(ErrorResponse(core::ApiError::kBadHttpRequest,
                                "The request target must be an absolute path."));
    } else {
      Exchange ex = MakeExchange(req, target);
      RouteMatch match = MatchRoute(req.method(), ex.path);
      if (match.route != nullptr) label = match.route->label;
      if (IsApiPath(ex.path)) {
        AuthAttempt attempt = StartAuthentication(env_, req, ex.query, ex.now, memo);
        if (!attempt.result) {
          AuthResult finished = co_await FinishAuthentication(env_, std::move(attempt), memo);
          attempt.result.emplace(std::move(finished));
        }
        auto& auth = *attempt.result;
        if (auth.ok()) {
          ex.auth = std::move(*auth);
        } else {
          res.emplace(ErrorResponse(auth.status()));
        }
      }
      if (!res) res = Unrouted(match);
      if (!res) {
        ex.id = std::move(match.id);
        res.emplace(co_await match.route->handler(env_, ex));
      }
    }
  } catch (const std::exception& e) {
    // what() may quote request data; the type and route are enough to start.
    spdlog::error("unexpected {} while handling {}", typeid(e).name(), label);
  } catch (...) {
    spdlog::error("unexpected exception while handling {}", label);
  }
  if (!res) res.emplace(ErrorResponse(core::Status::Internal("An unexpected error occurred.")));
  Finish(*res, req, label, start);
  co_return std::move(*res);
}

}  // namespace tokend::http
