// The cloudwatch_logs encoder: names from templates (record accessors, FireLens $(ecs_*) values,
// fallbacks), messages (log_key / JSON), and every PutLogEvents batching rule.
#include "outputs/cloudwatch_logs/cloudwatch_logs_encoder.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/forward_client.h"

using namespace firelane;
using namespace firelane::outputs::cloudwatch_logs;
using firelane::testsupport::Packer;
using nlohmann::json;

namespace {

constexpr int64_t kNowMs = 1'750'000'000'000;  // a fixed "now"
constexpr int64_t kNs = 1'000'000;

// Owns the records of a batch (one buffer per test).
struct BatchBuilder {
  std::shared_ptr<EventBatch> batch = std::make_shared<EventBatch>();
  std::vector<std::unique_ptr<std::string>> records;
  explicit BatchBuilder(std::string tag) { batch->tag = std::move(tag); }
  BatchBuilder& add(int64_t ms, const std::vector<std::pair<std::string, std::string>>& kv) {
    Packer p;
    p.map(static_cast<uint32_t>(kv.size()));
    for (const auto& [k, v] : kv) p.str(k).str(v);
    records.push_back(std::make_unique<std::string>(p.take()));
    const auto& r = *records.back();
    batch->add(ms * kNs, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.data()), r.size()));
    return *this;
  }
  BatchBuilder& addRaw(int64_t ms, std::string bytes) {
    records.push_back(std::make_unique<std::string>(std::move(bytes)));
    const auto& r = *records.back();
    batch->add(ms * kNs, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.data()), r.size()));
    return *this;
  }
  FlushChunk chunk() const {
    FlushChunk c;
    c.slices.push_back(BatchSlice{batch, 0, static_cast<uint32_t>(batch->events.size())});
    c.events = batch->events.size();
    return c;
  }
};

CloudWatchEncoderConfig fixedNames() {
  CloudWatchEncoderConfig c;
  c.logGroupName = "group";
  c.logStreamName = "stream";
  return c;
}

json bodyOf(const PutCall& c) { return json::parse(c.body); }

}  // namespace

TEST_CASE("cloudwatch encoder: one call with sorted events and the record as JSON", "[cloudwatch][encoder]") {
  CloudWatchEncoder enc(fixedNames());
  BatchBuilder b("app");
  b.add(kNowMs - 10, {{"log", "second"}}).add(kNowMs - 20, {{"log", "first"}}).add(kNowMs - 10, {{"log", "third"}});
  std::vector<PutCall> calls;
  auto st = enc.encode(b.chunk(), kNowMs, calls);
  REQUIRE(calls.size() == 1);
  CHECK(st.events == 3);
  json j = bodyOf(calls[0]);
  CHECK(j["logGroupName"] == "group");
  CHECK(j["logStreamName"] == "stream");
  REQUIRE(j["logEvents"].size() == 3);
  CHECK(j["logEvents"][0]["timestamp"] == kNowMs - 20);
  CHECK(j["logEvents"][0]["message"] == "{\"log\":\"first\"}");
  // Equal timestamps keep their arrival order (stable sort).
  CHECK(j["logEvents"][1]["message"] == "{\"log\":\"second\"}");
  CHECK(j["logEvents"][2]["message"] == "{\"log\":\"third\"}");
  CHECK(calls[0].bytes == 3 * 26 + 15 + 16 + 15);
  CHECK(calls[0].firstMs == kNowMs - 20);
}

TEST_CASE("cloudwatch encoder: log_key sends the value and skips records without it", "[cloudwatch][encoder]") {
  auto cfg = fixedNames();
  cfg.logKey = *record::RecordAccessor::parse("$log");
  CloudWatchEncoder enc(cfg);
  BatchBuilder b("app");
  b.add(kNowMs, {{"log", "hello \"world\""}, {"source", "stdout"}}).add(kNowMs, {{"msg", "no log key"}});
  std::vector<PutCall> calls;
  auto st = enc.encode(b.chunk(), kNowMs, calls);
  CHECK(st.noLogKey == 1);
  REQUIRE(calls.size() == 1);
  json j = bodyOf(calls[0]);
  REQUIRE(j["logEvents"].size() == 1);
  CHECK(j["logEvents"][0]["message"] == "hello \"world\"");
}

