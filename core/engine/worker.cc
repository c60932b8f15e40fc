// Worker loop, routing, per-output queues with backpressure, flush scheduling and retries.
#include "core/engine/worker.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <random>

#include "core/common/log.h"

namespace firelane {
namespace {

uint64_t nowMs(uv_loop_t* loop) { return uv_now(loop); }

template <typename T>
void closeHandle(T*& h) {
  if (!h) return;
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete reinterpret_cast<T*>(x); });
  h = nullptr;
}

size_t sliceBytes(const EventBatch& b, uint32_t begin, uint32_t end) {
  if (begin == 0 && end == b.events.size()) return b.bytes;
  size_t n = 0;
  for (uint32_t i = begin; i < end; ++i) n += b.events[i].record.size();
  return n;
}

// Returns batch bytes to the input's Mem_Buf_Limit account when the last reference goes away.
struct BatchReleaser {
  InputSlot* slot;
  void operator()(EventBatch* b) const {
    size_t bytes = b->bytes;
    delete b;
    slot->released(bytes);
  }
};

}  // namespace

// ---------------------------------------------------------------- InputSlot

InputSlot::InputSlot(Worker& worker, const InputSpec& spec, InputPtr input)
    : worker_(worker), spec_(spec), input_(std::move(input)) {}

uv_loop_t* InputSlot::loop() { return worker_.loop(); }
unsigned InputSlot::workerId() const { return worker_.id(); }

bool InputSlot::emit(EventBatch&& batch) {
  if (batch.events.empty()) return true;
  counters_.records.add(batch.events.size());
  counters_.bytes.add(batch.bytes);
  return worker_.route(std::move(batch), *this);
}

void InputSlot::finished() {
  if (finished_) return;
  finished_ = true;
  worker_.inputFinished(*this);
}

void InputSlot::block(const void* reason) {
  if (std::find(blockers_.begin(), blockers_.end(), reason) != blockers_.end()) return;
  blockers_.push_back(reason);
  if (blockers_.size() == 1) {
    counters_.paused.set(1);
    FL_DEBUG("[input:%s:%s] paused (backpressure)", spec_.plugin.c_str(), spec_.instance.c_str());
    input_->pause();
  }
}

void InputSlot::unblock(const void* reason) {
  auto it = std::find(blockers_.begin(), blockers_.end(), reason);
  if (it == blockers_.end()) return;
  blockers_.erase(it);
  if (blockers_.empty()) {
    counters_.paused.set(0);
    FL_DEBUG("[input:%s:%s] resumed", spec_.plugin.c_str(), spec_.instance.c_str());
    input_->resume();
  }
}

void InputSlot::released(size_t bytes) {
  heldBytes_ -= std::min(bytes, heldBytes_);
  if (memBlocked_ && heldBytes_ <= spec_.memBufLimit / 10 * 8) {
    memBlocked_ = false;
    unblock(this);
  }
}

// ---------------------------------------------------------------- FilterSlot

FilterSlot::FilterSlot(Worker& worker, const FilterSpec& spec, FilterPtr filter)
    : worker_(worker), spec_(spec), filter_(std::move(filter)) {}

uv_loop_t* FilterSlot::loop() { return worker_.loop(); }
unsigned FilterSlot::workerId() const { return worker_.id(); }

void FilterSlot::emit(EventBatch&& batch) {
  if (batch.events.empty()) return;
  InputSlot* from = worker_.currentInput_ ? worker_.currentInput_ : lastInput_;
  if (!from) {
    counters_.errors.add("emit_without_input", batch.events.size());
    return;
  }
  counters_.recordsAdded.add(batch.events.size());
  worker_.route(std::move(batch), *from, this);
}

// ---------------------------------------------------------------- OutputRunner

OutputRunner::OutputRunner(Worker& worker, const OutputSpec& spec, OutputPtr output)
    : worker_(worker), spec_(spec), output_(std::move(output)), alive_(std::make_shared<bool>(true)) {}

OutputRunner::~OutputRunner() { *alive_ = false; }

uv_loop_t* OutputRunner::loop() { return worker_.loop(); }
unsigned OutputRunner::workerId() const { return worker_.id(); }

