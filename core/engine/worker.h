// A worker: one thread, one libuv loop, and its own instances of every input, filter and output
// (shared-nothing). Batches never leave the worker that received them.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <uv.h>
#include <vector>

#include "core/config/pipeline.h"
#include "core/engine/adaptive_concurrency.h"
#include "core/engine/loop_inbox.h"
#include "core/plugin/filter.h"
#include "core/plugin/input.h"
#include "core/plugin/output.h"
#include "core/storage/spool_link.h"

namespace firelane {

class Worker;
class OutputRunner;
class FilterSlot;

// What the engine needs to hear from workers (called on the worker thread; implementations post
// to the main loop).
class WorkerListener {
 public:
  virtual ~WorkerListener() = default;
  virtual void inputFinished(unsigned workerId) = 0;
  virtual void workerDrained(unsigned workerId) = 0;
};

// One input instance on one worker, with its backpressure state. Pauses the input while anything
// blocks it (its own Mem_Buf_Limit, or an overloaded output it feeds).
class InputSlot final : public InputContext {
 public:
  InputSlot(Worker& worker, const InputSpec& spec, InputPtr input);
  uv_loop_t* loop() override;
  unsigned workerId() const override;
  const std::string& instanceName() const override { return spec_.instance; }
  InputCounters& counters() override { return counters_; }
  bool emit(EventBatch&& batch) override;
  void finished() override;

  void block(const void* reason);
  void unblock(const void* reason);
  void released(size_t bytes);  // a batch this input emitted was freed
  Input& input() { return *input_; }
  const InputCounters& stats() const { return counters_; }  // any thread (monitoring)
  bool isFinished() const { return finished_; }
  const InputSpec& spec() const { return spec_; }

 private:
  Worker& worker_;
  const InputSpec& spec_;
  InputPtr input_;
  InputCounters counters_;
  std::vector<const void*> blockers_;
  size_t heldBytes_ = 0;
  bool memBlocked_ = false;
  bool finished_ = false;
  friend class Worker;
};

// One filter instance on one worker; re-injects batches the filter emits.
class FilterSlot final : public FilterContext {
 public:
  FilterSlot(Worker& worker, const FilterSpec& spec, FilterPtr filter);
  uv_loop_t* loop() override;
  unsigned workerId() const override;
  const std::string& instanceName() const override { return spec_.instance; }
  FilterCounters& counters() override { return counters_; }
  void emit(EventBatch&& batch) override;

  Filter& filter() { return *filter_; }
  const FilterCounters& stats() const { return counters_; }  // any thread (monitoring)
  const FilterSpec& spec() const { return spec_; }

 private:
  Worker& worker_;
  const FilterSpec& spec_;
  FilterPtr filter_;
  FilterCounters counters_;
  InputSlot* lastInput_ = nullptr;  // whose Mem_Buf_Limit and backpressure timer-driven emits use
  friend class Worker;
};

// One output instance on one worker: its bounded queue, flush timer, in-flight flushes and retries.
class OutputRunner final : public OutputContext {
 public:
  OutputRunner(Worker& worker, const OutputSpec& spec, OutputPtr output);
  ~OutputRunner() override;
  uv_loop_t* loop() override;
  unsigned workerId() const override;
  const std::string& instanceName() const override { return spec_.instance; }
  OutputCounters& counters() override { return counters_; }
  const OutputCounters& countersView() const { return counters_; }  // any thread (values may be stale)
  void post(std::function<void()> task) override;

  Status start();
  void enqueue(const BatchRef& batch, InputSlot& feeder);
  // Filesystem storage (core/storage): the batch is already in the spool at `pos`. It is held in
  // memory while the queue has room and nothing older waits on disk, otherwise only on disk.
  void attachSpool(storage::Spool& spool, size_t index);
  void enqueueStored(const BatchRef& batch, storage::SpoolPosition pos);
  // storage.total_limit_policy drop_oldest: forget the oldest stored batch this output has not
  // delivered so a new one fits. False when there is none.
  bool dropOldestStored();
  size_t spoolIndex() const { return spool_ ? spool_->output() : 0; }
  uint64_t spoolUnreadable() const { return spool_ ? spool_->unreadable() : 0; }
  void beginDrain();  // shutdown: flush everything now, retry waiting chunks now
  // Drained: nothing held in memory, and nothing on disk still to send (unless sending failed
  // during the drain: then the spool keeps it for the next start).
  bool empty() const { return heldBytes_ == 0 && !(spool_ && spool_->diskBacklog() && !spoolGaveUp_); }
  size_t queuedRecords() const { return heldRecords_; }
  void close(std::function<void()> closed);
  const OutputSpec& spec() const { return spec_; }
  const OutputCounters& stats() const { return counters_; }  // any thread (monitoring)

 private:
  struct Flight {
    FlushChunk chunk;
    int attempts = 0;
    uint64_t dueMs = 0;      // when waiting for a retry
    uint64_t startedUs = 0;  // the current attempt's start (adaptive concurrency's RTT)
    bool probe = false;      // sent alone to measure the no-load round trip
  };
  unsigned concurrencyLimit() const { return concurrency_ ? concurrency_->limit() : limits_.maxInFlight; }
  void dispatch();
  void refillFromSpool();
  void syncSpoolGauges();
  bool keptInSpool(const FlushChunk& chunk) const;
  void push(const BatchRef& batch);
  std::unique_ptr<Flight> cut();
  void start(std::unique_ptr<Flight> flight);
  void complete(Flight* flight, FlushResult result);
  enum class Fate { Delivered, Dropped, Kept };  // Kept: stays in the spool for the next start
  void release(Flight& flight, Fate fate);
  void scheduleRetry(std::unique_ptr<Flight> flight, const FlushResult& result);
  void armRetryTimer();
  void onRetryTimer();
  uint64_t backoffMs(int attempts) const;

