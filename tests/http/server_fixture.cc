#include "server_fixture.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace tokend::http::testing {

ServerTest::~ServerTest() { StopServer(); }

void ServerTest::StartServer(bool auth_required, const std::function<void(ServerOptions&)>& tweak) {
  auto store = store::TokenStore::Open("sqlite::memory:");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
  service::ServiceOptions service_options;
  service_options.auth_required = auth_required;
  service_options.expiry_policy = expiry_policy_;
  service_options.last_used_resolution_seconds = last_used_resolution_seconds_;
  service_ = std::make_unique<service::TokenService>(*store_, service_options);
  if (auth_required) {
    auto admin = service_->CreateBootstrapAdmin();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_secret_ = admin->secret;
  }
  metrics_ = std::make_unique<Metrics>();
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.io_threads = 2;
  options.blocking_threads = 4;
  options.handle_signals = false;
  if (tweak) tweak(options);
  server_ = std::make_unique<Server>(options, *service_, *metrics_);
  auto port = server_->Start();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  port_ = *port;
}

void ServerTest::StopServer() {
  if (server_) {
    server_->Stop();
    server_->Wait();
    server_.reset();
  }
  service_.reset();
  store_.reset();
  metrics_.reset();
}

std::unique_ptr<TestClient> ServerTest::Connect() const {
  auto client = std::make_unique<TestClient>(port_);
  EXPECT_TRUE(client->connected());
  return client;
}

Headers ServerTest::Admin() const {
  if (admin_secret_.empty()) return {};
  return Bearer(admin_secret_);
}

Headers ServerTest::AdminJson() const {
  Headers headers = Admin();
  headers.emplace_back("Content-Type", "application/json");
  return headers;
}

ServerTest::Created ServerTest::CreateToken(TestClient& client, std::string_view json_body) {
  auto res = client.Request("POST", "/api/v2/token", AdminJson(), json_body);
  Created created;
  EXPECT_TRUE(res.has_value());
  if (!res) return created;
  EXPECT_EQ(res->status, 200) << res->body;
  created.id = JsonField(res->body, "id");
  created.secret = JsonField(res->body, "token");
  return created;
}

std::string JsonField(std::string_view json, std::string_view name) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) return {};
  const auto* field = value.as_object().if_contains(name);
  if (field == nullptr || !field->is_string()) return {};
  return std::string(field->as_string());
}

}  // namespace tokend::http::testing
