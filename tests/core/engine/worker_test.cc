// The worker's engine duties with scripted plugins: routing, chunk cutting, retries and
// Retry_Limit, backpressure (pause/resume of the inputs feeding a full queue), graceful drain.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "core/engine/worker.h"

using namespace firelane;
using namespace std::chrono_literals;

namespace {

// Waits for a predicate under a mutex with a deadline (no sleeps).
struct Signal {
  std::mutex m;
  std::condition_variable cv;
  // Some conditions (counters) change without a notify: re-check every 2 ms until the deadline.
  template <typename P>
  bool waitFor(P pred, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock(m);
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      cv.wait_for(lock, 2ms);
    }
    return true;
  }
  void notify() {
    std::lock_guard<std::mutex> lock(m);
    cv.notify_all();
  }
};

struct Shared {
  Signal sig;
  std::atomic<int> pauses{0};
  std::atomic<int> resumes{0};
  std::atomic<int> flushes{0};
  std::atomic<size_t> delivered{0};
  std::vector<size_t> chunkSizes;  // guarded by sig.m
  struct FlushCall {
    uint64_t chunkId;
    int attempt;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<FlushCall> calls;  // guarded by sig.m
  std::deque<FlushResult> script;  // results to answer, then Ok; guarded by sig.m
  bool hold = false;               // keep completions until released
  std::vector<FlushCompletion> held;
  InputContext* ctx = nullptr;
  FlushLimits limits{1000, 1 << 20, 1};
};

class ScriptedInput final : public Input {
 public:
  explicit ScriptedInput(Shared& s) : s_(s) {}
  Status start(InputContext& ctx) override {
    s_.ctx = &ctx;
    return {};
  }
  void pause() override {
    s_.pauses++;
    s_.sig.notify();
  }
  void resume() override {
    s_.resumes++;
    s_.sig.notify();
  }
  void stopAccepting() override {}
  void close(std::function<void()> closed) override { closed(); }

 private:
  Shared& s_;
};

class ScriptedInputFactory final : public InputFactory {
 public:
  explicit ScriptedInputFactory(Shared& s) : s_(s) {}
  InputPtr create(unsigned) const override { return std::make_unique<ScriptedInput>(s_); }
  Shared& s_;
};

class ScriptedOutput final : public Output {
 public:
  explicit ScriptedOutput(Shared& s) : s_(s) {}
  Status start(OutputContext&) override { return {}; }
  FlushLimits limits() const override { return s_.limits; }
  void flush(const FlushChunk& chunk, FlushCompletion done) override {
    FlushResult r = FlushResult::ok();
    {
      std::lock_guard<std::mutex> lock(s_.sig.m);
      s_.chunkSizes.push_back(chunk.events);
      s_.calls.push_back({chunk.id, chunk.attempt, std::chrono::steady_clock::now()});
      if (!s_.script.empty()) {
        r = s_.script.front();
        s_.script.pop_front();
      }
      if (r.kind == FlushResult::Kind::Ok) s_.delivered += chunk.events;
      s_.flushes++;
      if (s_.hold) {
        s_.held.push_back(std::move(done));
        s_.sig.cv.notify_all();
        return;
      }
      s_.sig.cv.notify_all();
    }
    done(r);
  }

 private:
  Shared& s_;
};

class ScriptedOutputFactory final : public OutputFactory {
 public:
  explicit ScriptedOutputFactory(Shared& s) : s_(s) {}
  OutputPtr create(unsigned) const override { return std::make_unique<ScriptedOutput>(s_); }
  Shared& s_;
};

struct Listener final : WorkerListener {
  Signal sig;
  std::atomic<bool> drained{false};
  void inputFinished(unsigned) override {}
  void workerDrained(unsigned) override {
    drained = true;
    sig.notify();
  }
};

// A batch of n events whose records are the same small map.
EventBatch makeBatch(const std::string& tag, size_t n) {
  static const uint8_t rec[] = {0x81, 0xa3, 'l', 'o', 'g', 0xa1, 'x'};
  auto buf = makeBuffer(sizeof(rec));
  buf->append(rec, sizeof(rec));
  EventBatch b;
  b.tag = tag;
  b.owners.push_back(buf);
  for (size_t i = 0; i < n; ++i) b.add(static_cast<int64_t>(i), buf->bytes());
  return b;
}

struct Harness {
  Shared s;
  Listener listener;
  PipelineConfig pc;
  std::unique_ptr<Worker> worker;
  std::vector<std::shared_ptr<InputFactory>> inputs;
  std::vector<const InputSpec*> specs;

