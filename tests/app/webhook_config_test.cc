// The webhook settings of `serve`: URLs, the secret file and its checks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/config.h"

namespace tokend::app {
namespace {

class WebhookConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tokend-webhook-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }

  ServeConfig ConfigWithUrl(const std::string& url) {
    ServeConfig config;
    config.data_dir = dir_.string();
    config.webhook_urls = {url};
    return config;
  }

  std::filesystem::path dir_;
};

constexpr const char* kValidSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

TEST_F(WebhookConfigTest, TheSecretFileDefaultsToTheDataFolderBesideTheBootstrapToken) {
  ServeConfig config;
  config.store = "sqlite:/var/lib/tokend/tokend.db";
  EXPECT_EQ(WebhookSecretFileFor(config), "/var/lib/tokend/webhook-secret");
  config.data_dir = "/srv/tokend";
  EXPECT_EQ(WebhookSecretFileFor(config), "/srv/tokend/webhook-secret");
  config.webhook_secret_file = "/etc/tokend/hooks.key";
  EXPECT_EQ(WebhookSecretFileFor(config), "/etc/tokend/hooks.key");
}

TEST_F(WebhookConfigTest, ABadUrlIsNamedWithoutItsCredentials) {
  auto config = ConfigWithUrl("https://bob:hunter2@hooks.example.com/x?key=k");
  const core::Status status = CheckWebhookConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("--webhook-url https://***@hooks.example.com/x"),
            std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("userinfo"), std::string::npos);
  EXPECT_EQ(status.message().find("hunter2"), std::string::npos);

  EXPECT_FALSE(CheckWebhookConfig(ConfigWithUrl("ftp://hooks.example.com/")).ok());
  EXPECT_FALSE(CheckWebhookConfig(ConfigWithUrl("http://hooks.example.com:99999/")).ok());
  EXPECT_TRUE(CheckWebhookConfig(ConfigWithUrl("http://127.0.0.1:8080/hook")).ok());
}

TEST_F(WebhookConfigTest, CheckingWritesNoSecretFile) {
  auto config = ConfigWithUrl("http://127.0.0.1:8080/hook");
  EXPECT_TRUE(CheckWebhookConfig(config).ok());
  EXPECT_FALSE(std::filesystem::exists(WebhookSecretFileFor(config)));
}

TEST_F(WebhookConfigTest, ASecretFileOpenToOthersIsRefusedByName) {
  auto config = ConfigWithUrl("http://127.0.0.1:8080/hook");
  config.webhook_secret_file = Write("secret", kValidSecret, 0644);
  const core::Status status = CheckWebhookConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(config.webhook_secret_file), std::string::npos);
  EXPECT_NE(status.message().find("group or others"), std::string::npos) << status.message();
  ::chmod(config.webhook_secret_file.c_str(), 0640);
  EXPECT_FALSE(CheckWebhookConfig(config).ok());
  ::chmod(config.webhook_secret_file.c_str(), 0600);
  EXPECT_TRUE(CheckWebhookConfig(config).ok());
}

TEST_F(WebhookConfigTest, ASecretFileWithoutAValidSecretIsRefusedWithoutQuotingIt) {
  const std::string path = Write("secret", "whsec_c2hvcnQ=\n", 0600);
  auto secret = ReadWebhookSecretFile(path);
  ASSERT_FALSE(secret.ok());
  EXPECT_NE(secret.status().message().find(path), std::string::npos);
  EXPECT_NE(secret.status().message().find("24 to 64"), std::string::npos);
  EXPECT_EQ(secret.status().message().find("c2hvcnQ"), std::string::npos);

  auto plain = ReadWebhookSecretFile(Write("plain", "my-password\n", 0600));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().message().find("my-password"), std::string::npos);
}

TEST_F(WebhookConfigTest, ASymbolicLinkIsNotFollowed) {
  const std::string target = Write("real", kValidSecret, 0600);
  const std::string link = (dir_ / "link").string();
  std::filesystem::create_symlink(target, link);
  auto secret = ReadWebhookSecretFile(link);
  ASSERT_FALSE(secret.ok());
  EXPECT_NE(secret.status().message().find("symbolic link"), std::string::npos);
}

TEST_F(WebhookConfigTest, AMissingSecretIsWrittenPrivateOnceAndThenReadBack) {
  const std::string path = (dir_ / "state" / "webhook-secret").string();
  EXPECT_TRUE(ReadWebhookSecretFile(path).status().IsNotFound());
  bool created = false;
  auto first = LoadOrCreateWebhookSecret(path, &created);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(created);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto second = LoadOrCreateWebhookSecret(path, &created);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(second->ToText(), first->ToText());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ / "state"),
                          std::filesystem::directory_iterator()),
            1);  // no temporary file left behind
}

TEST_F(WebhookConfigTest, TheRetryBaseMustBeADuration) {
  auto config = ConfigWithUrl("http://127.0.0.1:8080/hook");
  config.webhook_retry_base = "0s";
  EXPECT_FALSE(CheckWebhookConfig(config).ok());
  config.webhook_retry_base = "1s";
  EXPECT_TRUE(CheckWebhookConfig(config).ok());
}

}  // namespace
}  // namespace tokend::app
