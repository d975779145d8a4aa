#include "core/api_error.h"

#include <gtest/gtest.h>

#include "core/status.h"

namespace tokend::core {
namespace {

struct ErrorCase {
  ApiError error;
  std::string_view reason;
  int http_status;
  StatusCode status_code;
};

constexpr ErrorCase kCases[] = {
    {ApiError::kQueryInvalidFilters, "QUERY_INVALID_FILTERS", 400, StatusCode::kInvalidArgument},
    {ApiError::kRequestInvalidParams, "REQUEST_INVALID_PARAMS", 400, StatusCode::kInvalidArgument},
    {ApiError::kTokenInvalidRequest, "TOKEN_INVALID_REQ", 400, StatusCode::kInvalidArgument},
    {ApiError::kTokenInvalidSessionRequest, "TOKEN_INVALID_SESSION_REQ", 400,
     StatusCode::kInvalidArgument},
    {ApiError::kTokenInvalidPermission, "TOKEN_INVALID_PERMISSION", 400,
     StatusCode::kInvalidArgument},
    {ApiError::kTokenNotFound, "TOKEN_NOT_FOUND", 404, StatusCode::kNotFound},
    {ApiError::kRouteNotFound, "ROUTE_NOT_FOUND", 404, StatusCode::kNotFound},
    {ApiError::kMethodNotAllowed, "METHOD_NOT_ALLOWED", 405, StatusCode::kInvalidArgument},
    {ApiError::kUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", 415, StatusCode::kInvalidArgument},
    {ApiError::kPayloadTooLarge, "PAYLOAD_TOO_LARGE", 413, StatusCode::kInvalidArgument},
    {ApiError::kHeadersTooLarge, "REQUEST_HEADER_FIELDS_TOO_LARGE", 431,
     StatusCode::kInvalidArgument},
    {ApiError::kUriTooLong, "URI_TOO_LONG", 414, StatusCode::kInvalidArgument},
    {ApiError::kUnauthenticated, "UNAUTHENTICATED", 401, StatusCode::kUnauthenticated},
    {ApiError::kPermissionDenied, "PERMISSION_DENIED", 403, StatusCode::kPermissionDenied},
    {ApiError::kStoreUnavailable, "STORE_UNAVAILABLE", 503, StatusCode::kUnavailable},
    {ApiError::kInternal, "INTERNAL_ERROR", 500, StatusCode::kInternal},
    {ApiError::kRequestTimeout, "REQUEST_TIMEOUT", 408, StatusCode::kInvalidArgument},
    {ApiError::kUnpagedTooLarge, "QUERY_TOO_LARGE", 400, StatusCode::kInvalidArgument},
    {ApiError::kAlreadyExists, "ALREADY_EXISTS", 409, StatusCode::kAlreadyExists},
    {ApiError::kBadHttpRequest, "BAD_HTTP_REQUEST", 400, StatusCode::kInvalidArgument},
    {ApiError::kTooManyConnections, "TOO_MANY_CONNECTIONS", 503, StatusCode::kUnavailable},
    {ApiError::kTokenExpired, "TOKEN_EXPIRED", 409, StatusCode::kAlreadyExists},
    {ApiError::kRotationPending, "TOKEN_ROTATION_PENDING", 409, StatusCode::kAlreadyExists},
};

TEST(ApiErrorTest, EveryErrorHasReasonHttpStatusAndClass) {
  for (const ErrorCase& c : kCases) {
    SCOPED_TRACE(static_cast<int>(c.error));
    EXPECT_EQ(ReasonOf(c.error), c.reason);
    EXPECT_EQ(HttpStatusOf(c.error), c.http_status);
    EXPECT_EQ(DefaultStatusCode(c.error), c.status_code);
  }
}

TEST(ApiErrorTest, StatusErrorUsesTheDefaultClass) {
  const Status s = Status::Error(ApiError::kPayloadTooLarge, "too big");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.api_error(), ApiError::kPayloadTooLarge);
  EXPECT_EQ(s.message(), "too big");
}

}  // namespace
}  // namespace tokend::core
