// The Output stage interface: asynchronous flush of one chunk (one request's worth of events),
// completing with ok / retry / reject. The engine owns queues, batching and retries.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <uv.h>

#include "core/common/counter.h"
#include "core/common/status.h"
#include "core/event/event_batch.h"

namespace firelane {

struct FlushResult {
  enum class Kind { Ok, Retry, Reject };
  Kind kind = Kind::Ok;
  std::optional<std::chrono::milliseconds> retryAfter;  // server-given delay (Retry-After)
  std::string reason;                                   // for logs/counters; never a secret

  static FlushResult ok() { return {}; }
  static FlushResult retry(std::string why, std::optional<std::chrono::milliseconds> after = {}) {
    return {Kind::Retry, after, std::move(why)};
  }
  static FlushResult reject(std::string why) { return {Kind::Reject, {}, std::move(why)}; }
};

// Called exactly once per flush, on the worker loop thread that called flush().
using FlushCompletion = std::function<void(FlushResult)>;

class OutputContext {
 public:
  virtual ~OutputContext() = default;
  virtual uv_loop_t* loop() = 0;
  virtual unsigned workerId() const = 0;
  virtual const std::string& instanceName() const = 0;
  virtual OutputCounters& counters() = 0;
  // Any thread: runs `task` on this output's loop thread (e.g. completions from a helper thread).
  virtual void post(std::function<void()> task) = 0;
};

// How the engine cuts chunks for this output and how many flushes may run at once.
struct FlushLimits {
  size_t maxEvents = 1 << 20;
  size_t maxBytes = 8u << 20;  // record bytes per chunk (a single larger event still goes alone)
  unsigned maxInFlight = 1;
};

class Output {
 public:
  virtual ~Output() = default;
  virtual Status start(OutputContext& ctx) = 0;
  virtual FlushLimits limits() const { return {}; }
  // `chunk` stays valid until `done` is called.
  virtual void flush(const FlushChunk& chunk, FlushCompletion done) = 0;
  // Close every handle; `closed` runs once all are closed. In-flight flushes complete (or are failed
  // with retry) before `closed` is called.
  virtual void close(std::function<void()> closed) { closed(); }
};
using OutputPtr = std::unique_ptr<Output>;

class OutputFactory {
 public:
  virtual ~OutputFactory() = default;
  virtual OutputPtr create(unsigned workerId) const = 0;
};

}  // namespace firelane
