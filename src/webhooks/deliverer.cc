#include "webhooks/deliverer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>

#include "core/time.h"
#include "core/webhook_url.h"
#include "log/fields.h"

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

// What the deliverer knows of each receiver URL.
// - Tries in flight: a receiver takes one try at a time until its last try
//   was answered 2xx promptly, and then up to all threads but one. Claims
//   skip the receivers at their limit, so a receiver that hangs, fails or
//   answers slowly holds one thread, and never delays another receiver's
//   deliveries by its timeout or its slowness while a thread is left.
// - Failures: once a try failed, the receiver's other due deliveries wait
//   for the same retry time instead of each costing a thread up to the
//   timeout; the next claim of one is the single try that finds out whether
//   it is back.
class Deliverer::Receivers {
 public:
  explicit Receivers(int threads) : answering_limit_(std::max(threads - 1, 1)) {}

  // The URLs a claim skips: those at their limit of tries in flight.
  std::vector<std::string> AtTheirLimit() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> urls;
    for (const auto& [url, state] : states_) {
      if (state.in_flight >= (state.answering ? answering_limit_ : 1)) urls.push_back(url);
    }
    return urls;
  }

  // A claimed delivery to `url` is ours until Ended(url).
  void Started(const std::string& url) {
    std::lock_guard lock(mutex_);
    ++states_[url].in_flight;
  }

  void Ended(const std::string& url) {
    std::lock_guard lock(mutex_);
    auto found = states_.find(url);
    if (found == states_.end()) return;
    --found->second.in_flight;
    if (found->second.in_flight == 0 && found->second.failures == 0 && !found->second.answering) {
      states_.erase(found);
    }
  }

  // 0: try now. Otherwise the time to put the delivery off to.
  core::EpochMillis Admit(const std::string& url, core::EpochMillis now) const {
    std::lock_guard lock(mutex_);
    auto found = states_.find(url);
    if (found == states_.end() || now >= found->second.blocked_until) return 0;
    return found->second.blocked_until;
  }

  // A try failed: the receiver's count of failures in a row. From now on it
  // takes one try at a time.
  int Failed(const std::string& url) {
    std::lock_guard lock(mutex_);
    State& state = states_[url];
    state.answering = false;
    return ++state.failures;
  }

  void BlockUntil(const std::string& url, core::EpochMillis until) {
    std::lock_guard lock(mutex_);
    states_[url].blocked_until = until;
  }

  // A try was answered 2xx; `prompt`: within the deliverer's prompt_answer.
  void Succeeded(const std::string& url, bool prompt) {
    std::lock_guard lock(mutex_);
    State& state = states_[url];
    state.answering = prompt;
    state.failures = 0;
    state.blocked_until = 0;
  }

 private:
  struct State {
    int in_flight = 0;
    bool answering = false;  // its last try was answered 2xx, promptly
    int failures = 0;        // in a row
    core::EpochMillis blocked_until = 0;
  };
  const int answering_limit_;
  mutable std::mutex mutex_;
  std::map<std::string, State> states_;
};

Deliverer::Deliverer(store::TokenStore& store, const HttpClient& client, core::WebhookSecret secret,
                     DelivererOptions options)
    : store_(store),
      client_(client),
      secret_(std::move(secret)),
      options_(std::move(options)),
      receivers_(std::make_unique<Receivers>(std::max(options_.threads, 1))) {}

Deliverer::~Deliverer() { Stop(); }

void Deliverer::Start() {
  const int threads = std::max(options_.threads, 1);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i](std::stop_token stop) { Run(stop, i); });
  }
}

void Deliverer::RequestStop() {
  for (std::jthread& thread : threads_) thread.request_stop();
}

void Deliverer::Stop() {
  RequestStop();
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
    auto claimed = Claim();
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
    const store::Delivery& delivery = claimed->front();
    Deliver(delivery, stop);
    receivers_->Ended(delivery.url);
  }
}

// One delivery a claim, so that a slow receiver never holds up another's
// delivery claimed alongside it. Claims are made one at a time: each sees the
// tries the others started.
core::Result<std::vector<store::Delivery>> Deliverer::Claim() {
  std::lock_guard claiming(claim_mutex_);
  auto claimed = store_.ClaimDeliveries(core::NowMillis(), options_.lease.count(), 1,
                                        receivers_->AtTheirLimit());
  if (claimed.ok() && !claimed->empty()) receivers_->Started(claimed->front().url);
  return claimed;
}

// Counters move after Finish: whoever reads a count then finds the outcome in
// the store.
void Deliverer::Finish(const store::Delivery& delivery, const store::DeliveryOutcome& outcome) {
  if (core::Status status = store_.FinishDelivery(delivery, outcome); !status.ok()) {
    // The lease runs out and the delivery is tried again: at least once.
    log::Warn("webhooks: cannot record a delivery's outcome",
              {{"event_id", delivery.event_id}, {"error", std::string(status.message())}});
  }
}

void Deliverer::Deliver(const store::Delivery& delivery, std::stop_token stop) {
  const core::WebhookRetryPolicy& policy = options_.retry;
  auto url = core::ParseWebhookUrl(delivery.url);
  if (!url.ok()) {
    // Only a store written by hand can hold one: it will never work.
    log::Warn("webhooks: delivery failed for good: unusable URL",
              {{"event_id", delivery.event_id},
               {"url", core::RedactWebhookUrl(delivery.url)},
               {"attempts", std::to_string(delivery.attempts)},
               {"error", std::string(url.status().message())}});
    Finish(delivery, {store::DeliveryOutcome::Kind::kFailed, 0, url.status().message()});
    failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }

  const core::EpochMillis admitted_at = core::NowMillis();
  if (const core::EpochMillis wait_until = receivers_->Admit(delivery.url, admitted_at)) {
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
  const auto posted = std::chrono::steady_clock::now();
  const PostResult result = client_.Post(*url, headers, delivery.payload, stop);
  if (result.status == 0 && stop.stop_requested()) return;  // left to its lease
  if (core::IsWebhookDelivered(result.status)) {
    receivers_->Succeeded(delivery.url,
                          std::chrono::steady_clock::now() - posted < options_.prompt_answer);
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
  log::Warn("webhooks: delivery failed for good", {{"event_id", delivery.event_id},
                                                   {"url", url->ForLogs()},
                                                   {"attempts", std::to_string(attempts)},
                                                   {"error", error}});
  Finish(delivery, {store::DeliveryOutcome::Kind::kFailed, 0, error});
  failed_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace tokend::webhooks
