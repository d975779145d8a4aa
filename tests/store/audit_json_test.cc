// The JSON forms of audit events: exact canonical text, escaping, and the
// served and webhook forms built on it.
#include "store/audit_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "store/audit_log.h"

namespace tokend::store {
namespace {

core::AuditEvent SampleEvent() {
  core::AuditEvent event;
  event.id = "65f0a1b2c3d4e5f601234567";
  event.time = 1'770'000'000'123;
  event.action = core::AuditAction::kRevoked;
  event.subject = {"65f0a1b2c3d4e5f60123aaaa", core::TokenType::kUser, "u1", "laptop"};
  return event;
}

TEST(AuditJsonTest, MinimalEventHasExactlyTheRequiredMembers) {
  core::AuditEvent event = SampleEvent();
  event.subject.type = core::TokenType::kGlobal;
  event.subject.principal = std::nullopt;
  EXPECT_EQ(CanonicalEventJson(event),
            R"({"id":"65f0a1b2c3d4e5f601234567","time":"2026-02-02T02:40:00.123+00:00",)"
            R"("action":"token.revoked","subject":{"id":"65f0a1b2c3d4e5f60123aaaa",)"
            R"("type":"global","principal":null,"name":"laptop"}})");
}

TEST(AuditJsonTest, FullEventHasEveryMemberInOrder) {
  core::AuditEvent event = SampleEvent();
  event.origin.actor = core::EventActor{"65f0a1b2c3d4e5f60123bbbb", core::TokenType::kTeam, "ops"};
  event.origin.remote_address = "192.0.2.7";
  event.reason = "bulk";
  event.details = {{"rotatedTo", std::string("abc")}, {"daysRemaining", std::int64_t{6}}};
  EXPECT_EQ(CanonicalEventJson(event),
            R"({"id":"65f0a1b2c3d4e5f601234567","time":"2026-02-02T02:40:00.123+00:00",)"
            R"("action":"token.revoked","subject":{"id":"65f0a1b2c3d4e5f60123aaaa",)"
            R"("type":"user","principal":"u1","name":"laptop"},)"
            R"("actor":{"id":"65f0a1b2c3d4e5f60123bbbb","type":"team","principal":"ops"},)"
            R"("remoteAddress":"192.0.2.7","reason":"bulk",)"
            R"("details":{"rotatedTo":"abc","daysRemaining":6}})");
}

TEST(AuditJsonTest, HostileTextIsEscapedAndParsesBack) {
  core::AuditEvent event = SampleEvent();
  event.subject.name = "a\"b\\c\n\x01</script>é";
  event.subject.principal = "\"},\"hash\":\"x";
  const std::string text = CanonicalEventJson(event);
  const boost::json::value parsed = boost::json::parse(text);
  EXPECT_EQ(parsed.at("subject").at("name").as_string(), event.subject.name);
  EXPECT_EQ(parsed.at("subject").at("principal").as_string(), *event.subject.principal);
  EXPECT_FALSE(parsed.as_object().contains("hash"));
  EXPECT_EQ(text.find('\n'), std::string::npos);
}

TEST(AuditJsonTest, ServedFormAddsTheHashLastAndTheWebhookWrapsIt) {
  const core::AuditEvent event = SampleEvent();
  const std::string canonical = CanonicalEventJson(event);
  const std::string hash = core::ChainHash(core::kChainGenesis, canonical);
  const std::string served = ServedEventJson(canonical, hash);
  EXPECT_EQ(served, canonical.substr(0, canonical.size() - 1) + R"(,"hash":")" + hash + "\"}");
  EXPECT_EQ(WebhookPayload(event, served),
            R"({"type":"token.revoked","timestamp":"2026-02-02T02:40:00.123+00:00","data":)" +
                served + "}");
}

TEST(AuditJsonTest, ReadEventColumnsReadsWhatTheColumnsRepeat) {
  const core::AuditEvent event = SampleEvent();
  const std::optional<EventColumns> columns = ReadEventColumns(CanonicalEventJson(event));
  ASSERT_TRUE(columns);
  EXPECT_EQ(*columns, (EventColumns{event.id, core::FormatSpringDate(event.time), "token.revoked",
                                    event.subject.id, "user", "u1"}));
  EXPECT_FALSE(ReadEventColumns("not json"));
  EXPECT_FALSE(ReadEventColumns(R"({"id":"x"})"));
}

TEST(AuditChainTest, AppendedEventsLinkAndTheCheckerAcceptsThem) {
  ChainAppender chain(ChainTail{"w1"});
  std::vector<EventRow> rows;
  for (int i = 0; i < 3; ++i) {
    core::AuditEvent event = SampleEvent();
    event.id += std::to_string(i);
    rows.push_back(chain.Append(event));
  }
  EXPECT_EQ(chain.first_seq(), 1);
  EXPECT_EQ(chain.first_prev_hash(), core::kChainGenesis);
  EXPECT_EQ(rows[1].prev_hash, rows[0].hash);
  EXPECT_EQ(chain.tail().seq, 3);
  ChainChecker checker(
      "w1", ChainRecord{"w1", 1, std::string(core::kChainGenesis), 3, rows[2].hash, {}, {}}, 0);
  for (const EventRow& row : rows) {
    EXPECT_TRUE(checker.Add(StoredEvent{row.id, row.seq, row.time, row.action, row.subject_id,
                                        row.subject_type, row.subject_principal, row.body,
                                        row.prev_hash, row.hash}));
  }
  checker.Finish();
  EXPECT_FALSE(checker.broken()) << checker.problem();
  EXPECT_EQ(checker.events(), 3);
}

}  // namespace
}  // namespace tokend::store