void OutputRunner::post(std::function<void()> task) { worker_.inbox().post(std::move(task)); }

Status OutputRunner::start() {
  Status st = output_->start(*this);
  if (!st) return st;
  limits_ = output_->limits();
  if (limits_.maxInFlight == 0) limits_.maxInFlight = 1;
  if (limits_.maxEvents == 0) limits_.maxEvents = 1;
  if (spec_.adaptiveConcurrency && limits_.maxInFlight > 1) {
    AdaptiveConcurrency::Options o;
    o.max = limits_.maxInFlight;
    concurrency_ = std::make_unique<AdaptiveConcurrency>(o);
  }
  counters_.concurrencyLimit.set(concurrencyLimit());
  flushTimer_ = new uv_timer_t;
  uv_timer_init(worker_.loop(), flushTimer_);
  flushTimer_->data = this;
  uint64_t period = std::max<uint64_t>(1, static_cast<uint64_t>(worker_.config().service.flushSeconds * 1000));
  uv_timer_start(
      flushTimer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<OutputRunner*>(t->data);
        if (!self->pending_.empty()) {
          self->flushDue_ = true;
          self->dispatch();
        }
      },
      period, period);
  retryTimer_ = new uv_timer_t;
  uv_timer_init(worker_.loop(), retryTimer_);
  retryTimer_->data = this;
  return {};
}

void OutputRunner::enqueue(const BatchRef& batch, InputSlot& feeder) {
  uint32_t n = static_cast<uint32_t>(batch->events.size());
  pending_.push_back(BatchSlice{batch, 0, n});
  pendingBytes_ += batch->bytes;
  pendingEvents_ += n;
  heldBytes_ += batch->bytes;
  heldRecords_ += n;
  worker_.queuedRecords_.fetch_add(n, std::memory_order_relaxed);
  counters_.queuedBytes.set(heldBytes_);
  bool newFeeder = std::find(feeders_.begin(), feeders_.end(), &feeder) == feeders_.end();
  if (newFeeder) feeders_.push_back(&feeder);
  if (!overloaded_ && heldBytes_ >= spec_.queueLimit) {
    overloaded_ = true;
    FL_DEBUG("[output:%s:%s] queue full (%zu bytes): pausing its inputs", spec_.plugin.c_str(),
             spec_.instance.c_str(), heldBytes_);
    for (auto* f : feeders_) f->block(this);
  } else if (overloaded_ && newFeeder) {
    feeder.block(this);
  }
  // Flush early when the flush interval is 0, while draining, or when the queue is half full
  // (waiting for the timer would only stall the inputs).
  if (worker_.config().service.flushSeconds <= 0 || draining_ || heldBytes_ >= spec_.queueLimit / 2)
    flushDue_ = true;
  dispatch();
}

// ---- filesystem storage hooks (core/storage/)

void OutputRunner::attachSpool(storage::Spool& spool, size_t index) {
  spool_ = std::make_unique<storage::SpoolLink>(spool, index);
  if (spool_->diskBacklog()) {
    FL_INFO("[output:%s:%s] replaying %zu stored batches", spec_.plugin.c_str(), spec_.instance.c_str(),
            spool_->diskBatches());
  }
  dispatch();  // replay starts before any new batch arrives
  syncSpoolGauges();
}

void OutputRunner::enqueueStored(const BatchRef& batch, storage::SpoolPosition pos) {
  // Stored batches never pause inputs for a full queue: the spool holds them (within its bound),
  // and they are read back in order once the queue has room.
  if (spool_->diskBacklog() || heldBytes_ >= spec_.queueLimit) {
    spool_->keepOnDisk(pos, batch->watch);
  } else {
    spool_->track(batch.get(), pos);
    push(batch);
  }
  if (worker_.config().service.flushSeconds <= 0 || draining_ || heldBytes_ >= spec_.queueLimit / 2)
    flushDue_ = true;
  dispatch();
  syncSpoolGauges();
}

