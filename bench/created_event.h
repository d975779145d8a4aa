// The audit event of a created token, shaped as tokend stores it, for the
// create ceilings (sqlite_group_insert and pg_group_insert --with-events):
// the same columns and about the same bytes, none of it computed as tokend
// would (no canonical encoding, no chain hash).
#pragma once

#include <string>

namespace tokend::bench {

// The one chain the ceilings write, as a tokend instance writes its own.
inline constexpr const char* kEventWriter = "fb5f5b44e302b66e";

// The served JSON body of a token.created event (about 300 bytes).
inline std::string CreatedEventBody(const std::string& event_id, const std::string& token_id,
                                    const std::string& principal) {
  return R"({"id":")" + event_id + R"(","time":"2026-12-04T16:02:01.344+00:00","action":)" +
         R"("token.created","subject":{"id":")" + token_id + R"(","type":"user","principal":")" +
         principal + R"(","name":"bench"},"actor":{"id":"6b12e3c19ae4d83c8f54cf98","type":)" +
         R"("global","principal":null},"remoteAddress":"127.0.0.1"})";
}

}  // namespace tokend::bench
