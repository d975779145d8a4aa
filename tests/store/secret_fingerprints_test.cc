// SecretFingerprints alone: what it denies and what it never denies.
#include "store/secret_fingerprints.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "core/secret.h"

namespace tokend::store {
namespace {

std::string RandomHash() { return core::HashSecret(core::GenerateSecret(core::TokenType::kTeam)); }

TEST(SecretFingerprintsTest, EverythingMayBeHeldUntilComplete) {
  SecretFingerprints fingerprints;
  EXPECT_TRUE(fingerprints.MayContain(RandomHash()));
  fingerprints.MarkComplete();
  EXPECT_FALSE(fingerprints.MayContain(RandomHash()));
}

TEST(SecretFingerprintsTest, AddedHashesAreNeverDeniedAcrossGrowth) {
  SecretFingerprints fingerprints;
  std::vector<std::string> added;
  for (int i = 0; i < 50'000; ++i) {
    added.push_back(RandomHash());
    fingerprints.Add(added.back());
  }
  fingerprints.MarkComplete();
  for (const std::string& hash : added) ASSERT_TRUE(fingerprints.MayContain(hash));
  EXPECT_EQ(fingerprints.size(), added.size());
  fingerprints.Add(added.front());
  EXPECT_EQ(fingerprints.size(), added.size()) << "an added hash is kept once";
  int denied = 0;
  for (int i = 0; i < 10'000; ++i) denied += fingerprints.MayContain(RandomHash()) ? 0 : 1;
  EXPECT_EQ(denied, 10'000) << "64-bit fingerprints: a false positive is a 1-in-2^44 event here";
}

TEST(SecretFingerprintsTest, MalformedHashesAreNeverDenied) {
  SecretFingerprints fingerprints;
  fingerprints.MarkComplete();
  EXPECT_TRUE(fingerprints.MayContain(""));
  EXPECT_TRUE(fingerprints.MayContain("short"));
  EXPECT_TRUE(fingerprints.MayContain(std::string(64, 'z')));
  // A hash whose first 64 bits are zero shares the fingerprint of ...01.
  fingerprints.Add(std::string(64, '0'));
  EXPECT_TRUE(fingerprints.MayContain(std::string(64, '0')));
}

std::string ObjectIdOf(int n) {
  char id[25];
  std::snprintf(id, sizeof id, "65f0a1b2%016x", n);
  return id;
}

// The hint as text, "none" when there is none.
std::string HintText(const SecretFingerprints& fingerprints, std::string_view secret_hash) {
  const std::optional<core::ObjectIdBytes> hint = fingerprints.TokenIdHint(secret_hash);
  if (!hint) return "none";
  const core::ObjectIdChars text = core::ObjectIdCharsOf(*hint);
  return std::string(text.data(), text.size());
}

TEST(SecretFingerprintsTest, EachHashHintsTheIdLastAddedWithItsFingerprintAcrossGrowth) {
  SecretFingerprints fingerprints;
  std::vector<std::string> added;
  for (int i = 0; i < 20'000; ++i) {
    added.push_back(RandomHash());
    fingerprints.Add(added.back(), ObjectIdOf(i));
  }
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_EQ(HintText(fingerprints, added[i]), ObjectIdOf(i)) << "before the fill completes too";
  }
  EXPECT_EQ(fingerprints.TokenIdHint(RandomHash()), std::nullopt);

  // Hashes that share their first 64 bits share one hint: the last id given.
  std::string twin = added.front();
  twin.back() = twin.back() == '0' ? '1' : '0';
  fingerprints.Add(twin, ObjectIdOf(99'999));
  EXPECT_EQ(HintText(fingerprints, added.front()), ObjectIdOf(99'999));
  EXPECT_EQ(fingerprints.size(), added.size()) << "one fingerprint still";
}

TEST(SecretFingerprintsTest, ReservingKeepsEveryHashAndHintWhateverItsSize) {
  SecretFingerprints fingerprints;
  std::vector<std::string> added;
  auto add = [&](int count) {
    for (int i = 0; i < count; ++i) {
      added.push_back(RandomHash());
      fingerprints.Add(added.back(), ObjectIdOf(static_cast<int>(added.size())));
    }
  };
  auto expect_all_held = [&](const char* when) {
    for (std::size_t i = 0; i < added.size(); ++i) {
      ASSERT_EQ(HintText(fingerprints, added[i]), ObjectIdOf(static_cast<int>(i + 1))) << when;
    }
    EXPECT_EQ(fingerprints.size(), added.size()) << when;
  };
  add(5'000);
  fingerprints.Reserve(200'000);
  expect_all_held("after growing to the reserved size");
  add(20'000);
  expect_all_held("after adds into the reserved room");
  fingerprints.Reserve(10);
  expect_all_held("a smaller reserve shrinks nothing");
  add(30'000);
  fingerprints.MarkComplete();
  expect_all_held("after outgrowing the reserve");
  int denied = 0;
  for (int i = 0; i < 1'000; ++i) denied += fingerprints.MayContain(RandomHash()) ? 0 : 1;
  EXPECT_EQ(denied, 1'000);
}

TEST(SecretFingerprintsTest, OnlyObjectIdsBecomeHintsAndOthersKeepTheLastOne) {
  SecretFingerprints fingerprints;
  const std::string hash = RandomHash();
  fingerprints.Add(hash);
  EXPECT_EQ(fingerprints.TokenIdHint(hash), std::nullopt) << "added without an id";
  fingerprints.Add(hash, "ffffffffffffffffffffffff");
  EXPECT_EQ(HintText(fingerprints, hash), "ffffffffffffffffffffffff");
  for (const char* not_an_object_id :
       {"", "legacy-id-1", "65F0A1B2000000000000000A", "65f0a1b20000000000000000a", "65f0a1b2"}) {
    fingerprints.Add(hash, not_an_object_id);
    EXPECT_EQ(HintText(fingerprints, hash), "ffffffffffffffffffffffff") << not_an_object_id;
  }
  fingerprints.Add(hash, ObjectIdOf(7));
  EXPECT_EQ(HintText(fingerprints, hash), ObjectIdOf(7));
  EXPECT_EQ(fingerprints.TokenIdHint("short"), std::nullopt);
  EXPECT_EQ(fingerprints.TokenIdHint(std::string(64, 'z')), std::nullopt);
}

TEST(SecretFingerprintsTest, ConcurrentAddsAndLookupsNeverDenyAnAddedHash) {
  SecretFingerprints fingerprints;
  fingerprints.MarkComplete();
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&fingerprints] {
      for (int i = 0; i < 5'000; ++i) {
        const std::string hash = RandomHash();
        fingerprints.Add(hash);
        // Added before: seen at once by this thread, whatever grows meanwhile.
        ASSERT_TRUE(fingerprints.MayContain(hash));
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(fingerprints.size(), 20'000u);
}

}  // namespace
}  // namespace tokend::store