bool OutputRunner::dropOldestStored() {
  auto oldest = worker_.spool_->oldest(spool_->output());
  if (!oldest) return false;
  worker_.spool_->delivered(spool_->output(), *oldest);
  counters_.reasons.add("spool_limit_dropped_batches");
  worker_.storageGauges_.dropped.add();
  syncSpoolGauges();
  return true;
}

void OutputRunner::refillFromSpool() {
  if (!spool_ || spoolGaveUp_) return;
  bool any = false;
  while (spool_->diskBacklog() && heldBytes_ < spec_.queueLimit) {
    auto next = spool_->readNext();
    if (!next) break;
    push(next->first);
    any = true;
  }
  if (any) {
    flushDue_ = true;  // a backlog is due at once
    syncSpoolGauges();
  }
}

void OutputRunner::syncSpoolGauges() {
  if (!spool_) return;
  const storage::Spool& s = *worker_.spool_;
  counters_.spoolBytes.set(s.pendingBytes(spool_->output()));
  counters_.spoolBatches.set(s.pendingBatches(spool_->output()));
  worker_.publishStorage();
  uint64_t now = spool_->heldRecords();
  if (now >= spooledRecords_) {
    worker_.spooledRecords_.fetch_add(now - spooledRecords_, std::memory_order_relaxed);
  } else {
    worker_.spooledRecords_.fetch_sub(spooledRecords_ - now, std::memory_order_relaxed);
  }
  spooledRecords_ = now;
}

bool OutputRunner::keptInSpool(const FlushChunk& chunk) const {
  if (!spool_) return false;
  for (const BatchSlice& s : chunk.slices)
    if (!spool_->tracked(s.batch.get())) return false;
  return true;
}

void OutputRunner::push(const BatchRef& batch) {
  uint32_t n = static_cast<uint32_t>(batch->events.size());
  pending_.push_back(BatchSlice{batch, 0, n});
  pendingBytes_ += batch->bytes;
  pendingEvents_ += n;
  heldBytes_ += batch->bytes;
  heldRecords_ += n;
  worker_.queuedRecords_.fetch_add(n, std::memory_order_relaxed);
  counters_.queuedBytes.set(heldBytes_);
}

std::unique_ptr<OutputRunner::Flight> OutputRunner::cut() {
  auto flight = std::make_unique<Flight>();
  FlushChunk& chunk = flight->chunk;
  while (!pending_.empty() && chunk.events < limits_.maxEvents) {
    BatchSlice& front = pending_.front();
    const EventBatch& b = *front.batch;
    size_t roomEvents = limits_.maxEvents - chunk.events;
    uint32_t end = front.end;
    if (end - front.begin > roomEvents) end = front.begin + static_cast<uint32_t>(roomEvents);
    size_t bytes = sliceBytes(b, front.begin, end);
    if (chunk.events > 0 && chunk.bytes + bytes > limits_.maxBytes) {
      // Take only the events that fit; a chunk always gets at least one event.
      size_t room = limits_.maxBytes - std::min(chunk.bytes, limits_.maxBytes);
      uint32_t e = front.begin;
      size_t acc = 0;
      while (e < end && acc + b.events[e].record.size() <= room) acc += b.events[e++].record.size();
      if (e == front.begin) break;
      end = e;
      bytes = acc;
    } else if (chunk.events == 0 && bytes > limits_.maxBytes) {
      uint32_t e = front.begin;
      size_t acc = 0;
      while (e < end && (e == front.begin || acc + b.events[e].record.size() <= limits_.maxBytes))
        acc += b.events[e++].record.size();
      end = e;
      bytes = acc;
    }
    chunk.slices.push_back(BatchSlice{front.batch, front.begin, end});
    chunk.events += end - front.begin;
    chunk.bytes += bytes;
    pendingEvents_ -= end - front.begin;
    pendingBytes_ -= std::min(bytes, pendingBytes_);
    if (end == front.end) {
      pending_.pop_front();
    } else {
      front.begin = end;
      if (chunk.bytes >= limits_.maxBytes) break;
    }
  }
  if (pending_.empty()) {
    pendingBytes_ = 0;
    pendingEvents_ = 0;
  }
  return flight;
}

