#include "core/text.h"

#include "core/create_request.h"

namespace tokend::core {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view TrimAsciiSpace(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  return text;
}

std::string QuoteForMessage(std::string_view value) {
  const bool cut = value.size() > kMaxEchoBytes;
  if (cut) {
    // Back up over continuation bytes so a valid value stays valid UTF-8.
    std::size_t end = kMaxEchoBytes;
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
    value = value.substr(0, end);
  }
  std::string out = "'";
  if (IsValidUtf8(value)) {
    out += value;
  } else {
    // Messages end up in JSON bodies and logs, which need valid UTF-8.
    for (char c : value) out += static_cast<unsigned char>(c) < 0x80 ? c : '?';
  }
  if (cut) out += "...";
  out += "'";
  return out;
}

}  // namespace tokend::core
