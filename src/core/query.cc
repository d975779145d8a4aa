#include "core/query.h"

#include <algorithm>
#include <limits>
#include <tuple>

#include "core/text.h"

namespace tokend::core {
namespace {

Status InvalidParam(std::string_view name, std::string_view problem) {
  std::string message = "Invalid query parameter ";
  message += QuoteForMessage(name);
  message += ": ";
  message += problem;
  return Status::InvalidArgument(std::move(message), ApiError::kQueryInvalidFilters);
}

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Digits only, at most `max`; nullopt otherwise (no sign, no overflow).
std::optional<std::int64_t> ParseBoundedDigits(std::string_view text, std::int64_t max) {
  if (!IsDigits(text)) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    value = value * 10 + (c - '0');
    if (value > max) return std::nullopt;
  }
  return value;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Calls `add` with every trimmed, non-empty comma-separated item of `value`.
template <typename Add>
Status ForEachListItem(std::string_view value, Add add) {
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view item = TrimAsciiSpace(value.substr(0, comma));
    if (!item.empty()) {
      if (Status s = add(item); !s.ok()) return s;
    }
    if (comma == std::string_view::npos) return Status::Ok();
    value.remove_prefix(comma + 1);
  }
}

template <typename T>
void AppendUnique(std::vector<T>& list, T item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(std::move(item));
}

constexpr std::string_view kScalarNames[] = {
    "limit", "page", "order", "sort", "fromDate", "toDate", "lastUsedBefore", "lastUsedAfter"};

// An epoch-milliseconds parameter (fromDate, toDate, lastUsedBefore, ...).
Result<std::optional<EpochMillis>> ParseMillisParam(std::string_view name,
                                                    std::optional<std::string_view> value) {
  if (!value) return std::optional<EpochMillis>();
  const std::optional<std::int64_t> millis = ParseInt64(*value);
  if (!millis) {
    return InvalidParam(name, QuoteForMessage(*value) + " is not a number of epoch milliseconds.");
  }
  return std::optional<EpochMillis>(*millis);
}

}  // namespace

std::string_view ToString(SortField field) {
  switch (field) {
    case SortField::kCreationDate:
      return "creationDate";
    case SortField::kExpirationDate:
      return "expirationDate";
    case SortField::kName:
      return "name";
    case SortField::kType:
      return "type";
    case SortField::kPrincipal:
      return "principal";
    case SortField::kLastUsedDate:
      return "lastUsedDate";
  }
  return "creationDate";
}

std::string_view ToString(SortOrder order) { return order == SortOrder::kDesc ? "DESC" : "ASC"; }

