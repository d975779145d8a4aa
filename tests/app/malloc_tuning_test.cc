#include "app/malloc_tuning.h"

#include <gtest/gtest.h>

namespace tokend::app {
namespace {

TEST(MallocTuningTest, TokendsSettingsAlone) {
  EXPECT_EQ(TunedGlibcTunables(""),
            "glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1:glibc.malloc.tcache_count=1024");
}

TEST(MallocTuningTest, TheEnvironmentsOwnComeAfterSoThatTheyWin) {
  EXPECT_EQ(TunedGlibcTunables("glibc.malloc.arena_max=8:glibc.rtld.nns=2"),
            "glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1:glibc.malloc.tcache_count=1024:"
            "glibc.malloc.arena_max=8:glibc.rtld.nns=2");
}

}  // namespace
}  // namespace tokend::app
