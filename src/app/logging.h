// The process's loggers: "tokend" (the default logger) and "access" (one
// line per request), both on stderr, as text or as JSON lines.
#pragma once

#include <string>

namespace tokend::app {

enum class LogFormat { kText, kJson };

// Replaces the default logger. `level`: trace ... off (the access logger
// writes at info whatever the level, when the server is told to use it).
// JSON: one object per line, {"time", "level", "message", ...fields}.
void SetUpLogging(const std::string& level, LogFormat format);

}  // namespace tokend::app
