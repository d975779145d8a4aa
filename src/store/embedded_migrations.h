// Schema migrations compiled into the binary from src/store/migrations/.
#pragma once

#include <string_view>
#include <vector>

namespace tokend::store {

struct EmbeddedFile {
  std::string_view name;  // "<backend>/<file>", e.g. "sqlite/0001_init.sql"
  std::string_view sql;
};

// Every migration file, in the order CMake listed them (per backend: by
// version number).
const std::vector<EmbeddedFile>& EmbeddedMigrations();

}  // namespace tokend::store
