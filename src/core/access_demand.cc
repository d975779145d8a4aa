#include "core/access_demand.h"

#include "core/api_error.h"
#include "core/permission.h"
#include "core/text.h"

namespace tokend::core {

Result<AccessDemand> ParseAccessDemand(const QueryParams& params) {
  AccessDemand demand;
  for (const auto& [name, value] : params) {
    if (name == "permission") {
      if (!IsValidPermission(value)) {
        return Status::InvalidArgument(
            "The parameter 'permission' must be a permission string "
            "like 'workflow/read'; got " +
            QuoteForMessage(value) + ".");
      }
      demand.permissions.push_back(value);
    } else if (name == "principal") {
      if (value.empty()) {
        return Status::InvalidArgument("The parameter 'principal' must not be empty.");
      }
      if (demand.principal) {
        return Status::InvalidArgument("The parameter 'principal' may be given only once.");
      }
      demand.principal = value;
    }
  }
  return demand;
}

Status CheckDemand(const Caller& caller, const AccessDemand& demand) {
  if (demand.principal && caller.scope != TokenType::kGlobal &&
      caller.principal != *demand.principal) {
    return Status::PermissionDenied("The token does not act for the principal asked for.");
  }
  for (const std::string& wanted : demand.permissions) {
    if (!AnyGrants(caller.actions, wanted)) {
      return Status::PermissionDenied("The token does not hold the permission " + wanted + ".");
    }
  }
  return Status::Ok();
}

}  // namespace tokend::core
