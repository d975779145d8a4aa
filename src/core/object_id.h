// MongoDB-style ObjectIds: 4 bytes of seconds since the epoch (big-endian),
// 5 random bytes chosen once per process, a 3-byte counter starting at a
// random value; rendered as 24 lowercase hex characters.
#pragma once

#include <string>
#include <string_view>

#include "core/time.h"

namespace tokend::core {

// Thread-safe. Ids from one process are strictly increasing within a second.
std::string NewObjectId(EpochMillis now);

// 24 lowercase hex characters.
bool IsObjectId(std::string_view text);

}  // namespace tokend::core
