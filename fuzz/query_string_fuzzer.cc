// The query-string decoder and the search rules: ParseQueryString, then
// ParseTokenQuery on what it decoded. Checks the decoded text and the bounds
// of an accepted query, and that every refusal is a 1001 client error with a
// serializable error body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/create_request.h"
#include "core/query.h"
#include "core/text.h"
#include "fuzz_check.h"
#include "http/json_codec.h"

namespace {

using tokend::core::ApiError;
using tokend::core::Status;
using tokend::core::StatusCode;

void CheckClientError(const Status& status) {
  FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument, status.ToString());
  FUZZ_CHECK(status.api_error() == ApiError::kQueryInvalidFilters, status.ToString());
  FUZZ_CHECK(tokend::fuzz::IsSafeMessage(status.message()),
             "message echoes raw or unbounded input: " + status.ToString());
  FUZZ_CHECK(tokend::fuzz::IsErrorBody(tokend::http::SerializeError(status, 0)),
             "error body is not a well-formed RestErrorResponse: " + status.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto params = tokend::core::ParseQueryString(raw);
  if (!params.ok()) {
    CheckClientError(params.status());
    return 0;
  }
  for (const auto& [name, value] : *params) {
    FUZZ_CHECK(tokend::core::IsValidUtf8(name) && tokend::core::IsValidUtf8(value),
               "decoded parameter is not UTF-8");
    FUZZ_CHECK(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos,
               "decoded parameter contains NUL");
  }

  auto query = tokend::core::ParseTokenQuery(*params);
  if (!query.ok()) {
    CheckClientError(query.status());
    return 0;
  }
  if (query->limit) {
    FUZZ_CHECK(*query->limit >= 1 && *query->limit <= tokend::core::kMaxPageSize, "limit range");
  }
  FUZZ_CHECK(query->page >= 0 && query->page <= tokend::core::kMaxPage, "page range");
  FUZZ_CHECK(query->offset() >= 0, "negative offset");
  if (query->from_date && query->to_date) {
    FUZZ_CHECK(*query->from_date <= *query->to_date, "fromDate after toDate accepted");
  }
  for (const std::string& principal : query->principals) {
    FUZZ_CHECK(!principal.empty(), "empty principal item");
    FUZZ_CHECK(tokend::core::TrimAsciiSpace(principal) == principal, "untrimmed principal item");
  }
  return 0;
}