void OutputRunner::dispatch() {
  if (dispatching_) {
    redispatch_ = true;
    return;
  }
  dispatching_ = true;
  refillFromSpool();
  do {
    redispatch_ = false;
    while (inFlight_ < concurrencyLimit()) {
      std::unique_ptr<Flight> flight;
      if (!ready_.empty()) {
        flight = std::move(ready_.front());
        ready_.erase(ready_.begin());
      } else if (!pending_.empty() &&
                 (flushDue_ || pendingBytes_ >= limits_.maxBytes || pendingEvents_ >= limits_.maxEvents)) {
        flight = cut();
        if (flight->chunk.events == 0) break;
      } else {
        break;
      }
      start(std::move(flight));
    }
    if (pending_.empty()) flushDue_ = draining_;
  } while (redispatch_);
  dispatching_ = false;
}

void OutputRunner::start(std::unique_ptr<Flight> flight) {
  Flight* raw = flight.get();
  raw->attempts++;
  if (raw->chunk.id == 0) raw->chunk.id = ++nextChunkId_;
  raw->chunk.attempt = raw->attempts;
  raw->startedUs = uv_hrtime() / 1000;
  inFlight_++;
  counters_.inFlight.set(inFlight_);
  raw->probe = concurrency_ && concurrency_->started(inFlight_);
  running_.push_back(std::move(flight));
  std::weak_ptr<bool> alive = alive_;
  output_->flush(raw->chunk, [this, raw, alive](FlushResult result) {
    if (alive.expired()) return;
    complete(raw, std::move(result));
  });
}

void OutputRunner::complete(Flight* raw, FlushResult result) {
  auto it = std::find_if(running_.begin(), running_.end(), [raw](const auto& f) { return f.get() == raw; });
  if (it == running_.end()) return;  // completed twice: ignore the second call
  std::unique_ptr<Flight> flight = std::move(*it);
  running_.erase(it);
  inFlight_--;
  counters_.inFlight.set(inFlight_);
  if (concurrency_) {
    using O = AdaptiveConcurrency::Outcome;
    uint64_t now = uv_hrtime() / 1000;
    O outcome = result.kind == FlushResult::Kind::Ok      ? O::Ok
                : result.kind == FlushResult::Kind::Retry ? O::BackPressure
                                                          : O::Other;
    concurrency_->completed(now, now - std::min(now, flight->startedUs), outcome, flight->probe);
    counters_.concurrencyLimit.set(concurrency_->steadyLimit());
  }
  const char* plugin = spec_.plugin.c_str();
  const char* inst = spec_.instance.c_str();
  switch (result.kind) {
    case FlushResult::Kind::Ok:
      counters_.records.add(flight->chunk.events);
      counters_.bytes.add(flight->chunk.bytes);
      release(*flight, Fate::Delivered);
      break;
    case FlushResult::Kind::Retry:
      counters_.errors.add();
      if (draining_ && keptInSpool(flight->chunk)) {
        // Shutting down and the destination fails: leave this (and what is only on disk) in the
        // spool for the next start instead of retrying until the grace period ends.
        if (!spoolGaveUp_)
          FL_WARN("[output:%s:%s] shutting down: %s; undelivered records stay in the spool", plugin, inst,
                  result.reason.c_str());
        spoolGaveUp_ = true;
        release(*flight, Fate::Kept);
      } else if (spec_.retryLimit >= 0 && flight->attempts > spec_.retryLimit) {
        counters_.retriesFailed.add();
        counters_.dropped.add(flight->chunk.events);
        FL_ERROR("[output:%s:%s] dropping %zu records after %d attempts: %s", plugin, inst, flight->chunk.events,
                 flight->attempts, result.reason.c_str());
        release(*flight, Fate::Dropped);
      } else {
        scheduleRetry(std::move(flight), result);
      }
      break;
    case FlushResult::Kind::Reject:
      counters_.errors.add();
      counters_.dropped.add(flight->chunk.events);
      FL_ERROR("[output:%s:%s] rejected %zu records: %s", plugin, inst, flight->chunk.events, result.reason.c_str());
      release(*flight, Fate::Dropped);
      break;
  }
  dispatch();
  worker_.checkDrained();
}

