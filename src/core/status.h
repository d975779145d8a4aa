// Status and Result<T>: the one error type that crosses every layer of tokend.
//
// A Status is either ok or carries an ApiError (the numeric `code` and
// `reason` of the error body clients see, and through core::HttpStatusOf the
// HTTP status) and a human-readable message. Its StatusCode, the closed class
// callers branch on, is derived from the ApiError, so the two cannot disagree. Library errors
// (SQLite codes, SQLSTATEs, JSON parse errors) are translated into a Status
// where they arise; invalid input is never reported by exception.
//
// Thread safety: values; safe to copy between threads.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "core/api_error.h"

namespace tokend::core {

enum class StatusCode {
  kOk,
  kInvalidArgument,   // 400
  kNotFound,          // 404
  kAlreadyExists,     // 409
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kUnavailable,       // 503
  kInternal,          // 500
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status Ok() { return Status(); }
  // The error `error` (kNone is taken as kInternal: an error must be one).
  static Status Error(ApiError error, std::string message) {
    return Status(error == ApiError::kNone ? ApiError::kInternal : error, std::move(message));
  }
  // `error` must be one of the 400 errors (a request that is malformed).
  static Status InvalidArgument(std::string message,
                                ApiError error = ApiError::kRequestInvalidParams) {
    assert(DefaultStatusCode(error) == StatusCode::kInvalidArgument);
    return Status(error, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(ApiError::kTokenNotFound, std::move(message));
  }
  static Status AlreadyExists(std::string message) {
    return Status(ApiError::kAlreadyExists, std::move(message));
  }
  static Status Unauthenticated(std::string message) {
    return Status(ApiError::kUnauthenticated, std::move(message));
  }
  static Status PermissionDenied(std::string message) {
    return Status(ApiError::kPermissionDenied, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(ApiError::kStoreUnavailable, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(ApiError::kInternal, std::move(message));
  }

  bool ok() const { return api_error_ == ApiError::kNone; }
  StatusCode code() const { return ok() ? StatusCode::kOk : DefaultStatusCode(api_error_); }
  ApiError api_error() const { return api_error_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: <message>" style text, for logs and test failures.
  std::string ToString() const;

  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsUnavailable() const { return code() == StatusCode::kUnavailable; }

 private:
  Status(ApiError error, std::string message) : api_error_(error), message_(std::move(message)) {}

  ApiError api_error_ = ApiError::kNone;
  std::string message_;
};

// Result<T> holds either a value or a non-ok Status (std::expected-style).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(state_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // Precondition: ok().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Ok status when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace tokend::core
