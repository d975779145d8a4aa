// Prometheus metrics, rendered in the text exposition format (version 0.0.4).
//
// Thread safety: all Record* methods are lock-free or take a short lock and
// may be called from any thread; Render may run concurrently with them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/token.h"

namespace tokend::http {

// Webhook delivery figures (API 8.2): the deliverer's counters and, when the
// store answered, its outbox.
struct WebhookFigures {
  std::uint64_t delivered = 0;  // tries answered 2xx
  std::uint64_t retried = 0;    // failed tries to be tried again
  std::uint64_t failed = 0;     // deliveries given up
  bool outbox_known = false;    // false: the store did not answer
  std::int64_t events_waiting = 0;
  std::int64_t events_failed = 0;
  double oldest_waiting_seconds = 0;  // 0 when none waits
};

struct MetricsSnapshotExtras {
  // Stored tokens by type (from the store at scrape time); nullopt when the
  // store did not answer (the family is then left out, rather than read 0).
  std::optional<std::vector<std::pair<core::TokenType, std::int64_t>>> tokens_by_type;
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t cache_invalidations = 0;
  std::uint64_t unknown_checksummed = 0;  // store lookups of unknown secrets, by form
  std::uint64_t unknown_legacy = 0;
  std::uint64_t reuse_detected = 0;  // retired secrets presented after their overlap
  bool store_up = true;
  std::optional<WebhookFigures> webhooks;  // absent: no webhook source set
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // One finished request. `route` is the route template ("POST
  // /api/v2/token", "GET /api/v2/token/{id}", "unmatched"), never the raw
  // path, so no id or secret can become a label.
  void RecordRequest(std::string_view route, int http_status, double seconds);

  // An authentication failure by reason: "missing", "malformed", "unknown"
  // (unknown, deleted or expired), "unavailable".
  void RecordAuthFailure(std::string_view reason);

  // Open connections (gauge).
  void ConnectionOpened();
  void ConnectionClosed();

  // Where webhook figures come from (set once, before the server starts).
  // The source may read the store: call ReadWebhookFigures off the I/O
  // threads.
  // `store_answers` false: the store just failed to answer, and the source
  // must not ask it again (a scrape waits for one call timeout at most).
  void SetWebhookSource(std::function<WebhookFigures(bool store_answers)> source);
  std::optional<WebhookFigures> ReadWebhookFigures(bool store_answers) const;

  // tokend_http_requests_total{route,status}, tokend_http_request_duration_seconds
  // histogram{route}, tokend_auth_failures_total{reason},
  // tokend_open_connections, tokend_tokens{type}, tokend_cache_hits_total,
  // tokend_cache_misses_total, tokend_cache_invalidations_total, tokend_store_up,
  // and with webhook figures tokend_webhook_deliveries_total{outcome},
  // tokend_webhook_events_waiting, tokend_webhook_events_failed,
  // tokend_webhook_oldest_waiting_seconds.
  std::string Render(const MetricsSnapshotExtras& extras) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokend::http
