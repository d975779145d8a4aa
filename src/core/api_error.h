// The catalogue of error codes in tokend's error body
// ({timestamp, code, reason, message, status}). Codes 1001-1012 are Boomerang
// Flow's own; 9001 and up are tokend's (documented in docs/API.md).
#pragma once

#include <string_view>

namespace tokend::core {

enum class StatusCode;

enum class ApiError : int {
  kNone = 0,
  kQueryInvalidFilters = 1001,         // 400 a query parameter is malformed
  kRequestInvalidParams = 1002,        // 400 a request is malformed (body, JSON)
  kTokenInvalidRequest = 1010,         // 400 missing/blank/wrong-typed create field
  kTokenInvalidSessionRequest = 1011,  // 400 type session via the API
  kTokenInvalidPermission = 1012,      // 400 bad permission string or role
  kTokenNotFound = 9001,               // 404 no such token (or not visible)
  kRouteNotFound = 9002,               // 404 no such route
  kMethodNotAllowed = 9003,            // 405
  kUnsupportedMediaType = 9004,        // 415
  kPayloadTooLarge = 9005,             // 413
  kHeadersTooLarge = 9006,             // 431
  kUriTooLong = 9007,                  // 414
  kUnauthenticated = 9008,             // 401
  kPermissionDenied = 9009,            // 403
  kStoreUnavailable = 9010,            // 503
  kInternal = 9011,                    // 500
  kRequestTimeout = 9012,              // 408
  kUnpagedTooLarge = 9013,             // 400 unpaged query over --max-unpaged
  kAlreadyExists = 9014,               // 409
  kBadHttpRequest = 9015,              // 400 malformed HTTP (framing, encoding)
  kTooManyConnections = 9016,          // 503
  kTokenExpired = 9017,                // 409 rotating a token that has expired
  kRotationPending = 9018,             // 409 rotating a token whose rotation overlap runs
};

// "TOKEN_INVALID_REQ", "TOKEN_NOT_FOUND", ...
std::string_view ReasonOf(ApiError error);
// The HTTP status number each error is answered with (400, 404, ...).
int HttpStatusOf(ApiError error);
// The StatusCode class an error belongs to.
StatusCode DefaultStatusCode(ApiError error);

}  // namespace tokend::core
