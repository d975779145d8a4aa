// A webhook receiver for tests: a real HTTP(S) server on 127.0.0.1 that
// records every request and answers as the test tells it to (2xx, 500, a
// redirect, never, a connection reset, or 200 with a large or stalled body).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace tokend::webhooks::testing {

enum class ReceiverMode {
  kAccept,       // 204
  kFail,         // 500
  kRedirect,     // 307 to /elsewhere on the same receiver
  kHang,         // reads the request, never answers (until Stop)
  kReset,        // reads the request, then resets the connection
  kBigBody,      // 200 with a 1 MiB body
  kSlowBody,     // 200 and its header at once, then a byte of its body (until Stop)
  kSlowAccept,   // 204 after 2 s (at once on Stop)
  kInterim,      // two unsolicited 1xx answers (100, 102), then 204
  kOnlyInterim,  // 100 Continue, again and again (until Stop)
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  ReceiverMode answered = ReceiverMode::kAccept;  // what it got back
};

class WebhookReceiver {
 public:
  // Listens on 127.0.0.1 (any port); with cert and key files (PEM), over TLS.
  // nullptr when it cannot.
  static std::unique_ptr<WebhookReceiver> Start(const std::string& cert_file = "",
                                                const std::string& key_file = "");
  ~WebhookReceiver();

  std::uint16_t port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const;

  void SetMode(ReceiverMode mode);
  std::vector<ReceivedRequest> Requests() const;
  // The requests answered 2xx.
  std::vector<ReceivedRequest> Accepted() const;
  // Waits until `done(requests)` holds (true) or `timeout` passes (false).
  bool WaitUntil(const std::function<bool(const std::vector<ReceivedRequest>&)>& done,
                 std::chrono::milliseconds timeout) const;
  // TLS handshakes the receiver saw fail (a client refusing its certificate).
  int FailedHandshakes() const;

 private:
  WebhookReceiver() = default;
  void AcceptLoop();
  void Serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  SSL_CTX* tls_ = nullptr;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;
  ReceiverMode mode_ = ReceiverMode::kAccept;
  std::vector<ReceivedRequest> requests_;
  int failed_handshakes_ = 0;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

// Makes, with the openssl command, a private CA (DIR/ca.pem) and a
// certificate it signed for `names` (a subjectAltName value) with its key
// (DIR/server.pem, DIR/server.key). False when openssl failed.
bool MakePrivateCa(const std::string& dir, const std::string& names = "DNS:localhost,IP:127.0.0.1");

}  // namespace tokend::webhooks::testing
