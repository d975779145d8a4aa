// HTTPS: the real server with --tls-cert/--tls-key over real sockets and real
// OpenSSL, with self-signed certificates made by the openssl command.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "server_fixture.h"
#include "tls_test_client.h"

namespace tokend::http::testing {
namespace {

using namespace std::chrono_literals;

class TlsTest : public ServerTest {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "tokend-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    ASSERT_TRUE(MakeCertificate(cert_, key_));
  }
  void TearDown() override {
    ServerTest::TearDown();
    std::filesystem::remove_all(dir_);
  }

  // A fresh self-signed P-256 certificate for localhost, and its key (0600).
  static bool MakeCertificate(const std::string& cert, const std::string& key) {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj /CN=localhost -days 1 -keyout '" +
        key + "' -out '" + cert + "' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) return false;
    return ::chmod(key.c_str(), 0600) == 0;
  }

  void StartTls(bool auth_required = true,
                const std::function<void(ServerOptions&)>& tweak = nullptr) {
    StartServer(auth_required, [&](ServerOptions& options) {
      options.tls_cert_file = cert_;
      options.tls_key_file = key_;
      if (tweak) tweak(options);
    });
  }

  std::filesystem::path dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(TlsTest, CreatesAndIntrospectsOverHttps) {
  StartTls();
  TlsTestClient client(port());
  ASSERT_TRUE(client.connected()) << client.error();
  auto created = client.Request("POST", "/api/v2/token", AdminJson(),
                                R"({"type":"global","name":"n","principal":"**",)"
                                R"("permissions":["**/read"]})");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 200) << created->body;
  const std::string secret = JsonField(created->body, "token");
  const std::string id = JsonField(created->body, "id");
  for (int i = 0; i < 3; ++i) {  // kept alive
    auto res = client.Request("POST", "/api/v2/token/introspect", AdminJson(),
                              R"({"token":")" + secret + R"("})");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(JsonField(res->body, "id"), id);
  }
  auto closing = client.Request("GET", "/health", {{"Connection", "close"}});
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->status, 200);
}

// Requests and answers that span many TLS records, pipelined requests that
// share one, and clients that leave in the middle of an answer.
TEST_F(TlsTest, ServesLargeAndPipelinedRequestsAndSurvivesClientsThatLeave) {
  StartTls();
  TlsTestClient client(port());
  ASSERT_TRUE(client.connected()) << client.error();
  auto spec = client.Request("GET", "/api/docs/spec");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->status, 200);
  EXPECT_GT(spec->body.size(), 64u * 1024) << "the document should span several records";
  EXPECT_EQ(spec->body.substr(spec->body.find_last_not_of("\r\n")), "}\n");

  // A body of 48 KiB (three records at least): its JSON ends in blanks.
  const std::string padded = R"({"token":"not-a-secret"})" + std::string(48 * 1024, ' ');
  auto introspected = client.Request("POST", "/api/v2/token/introspect", AdminJson(), padded);
  ASSERT_TRUE(introspected);
  EXPECT_EQ(introspected->status, 200) << introspected->body;
  EXPECT_EQ(introspected->body, R"({"active":false})");

  ASSERT_TRUE(
      client.Send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n"
                  "GET /health HTTP/1.1\r\nHost: a\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    auto res = client.ReadResponse();
    ASSERT_TRUE(res) << "pipelined response " << i;
    EXPECT_EQ(res->status, 200);
  }

  for (int i = 0; i < 8; ++i) {
    TlsTestClient leaving(port());
    ASSERT_TRUE(leaving.connected()) << leaving.error();
    ASSERT_TRUE(leaving.Send("GET /api/docs/spec HTTP/1.1\r\nHost: a\r\n\r\n"));
  }  // each closes without reading its answer
  TlsTestClient after(port());
  ASSERT_TRUE(after.connected()) << after.error();
  auto health = after.Request("GET", "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// A close in a later Connection field closes a TLS connection after its
// answer too: the pipelined request behind it is not answered.
TEST_F(TlsTest, CloseInALaterConnectionFieldClosesTheConnection) {
  StartTls(/*auth_required=*/false);
  TlsTestClient client(port());
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(
      client.Send("GET /health HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
                  "Connection: close\r\n\r\n"
                  "GET /health HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto res = client.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Connection"), "close");
  EXPECT_FALSE(client.ReadResponse()) << "the pipelined request was answered";
}

// read(2) calls made so far by every thread of this process but the calling
// one (the server's, when the test's client runs on the calling thread).
long ReadCallsOfOtherThreads() {
  long total = 0;
  const std::string own = std::to_string(::gettid());
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    if (task.path().filename() == own) continue;
    std::ifstream io(task.path() / "io");
    std::string key;
    long value = 0;
    while (io >> key >> value) {
      if (key == "syscr:") total += value;
    }
  }
  return total;
}

