#include "webhook_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace tokend::webhooks::testing {
namespace {

// Reads or writes through TLS or the plain socket.
struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;

  // Waits at most 10 s for data; <= 0 on end, error or timeout.
  long Read(char* buffer, std::size_t size) {
    if (ssl == nullptr || SSL_pending(ssl) == 0) {
      pollfd waiting{fd, POLLIN, 0};
      if (::poll(&waiting, 1, 10'000) <= 0) return -1;
    }
    return ssl ? SSL_read(ssl, buffer, static_cast<int>(size)) : ::read(fd, buffer, size);
  }
  // False once the client is gone.
  bool Write(const std::string& data) {
    if (ssl) return SSL_write(ssl, data.data(), static_cast<int>(data.size())) > 0;
    // A client that reads only the header closes early: no SIGPIPE for it.
    return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) >= 0;
  }
};

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// One request, framed by Content-Length; false when the client went away.
bool ReadRequest(Connection& connection, ReceivedRequest& request) {
  std::string data;
  char buffer[16384];
  std::size_t header_end;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    const long n = connection.Read(buffer, sizeof buffer);
    if (n <= 0) return false;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  std::size_t line_end = data.find("\r\n");
  const std::string request_line = data.substr(0, line_end);
  const std::size_t space = request_line.find(' ');
  request.method = request_line.substr(0, space);
  request.target = request_line.substr(space + 1, request_line.rfind(' ') - space - 1);
  std::size_t position = line_end + 2;
  while (position < header_end) {
    line_end = data.find("\r\n", position);
    const std::string line = data.substr(position, line_end - position);
    const std::size_t colon = line.find(':');
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    request.headers[Lower(line.substr(0, colon))] = value;
    position = line_end + 2;
  }
  const std::size_t length =
      std::stoul(request.headers.count("content-length") ? request.headers["content-length"] : "0");
  request.body = data.substr(header_end + 4);
  while (request.body.size() < length) {
    const long n = connection.Read(buffer, sizeof buffer);
    if (n <= 0) return false;
    request.body.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::unique_ptr<WebhookReceiver> WebhookReceiver::Start(const std::string& cert_file,
                                                        const std::string& key_file) {
  std::unique_ptr<WebhookReceiver> receiver(new WebhookReceiver());
  if (!cert_file.empty()) {
    receiver->tls_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(receiver->tls_, cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(receiver->tls_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return nullptr;
    }
  }
  receiver->listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  ::setsockopt(receiver->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(receiver->listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(receiver->listen_fd_, 64) != 0) {
    return nullptr;
  }
  socklen_t size = sizeof address;
  ::getsockname(receiver->listen_fd_, reinterpret_cast<sockaddr*>(&address), &size);
  receiver->port_ = ntohs(address.sin_port);
  receiver->acceptor_ = std::thread([raw = receiver.get()] { raw->AcceptLoop(); });
  return receiver;
}

WebhookReceiver::~WebhookReceiver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (std::thread& connection : connections) connection.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (tls_) SSL_CTX_free(tls_);
}

std::string WebhookReceiver::Url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://" + (tls_ ? "localhost" : "127.0.0.1") + ":" +
         std::to_string(port_) + path;
}

void WebhookReceiver::SetMode(ReceiverMode mode) {
  std::lock_guard lock(mutex_);
  mode_ = mode;
  changed_.notify_all();
}

std::vector<ReceivedRequest> WebhookReceiver::Requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<ReceivedRequest> WebhookReceiver::Accepted() const {
  std::vector<ReceivedRequest> accepted;
  for (ReceivedRequest& request : Requests()) {
    if (request.answered == ReceiverMode::kAccept) accepted.push_back(std::move(request));
  }
  return accepted;
}

bool WebhookReceiver::WaitUntil(
    const std::function<bool(const std::vector<ReceivedRequest>&)>& done,
    std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return done(requests_); });
}

int WebhookReceiver::FailedHandshakes() const {
  std::lock_guard lock(mutex_);
  return failed_handshakes_;
}

void WebhookReceiver::AcceptLoop() {
  while (true) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void WebhookReceiver::Serve(int fd) {
  Connection connection{fd, nullptr};
  if (tls_) {
    connection.ssl = SSL_new(tls_);
    SSL_set_fd(connection.ssl, fd);
    if (SSL_accept(connection.ssl) != 1) {
      ERR_clear_error();
      SSL_free(connection.ssl);
      ::close(fd);
      std::lock_guard lock(mutex_);
      ++failed_handshakes_;
      changed_.notify_all();
      return;
    }
  }
  ReceivedRequest request;
  const bool complete = ReadRequest(connection, request);
  ReceiverMode mode;
  {
    std::lock_guard lock(mutex_);
    mode = mode_;
  }
  if (complete) {
    request.answered = mode;
    std::unique_lock lock(mutex_);
    requests_.push_back(request);
    changed_.notify_all();
  }
  if (complete) {
    switch (mode) {
      case ReceiverMode::kAccept:
        connection.Write("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        break;
      case ReceiverMode::kFail:
        connection.Write(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 6\r\nConnection: "
            "close\r\n\r\nbroken");
        break;
      case ReceiverMode::kRedirect:
        connection.Write("HTTP/1.1 307 Temporary Redirect\r\nLocation: " + Url("/elsewhere") +
                         "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        break;
      case ReceiverMode::kHang: {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return stopping_; });
        break;
      }
      case ReceiverMode::kReset: {
        const linger abort_on_close{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        break;
      }
      case ReceiverMode::kBigBody: {
        constexpr std::size_t kBody = 1 << 20;
        connection.Write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBody) +
                         "\r\nConnection: close\r\n\r\n" + std::string(kBody, 'x'));
        break;
      }
      case ReceiverMode::kSlowAccept: {
        {
          std::unique_lock lock(mutex_);
          changed_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; });
        }
        connection.Write("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        break;
      }
      case ReceiverMode::kInterim:
        connection.Write(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        break;
      case ReceiverMode::kOnlyInterim: {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
          lock.unlock();
          if (!connection.Write("HTTP/1.1 100 Continue\r\n\r\n")) break;
          lock.lock();
          changed_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stopping_; });
        }
        break;
      }
      case ReceiverMode::kSlowBody: {
        connection.Write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nx");
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return stopping_; });
        break;
      }
    }
  }
  if (connection.ssl) {
    if (complete && mode != ReceiverMode::kReset) SSL_shutdown(connection.ssl);
    SSL_free(connection.ssl);
  }
  ::close(fd);
}

bool MakePrivateCa(const std::string& dir, const std::string& names) {
  const std::string script =
      "cd '" + dir +
      "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-subj /CN=tokend-test-ca -days 1 -keyout ca.key -out ca.pem >/dev/null 2>&1 && "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost "
      "-keyout server.key -out server.csr >/dev/null 2>&1 && "
      "printf 'subjectAltName=" +
      names +
      "\\n' > ext.cnf && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-extfile ext.cnf -out server.pem >/dev/null 2>&1";
  return std::system(script.c_str()) == 0;
}

}  // namespace tokend::webhooks::testing
