#include "core/status.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

TEST(StatusTest, ToStringNamesTheCodeAndMessage) {
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  EXPECT_EQ(Status::InvalidArgument("bad limit").ToString(), "InvalidArgument: bad limit");
  EXPECT_EQ(Status::NotFound("no token").ToString(), "NotFound: no token");
  EXPECT_EQ(Status::AlreadyExists("x").ToString(), "AlreadyExists: x");
  EXPECT_EQ(Status::Unauthenticated("x").ToString(), "Unauthenticated: x");
  EXPECT_EQ(Status::PermissionDenied("x").ToString(), "PermissionDenied: x");
  EXPECT_EQ(Status::Unavailable("x").ToString(), "Unavailable: x");
  EXPECT_EQ(Status::Internal("x").ToString(), "Internal: x");
}

TEST(StatusTest, ResultCarriesValueOrStatus) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_TRUE(value.status().ok());

  Result<int> error = Status::NotFound("gone");
  EXPECT_FALSE(error.ok());
  EXPECT_TRUE(error.status().IsNotFound());
  EXPECT_EQ(error.status().api_error(), ApiError::kTokenNotFound);
}

}  // namespace
}  // namespace tokend::core
