#include "log/fields.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <memory>

namespace tokend::log {
namespace {

void AppendPart(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out += part;
}

// The part at `rest`'s start, which it then leaves; nullopt when malformed.
std::optional<std::string_view> TakePart(std::string_view& rest) {
  const std::size_t colon = rest.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::size_t size = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + colon, size);
  if (ec != std::errc() || end != rest.data() + colon || size > rest.size() - colon - 1) {
    return std::nullopt;
  }
  const std::string_view part = rest.substr(colon + 1, size);
  rest.remove_prefix(colon + 1 + size);
  return part;
}

void Write(spdlog::level::level_enum level, std::string_view message,
           std::initializer_list<Field> fields) {
  const std::string payload = Encode(message, fields);
  if (const auto logger = spdlog::get(std::string(kLoggerName))) {
    logger->log(level, spdlog::string_view_t(payload.data(), payload.size()));
    return;
  }
  const std::optional<Decoded> line = Decode(payload);
  spdlog::log(level, "{}{}", message, TextFields(line->fields));
}

}  // namespace

void Info(std::string_view message, std::initializer_list<Field> fields) {
  Write(spdlog::level::info, message, fields);
}

void Warn(std::string_view message, std::initializer_list<Field> fields) {
  Write(spdlog::level::warn, message, fields);
}

std::string Encode(std::string_view message, std::initializer_list<Field> fields) {
  std::string out;
  AppendPart(out, message);
  for (const Field& field : fields) {
    AppendPart(out, field.name);
    AppendPart(out, field.value);
  }
  return out;
}

std::optional<Decoded> Decode(std::string_view payload) {
  Decoded line;
  const auto message = TakePart(payload);
  if (!message) return std::nullopt;
  line.message = *message;
  while (!payload.empty()) {
    const auto name = TakePart(payload);
    if (!name) return std::nullopt;
    const auto value = TakePart(payload);
    if (!value) return std::nullopt;
    line.fields.push_back({*name, *value});
  }
  return line;
}

std::string TextFields(const std::vector<DecodedField>& fields) {
  std::string out;
  for (const DecodedField& field : fields) {
    out += ' ';
    out += field.name;
    out += '=';
    bool quoted = field.value.empty();
    for (const char c : field.value) {
      if (IsControlByte(c) || c == ' ' || c == '"' || c == '\\' || c == '=') quoted = true;
    }
    if (!quoted) {
      out += field.value;
      continue;
    }
    out += '"';
    for (const char c : field.value) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (IsControlByte(c)) {
        const std::array<char, 4> escape = ControlByteEscape(c);
        out.append(escape.data(), escape.size());
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out;
}

}  // namespace tokend::log
