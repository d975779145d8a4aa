// The text log format: one event is one line, whatever its message holds.
#include "app/logging.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "log/fields.h"

namespace tokend::app {
namespace {

using namespace std::string_literals;

// What the text format writes for `payload` logged at info on `logger_name`.
std::string TextLine(std::string_view logger_name, std::string_view payload) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  sink->set_formatter(TextFormatter());
  spdlog::logger logger(std::string(logger_name), sink);
  logger.log(spdlog::level::info, spdlog::string_view_t(payload.data(), payload.size()));
  return out.str();
}

// The message part of a line "<time> info <message>\n", after checking that
// it is exactly one line.
std::string MessageOf(const std::string& line) {
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\r'), 0) << line;
  const std::size_t level = line.find(' ');
  const std::size_t message = level == std::string::npos ? level : line.find(' ', level + 1);
  if (message == std::string::npos || !line.ends_with('\n')) {
    ADD_FAILURE() << "not a text line: " << line;
    return line;
  }
  EXPECT_EQ(line.substr(level + 1, message - level - 1), "info") << line;
  return line.substr(message + 1, line.size() - message - 2);
}

TEST(TextLogTest, ControlBytesOfAMessageAreEscapedOnItsOneLine) {
  const std::string message = "a\rb\nc\r\nd\te\x01z\x1b[31mg\x7fh\0i\x1f"s;
  EXPECT_EQ(MessageOf(TextLine("tokend", message)),
            "a\\x0db\\x0ac\\x0d\\x0ad\\x09e\\x01z\\x1b[31mg\\x7fh\\x00i\\x1f");
}

TEST(TextLogTest, AMessageCannotForgeALine) {
  const std::string store =
      "cannot open the store sqlite:/tmp/x/a\n2026-12-06T00:00:00.000+00:00 critical forged\nx.db";
  EXPECT_EQ(MessageOf(TextLine("tokend", store)),
            "cannot open the store sqlite:/tmp/x/a\\x0a2026-12-06T00:00:00.000+00:00 critical "
            "forged\\x0ax.db");
}

TEST(TextLogTest, FieldsLineKeepsItsMessageAndValuesOnOneLine) {
  const std::string payload =
      log::Encode("webhooks: delivery\nfailed", {{"url", "https://h/a\r\nb"}, {"n", "3"}});
  EXPECT_EQ(MessageOf(TextLine(log::kLoggerName, payload)),
            "webhooks: delivery\\x0afailed url=\"https://h/a\\x0d\\x0ab\" n=3");
}

TEST(TextLogTest, OrdinaryMessagesAreWrittenAsTheyAre) {
  for (const std::string message :
       {"tokend listening on 127.0.0.1:8080 (http)", "a \"quoted\" C:\\path\\x0a = 1",
        "caf\xc3\xa9 \xe2\x9c\x93", "",
        "access 127.0.0.1 GET /api/v2/token/check/{path} 204 0.120ms id=abc-1 token=-"}) {
    EXPECT_EQ(MessageOf(TextLine("tokend", message)), message);
    EXPECT_EQ(MessageOf(TextLine("access", message)), message);
  }
  EXPECT_EQ(MessageOf(TextLine(log::kLoggerName, log::Encode("plain", {{"id", "abc-1"}}))),
            "plain id=abc-1");
}

}  // namespace
}  // namespace tokend::app
