// Statements prepared on one connection when first run, by SQL text.
// Internal to src/store/postgres/.
//
// Thread safety: none; it belongs to its connection, which one thread uses
// at a time (a pool lease).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/postgres/pg_common.h"

namespace tokend::store::pg {

class PreparedStatements {
 public:
  // Texts kept per connection when none is given: enough for every shape
  // the store prepares, and a bound on what the server keeps per session.
  static constexpr std::size_t kDefaultCapacity = 64;

  explicit PreparedStatements(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Runs `sql` with `params` (text format, null for SQL NULL) on `conn`:
  // the statement prepared under its own name on the first run of that text
  // on this connection, executed by name after. A text met once `capacity`
  // texts are kept runs unnamed (parsed and planned each time). The result
  // of the run, or of the prepare when that failed (then the text is
  // prepared again on its next run); null when libpq is out of memory.
  ResultPtr Exec(PGconn* conn, const std::string& sql, const std::vector<const char*>& params);

  // How many texts are prepared on the connection.
  std::size_t size() const { return names_.size(); }

 private:
  std::size_t capacity_;
  std::unordered_map<std::string, std::string> names_;  // SQL text -> statement name
};

}  // namespace tokend::store::pg