TEST_CASE("cloudwatch encoder: templates take record values and FireLens ECS values", "[cloudwatch][encoder]") {
  CloudWatchEncoderConfig cfg;
  cfg.logGroupName = "fallback-group";
  cfg.logStreamPrefix = "from-";
  cfg.logGroupTemplate = *NameTemplate::parse("/ecs/$(ecs_cluster)/$kubernetes['namespace_name']");
  cfg.logStreamTemplate = *NameTemplate::parse("$(tag[1])/$(ecs_task_id)");
  CloudWatchEncoder enc(cfg);
  BatchBuilder b("web.firelens");
  Packer nested;
  nested.map(3).str("ecs_cluster").str("prod").str("ecs_task_arn").str("arn:aws:ecs:us-east-1:1:task/prod/abc123");
  nested.str("kubernetes").map(1).str("namespace_name").str("ns1");
  b.addRaw(kNowMs, nested.take());
  b.add(kNowMs, {{"log", "no ecs fields"}});
  std::vector<PutCall> calls;
  auto st = enc.encode(b.chunk(), kNowMs, calls);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].group == "/ecs/prod/ns1");
  CHECK(calls[0].stream == "firelens/abc123");
  // Missing values fall back to the fixed names (stream: prefix + tag).
  CHECK(calls[1].group == "fallback-group");
  CHECK(calls[1].stream == "from-web.firelens");
  CHECK(st.fallbackNames == 2);
}

TEST_CASE("cloudwatch encoder: $(ecs_task_id) prefers the record's ecs_task_id", "[cloudwatch][encoder]") {
  auto t = NameTemplate::parse("task-$(ecs_task_id)-$(missing)");
  REQUIRE(t.ok());
  Packer p;
  p.map(2).str("ecs_task_id").str("id1").str("missing").str("x");
  std::string rec = p.take();
  std::string out;
  CHECK(t->render(out, "tag", record::Bytes(reinterpret_cast<const uint8_t*>(rec.data()), rec.size()), {}));
  CHECK(out == "task-id1-x");
  CHECK_FALSE(NameTemplate::parse("$(unclosed").ok());
}

TEST_CASE("cloudwatch encoder: calls are cut at 10000 events", "[cloudwatch][encoder]") {
  CloudWatchEncoder enc(fixedNames());
  BatchBuilder b("app");
  for (int i = 0; i < 25'000; ++i) b.add(kNowMs - 25'000 + i, {{"log", "x"}});
  std::vector<PutCall> calls;
  enc.encode(b.chunk(), kNowMs, calls);
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].events == 10'000);
  CHECK(calls[1].events == 10'000);
  CHECK(calls[2].events == 5'000);
  CHECK(bodyOf(calls[2])["logEvents"].size() == 5'000);
}

TEST_CASE("cloudwatch encoder: calls are cut at 1048576 bytes counting 26 per event", "[cloudwatch][encoder]") {
  auto cfg = fixedNames();
  cfg.logKey = *record::RecordAccessor::parse("log");
  CloudWatchEncoder enc(cfg);
  BatchBuilder b("app");
  std::string big(100'000 - 26, 'a');  // exactly 100000 bytes each as AWS counts
  for (int i = 0; i < 25; ++i) b.add(kNowMs, {{"log", big}});
  std::vector<PutCall> calls;
  enc.encode(b.chunk(), kNowMs, calls);
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].events == 10);
  CHECK(calls[0].bytes == 1'000'000);
  CHECK(calls[2].events == 5);
  for (const auto& c : calls) CHECK(c.bytes <= 1'048'576);
}

TEST_CASE("cloudwatch encoder: a call never spans more than 24 hours", "[cloudwatch][encoder]") {
  CloudWatchEncoder enc(fixedNames());
  BatchBuilder b("app");
  const int64_t hour = 3'600'000;
  b.add(kNowMs - 30 * hour, {{"log", "a"}}).add(kNowMs - 6 * hour - 1, {{"log", "b"}});
  b.add(kNowMs - 6 * hour, {{"log", "c"}}).add(kNowMs, {{"log", "d"}});
  std::vector<PutCall> calls;
  enc.encode(b.chunk(), kNowMs, calls);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].events == 2);  // a and b: 24 h minus 1 ms apart; c is 24 h after a
  CHECK(calls[1].events == 2);
  for (const auto& c : calls) CHECK(c.lastMs - c.firstMs < 24 * hour);
}