  Worker& worker_;
  const OutputSpec& spec_;
  OutputPtr output_;
  OutputCounters counters_;
  FlushLimits limits_;
  uv_timer_t* flushTimer_ = nullptr;  // heap: freed in uv_close's callback
  uv_timer_t* retryTimer_ = nullptr;
  std::deque<BatchSlice> pending_;
  size_t pendingBytes_ = 0;
  size_t pendingEvents_ = 0;
  size_t heldBytes_ = 0;  // pending + in flight + waiting for retry
  size_t heldRecords_ = 0;
  unsigned inFlight_ = 0;
  uint64_t nextChunkId_ = 0;
  bool flushDue_ = false;
  bool draining_ = false;
  bool overloaded_ = false;
  bool dispatching_ = false;
  bool redispatch_ = false;
  std::vector<InputSlot*> feeders_;
  std::vector<std::unique_ptr<Flight>> running_;
  std::vector<std::unique_ptr<Flight>> waiting_;  // retry scheduled
  std::vector<std::unique_ptr<Flight>> ready_;    // retry due, waiting for an in-flight slot
  std::shared_ptr<bool> alive_;
  std::unique_ptr<storage::SpoolLink> spool_;  // set with filesystem storage
  uint64_t spooledRecords_ = 0;  // last value added to the worker's spooledRecords_
  bool spoolGaveUp_ = false;     // a flush failed while draining: the rest stays on disk
  std::unique_ptr<AdaptiveConcurrency> concurrency_;  // `concurrency adaptive` and maxInFlight > 1
};

class Worker {
 public:
  Worker(unsigned id, unsigned count, const PipelineConfig& config, WorkerListener& listener);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates instances and starts the thread; blocks until the inputs started (or failed).
  Status start(const std::vector<std::shared_ptr<InputFactory>>& placedInputs,
               const std::vector<const InputSpec*>& placedSpecs);
  // Any thread: begin graceful shutdown. Inputs stop accepting, keep reading open connections
  // until idle or `readSeconds` passed, then outputs flush what is queued.
  void shutdown(double readSeconds);
  void join();

  unsigned id() const { return id_; }
  unsigned count() const { return count_; }
  uv_loop_t* loop() { return &loop_; }
  const PipelineConfig& config() const { return config_; }
  LoopInbox& inbox() { return *inbox_; }

  // Loop thread. `skip` is the filter that emitted the batch (it does not see it again). Returns
  // false when the batch should have been stored in the spool but the spool refused it.
  bool route(EventBatch&& batch, InputSlot& from, FilterSlot* skip = nullptr);
  void inputFinished(InputSlot& slot);
  void checkDrained();

  // Snapshots for metrics and the shutdown report (any thread; values may be slightly stale).
  size_t queuedRecords() const { return queuedRecords_.load(std::memory_order_relaxed); }
  // Of those, records that are also in the spool (kept for the next start if the process stops).
  size_t spooledRecords() const { return spooledRecords_.load(std::memory_order_relaxed); }
  // Spool figures for /api/v1/storage (any thread; refreshed by the loop about once a second).
  struct StorageGauges {
    Counter enabled, bytesOnDisk, segments, recovered, corrupt, torn, ioErrors, dropped, unreadable;
  };
  const StorageGauges& storage() const { return storageGauges_; }
  void forEachInput(const std::function<void(const InputSlot&)>& f) const;
  void forEachOutput(const std::function<void(const OutputRunner&)>& f) const;
  void forEachFilter(const std::function<void(const FilterSlot&)>& f) const;

 private:
  struct Route {
    std::vector<FilterSlot*> filters;
    std::vector<OutputRunner*> outputs;
    uint64_t spoolMask = 0;  // bit i: outputs_[i] is in `outputs`
  };
  const Route& routeFor(const std::string& tag);
  void run();
  void beginShutdown(double readSeconds);
  void onShutdownTick();
  void closeAll();

  unsigned id_;
  unsigned count_;
  const PipelineConfig& config_;
  WorkerListener& listener_;
  uv_loop_t loop_;
  std::unique_ptr<LoopInbox> inbox_;
  std::thread thread_;
  std::vector<std::unique_ptr<OutputRunner>> outputs_;
  std::vector<std::unique_ptr<FilterSlot>> filters_;
  InputSlot* currentInput_ = nullptr;  // set while a batch is being routed
  size_t filtersClosing_ = 0;
  std::vector<std::unique_ptr<InputSlot>> inputs_;
  std::unordered_map<std::string, Route> routes_;
  enum class Phase { Running, Reading, Flushing, Closing, Done } phase_ = Phase::Running;
  uv_timer_t* shutdownTimer_ = nullptr;
  uint64_t readDeadlineMs_ = 0;
  std::atomic<size_t> queuedRecords_{0};
  std::atomic<size_t> spooledRecords_{0};
  StorageGauges storageGauges_;
  // Filesystem storage (core/storage/spool.h): batches of storage.type filesystem inputs are
  // appended here before they are queued. The timer saves cursors and lets inputs the spool
  // refused (disk bound, I/O error) try again.
  enum class Stored { NotSpooled, Spooled, Refused };
  Status openSpool();
  Stored storeBatch(const BatchRef& ref, const Route& r, InputSlot& from);
  bool spoolRoomFor(const Route& r, uint64_t frameBytes);
  void onSpoolTimer();
  void publishStorage();
  storage::SpoolPtr spool_;
  uv_timer_t* spoolTimer_ = nullptr;
  std::vector<InputSlot*> spoolBlocked_;
  bool spoolDropWarned_ = false;
  friend class OutputRunner;
  friend class FilterSlot;
};

}  // namespace firelane