// A kept-alive connection whose client waits for each answer, and a moment
// more: the server finds the socket empty after each one and waits for the
// next request without first trying a read that can only fail. So one read
// a request, where a first try would make two.
TEST_F(TlsTest, AKeptConnectionCostsTheServerOneReadARequest) {
  StartTls(/*auth_required=*/false);
  TlsTestClient client(port());
  ASSERT_TRUE(client.connected()) << client.error();
  auto warm = client.Request("GET", "/health");  // the handshake's reads are behind
  ASSERT_TRUE(warm);
  constexpr int kRequests = 100;
  const long before = ReadCallsOfOtherThreads();
  for (int i = 0; i < kRequests; ++i) {
    // So that the server has finished the last answer and waits.
    std::this_thread::sleep_for(1ms);
    auto res = client.Request("GET", "/health");
    ASSERT_TRUE(res) << "request " << i;
    ASSERT_EQ(res->status, 200);
  }
  const double per_request = static_cast<double>(ReadCallsOfOtherThreads() - before) / kRequests;
  EXPECT_GE(per_request, 1.0) << "each request is read";
  EXPECT_LT(per_request, 1.25) << "reads that found nothing";
}

// A request whose bytes come in several records, some while the server
// waits and some before it does: each is read once it is there.
TEST_F(TlsTest, ARequestInPiecesIsAnsweredWhateverTheirTiming) {
  StartTls(/*auth_required=*/false);
  TlsTestClient client(port());
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string request = "GET /health HTTP/1.1\r\nHost: a\r\nX-Piece: yes\r\n\r\n";
  for (const auto pause : {0ms, 1ms, 30ms}) {
    for (std::size_t at = 0; at < request.size(); at += 7) {
      ASSERT_TRUE(client.Send(request.substr(at, 7)));
      std::this_thread::sleep_for(pause);
    }
    auto res = client.ReadResponse();
    ASSERT_TRUE(res) << "pieces " << pause.count() << " ms apart";
    EXPECT_EQ(res->status, 200);
  }
}

TEST_F(TlsTest, ServesTls12And13AndRefusesOlderVersions) {
  StartTls();
  TlsTestClient tls12(port(), TLS1_2_VERSION, TLS1_2_VERSION);
  ASSERT_TRUE(tls12.connected()) << tls12.error();
  EXPECT_EQ(tls12.protocol(), "TLSv1.2");
  auto res = tls12.Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  TlsTestClient tls13(port(), TLS1_3_VERSION, TLS1_3_VERSION);
  ASSERT_TRUE(tls13.connected()) << tls13.error();
  EXPECT_EQ(tls13.protocol(), "TLSv1.3");
  res = tls13.Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    TlsTestClient old(port(), version, version);
    EXPECT_FALSE(old.connected()) << "TLS version " << std::hex << version << " was accepted";
    EXPECT_NE(old.error().find("protocol version"), std::string::npos) << old.error();
  }
  // The server still serves after refusing.
  TlsTestClient again(port());
  ASSERT_TRUE(again.connected()) << again.error();
}

TEST_F(TlsTest, PlainHttpToTheHttpsPortGetsNoAnswer) {
  StartTls();
  TestClient plain(port());
  ASSERT_TRUE(plain.connected());
  auto res = plain.Request("GET", "/health", {}, {}, 3s);
  if (res) EXPECT_NE(res->status, 200);
  TestClient garbage(port());
  ASSERT_TRUE(garbage.WriteRaw(std::string(5000, '\x16')));
  EXPECT_TRUE(garbage.WaitClosed(3s));
  TlsTestClient after(port());
  EXPECT_TRUE(after.connected()) << after.error();
}

