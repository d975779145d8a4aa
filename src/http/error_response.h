// The one mapping from a core::Status to an HTTP response.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/status.h"

namespace tokend::http {

// Status line from core::HttpStatusOf(status.api_error()) (503 for
// Unavailable, 500 for an ok or unknown status), body SerializeError(status,
// now), Content-Type application/json, and `WWW-Authenticate: Bearer` on a
// 401. Keep-alive is left to FinishResponse, Server and Content-Length to
// AppendWireResponse.
boost::beast::http::response<boost::beast::http::string_body> ErrorResponse(
    const core::Status& status);

// The same for an error known only by its ApiError (framing errors detected
// by the session, before any handler runs).
boost::beast::http::response<boost::beast::http::string_body> ErrorResponse(core::ApiError error,
                                                                            std::string message);

}  // namespace tokend::http
