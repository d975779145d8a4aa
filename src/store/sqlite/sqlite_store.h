// The embedded SQLite backend of TokenStore.
#pragma once

#include <memory>
#include <string_view>

#include "store/token_store.h"

namespace tokend::store {

// `target` is a file path or ":memory:" (the part after "sqlite:"). Creates
// the file and its parent folder's schema as needed and applies migrations.
Result<std::unique_ptr<TokenStore>> OpenSqliteStore(std::string_view target,
                                                    const StoreOptions& options);

}  // namespace tokend::store
