// The one mapping from a core::Status to an HTTP response.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "core/status.h"

namespace tokend::http {

// Status line from core::HttpStatusOf(status.api_error()) (500 for an ok
// status), body SerializeError(status, now), Content-Type application/json,
// `WWW-Authenticate: Bearer` on a 401 and `Retry-After: 1` on a 503. A store
// fault or internal error is answered with a fixed message and its own text
// goes to the log, so that paths, host names and SQL never reach a client.
// Keep-alive is left to FinishResponse, Server and Content-Length to
// AppendWireResponse.
boost::beast::http::response<boost::beast::http::string_body> ErrorResponse(
    const core::Status& status);

// The same for an error known only by its ApiError (framing errors detected
// by the session, before any handler runs).
boost::beast::http::response<boost::beast::http::string_body> ErrorResponse(core::ApiError error,
                                                                            std::string message);

}  // namespace tokend::http