  explicit Harness(std::function<void(PipelineConfig&)> tune = nullptr, FlushLimits limits = {1000, 1 << 20, 1}) {
    s.limits = limits;
    pc.service.flushSeconds = 0.01;
    pc.service.schedulerBase = 0.001;
    pc.service.schedulerCap = 0.005;
    pc.service.workers = 1;
    InputSpec in;
    in.plugin = "scripted";
    in.instance = "scripted.0";
    in.factory = std::make_shared<ScriptedInputFactory>(s);
    pc.inputs.push_back(in);
    OutputSpec out;
    out.plugin = "scripted";
    out.instance = "scripted.0";
    out.matcher = *TagMatcher::create("app.*", "");
    out.retryLimit = 2;
    out.factory = std::make_shared<ScriptedOutputFactory>(s);
    pc.outputs.push_back(out);
    if (tune) tune(pc);
    inputs.push_back(pc.inputs[0].factory);
    specs.push_back(&pc.inputs[0]);
    worker = std::make_unique<Worker>(0, 1, pc, listener);
    REQUIRE(worker->start(inputs, specs).ok());
  }
  ~Harness() {
    if (!listener.drained) {
      {
        std::lock_guard<std::mutex> lock(s.sig.m);
        s.hold = false;
      }
      release();
      worker->shutdown(0);
      listener.sig.waitFor([&] { return listener.drained.load(); });
    }
  }
  void emit(EventBatch&& b) {
    auto shared = std::make_shared<EventBatch>(std::move(b));
    worker->inbox().post([this, shared] { s.ctx->emit(std::move(*shared)); });
  }
  // Completes held flushes with Ok on the worker loop.
  void release() {
    std::vector<FlushCompletion> held;
    {
      std::lock_guard<std::mutex> lock(s.sig.m);
      held.swap(s.held);
    }
    worker->inbox().post([held]() mutable {
      for (auto& d : held) d(FlushResult::ok());
    });
  }
  const OutputCounters& counters() {
    const OutputCounters* c = nullptr;
    worker->forEachOutput([&](const OutputRunner& r) { c = &const_cast<OutputRunner&>(r).counters(); });
    return *c;
  }
  const InputCounters& inputCounters() {
    const InputCounters* c = nullptr;
    worker->forEachInput([&](const InputSlot& slot) { c = &const_cast<InputSlot&>(slot).counters(); });
    return *c;
  }
};

}  // namespace

TEST_CASE("events reach the matching output; unrouted ones are counted", "[engine]") {
  Harness h;
  h.emit(makeBatch("app.web", 10));
  h.emit(makeBatch("other", 4));
  REQUIRE(h.s.sig.waitFor([&] { return h.s.delivered.load() == 10; }));
  REQUIRE(h.s.sig.waitFor([&] { return h.inputCounters().errors.get("unrouted") == 4; }));
  CHECK(h.inputCounters().records.get() == 14);
}

TEST_CASE("chunks respect the output's event and byte limits, splitting batches", "[engine]") {
  Harness h(nullptr, FlushLimits{300, 1 << 20, 1});
  h.emit(makeBatch("app.a", 1000));
  REQUIRE(h.s.sig.waitFor([&] { return h.s.delivered.load() == 1000; }));
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    CHECK(h.s.chunkSizes == std::vector<size_t>{300, 300, 300, 100});
  }
  Harness b(nullptr, FlushLimits{100000, 70, 1});  // 7-byte records: 10 per chunk
  b.emit(makeBatch("app.a", 25));
  REQUIRE(b.s.sig.waitFor([&] { return b.s.delivered.load() == 25; }));
  std::lock_guard<std::mutex> lock(b.s.sig.m);
  CHECK(b.s.chunkSizes == std::vector<size_t>{10, 10, 5});
}