Result<QueryParams> ParseQueryString(std::string_view raw) {
  QueryParams params;
  while (!raw.empty()) {
    const std::size_t amp = raw.find('&');
    const std::string_view segment = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (segment.empty()) continue;

    const std::size_t eq = segment.find('=');
    const std::string_view raw_name = segment.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : segment.substr(eq + 1);
    std::optional<std::string> name = PercentDecode(raw_name, /*plus_is_space=*/true);
    if (!name) return InvalidParam(raw_name, "the name has an invalid percent-encoding.");
    if (!IsValidUtf8(*name)) return InvalidParam(raw_name, "the name is not valid UTF-8 text.");
    if (HasNul(*name)) return InvalidParam(raw_name, "the name contains a NUL character.");
    std::optional<std::string> value = PercentDecode(raw_value, /*plus_is_space=*/true);
    if (!value) return InvalidParam(*name, "the value has an invalid percent-encoding.");
    if (!IsValidUtf8(*value)) return InvalidParam(*name, "the value is not valid UTF-8 text.");
    if (HasNul(*value)) return InvalidParam(*name, "the value contains a NUL character.");
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

Result<TokenQuery> ParseTokenQuery(const QueryParams& params) {
  // A scalar's one non-empty value; empty values count as absent.
  std::optional<std::string_view> scalars[std::size(kScalarNames)];
  TokenQuery query;
  std::optional<std::string_view> lifetime_beyond_policy;

  for (const auto& [name, value] : params) {
    if (name == "types") {
      Status s = ForEachListItem(value, [&](std::string_view item) {
        const std::optional<TokenType> type = ParseTokenType(item);
        if (!type) {
          return InvalidParam("types", "unknown type " + QuoteForMessage(item) +
                                           "; expected global, team, workflow, user or session.");
        }
        AppendUnique(query.types, *type);
        return Status::Ok();
      });
      if (!s.ok()) return s;
      continue;
    }
    if (name == "principals") {
      Status s = ForEachListItem(value, [&](std::string_view item) {
        AppendUnique(query.principals, std::string(item));
        return Status::Ok();
      });
      if (!s.ok()) return s;
      continue;
    }
    if (name == "lifetimeBeyondPolicy") {
      if (value.empty()) continue;
      if (lifetime_beyond_policy) return InvalidParam(name, "given more than once.");
      lifetime_beyond_policy = value;
      continue;
    }
    const auto* scalar = std::find(std::begin(kScalarNames), std::end(kScalarNames), name);
    if (scalar == std::end(kScalarNames) || value.empty()) continue;
    std::optional<std::string_view>& slot = scalars[scalar - std::begin(kScalarNames)];
    if (slot) return InvalidParam(name, "given more than once.");
    slot = value;
  }

  const auto& [limit, page, order, sort, from_date, to_date, last_used_before, last_used_after] =
      scalars;
  if (limit) {
    const std::optional<std::int64_t> n = ParseBoundedDigits(*limit, kMaxPageSize);
    if (!n || *n < 1) {
      return InvalidParam("limit", QuoteForMessage(*limit) + " is not an integer between 1 and " +
                                       std::to_string(kMaxPageSize) + ".");
    }
    query.limit = static_cast<int>(*n);
  }
  if (page) {
    const std::optional<std::int64_t> n = ParseBoundedDigits(*page, kMaxPage);
    if (!n) {
      return InvalidParam("page", QuoteForMessage(*page) + " is not an integer between 0 and " +
                                      std::to_string(kMaxPage) + ".");
    }
    // Without a limit there are no pages; page is checked but has no effect.
    if (query.limit) query.page = *n;
  }
  if (order) {
    if (EqualsIgnoreCase(*order, "ASC")) {
      query.order = SortOrder::kAsc;
    } else if (EqualsIgnoreCase(*order, "DESC")) {
      query.order = SortOrder::kDesc;
    } else {
      return InvalidParam("order", QuoteForMessage(*order) + " is not ASC or DESC.");
    }
  }
  if (sort) {
    static constexpr SortField kFields[] = {SortField::kCreationDate, SortField::kExpirationDate,
                                            SortField::kName,         SortField::kType,
                                            SortField::kPrincipal,    SortField::kLastUsedDate};
    const auto* field =
        std::find_if(std::begin(kFields), std::end(kFields),
                     [wanted = *sort](SortField f) { return ToString(f) == wanted; });
    if (field == std::end(kFields)) {
      return InvalidParam("sort", QuoteForMessage(*sort) +
                                      " is not one of creationDate, expirationDate, name, type, "
                                      "principal, lastUsedDate.");
    }
    query.sort = *field;
  }
  for (auto [name, value, target] :
       {std::tuple("fromDate", from_date, &query.from_date),
        std::tuple("toDate", to_date, &query.to_date),
        std::tuple("lastUsedBefore", last_used_before, &query.last_used_before),
        std::tuple("lastUsedAfter", last_used_after, &query.last_used_after)}) {
    Result<std::optional<EpochMillis>> millis = ParseMillisParam(name, value);
    if (!millis.ok()) return millis.status();
    *target = *millis;
  }
  if (query.from_date && query.to_date && *query.from_date > *query.to_date) {
    return InvalidParam("fromDate", "must not be after toDate.");
  }
  if (query.last_used_after && query.last_used_before &&
      *query.last_used_after > *query.last_used_before) {
    return InvalidParam("lastUsedAfter", "must not be after lastUsedBefore.");
  }
  if (lifetime_beyond_policy) {
    if (*lifetime_beyond_policy != "true" && *lifetime_beyond_policy != "false") {
      return InvalidParam("lifetimeBeyondPolicy",
                          QuoteForMessage(*lifetime_beyond_policy) + " is not true or false.");
    }
    query.lifetime_beyond_policy = *lifetime_beyond_policy == "true";
  }
  return query;
}

Result<AuditQuery> ParseAuditQuery(const QueryParams& params) {
  // The token query's parser judges what the two share (its own sort,
  // lastUsed and lifetime parameters are not the trail's: dropped first).
  QueryParams shared;
  AuditQuery audit;
  std::optional<std::string_view> token_id;
  for (const auto& [name, value] : params) {
    if (name == "actions") {
      Status s = ForEachListItem(value, [&](std::string_view item) {
        const std::optional<AuditAction> action = ParseAuditAction(item);
        if (!action) {
          return InvalidParam("actions", "unknown action " + QuoteForMessage(item) +
                                             "; expected token.created, token.deleted, "
                                             "token.revoked, token.rotated, "
                                             "token.reuse_detected, token.expiring or "
                                             "token.expired.");
        }
        AppendUnique(audit.actions, *action);
        return Status::Ok();
      });
      if (!s.ok()) return s;
      continue;
    }
    if (name == "tokenId") {
      if (value.empty()) continue;
      if (token_id) return InvalidParam(name, "given more than once.");
      token_id = value;
      continue;
    }
    if (name == "sort" || name == "lastUsedBefore" || name == "lastUsedAfter" ||
        name == "lifetimeBeyondPolicy") {
      continue;
    }
    shared.emplace_back(name, value);
  }
  bool order_given = false;
  for (const auto& [name, value] : shared) order_given |= name == "order" && !value.empty();
  Result<TokenQuery> common = ParseTokenQuery(shared);
  if (!common.ok()) return common.status();
  if (token_id) audit.token_id = std::string(*token_id);
  audit.principals = std::move(common->principals);
  audit.types = std::move(common->types);
  audit.from_date = common->from_date;
  audit.to_date = common->to_date;
  audit.ascending = order_given && common->order == SortOrder::kAsc;
  audit.limit = common->limit;
  audit.page = common->page;
  return audit;
}

Result<RevokeQuery> ParseRevokeQuery(const QueryParams& params) {
  // Every other route ignores a parameter it does not know; this one revokes,
  // so a misspelled switch (dryrun=true) must not pass for absent.
  static constexpr std::string_view kKnown[] = {
      "types",         "principals",           "fromDate", "toDate", "lastUsedBefore",
      "lastUsedAfter", "lifetimeBeyondPolicy", "all",      "dryRun", "access_token"};
  std::optional<std::string_view> all;
  std::optional<std::string_view> dry_run;
  for (const auto& [name, value] : params) {
    if (name == "limit" || name == "page" || name == "order" || name == "sort") {
      return InvalidParam(name,
                          "not allowed here: a bulk revocation applies to every matching token, "
                          "without pages or order.");
    }
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      return InvalidParam(name,
                          "unknown here: a bulk revocation takes types, principals, fromDate, "
                          "toDate, lastUsedBefore, lastUsedAfter, lifetimeBeyondPolicy, all and "
                          "dryRun, and refuses anything else rather than revoke without it.");
    }
    std::optional<std::string_view>* slot =
        name == "all" ? &all : (name == "dryRun" ? &dry_run : nullptr);
    if (slot == nullptr || value.empty()) continue;
    if (*slot) return InvalidParam(name, "given more than once.");
    *slot = value;
  }
  auto flag = [](std::string_view name, std::optional<std::string_view> value) -> Result<bool> {
    if (!value) return false;
    if (EqualsIgnoreCase(*value, "true")) return true;
    if (EqualsIgnoreCase(*value, "false")) return false;
    return InvalidParam(name, QuoteForMessage(*value) + " is not true or false.");
  };
  Result<bool> everything = flag("all", all);
  if (!everything.ok()) return everything.status();
  Result<bool> dry = flag("dryRun", dry_run);
  if (!dry.ok()) return dry.status();
  Result<TokenQuery> filters = ParseTokenQuery(params);
  if (!filters.ok()) return filters.status();
  const bool filtered = !filters->types.empty() || !filters->principals.empty() ||
                        filters->from_date || filters->to_date || filters->last_used_before ||
                        filters->last_used_after || filters->lifetime_beyond_policy;
  if (!filtered && !*everything) {
    return InvalidParam(
        "all",
        "a bulk revocation needs at least one filter (types, principals, "
        "fromDate, toDate, lastUsedBefore, lastUsedAfter, "
        "lifetimeBeyondPolicy=true), or all=true to revoke every token the caller covers.");
  }
  return RevokeQuery{.filters = std::move(filters).value(), .dry_run = *dry};
}

}  // namespace tokend::core
