#include "store/redact.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <utility>

#include "core/text.h"

namespace tokend::store {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kPasswordWord = "password";
// Where a URL or conninfo parser may cut a careless password.
constexpr std::string_view kCutAt = "@:/?#&=,; \t\r\n'\"\\";

// A password's place in the text: [begin, end).
struct Span {
  std::size_t begin;
  std::size_t end;
};

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// %XX escapes decoded; a malformed escape is kept as written.
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = core::HexValue(text[i + 1]);
      const int low = core::HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// True when a parameter or keyword of this name carries a password
// (password, sslpassword, ...), whatever its case or percent-encoding.
bool IsPasswordKey(std::string_view key) {
  std::string name = PercentDecode(key);
  std::transform(name.begin(), name.end(), name.begin(), Lower);
  return name.find(kPasswordWord) != std::string::npos;
}

bool Inside(const std::vector<Span>& spans, std::size_t pos) {
  return std::any_of(spans.begin(), spans.end(),
                     [pos](const Span& span) { return pos >= span.begin && pos < span.end; });
}

// The userinfo password of a URL whose authority starts at `start`, given the
// password parameters already found in its query; returns where the userinfo
// ends (`start` when there is none).
std::size_t UserinfoSpans(std::string_view text, std::size_t start, std::vector<Span>& spans) {
  if (start >= text.size()) return start;
  // The authority normally ends at the first '/', '?' or '#', and userinfo at
  // the last '@' before that. A password holding one of those characters
  // unencoded moves the last '@' past it, so userinfo is taken to end at the
  // last '@' before the query (a database name with an unencoded '@' then
  // hides more than the password: never less). Failing that, the last '@' of
  // all is taken, unless it belongs to a password parameter of the query.
  const std::size_t delimiter = text.find_first_of("?#", start);
  const std::size_t limit = delimiter == std::string_view::npos ? text.size() : delimiter;
  std::size_t at = text.substr(0, limit).rfind('@');
  if (at == std::string_view::npos || at < start) {
    at = text.rfind('@');
    if (at != std::string_view::npos && Inside(spans, at)) return start;
  }
  if (at == std::string_view::npos || at < start) return start;
  const std::size_t colon = text.substr(0, at).find(':', start);
  if (colon != std::string_view::npos && colon + 1 < at) spans.push_back({colon + 1, at});
  return at + 1;
}

// Where the value starting at `from` ends: at the next '&' that starts
// another "name=" parameter, else at the end. A '&' inside a password (an
// unencoded one) therefore stays part of it.
std::size_t ValueEnd(std::string_view text, std::size_t from) {
  for (std::size_t amp = text.find('&', from); amp != std::string_view::npos;
       amp = text.find('&', amp + 1)) {
    std::size_t i = amp + 1;
    while (i < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_' || text[i] == '%' ||
            text[i] == '-' || text[i] == '.')) {
      ++i;
    }
    if (i > amp + 1 && i < text.size() && text[i] == '=') return amp;
  }
  return text.size();
}

// Password parameters of the query that starts at the first '?' from `from`.
void QuerySpans(std::string_view text, std::size_t from, std::vector<Span>& spans) {
  const std::size_t question = text.find('?', from);
  if (question == std::string_view::npos) return;
  std::size_t pos = question + 1;
  while (pos < text.size()) {
    const std::size_t key_end = text.find_first_of("=&", pos);
    if (key_end == std::string_view::npos) return;
    if (text[key_end] == '&') {
      pos = key_end + 1;
      continue;
    }
    const std::size_t value_begin = key_end + 1;
    const std::size_t value_end = ValueEnd(text, value_begin);
    if (IsPasswordKey(text.substr(pos, key_end - pos)) && value_end > value_begin) {
      spans.push_back({value_begin, value_end});
    }
    pos = value_end + 1;
  }
}

// The end of a conninfo value starting at `pos`: a quoted value ends after
// its closing quote, a plain one at whitespace; backslash escapes either.
std::size_t ConninfoValueEnd(std::string_view text, std::size_t pos) {
  if (pos < text.size() && text[pos] == '\'') {
    ++pos;
    while (pos < text.size()) {
      if (text[pos] == '\\') {
        pos += 2;
      } else if (text[pos] == '\'') {
        return pos + 1;
      } else {
        ++pos;
      }
    }
    return text.size();
  }
  while (pos < text.size() && !core::IsAsciiSpace(text[pos])) pos += text[pos] == '\\' ? 2 : 1;
  return std::min(pos, text.size());
}

void UrlSpans(std::string_view text, std::size_t offset, std::vector<Span>& spans);

