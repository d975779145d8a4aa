#include "core/api_error.h"

#include "core/status.h"

namespace tokend::core {

std::string_view ReasonOf(ApiError error) {
  switch (error) {
    case ApiError::kNone:
      return "NONE";
    case ApiError::kQueryInvalidFilters:
      return "QUERY_INVALID_FILTERS";
    case ApiError::kRequestInvalidParams:
      return "REQUEST_INVALID_PARAMS";
    case ApiError::kTokenInvalidRequest:
      return "TOKEN_INVALID_REQ";
    case ApiError::kTokenInvalidSessionRequest:
      return "TOKEN_INVALID_SESSION_REQ";
    case ApiError::kTokenInvalidPermission:
      return "TOKEN_INVALID_PERMISSION";
    case ApiError::kTokenNotFound:
      return "TOKEN_NOT_FOUND";
    case ApiError::kRouteNotFound:
      return "ROUTE_NOT_FOUND";
    case ApiError::kMethodNotAllowed:
      return "METHOD_NOT_ALLOWED";
    case ApiError::kUnsupportedMediaType:
      return "UNSUPPORTED_MEDIA_TYPE";
    case ApiError::kPayloadTooLarge:
      return "PAYLOAD_TOO_LARGE";
    case ApiError::kHeadersTooLarge:
      return "REQUEST_HEADER_FIELDS_TOO_LARGE";
    case ApiError::kUriTooLong:
      return "URI_TOO_LONG";
    case ApiError::kUnauthenticated:
      return "UNAUTHENTICATED";
    case ApiError::kPermissionDenied:
      return "PERMISSION_DENIED";
    case ApiError::kStoreUnavailable:
      return "STORE_UNAVAILABLE";
    case ApiError::kInternal:
      return "INTERNAL_ERROR";
    case ApiError::kRequestTimeout:
      return "REQUEST_TIMEOUT";
    case ApiError::kUnpagedTooLarge:
      return "QUERY_TOO_LARGE";
    case ApiError::kAlreadyExists:
      return "ALREADY_EXISTS";
    case ApiError::kBadHttpRequest:
      return "BAD_HTTP_REQUEST";
    case ApiError::kTooManyConnections:
      return "TOO_MANY_CONNECTIONS";
    case ApiError::kTokenExpired:
      return "TOKEN_EXPIRED";
    case ApiError::kRotationPending:
      return "TOKEN_ROTATION_PENDING";
  }
  // An out-of-range enum value can only come from a cast; answer as a bug would.
  return "INTERNAL_ERROR";
}

int HttpStatusOf(ApiError error) {
  switch (error) {
    case ApiError::kQueryInvalidFilters:
    case ApiError::kRequestInvalidParams:
    case ApiError::kTokenInvalidRequest:
    case ApiError::kTokenInvalidSessionRequest:
    case ApiError::kTokenInvalidPermission:
    case ApiError::kUnpagedTooLarge:
    case ApiError::kBadHttpRequest:
      return 400;
    case ApiError::kTokenNotFound:
    case ApiError::kRouteNotFound:
      return 404;
    case ApiError::kMethodNotAllowed:
      return 405;
    case ApiError::kUnsupportedMediaType:
      return 415;
    case ApiError::kPayloadTooLarge:
      return 413;
    case ApiError::kHeadersTooLarge:
      return 431;
    case ApiError::kUriTooLong:
      return 414;
    case ApiError::kUnauthenticated:
      return 401;
    case ApiError::kPermissionDenied:
      return 403;
    case ApiError::kStoreUnavailable:
    case ApiError::kTooManyConnections:
      return 503;
    case ApiError::kRequestTimeout:
      return 408;
    case ApiError::kAlreadyExists:
    case ApiError::kTokenExpired:
    case ApiError::kRotationPending:
      return 409;
    case ApiError::kNone:
    case ApiError::kInternal:
      return 500;
  }
  return 500;
}

StatusCode DefaultStatusCode(ApiError error) {
  switch (HttpStatusOf(error)) {
    case 400:
    case 405:
    case 408:
    case 413:
    case 414:
    case 415:
    case 431:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAlreadyExists;
    case 503:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kInternal;
  }
}

}  // namespace tokend::core
