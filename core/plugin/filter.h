// The Filter stage interface: one synchronous call per batch, no I/O on the hot path.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <uv.h>

#include "core/common/counter.h"
#include "core/common/status.h"
#include "core/event/event_batch.h"

namespace firelane {

enum class FilterResult {
  Unchanged,  // batch untouched: the original bytes flow on
  Modified,   // events/owners/extra/bytes were rewritten in place
  DropAll,    // every event dropped
};

struct FilterCounters {
  Counter recordsIn;
  Counter recordsDropped;
  Counter recordsAdded;  // e.g. re-emitted by rewrite_tag, joined records of multiline
  NamedCounters errors;
};

// What the engine gives a filter instance; loop-thread only, lives as long as the instance.
class FilterContext {
 public:
  virtual ~FilterContext() = default;
  virtual uv_loop_t* loop() = 0;
  virtual unsigned workerId() const = 0;
  virtual const std::string& instanceName() const = 0;
  virtual FilterCounters& counters() = 0;
  // Re-injects a batch at the start of the pipeline (every filter and the router see it again,
  // except this filter: that is what keeps rewrite_tag from looping). Also used by filters that
  // emit later from a timer (multiline flush_ms).
  virtual void emit(EventBatch&& batch) = 0;
};

// A context that discards what the filter emits (benches and fuzz targets that run a filter
// outside a worker; `loop` may be null for filters that never arm a timer).
class DiscardingFilterContext final : public FilterContext {
 public:
  explicit DiscardingFilterContext(uv_loop_t* loop = nullptr, std::string name = "filter.0")
      : loop_(loop), name_(std::move(name)) {}
  uv_loop_t* loop() override { return loop_; }
  unsigned workerId() const override { return 0; }
  const std::string& instanceName() const override { return name_; }
  FilterCounters& counters() override { return counters_; }
  void emit(EventBatch&&) override {}

 private:
  uv_loop_t* loop_;
  std::string name_;
  FilterCounters counters_;
};

class Filter {
 public:
  virtual ~Filter() = default;
  // Called once on the worker loop before the first apply(); may start timers on ctx.loop().
  virtual Status start(FilterContext& ctx) {
    (void)ctx;
    return {};
  }
  virtual FilterResult apply(EventBatch& batch) = 0;
  // Shutdown: emit anything held back (e.g. incomplete multiline groups), close handles, then call
  // `closed`.
  virtual void close(std::function<void()> closed) { closed(); }
};
using FilterPtr = std::unique_ptr<Filter>;

class FilterFactory {
 public:
  virtual ~FilterFactory() = default;
  virtual FilterPtr create(unsigned workerId) const = 0;
};

}  // namespace firelane