TEST_CASE("cloudwatch encoder: events older than 14 days or over 2 h ahead are counted and left out",
          "[cloudwatch][encoder]") {
  CloudWatchEncoder enc(fixedNames());
  BatchBuilder b("app");
  const int64_t day = 24LL * 3'600'000;
  b.add(kNowMs - 14 * day - 1, {{"log", "old"}}).add(kNowMs - 14 * day + 1000, {{"log", "just in"}});
  b.add(kNowMs + 2 * 3'600'000 + 1, {{"log", "future"}}).add(kNowMs, {{"log", "now"}});
  std::vector<PutCall> calls;
  auto st = enc.encode(b.chunk(), kNowMs, calls);
  CHECK(st.tooOld == 1);
  CHECK(st.tooNew == 1);
  size_t sent = 0;
  for (const auto& c : calls) sent += c.events;
  CHECK(sent == 2);
}

TEST_CASE("cloudwatch encoder: oversized events are truncated on a UTF-8 boundary", "[cloudwatch][encoder]") {
  auto cfg = fixedNames();
  cfg.logKey = *record::RecordAccessor::parse("log");
  cfg.maxEventSize = 262'144;
  CloudWatchEncoder enc(cfg);
  BatchBuilder b("app");
  std::string euro;
  for (int i = 0; i < 100'000; ++i) euro += "\xE2\x82\xAC";  // 300000 bytes of 3-byte characters
  b.add(kNowMs, {{"log", euro}}).add(kNowMs, {{"log", "small"}});
  std::vector<PutCall> calls;
  auto st = enc.encode(b.chunk(), kNowMs, calls);
  CHECK(st.truncated == 1);
  REQUIRE(calls.size() == 1);
  json j = bodyOf(calls[0]);  // parses: the cut kept whole characters
  std::string msg = j["logEvents"][0]["message"];
  CHECK(msg.size() + 26 <= 262'144);
  CHECK(msg.size() % 3 == 0);
  CHECK(msg.size() + 26 > 262'144 - 3);
  CHECK(j["logEvents"][1]["message"] == "small");
}

TEST_CASE("cloudwatch encoder: utf8Size counts replacement characters for bad bytes", "[cloudwatch][encoder]") {
  size_t cut = 0;
  CHECK(utf8Size("abc", 10, cut) == 3);
  CHECK(cut == 3);
  CHECK(utf8Size("a\xff" "b", 10, cut) == 5);  // 0xff -> U+FFFD (3 bytes)
  CHECK(utf8Size("\xE2\x82\xAC\xE2\x82\xAC", 4, cut) == 6);
  CHECK(cut == 3);
  CHECK(utf8Size("\xE2\x82", 10, cut) == 6);  // truncated sequence: two replacements
}

TEST_CASE("cloudwatch encoder: streams get separate calls in first-seen order", "[cloudwatch][encoder]") {
  CloudWatchEncoderConfig cfg;
  cfg.logGroupName = "g";
  cfg.logStreamPrefix = "p-";
  CloudWatchEncoder enc(cfg);
  BatchBuilder a("b-tag"), b("a-tag");
  a.add(kNowMs, {{"log", "1"}});
  b.add(kNowMs, {{"log", "2"}});
  FlushChunk chunk;
  chunk.slices.push_back(BatchSlice{a.batch, 0, 1});
  chunk.slices.push_back(BatchSlice{b.batch, 0, 1});
  chunk.slices.push_back(BatchSlice{a.batch, 0, 1});
  std::vector<PutCall> calls;
  enc.encode(chunk, kNowMs, calls);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].stream == "p-b-tag");
  CHECK(calls[0].events == 2);
  CHECK(calls[1].stream == "p-a-tag");
}
