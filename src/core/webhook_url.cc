#include "core/webhook_url.h"

#include <cctype>

namespace tokend::core {
namespace {

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

}  // namespace

std::string WebhookUrl::HostHeader() const {
  std::string header = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (https ? 443 : 80)) header += ":" + std::to_string(port);
  return header;
}

std::string WebhookUrl::ForLogs() const {
  std::string text = https ? "https://" : "http://";
  text += HostHeader();
  text += target.substr(0, target.find('?'));
  return text;
}

Result<WebhookUrl> ParseWebhookUrl(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return Status::InvalidArgument("it holds white space or a control character");
    }
  }
  WebhookUrl url;
  if (StartsWithNoCase(text, "https://")) {
    url.https = true;
    text.remove_prefix(8);
  } else if (StartsWithNoCase(text, "http://")) {
    text.remove_prefix(7);
  } else {
    return Status::InvalidArgument("it is not an http:// or https:// URL");
  }
  if (text.find('#') != std::string_view::npos) {
    return Status::InvalidArgument("it has a fragment (#...), which is never sent");
  }
  const std::size_t authority_end = text.find_first_of("/?");
  std::string_view authority = text.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : text.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "it has userinfo (user:password@), which tokend does not send; put a credential in the "
        "path or query instead");
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("its IPv6 host has no closing ]");
    }
    url.host = std::string(authority.substr(1, close - 1));
    for (char c : url.host) {
      if (!IsIpv6Char(c)) return Status::InvalidArgument("its IPv6 host is malformed");
    }
    if (url.host.find(':') == std::string::npos) {
      return Status::InvalidArgument("its IPv6 host is malformed");
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return Status::InvalidArgument("its host is malformed");
      port_text = rest.substr(1);
      if (port_text.empty()) return Status::InvalidArgument("its port is empty");
    }
  } else {
    const std::size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Status::InvalidArgument("its port is empty");
    }
    for (char c : url.host) {
      if (!IsHostNameChar(c)) return Status::InvalidArgument("its host is malformed");
    }
  }
  if (url.host.empty()) return Status::InvalidArgument("it has no host");
  if (!port_text.empty()) {
    for (char c : port_text) {
      if (c < '0' || c > '9') return Status::InvalidArgument("its port is not a number");
    }
    // RFC 3986 allows any number of digits: leading zeros do not count.
    while (port_text.size() > 1 && port_text.front() == '0') port_text.remove_prefix(1);
    if (port_text.size() > 5) return Status::InvalidArgument("its port is not 1 to 65535");
    int port = 0;
    for (char c : port_text) port = port * 10 + (c - '0');
    if (port < 1 || port > 65535) return Status::InvalidArgument("its port is not 1 to 65535");
    url.port = static_cast<std::uint16_t>(port);
  } else {
    url.port = url.https ? 443 : 80;
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target.front() == '?') url.target.insert(0, "/");
  return url;
}

std::string RedactWebhookUrl(std::string_view text) {
  std::string out(text.substr(0, text.find_first_of("?#")));
  const std::size_t scheme_end = out.find("://");
  const std::size_t authority_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const std::size_t authority_end = out.find('/', authority_start);
  const std::size_t at = out.rfind('@', authority_end);
  if (at != std::string::npos && at >= authority_start) {
    out.replace(authority_start, at + 1 - authority_start, "***@");
  }
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  if (out.size() > 200) out = out.substr(0, 200) + "...";
  return out;
}

}  // namespace tokend::core