TEST_F(TlsTest, StalledHandshakesAreCutOffAtTheHeaderTimeout) {
  StartTls(true, [](ServerOptions& options) { options.header_timeout = 1s; });
  TestClient silent(port());
  ASSERT_TRUE(silent.connected());
  TestClient partial(port());
  ASSERT_TRUE(partial.connected());
  // The first bytes of a ClientHello record, and nothing more.
  ASSERT_TRUE(partial.WriteRaw(std::string("\x16\x03\x01\x02\x00\x01", 6)));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.WaitClosed(4s));
  EXPECT_TRUE(partial.WaitClosed(4s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST_F(TlsTest, ReloadServesTheNewCertificateToNewConnectionsOnly) {
  StartTls();
  const std::string first = CertificateFileFingerprint(cert_);
  ASSERT_FALSE(first.empty());
  TlsTestClient before(port());
  ASSERT_TRUE(before.connected()) << before.error();
  EXPECT_EQ(before.PeerFingerprint(), first);

  ASSERT_TRUE(MakeCertificate(cert_, key_));
  const std::string second = CertificateFileFingerprint(cert_);
  ASSERT_NE(second, first);
  core::Status reloaded = server().ReloadTls();
  ASSERT_TRUE(reloaded.ok()) << reloaded.message();

  auto res = before.Request("GET", "/health");
  ASSERT_TRUE(res) << "the connection opened before the reload was dropped";
  EXPECT_EQ(res->status, 200);
  TlsTestClient after(port());
  ASSERT_TRUE(after.connected()) << after.error();
  EXPECT_EQ(after.PeerFingerprint(), second);
}

TEST_F(TlsTest, ReloadOfABrokenCertificateKeepsTheCurrentOne) {
  StartTls();
  const std::string first = CertificateFileFingerprint(cert_);
  std::ofstream(cert_, std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nnot base64\n";
  core::Status broken = server().ReloadTls();
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(broken.message().find(cert_), std::string::npos) << broken.message();

  // A key of another certificate: the pair does not match.
  const std::string other_cert = (dir_ / "other-cert.pem").string();
  ASSERT_TRUE(MakeCertificate(other_cert, key_));
  ASSERT_TRUE(MakeCertificate((dir_ / "third-cert.pem").string(), (dir_ / "k.pem").string()));
  std::filesystem::copy_file(other_cert, cert_, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(dir_ / "k.pem", key_,
                             std::filesystem::copy_options::overwrite_existing);
  core::Status mismatched = server().ReloadTls();
  EXPECT_FALSE(mismatched.ok());
  // OpenSSL finds the mismatch as it loads the key; the message names both
  // files, as the check after loading does.
  EXPECT_NE(mismatched.message().find(key_), std::string::npos) << mismatched.message();
  EXPECT_NE(mismatched.message().find("does not match the first certificate in '" + cert_ + "'"),
            std::string::npos)
      << mismatched.message();

  std::filesystem::remove(key_);
  core::Status missing = server().ReloadTls();
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find(key_), std::string::npos) << missing.message();

  TlsTestClient client(port());
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_EQ(client.PeerFingerprint(), first);
  auto res = client.Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(TlsTest, CheckTlsFilesNamesAnUnusableFile) {
  std::filesystem::remove(key_);
  EXPECT_FALSE(CheckTlsFiles(cert_, key_).ok());
  EXPECT_NE(CheckTlsFiles(cert_, key_).message().find(key_), std::string::npos);
  EXPECT_NE(CheckTlsFiles(key_, cert_).message().find(key_), std::string::npos);
}

// A chain file with another certificate ahead of the key's: the key is
// right, the order is not, and the message says where to look.
TEST_F(TlsTest, AKeyBehindAnotherCertificateOfTheChainNamesTheOrder) {
  const std::string other_cert = (dir_ / "other-cert.pem").string();
  ASSERT_TRUE(MakeCertificate(other_cert, (dir_ / "other-key.pem").string()));
  const std::string misordered = (dir_ / "misordered.pem").string();
  {
    std::ofstream chain(misordered);
    chain << std::ifstream(other_cert).rdbuf() << std::ifstream(cert_).rdbuf();
  }
  const core::Status status = CheckTlsFiles(misordered, key_);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("'" + key_ + "' does not match the first certificate in '" +
                                  misordered + "'"),
            std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("own certificate first"), std::string::npos) << status.message();
}

TEST_F(TlsTest, PlainServerRefusesAReload) {
  StartServer(true);
  EXPECT_FALSE(server().ReloadTls().ok());
}

}  // namespace
}  // namespace tokend::http::testing