void OutputRunner::release(Flight& flight, Fate fate) {
  heldBytes_ -= std::min(flight.chunk.bytes, heldBytes_);
  heldRecords_ -= std::min(flight.chunk.events, heldRecords_);
  worker_.queuedRecords_.fetch_sub(flight.chunk.events, std::memory_order_relaxed);
  counters_.queuedBytes.set(heldBytes_);
  if (fate != Fate::Delivered) {
    for (const BatchSlice& s : flight.chunk.slices)
      if (s.batch->watch) s.batch->watch->failed = true;
  }
  if (spool_) {
    for (const BatchSlice& s : flight.chunk.slices) {
      if (fate == Fate::Kept) {
        spool_->abandon(s);
      } else {
        spool_->done(s);
      }
    }
    // A cursor on disk that lags behind only causes duplicates after a crash: keep it current.
    worker_.spool_->persistCursors();
    syncSpoolGauges();
  }
  flight.chunk.slices.clear();  // drop batch references now (may resume inputs via Mem_Buf_Limit)
  if (overloaded_ && heldBytes_ <= spec_.queueLimit / 2) {
    overloaded_ = false;
    for (auto* f : feeders_) f->unblock(this);
  }
}

uint64_t OutputRunner::backoffMs(int attempts) const {
  // Fluent Bit's rule: a random wait between base and min(base * 2^n, cap) ("full jitter" above base).
  const auto& s = worker_.config().service;
  double base = std::max(0.001, s.schedulerBase);
  double cap = std::max(base, s.schedulerCap);
  double upper = std::min(cap, base * std::pow(2.0, std::min(attempts, 30)));
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> dist(base, upper);
  return static_cast<uint64_t>(dist(rng) * 1000);
}

void OutputRunner::scheduleRetry(std::unique_ptr<Flight> flight, const FlushResult& result) {
  counters_.retries.add();
  uint64_t delay = backoffMs(flight->attempts);
  if (result.retryAfter) {
    // The server's Retry-After is a floor, also above scheduler.cap (which bounds only our own
    // backoff); an hour at most, so a broken header cannot park a chunk for good.
    constexpr uint64_t kMaxRetryAfterMs = 3600 * 1000;
    delay = std::max<uint64_t>(delay, std::min<uint64_t>(result.retryAfter->count(), kMaxRetryAfterMs));
  }
  if (draining_) delay = std::min<uint64_t>(delay, 200);
  FL_WARN("[output:%s:%s] retrying %zu records in %.1fs (attempt %d): %s", spec_.plugin.c_str(),
          spec_.instance.c_str(), flight->chunk.events, delay / 1000.0, flight->attempts, result.reason.c_str());
  // The loop's clock is cached and counts whole milliseconds: refresh it and round up, so the
  // wait is never shorter than the delay (a server's Retry-After is a minimum).
  uv_update_time(worker_.loop());
  flight->dueMs = nowMs(worker_.loop()) + delay + 1;
  waiting_.push_back(std::move(flight));
  armRetryTimer();
}

void OutputRunner::armRetryTimer() {
  if (!retryTimer_ || waiting_.empty()) return;
  uint64_t due = UINT64_MAX;
  for (const auto& f : waiting_) due = std::min(due, f->dueMs);
  uint64_t now = nowMs(worker_.loop());
  uv_timer_start(
      retryTimer_, [](uv_timer_t* t) { static_cast<OutputRunner*>(t->data)->onRetryTimer(); },
      due > now ? due - now : 0, 0);
}

