// Outcome<T>: a value known now, or the blocking work that will produce it.
//
// Secret resolution and introspection return one, and so do every HTTP route
// and the authentication step. A cache hit is a ready
// value, and the session answers it without suspending (no coroutine frame,
// no trip through a thread pool). A miss is blocking work: the session runs it
// on the store pool, then runs the continuation it returns on the
// connection's own I/O thread, which may finish or ask for more work. So one
// function per route decides both paths, and nothing is done twice.
//
// Not thread-safe; an Outcome is moved between the I/O thread and the pool
// by the session, never shared.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace tokend::service {

template <typename T>
class [[nodiscard]] Outcome {
 public:
  // What runs on the I/O thread once the blocking work is done.
  using Resume = std::function<Outcome<T>()>;
  // What runs on the store pool; returns what to resume with.
  using Work = std::function<Resume()>;

  Outcome(T value) : ready_(std::move(value)) {}  // NOLINT: implicit by design

  // `call()` runs on the store pool; its result becomes the value.
  template <typename Call>
  static Outcome Blocking(Call call) {
    return Outcome(Work([call = std::move(call)]() mutable -> Resume {
      auto result = std::make_shared<T>(call());
      return [result] { return Outcome(std::move(*result)); };
    }));
  }

  bool ready() const { return ready_.has_value(); }
  // Precondition: ready().
  T& value() { return *ready_; }
  // Precondition: !ready(). Leaves this Outcome empty.
  Work TakeWork() { return std::move(work_); }

  // `next(value)` (an Outcome<U>) once the value is known: at once when it
  // is ready, else after the blocking work, on the I/O thread.
  template <typename Next>
  auto Then(Next next) && -> std::invoke_result_t<Next&, T&&> {
    using Chained = std::invoke_result_t<Next&, T&&>;
    if (ready_) return next(std::move(*ready_));
    return Chained::FromWork([work = std::move(work_), next]() mutable {
      Resume resume = work();
      return typename Chained::Resume(
          [resume = std::move(resume), next]() mutable { return resume().Then(next); });
    });
  }

  // Work that yields an Outcome<T> (see Then).
  static Outcome FromWork(Work work) { return Outcome(std::move(work)); }

 private:
  explicit Outcome(Work work) : work_(std::move(work)) {}

  std::optional<T> ready_;
  Work work_;
};

// The value of `outcome`, running its blocking work on the calling thread:
// for callers that may block anyway (command-line tools, tests).
template <typename T>
T CompleteHere(Outcome<T> outcome) {
  while (!outcome.ready()) {
    typename Outcome<T>::Resume resume = outcome.TakeWork()();
    outcome = resume();
  }
  return std::move(outcome.value());
}

}  // namespace tokend::service
