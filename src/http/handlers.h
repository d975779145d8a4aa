// The route functions behind the route table (router.cc): each decodes the
// exchange, calls the service and encodes its answer or error. Blocking
// service calls are returned as Step work, never made here.
#pragma once

#include <string_view>

#include "http/exchange.h"

namespace tokend::http {

Step CreateToken(const HandlerEnv& env, Exchange& ex);
Step DeleteToken(const HandlerEnv& env, Exchange& ex);
// GET /api/v2/token/audit (API 8.1).
Step AuditEvents(const HandlerEnv& env, Exchange& ex);
Step QueryTokens(const HandlerEnv& env, Exchange& ex);
Step GetToken(const HandlerEnv& env, Exchange& ex);
Step SelfToken(const HandlerEnv& env, Exchange& ex);
Step CheckToken(const HandlerEnv& env, Exchange& ex);
Step IntrospectToken(const HandlerEnv& env, Exchange& ex);
Step TokenPolicy(const HandlerEnv& env, Exchange& ex);
Step RotateToken(const HandlerEnv& env, Exchange& ex);
Step RotateSelfToken(const HandlerEnv& env, Exchange& ex);
Step RevokeTokens(const HandlerEnv& env, Exchange& ex);
Step RevokeMatchingTokens(const HandlerEnv& env, Exchange& ex);
Step Health(const HandlerEnv& env, Exchange& ex);
Step MetricsText(const HandlerEnv& env, Exchange& ex);
Step OpenApiDocument(const HandlerEnv& env, Exchange& ex);

// The OpenAPI document (docs/openapi.json), embedded at build time.
std::string_view OpenApiSpec();

}  // namespace tokend::http
