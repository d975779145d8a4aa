// A fixture running the real server on 127.0.0.1, port 0, over a real SQLite
// store and the real TokenService; stopped in TearDown.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/expiry_policy.h"
#include "http/metrics.h"
#include "http/server.h"
#include "service/token_service.h"
#include "store/token_store.h"
#include "test_client.h"

namespace tokend::http::testing {

class ServerTest : public ::testing::Test {
 protected:
  ~ServerTest() override;
  void TearDown() override { StopServer(); }

  // Starts store, service and server. `auth_required` also mints a global
  // admin (admin_secret()). `tweak` adjusts the server options.
  void StartServer(bool auth_required, const std::function<void(ServerOptions&)>& tweak = nullptr);
  // Stops and waits (idempotent).
  void StopServer();
  // The expiry policy of the next StartServer (none by default).
  void SetExpiryPolicy(core::ExpiryPolicy policy) { expiry_policy_ = std::move(policy); }
  // The --last-used-resolution of the next StartServer (default 5 s).
  void SetLastUsedResolution(int seconds) { last_used_resolution_seconds_ = seconds; }

  std::uint16_t port() const { return port_; }
  Server& server() { return *server_; }
  service::TokenService& service() { return *service_; }
  const std::string& admin_secret() const { return admin_secret_; }
  std::unique_ptr<TestClient> Connect() const;

  // Headers authenticating as the admin (none when auth is off), plus
  // `Content-Type: application/json`.
  Headers AdminJson() const;
  Headers Admin() const;

  struct Created {
    std::string id;
    std::string secret;
  };
  // Creates a token through POST /api/v2/token as the admin; fails the test
  // when the answer is not 200.
  Created CreateToken(TestClient& client, std::string_view json_body);

 private:
  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<service::TokenService> service_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::string admin_secret_;
  core::ExpiryPolicy expiry_policy_;
  int last_used_resolution_seconds_ = service::ServiceOptions{}.last_used_resolution_seconds;
};

// A value of a top-level JSON string field (tests only; no escapes).
std::string JsonField(std::string_view json, std::string_view name);

}  // namespace tokend::http::testing
