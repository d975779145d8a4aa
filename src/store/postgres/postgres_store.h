// The PostgreSQL backend of TokenStore (plain libpq).
#pragma once

#include <memory>
#include <string_view>

#include "store/token_store.h"

namespace tokend::store {

// `url` is a libpq connection URI ("postgresql://user:pass@host:port/db").
// Applies migrations under an advisory lock, so that many instances may start
// at once.
Result<std::unique_ptr<TokenStore>> OpenPostgresStore(std::string_view url,
                                                      const StoreOptions& options);

// InvalidArgument when libpq cannot parse `url`; connects to nothing.
Status CheckPostgresUrl(std::string_view url);

}  // namespace tokend::store
