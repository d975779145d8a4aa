#include "store/postgres/pg_common.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "store/redact.h"

namespace tokend::store::pg {
namespace {

// Keywords passed before the URL are defaults the URL may override; those
// after it are imposed (libpq keeps the last non-empty value of a keyword).
struct ConnectParams {
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  std::string timeout;
};

void BuildParams(const std::string& url, int connect_timeout_seconds, const char* application_name,
                 ConnectParams& params) {
  params.timeout = std::to_string(connect_timeout_seconds);
  auto add = [&](const char* k, const char* v) {
    params.keywords.push_back(k);
    params.values.push_back(v);
  };
  add("fallback_application_name", "tokend");
  add("keepalives", "1");
  add("keepalives_idle", "10");
  add("keepalives_interval", "3");
  add("keepalives_count", "3");
  add("dbname", url.c_str());
  add("connect_timeout", params.timeout.c_str());
  add("client_encoding", "UTF8");
  if (application_name != nullptr) add("application_name", application_name);
  add(nullptr, nullptr);
}

std::string TrimMessage(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text.empty() ? "unknown error" : text;
}

bool IsUnavailableState(std::string_view state) {
  if (state.size() != 5) return false;
  const std::string_view klass = state.substr(0, 2);
  return klass == "08" || klass == "53" || state == "57P01" || state == "57P02" ||
         state == "57P03" || state == "57014" || state == "25006";
}

// A port, or libpq's comma-separated list of them (one per host; an empty
// item is the default port), read as libpq reads each: a decimal number from
// 1 to 65535, with surrounding whitespace, a '+' and leading zeros allowed.
bool IsPortList(std::string_view ports) {
  for (;;) {
    const std::size_t comma = ports.find(',');
    std::string_view item = ports.substr(0, comma);
    const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    while (!item.empty() && space(item.front())) item.remove_prefix(1);
    while (!item.empty() && space(item.back())) item.remove_suffix(1);
    if (!item.empty()) {
      if (item.front() == '+') item.remove_prefix(1);
      while (item.size() > 1 && item.front() == '0') item.remove_prefix(1);
      unsigned port = 0;
      const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), port);
      if (item.empty() || error != std::errc() || end != item.data() + item.size() || port < 1 ||
          port > 65535) {
        return false;
      }
    }
    if (comma == std::string_view::npos) return true;
    ports.remove_prefix(comma + 1);
  }
}

// Notices (e.g. "already exists, skipping") are not errors; nobody reads
// them, so they must not reach stderr.
void IgnoreNotice(void*, const char*) {}

}  // namespace

Result<ConnectionConfig> ConnectionConfig::Parse(std::string_view url,
                                                 int connect_timeout_seconds) {
  ConnectionConfig config;
  config.url_ = std::string(url);
  config.connect_timeout_seconds_ = connect_timeout_seconds > 0 ? connect_timeout_seconds : 5;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(config.url_.c_str(), &error);
  if (options == nullptr) {
    // The parser's message may quote the URL; it is not echoed back.
    if (error != nullptr) PQfreemem(error);
    return Status::InvalidArgument("invalid PostgreSQL connection URL");
  }
  config.secrets_ = PasswordFragments(config.url_);
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    // libpq takes any port text here and refuses it only when connecting: a
    // check of the configuration would pass a URL no start can use.
    if (std::strcmp(o->keyword, "port") == 0 && o->val != nullptr && !IsPortList(o->val)) {
      PQconninfoFree(options);
      return Status::InvalidArgument(
          "invalid PostgreSQL connection URL: a port is not a number from 1 to 65535");
    }
  }
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    const bool secret =
        std::strcmp(o->keyword, "password") == 0 || std::strcmp(o->keyword, "sslpassword") == 0;
    if (secret && o->val != nullptr && o->val[0] != '\0') config.secrets_.emplace_back(o->val);
  }
  PQconninfoFree(options);
  return config;
}

std::string ConnectionConfig::Redact(std::string_view text) const {
  return RedactFragments(text, secrets_);
}

Result<ConnPtr> ConnectionConfig::Connect(const char* application_name) const {
  ConnectParams params;
  BuildParams(url_, connect_timeout_seconds_, application_name, params);
  ConnPtr conn(PQconnectdbParams(params.keywords.data(), params.values.data(), 1));
  if (conn == nullptr) return Status::Unavailable("PostgreSQL: out of memory while connecting");
  PQsetNoticeProcessor(conn.get(), IgnoreNotice, nullptr);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Status::Unavailable("PostgreSQL: cannot connect: " +
                               Redact(TrimMessage(PQerrorMessage(conn.get()))));
  }
  if (Status s = SetUpSession(conn.get(), *this); !s.ok()) return s;
  return conn;
}

ConnPtr ConnectionConfig::StartConnect(const char* application_name) const {
  ConnectParams params;
  BuildParams(url_, connect_timeout_seconds_, application_name, params);
  ConnPtr conn(PQconnectStartParams(params.keywords.data(), params.values.data(), 1));
  if (conn != nullptr) PQsetNoticeProcessor(conn.get(), IgnoreNotice, nullptr);
  return conn;
}

namespace {

// One thread for every CallDeadline of the process: it sleeps until the
// earliest deadline and shuts down the sockets of calls still running then.
// Each call watches its own duplicate of the connection's socket, so a socket
// libpq closes (and whose number is reused) during the call is never touched.
class DeadlineWatch {
 public:
  static DeadlineWatch& Get() {
    // Never destroyed: calls may end while the process exits.
    static DeadlineWatch* watch = new DeadlineWatch();
    return *watch;
  }

