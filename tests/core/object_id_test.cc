#include "core/object_id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

namespace tokend::core {
namespace {

TEST(ObjectIdTest, ShapeAndTimestamp) {
  const std::string id = NewObjectId(1'700'000'000'123);
  EXPECT_TRUE(IsObjectId(id));
  // 1700000000 = 0x6553f100, big-endian first.
  EXPECT_EQ(id.substr(0, 8), "6553f100");
}

TEST(ObjectIdTest, RandomPartIsFixedPerProcess) {
  EXPECT_EQ(NewObjectId(0).substr(8, 10), NewObjectId(5000).substr(8, 10));
}

TEST(ObjectIdTest, IncreasingWithinASecondAndAcrossSeconds) {
  std::string previous = NewObjectId(1000);
  for (int i = 0; i < 1000; ++i) {
    const std::string next = NewObjectId(1000);
    EXPECT_LT(previous, next);
    previous = next;
  }
  EXPECT_LT(previous, NewObjectId(2000));
}

TEST(ObjectIdTest, UniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewObjectId(42'000));
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& list : ids) {
    // Each thread sees its own ids in increasing order.
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(ObjectIdTest, IsObjectIdRejectsOtherText) {
  EXPECT_TRUE(IsObjectId("0123456789abcdef01234567"));
  EXPECT_FALSE(IsObjectId("0123456789ABCDEF01234567"));
  EXPECT_FALSE(IsObjectId("0123456789abcdef0123456"));
  EXPECT_FALSE(IsObjectId("0123456789abcdef012345678"));
  EXPECT_FALSE(IsObjectId("0123456789abcdef0123456g"));
  EXPECT_FALSE(IsObjectId(""));
}

TEST(ObjectIdTest, BytesRoundTripAndOnlyObjectIdsParse) {
  const std::string id = NewObjectId(1'770'000'000'123);
  const std::optional<ObjectIdBytes> bytes = ParseObjectId(id);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(ObjectIdText(*bytes), id);
  const ObjectIdChars chars = ObjectIdCharsOf(*bytes);
  EXPECT_EQ(std::string_view(chars.data(), chars.size()), id);
  EXPECT_EQ((*bytes)[0], 0x69) << "the seconds, big-endian, come first";
  EXPECT_EQ(ObjectIdText(ObjectIdBytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54,
                                       0x76, 0xff}),
            "00017f80abcdef10325476ff");
  for (const char* other : {"", "65F0A1B2000000000000000A", "65f0a1b20000000000000000a",
                            "65f0a1b2000000000000000g", "legacy-id-1"}) {
    EXPECT_FALSE(ParseObjectId(other).has_value()) << other;
  }
}

}  // namespace
}  // namespace tokend::core
