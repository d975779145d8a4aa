// The response as it goes on the wire.
#pragma once

#include <string>

#include "http/exchange.h"

namespace tokend::http {

// Sets the request's HTTP version and keep-alive (a Connection field where
// the version needs one) on a finished response.
void FinishResponse(Response& res, unsigned version, bool keep_alive);

// Appends the bytes of `res` as they go on the wire: status line, fields in
// their order, `Server: tokend`, Content-Length (but for 1xx, 204 and 304),
// blank line, body. Byte for byte what Beast's serializer writes for `res`
// with those two fields set last, as one buffer that one send can carry. The
// two fields are written rather than stored because every response carries
// them, and storing them would cost two allocations per response.
void AppendWireResponse(const Response& res, std::string& out);

}  // namespace tokend::http
