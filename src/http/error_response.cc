#include "http/error_response.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "core/api_error.h"
#include "core/time.h"
#include "http/json_codec.h"

namespace tokend::http {

namespace beast_http = boost::beast::http;

namespace {

// The message clients see for a store fault or an internal error. The
// store's own text (file paths, host names, SQL) is for the log only.
std::optional<std::string_view> FixedMessage(core::ApiError error) {
  switch (error) {
    case core::ApiError::kStoreUnavailable:
      return "The token store is unavailable; retry later.";
    case core::ApiError::kInternal:
      return "An unexpected error occurred.";
    default:
      return std::nullopt;
  }
}

}  // namespace

beast_http::response<beast_http::string_body> ErrorResponse(const core::Status& status) {
  if (status.ok()) {
    return ErrorResponse(core::Status::Internal("An unexpected error occurred."));
  }
  const int code = core::HttpStatusOf(status.api_error());
  beast_http::response<beast_http::string_body> res{static_cast<beast_http::status>(code), 11};
  res.set(beast_http::field::content_type, "application/json");
  if (code == 401) res.set(beast_http::field::www_authenticate, "Bearer");
  if (code == 503) res.set(beast_http::field::retry_after, "1");
  if (const auto fixed = FixedMessage(status.api_error())) {
    if (status.message() != *fixed) spdlog::warn("answering {}: {}", code, status.message());
    res.body() = SerializeError(core::Status::Error(status.api_error(), std::string(*fixed)),
                                core::NowMillis());
  } else {
    res.body() = SerializeError(status, core::NowMillis());
  }
  return res;
}

beast_http::response<beast_http::string_body> ErrorResponse(core::ApiError error,
                                                            std::string message) {
  return ErrorResponse(core::Status::Error(error, std::move(message)));
}

}  // namespace tokend::http
