#include "service/secret_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace tokend::service {
namespace {

core::Token MakeToken(const std::string& id, const std::string& hash) {
  core::Token token;
  token.id = id;
  token.type = core::TokenType::kTeam;
  token.name = "n";
  token.principal = "team-a";
  token.actions = {"**/read"};
  token.secret_hash = hash;
  return token;
}

TEST(SecretCacheTest, FindsWhatWasInserted) {
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  auto found = cache.Find("hash1");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->id, "id1");
  EXPECT_FALSE((cache.Find("hash2") != nullptr));
}

// Keys are hashed on part of their characters: keys of every length, and
// hashes that share those characters, are each found, and only themselves.
TEST(SecretCacheTest, FindsKeysOfEveryLengthAndKeysThatShareTheirHashedPart) {
  SecretCache cache(10'000);
  std::vector<std::string> keys;
  for (std::size_t length = 1; length <= 64; ++length) keys.push_back(std::string(length, 'a'));
  const std::string shared_prefix(32, '7');
  for (int i = 0; i < 500; ++i) {
    std::string key = shared_prefix + std::to_string(1'000'000 + i);
    key.resize(64, 'f');
    keys.push_back(key);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    cache.Insert(MakeToken("id" + std::to_string(i), keys[i]), cache.epoch());
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto found = cache.Find(keys[i]);
    ASSERT_NE(found, nullptr) << keys[i];
    EXPECT_EQ(found->id, "id" + std::to_string(i));
  }
  EXPECT_EQ(cache.Find(shared_prefix + std::string(32, 'e')), nullptr);
  EXPECT_EQ(cache.Find(std::string(65, 'a')), nullptr);
}

TEST(SecretCacheTest, EraseByIdRemovesTheEntry) {
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  cache.EraseById("id1");
  EXPECT_FALSE((cache.Find("hash1") != nullptr));
  EXPECT_EQ(cache.invalidations(), 1u);
  // Counted are entries dropped, not calls: the same id again, or one never
  // cached, drops nothing.
  cache.EraseById("id1");
  cache.EraseById("never cached");
  EXPECT_EQ(cache.invalidations(), 1u);
}

TEST(SecretCacheTest, FillStartedBeforeAnInvalidationIsDropped) {
  SecretCache cache(100);
  const auto epoch = cache.epoch();
  // A deletion lands between the fill's store lookup and its insert.
  cache.EraseById("id1");
  cache.Insert(MakeToken("id1", "hash1"), epoch);
  EXPECT_FALSE((cache.Find("hash1") != nullptr));
}

TEST(SecretCacheTest, UntrustedCacheAnswersAndKeepsNothing) {
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  cache.SetTrusted(false);
  EXPECT_FALSE((cache.Find("hash1") != nullptr));
  cache.Insert(MakeToken("id2", "hash2"), cache.epoch());
  EXPECT_FALSE((cache.Find("hash2") != nullptr));
  cache.SetTrusted(true);
  // What was cached before the feed went down is gone for good.
  EXPECT_FALSE((cache.Find("hash1") != nullptr));
  cache.Insert(MakeToken("id3", "hash3"), cache.epoch());
  EXPECT_TRUE((cache.Find("hash3") != nullptr));
}

// A lagging feed pauses the cache: nothing answered or kept meanwhile, a
// deletion delivered meanwhile still erases, and what is left answers again
// once the feed has caught up (no reconnect, so nothing was missed).
TEST(SecretCacheTest, ALaggingFeedPausesTheCacheWithoutEmptyingIt) {
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  cache.Insert(MakeToken("id2", "hash2"), cache.epoch());
  const auto epoch_before = cache.TrustedEpoch();
  ASSERT_TRUE(epoch_before.has_value());
  cache.SetLagging(true);
  EXPECT_EQ(cache.Find("hash1"), nullptr);
  EXPECT_FALSE(cache.TrustedEpoch().has_value());
  cache.Insert(MakeToken("id3", "hash3"), cache.epoch());
  cache.EraseById("id2");
  cache.SetLagging(false);
  EXPECT_NE(cache.Find("hash1"), nullptr) << "kept through the pause";
  EXPECT_EQ(cache.Find("hash2"), nullptr) << "erased during the pause";
  EXPECT_EQ(cache.Find("hash3"), nullptr) << "nothing kept during the pause";
  ASSERT_TRUE(cache.TrustedEpoch().has_value());
  EXPECT_NE(*cache.TrustedEpoch(), *epoch_before) << "memos made before the pause are not reused";
}

// Down and lagging are separate reasons: the cache answers only when
// neither holds, and a feed back up empties it whatever the lag.
TEST(SecretCacheTest, TrustedOnlyWhenTheFeedIsNeitherDownNorLagging) {
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  cache.SetLagging(true);
  cache.SetTrusted(false);
  cache.SetLagging(false);
  EXPECT_FALSE(cache.TrustedEpoch().has_value()) << "still down";
  cache.SetLagging(true);
  cache.SetTrusted(true);
  EXPECT_FALSE(cache.TrustedEpoch().has_value()) << "still lagging";
  cache.SetLagging(false);
  EXPECT_TRUE(cache.TrustedEpoch().has_value());
  EXPECT_EQ(cache.Find("hash1"), nullptr) << "emptied when the feed came back";
}

// The feed's freshness is checked at each lookup: once it has run out (a
// process that stalled, whose feed has not had its turn yet), nothing is
// answered or kept until the feed moves it on.
TEST(SecretCacheTest, AFreshnessThatRanOutPausesTheCacheAtOnce) {
  using std::chrono::steady_clock;
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  cache.SetFreshUntil(steady_clock::now() + std::chrono::seconds(60));
  EXPECT_NE(cache.Find("hash1"), nullptr);
  ASSERT_TRUE(cache.TrustedEpoch().has_value());
  cache.SetFreshUntil(steady_clock::now() - std::chrono::milliseconds(1));
  EXPECT_EQ(cache.Find("hash1"), nullptr);
  EXPECT_FALSE(cache.TrustedEpoch().has_value());
  cache.Insert(MakeToken("id2", "hash2"), cache.epoch());
  cache.SetFreshUntil(steady_clock::now() + std::chrono::seconds(60));
  EXPECT_NE(cache.Find("hash1"), nullptr) << "kept through the pause";
  EXPECT_EQ(cache.Find("hash2"), nullptr) << "nothing kept during the pause";
}

TEST(SecretCacheTest, CapacityZeroKeepsNothing) {
  SecretCache cache(0);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  EXPECT_EQ(cache.Find("hash1"), nullptr);
}

TEST(SecretCacheTest, StaysWithinCapacity) {
  SecretCache cache(32);
  for (int i = 0; i < 1000; ++i) {
    cache.Insert(MakeToken("id" + std::to_string(i), "hash" + std::to_string(i)), cache.epoch());
  }
  int kept = 0;
  for (int i = 0; i < 1000; ++i) kept += (cache.Find("hash" + std::to_string(i)) != nullptr);
  EXPECT_GT(kept, 0);
  EXPECT_LE(kept, 32);
  // Evicted entries must not leave stale id mappings that erase other tokens.
  cache.EraseById("id999");
  EXPECT_FALSE((cache.Find("hash999") != nullptr));
}

TEST(SecretCacheTest, AFillOfACachedSecretReplacesItsEntry) {
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  core::Token renamed = MakeToken("id1", "hash1");
  renamed.name = "renamed";
  cache.Insert(renamed, cache.epoch());
  ASSERT_NE(cache.Find("hash1"), nullptr);
  EXPECT_EQ(cache.Find("hash1")->name, "renamed");
  // The same secret under another id: the first id no longer names it.
  cache.Insert(MakeToken("id2", "hash1"), cache.epoch());
  EXPECT_EQ(cache.Find("hash1")->id, "id2");
  cache.EraseById("id1");
  EXPECT_NE(cache.Find("hash1"), nullptr) << "id1 named nothing any more";
  cache.EraseById("id2");
  EXPECT_EQ(cache.Find("hash1"), nullptr);
}

TEST(SecretCacheTest, AnIdCachedUnderANewSecretLeavesNoEntryForTheOldOne) {
  SecretCache cache(100);
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  cache.Insert(MakeToken("id1", "hash2"), cache.epoch());
  EXPECT_EQ(cache.Find("hash1"), nullptr);
  ASSERT_NE(cache.Find("hash2"), nullptr);
  cache.EraseById("id1");
  EXPECT_EQ(cache.Find("hash2"), nullptr);
  EXPECT_EQ(cache.Find("hash1"), nullptr);
}

TEST(SecretCacheTest, EvictionsAndErasesKeepEveryIdMappedToItsOwnEntry) {
  SecretCache cache(16);  // one entry per shard
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 500; ++i) {
      cache.Insert(MakeToken("id" + std::to_string(i), "hash" + std::to_string(i)), cache.epoch());
    }
  }
  for (int i = 0; i < 500; ++i) {
    const std::string hash = "hash" + std::to_string(i);
    if (core::SharedToken kept = cache.Find(hash)) {
      EXPECT_EQ(kept->id, "id" + std::to_string(i));
      cache.EraseById(kept->id);
      EXPECT_EQ(cache.Find(hash), nullptr) << hash;
    }
  }
  cache.SetTrusted(true);  // clears whatever is left
  cache.Insert(MakeToken("id1", "hash1"), cache.epoch());
  EXPECT_NE(cache.Find("hash1"), nullptr);
}

TEST(SecretCacheTest, ConcurrentFillsAndErasesNeverResurrectADeletedToken) {
  SecretCache cache(1000);
  constexpr int kRounds = 2000;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = "id" + std::to_string(round);
    const std::string hash = "hash" + std::to_string(round);
    const auto epoch = cache.epoch();
    std::thread eraser([&] { cache.EraseById(id); });
    cache.Insert(MakeToken(id, hash), epoch);
    eraser.join();
    // Either the fill lost (dropped) or the erase ran after it: never present.
    ASSERT_FALSE((cache.Find(hash) != nullptr)) << "round " << round;
  }
}

}  // namespace
}  // namespace tokend::service
