#include "core/time.h"

#include <gtest/gtest.h>

#include <limits>

namespace tokend::core {
namespace {

TEST(TimeTest, FormatSpringDate) {
  struct Case {
    EpochMillis millis;
    std::string_view text;
  };
  constexpr Case kCases[] = {
      {0, "1970-01-01T00:00:00.000+00:00"},
      {-1, "1969-12-31T23:59:59.999+00:00"},
      {-86'400'000, "1969-12-31T00:00:00.000+00:00"},
      {-86'400'001, "1969-12-30T23:59:59.999+00:00"},
      {951'782'400'000, "2000-02-29T00:00:00.000+00:00"},
      {1'709'182'800'000, "2024-02-29T05:00:00.000+00:00"},
      {1'772'341'200'000, "2026-03-01T05:00:00.000+00:00"},
      {4'107'456'000'000, "2100-02-28T00:00:00.000+00:00"},
      {4'107'542'400'000, "2100-03-01T00:00:00.000+00:00"},  // 2100 is not a leap year
      {253'402'300'799'999, "9999-12-31T23:59:59.999+00:00"},
      {-62'135'596'800'000, "0001-01-01T00:00:00.000+00:00"},
      {-62'167'219'200'000, "0000-01-01T00:00:00.000+00:00"},
      {-62'167'219'200'001, "-001-12-31T23:59:59.999+00:00"},  // snprintf's %04lld
      {253'402'300'800'000, "10000-01-01T00:00:00.000+00:00"},
  };
  for (const Case& c : kCases) EXPECT_EQ(FormatSpringDate(c.millis), c.text) << c.millis;
}

TEST(TimeTest, AppendSpringDateAppends) {
  std::string out = "date=";
  AppendSpringDate(out, 0);
  EXPECT_EQ(out, "date=1970-01-01T00:00:00.000+00:00");
}

TEST(TimeTest, FormatThenParseRoundTrips) {
  for (EpochMillis millis : {EpochMillis{0}, EpochMillis{-1}, EpochMillis{1'234'567'890'123},
                             EpochMillis{-1'234'567'890'123}}) {
    EXPECT_EQ(ParseDateString(FormatSpringDate(millis)), millis);
  }
}

TEST(TimeTest, ParseValidDates) {
  struct Case {
    std::string_view text;
    EpochMillis millis;
  };
  constexpr Case kCases[] = {
      {"0", 0},
      {"1772341200000", 1'772'341'200'000},
      {"-1", -1},
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01T00:00:00", 0},
      {"1970-01-01T00:00:00.000+00:00", 0},
      {"2026-03-01T05:00:00.000+00:00", 1'772'341'200'000},
      {"2026-03-01T10:30:00+05:30", 1'772'341'200'000},
      {"2026-03-01T10:30:00+0530", 1'772'341'200'000},
      {"2026-03-01T00:00:00-05:00", 1'772'341'200'000},
      {"1970-01-01T00:00:00.5Z", 500},
      {"1970-01-01T00:00:00.12Z", 120},
      {"1970-01-01T00:00:00.123456789Z", 123},  // truncated, not rounded
      {"1970-01-01T00:00:00.999999", 999},
      {"1969-12-31T23:59:59.999Z", -1},
      {"2000-02-29T00:00:00Z", 951'782'400'000},
      // Jackson's other forms: no seconds, an offset of hours, a bare date.
      {"2026-03-01T05:00", 1'772'341'200'000},
      {"2026-03-01T05:00Z", 1'772'341'200'000},
      {"2026-03-01T10:00+05", 1'772'341'200'000},
      {"2026-03-01T05:00:00+00", 1'772'341'200'000},
      {"2026-03-01", 1'772'323'200'000},
      {"9223372036854775807", std::numeric_limits<EpochMillis>::max()},
      {"-9223372036854775808", std::numeric_limits<EpochMillis>::min()},
  };
  for (const Case& c : kCases) EXPECT_EQ(ParseDateString(c.text), c.millis) << c.text;
}

TEST(TimeTest, ParseRejectsMalformedDates) {
  constexpr std::string_view kBad[] = {
      "",
      "-",
      "12a",
      "1.5",
      "+5",
      "9223372036854775808",
      "-9223372036854775809",
      "2026-03-01Z",
      "2026-03-01T",
      "2026-03-01T05",
      "2026-03-01T05:0",
      "2026-03-01T05:00:0Z",
      "2026-03-01T05:00.5Z",  // a fraction needs its seconds
      "2026-03-01 05:00:00Z",
      "2026-3-01T05:00:00Z",
      "2026-13-01T05:00:00Z",
      "2026-00-01T05:00:00Z",
      "2026-02-29T05:00:00Z",  // not a leap year
      "1900-02-29T00:00:00Z",  // century, not a leap year
      "2026-04-31T05:00:00Z",
      "2026-03-01T24:00:00Z",
      "2026-03-01T05:60:00Z",
      "2026-03-01T05:00:60Z",
      "2026-03-01T05:00:00.Z",
      "2026-03-01T05:00:00+5:30",
      "2026-03-01T05:00:00+5",
      "2026-03-01T05:00:00+24",
      "2026-03-01T05:00:00+24:00",
      "2026-03-01T05:00:00+05:60",
      "2026-03-01T05:00:00z",
      "2026-03-01T05:00:00Z ",
      "0000-01-01T00:00:00Z",
      "20260-01-01T00:00:00Z",
  };
  for (std::string_view text : kBad) EXPECT_EQ(ParseDateString(text), std::nullopt) << text;
}

TEST(TimeTest, NowIsCurrent) {
  // 2024-01-01 and 2200-01-01 bound any machine this runs on.
  const EpochMillis now = NowMillis();
  EXPECT_GT(now, 1'704'067'200'000);
  EXPECT_LT(now, 7'258'118'400'000);
}

}  // namespace
}  // namespace tokend::core
