// Running a blocking call off the I/O threads.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <type_traits>
#include <utility>

namespace tokend::http {

// Runs `call()` on `blocking` and resumes the awaiting coroutine on its own
// executor with the result. Exceptions propagate to the awaiting coroutine.
// (Result<T> is not default-constructible, hence the std::optional hop.)
template <typename Call>
boost::asio::awaitable<std::invoke_result_t<Call&>> Offload(
    const boost::asio::any_io_executor& blocking, Call call) {
  using R = std::invoke_result_t<Call&>;
  std::optional<R> result = co_await boost::asio::co_spawn(
      blocking,
      [&call]() -> boost::asio::awaitable<std::optional<R>> { co_return std::optional<R>(call()); },
      boost::asio::use_awaitable);
  co_return std::move(*result);
}

}  // namespace tokend::http
