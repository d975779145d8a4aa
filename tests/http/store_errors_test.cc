// Store errors never leak: whatever the store says when it fails (file
// paths, host names, SQL), clients get the fixed message of the error
// class: 503 (9010) "The token store is unavailable; retry later." or 500
// (9011) "An unexpected error occurred.", on every route and on
// authentication. The store here is a real in-memory SQLite store behind a
// switch that makes every call fail.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/object_id.h"
#include "core/secret.h"
#include "core/time.h"
#include "http/metrics.h"
#include "http/server.h"
#include "service/token_service.h"
#include "store/token_store.h"
#include "support/failing_store.h"
#include "test_client.h"

namespace tokend::http::testing {
namespace {

using FailingStore = ::tokend::testing::FailingStore;

using core::Result;
using core::Status;

constexpr std::string_view kUnavailableMessage = "The token store is unavailable; retry later.";
constexpr std::string_view kInternalMessage = "An unexpected error occurred.";

// What a failing store says: every piece of it is for the log only.
const std::string kStoreDetail =
    "reading SQLite database /var/lib/tokend-private/tokens.db: disk I/O error "
    "(SELECT secret_hash FROM tokens; host db-seven.internal.example:5432, user tokend_owner)";
// Each fragment holds a character a generated request id (hex digits and a
// dash) never has, so a fragment found in a header is a leak, not chance.
const std::vector<std::string> kDetailFragments = {
    "/var/lib", "tokend-private",   "tokens.db",    "SQLite",       "SELECT", "secret_hash",
    "db-seven", "internal.example", "example:5432", "tokend_owner", "I/O",
};

enum class Fault { kNone, kUnavailable, kInternal };

// The fault every store call meets, on a real store (FailingStore).
void Inject(FailingStore& store, Fault fault) {
  switch (fault) {
    case Fault::kNone:
      store.Heal();
      return;
    case Fault::kUnavailable:
      store.SetFailure(Status::Unavailable(kStoreDetail));
      break;
    case Fault::kInternal:
      store.SetFailure(Status::Internal(kStoreDetail));
      break;
  }
  store.Fail(FailingStore::kAll);
}

// Collects what the process logs while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Everything logged so far; call while no request is in flight.
  std::string Text() {
    sink_->flush();
    return stream_.str();
  }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

std::string WithoutTimestamp(const std::string& body) {
  static const std::regex timestamp(R"re("timestamp":"[^"]*")re");
  return std::regex_replace(body, timestamp, R"("timestamp":"")");
}

std::string JsonString(const std::string& body, const std::string& name) {
  const std::regex field("\"" + name + "\":\"([^\"]*)\"");
  std::smatch match;
  return std::regex_search(body, match, field) ? match[1].str() : std::string();
}

void ExpectNoDetail(const HttpResponse& res, const std::string& context) {
  for (const std::string& fragment : kDetailFragments) {
    EXPECT_EQ(res.body.find(fragment), std::string::npos)
        << context << ": the store's detail leaks (" << fragment << "): " << res.body;
    for (const auto& [name, value] : res.headers) {
      EXPECT_EQ(value.find(fragment), std::string::npos) << context << ": header " << name;
    }
  }
}

class StoreErrorsTest : public ::testing::Test {
 protected:
  void TearDown() override { Stop(); }

  void Start(bool auth_required) {
    auto store = FailingStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    service::ServiceOptions service_options;
    service_options.auth_required = auth_required;
    service_ = std::make_unique<service::TokenService>(*store_, service_options);
    auto admin = service_->CreateBootstrapAdmin();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = admin->secret;
    ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.io_threads = 2;
    options.blocking_threads = 4;
    options.handle_signals = false;
    server_ = std::make_unique<Server>(options, *service_, metrics_);
    auto port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;

    // A token stored behind the service's back: its secret is in no cache,
    // so authenticating with it asks the store.
    core::Token stored;
    stored_secret_ = core::GenerateSecret(core::TokenType::kGlobal);
    stored.id = core::NewObjectId(core::NowMillis());
    stored.type = core::TokenType::kGlobal;
    stored.name = "stored directly";
    stored.creation_date = core::NowMillis();
    stored.actions = {"**/**"};
    stored.secret_hash = core::HashSecret(stored_secret_);
    ASSERT_TRUE(store_->Insert(stored, {}).ok());
    stored_id_ = stored.id;
    // A second one, another secret of each form: a well-formed secret the
    // store never held is unknown without asking it, so only held secrets
    // make introspection and authentication reach the store.
    for (const auto& [secret, n] :
         {std::pair{&held_secret_, 1}, std::pair{&held_legacy_secret_, 2}}) {
      core::Token held = stored;
      held.id = core::NewObjectId(core::NowMillis() + n);
      held.type = core::TokenType::kTeam;
      held.principal = "held";
      held.actions = {"token/read"};
      held.secret_hash = core::HashSecret(*secret);
      ASSERT_TRUE(store_->Insert(held, {}).ok());
    }
  }

  void Stop() {
    if (server_) {
      server_->Stop();
      server_->Wait();
      server_.reset();
    }
    service_.reset();
    store_.reset();
  }

  Headers Admin() const { return {{"Authorization", "Bearer " + admin_}}; }
  Headers AdminJson() const {
    Headers headers = Admin();
    headers.emplace_back("Content-Type", "application/json");
    return headers;
  }
  Headers AdminForm() const {
    Headers headers = Admin();
    headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return headers;
  }

  struct Call {
    std::string name;
    std::string method;
    std::string target;
    Headers headers;
    std::string body;
  };

  // Every route that reaches the store, as the (cached) admin.
  std::vector<Call> RouteCalls() const {
    const std::string fresh = core::GenerateSecret(core::TokenType::kTeam);
    return {
        {"create", "POST", "/api/v2/token", AdminJson(),
         R"({"type":"team","name":"x","principal":"t1","permissions":["token/read"]})"},
        {"get", "GET", "/api/v2/token/" + stored_id_, Admin(), ""},
        {"get absent", "GET", "/api/v2/token/000000000000000000000000", Admin(), ""},
        {"delete", "DELETE", "/api/v2/token/" + stored_id_, Admin(), ""},
        {"query unpaged", "GET", "/api/v2/token/query", Admin(), ""},
        {"query paged", "GET", "/api/v2/token/query?limit=5&page=1&types=team", Admin(), ""},
        {"introspect JSON", "POST", "/api/v2/token/introspect", AdminJson(),
         R"({"token":")" + held_secret_ + R"("})"},
        {"introspect form", "POST", "/api/v2/token/introspect", AdminForm(),
         "token=" + held_secret_},
        {"introspect legacy", "POST", "/api/v2/token/introspect", AdminJson(),
         R"({"token":")" + held_legacy_secret_ + R"("})"},
        {"introspect a stored secret", "POST", "/api/v2/token/introspect", AdminJson(),
         R"({"token":")" + stored_secret_ + R"("})"},
        {"revoke by value", "POST", "/api/v2/token/revoke", AdminJson(),
         R"({"token":")" + fresh + R"("})"},
        {"revoke by value, form", "POST", "/api/v2/token/revoke", AdminForm(), "token=" + fresh},
        {"revoke a list", "POST", "/api/v2/token/revoke", AdminJson(),
         R"({"tokens":[")" + stored_secret_ + R"(",")" + fresh + R"("]})"},
        {"revoke in bulk", "POST", "/api/v2/token/query/revoke?all=true", Admin(), ""},
        {"revoke in bulk, dry run", "POST", "/api/v2/token/query/revoke?types=global&dryRun=true",
         Admin(), ""},
    };
  }

  // Authentication that has to ask the store.
  std::vector<Call> AuthenticationCalls() const {
    return {
        {"bearer not cached",
         "GET",
         "/api/v2/token/self",
         {{"Authorization", "Bearer " + stored_secret_}},
         ""},
        {"access_token not cached",
         "GET",
         "/api/v2/token/query?access_token=" + stored_secret_,
         {},
         ""},
        {"another bearer not cached",
         "GET",
         "/api/v2/token/self",
         {{"Authorization", "Bearer " + held_secret_}},
         ""},
    };
  }

  // Sends `call`, expects `status` with its fixed message; the body without
  // the timestamp.
  std::string ExpectFixed(TestClient& client, const Call& call, int status) {
    SCOPED_TRACE(call.name);
    auto res = client.Request(call.method, call.target, call.headers, call.body);
    EXPECT_TRUE(res.has_value());
    if (!res) return {};
    EXPECT_EQ(res->status, status) << res->body;
    ExpectNoDetail(*res, call.name);
    EXPECT_EQ(res->Header("Content-Type"), "application/json");
    if (status == 503) {
      EXPECT_EQ(JsonString(res->body, "message"), kUnavailableMessage) << res->body;
      EXPECT_NE(res->body.find("\"code\":9010,"), std::string::npos) << res->body;
      EXPECT_EQ(JsonString(res->body, "status"), "503 SERVICE_UNAVAILABLE") << res->body;
      EXPECT_EQ(res->Header("Retry-After"), "1");
    } else {
      EXPECT_EQ(JsonString(res->body, "message"), kInternalMessage) << res->body;
      EXPECT_NE(res->body.find("\"code\":9011,"), std::string::npos) << res->body;
      EXPECT_EQ(JsonString(res->body, "status"), "500 INTERNAL_SERVER_ERROR") << res->body;
    }
    return WithoutTimestamp(res->body);
  }

  void ExpectHealthAndMetricsTellNothing(TestClient& client) {
    auto health = client.Request("GET", "/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 503);
    EXPECT_EQ(health->body, R"({"status":"DOWN"})");
    EXPECT_EQ(health->Header("Retry-After"), "1") << "as every 503";
    ExpectNoDetail(*health, "health");
    auto metrics = client.Request("GET", "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
    EXPECT_NE(metrics->body.find("\ntokend_store_up 0\n"), std::string::npos) << metrics->body;
    ExpectNoDetail(*metrics, "metrics");
  }

  Metrics metrics_;
  std::unique_ptr<FailingStore> store_;
  std::unique_ptr<service::TokenService> service_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::string admin_;
  std::string stored_secret_;
  std::string stored_id_;
  const std::string held_secret_ = core::GenerateSecret(core::TokenType::kTeam);
  const std::string held_legacy_secret_ = "bft_0d8e2a1c-5b7f-4c3e-9a1d-2f6b8c4e7a90";
};

TEST(StoreErrorsFragmentsTest, NoFragmentCanBeSpelledByAGeneratedRequestId) {
  for (const std::string& fragment : kDetailFragments) {
    EXPECT_NE(fragment.find_first_not_of("0123456789abcdef-"), std::string::npos) << fragment;
    EXPECT_NE(kStoreDetail.find(fragment), std::string::npos) << fragment;
  }
}

TEST_F(StoreErrorsTest, UnavailableStoreAnswersTheFixedMessageEverywhere) {
  ASSERT_NO_FATAL_FAILURE(Start(true));
  TestClient client(port_);
  ASSERT_TRUE(client.connected());
  Inject(*store_, Fault::kUnavailable);
  std::string reference;
  std::vector<Call> calls = RouteCalls();
  const std::vector<Call> authentication = AuthenticationCalls();
  calls.insert(calls.end(), authentication.begin(), authentication.end());
  for (const Call& call : calls) {
    const std::string body = ExpectFixed(client, call, 503);
    if (reference.empty()) reference = body;
    EXPECT_EQ(body, reference) << call.name << ": 503 answers differ";
  }
  ExpectHealthAndMetricsTellNothing(client);

  // Nothing was lost to the fault: once the store answers, all is as before.
  Inject(*store_, Fault::kNone);
  auto res =
      client.Request("GET", "/api/v2/token/self", {{"Authorization", "Bearer " + stored_secret_}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(JsonString(res->body, "id"), stored_id_);
}

TEST_F(StoreErrorsTest, InternalStoreErrorAnswersTheFixedMessageEverywhere) {
  ASSERT_NO_FATAL_FAILURE(Start(true));
  TestClient client(port_);
  ASSERT_TRUE(client.connected());
  Inject(*store_, Fault::kInternal);
  std::string reference;
  for (const Call& call : RouteCalls()) {
    const std::string body = ExpectFixed(client, call, 500);
    if (reference.empty()) reference = body;
    EXPECT_EQ(body, reference) << call.name << ": 500 answers differ";
  }
  // Authentication that cannot ask the store cannot tell: 503.
  for (const Call& call : AuthenticationCalls()) ExpectFixed(client, call, 503);
  ExpectHealthAndMetricsTellNothing(client);
}

TEST_F(StoreErrorsTest, AuthenticationOffAnswersTheFixedMessage) {
  ASSERT_NO_FATAL_FAILURE(Start(false));
  TestClient client(port_);
  ASSERT_TRUE(client.connected());
  for (const Fault fault : {Fault::kUnavailable, Fault::kInternal}) {
    Inject(*store_, fault);
    const int status = fault == Fault::kUnavailable ? 503 : 500;
    for (Call call : RouteCalls()) {
      call.headers.erase(call.headers.begin());  // no Authorization
      ExpectFixed(client, call, status);
    }
  }
}

// A cache that cannot be trusted (change feed down) sends every
// authentication to the store, the admin's included.
TEST_F(StoreErrorsTest, UntrustedCacheSendsEveryBearerToTheFailingStore) {
  ASSERT_NO_FATAL_FAILURE(Start(true));
  service_->OnFeedHealthChanged(false);
  Inject(*store_, Fault::kUnavailable);
  for (const Call& call : RouteCalls()) {
    TestClient client(port_);
    ASSERT_TRUE(client.connected());
    ExpectFixed(client, call, 503);
  }
}

// The fixed answers hide the store's detail from clients, not from the
// operator: each one is logged with the store's own text.
TEST_F(StoreErrorsTest, EveryFixedAnswerLogsTheStoresDetail) {
  LogCapture log;
  ASSERT_NO_FATAL_FAILURE(Start(true));
  TestClient client(port_);
  ASSERT_TRUE(client.connected());
  for (const Fault fault : {Fault::kUnavailable, Fault::kInternal}) {
    Inject(*store_, fault);
    std::vector<Call> calls = RouteCalls();
    const std::vector<Call> authentication = AuthenticationCalls();
    calls.insert(calls.end(), authentication.begin(), authentication.end());
    for (const Call& call : calls) {
      const std::size_t logged_before = log.Text().size();
      auto res = client.Request(call.method, call.target, call.headers, call.body);
      ASSERT_TRUE(res) << call.name;
      ASSERT_GE(res->status, 500) << call.name << ": " << res->body;
      const std::string logged = log.Text().substr(logged_before);
      EXPECT_NE(logged.find(kStoreDetail), std::string::npos)
          << call.name << " (" << res->status << "): the store's detail was not logged; logged:\n"
          << logged;
    }
  }
}

}  // namespace
}  // namespace tokend::http::testing
