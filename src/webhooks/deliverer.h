// Delivers the webhook outbox (API 8.2): background threads claim due
// deliveries from the store, POST each to its receiver and record the
// outcome. Never on the request path.
//
// Thread safety: Start and Stop from one thread; counts() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/webhook_retry.h"
#include "core/webhook_signature.h"
#include "store/token_store.h"
#include "webhooks/http_client.h"

namespace tokend::webhooks {

struct DelivererOptions {
  // Threads posting at once. A receiver takes one of them until it answers
  // 2xx within prompt_answer, then up to all but one: one that fails, hangs
  // or answers slowly holds one thread at most, so with a thread more than
  // there are receivers, one that answers promptly always finds one free.
  int threads = 4;
  std::chrono::milliseconds prompt_answer{1'000};
  // How long a claimed delivery is ours: no other instance claims it
  // meanwhile; a try abandoned by a stop or a crash is retried after it.
  std::chrono::milliseconds lease{60'000};
  // How long a thread waits before asking the store again when nothing was
  // due (so a new event goes out within about this long).
  std::chrono::milliseconds idle_poll{1'000};
  core::WebhookRetryPolicy retry;
};

struct DeliveryCounts {
  std::uint64_t delivered = 0;  // tries answered 2xx
  std::uint64_t retried = 0;    // failed tries to be tried again
  std::uint64_t failed = 0;     // deliveries given up (marked failed)
};

class Deliverer {
 public:
  // `store` and `client` must outlive the deliverer.
  Deliverer(store::TokenStore& store, const HttpClient& client, core::WebhookSecret secret,
            DelivererOptions options);
  ~Deliverer();  // Stop()
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  void Start();
  // Asks every thread to stop, without waiting: a shutdown asks first, so
  // that a thread in a store call ends it while the shutdown does the rest.
  void RequestStop();
  // Asks every thread to stop and waits for them: a try in flight is
  // abandoned at once (its delivery is tried again when its lease ends).
  void Stop();

  DeliveryCounts counts() const;

 private:
  class Receivers;
  void Run(std::stop_token stop, int thread_index);
  core::Result<std::vector<store::Delivery>> Claim();
  void Deliver(const store::Delivery& delivery, std::stop_token stop);
  void Finish(const store::Delivery& delivery, const store::DeliveryOutcome& outcome);

  store::TokenStore& store_;
  const HttpClient& client_;
  const core::WebhookSecret secret_;
  const DelivererOptions options_;
  std::unique_ptr<Receivers> receivers_;
  std::mutex claim_mutex_;
  std::vector<std::jthread> threads_;
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace tokend::webhooks
