#include "http/wire.h"

#include <charconv>
#include <ctime>
#include <string_view>

#include "core/time.h"

namespace tokend::http {
namespace {

// The Date of a response written now: formatted once a second per thread.
std::string_view HttpDateNow() {
  thread_local std::int64_t formatted_second = -1;
  thread_local char text[core::kHttpDateLength];
  const std::int64_t now = std::time(nullptr);
  if (now != formatted_second) {
    core::WriteHttpDate(now, text);
    formatted_second = now;
  }
  return {text, core::kHttpDateLength};
}

}  // namespace

std::string HttpDate(std::int64_t seconds) {
  std::string text(core::kHttpDateLength, ' ');
  core::WriteHttpDate(seconds, text.data());
  return text;
}

void FinishResponse(Response& res, unsigned version, bool keep_alive) {
  res.version(version);
  res.keep_alive(keep_alive);
}

void AppendWireResponse(const Response& res, std::string& out) {
  const unsigned version = res.version();
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + version / 10 % 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + version % 10));
  out.push_back(' ');
  char code[3];
  const unsigned status = res.result_int() % 1000;
  code[0] = static_cast<char>('0' + status / 100);
  code[1] = static_cast<char>('0' + status / 10 % 10);
  code[2] = static_cast<char>('0' + status % 10);
  out.append(code, sizeof code);
  out.push_back(' ');
  const auto reason = res.reason();
  if (reason.empty()) {
    const auto obsolete = beast_http::obsolete_reason(res.result());
    out.append(obsolete.data(), obsolete.size());
  } else {
    out.append(reason.data(), reason.size());
  }
  out.append("\r\n");
  for (const auto& field : res) {
    const auto name = field.name_string();
    const auto value = field.value();
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("Server: tokend\r\nDate: ");
  out.append(HttpDateNow());
  out.append("\r\n");
  const bool bodiless = status / 100 == 1 || status == 204 || status == 304;
  if (!bodiless) {
    out.append("Content-Length: ");
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, res.body().size()).ptr;
    out.append(digits, end);
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(res.body());
}

}  // namespace tokend::http
