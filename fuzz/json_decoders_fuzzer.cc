// The JSON request decoders: ParseCreateTokenRequest (then ValidateCreate on
// success) and ParseIntrospectJson, on the same body. Checks that failures
// are client errors with a serializable error body and that accepted
// requests satisfy the create rules of the API contract.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "core/create_request.h"
#include "core/permission.h"
#include "core/text.h"
#include "fuzz_check.h"
#include "http/json_codec.h"

namespace {

using tokend::core::ApiError;
using tokend::core::Status;
using tokend::core::StatusCode;
using tokend::core::TokenType;

// A fixed clock keeps runs reproducible: 2023-11-14T22:13:20Z.
constexpr tokend::core::EpochMillis kNow = 1'700'000'000'000;

void CheckClientError(const Status& status) {
  FUZZ_CHECK(!status.ok(), "an error result carries an ok status");
  FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument, status.ToString());
  const ApiError error = status.api_error();
  FUZZ_CHECK(error == ApiError::kRequestInvalidParams || error == ApiError::kTokenInvalidRequest ||
                 error == ApiError::kTokenInvalidSessionRequest ||
                 error == ApiError::kTokenInvalidPermission,
             status.ToString());
  FUZZ_CHECK(tokend::fuzz::IsSafeMessage(status.message()),
             "message echoes raw or unbounded input: " + status.ToString());
  FUZZ_CHECK(tokend::fuzz::IsErrorBody(tokend::http::SerializeError(status, kNow)),
             "error body is not a well-formed RestErrorResponse: " + status.ToString());
}

void CheckSpec(const tokend::core::NewTokenSpec& spec) {
  using tokend::core::CountCodePoints;
  using tokend::core::IsValidUtf8;
  FUZZ_CHECK(spec.type != TokenType::kSession, "session token accepted");
  FUZZ_CHECK(IsValidUtf8(spec.name), "name is not UTF-8");
  FUZZ_CHECK(!tokend::core::TrimAsciiSpace(spec.name).empty(), "blank name accepted");
  FUZZ_CHECK(CountCodePoints(spec.name) <= tokend::core::kMaxNameCodePoints, "name too long");
  FUZZ_CHECK(spec.name.find('\0') == std::string::npos, "NUL in name");
  if (spec.description) {
    FUZZ_CHECK(IsValidUtf8(*spec.description), "description is not UTF-8");
    FUZZ_CHECK(CountCodePoints(*spec.description) <= tokend::core::kMaxDescriptionCodePoints,
               "description too long");
  }
  FUZZ_CHECK(spec.principal.has_value() == (spec.type != TokenType::kGlobal),
             "principal must be null exactly for global tokens");
  if (spec.principal) {
    FUZZ_CHECK(!tokend::core::TrimAsciiSpace(*spec.principal).empty(), "blank principal");
    FUZZ_CHECK(IsValidUtf8(*spec.principal), "principal is not UTF-8");
  }
  if (spec.expiration_date) FUZZ_CHECK(*spec.expiration_date > kNow, "past expiration accepted");
  if (spec.type != TokenType::kUser) FUZZ_CHECK(!spec.actions.empty(), "no permissions");
  std::set<std::string_view> seen;
  for (const std::string& action : spec.actions) {
    FUZZ_CHECK(tokend::core::IsValidPermission(action), "invalid permission " + action);
    FUZZ_CHECK(seen.insert(action).second, "duplicate permission " + action);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  auto request = tokend::http::ParseCreateTokenRequest(body);
  if (request.ok()) {
    auto spec = tokend::core::ValidateCreate(*request, kNow);
    if (spec.ok()) {
      CheckSpec(*spec);
    } else {
      CheckClientError(spec.status());
    }
  } else {
    CheckClientError(request.status());
  }

  auto secret = tokend::http::ParseIntrospectJson(body);
  if (!secret.ok()) CheckClientError(secret.status());
  return 0;
}