// key=value pairs (libpq conninfo). Values of password keys are spans; a
// value that is itself a URL (dbname may be one) is searched as a URL.
void ConninfoSpans(std::string_view text, std::vector<Span>& spans) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && core::IsAsciiSpace(text[pos])) ++pos;
    const std::size_t key_begin = pos;
    while (pos < text.size() && !core::IsAsciiSpace(text[pos]) && text[pos] != '=') ++pos;
    const std::string_view key = text.substr(key_begin, pos - key_begin);
    while (pos < text.size() && core::IsAsciiSpace(text[pos])) ++pos;
    if (pos >= text.size() || text[pos] != '=' || key.empty()) return;  // not conninfo
    ++pos;
    while (pos < text.size() && core::IsAsciiSpace(text[pos])) ++pos;
    const std::size_t value_begin = pos;
    pos = ConninfoValueEnd(text, pos);
    if (pos == value_begin) continue;
    const std::string_view value = text.substr(value_begin, pos - value_begin);
    if (IsPasswordKey(key)) {
      spans.push_back({value_begin, pos});
    } else if (value.find("://") != std::string_view::npos) {
      UrlSpans(value, value_begin, spans);
    }
  }
}

// Any "password" (any case) followed by '=': the value up to whitespace or
// '&'. A net under the parsers above for text they do not understand.
void LooseSpans(std::string_view text, std::vector<Span>& spans) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), Lower);
  for (std::size_t found = lower.find(kPasswordWord); found != std::string::npos;
       found = lower.find(kPasswordWord, found + 1)) {
    std::size_t pos = found + kPasswordWord.size();
    while (pos < text.size() && core::IsAsciiSpace(text[pos])) ++pos;
    if (pos >= text.size() || text[pos] != '=') continue;
    ++pos;
    while (pos < text.size() && core::IsAsciiSpace(text[pos])) ++pos;
    std::size_t end = ConninfoValueEnd(text, pos);
    if (pos < text.size() && text[pos] != '\'') end = std::min(end, ValueEnd(text, pos));
    if (end > pos) spans.push_back({pos, end});
  }
}

// Spans of `text` (a URL, or text that may be one), shifted by `offset`.
void UrlSpans(std::string_view text, std::size_t offset, std::vector<Span>& spans) {
  std::vector<Span> found;
  const std::size_t scheme_end = text.find("://");
  const std::size_t authority = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  // Query first (the userinfo search needs it), then again after the
  // userinfo: a careless password may hold a '?'.
  QuerySpans(text, authority, found);
  const std::size_t after_userinfo = UserinfoSpans(text, authority, found);
  if (after_userinfo != authority) QuerySpans(text, after_userinfo, found);
  for (const Span& span : found) spans.push_back({span.begin + offset, span.end + offset});
}

// Every password span of `url`, sorted and merged.
std::vector<Span> PasswordSpans(std::string_view url) {
  std::vector<Span> spans;
  if (url.starts_with(kSqlitePrefix)) return spans;
  UrlSpans(url, 0, spans);
  if (url.find("://") == std::string_view::npos) ConninfoSpans(url, spans);
  LooseSpans(url, spans);
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::vector<Span> merged;
  for (const Span& span : spans) {
    if (!merged.empty() && span.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, span.end);
    } else {
      merged.push_back(span);
    }
  }
  return merged;
}

// A conninfo value without its quotes and backslash escapes.
std::string Unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
    value = value.substr(1, value.size() - 2);
  }
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out += value[i];
  }
  return out;
}

void AddWithPieces(const std::string& text, std::vector<std::string>& fragments) {
  if (text.empty()) return;
  fragments.push_back(text);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find_first_of(kCutAt, start);
    if (end == std::string::npos) end = text.size();
    if (end > start && end - start < text.size())
      fragments.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace

std::string RedactStoreUrl(std::string_view url) {
  std::string out;
  std::size_t pos = 0;
  for (const Span& span : PasswordSpans(url)) {
    out.append(url.substr(pos, span.begin - pos));
    out.append(kRedacted);
    pos = span.end;
  }
  out.append(url.substr(pos));
  return out;
}

std::vector<std::string> PasswordFragments(std::string_view url) {
  std::vector<std::string> fragments;
  for (const Span& span : PasswordSpans(url)) {
    const std::string raw(url.substr(span.begin, span.end - span.begin));
    AddWithPieces(raw, fragments);
    AddWithPieces(PercentDecode(raw), fragments);
    AddWithPieces(Unquote(raw), fragments);
  }
  std::sort(fragments.begin(), fragments.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  fragments.erase(std::unique(fragments.begin(), fragments.end()), fragments.end());
  return fragments;
}

std::string RedactFragments(std::string_view text, std::span<const std::string> fragments) {
  std::vector<std::string_view> longest_first(fragments.begin(), fragments.end());
  std::erase_if(longest_first, [](std::string_view f) { return f.empty(); });
  std::stable_sort(longest_first.begin(), longest_first.end(),
                   [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::optional<std::size_t> matched;
    for (const std::string_view fragment : longest_first) {
      if (text.substr(pos).starts_with(fragment)) {
        matched = fragment.size();
        break;
      }
    }
    if (matched) {
      out.append(kRedacted);
      pos += *matched;
    } else {
      out += text[pos++];
    }
  }
  return out;
}

std::string RedactStoreSecrets(std::string_view url, std::string_view text) {
  return RedactFragments(text, PasswordFragments(url));
}

}  // namespace tokend::store
