// The embedded SQLite backend of TokenStore.
#pragma once

#include <memory>
#include <string_view>

#include "store/token_store.h"

namespace tokend::store {

// `target` is a file path or ":memory:" (the part after "sqlite:"). Creates
// the file (mode 0600; its folder must exist) and the schema as needed and
// applies migrations. A file store holds an exclusive lock on the file until
// it is destroyed: AlreadyExists when another store, in this process or
// another, holds it. Writes are refused (Unavailable) once the path no longer
// names the opened file (removed or replaced).
Result<std::unique_ptr<TokenStore>> OpenSqliteStore(std::string_view target,
                                                    const StoreOptions& options);

}  // namespace tokend::store
