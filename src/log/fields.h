// Log lines that carry fields beside their message: ids, URLs, counts that a
// JSON log's reader filters on. In JSON logs each field is a member after
// "message"; in text logs it follows the message as name=value.
#pragma once

#include <array>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokend::log {

struct Field {
  std::string_view name;
  std::string value;
};

void Info(std::string_view message, std::initializer_list<Field> fields);
void Warn(std::string_view message, std::initializer_list<Field> fields);

// The spdlog logger these lines go through, registered by the process's
// logging set-up with its sink and level; without it they go to the default
// logger as text.
inline constexpr std::string_view kLoggerName = "fields";

// A line's payload on that logger: every part prefixed with its length, so
// that no byte of a message or value can pass for a field.
std::string Encode(std::string_view message, std::initializer_list<Field> fields);

struct DecodedField {
  std::string_view name;
  std::string_view value;
};
struct Decoded {
  std::string_view message;
  std::vector<DecodedField> fields;
};
// nullopt when `payload` is not Encode's.
std::optional<Decoded> Decode(std::string_view payload);

// " name=value" for each field, the value in double quotes (with \" and \\)
// when empty or holding a space, a quote, a backslash, '=' or a control byte.
std::string TextFields(const std::vector<DecodedField>& fields);

// A byte a text line writes as \xNN, so that it can neither end the line nor
// hide in it: below 0x20, or DEL.
inline bool IsControlByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7F;
}

// The escape of a control byte `c` in a text line: \x and two lowercase hex
// digits.
inline std::array<char, 4> ControlByteEscape(char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(c);
  return {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xF]};
}

}  // namespace tokend::log
