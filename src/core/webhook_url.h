// The receiver URL of a webhook (API 8.2): what `--webhook-url` accepts and
// the parts the client connects with. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tokend::core {

struct WebhookUrl {
  bool https = false;
  std::string host;        // a name, an IPv4 address or an IPv6 address (no brackets)
  std::uint16_t port = 0;  // the URL's, else 80 or 443
  std::string target;      // path and query ("/" when the URL has neither)

  // The Host header: the host (IPv6 in brackets) and the port when it is not
  // the scheme's default.
  std::string HostHeader() const;
  // scheme://host[:port]/path, without the query: for logs, where a query
  // might carry a receiver's token.
  std::string ForLogs() const;
};

// "http://host[:port][/path][?query]" or "https://...". InvalidArgument
// saying what is wrong for any other scheme, a missing or malformed host, a
// port outside 1..65535, userinfo (user:password@: put credentials in the
// path or query instead), a fragment, white space or control characters. The
// message never repeats the URL (callers name it with RedactWebhookUrl).
Result<WebhookUrl> ParseWebhookUrl(std::string_view text);

// `text` without what could be a credential (userinfo and query) and cut to
// 200 characters: how error messages name a URL that did not parse.
std::string RedactWebhookUrl(std::string_view text);

}  // namespace tokend::core
