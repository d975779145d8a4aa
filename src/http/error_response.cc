#include "http/error_response.h"

#include <utility>

#include "core/api_error.h"
#include "core/time.h"
#include "http/json_codec.h"

namespace tokend::http {

namespace beast_http = boost::beast::http;

beast_http::response<beast_http::string_body> ErrorResponse(const core::Status& status) {
  if (status.ok()) {
    return ErrorResponse(core::Status::Internal("An unexpected error occurred."));
  }
  int code = core::HttpStatusOf(status.api_error());
  if (status.code() == core::StatusCode::kUnavailable) code = 503;
  if (code < 400 || code > 599) code = 500;
  beast_http::response<beast_http::string_body> res{static_cast<beast_http::status>(code), 11};
  res.set(beast_http::field::content_type, "application/json");
  if (code == 401) res.set(beast_http::field::www_authenticate, "Bearer");
  if (code == 503) res.set(beast_http::field::retry_after, "1");
  res.body() = SerializeError(status, core::NowMillis());
  return res;
}

beast_http::response<beast_http::string_body> ErrorResponse(core::ApiError error,
                                                            std::string message) {
  return ErrorResponse(core::Status::Error(error, std::move(message)));
}

}  // namespace tokend::http