void OutputRunner::onRetryTimer() {
  uint64_t now = nowMs(worker_.loop());
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if ((*it)->dueMs <= now) {
      ready_.push_back(std::move(*it));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  armRetryTimer();
  dispatch();
}

void OutputRunner::beginDrain() {
  draining_ = true;
  flushDue_ = true;
  for (auto& f : waiting_) f->dueMs = 0;
  if (!waiting_.empty()) onRetryTimer();
  dispatch();
}

void OutputRunner::close(std::function<void()> closed) {
  closeHandle(flushTimer_);
  closeHandle(retryTimer_);
  output_->close(std::move(closed));
}

// ---------------------------------------------------------------- Worker

Worker::Worker(unsigned id, unsigned count, const PipelineConfig& config, WorkerListener& listener)
    : id_(id), count_(count), config_(config), listener_(listener) {
  uv_loop_init(&loop_);
  inbox_ = std::make_unique<LoopInbox>(&loop_);
}

Worker::~Worker() {
  join();
  // Destroy instances in dependency order: outputs hold batches that reference input slots.
  outputs_.clear();
  filters_.clear();
  inputs_.clear();
  uv_loop_close(&loop_);
}

Status Worker::start(const std::vector<std::shared_ptr<InputFactory>>& placedInputs,
                     const std::vector<const InputSpec*>& placedSpecs) {
  std::promise<Status> started;
  auto fut = started.get_future();
  thread_ = std::thread([this, &placedInputs, &placedSpecs, &started] {
    Status st = openSpool();
    for (size_t i = 0; i < config_.outputs.size() && st; ++i) {
      const auto& spec = config_.outputs[i];
      auto runner = std::make_unique<OutputRunner>(*this, spec, spec.factory->create(id_));
      st = runner->start();
      if (!st) break;
      if (spool_) runner->attachSpool(*spool_, i);
      outputs_.push_back(std::move(runner));
    }
    if (st) {
      for (const auto& spec : config_.filters) {
        auto slot = std::make_unique<FilterSlot>(*this, spec, spec.factory->create(id_));
        st = slot->filter().start(*slot);
        filters_.push_back(std::move(slot));
        if (!st) break;
      }
      for (size_t i = 0; i < placedInputs.size() && st; ++i) {
        auto slot = std::make_unique<InputSlot>(*this, *placedSpecs[i], placedInputs[i]->create(id_));
        st = slot->input().start(*slot);
        inputs_.push_back(std::move(slot));
      }
    }
    bool ok = st.ok();
    started.set_value(std::move(st));
    if (!ok) return;
    run();
  });
  Status st = fut.get();
  if (!st) thread_.join();
  return st;
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  // All handles were closed by closeAll(); run once more for pending close callbacks.
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::shutdown(double readSeconds) {
  inbox_->post([this, readSeconds] { beginShutdown(readSeconds); });
}

const Worker::Route& Worker::routeFor(const std::string& tag) {
  auto it = routes_.find(tag);
  if (it != routes_.end()) return it->second;
  if (routes_.size() > 4096) routes_.clear();  // bounded: many distinct tags must not grow memory
  Route r;
  for (auto& slot : filters_)
    if (slot->spec().matcher.matches(tag)) r.filters.push_back(slot.get());
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!outputs_[i]->spec().matcher.matches(tag)) continue;
    r.outputs.push_back(outputs_[i].get());
    if (i < 64) r.spoolMask |= uint64_t{1} << i;
  }
  return routes_.emplace(tag, std::move(r)).first->second;
}

bool Worker::route(EventBatch&& batch, InputSlot& from, FilterSlot* skip) {
  // Copy: a filter's emit() may route re-entrantly and rehash the route cache.
  const Route r = routeFor(batch.tag);
  InputSlot* outer = currentInput_;
  currentInput_ = &from;
  for (FilterSlot* f : r.filters) {
    if (f == skip) continue;
    size_t before = batch.events.size();
    f->counters_.recordsIn.add(before);
    f->lastInput_ = &from;
    FilterResult result = f->filter().apply(batch);
    if (result == FilterResult::DropAll) batch.events.clear();
    if (batch.events.size() < before) f->counters_.recordsDropped.add(before - batch.events.size());
    if (batch.events.empty()) {
      currentInput_ = outer;
      return true;
    }
  }
  currentInput_ = outer;
  if (r.outputs.empty()) {
    from.counters().errors.add("unrouted", batch.events.size());
    return true;
  }
  size_t bytes = batch.bytes;
  BatchRef ref(new EventBatch(std::move(batch)), BatchReleaser{&from});
  // Account before enqueueing: a synchronous flush may release the batch right away.
  from.heldBytes_ += bytes;
  Stored stored = storeBatch(ref, r, from);
  if (stored == Stored::Spooled) return true;
  for (OutputRunner* out : r.outputs) out->enqueue(ref, from);
  if (from.spec().memBufLimit > 0 && !from.memBlocked_ && from.heldBytes_ >= from.spec().memBufLimit) {
    from.memBlocked_ = true;
    from.block(&from);
  }
  return stored == Stored::NotSpooled;
}

