#include "core/object_id.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "core/text.h"

namespace tokend::core {
namespace {

struct ProcessIdentity {
  std::array<unsigned char, 5> random;
  std::uint32_t counter_start;
};

const ProcessIdentity& Identity() {
  static const ProcessIdentity identity = [] {
    unsigned char bytes[8];
    // Colliding ids across processes would silently merge tokens; refuse to run.
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
    ProcessIdentity id;
    std::copy(bytes, bytes + 5, id.random.begin());
    // Start in the lower half of the 24-bit range so the counter cannot wrap
    // (and break ordering) before about eight million ids.
    id.counter_start = (static_cast<std::uint32_t>(bytes[5]) << 16 |
                        static_cast<std::uint32_t>(bytes[6]) << 8 | bytes[7]) &
                       0x7fffff;
    return id;
  }();
  return identity;
}

std::atomic<std::uint32_t>& Counter() {
  static std::atomic<std::uint32_t> counter{Identity().counter_start};
  return counter;
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string NewObjectId(EpochMillis now) {
  // Floor to whole seconds; the field is an unsigned 32-bit count, as MongoDB's.
  std::int64_t seconds = now / 1000;
  if (now % 1000 < 0) --seconds;
  const auto time = static_cast<std::uint32_t>(seconds);
  const std::uint32_t count = Counter().fetch_add(1, std::memory_order_relaxed) & 0xffffff;
  const ProcessIdentity& identity = Identity();

  ObjectIdBytes bytes;
  bytes[0] = static_cast<std::uint8_t>(time >> 24);
  bytes[1] = static_cast<std::uint8_t>(time >> 16);
  bytes[2] = static_cast<std::uint8_t>(time >> 8);
  bytes[3] = static_cast<std::uint8_t>(time);
  std::copy(identity.random.begin(), identity.random.end(), bytes.begin() + 4);
  bytes[9] = static_cast<std::uint8_t>(count >> 16);
  bytes[10] = static_cast<std::uint8_t>(count >> 8);
  bytes[11] = static_cast<std::uint8_t>(count);
  return ObjectIdText(bytes);
}

bool IsObjectId(std::string_view text) {
  if (text.size() != 24) return false;
  for (char c : text) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

std::optional<ObjectIdBytes> ParseObjectId(std::string_view text) {
  if (!IsObjectId(text)) return std::nullopt;
  ObjectIdBytes bytes;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::uint8_t>(HexValue(text[2 * i]) * 16 + HexValue(text[2 * i + 1]));
  }
  return bytes;
}

std::string ObjectIdText(const ObjectIdBytes& bytes) { return LowerHex(bytes); }

ObjectIdChars ObjectIdCharsOf(const ObjectIdBytes& bytes) {
  ObjectIdChars chars;
  WriteLowerHex(bytes, chars);
  return chars;
}

}  // namespace tokend::core
