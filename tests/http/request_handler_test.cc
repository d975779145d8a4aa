// RequestHandler without sockets: requests in, responses out.
#include "http/request_handler.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <ctime>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "http/metrics.h"
#include "http/request_log.h"
#include "http/wire.h"
#include "service/token_service.h"
#include "store/token_store.h"

namespace tokend::http {
namespace {

// The fields read on every request are found in one pass, as Beast's
// lookups by name would find them: the first of each name, names compared
// without regard to case.
TEST(RequestHeadersTest, FindsTheFirstOfEachNameWhateverItsCase) {
  Request req{beast_http::verb::post, "/api/v2/token/introspect", 11};
  req.insert("x-request-ID", "first-id");
  req.insert("content-type", "application/json");
  req.insert("AUTHORIZATION", "Bearer one");
  req.insert(beast_http::field::content_type, "text/plain");
  req.insert(beast_http::field::authorization, "Bearer two");
  req.insert("X-Request-Id", "second-id");
  req.insert("X-Request-Ids", "not-it");
  const RequestHeaders headers = RequestHeaders::Of(req);
  EXPECT_EQ(headers.content_type, req[beast_http::field::content_type]);
  EXPECT_EQ(headers.content_type, "application/json");
  EXPECT_EQ(headers.authorization, "Bearer one");
  EXPECT_EQ(headers.authorization_count, 2);
  EXPECT_EQ(headers.request_id, "first-id");

  const RequestHeaders none = RequestHeaders::Of(Request{beast_http::verb::get, "/", 11});
  EXPECT_EQ(none.content_type, "");
  EXPECT_FALSE(none.authorization);
  EXPECT_EQ(none.authorization_count, 0);
  EXPECT_FALSE(none.request_id);
}

// Every Connection field counts: they form one list of options.
TEST(RequestHeadersTest, KeepAliveReadsEveryConnectionField) {
  const auto keep_alive = [](unsigned version, std::vector<std::string> fields) {
    Request req{beast_http::verb::get, "/health", version};
    for (const std::string& value : fields) req.insert(beast_http::field::connection, value);
    return RequestHeaders::Of(req).keep_alive;
  };
  EXPECT_TRUE(keep_alive(11, {}));
  EXPECT_TRUE(keep_alive(11, {"keep-alive", "te"}));
  EXPECT_FALSE(keep_alive(11, {"keep-alive", "close"}));
  EXPECT_FALSE(keep_alive(11, {"te", "Upgrade, CLOSE"}));
  EXPECT_FALSE(keep_alive(10, {}));
  EXPECT_TRUE(keep_alive(10, {"te", "Keep-Alive"}));
  EXPECT_FALSE(keep_alive(10, {"keep-alive", "close"}));
  EXPECT_FALSE(keep_alive(10, {"keep-alive, close"}));
}

// Request ids in the formats in use are passed through, prefixed or not; one
// that could hold a secret, whole, cut or split, is not.
TEST(RequestIdTest, CommonFormatsPassAndSecretsDoNot) {
  const std::string secret =
      "bfg_" + std::string(14, 'a') + "Q" + std::string(13, 'b') + "Zz09AbcD12";
  for (const std::string& id :
       {std::string("550e8400-e29b-41d4-a716-446655440000"),
        std::string("req-550e8400-e29b-41d4-a716-446655440000"),
        std::string("trace.550e8400-e29b-41d4-a716-446655440000"),
        std::string("0af7651916cd43dd8448eb211c80319c"),
        std::string("01ARZ3NDEKTSV4RRFFQ69G5FAV-01ARZ3NDEKTSV4RRFFQ69G5FAW"),
        std::string("user_2x4y6z8a0b2c4d6e8f0g2h4j6k"),
        std::string("2NxZLPBVqrWVnA0Fx1WUjDwoQ2k")}) {
    EXPECT_TRUE(IsAcceptableRequestId(id)) << id;
  }
  for (const std::string& id :
       {secret, secret.substr(4), secret.substr(0, 20) + "." + secret.substr(20),
        secret.substr(4, 15) + "-" + secret.substr(19),
        std::string("bft_0f8fad5b-d9cb-469f-a165-70867728950e")}) {
    EXPECT_FALSE(IsAcceptableRequestId(id)) << id;
  }
}

// AppendWireResponse must write exactly what Beast's serializer writes.
TEST(AppendWireResponseTest, MatchesBeastsSerializer) {
  std::vector<Response> responses;
  Response json{beast_http::status::ok, 11};
  json.set(beast_http::field::content_type, "application/json");
  json.set(beast_http::field::cache_control, "no-store");
  json.body() = R"({"active":true})";
  FinishResponse(json, 11, /*keep_alive=*/true);
  responses.push_back(json);
  FinishResponse(json, 11, /*keep_alive=*/false);
  responses.push_back(json);
  FinishResponse(json, 10, /*keep_alive=*/true);
  responses.push_back(json);
  Response empty{beast_http::status::ok, 11};
  FinishResponse(empty, 11, /*keep_alive=*/true);
  responses.push_back(empty);
  Response not_allowed{beast_http::status::method_not_allowed, 11};
  not_allowed.set(beast_http::field::allow, "GET, DELETE");
  not_allowed.body() = std::string(70000, 'x');
  FinishResponse(not_allowed, 11, /*keep_alive=*/true);
  responses.push_back(not_allowed);
  Response no_content{beast_http::status::no_content, 11};
  FinishResponse(no_content, 11, /*keep_alive=*/true);
  responses.push_back(no_content);
  Response custom{beast_http::status::service_unavailable, 11};
  custom.reason("Busy");
  custom.insert("X-Custom", "1");
  FinishResponse(custom, 11, /*keep_alive=*/false);
  responses.push_back(custom);

  for (const Response& res : responses) {
    std::string ours = "prefix:";
    AppendWireResponse(res, ours);
    // The Date written: the current second's.
    const std::size_t date_at = ours.find("\r\nDate: ");
    ASSERT_NE(date_at, std::string::npos) << ours;
    const std::string date = ours.substr(date_at + 8, 29);
    const std::int64_t now = std::time(nullptr);
    EXPECT_TRUE(date == HttpDate(now) || date == HttpDate(now - 1)) << date;
    // What the three written fields would be, stored last.
    Response stored = res;
    stored.set(beast_http::field::server, "tokend");
    stored.set(beast_http::field::date, date);
    stored.prepare_payload();
    // RFC 9110 section 8.6: no Content-Length on a 204 (Beast writes 0).
    if (res.result() == beast_http::status::no_content)
      stored.erase(beast_http::field::content_length);
    std::ostringstream beast;
    beast << stored;
    EXPECT_EQ(ours, "prefix:" + beast.str());
  }
}

// RFC 9110 section 5.6.7's IMF-fixdate, whatever the day.
TEST(AppendWireResponseTest, HttpDatesAreImfFixdates) {
  EXPECT_EQ(HttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's own
  EXPECT_EQ(HttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(HttpDate(951782399), "Mon, 28 Feb 2000 23:59:59 GMT");
  EXPECT_EQ(HttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(HttpDate(1798761599), "Thu, 31 Dec 2026 23:59:59 GMT");
  EXPECT_EQ(HttpDate(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
}

// The response as a client reads it: AppendWireResponse's bytes, parsed.
Response OnTheWire(const Response& res) {
  std::string wire;
  AppendWireResponse(res, wire);
  beast_http::response_parser<beast_http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(asio::buffer(wire), ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << wire;
  EXPECT_TRUE(parser.is_done()) << wire;
  return parser.release();
}

// A response finished for keep-alive, then closed by the session (a drain
// began), reads as closing on the wire.
TEST(AppendWireResponseTest, ResponseClosedAfterFinishEndsTheConnection) {
  for (const unsigned version : {11u, 10u}) {
    Response res{beast_http::status::ok, version};
    res.set(beast_http::field::content_type, "application/json");
    res.body() = R"({"active":true})";
    FinishResponse(res, version, /*keep_alive=*/true);
    res.keep_alive(false);
    std::string wire;
    AppendWireResponse(res, wire);

    beast_http::response_parser<beast_http::string_body> parser;
    parser.eager(true);
    boost::system::error_code ec;
    const std::size_t used = parser.put(asio::buffer(wire), ec);
    ASSERT_FALSE(ec) << ec.message() << " in " << wire;
    EXPECT_EQ(used, wire.size());
    ASSERT_TRUE(parser.is_done());
    const auto& parsed = parser.get();
    EXPECT_FALSE(parsed.keep_alive()) << wire;
    EXPECT_EQ(parsed.version(), version);
    EXPECT_EQ(parsed.body(), res.body());
    EXPECT_EQ(parsed[beast_http::field::content_type], "application/json");
    EXPECT_EQ(parsed[beast_http::field::server], "tokend");
    EXPECT_EQ(parsed[beast_http::field::content_length], std::to_string(res.body().size()));
    EXPECT_EQ(parsed.count(beast_http::field::connection), version == 11 ? 1u : 0u) << wire;
  }
}

class RequestHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::TokenStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    service::ServiceOptions options;
    options.auth_required = true;
    service_ = std::make_unique<service::TokenService>(*store_, options);
    handler_ = std::make_unique<RequestHandler>(HandlerEnv{*service_, metrics_});
  }

  Response Handle(Request req) {
    Exchange ex(req, nullptr);
    return handler_->HandleHere(ex);
  }

  static Request Get(std::string_view target) {
    Request req{beast_http::verb::get, target, 11};
    return req;
  }

  Metrics metrics_;
  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<service::TokenService> service_;
  std::unique_ptr<RequestHandler> handler_;
};

TEST_F(RequestHandlerTest, EveryResponseCarriesTheCommonHeaders) {
  for (const char* target : {"/health", "/nothing", "/api/v2/token/query", "/api/docs/spec"}) {
    const Response res = OnTheWire(Handle(Get(target)));
    EXPECT_EQ(res[beast_http::field::server], "tokend") << target;
    EXPECT_EQ(res[beast_http::field::content_length], std::to_string(res.body().size()));
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST_F(RequestHandlerTest, TargetMustBeAnAbsolutePath) {
  for (const char* target : {"*", "health", "ftp://example.com/health"}) {
    const Response res = Handle(Get(target));
    EXPECT_EQ(res.result_int(), 400) << target;
    EXPECT_NE(res.body().find("9015"), std::string::npos) << res.body();
  }
}

TEST_F(RequestHandlerTest, AbsoluteFormTargetIsServedLikeItsPath) {
  for (const char* target : {"http://example.com/health", "HTTPS://example.com:8443/health?x=1"}) {
    EXPECT_EQ(Handle(Get(target)).result_int(), 200) << target;
  }
  EXPECT_EQ(Handle(Get("http://example.com")).result_int(), 404) << "the path is /";
  // RFC 9112 section 3.2.2: an empty path is "/", with or without a query.
  EXPECT_EQ(Handle(Get("http://example.com?x=1")).result_int(), 404) << "the path is /";
  EXPECT_EQ(Handle(Get("http://example.com/api/v2/token/query")).result_int(), 401);
}

TEST_F(RequestHandlerTest, AuthenticationComesBeforeRouting) {
  EXPECT_EQ(Handle(Get("/api/v2/token/a%ZZ")).result_int(), 401);
  EXPECT_EQ(Handle(Get("/api/v2/whatever")).result_int(), 401);
  EXPECT_EQ(Handle(Get("/whatever")).result_int(), 404);
}

TEST_F(RequestHandlerTest, BadPercentEscapeInIdIs400) {
  auto admin = service_->CreateBootstrapAdmin();
  ASSERT_TRUE(admin.ok());
  Request req = Get("/api/v2/token/a%ZZ");
  req.set(beast_http::field::authorization, "Bearer " + admin->secret);
  EXPECT_EQ(Handle(std::move(req)).result_int(), 400);
}

// The route's permission is checked before anything in the request is judged,
// a malformed {id} included.
TEST_F(RequestHandlerTest, BadPercentEscapeInIdIs403WithoutThePermission) {
  core::CreateTokenRequest request;
  request.type = "team";
  request.name = "no token permissions";
  request.principal = "t1";
  request.permissions = std::vector<std::string>{"workflow/read"};
  auto reader = service_->Create(core::Caller::Unrestricted(), request);
  ASSERT_TRUE(reader.ok());
  for (const auto method : {beast_http::verb::get, beast_http::verb::delete_}) {
    Request req{method, "/api/v2/token/a%ZZ", 11};
    req.set(beast_http::field::authorization, "Bearer " + reader->secret);
    EXPECT_EQ(Handle(std::move(req)).result_int(), 403);
  }
}

TEST_F(RequestHandlerTest, Http10WithoutKeepAliveCloses) {
  Request req = Get("/health");
  req.version(10);
  const Response res = Handle(std::move(req));
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());
}

}  // namespace
}  // namespace tokend::http
