// The tokend binary with --tls-cert/--tls-key: HTTPS, SIGHUP reloads under
// open connections, a broken certificate on reload, --check-config of the
// files, and the warning for plain HTTP on a non-loopback address.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "tls_test_client.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;
using http::testing::CertificateFileFingerprint;
using http::testing::TestClient;
using http::testing::TlsTestClient;

bool MakeCertificate(const std::string& cert, const std::string& key) {
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-subj /CN=localhost -days 1 -keyout '" +
      key + "' -out '" + cert + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0 && ::chmod(key.c_str(), 0600) == 0;
}

// A P-256 certificate for localhost whose validity ended a day ago, and its
// key (0600).
bool MakeExpiredCertificate(const TempDir& dir, const std::string& cert, const std::string& key) {
  const std::string request = dir.File("expired.csr");
  const std::string command =
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-subj /CN=localhost -keyout '" +
      key + "' -out '" + request + "' >/dev/null 2>&1 && openssl x509 -req -in '" + request +
      "' -signkey '" + key + "' -days -1 -out '" + cert + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0 && ::chmod(key.c_str(), 0600) == 0;
}

// How many times `text` occurs in `log`.
std::size_t Occurrences(const std::string& log, const std::string& text) {
  std::size_t count = 0;
  for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
    ++count;
  }
  return count;
}

// Waits until the log holds `text` (at most 10 s).
bool LogShows(const TokendProcess& tokend, const std::string& text) {
  for (int i = 0; i < 200; ++i) {
    if (tokend.Log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::vector<std::string> ServeArgs(const TempDir& dir, const std::string& listen = "127.0.0.1:0") {
  return {"serve",  "--listen", listen, "--store", "sqlite:" + dir.File("tokend.db"),
          "--auth", "off"};
}

TEST(TlsE2eTest, SighupReloadsTheCertificateWithoutDroppingConnections) {
  TempDir dir;
  const std::string cert = dir.File("cert.pem");
  const std::string key = dir.File("key.pem");
  ASSERT_TRUE(MakeCertificate(cert, key));
  auto args = ServeArgs(dir);
  args.insert(args.end(), {"--tls-cert", cert, "--tls-key", key});
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);
  EXPECT_EQ(tokend->Log().find("not a loopback"), std::string::npos);

  const std::string first = CertificateFileFingerprint(cert);
  TlsTestClient before(tokend->port());
  ASSERT_TRUE(before.connected()) << before.error();
  EXPECT_EQ(before.PeerFingerprint(), first);

  ASSERT_TRUE(MakeCertificate(cert, key));
  const std::string second = CertificateFileFingerprint(cert);
  ASSERT_NE(first, second);
  tokend->Signal(SIGHUP);
  ASSERT_TRUE(LogShows(*tokend, "reloaded the TLS certificate")) << tokend->Log();

  auto res = before.Request("GET", "/health");
  ASSERT_TRUE(res) << "the connection opened before SIGHUP was dropped";
  EXPECT_EQ(res->status, 200);
  TlsTestClient after(tokend->port());
  ASSERT_TRUE(after.connected()) << after.error();
  EXPECT_EQ(after.PeerFingerprint(), second);

  // A broken certificate: an error naming the file, the current one kept.
  std::ofstream(cert, std::ios::trunc) << "not a certificate\n";
  tokend->Signal(SIGHUP);
  ASSERT_TRUE(LogShows(*tokend, "keeping the current certificate")) << tokend->Log();
  EXPECT_NE(tokend->Log().find(cert), std::string::npos) << tokend->Log();
  EXPECT_EQ(tokend->Log().find("PRIVATE KEY"), std::string::npos);
  TlsTestClient later(tokend->port());
  ASSERT_TRUE(later.connected()) << later.error();
  EXPECT_EQ(later.PeerFingerprint(), second);
  res = later.Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = before.Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  tokend->Signal(SIGTERM);
  EXPECT_EQ(tokend->WaitExit(15s), 0) << tokend->Log();
}

TEST(TlsE2eTest, WithoutTlsSighupIsLoggedAndIgnored) {
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir));
  ASSERT_NE(tokend, nullptr);
  tokend->Signal(SIGHUP);
  ASSERT_TRUE(LogShows(*tokend, "SIGHUP ignored: no TLS")) << tokend->Log();
  TestClient client(tokend->port());
  auto res = client.Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(TlsE2eTest, PlainHttpOnANonLoopbackAddressWarnsOnce) {
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir, "0.0.0.0:0"));
  ASSERT_NE(tokend, nullptr);
  const std::string log = tokend->Log();
  const auto warning = log.find("not a loopback address");
  ASSERT_NE(warning, std::string::npos) << log;
  EXPECT_EQ(log.find("not a loopback address", warning + 1), std::string::npos) << log;

  TempDir local;
  auto quiet = TokendProcess::Start(ServeArgs(local));
  ASSERT_NE(quiet, nullptr);
  EXPECT_EQ(quiet->Log().find("not a loopback address"), std::string::npos) << quiet->Log();
}

