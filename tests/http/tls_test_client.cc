#include "tls_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace tokend::http::testing {
namespace {

std::string Hex(const unsigned char* data, unsigned size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string Fingerprint(X509* cert) {
  if (cert == nullptr) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &size) != 1) return "";
  return Hex(digest, size);
}

std::string LastOpenSslError() {
  char text[256] = "unknown error";
  if (unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

}  // namespace

TlsTestClient::TlsTestClient(std::uint16_t port, int min_version, int max_version) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{5, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    error_ = "connect failed";
    return;
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  // Security level 0 lets this client offer what the system's policy would
  // forbid (TLS 1.0, 1.1), so that the server is the one refusing.
  SSL_CTX_set_security_level(ctx_, 0);
  SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(ctx_, min_version);
  SSL_CTX_set_max_proto_version(ctx_, max_version);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "localhost");
  if (SSL_connect(ssl_) == 1) {
    connected_ = true;
  } else {
    error_ = LastOpenSslError();
  }
}

TlsTestClient::~TlsTestClient() {
  if (ssl_ != nullptr) {
    if (connected_) SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

std::string TlsTestClient::protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

std::string TlsTestClient::PeerFingerprint() const {
  if (!connected()) return "";
  X509* cert = SSL_get1_peer_certificate(ssl_);
  std::string fingerprint = Fingerprint(cert);
  X509_free(cert);
  return fingerprint;
}

std::optional<HttpResponse> TlsTestClient::Request(std::string_view method, std::string_view target,
                                                   const Headers& headers, std::string_view body) {
  if (!connected()) return std::nullopt;
  std::string request =
      std::string(method) + " " + std::string(target) +
      " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  request += body;
  if (!Send(request)) return std::nullopt;
  return ReadResponse();
}

bool TlsTestClient::Send(std::string_view raw) {
  if (!connected()) return false;
  if (SSL_write(ssl_, raw.data(), static_cast<int>(raw.size())) <= 0) {
    ERR_clear_error();
    return false;
  }
  return true;
}

std::optional<HttpResponse> TlsTestClient::ReadResponse() {
  if (!connected()) return std::nullopt;
  std::string& data = pending_;
  char chunk[16384];
  std::size_t header_end;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    const int n = SSL_read(ssl_, chunk, sizeof chunk);
    if (n <= 0) {
      ERR_clear_error();
      return std::nullopt;
    }
    data.append(chunk, static_cast<std::size_t>(n));
  }
  HttpResponse response;
  const std::string head = data.substr(0, header_end);
  if (std::sscanf(head.c_str(), "HTTP/1.%u %d", &response.version, &response.status) != 2) {
    return std::nullopt;
  }
  response.version += 10;
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    const std::size_t next = head.find("\r\n", line + 2);
    const std::string field =
        head.substr(line + 2, next == std::string::npos ? next : next - line - 2);
    if (const auto colon = field.find(':'); colon != std::string::npos) {
      std::size_t start = colon + 1;
      while (start < field.size() && field[start] == ' ') ++start;
      response.headers.emplace_back(field.substr(0, colon), field.substr(start));
    }
    line = next;
  }
  std::size_t length = 0;
  if (auto value = response.Header("Content-Length")) length = std::stoul(*value);
  while (data.size() < header_end + 4 + length) {
    const int n = SSL_read(ssl_, chunk, sizeof chunk);
    if (n <= 0) {
      ERR_clear_error();
      return std::nullopt;
    }
    data.append(chunk, static_cast<std::size_t>(n));
  }
  response.body = data.substr(header_end + 4, length);
  data.erase(0, header_end + 4 + length);
  return response;
}

std::string CertificateFileFingerprint(const std::string& pem_file) {
  std::FILE* file = std::fopen(pem_file.c_str(), "r");
  if (file == nullptr) return "";
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  std::string fingerprint = Fingerprint(cert);
  X509_free(cert);
  return fingerprint;
}

}  // namespace tokend::http::testing
