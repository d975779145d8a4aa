#include "e2e_helpers.h"

namespace tokend::e2e {

boost::json::value ParseJson(std::string_view body) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(body, error);
  return error ? boost::json::value() : value;
}

Headers JsonWithBearer(std::string_view secret) {
  Headers headers = {{"Content-Type", "application/json"}};
  if (!secret.empty()) headers.emplace_back("Authorization", "Bearer " + std::string(secret));
  return headers;
}

std::optional<boost::json::object> CreateToken(TestClient& client, std::string_view secret,
                                               std::string_view body) {
  auto response = client.Request("POST", "/api/v2/token", JsonWithBearer(secret), body);
  if (!response || response->status != 200) return std::nullopt;
  boost::json::value value = ParseJson(response->body);
  if (!value.is_object()) return std::nullopt;
  return value.as_object();
}

std::optional<bool> IsActive(TestClient& client, std::string_view caller, std::string_view token) {
  boost::json::object body{{"token", token}};
  auto response = client.Request("POST", "/api/v2/token/introspect", JsonWithBearer(caller),
                                 boost::json::serialize(body));
  if (!response || response->status != 200) return std::nullopt;
  boost::json::value value = ParseJson(response->body);
  if (!value.is_object() || !value.as_object().contains("active")) return std::nullopt;
  return value.as_object().at("active").as_bool();
}

}  // namespace tokend::e2e
