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
// Work that needs no thread of its own (a write the store queues to its
// writer) is submitted instead: started on the I/O thread, it hands what to
// resume with to its Finish, once, from whichever thread finishes it; the
// session then resumes on the I/O thread as after blocking work.
//
// Not thread-safe; an Outcome is moved between the I/O thread and the pool
// by the session, never shared.
#pragma once

#include <functional>
#include <future>
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
  // Takes what to resume with; called once, from any thread.
  using Finish = std::function<void(Resume)>;
  // Work started on the I/O thread without blocking it; calls its Finish
  // once done.
  using Submit = std::function<void(Finish)>;

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
  // True when the work is submitted rather than blocking.
  bool submitted() const { return static_cast<bool>(submit_); }
  // Precondition: ready().
  T& value() { return *ready_; }
  // Precondition: !ready() && !submitted(). Leaves this Outcome empty.
  Work TakeWork() { return std::move(work_); }
  // Precondition: submitted(). Leaves this Outcome empty.
  Submit TakeSubmit() { return std::move(submit_); }

  // `next(value)` (an Outcome<U>) once the value is known: at once when it
  // is ready, else after the blocking work, on the I/O thread.
  template <typename Next>
  auto Then(Next next) && -> std::invoke_result_t<Next&, T&&> {
    using Chained = std::invoke_result_t<Next&, T&&>;
    if (ready_) return next(std::move(*ready_));
    if (submit_) {
      return Chained::FromSubmit(
          [submit = std::move(submit_), next](typename Chained::Finish finish) mutable {
            submit([finish = std::move(finish), next](Resume resume) mutable {
              finish(typename Chained::Resume(
                  [resume = std::move(resume), next]() mutable { return resume().Then(next); }));
            });
          });
    }
    return Chained::FromWork([work = std::move(work_), next]() mutable {
      Resume resume = work();
      return typename Chained::Resume(
          [resume = std::move(resume), next]() mutable { return resume().Then(next); });
    });
  }

  // Work that yields an Outcome<T> (see Then).
  static Outcome FromWork(Work work) { return Outcome(std::move(work)); }
  // Submitted work that yields an Outcome<T>.
  static Outcome FromSubmit(Submit submit) { return Outcome(std::move(submit)); }

 private:
  explicit Outcome(Work work) : work_(std::move(work)) {}
  explicit Outcome(Submit submit) : submit_(std::move(submit)) {}

  std::optional<T> ready_;
  Work work_;
  Submit submit_;
};

// What submitted work resumes with, waiting for it on the calling thread.
template <typename T>
typename Outcome<T>::Resume WaitForSubmitted(typename Outcome<T>::Submit submit) {
  std::promise<typename Outcome<T>::Resume> resumed;
  std::future<typename Outcome<T>::Resume> result = resumed.get_future();
  submit([&resumed](typename Outcome<T>::Resume resume) { resumed.set_value(std::move(resume)); });
  return result.get();
}

// The value of `outcome`, running its blocking work on the calling thread:
// for callers that may block anyway (command-line tools, tests).
template <typename T>
T CompleteHere(Outcome<T> outcome) {
  while (!outcome.ready()) {
    typename Outcome<T>::Resume resume =
        outcome.submitted() ? WaitForSubmitted<T>(outcome.TakeSubmit()) : outcome.TakeWork()();
    outcome = resume();
  }
  return std::move(outcome.value());
}

}  // namespace tokend::service
