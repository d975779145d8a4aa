// GET /api/v2/token/query: query-string decoding and the search rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "core/status.h"
#include "core/time.h"
#include "core/token.h"

namespace tokend::core {

enum class SortField { kCreationDate, kExpirationDate, kName, kType, kPrincipal, kLastUsedDate };
enum class SortOrder { kAsc, kDesc };

// "creationDate", "expirationDate", "name", "type", "principal",
// "lastUsedDate".
std::string_view ToString(SortField field);
// "ASC", "DESC".
std::string_view ToString(SortOrder order);

inline constexpr int kMaxPageSize = 1000;
inline constexpr std::int64_t kMaxPage = 2147483647;

struct TokenQuery {
  std::vector<TokenType> types;          // empty: every type
  std::vector<std::string> principals;   // empty: every principal
  std::optional<EpochMillis> from_date;  // creationDate >= from_date
  std::optional<EpochMillis> to_date;    // creationDate < to_date
  // lastUsedBefore: never used, or lastUsedDate < last_used_before (the
  // stale-token sweep). lastUsedAfter: lastUsedDate >= last_used_after.
  std::optional<EpochMillis> last_used_before;
  std::optional<EpochMillis> last_used_after;
  SortField sort = SortField::kCreationDate;
  SortOrder order = SortOrder::kAsc;
  std::optional<int> limit;  // 1..1000; absent: unpaged
  std::int64_t page = 0;     // 0..kMaxPage, meaningful only with a limit
  // lifetimeBeyondPolicy=true: only tokens of a type with a maximum lifetime
  // that have no expirationDate, or whose expirationDate - creationDate
  // exceeds that maximum. Never parsed: the service fills
  // `policy_max_lifetimes` (each type with a maximum, in milliseconds) from
  // the policy in force; a type absent from it never matches.
  bool lifetime_beyond_policy = false;
  std::vector<std::pair<TokenType, std::int64_t>> policy_max_lifetimes;

  bool paged() const { return limit.has_value(); }
  std::int64_t offset() const { return paged() ? page * *limit : 0; }
  bool operator==(const TokenQuery&) const = default;
};

// Decoded (name, value) pairs in order of appearance.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Splits a raw query string ("a=1&b=x%20y") on '&' and '=', decodes '+' as
// space and %XX escapes once, in names exactly as in values. An invalid
// escape, or a name or value that is not valid UTF-8 or contains NUL after
// decoding, is InvalidArgument (1001) naming the parameter. Empty segments
// ("a=1&&b=2") are skipped.
//
// Consumers match the decoded names only: "access%5Ftoken=x" is the
// parameter access_token, which a search of the raw string for
// "access_token" would miss.
Result<QueryParams> ParseQueryString(std::string_view raw);

// Applies the search rules (docs/API.md, "GET /api/v2/token/query") to the
// decoded parameters: limit, page, order (case-insensitive), sort, types and
// principals (comma lists and/or repeated), fromDate/toDate,
// lastUsedBefore/lastUsedAfter (epoch milliseconds), lifetimeBeyondPolicy
// ("true" or "false", exactly). A scalar given twice (under any spelling of its name), an
// unknown value, fromDate > toDate or lastUsedAfter > lastUsedBefore is
// InvalidArgument (1001) naming the parameter. Empty values count as absent;
// unknown parameter names are ignored.
Result<TokenQuery> ParseTokenQuery(const QueryParams& params);

// POST /api/v2/token/query/revoke: the query's filters, and the route's own
// switches.
struct RevokeQuery {
  // types, principals, fromDate, toDate, lastUsedBefore, lastUsedAfter,
  // lifetimeBeyondPolicy; never sorted or paged
  TokenQuery filters;
  bool dry_run = false;  // dryRun=true: count, revoke nothing
};

// The query's filter rules (ParseTokenQuery), plus: `limit`, `page`, `order`
// and `sort` are refused whenever they appear, even empty (a bulk revocation
// has no pages and no order), and so is any parameter not named above but
// `access_token` (a misspelled `dryRun` must not revoke); `all` and `dryRun` take `true` or `false`
// (case-insensitive; empty counts as absent; twice is refused); at least one
// filter (lifetimeBeyondPolicy=true counts as one), or all=true, is
// required. Every refusal is InvalidArgument (1001) naming the parameter.
Result<RevokeQuery> ParseRevokeQuery(const QueryParams& params);

// GET /api/v2/token/audit (API 8.1): the audit trail's filters and page.
struct AuditQuery {
  std::optional<std::string> token_id;   // the subject's id
  std::vector<std::string> principals;   // the subject's principal IN
  std::vector<TokenType> types;          // the subject's type IN
  std::vector<AuditAction> actions;      // action IN
  std::optional<EpochMillis> from_date;  // time >= from_date
  std::optional<EpochMillis> to_date;    // time < to_date
  bool ascending = false;                // by time, ties on id; newest first by default
  std::optional<int> limit;              // 1..1000; absent: unpaged
  std::int64_t page = 0;                 // meaningful only with a limit

  bool paged() const { return limit.has_value(); }
  std::int64_t offset() const { return paged() ? page * *limit : 0; }
  bool operator==(const AuditQuery&) const = default;
};

// The audit query's rules, those of ParseTokenQuery where they share a name:
// limit, page, order (by time; DESC by default), types, principals, fromDate,
// toDate; plus tokenId (the subject's id, any text) and actions (comma lists
// and/or repeated, each an exact action name such as token.created). `sort`
// is ignored (the trail has one order). Refusals are InvalidArgument (1001)
// naming the parameter.
Result<AuditQuery> ParseAuditQuery(const QueryParams& params);

}  // namespace tokend::core
