#include "http/wire.h"

#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string_view>

namespace tokend::http {
namespace {

constexpr std::size_t kHttpDateLength = 29;

void FormatHttpDate(std::int64_t seconds, char* text) {
  static constexpr char kDays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::chrono::sys_seconds instant{std::chrono::seconds(seconds)};
  const auto day = std::chrono::floor<std::chrono::days>(instant);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{instant - day};
  const auto days_since_epoch = day.time_since_epoch().count();
  const char* weekday = kDays[((days_since_epoch % 7) + 7) % 7];  // 1970-01-01 was a Thursday
  const char* month = kMonths[static_cast<unsigned>(date.month()) - 1];
  const int year = static_cast<int>(date.year());
  auto two = [](char* at, long value) {
    at[0] = static_cast<char>('0' + value / 10 % 10);
    at[1] = static_cast<char>('0' + value % 10);
  };
  std::memcpy(text, weekday, 3);
  text[3] = ',';
  text[4] = ' ';
  two(text + 5, static_cast<unsigned>(date.day()));
  text[7] = ' ';
  std::memcpy(text + 8, month, 3);
  text[11] = ' ';
  two(text + 12, year / 100);
  two(text + 14, year % 100);
  text[16] = ' ';
  two(text + 17, time.hours().count());
  text[19] = ':';
  two(text + 20, time.minutes().count());
  text[22] = ':';
  two(text + 23, time.seconds().count());
  std::memcpy(text + 25, " GMT", 4);
}

// The Date of a response written now: formatted once a second per thread.
std::string_view HttpDateNow() {
  thread_local std::int64_t formatted_second = -1;
  thread_local char text[kHttpDateLength];
  const std::int64_t now = std::time(nullptr);
  if (now != formatted_second) {
    FormatHttpDate(now, text);
    formatted_second = now;
  }
  return {text, kHttpDateLength};
}

}  // namespace

std::string HttpDate(std::int64_t seconds) {
  std::string text(kHttpDateLength, ' ');
  FormatHttpDate(seconds, text.data());
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
