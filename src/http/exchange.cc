#include "http/exchange.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include "http/request_log.h"

namespace tokend::http {

RequestHeaders RequestHeaders::Of(const Request& req) {
  RequestHeaders headers;
  bool close = false;
  bool keep_alive = false;
  for (const auto& field : req) {
    switch (field.name()) {
      case beast_http::field::connection: {
        // Options are case-insensitive tokens (RFC 9110 section 7.6.1).
        beast_http::token_list options(field.value());
        close = close || options.exists("close");
        keep_alive = keep_alive || options.exists("keep-alive");
        break;
      }
      case beast_http::field::content_type:
        if (headers.content_type_count++ == 0) headers.content_type = field.value();
        break;
      case beast_http::field::authorization:
        if (headers.authorization_count++ == 0) headers.authorization = field.value();
        break;
      case beast_http::field::unknown:
        if (!headers.request_id && boost::beast::iequals(field.name_string(), kRequestIdHeader)) {
          headers.request_id = field.value();
        }
        break;
      default:
        break;
    }
  }
  headers.keep_alive = !close && (req.version() >= 11 || keep_alive);
  return headers;
}

}  // namespace tokend::http
