#include "http/metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <string>

namespace tokend::http {
namespace {

// Upper bounds (seconds) of the latency histogram; +Inf is implicit.
constexpr std::array<double, 13> kBucketBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  5};
constexpr std::array<std::string_view, 13> kBucketLabels = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5"};
constexpr std::size_t kBuckets = kBucketBounds.size() + 1;  // with +Inf

// Route templates are a small fixed set; the table is bounded anyway so that
// a caller bug cannot grow memory or label cardinality without limit. Once
// full, further routes are counted under kOverflowRoute.
constexpr std::size_t kMaxRoutes = 64;
constexpr std::string_view kOverflowRoute = "other";
constexpr std::size_t kMaxAuthReasons = 16;
constexpr std::string_view kOverflowReason = "other";

// Status counters cover 100..599; anything else is counted as 0.
constexpr int kMinStatus = 100;
constexpr int kMaxStatus = 599;
constexpr std::size_t kStatusSlots = kMaxStatus - kMinStatus + 2;

struct RouteStats {
  explicit RouteStats(std::string_view name) : route(name) {}

  const std::string route;
  std::array<std::atomic<std::uint64_t>, kStatusSlots> by_status{};
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets{};  // not cumulative
  std::atomic<std::uint64_t> sum_nanos{0};
};

std::size_t StatusSlot(int http_status) {
  if (http_status < kMinStatus || http_status > kMaxStatus) return 0;
  return static_cast<std::size_t>(http_status - kMinStatus + 1);
}

int StatusOfSlot(std::size_t slot) {
  return slot == 0 ? 0 : static_cast<int>(slot) - 1 + kMinStatus;
}

std::size_t BucketOf(double seconds) {
  return static_cast<std::size_t>(
      std::lower_bound(kBucketBounds.begin(), kBucketBounds.end(), seconds) -
      kBucketBounds.begin());
}

// Prometheus label value: backslash, double quote and newline escaped.
void AppendLabelValue(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

void AppendUint(std::string& out, std::uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void AppendInt(std::string& out, std::int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void AppendDouble(std::string& out, double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// A metric without labels: its HELP and TYPE lines, then "name value".
void AppendUnlabelled(std::string& out, std::string_view name, std::string_view type,
                      std::string_view help, std::uint64_t value) {
  AppendHeader(out, name, type, help);
  out.append(name).push_back(' ');
  AppendUint(out, value);
  out.push_back('\n');
}

void AppendWebhookFigures(std::string& out, const WebhookFigures& figures) {
  AppendHeader(out, "tokend_webhook_deliveries_total", "counter",
               "Webhook delivery tries by outcome: delivered (2xx), retried (failed, tried "
               "again later) or failed (given up).");
  const std::pair<std::string_view, std::uint64_t> outcomes[] = {
      {"delivered", figures.delivered}, {"retried", figures.retried}, {"failed", figures.failed}};
  for (const auto& [outcome, count] : outcomes) {
    out.append("tokend_webhook_deliveries_total{outcome=\"").append(outcome).append("\"} ");
    AppendUint(out, count);
    out.push_back('\n');
  }
  if (!figures.outbox_known) return;  // the store did not answer: no made-up gauges
  AppendHeader(out, "tokend_webhook_events_waiting", "gauge",
               "Webhook deliveries waiting in the outbox (neither delivered nor failed).");
  out.append("tokend_webhook_events_waiting ");
  AppendUint(out, static_cast<std::uint64_t>(std::max<std::int64_t>(figures.events_waiting, 0)));
  out.push_back('\n');
  AppendHeader(out, "tokend_webhook_events_failed", "gauge",
               "Webhook deliveries given up after 3 days of retries, kept in the outbox.");
  out.append("tokend_webhook_events_failed ");
  AppendUint(out, static_cast<std::uint64_t>(std::max<std::int64_t>(figures.events_failed, 0)));
  out.push_back('\n');
  AppendHeader(out, "tokend_webhook_oldest_waiting_seconds", "gauge",
               "Age of the oldest waiting webhook delivery (0 when none waits).");
  out.append("tokend_webhook_oldest_waiting_seconds ");
  AppendDouble(out, figures.oldest_waiting_seconds);
  out.push_back('\n');
}

}  // namespace

struct Metrics::Impl {
  std::function<WebhookFigures(bool store_answers)> webhook_source;
  // Lock-free on the hot path: a route's slot is found by scanning the
  // published prefix of `routes`, whose entries never move or change once
  // published. Only the first request of a new route takes `insert_mutex`.
  std::array<std::unique_ptr<RouteStats>, kMaxRoutes> routes;
  std::atomic<std::size_t> route_count{0};
  std::mutex insert_mutex;

  std::atomic<std::int64_t> open_connections{0};

  mutable std::mutex auth_mutex;
  std::map<std::string, std::uint64_t, std::less<>> auth_failures;

  RouteStats* Find(std::string_view route, std::size_t count) const {
    for (std::size_t i = 0; i < count; ++i) {
      if (routes[i]->route == route) return routes[i].get();
    }
    return nullptr;
  }

  RouteStats& StatsFor(std::string_view route) {
    if (RouteStats* stats = Find(route, route_count.load(std::memory_order_acquire))) {
      return *stats;
    }
    std::lock_guard<std::mutex> lock(insert_mutex);
    std::size_t count = route_count.load(std::memory_order_relaxed);
    if (RouteStats* stats = Find(route, count)) return *stats;
    if (count == kMaxRoutes - 1 && route != kOverflowRoute) {
      // Keep the last slot for the overflow route.
      if (RouteStats* stats = Find(kOverflowRoute, count)) return *stats;
      route = kOverflowRoute;
    } else if (count == kMaxRoutes) {
      return *routes[count - 1];
    }
    routes[count] = std::make_unique<RouteStats>(route);
    route_count.store(count + 1, std::memory_order_release);
    return *routes[count];
  }
};

void Metrics::SetWebhookSource(std::function<WebhookFigures(bool store_answers)> source) {
  impl_->webhook_source = std::move(source);
}

std::optional<WebhookFigures> Metrics::ReadWebhookFigures(bool store_answers) const {
  if (!impl_->webhook_source) return std::nullopt;
  return impl_->webhook_source(store_answers);
}

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}

Metrics::~Metrics() = default;

void Metrics::RecordRequest(std::string_view route, int http_status, double seconds) {
  RouteStats& stats = impl_->StatsFor(route);
  if (!(seconds >= 0)) seconds = 0;  // negative or NaN: a clock bug, not a request
  stats.by_status[StatusSlot(http_status)].fetch_add(1, std::memory_order_relaxed);
  stats.buckets[BucketOf(seconds)].fetch_add(1, std::memory_order_relaxed);
  const double nanos = std::min(seconds * 1e9, 1e15);
  stats.sum_nanos.fetch_add(static_cast<std::uint64_t>(std::llround(nanos)),
                            std::memory_order_relaxed);
}

void Metrics::RecordAuthFailure(std::string_view reason) {
  std::lock_guard<std::mutex> lock(impl_->auth_mutex);
  auto it = impl_->auth_failures.find(reason);
  if (it == impl_->auth_failures.end()) {
    if (impl_->auth_failures.size() >= kMaxAuthReasons) reason = kOverflowReason;
    it = impl_->auth_failures.try_emplace(std::string(reason), 0).first;
  }
  ++it->second;
}

void Metrics::ConnectionOpened() {
  impl_->open_connections.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::ConnectionClosed() {
  impl_->open_connections.fetch_sub(1, std::memory_order_relaxed);
}

std::string Metrics::Render(const MetricsSnapshotExtras& extras) const {
  const std::size_t count = impl_->route_count.load(std::memory_order_acquire);
  std::vector<const RouteStats*> routes;
  routes.reserve(count);
  for (std::size_t i = 0; i < count; ++i) routes.push_back(impl_->routes[i].get());
  std::sort(routes.begin(), routes.end(),
            [](const RouteStats* a, const RouteStats* b) { return a->route < b->route; });

  std::string out;
  out.reserve(2048 + count * 2048);

  AppendHeader(out, "tokend_http_requests_total", "counter",
               "HTTP requests answered, by route template and status.");
  for (const RouteStats* stats : routes) {
    for (std::size_t slot = 0; slot < kStatusSlots; ++slot) {
      const std::uint64_t n = stats->by_status[slot].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out.append("tokend_http_requests_total{route=\"");
      AppendLabelValue(out, stats->route);
      out.append("\",status=\"");
      AppendInt(out, StatusOfSlot(slot));
      out.append("\"} ");
      AppendUint(out, n);
      out.push_back('\n');
    }
  }

  AppendHeader(out, "tokend_http_request_duration_seconds", "histogram",
               "HTTP request latency in seconds, by route template.");
  for (const RouteStats* stats : routes) {
    std::string label;
    AppendLabelValue(label, stats->route);
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      cumulative += stats->buckets[b].load(std::memory_order_relaxed);
      out.append("tokend_http_request_duration_seconds_bucket{route=\"");
      out.append(label);
      out.append("\",le=\"");
      out.append(b < kBucketLabels.size() ? kBucketLabels[b] : std::string_view("+Inf"));
      out.append("\"} ");
      AppendUint(out, cumulative);
      out.push_back('\n');
    }
    out.append("tokend_http_request_duration_seconds_sum{route=\"");
    out.append(label);
    out.append("\"} ");
    AppendDouble(out, static_cast<double>(stats->sum_nanos.load(std::memory_order_relaxed)) / 1e9);
    out.push_back('\n');
    // The +Inf bucket, so that _count always equals it.
    out.append("tokend_http_request_duration_seconds_count{route=\"");
    out.append(label);
    out.append("\"} ");
    AppendUint(out, cumulative);
    out.push_back('\n');
  }

  AppendHeader(out, "tokend_auth_failures_total", "counter",
               "Requests refused as unauthenticated, by reason.");
  {
    std::lock_guard<std::mutex> lock(impl_->auth_mutex);
    for (const auto& [reason, n] : impl_->auth_failures) {
      out.append("tokend_auth_failures_total{reason=\"");
      AppendLabelValue(out, reason);
      out.append("\"} ");
      AppendUint(out, n);
      out.push_back('\n');
    }
  }

  AppendHeader(out, "tokend_open_connections", "gauge", "Open HTTP connections.");
  out.append("tokend_open_connections ");
  AppendInt(out, impl_->open_connections.load(std::memory_order_relaxed));
  out.push_back('\n');

  if (extras.tokens_by_type) AppendHeader(out, "tokend_tokens", "gauge", "Stored tokens, by type.");
  for (const core::TokenType type : core::kAllTokenTypes) {
    if (!extras.tokens_by_type) break;
    std::int64_t n = 0;
    for (const auto& [stored_type, stored] : *extras.tokens_by_type) {
      if (stored_type == type) n += stored;
    }
    out.append("tokend_tokens{type=\"");
    AppendLabelValue(out, core::ToString(type));
    out.append("\"} ");
    AppendInt(out, n);
    out.push_back('\n');
  }

  AppendUnlabelled(out, "tokend_cache_hits_total", "counter",
                   "Secret resolutions answered from the cache.", extras.cache_hits);
  AppendUnlabelled(out, "tokend_cache_misses_total", "counter",
                   "Secret resolutions that had to ask the store.", extras.cache_misses);
  AppendUnlabelled(out, "tokend_cache_invalidations_total", "counter",
                   "Cache entries dropped because their token was deleted.",
                   extras.cache_invalidations);
  AppendHeader(out, "tokend_unknown_secrets_total", "counter",
               "Well-formed secrets that no stored token has (each cost a store lookup), by "
               "form: checksummed or legacy (no checksum).");
  out.append("tokend_unknown_secrets_total{form=\"checksummed\"} ");
  AppendUint(out, extras.unknown_checksummed);
  out.append("\ntokend_unknown_secrets_total{form=\"legacy\"} ");
  AppendUint(out, extras.unknown_legacy);
  out.push_back('\n');
  AppendUnlabelled(out, "tokend_reuse_detected_total", "counter",
                   "Retired secrets presented after their rotation overlap, each of which revoked "
                   "its rotation family.",
                   extras.reuse_detected);
  AppendUnlabelled(out, "tokend_store_up", "gauge",
                   "1 when the token store answers and takes writes (as /health says UP), else 0.",
                   extras.store_up ? 1 : 0);
  if (extras.webhooks) AppendWebhookFigures(out, *extras.webhooks);
  return out;
}

}  // namespace tokend::http
