// Status and Result<T>: the one error type that crosses every layer of tokend.
//
// A Status is either ok or carries a StatusCode (the closed set below, which
// decides the HTTP status class), an ApiError (the numeric `code` and `reason`
// of the error body clients see) and a human-readable message. Library errors
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
  // `error` picks the code/reason of the error body; its default StatusCode is
  // the natural one for that error (see api_error.h).
  static Status Error(ApiError error, std::string message) {
    return Status(DefaultStatusCode(error), error, std::move(message));
  }
  static Status InvalidArgument(std::string message,
                                ApiError error = ApiError::kRequestInvalidParams) {
    return Status(StatusCode::kInvalidArgument, error, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(StatusCode::kNotFound, ApiError::kTokenNotFound, std::move(message));
  }
  static Status AlreadyExists(std::string message) {
    return Status(StatusCode::kAlreadyExists, ApiError::kAlreadyExists, std::move(message));
  }
  static Status Unauthenticated(std::string message) {
    return Status(StatusCode::kUnauthenticated, ApiError::kUnauthenticated, std::move(message));
  }
  static Status PermissionDenied(std::string message) {
    return Status(StatusCode::kPermissionDenied, ApiError::kPermissionDenied, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(StatusCode::kUnavailable, ApiError::kStoreUnavailable, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(StatusCode::kInternal, ApiError::kInternal, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  ApiError api_error() const { return api_error_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: <message>" style text, for logs and test failures.
  std::string ToString() const;

  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsUnavailable() const { return code_ == StatusCode::kUnavailable; }

 private:
  Status(StatusCode code, ApiError error, std::string message)
      : code_(code), api_error_(error), message_(std::move(message)) {}

  StatusCode code_ = StatusCode::kOk;
  ApiError api_error_ = ApiError::kNone;
  std::string message_;
};

// Result<T> holds either a value or a non-ok Status (std::expected-style).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
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
