#include "webhooks/deliverer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>

#include "core/time.h"
#include "core/webhook_url.h"

namespace tokend::webhooks {
namespace {

double RandomUnit() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

// Waits `duration` unless a stop is requested first.
void Pause(std::stop_token stop, std::chrono::milliseconds duration) {
  std::mutex mutex;
  std::condition_variable_any woken;
  std::unique_lock lock(mutex);
  woken.wait_for(lock, stop, duration, [] { return false; });
}

std::string DescribeAnswer(int status) {
  std::string text = "answered HTTP " + std::to_string(status);
  if (status >= 300 && status <= 399) text += " (redirects are not followed)";
  return text;
}

}  // namespace

// What the deliverer knows of each receiver URL: once a try to it failed,
// its other due deliveries wait for the same retry time instead of each
// costing a thread up to the timeout, and then a single try (the probe)
// finds out whether it is back. A receiver that hangs or fails so delays only
// its own deliveries.
class Deliverer::Receivers {
 public:
  // 0: try now. Otherwise the time to put the delivery off to.
  core::EpochMillis Admit(const std::string& url, core::EpochMillis now,
                          std::int64_t probe_wait_millis) {
    std::lock_guard lock(mutex_);
    auto found = states_.find(url);
    if (found == states_.end()) return 0;
    State& state = found->second;
    if (now < state.blocked_until) return state.blocked_until;
    if (state.probing) return now + probe_wait_millis;
    state.probing = true;
    return 0;
  }

  // A try failed: the receiver's count of failures in a row.
  int Failed(const std::string& url) {
    std::lock_guard lock(mutex_);
    State& state = states_[url];
    state.probing = false;
    return ++state.failures;
  }

  void BlockUntil(const std::string& url, core::EpochMillis until) {
    std::lock_guard lock(mutex_);
    states_[url].blocked_until = until;
  }

  void Succeeded(const std::string& url) {
    std::lock_guard lock(mutex_);
    states_.erase(url);
  }

  void Abandoned(const std::string& url) {
    std::lock_guard lock(mutex_);
    if (auto found = states_.find(url); found != states_.end()) found->second.probing = false;
  }

 private:
  struct State {
    int failures = 0;
    core::EpochMillis blocked_until = 0;
    bool probing = false;
  };
  std::mutex mutex_;
  std::map<std::string, State> states_;
};

Deliverer::Deliverer(store::TokenStore& store, const HttpClient& client, core::WebhookSecret secret,
                     DelivererOptions options)
    : store_(store),
      client_(client),
      secret_(std::move(secret)),
      options_(std::move(options)),
      receivers_(std::make_unique<Receivers>()) {}

Deliverer::~Deliverer() { Stop(); }

void Deliverer::Start() {
  const int threads = std::max(options_.threads, 1);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i](std::stop_token stop) { Run(stop, i); });
  }
}

void Deliverer::Stop() {
  for (std::jthread& thread : threads_) thread.request_stop();
  threads_.clear();  // joins
}

DeliveryCounts Deliverer::counts() const {
  return DeliveryCounts{delivered_.load(std::memory_order_relaxed),
                        retried_.load(std::memory_order_relaxed),
                        failed_.load(std::memory_order_relaxed)};
}

void Deliverer::Run(std::stop_token stop, int thread_index) {
  // Spread the threads' polls over the idle interval.
  Pause(stop, options_.idle_poll * thread_index / std::max(options_.threads, 1));
  bool store_failing = false;
  while (!stop.stop_requested()) {
    // One delivery a claim: a slow receiver never holds up another's
    // delivery claimed alongside it.
    auto claimed = store_.ClaimDeliveries(core::NowMillis(), options_.lease.count(), 1);
    if (!claimed.ok()) {
      if (!store_failing) {
        spdlog::warn("webhooks: cannot claim deliveries from the store: {}",
                     claimed.status().message());
      }
      store_failing = true;
      Pause(stop, options_.idle_poll);
      continue;
    }
    store_failing = false;
    if (claimed->empty()) {
      Pause(stop, options_.idle_poll);
      continue;
    }
    for (const store::Delivery& delivery : *claimed) {
      if (stop.stop_requested()) return;  // left to its lease
      Deliver(delivery, stop);
    }
  }
}