  std::uint64_t Add(int socket, std::chrono::steady_clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    const std::uint64_t ticket = ++last_ticket_;
    calls_.emplace(ticket, Call{socket, deadline});
    if (!thread_started_) {
      std::thread([this] { Run(); }).detach();
      thread_started_ = true;
    }
    changed_.notify_one();
    return ticket;
  }

  // The duplicate socket of `ticket`, to close.
  int Remove(std::uint64_t ticket) {
    std::lock_guard lock(mutex_);
    auto found = calls_.find(ticket);
    const int socket = found->second.socket;
    calls_.erase(found);
    return socket;
  }

 private:
  struct Call {
    int socket;
    std::chrono::steady_clock::time_point deadline;
  };

  void Run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      auto next = std::chrono::steady_clock::time_point::max();
      const auto now = std::chrono::steady_clock::now();
      for (auto& [ticket, call] : calls_) {
        if (call.deadline <= now) {
          ::shutdown(call.socket, SHUT_RDWR);
          call.deadline = std::chrono::steady_clock::time_point::max();  // once
        } else {
          next = std::min(next, call.deadline);
        }
      }
      if (next == std::chrono::steady_clock::time_point::max()) {
        changed_.wait(lock);
      } else {
        changed_.wait_until(lock, next);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::uint64_t, Call> calls_;
  std::uint64_t last_ticket_ = 0;
  bool thread_started_ = false;
};

}  // namespace

CallDeadline::CallDeadline(PGconn* conn, std::chrono::milliseconds limit) {
  const int socket = PQsocket(conn);
  if (socket < 0) return;
  const int watched = ::dup(socket);
  if (watched < 0) return;
  ticket_ = DeadlineWatch::Get().Add(watched, std::chrono::steady_clock::now() + limit);
}

CallDeadline::~CallDeadline() {
  if (ticket_ != 0) ::close(DeadlineWatch::Get().Remove(ticket_));
}

ResultPtr ExecBounded(PGconn* conn, const char* sql) {
  const CallDeadline deadline(conn);
  return ResultPtr(PQexec(conn, sql));
}

Status SetUpSession(PGconn* conn, const ConnectionConfig& config) {
  const std::string sql = "SET statement_timeout = " + std::to_string(kStatementTimeoutMillis);
  ResultPtr result = ExecBounded(conn, sql.c_str());
  if (!Succeeded(result.get(), PGRES_COMMAND_OK)) {
    return TranslateError(config, conn, result.get(), "session setup");
  }
  return Status::Ok();
}

Status TranslateError(const ConnectionConfig& config, PGconn* conn, const PGresult* result,
                      std::string_view what) {
  const char* state_field =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_field != nullptr ? state_field : "";
  // Only the primary message: DETAIL lines quote row values (a duplicate
  // key's secret hash, say), which must not travel further.
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string detail;
  if (state == "23505") {
    const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
    const std::string_view name = constraint != nullptr ? constraint : "";
    detail = name.find("secret_hash") != std::string_view::npos
                 ? "a token with this secret hash already exists"
             : name.find("pkey") != std::string_view::npos ? "a token with this id already exists"
                                                           : "duplicate key";
  } else if (primary != nullptr && primary[0] != '\0') {
    detail = TrimMessage(primary);
  } else if (result != nullptr && PQresultErrorMessage(result)[0] != '\0') {
    detail = TrimMessage(PQresultErrorMessage(result));
  } else {
    detail = TrimMessage(PQerrorMessage(conn));
  }
  detail = config.Redact(detail);
  std::string message = "PostgreSQL ";
  message += what;
  if (!state.empty()) {
    message += " failed (SQLSTATE ";
    message += state;
    message += "): ";
  } else {
    message += " failed: ";
  }
  message += detail;

  if (state.empty()) {
    // No SQLSTATE: libpq itself failed, nearly always a lost connection.
    if (result == nullptr || PQstatus(conn) != CONNECTION_OK) {
      return Status::Unavailable(std::move(message));
    }
    return Status::Internal(std::move(message));
  }
  if (IsUnavailableState(state)) return Status::Unavailable(std::move(message));
  if (state == "23505") return Status::AlreadyExists(std::move(message));
  if (state == "22021" || state == "22P05") return Status::InvalidArgument(std::move(message));
  return Status::Internal(std::move(message));
}

std::string ArrayLiteral(const std::vector<std::optional<std::string>>& elements) {
  std::string out = "{";
  bool first = true;
  for (const auto& element : elements) {
    if (!first) out += ',';
    first = false;
    if (!element) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *element) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

bool WaitSocket(int socket, bool for_write, std::chrono::milliseconds timeout) {
  if (socket < 0) return false;
  pollfd fd{};
  fd.fd = socket;
  fd.events = for_write ? POLLOUT : POLLIN;
  const int rc = poll(&fd, 1, static_cast<int>(timeout.count()));
  return rc > 0;
}

bool IdleConnectionIsDead(PGconn* conn) {
  if (PQstatus(conn) != CONNECTION_OK) return true;
  if (!WaitSocket(PQsocket(conn), false, std::chrono::milliseconds(0))) return false;
  // Something arrived on an idle connection: usually the server's goodbye
  // (57P01 on shutdown or pg_terminate_backend) followed by EOF.
  if (PQconsumeInput(conn) == 0) return true;
  while (PGnotify* n = PQnotifies(conn)) PQfreemem(n);
  return PQstatus(conn) != CONNECTION_OK;
}

}  // namespace tokend::store::pg
