// The response as it goes on the wire.
#pragma once

#include <cstdint>
#include <string>

#include "http/exchange.h"

namespace tokend::http {

// Sets the request's HTTP version and keep-alive (a Connection field where
// the version needs one) on a finished response.
void FinishResponse(Response& res, unsigned version, bool keep_alive);

// Appends the bytes of `res` as they go on the wire: status line, fields in
// their order, `Server: tokend`, `Date` (the current second), Content-Length
// (but for 1xx, 204 and 304), blank line, body. Byte for byte what Beast's
// serializer writes for `res` with those three fields set last, as one
// buffer that one send can carry. The three fields are written rather than
// stored because every response carries them, and storing them would cost
// three allocations per response.
void AppendWireResponse(const Response& res, std::string& out);

// `seconds` since the epoch as an HTTP date (RFC 9110 section 5.6.7's
// IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"): always 29 characters.
std::string HttpDate(std::int64_t seconds);

}  // namespace tokend::http
