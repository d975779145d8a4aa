// What a gateway asks of a token before letting a request through
// (GET /api/v2/token/check): permissions it must hold and the principal it
// must act for. Pure functions, no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/authz.h"
#include "core/query.h"
#include "core/status.h"

namespace tokend::core {

struct AccessDemand {
  std::vector<std::string> permissions;  // every one must be granted
  std::optional<std::string> principal;  // the token must be global or scoped to it
};

// The `permission` (repeatable) and `principal` (at most once) parameters;
// other parameters are ignored. InvalidArgument (1001) naming the parameter
// for a permission that is not a valid permission string, an empty or
// repeated principal.
Result<AccessDemand> ParseAccessDemand(const QueryParams& params);

// Ok when `caller` meets `demand`; PermissionDenied (403) naming what is
// missing otherwise. The unrestricted caller (authentication off) meets
// every demand.
Status CheckDemand(const Caller& caller, const AccessDemand& demand);

}  // namespace tokend::core
