// The cloudwatch_logs runtime on a real loop against the fake service: a chunk whose calls partly
// fail is retried with only the failed call, so nothing is stored twice; rejected events are dropped
// without a retry; flushes wait for the first credentials.
#include <catch2/catch.hpp>

#include "outputs/cloudwatch_logs/cloudwatch_logs.h"
#include "support/fake_cloudwatch.h"
#include "support/forward_client.h"

using namespace firelane;
using namespace firelane::outputs::cloudwatch_logs;
using namespace firelane::testsupport;

namespace {

class TestContext final : public OutputContext {
 public:
  explicit TestContext(uv_loop_t* loop) : loop_(loop) {}
  uv_loop_t* loop() override { return loop_; }
  unsigned workerId() const override { return 0; }
  const std::string& instanceName() const override { return name_; }
  OutputCounters& counters() override { return counters_; }
  void post(std::function<void()>) override { FAIL("the output must not post from another thread"); }

 private:
  uv_loop_t* loop_;
  std::string name_ = "cloudwatch_logs.0";
  OutputCounters counters_;
};

// Hands out fixed keys, after `delay` on the first fetch (as a slow metadata endpoint would).
class StaticProvider final : public aws::CredentialProvider {
 public:
  explicit StaticProvider(std::chrono::milliseconds delay = {}) : delay_(delay) {}
  std::string name() const override { return "static"; }
  Result<aws::Credentials> fetch(bool& available) override {
    available = true;
    std::this_thread::sleep_for(delay_);  // stands in for a slow network fetch on the refresh thread
    aws::Credentials c;
    c.accessKeyId = "AKIDRT";
    c.secretAccessKey = "rt-secret";
    c.provider = name();
    return c;
  }

 private:
  std::chrono::milliseconds delay_;
};

struct Harness {
  uv_loop_t loop;
  std::unique_ptr<TestContext> ctx;
  CloudWatchConfig config;
  std::unique_ptr<CloudWatchOutput> out;

  Harness(const FakeCloudWatch& cw, std::chrono::milliseconds credentialDelay = {}) {
    uv_loop_init(&loop);
    ctx = std::make_unique<TestContext>(&loop);
    config.instance = "cloudwatch_logs.0";
    config.region = "us-east-1";
    config.upstream.host = "127.0.0.1";
    config.upstream.port = cw.port();
    config.upstream.tls = false;
    config.encoder.logGroupName = "g";
    config.encoder.logStreamName = "fallback";
    config.encoder.logStreamTemplate = *NameTemplate::parse("$(s)");
    config.encoder.logKey = *record::RecordAccessor::parse("log");
    config.autoRetryRequests = false;
    config.credentials = std::make_shared<aws::CredentialSource>(std::make_unique<StaticProvider>(credentialDelay));
    out = std::make_unique<CloudWatchOutput>(config);
    REQUIRE(out->start(*ctx).ok());
  }
  ~Harness() {
    bool closed = false;
    out->close([&] { closed = true; });
    runUntil([&] { return closed; });
    out.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  template <typename F>
  bool runUntil(F done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) uv_run(&loop, UV_RUN_ONCE);
    return done();
  }
  FlushResult flush(const FlushChunk& chunk) {
    std::optional<FlushResult> result;
    out->flush(chunk, [&](FlushResult r) { result = std::move(r); });
    REQUIRE(runUntil([&] { return result.has_value(); }));
    return *result;
  }
};

struct Chunk {
  std::vector<std::string> records;
  std::shared_ptr<EventBatch> batch = std::make_shared<EventBatch>();
  FlushChunk chunk;
  explicit Chunk(const std::vector<std::pair<std::string, std::string>>& events) {
    batch->tag = "app";
    records.reserve(events.size());
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    for (const auto& [stream, log] : events) {
      Packer p;
      p.map(2).str("s").str(stream).str("log").str(log);
      records.push_back(p.take());
      const auto& r = records.back();
      batch->add(now, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.data()), r.size()));
    }
    chunk.slices.push_back(BatchSlice{batch, 0, static_cast<uint32_t>(events.size())});
    chunk.events = events.size();
    chunk.id = 42;
    chunk.attempt = 1;
  }
};

std::shared_ptr<FakeKeyring> keyring() {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDRT", {"rt-secret", "", SysClock::time_point::max()});
  return keys;
}

}  // namespace

TEST_CASE("cloudwatch_logs runtime: a retried chunk resends only the call that failed", "[cloudwatch][runtime]") {
  FakeCloudWatch cw(keyring());
  cw.start();
  cw.createStream("g", "a");
  cw.createStream("g", "b");
  Harness h(cw);
  Chunk c({{"a", "a1"}, {"b", "b1"}, {"a", "a2"}, {"b", "b2"}});
  cw.failNext(1, CloudWatchFault{CloudWatchFault::Kind::Throttle});
  FlushResult first = h.flush(c.chunk);
  CHECK(first.kind == FlushResult::Kind::Retry);
  CHECK(first.reason.find("ThrottlingException") != std::string::npos);
  CHECK(cw.eventCount() == 2);  // one stream's call went through
  c.chunk.attempt = 2;
  FlushResult second = h.flush(c.chunk);
  CHECK(second.kind == FlushResult::Kind::Ok);
  CHECK(cw.opCount("PutLogEvents") == 3);  // 2 calls, then only the throttled one again
  auto a = cw.events("g", "a"), b = cw.events("g", "b");
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  CHECK(a[0].message == "a1");
  CHECK(a[1].message == "a2");
  CHECK(b[0].message == "b1");
  CHECK(cw.opCount("CreateLogStream") == 2);  // first use only, not again on the retry
  CHECK(h.ctx->counters().reasons.get("throttled") == 1);
  CHECK(cw.violations().empty());
}

TEST_CASE("cloudwatch_logs runtime: InvalidParameterException drops the call and is not retried",
          "[cloudwatch][runtime]") {
  FakeCloudWatchOptions o;
  o.maxEventBytes = 100;  // a stricter service: the long event is refused
  FakeCloudWatch cw(keyring(), o);
  cw.start();
  cw.createStream("g", "a");
  cw.createStream("g", "b");
  Harness h(cw);
  Chunk c({{"a", std::string(200, 'x')}, {"b", "fine"}});
  FlushResult r = h.flush(c.chunk);
  CHECK(r.kind == FlushResult::Kind::Ok);  // the other call succeeded
  CHECK(cw.events("g", "b").size() == 1);
  CHECK(cw.events("g", "a").empty());
  CHECK(h.ctx->counters().dropped.get() == 1);
  CHECK(cw.opCount("PutLogEvents") == 2);
}

TEST_CASE("cloudwatch_logs runtime: flushes wait for the first credentials", "[cloudwatch][runtime]") {
  FakeCloudWatch cw(keyring());
  cw.start();
  cw.createStream("g", "a");
  Harness h(cw, std::chrono::milliseconds(300));
  Chunk c(std::vector<std::pair<std::string, std::string>>{{"a", "early"}});
  FlushResult r = h.flush(c.chunk);
  CHECK(r.kind == FlushResult::Kind::Ok);
  CHECK(cw.events("g", "a").size() == 1);
  CHECK(cw.answered("MissingAuthenticationTokenException") == 0);
}
