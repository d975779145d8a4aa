// MongoDB-style ObjectIds: 4 bytes of seconds since the epoch (big-endian),
// 5 random bytes chosen once per process, a 3-byte counter starting at a
// random value; rendered as 24 lowercase hex characters.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"

namespace tokend::core {

// Thread-safe. Ids from one process are strictly increasing within a second.
std::string NewObjectId(EpochMillis now);

// 24 lowercase hex characters.
bool IsObjectId(std::string_view text);

// An ObjectId's 12 bytes, for holding many compactly.
using ObjectIdBytes = std::array<std::uint8_t, 12>;

// The bytes of `text`, or nullopt when it is not an ObjectId.
std::optional<ObjectIdBytes> ParseObjectId(std::string_view text);

// The 24 lowercase hex characters of `bytes`.
std::string ObjectIdText(const ObjectIdBytes& bytes);

// The same characters in a fixed buffer, for callers that must not allocate
// (24 characters are past std::string's inline capacity).
using ObjectIdChars = std::array<char, 24>;
ObjectIdChars ObjectIdCharsOf(const ObjectIdBytes& bytes);

}  // namespace tokend::core
