#include "app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string_view>

#include "core/text.h"
#include "log/fields.h"

namespace tokend::app {
namespace {

constexpr std::string_view kAccessLogger = "access";

// `text` as a JSON string. Text that is not valid UTF-8 (a message quoting
// raw input) keeps its ASCII and shows every other byte as U+FFFD, so that
// each line stays parseable.
void AppendJsonString(spdlog::memory_buf_t& dest, std::string_view text) {
  const bool utf8 = core::ScanUtf8(text).valid();
  dest.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (byte < 0x20) {
      char escaped[8];
      const int n = std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      dest.append(escaped, escaped + n);
    } else if (byte >= 0x80 && !utf8) {
      const std::string_view replacement = "\\ufffd";
      dest.append(replacement.data(), replacement.data() + replacement.size());
    } else {
      dest.push_back(c);
    }
  }
  dest.push_back('"');
}

void Append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

// `text` kept on its line: each control byte (a line break above all, which
// would let the rest pass for a line of its own) as \xNN, as log::TextFields
// writes them in values. Text without one, nearly every message, goes as it
// is.
void AppendOnOneLine(spdlog::memory_buf_t& dest, std::string_view text) {
  const auto control = std::find_if(text.begin(), text.end(), log::IsControlByte);
  if (control == text.end()) {
    Append(dest, text);
    return;
  }
  const std::size_t plain = static_cast<std::size_t>(control - text.begin());
  Append(dest, text.substr(0, plain));
  for (const char c : text.substr(plain)) {
    if (!log::IsControlByte(c)) {
      dest.push_back(c);
      continue;
    }
    const std::array<char, 4> escape = log::ControlByteEscape(c);
    dest.append(escape.data(), escape.data() + escape.size());
  }
}

// {"time":"2026-03-01T05:00:00.000Z","level":"info","message":"..."}; the
// access logger's payload is already JSON members (http/request_log) and
// follows "message":"request".
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t time = seconds.count();
    std::tm utc{};
    gmtime_r(&time, &utc);
    char stamp[40];
    const int n = std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    Append(dest, "{\"time\":\"");
    dest.append(stamp, stamp + n);
    Append(dest, "\",\"level\":\"");
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    Append(dest, "\",\"message\":");
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    if (logger == kAccessLogger) {
      Append(dest, "\"request\",");
      Append(dest, payload);
    } else if (const auto line = logger == log::kLoggerName ? log::Decode(payload) : std::nullopt) {
      AppendJsonString(dest, line->message);
      for (const log::DecodedField& field : line->fields) {
        dest.push_back(',');
        AppendJsonString(dest, field.name);
        dest.push_back(':');
        AppendJsonString(dest, field.value);
      }
    } else {
      AppendJsonString(dest, payload);
    }
    Append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The text pattern's %*: the message, followed by its fields as name=value
// on the fields logger, on one line whatever they hold.
class TextMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    if (const auto line = logger == log::kLoggerName ? log::Decode(payload) : std::nullopt) {
      AppendOnOneLine(dest, line->message);
      // Values with a control byte are quoted and escaped already; the
      // names are the code's own.
      Append(dest, log::TextFields(line->fields));
      return;
    }
    AppendOnOneLine(dest, payload);
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessage>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> TextFormatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<TextMessage>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %*");
  return formatter;
}

void SetUpLogging(const std::string& level, LogFormat format) {
  // One sink for both loggers, so that their lines never interleave. Logs go
  // to stderr: stdout is reserved for `tokend bootstrap`'s secret.
  spdlog::sink_ptr sink;
  if (format == LogFormat::kJson) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_formatter(TextFormatter());
  }
  spdlog::drop_all();
  auto logger = std::make_shared<spdlog::logger>("tokend", sink);
  logger->set_level(spdlog::level::from_str(level));
  spdlog::register_logger(logger);
  spdlog::set_default_logger(logger);
  auto fields = std::make_shared<spdlog::logger>(std::string(log::kLoggerName), sink);
  fields->set_level(logger->level());
  spdlog::register_logger(fields);
  auto access = std::make_shared<spdlog::logger>(std::string(kAccessLogger), sink);
  access->set_level(spdlog::level::info);
  spdlog::register_logger(access);
}

}  // namespace tokend::app