// Counters move after Finish: whoever reads a count then finds the outcome in
// the store.
void Deliverer::Finish(const store::Delivery& delivery, const store::DeliveryOutcome& outcome) {
  if (core::Status status = store_.FinishDelivery(delivery, outcome); !status.ok()) {
    // The lease runs out and the delivery is tried again: at least once.
    spdlog::warn("webhooks: cannot record the outcome of event {}: {}", delivery.event_id,
                 status.message());
  }
}

void Deliverer::Deliver(const store::Delivery& delivery, std::stop_token stop) {
  const core::WebhookRetryPolicy& policy = options_.retry;
  auto url = core::ParseWebhookUrl(delivery.url);
  if (!url.ok()) {
    // Only a store written by hand can hold one: it will never work.
    spdlog::warn("webhook event {} to {} failed after {} attempts: unusable URL: {}",
                 delivery.event_id, core::RedactWebhookUrl(delivery.url), delivery.attempts,
                 url.status().message());
    Finish(delivery, {store::DeliveryOutcome::Kind::kFailed, 0, url.status().message()});
    failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }

  const core::EpochMillis admitted_at = core::NowMillis();
  if (const core::EpochMillis wait_until =
          receivers_->Admit(delivery.url, admitted_at, policy.base_delay_millis)) {
    const core::EpochMillis retry_at =
        wait_until + static_cast<std::int64_t>(static_cast<double>(policy.base_delay_millis) *
                                               policy.jitter_fraction * RandomUnit());
    if (retry_at - delivery.queued_at <= policy.give_up_after_millis) {
      Finish(delivery, {store::DeliveryOutcome::Kind::kRetry, retry_at,
                        "put off: the receiver failed a moment ago"});
      return;
    }
    // Past the last try's time: fall through to one last try.
  }

  const std::int64_t timestamp_seconds = core::NowMillis() / 1000;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/json"},
      {"webhook-id", delivery.event_id},
      {"webhook-timestamp", std::to_string(timestamp_seconds)},
      {"webhook-signature", secret_.Sign(delivery.event_id, timestamp_seconds, delivery.payload)},
  };
  const PostResult result = client_.Post(*url, headers, delivery.payload, stop);
  if (result.status == 0 && stop.stop_requested()) {
    receivers_->Abandoned(delivery.url);
    return;  // left to its lease
  }
  if (core::IsWebhookDelivered(result.status)) {
    receivers_->Succeeded(delivery.url);
    Finish(delivery, {store::DeliveryOutcome::Kind::kDelivered, 0, {}});
    delivered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }

  const std::string error = result.status != 0 ? DescribeAnswer(result.status) : result.error;
  const int attempts = delivery.attempts + 1;
  const int failures_in_a_row = receivers_->Failed(delivery.url);
  const core::EpochMillis now = core::NowMillis();
  // The receiver is tried again after its own run of failures' delay; this
  // delivery after its own attempts' delay.
  receivers_->BlockUntil(delivery.url,
                         now + core::WebhookRetryDelayMillis(policy, failures_in_a_row, 0.0));
  const auto next =
      core::NextWebhookAttempt(policy, delivery.queued_at, attempts, now, RandomUnit());
  if (next) {
    Finish(delivery, {store::DeliveryOutcome::Kind::kRetry, *next, error});
    retried_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  spdlog::warn("webhook event {} to {} failed after {} attempts: {}", delivery.event_id,
               url->ForLogs(), attempts, error);
  Finish(delivery, {store::DeliveryOutcome::Kind::kFailed, 0, error});
  failed_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace tokend::webhooks
