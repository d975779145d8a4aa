// Answering one HTTP request, without any socket: target, route,
// authentication, authorization gate, then the route's own function. The
// session owns the socket and the Exchange, runs the Step's blocking work on
// the store pool when there is some, and writes the response; tests and
// fuzzers may drive a RequestHandler directly.
//
// Internal to the http layer (it exposes Beast and Asio types).
#pragma once

#include <utility>

#include "http/exchange.h"
#include "http/request_log.h"

namespace tokend::http {

class RequestHandler {
 public:
  // `env.service` and `env.metrics` must outlive the handler.
  // `access_log`: one line per request through the "access" logger.
  explicit RequestHandler(HandlerEnv env, AccessLog access_log = AccessLog(false, false))
      : env_(env), access_log_(std::move(access_log)) {}

  // The answer to `ex.req`, or the blocking work it needs first. Never
  // throws: an unexpected exception is logged (without request data) and
  // answered 500.
  Step Handle(Exchange& ex) const;

  // Runs a Step's blocking work (on the store pool) and, on the I/O thread,
  // what it resumes with. Never throw, as Handle.
  Step::Resume RunWork(Exchange& ex, Step::Work& work) const;
  // Starts a Step's submitted work (on the I/O thread); `finish` gets what
  // to resume with, once. Never throws, as Handle.
  void RunSubmit(Exchange& ex, Step::Submit& submit, const Step::Finish& finish) const;
  Step Resume(Exchange& ex, Step::Resume& resume) const;

  // Handle, RunWork, Resume and Finish on the calling thread: the whole
  // answer, blocking work included (tests, fuzzers, benchmarks).
  Response HandleHere(Exchange& ex) const;

  // Sets version, keep-alive and X-Request-Id on the final response, records
  // the request in the metrics and writes its access line.
  void Finish(const Exchange& ex, Response& res) const;

  const HandlerEnv& env() const { return env_; }
  bool access_logged() const { return access_log_.enabled(); }
  const AccessLog& access_log() const { return access_log_; }

 private:
  Step Route(Exchange& ex) const;

  HandlerEnv env_;
  AccessLog access_log_;
};

}  // namespace tokend::http