void Worker::inputFinished(InputSlot&) { listener_.inputFinished(id_); }

void Worker::beginShutdown(double readSeconds) {
  if (phase_ != Phase::Running) return;
  phase_ = Phase::Reading;
  for (auto& in : inputs_) in->input().stopAccepting();
  readDeadlineMs_ = uv_now(&loop_) + static_cast<uint64_t>(readSeconds * 1000);
  shutdownTimer_ = new uv_timer_t;
  uv_timer_init(&loop_, shutdownTimer_);
  shutdownTimer_->data = this;
  uv_timer_start(
      shutdownTimer_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->onShutdownTick(); }, 0, 20);
}

void Worker::onShutdownTick() {
  if (phase_ == Phase::Reading) {
    bool idle = true;
    for (auto& in : inputs_) idle = idle && in->input().idle();
    if (!idle && uv_now(&loop_) < readDeadlineMs_) return;
    phase_ = Phase::Flushing;
    // Stop reading; everything already read is in the queues now. Filters emit what they hold
    // back (multiline groups) before the outputs drain.
    for (auto& in : inputs_) in->input().pause();
    filtersClosing_ = filters_.size();
    for (auto& f : filters_) {
      f->filter().close([this] {
        if (filtersClosing_ > 0) --filtersClosing_;
        checkDrained();
      });
    }
    for (auto& out : outputs_) out->beginDrain();
  }
  checkDrained();
}

void Worker::checkDrained() {
  if (phase_ != Phase::Flushing || filtersClosing_ > 0) return;
  for (auto& out : outputs_)
    if (!out->empty()) return;
  phase_ = Phase::Closing;
  closeAll();
}

void Worker::closeAll() {
  closeHandle(shutdownTimer_);
  closeHandle(spoolTimer_);
  if (spool_) spool_->persistCursors();
  auto remaining = std::make_shared<size_t>(inputs_.size() + outputs_.size());
  auto done = [this, remaining] {
    if (--*remaining == 0) {
      phase_ = Phase::Done;
      listener_.workerDrained(id_);
      inbox_->close();
    }
  };
  if (*remaining == 0) {
    ++*remaining;
    done();
    return;
  }
  for (auto& in : inputs_) in->input().close(done);
  for (auto& out : outputs_) out->close(done);
}

// ---- filesystem storage (core/storage/)

Status Worker::openSpool() {
  const auto& svc = config_.service;
  bool wanted = false;
  for (const auto& in : config_.inputs) wanted = wanted || in.storageFilesystem;
  if (svc.storagePath.empty() || !wanted) return {};
  storage::SpoolOptions o;
  o.dir = svc.storagePath + "/worker-" + std::to_string(id_);
  o.worker = id_;
  o.syncFull = svc.storageSyncFull;
  for (size_t i = 0; i < config_.outputs.size(); ++i) {
    const auto& spec = config_.outputs[i];
    o.outputs.push_back(std::to_string(i) + "." + spec.instance);
  }
  auto spool = storage::Spool::open(std::move(o));
  if (!spool) return Status::error("storage.path: " + spool.message());
  spool_ = std::move(spool.value());
  const auto& s = spool_->stats();
  if (s.recoveredBatches || s.corruptBatches || s.tornBytes || s.corruptSegments) {
    FL_INFO("[storage] %s: recovered %llu batches, skipped %llu corrupt, cut %llu torn bytes, %llu damaged segments",
            spool_->dir().c_str(), static_cast<unsigned long long>(s.recoveredBatches),
            static_cast<unsigned long long>(s.corruptBatches), static_cast<unsigned long long>(s.tornBytes),
            static_cast<unsigned long long>(s.corruptSegments));
  }
  spoolTimer_ = new uv_timer_t;
  uv_timer_init(&loop_, spoolTimer_);
  spoolTimer_->data = this;
  uv_timer_start(
      spoolTimer_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->onSpoolTimer(); }, 1000, 1000);
  return {};
}

