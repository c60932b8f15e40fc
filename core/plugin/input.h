// The Input stage interface: an input runs on one worker loop, emits EventBatches into the
// pipeline, and obeys pause()/resume() (backpressure: stop reading, never drop).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <uv.h>

#include "core/common/counter.h"
#include "core/common/status.h"
#include "core/event/event_batch.h"

namespace firelane {

// What the engine gives an input instance. Lives as long as the instance; loop-thread only.
class InputContext {
 public:
  virtual ~InputContext() = default;
  virtual uv_loop_t* loop() = 0;
  virtual unsigned workerId() const = 0;
  virtual const std::string& instanceName() const = 0;  // e.g. "forward.0"
  virtual InputCounters& counters() = 0;
  // Runs filters and routes the batch to every matching output queue. Returns true when the batch
  // is stored: in the spool (storage.type filesystem; fdatasync'ed with storage.sync full) or, in
  // memory mode, accepted into the bounded queues (also when filters dropped it). False when the
  // spool refused it (disk bound, I/O error): it is then held in memory only and the input is
  // paused. If queues fill up, the engine calls pause() on feeding inputs.
  virtual bool emit(EventBatch&& batch) = 0;
  // The input will produce nothing more (stdin at EOF). When every input finished, the engine drains
  // and exits.
  virtual void finished() = 0;
};

class Input {
 public:
  virtual ~Input() = default;
  // Opens listeners/handles on ctx.loop(). An error here fails start-up.
  virtual Status start(InputContext& ctx) = 0;
  // Stop reading (sockets, pipes, timers) until resume(). Idempotent.
  virtual void pause() = 0;
  virtual void resume() = 0;
  // Shutdown step 1: stop accepting new connections; keep reading open ones.
  virtual void stopAccepting() = 0;
  // Shutdown step 2: close every handle; `closed` runs once all uv_close callbacks ran.
  virtual void close(std::function<void()> closed) = 0;
  // True when the input has no open client connections (shutdown may stop waiting for it).
  virtual bool idle() const { return true; }
};
using InputPtr = std::unique_ptr<Input>;

// Immutable, validated config of one [INPUT]; makes per-worker instances.
class InputFactory {
 public:
  virtual ~InputFactory() = default;
  // PerWorker inputs get an instance on every worker (e.g. TCP listeners with SO_REUSEPORT);
  // Single inputs run on one worker.
  enum class Placement { PerWorker, Single };
  virtual Placement placement() const { return Placement::Single; }
  // Called on the main thread before workers start (e.g. to bind listening sockets once).
  virtual Status prepare(unsigned workers) { (void)workers; return {}; }
  virtual InputPtr create(unsigned workerId) const = 0;
};

}  // namespace firelane