TEST_CASE("a failed flush is retried, then dropped after Retry_Limit with a counter", "[engine]") {
  Harness h;
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    h.s.script = {FlushResult::retry("503"), FlushResult::retry("503"), FlushResult::retry("503")};
  }
  h.emit(makeBatch("app.a", 5));
  // Retry_Limit 2: first attempt + 2 retries fail -> dropped.
  REQUIRE(h.s.sig.waitFor([&] { return h.counters().dropped.get() == 5; }));
  CHECK(h.counters().retries.get() == 2);
  CHECK(h.counters().retriesFailed.get() == 1);
  CHECK(h.s.delivered.load() == 0);
  // The next batch goes through normally.
  h.emit(makeBatch("app.a", 3));
  REQUIRE(h.s.sig.waitFor([&] { return h.s.delivered.load() == 3; }));
}

TEST_CASE("a retry that succeeds delivers once; rejects are dropped without retry", "[engine]") {
  Harness h;
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    h.s.script = {FlushResult::retry("429", std::chrono::milliseconds(1)), FlushResult::ok(),
                  FlushResult::reject("400 bad request")};
  }
  h.emit(makeBatch("app.a", 7));
  REQUIRE(h.s.sig.waitFor([&] { return h.s.delivered.load() == 7; }));
  CHECK(h.counters().retries.get() == 1);
  h.emit(makeBatch("app.a", 2));
  REQUIRE(h.s.sig.waitFor([&] { return h.counters().dropped.get() == 2; }));
  CHECK(h.counters().retries.get() == 1);
  CHECK(h.counters().records.get() == 7);
}

TEST_CASE("a full output queue pauses its input and resumes it once drained", "[engine]") {
  Harness h([](PipelineConfig& pc) { pc.outputs[0].queueLimit = 64 * 1024; });
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    h.s.hold = true;
  }
  // 7-byte records: 20000 events = 140 KB > 64 KB limit.
  for (int i = 0; i < 20; ++i) h.emit(makeBatch("app.a", 1000));
  REQUIRE(h.s.sig.waitFor([&] { return h.s.pauses.load() == 1; }));
  CHECK(h.s.resumes.load() == 0);
  // Complete flushes until everything is delivered; the input must be resumed.
  for (int round = 0; round < 200 && h.s.delivered.load() < 20000; ++round) {
    h.s.sig.waitFor([&] { return !h.s.held.empty() || h.s.delivered.load() == 20000; }, 1000ms);
    h.release();
  }
  REQUIRE(h.s.sig.waitFor([&] { return h.s.resumes.load() == 1; }));
  CHECK(h.s.delivered.load() == 20000);
}

TEST_CASE("Mem_Buf_Limit pauses an input that holds too much", "[engine]") {
  Harness h([](PipelineConfig& pc) { pc.inputs[0].memBufLimit = 10000; });
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    h.s.hold = true;
  }
  h.emit(makeBatch("app.a", 2000));  // 14000 bytes > 10000
  REQUIRE(h.s.sig.waitFor([&] { return h.s.pauses.load() == 1; }));
  // Chunks of 1000 events: the batch is freed (and the input resumed) after both are delivered.
  for (int round = 0; round < 2; ++round) {
    REQUIRE(h.s.sig.waitFor([&] { return !h.s.held.empty(); }));
    CHECK(h.s.resumes.load() == 0);
    h.release();
  }
  REQUIRE(h.s.sig.waitFor([&] { return h.s.resumes.load() == 1; }));
  CHECK(h.s.delivered.load() == 2000);
}

TEST_CASE("shutdown flushes what is queued before the worker reports drained", "[engine]") {
  Harness h([](PipelineConfig& pc) { pc.service.flushSeconds = 3600; });  // the timer never fires
  h.emit(makeBatch("app.a", 42));
  h.worker->shutdown(0);
  REQUIRE(h.listener.sig.waitFor([&] { return h.listener.drained.load(); }));
  CHECK(h.s.delivered.load() == 42);
}