bool Worker::spoolRoomFor(const Route& r, uint64_t frameBytes) {
  for (OutputRunner* out : r.outputs) {
    const OutputSpec& spec = out->spec();
    if (spec.storageLimit == 0) continue;
    size_t index = out->spoolIndex();
    // A batch larger than the whole bound is still stored once nothing else of this output is.
    while (spool_->pendingBytes(index) > 0 && spool_->pendingBytes(index) + frameBytes > spec.storageLimit) {
      if (!spec.storageDropOldest || !out->dropOldestStored()) return false;
      if (!spoolDropWarned_) {
        FL_WARN("[storage] %s: storage.total_limit_size of output %s reached: dropping its oldest stored batches",
                spool_->dir().c_str(), spec.instance.c_str());
        spoolDropWarned_ = true;
      }
    }
  }
  return true;
}

Worker::Stored Worker::storeBatch(const BatchRef& ref, const Route& r, InputSlot& from) {
  if (!spool_ || !from.spec().storageFilesystem) return Stored::NotSpooled;
  storage::AppendResult res;
  if (!spoolRoomFor(r, storage::frameBytesOf(*ref))) {
    res.status = storage::AppendStatus::Full;
  } else {
    res = spool_->append(*ref, r.spoolMask);
  }
  if (res.status == storage::AppendStatus::Ok) {
    for (OutputRunner* out : r.outputs) out->enqueueStored(ref, res.pos);
    return Stored::Spooled;
  }
  // Not stored: this batch stays in memory only, and the input pauses until the timer lets it try
  // again (the spool never holds a partial batch).
  if (std::find(spoolBlocked_.begin(), spoolBlocked_.end(), &from) == spoolBlocked_.end()) {
    if (res.status == storage::AppendStatus::Full) {
      FL_WARN("[storage] %s: storage.total_limit_size reached: pausing input %s", spool_->dir().c_str(),
              from.spec().instance.c_str());
    } else {
      FL_ERROR("[storage] %s: pausing input %s until the spool can be written again", res.error.c_str(),
               from.spec().instance.c_str());
    }
    spoolBlocked_.push_back(&from);
    from.block(spool_.get());
  }
  publishStorage();
  return Stored::Refused;
}

void Worker::onSpoolTimer() {
  spool_->persistCursors();
  publishStorage();
  if (spoolBlocked_.empty() || phase_ != Phase::Running) return;
  // Still at a disk bound: stay paused until deliveries free a tenth of it.
  for (const auto& out : outputs_) {
    uint64_t limit = out->spec().storageLimit;
    if (limit != 0 && !out->spec().storageDropOldest && spool_->pendingBytes(out->spoolIndex()) > limit / 10 * 9)
      return;
  }
  FL_INFO("[storage] %s: resuming %zu paused input(s)", spool_->dir().c_str(), spoolBlocked_.size());
  auto blocked = std::move(spoolBlocked_);
  spoolBlocked_.clear();
  for (InputSlot* in : blocked) in->unblock(spool_.get());
}

void Worker::publishStorage() {
  const auto& s = spool_->stats();
  auto& g = storageGauges_;
  g.enabled.set(1);
  g.bytesOnDisk.set(s.bytesOnDisk);
  g.segments.set(s.segments);
  g.recovered.set(s.recoveredBatches);
  g.corrupt.set(s.corruptBatches + s.corruptSegments);
  g.torn.set(s.tornBytes);
  g.ioErrors.set(s.ioErrors);
  uint64_t unreadable = 0;
  for (const auto& out : outputs_) unreadable += out->spoolUnreadable();
  g.unreadable.set(unreadable);
}

void Worker::forEachInput(const std::function<void(const InputSlot&)>& f) const {
  for (const auto& in : inputs_) f(*in);
}
void Worker::forEachFilter(const std::function<void(const FilterSlot&)>& f) const {
  for (const auto& slot : filters_) f(*slot);
}
void Worker::forEachOutput(const std::function<void(const OutputRunner&)>& f) const {
  for (const auto& out : outputs_) f(*out);
}

}  // namespace firelane
