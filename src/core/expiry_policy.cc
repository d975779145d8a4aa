#include "core/expiry_policy.h"

#include <algorithm>
#include <iterator>

#include "core/create_request.h"
#include "core/text.h"

namespace tokend::core {
namespace {

constexpr std::string_view kMaxFlag = "--max-lifetime (TOKEND_MAX_LIFETIME)";
constexpr std::string_view kDefaultFlag = "--default-lifetime (TOKEND_DEFAULT_LIFETIME)";

struct Unit {
  char letter;
  std::int64_t seconds;
};
constexpr Unit kUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

std::size_t IndexOf(TokenType type) {
  return static_cast<std::size_t>(
      std::find(std::begin(kAllTokenTypes), std::end(kAllTokenTypes), type) -
      std::begin(kAllTokenTypes));
}

Status BadSetting(std::string_view flag, std::string_view setting, std::string_view problem) {
  return Status::InvalidArgument(std::string(flag) + ": " + QuoteForMessage(setting) + " " +
                                 std::string(problem));
}

}  // namespace

Result<std::int64_t> ParseDurationSeconds(std::string_view text) {
  auto invalid = [&] {
    return Status::InvalidArgument(
        "invalid duration " + QuoteForMessage(text) +
        ": expected a whole number of at least 1 followed by s, m, h or d (e.g. 90d, 12h), at "
        "most 3650000d");
  };
  if (text.size() < 2) return invalid();
  const char letter = text.back();
  const auto* unit = std::find_if(std::begin(kUnits), std::end(kUnits),
                                  [letter](const Unit& u) { return u.letter == letter; });
  if (unit == std::end(kUnits)) return invalid();
  const std::string_view digits = text.substr(0, text.size() - 1);
  std::int64_t count = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return invalid();
    count = count * 10 + (c - '0');
    if (count > kMaxDurationSeconds) return invalid();
  }
  if (count < 1 || count > kMaxDurationSeconds / unit->seconds) return invalid();
  return count * unit->seconds;
}

std::string FormatDuration(std::int64_t seconds) {
  for (const Unit& unit : kUnits) {
    if (seconds > 0 && seconds % unit.seconds == 0) {
      return std::to_string(seconds / unit.seconds) + unit.letter;
    }
  }
  return std::to_string(seconds) + "s";
}

Result<ExpiryPolicy> ExpiryPolicy::Parse(const std::vector<std::string>& max_settings,
                                         const std::vector<std::string>& default_settings) {
  ExpiryPolicy policy;
  auto add = [&](std::string_view flag, std::string_view raw, std::optional<std::int64_t>& any,
                 std::optional<std::int64_t>(&per_type)[kTypes]) -> Status {
    const std::string_view setting = TrimAsciiSpace(raw);
    if (setting.empty()) return Status::Ok();
    const std::size_t eq = setting.find('=');
    std::optional<std::int64_t>* slot = &any;
    std::string_view duration = setting;
    if (eq != std::string_view::npos) {
      const std::string_view type_name = TrimAsciiSpace(setting.substr(0, eq));
      const std::optional<TokenType> type = ParseTokenType(type_name);
      if (!type) {
        return BadSetting(flag, setting,
                          "names an unknown token type " + QuoteForMessage(type_name) +
                              "; expected global, team, workflow, user or session.");
      }
      slot = &per_type[IndexOf(*type)];
      duration = TrimAsciiSpace(setting.substr(eq + 1));
    }
    Result<std::int64_t> seconds = ParseDurationSeconds(duration);
    if (!seconds.ok())
      return BadSetting(flag, setting, "has an " + seconds.status().message() + ".");
    if (*slot) {
      return BadSetting(flag, setting,
                        eq == std::string_view::npos
                            ? std::string("sets the value for every type a second time.")
                            : "sets the value of its type a second time.");
    }
    *slot = *seconds;
    return Status::Ok();
  };
  for (const std::string& setting : max_settings) {
    if (Status s = add(kMaxFlag, setting, policy.any_max_, policy.max_); !s.ok()) return s;
  }
  for (const std::string& setting : default_settings) {
    if (Status s = add(kDefaultFlag, setting, policy.any_default_, policy.default_); !s.ok()) {
      return s;
    }
  }
  for (TokenType type : kAllTokenTypes) {
    const LifetimeLimits limits = policy.For(type);
    if (limits.max_seconds && limits.default_seconds &&
        *limits.default_seconds > *limits.max_seconds) {
      return Status::InvalidArgument(
          "the default lifetime of type '" + std::string(ToString(type)) + "' (" +
          FormatDuration(*limits.default_seconds) + ", " + std::string(kDefaultFlag) +
          ") is longer than its maximum lifetime (" + FormatDuration(*limits.max_seconds) + ", " +
          std::string(kMaxFlag) + ").");
    }
  }
  return policy;
}

LifetimeLimits ExpiryPolicy::For(TokenType type) const {
  const std::size_t i = IndexOf(type);
  if (i >= kTypes) return {};
  LifetimeLimits limits;
  limits.max_seconds = max_[i] ? max_[i] : any_max_;
  limits.default_seconds = default_[i] ? default_[i] : any_default_;
  return limits;
}

bool ExpiryPolicy::empty() const {
  return std::all_of(std::begin(kAllTokenTypes), std::end(kAllTokenTypes),
                     [this](TokenType type) { return For(type).empty(); });
}

std::vector<std::pair<TokenType, std::int64_t>> ExpiryPolicy::MaxLifetimeMillis() const {
  std::vector<std::pair<TokenType, std::int64_t>> out;
  for (TokenType type : kAllTokenTypes) {
    if (const auto max = For(type).max_seconds) out.emplace_back(type, *max * 1000);
  }
  return out;
}

Result<std::optional<EpochMillis>> ApplyExpiryPolicy(const ExpiryPolicy& policy, TokenType type,
                                                     std::optional<EpochMillis> requested,
                                                     EpochMillis now) {
  const LifetimeLimits limits = policy.For(type);
  auto after = [now](std::int64_t seconds) {
    return std::min<EpochMillis>(now + seconds * 1000, kMaxExpirationDate);
  };
  if (requested) {
    if (limits.max_seconds && *requested > after(*limits.max_seconds)) {
      return InvalidCreateRequest(
          "Field 'expirationDate' is beyond the maximum lifetime of type '" +
          std::string(ToString(type)) + "' (" + FormatDuration(*limits.max_seconds) +
          "): the latest date allowed is " + FormatSpringDate(after(*limits.max_seconds)) + ".");
    }
    return requested;
  }
  if (limits.default_seconds) return std::optional<EpochMillis>(after(*limits.default_seconds));
  if (limits.max_seconds) return std::optional<EpochMillis>(after(*limits.max_seconds));
  return std::optional<EpochMillis>();
}

}  // namespace tokend::core
