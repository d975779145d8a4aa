// placeholder until the PostgreSQL backend lands.
#include "store/postgres/postgres_store.h"

namespace tokend::store {

Result<std::unique_ptr<TokenStore>> OpenPostgresStore(std::string_view, const StoreOptions&) {
  return Status::Unavailable("PostgreSQL backend not built");
}

}  // namespace tokend::store
