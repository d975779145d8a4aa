// A tiny synchronous HTTP/1.1 client over a real socket, for the server's
// end-to-end tests. Sends well-formed requests or raw bytes; every read has
// a timeout so a misbehaving server fails a test instead of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokend::http::testing {

struct HttpResponse {
  int status = 0;
  unsigned version = 11;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header with this name (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class TestClient {
 public:
  // Connects to 127.0.0.1:port; check connected().
  explicit TestClient(std::uint16_t port);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const;

  // Sends one HTTP/1.1 request (Host and Content-Length added) and reads its
  // response; nullopt when the connection failed or timed out.
  std::optional<HttpResponse> Request(std::string_view method, std::string_view target,
                                      const Headers& headers = {}, std::string_view body = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Writes bytes as they are; false on error.
  bool WriteRaw(std::string_view bytes);

  // Reads one response; nullopt on error, end of stream or timeout.
  std::optional<HttpResponse> ReadResponse(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Reads until `text` arrives; what was read (empty on failure). For interim
  // responses such as "100 Continue".
  std::string ReadUntil(std::string_view text,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // True when the server closes the connection (end of stream or reset)
  // within `timeout`, discarding anything it sends before.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "Bearer <secret>" header list helper.
inline Headers Bearer(std::string_view secret) {
  return {{"Authorization", "Bearer " + std::string(secret)}};
}

}  // namespace tokend::http::testing
