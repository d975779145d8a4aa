#include "store/postgres/prepared_statements.h"

namespace tokend::store::pg {

ResultPtr PreparedStatements::Exec(PGconn* conn, const std::string& sql,
                                   const std::vector<const char*>& params) {
  const int count = static_cast<int>(params.size());
  const CallDeadline deadline(conn);
  auto known = names_.find(sql);
  if (known == names_.end()) {
    if (names_.size() >= capacity_) {
      return ResultPtr(
          PQexecParams(conn, sql.c_str(), count, nullptr, params.data(), nullptr, nullptr, 0));
    }
    std::string name = "tokend_shape_" + std::to_string(names_.size());
    ResultPtr prepared(PQprepare(conn, name.c_str(), sql.c_str(), count, nullptr));
    if (!Succeeded(prepared.get(), PGRES_COMMAND_OK)) return prepared;
    known = names_.emplace(sql, std::move(name)).first;
  }
  return ResultPtr(
      PQexecPrepared(conn, known->second.c_str(), count, params.data(), nullptr, nullptr, 0));
}

}  // namespace tokend::store::pg
