// The HTTP(S) client webhooks are posted with: one POST per connection, one
// deadline for everything, redirects never followed.
//
// Thread safety: Post may be called from many threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/webhook_url.h"

namespace tokend::webhooks {

struct ClientOptions {
  // One deadline for resolving, connecting, the TLS handshake, sending the
  // request and reading the answer's status and headers.
  std::chrono::milliseconds timeout{10'000};
  // PEM certificates trusted for https receivers in addition to the system's
  // store (empty: the system's store only).
  std::string ca_file;
  std::string user_agent = "tokend";
};

// What one POST came to: the answer's status, or a transport error.
struct PostResult {
  int status = 0;     // the HTTP status; 0 when no answer was read
  std::string error;  // when status == 0: what failed ("timed out after 10 s", ...)
};

class HttpClient {
 public:
  // Loads the system's trusted certificates and `options.ca_file`.
  // InvalidArgument naming the CA file when it cannot be read or holds no
  // certificate.
  static core::Result<std::unique_ptr<HttpClient>> Create(ClientOptions options);
  ~HttpClient();

  // POSTs `body` to `url` with `headers` (plus Host, User-Agent,
  // Content-Length and Connection: close). https: SNI, the receiver's
  // certificate verified against the trusted ones and its name against the
  // URL's host. Gives up at the deadline, or as soon as `stop` is requested.
  PostResult Post(const core::WebhookUrl& url,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  std::string_view body, std::stop_token stop = {}) const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Checks that `ca_file` is a readable PEM file with at least one certificate
// (what `serve --check-config` runs). InvalidArgument naming the file.
core::Status CheckCaFile(const std::string& ca_file);

}  // namespace tokend::webhooks
