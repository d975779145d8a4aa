// Database passwords never survive redaction, whatever form the store URL
// gives them (store/redact.h), nor reach a store error message.
#include "store/redact.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/postgres/pg_common.h"
#include "store/token_store.h"

namespace tokend::store {
namespace {

struct Form {
  const char* name;
  std::string url;
  std::string redacted;              // RedactStoreUrl(url)
  std::vector<std::string> secrets;  // none may appear after redaction
};

// Port 1: nothing listens there, so a connection fails at once.
std::vector<Form> Forms() {
  return {
      {"userinfo",
       "postgresql://tokend:Pw0rd-Userinfo@127.0.0.1:1/tokend",
       "postgresql://tokend:***@127.0.0.1:1/tokend",
       {"Pw0rd-Userinfo"}},
      {"postgres scheme",
       "postgres://tokend:Pw0rd-Scheme@db.example:5432/tokend",
       "postgres://tokend:***@db.example:5432/tokend",
       {"Pw0rd-Scheme"}},
      {"query parameter",
       "postgresql://tokend@127.0.0.1:1/tokend?password=Pw0rd-Query",
       "postgresql://tokend@127.0.0.1:1/tokend?password=***",
       {"Pw0rd-Query"}},
      {"query parameter, any case",
       "postgresql://127.0.0.1:1/tokend?sslmode=disable&PassWord=Pw0rd-Case&user=tokend",
       "postgresql://127.0.0.1:1/tokend?sslmode=disable&PassWord=***&user=tokend",
       {"Pw0rd-Case"}},
      {"percent-encoded name",
       "postgresql://127.0.0.1:1/tokend?pass%77ord=Pw0rd-EncName",
       "postgresql://127.0.0.1:1/tokend?pass%77ord=***",
       {"Pw0rd-EncName"}},
      {"percent-encoded value",
       "postgresql://127.0.0.1:1/tokend?password=Pw0rd%2DEnc%40Value",
       "postgresql://127.0.0.1:1/tokend?password=***",
       {"Pw0rd%2DEnc%40Value", "Pw0rd-Enc@Value", "Value"}},
      {"percent-encoded userinfo",
       "postgresql://tokend:Pw0rd%40Enc@127.0.0.1:1/tokend",
       "postgresql://tokend:***@127.0.0.1:1/tokend",
       {"Pw0rd%40Enc", "Pw0rd@Enc", "Pw0rd"}},
      {"sslpassword",
       "postgresql://127.0.0.1:1/tokend?sslpassword=Pw0rd-Ssl",
       "postgresql://127.0.0.1:1/tokend?sslpassword=***",
       {"Pw0rd-Ssl"}},
      {"'&' inside a value",
       "postgresql://127.0.0.1:1/tokend?password=Pw0rd&Amp&user=u",
       "postgresql://127.0.0.1:1/tokend?password=***&user=u",
       {"Pw0rd&Amp", "Amp"}},
      {"'@' inside the password",
       "postgresql://tokend:Pw0rd@tSign@127.0.0.1:1/tokend",
       "postgresql://tokend:***@127.0.0.1:1/tokend",
       {"Pw0rd@tSign", "tSign", "Pw0rd"}},
      {"'/' inside the password",
       "postgresql://tokend:Pw0rd/Slash@127.0.0.1:1/tokend",
       "postgresql://tokend:***@127.0.0.1:1/tokend",
       {"Pw0rd/Slash", "Slash", "Pw0rd"}},
      {"'@' then '/' inside the password",
       "postgresql://tokend:Pw0rd@At/Slash@127.0.0.1:1/tokend",
       "postgresql://tokend:***@127.0.0.1:1/tokend",
       {"Pw0rd@At/Slash", "At/Slash", "Slash", "Pw0rd"}},
      {"'/' then '@' inside the password",
       "postgresql://tokend:Pw0rd/Slash@At@127.0.0.1:1/tokend",
       "postgresql://tokend:***@127.0.0.1:1/tokend",
       {"Pw0rd/Slash@At", "Slash@At", "Slash", "Pw0rd"}},
      {"'@' in the query password",
       "postgresql://127.0.0.1:1/tokend?password=Pw0rd@Query",
       "postgresql://127.0.0.1:1/tokend?password=***",
       {"Pw0rd@Query", "Pw0rd"}},
      {"key=value",
       "host=127.0.0.1 port=1 password=Pw0rd-Kv dbname=tokend",
       "host=127.0.0.1 port=1 password=*** dbname=tokend",
       {"Pw0rd-Kv"}},
      {"key=value, quoted",
       "host=127.0.0.1 password = 'Pw0rd Quoted\\'s' dbname=tokend",
       "host=127.0.0.1 password = *** dbname=tokend",
       {"Pw0rd Quoted", "Quoted", "Pw0rd"}},
      {"key=value, upper case",
       "host=127.0.0.1 PASSWORD=Pw0rd-Upper",
       "host=127.0.0.1 PASSWORD=***",
       {"Pw0rd-Upper"}},
      {"key=value, URL as dbname",
       "dbname='postgresql://u:Pw0rd-Nested@h/db' connect_timeout=2",
       "dbname='postgresql://u:***@h/db' connect_timeout=2",
       {"Pw0rd-Nested"}},
      {"no scheme", "admin:Pw0rd-NoScheme@db/x", "admin:***@db/x", {"Pw0rd-NoScheme"}},
      {"other scheme",
       "mysql://admin:Pw0rd-Mysql@db:3306/x",
       "mysql://admin:***@db:3306/x",
       {"Pw0rd-Mysql"}},
  };
}

TEST(RedactTest, EveryFormOfPasswordIsRedactedAndTheRestKept) {
  for (const Form& form : Forms()) {
    SCOPED_TRACE(form.name);
    const std::string redacted = RedactStoreUrl(form.url);
    EXPECT_EQ(redacted, form.redacted);
    for (const std::string& secret : form.secrets) {
      EXPECT_EQ(redacted.find(secret), std::string::npos) << secret;
    }
  }
}

TEST(RedactTest, UrlsWithoutAPasswordAreUnchanged) {
  for (const std::string url :
       {"sqlite:./data/tokend.db", "sqlite::memory:", "sqlite:/tmp/odd:name@x.db?password=x",
        "postgresql://tokend@127.0.0.1:5432/tokend?sslmode=require&application_name=a@b",
        "postgresql:///tokend?host=/var/run/postgresql", "host=db dbname=tokend user=tokend", ""}) {
    EXPECT_EQ(RedactStoreUrl(url), url);
    EXPECT_TRUE(PasswordFragments(url).empty()) << url;
  }
}

TEST(RedactTest, MessagesLoseEveryPieceOfThePassword) {
  for (const Form& form : Forms()) {
    SCOPED_TRACE(form.name);
    // What libpq says about postgresql://u:p@ss@host: "ss@host" became the host.
    std::string message = "cannot connect to " + form.url + ":";
    for (const std::string& secret : form.secrets) message += " \"" + secret + "\"";
    const std::string redacted = RedactStoreSecrets(form.url, message);
    for (const std::string& secret : form.secrets) {
      EXPECT_EQ(redacted.find(secret), std::string::npos) << secret << " in " << redacted;
    }
    EXPECT_TRUE(redacted.starts_with("cannot connect to ")) << redacted;
  }
  EXPECT_EQ(RedactStoreSecrets("postgresql://u:pw@h/db", "nothing secret here"),
            "nothing secret here");
}

TEST(RedactTest, FragmentsAreReplacedLongestFirst) {
  const std::vector<std::string> fragments = {"ab", "abcd"};
  EXPECT_EQ(RedactFragments("xabcdyab", fragments), "x***y***");
  EXPECT_EQ(RedactFragments("", fragments), "");
  EXPECT_EQ(RedactFragments("plain", {}), "plain");
}

// The PostgreSQL backend's own redaction covers the same forms, and so do
// the errors of opening a store that cannot be reached or parsed.
TEST(RedactTest, PostgresErrorsNeverCarryThePassword) {
  for (const Form& form : Forms()) {
    SCOPED_TRACE(form.name);
    Result<pg::ConnectionConfig> config = pg::ConnectionConfig::Parse(form.url, 2);
    if (config.ok()) {
      std::string message = form.url;
      for (const std::string& secret : form.secrets) message += " " + secret;
      const std::string redacted = config->Redact(message);
      for (const std::string& secret : form.secrets) {
        EXPECT_EQ(redacted.find(secret), std::string::npos) << secret << " in " << redacted;
      }
    }
    if (std::string_view(form.name) == "postgres scheme") continue;  // not a local address
    StoreOptions options;
    options.connect_timeout_seconds = 2;
    Result<std::unique_ptr<TokenStore>> store = TokenStore::Open(form.url, options);
    ASSERT_FALSE(store.ok());
    for (const std::string& secret : form.secrets) {
      EXPECT_EQ(store.status().message().find(secret), std::string::npos)
          << secret << " in " << store.status().message();
    }
  }
}

}  // namespace
}  // namespace tokend::store
