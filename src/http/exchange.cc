#include "http/exchange.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include "core/text.h"
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
      case beast_http::field::host:
        if (headers.host_count++ == 0) headers.host = field.value();
        break;
      case beast_http::field::content_encoding:
        for (const auto coding : beast_http::token_list(field.value())) {
          if (!boost::beast::iequals(coding, "identity")) headers.content_coded = true;
        }
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

namespace {

bool IsUnreservedOrSubDelim(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
}

}  // namespace

bool IsHostFieldValue(std::string_view value) {
  std::string_view host = value;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    // IPv6address or IPvFuture: their characters, not their grammar.
    for (const char c : host.substr(1, close - 1)) {
      if (!IsUnreservedOrSubDelim(c) && c != ':') return false;
    }
    if (close == 1) return false;
    port = host.substr(close + 1);
    if (!port.empty() && port.front() != ':') return false;
  } else {
    const std::size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon);
      host = host.substr(0, colon);
    }
    for (std::size_t i = 0; i < host.size(); ++i) {
      if (host[i] == '%') {
        if (i + 2 >= host.size() || core::HexValue(host[i + 1]) < 0 ||
            core::HexValue(host[i + 2]) < 0) {
          return false;
        }
        i += 2;
      } else if (!IsUnreservedOrSubDelim(host[i])) {
        return false;
      }
    }
  }
  if (!port.empty()) port.remove_prefix(1);  // the colon
  for (const char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace tokend::http
