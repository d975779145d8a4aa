// The process's loggers: "tokend" (the default logger) and "access" (one
// line per request), both on stderr, as text or as JSON lines.
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class formatter;
}

namespace tokend::app {

enum class LogFormat { kText, kJson };

// The text format's lines, "<time> <level> <message>", as SetUpLogging's
// sink writes them: a message's control bytes (CR, LF, ...) as \xNN, so that
// one event is always one line; fields as log::TextFields writes them.
std::unique_ptr<spdlog::formatter> TextFormatter();

// Replaces the default logger. `level`: trace ... off (the access logger
// writes at info whatever the level, when the server is told to use it).
// JSON: one object per line, {"time", "level", "message", ...fields}.
void SetUpLogging(const std::string& level, LogFormat format);

}  // namespace tokend::app
