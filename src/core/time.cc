#include "core/time.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/text.h"

namespace tokend::core {
namespace {

constexpr std::int64_t kMillisPerSecond = 1000;
constexpr std::int64_t kMillisPerDay = 86'400'000;

// Howard Hinnant's days_from_civil: proleptic Gregorian date to days since
// 1970-01-01, exact for every year without touching the C library or locale.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

CivilDate CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool IsLeapYear(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

unsigned DaysInMonth(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `width` digits at `pos`; false when any is not a digit.
bool ReadFixed(std::string_view text, std::size_t pos, std::size_t width, int* out) {
  if (pos + width > text.size()) return false;
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (!IsDigit(text[i])) return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

// Parses "+HH:MM", "-HH:MM", "+HHMM", "+HH", "Z" or "" into seconds east of
// UTC.
std::optional<int> ParseOffsetSeconds(std::string_view text) {
  if (text.empty() || text == "Z") return 0;
  if (text.front() != '+' && text.front() != '-') return std::nullopt;
  const int sign = text.front() == '-' ? -1 : 1;
  int hours = 0;
  int minutes = 0;
  if (text.size() == 3) {
    if (!ReadFixed(text, 1, 2, &hours)) return std::nullopt;
  } else if (text.size() == 6 && text[3] == ':') {
    if (!ReadFixed(text, 1, 2, &hours) || !ReadFixed(text, 4, 2, &minutes)) return std::nullopt;
  } else if (text.size() == 5) {
    if (!ReadFixed(text, 1, 2, &hours) || !ReadFixed(text, 3, 2, &minutes)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (hours > 23 || minutes > 59) return std::nullopt;
  return sign * (hours * 3600 + minutes * 60);
}

// The forms Jackson's StdDateFormat reads (Boomerang's dates): "YYYY-MM-DD"
// (midnight UTC), or "YYYY-MM-DDTHH:MM" with optional ":SS", a fraction after
// the seconds and an offset.
std::optional<EpochMillis> ParseIso(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 10 || !ReadFixed(text, 0, 4, &year) || text[4] != '-' ||
      !ReadFixed(text, 5, 2, &month) || text[7] != '-' || !ReadFixed(text, 8, 2, &day)) {
    return std::nullopt;
  }
  std::size_t pos = 10;
  if (text.size() > pos) {
    if (text.size() < 16 || text[10] != 'T' || !ReadFixed(text, 11, 2, &hour) || text[13] != ':' ||
        !ReadFixed(text, 14, 2, &minute)) {
      return std::nullopt;
    }
    pos = 16;
    if (pos < text.size() && text[pos] == ':') {
      if (!ReadFixed(text, 17, 2, &second)) return std::nullopt;
      pos = 19;
    }
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > DaysInMonth(year, static_cast<unsigned>(month)) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  std::int64_t millis = 0;
  if (pos == 19 && pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    int scale = 100;
    while (pos < text.size() && IsDigit(text[pos])) {
      // Digits past the third are truncated, as Spring does.
      if (scale > 0) {
        millis += (text[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  const std::optional<int> offset = ParseOffsetSeconds(text.substr(pos));
  if (!offset) return std::nullopt;
  const std::int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + second - static_cast<std::int64_t>(*offset);
  return seconds * kMillisPerSecond + millis;
}

}  // namespace

EpochMillis NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void AppendSpringDate(std::string& out, EpochMillis millis) {
  // Floor division so instants before 1970 land on the previous day.
  std::int64_t days = millis / kMillisPerDay;
  std::int64_t rem = millis % kMillisPerDay;
  if (rem < 0) {
    rem += kMillisPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const auto ms = static_cast<unsigned>(rem % 1000);
  const auto total_seconds = static_cast<unsigned>(rem / 1000);
  const unsigned hour = total_seconds / 3600;
  const unsigned minute = total_seconds / 60 % 60;
  const unsigned second = total_seconds % 60;
  if (date.year < 0 || date.year > 9999) {
    // Outside the fixed four-digit form; rare enough for snprintf.
    char buffer[64];
    const int n = std::snprintf(
        buffer, sizeof(buffer), "%04lld-%02u-%02uT%02u:%02u:%02u.%03u+00:00",
        static_cast<long long>(date.year), date.month, date.day, hour, minute, second, ms);
    out.append(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
    return;
  }
  const auto year = static_cast<unsigned>(date.year);
  const auto digit = [](unsigned value) { return static_cast<char>('0' + value % 10); };
  const char text[] = {digit(year / 1000),
                       digit(year / 100),
                       digit(year / 10),
                       digit(year),
                       '-',
                       digit(date.month / 10),
                       digit(date.month),
                       '-',
                       digit(date.day / 10),
                       digit(date.day),
                       'T',
                       digit(hour / 10),
                       digit(hour),
                       ':',
                       digit(minute / 10),
                       digit(minute),
                       ':',
                       digit(second / 10),
                       digit(second),
                       '.',
                       digit(ms / 100),
                       digit(ms / 10),
                       digit(ms),
                       '+',
                       '0',
                       '0',
                       ':',
                       '0',
                       '0'};
  out.append(text, sizeof text);
}

void WriteHttpDate(std::int64_t seconds, char* out) {
  static constexpr char kWeekdays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  constexpr std::int64_t kSecondsPerDay = 86'400;
  // Floor division, as for Spring dates.
  std::int64_t days = seconds / kSecondsPerDay;
  std::int64_t rem = seconds % kSecondsPerDay;
  if (rem < 0) {
    rem += kSecondsPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const auto year = static_cast<unsigned>(date.year);
  const auto second_of_day = static_cast<unsigned>(rem);
  const auto two = [](char* at, unsigned value) {
    at[0] = static_cast<char>('0' + value / 10 % 10);
    at[1] = static_cast<char>('0' + value % 10);
  };
  std::memcpy(out, kWeekdays[(days % 7 + 7) % 7], 3);  // 1970-01-01 was a Thursday
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, date.day);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths[date.month - 1], 3);
  out[11] = ' ';
  two(out + 12, year / 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, second_of_day / 3600);
  out[19] = ':';
  two(out + 20, second_of_day / 60 % 60);
  out[22] = ':';
  two(out + 23, second_of_day % 60);
  std::memcpy(out + 25, " GMT", 4);
}

std::string FormatSpringDate(EpochMillis millis) {
  std::string out;
  AppendSpringDate(out, millis);
  return out;
}

std::optional<EpochMillis> ParseDateString(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // A date starts "YYYY-"; a number has no '-' after its first character.
  if (text.size() >= 5 && text[4] == '-' && IsDigit(text[0])) return ParseIso(text);
  return ParseInt64(text);
}

}  // namespace tokend::core