TEST_CASE("Retry_Limit no_retries drops a chunk at its first failure", "[engine][retry]") {
  Harness h([](PipelineConfig& pc) { pc.outputs[0].retryLimit = 0; });
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    h.s.script = {FlushResult::retry("503")};
  }
  h.emit(makeBatch("app.a", 4));
  REQUIRE(h.s.sig.waitFor([&] { return h.counters().dropped.get() == 4; }));
  CHECK(h.counters().retries.get() == 0);
  CHECK(h.counters().retriesFailed.get() == 1);
  CHECK(h.s.flushes.load() == 1);
}

TEST_CASE("Retry_Limit no_limits retries until the flush succeeds", "[engine][retry]") {
  Harness h([](PipelineConfig& pc) { pc.outputs[0].retryLimit = -1; });
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    for (int i = 0; i < 12; ++i) h.s.script.push_back(FlushResult::retry("503"));
  }
  h.emit(makeBatch("app.a", 6));
  REQUIRE(h.s.sig.waitFor([&] { return h.s.delivered.load() == 6; }));
  CHECK(h.counters().retries.get() == 12);
  CHECK(h.counters().dropped.get() == 0);
  std::lock_guard<std::mutex> lock(h.s.sig.m);
  REQUIRE(h.s.calls.size() == 13);
  for (size_t i = 0; i < h.s.calls.size(); ++i) {
    CHECK(h.s.calls[i].chunkId == h.s.calls[0].chunkId);
    CHECK(h.s.calls[i].attempt == static_cast<int>(i) + 1);
  }
}

TEST_CASE("retries wait at least scheduler.base and at least the server's Retry-After", "[engine][retry]") {
  Harness h([](PipelineConfig& pc) {
    pc.service.schedulerBase = 0.05;
    pc.service.schedulerCap = 0.08;
    pc.outputs[0].retryLimit = -1;
  });
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    // Retry-After above scheduler.cap is still honoured: it is the server's floor, not our backoff.
    h.s.script = {FlushResult::retry("503"), FlushResult::retry("503"),
                  FlushResult::retry("429", std::chrono::milliseconds(300))};
  }
  h.emit(makeBatch("app.a", 3));
  REQUIRE(h.s.sig.waitFor([&] { return h.s.delivered.load() == 3; }));
  std::lock_guard<std::mutex> lock(h.s.sig.m);
  REQUIRE(h.s.calls.size() == 4);
  CHECK(h.s.calls[1].at - h.s.calls[0].at >= 50ms);
  CHECK(h.s.calls[2].at - h.s.calls[1].at >= 50ms);
  CHECK(h.s.calls[3].at - h.s.calls[2].at >= 300ms);
}

TEST_CASE("only the failed chunk is retried; chunks that succeeded are never flushed again", "[engine][retry]") {
  Harness h([](PipelineConfig& pc) { pc.outputs[0].retryLimit = -1; }, FlushLimits{5, 1 << 20, 1});
  {
    std::lock_guard<std::mutex> lock(h.s.sig.m);
    h.s.script = {FlushResult::ok(), FlushResult::retry("503"), FlushResult::ok(), FlushResult::ok()};
  }
  h.emit(makeBatch("app.a", 15));  // three chunks of 5
  REQUIRE(h.s.sig.waitFor([&] { return h.s.delivered.load() == 15; }));
  CHECK(h.counters().retries.get() == 1);
  std::lock_guard<std::mutex> lock(h.s.sig.m);
  REQUIRE(h.s.calls.size() == 4);
  std::map<uint64_t, int> perChunk;
  for (const auto& c : h.s.calls) ++perChunk[c.chunkId];
  CHECK(perChunk.size() == 3);
  CHECK(perChunk[h.s.calls[1].chunkId] == 2);  // the failed one, and only it, twice
  CHECK(perChunk[h.s.calls[0].chunkId] == 1);
}