TEST(TlsE2eTest, CheckConfigLoadsTheTlsFiles) {
  TempDir dir;
  const std::string cert = dir.File("cert.pem");
  const std::string key = dir.File("key.pem");
  const std::string other_cert = dir.File("other-cert.pem");
  const std::string other_key = dir.File("other-key.pem");
  ASSERT_TRUE(MakeCertificate(cert, key));
  ASSERT_TRUE(MakeCertificate(other_cert, other_key));
  const std::string store = "sqlite:" + dir.File("data/tokend.db");
  auto check = [&](std::vector<std::string> tls) {
    std::vector<std::string> args = {"serve", "--check-config", "--store", store};
    args.insert(args.end(), tls.begin(), tls.end());
    return RunTokend(args, 15s);
  };

  RunResult ok = check({"--tls-cert", cert, "--tls-key", key});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "configuration ok\n");
  EXPECT_EQ(ok.err.find("warn"), std::string::npos) << ok.err;

  struct Case {
    std::vector<std::string> tls;
    std::string mention;
  };
  const std::vector<Case> cases = {
      {{"--tls-cert", dir.File("missing.pem"), "--tls-key", key}, dir.File("missing.pem")},
      {{"--tls-cert", cert, "--tls-key", dir.File("missing-key.pem")}, dir.File("missing-key.pem")},
      {{"--tls-cert", dir.path().string(), "--tls-key", key}, dir.path().string()},
      {{"--tls-cert", key, "--tls-key", key}, key},
      {{"--tls-cert", cert, "--tls-key", other_key}, other_key},
      {{"--tls-cert", cert}, "--tls-key"},
      {{"--tls-key", key}, "--tls-cert"},
  };
  for (const Case& bad : cases) {
    RunResult run = check(bad.tls);
    EXPECT_EQ(run.exit_code, 2) << bad.mention << ": " << run.err;
    EXPECT_NE((run.err + run.out).find(bad.mention), std::string::npos)
        << run.err << run.out << " does not mention " << bad.mention;
    EXPECT_EQ(run.out.find("configuration ok"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.File("data")));
}

// A certificate past its end still serves (refusing would turn a late
// renewal into an outage), but the check, the start and every reload say so.
TEST(TlsE2eTest, AnExpiredCertificateIsServedWithAWarningAtEveryLoad) {
  TempDir dir;
  const std::string cert = dir.File("cert.pem");
  const std::string key = dir.File("key.pem");
  ASSERT_TRUE(MakeExpiredCertificate(dir, cert, key));
  const std::string warning = "the TLS certificate in '" + cert + "' expired on ";

  RunResult check =
      RunTokend({"serve", "--check-config", "--store", "sqlite:" + dir.File("data/tokend.db"),
                 "--tls-cert", cert, "--tls-key", key},
                15s);
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(check.out, "configuration ok\n");
  EXPECT_EQ(Occurrences(check.err, warning), 1u) << check.err;

  std::vector<std::string> args = ServeArgs(dir);
  args.insert(args.end(), {"--tls-cert", cert, "--tls-key", key});
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);
  ASSERT_TRUE(LogShows(*tokend, warning)) << tokend->Log();
  EXPECT_EQ(Occurrences(tokend->Log(), warning), 1u) << tokend->Log();
  TlsTestClient client(tokend->port());
  ASSERT_TRUE(client.connected()) << client.error();
  auto health = client.Request("GET", "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);

  tokend->Signal(SIGHUP);
  for (int i = 0; i < 200 && Occurrences(tokend->Log(), warning) < 2; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(Occurrences(tokend->Log(), warning), 2u) << tokend->Log();
  tokend->Signal(SIGTERM);
  EXPECT_EQ(tokend->WaitExit(15s), 0);
}

// An encrypted key is refused, naming the file and saying why, and never
// asks for a passphrase: not at start under a terminal (where OpenSSL's
// prompt waited for one), not on a reload (where it held an I/O thread and
// the shutdown forever).
TEST(TlsE2eTest, AnEncryptedKeyIsRefusedWithoutAPassphrasePrompt) {
  TempDir dir;
  const std::string cert = dir.File("cert.pem");
  const std::string key = dir.File("key.pem");
  const std::string encrypted = dir.File("encrypted.pem");
  ASSERT_TRUE(MakeCertificate(cert, key));
  const std::string encrypt = "openssl pkey -in '" + key +
                              "' -aes256 -passout pass:secret1 -out '" + encrypted +
                              "' 2>/dev/null && chmod 600 '" + encrypted + "'";
  ASSERT_EQ(std::system(encrypt.c_str()), 0);

  // Under a terminal of its own (script), as when started by hand.
  const std::string output = dir.File("check.out");
  const std::string under_terminal =
      "timeout 20 script -qec \"'" + TokendBinary() + "' serve --check-config --store sqlite:'" +
      dir.File("data/tokend.db") + "' --tls-cert '" + cert + "' --tls-key '" + encrypted +
      "'\" /dev/null </dev/null >'" + output + "' 2>&1";
  const int status = std::system(under_terminal.c_str());
  std::ifstream file(output);
  const std::string printed((std::istreambuf_iterator<char>(file)), {});
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << printed;
  EXPECT_NE(printed.find("is encrypted"), std::string::npos) << printed;
  EXPECT_NE(printed.find(encrypted), std::string::npos) << printed;
  EXPECT_EQ(printed.find("pass phrase"), std::string::npos) << printed;

  // On a reload: the current certificate is kept, and the server stops on
  // SIGTERM as usual.
  std::vector<std::string> args = ServeArgs(dir);
  args.insert(args.end(), {"--tls-cert", cert, "--tls-key", key});
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);
  std::filesystem::copy_file(encrypted, key, std::filesystem::copy_options::overwrite_existing);
  tokend->Signal(SIGHUP);
  ASSERT_TRUE(LogShows(*tokend, "keeping the current certificate")) << tokend->Log();
  EXPECT_NE(tokend->Log().find("is encrypted"), std::string::npos) << tokend->Log();
  EXPECT_EQ(tokend->Log().find("pass phrase"), std::string::npos) << tokend->Log();
  TlsTestClient client(tokend->port());
  ASSERT_TRUE(client.connected());
  auto health = client.Request("GET", "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  tokend->Signal(SIGTERM);
  EXPECT_EQ(tokend->WaitExit(15s), 0);
}

}  // namespace
}  // namespace tokend::e2e
