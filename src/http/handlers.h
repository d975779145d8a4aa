// The thin handlers behind the route table: decode, call the service (off the
// I/O threads when it may block), encode, map errors.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "http/request_handler.h"
#include "http/router.h"

namespace tokend::http {

asio::awaitable<Response> HandleCreateToken(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleDeleteToken(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleQueryTokens(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleGetToken(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleSelf(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleIntrospect(const HandlerEnv& env, Exchange& ex);
std::optional<Response> QuickIntrospect(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleHealth(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleMetrics(const HandlerEnv& env, Exchange& ex);
asio::awaitable<Response> HandleOpenApiSpec(const HandlerEnv& env, Exchange& ex);

// The OpenAPI document (docs/openapi.json), embedded at build time.
std::string_view OpenApiSpec();

}  // namespace tokend::http
