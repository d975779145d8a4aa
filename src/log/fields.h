// Log lines that carry fields beside their message: ids, URLs, counts that a
// JSON log's reader filters on. In JSON logs each field is a member after
// "message"; in text logs it follows the message as name=value.
#pragma once

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

}  // namespace tokend::log
