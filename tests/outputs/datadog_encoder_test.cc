// Tests for the Datadog encoder: exact JSON against Fluent Bit's out_datadog key order and ECS
// remapping, non-string and non-UTF-8 values, payload cuts at 1000 events and 5 MB, and the cutting
// of events over 1 MB down to valid JSON.
#include "outputs/datadog/datadog_encoder.h"

#include <msgpack.h>

#include <catch2/catch.hpp>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "support/strict_json.h"

using firelane::BatchSlice;
using firelane::Event;
using firelane::EventBatch;
using firelane::ExtraFields;
using firelane::FlushChunk;
using firelane::outputs::datadog::ChunkPosition;
using firelane::outputs::datadog::datadogTimestampMs;
using firelane::outputs::datadog::DatadogEncoder;
using firelane::outputs::datadog::DatadogEncoderConfig;
using firelane::outputs::datadog::PayloadStats;

namespace {

// msgpack-c's packer, so inputs never depend on firelane's own writer.
class Packer {
 public:
  Packer() {
    msgpack_sbuffer_init(&sbuf_);
    msgpack_packer_init(&pk_, &sbuf_, msgpack_sbuffer_write);
  }
  ~Packer() { msgpack_sbuffer_destroy(&sbuf_); }
  Packer(const Packer&) = delete;
  Packer& operator=(const Packer&) = delete;

  Packer& map(uint32_t n) { return msgpack_pack_map(&pk_, n), *this; }
  Packer& array(uint32_t n) { return msgpack_pack_array(&pk_, n), *this; }
  Packer& str(std::string_view s) {
    msgpack_pack_str(&pk_, s.size());
    msgpack_pack_str_body(&pk_, s.data(), s.size());
    return *this;
  }
  Packer& bin(std::string_view s) {
    msgpack_pack_bin(&pk_, s.size());
    msgpack_pack_bin_body(&pk_, s.data(), s.size());
    return *this;
  }
  Packer& kv(std::string_view k, std::string_view v) { return str(k).str(v); }
  Packer& integer(int64_t v) { return msgpack_pack_int64(&pk_, v), *this; }
  Packer& dbl(double v) { return msgpack_pack_double(&pk_, v), *this; }
  Packer& boolean(bool v) { return (v ? msgpack_pack_true(&pk_) : msgpack_pack_false(&pk_)), *this; }
  Packer& nil() { return msgpack_pack_nil(&pk_), *this; }
  std::vector<uint8_t> bytes() const {
    return {reinterpret_cast<const uint8_t*>(sbuf_.data),
            reinterpret_cast<const uint8_t*>(sbuf_.data) + sbuf_.size};
  }

 private:
  msgpack_sbuffer sbuf_;
  msgpack_packer pk_;
};

const std::string kContainerId = "3f8a2c9d1e7b4a6f0c5d8e2b9a1f7c3d6e0b4a8f2c9d1e7b5a3f6c0d8e2b9a14";
const std::string kTaskArn = "arn:aws:ecs:us-east-1:123456789012:task/c/0123abcd";
constexpr int64_t kTimeNs = 1700000000123456789;  // -> 1700000000123 ms (0.456789 ms rounds down)
const std::string kTs = "1700000000123";

// The record FireLens delivers after its record_modifier filter.
std::vector<uint8_t> fireLensRecord() {
  Packer p;
  p.map(7)
      .kv("container_id", kContainerId)
      .kv("container_name", "/app")
      .kv("source", "stdout")
      .kv("log", "hello")
      .kv("ecs_cluster", "c")
      .kv("ecs_task_arn", kTaskArn)
      .kv("ecs_task_definition", "fam:3");
  return p.bytes();
}

std::string encodeOne(DatadogEncoder& enc, const std::vector<uint8_t>& record, std::string_view tag = "app",
                      const ExtraFields* extra = nullptr, int64_t timeNs = kTimeNs) {
  std::string out;
  enc.appendEvent(out, tag, Event{timeNs, record}, extra);
  return out;
}

std::string encodeOne(const DatadogEncoderConfig& cfg, const std::vector<uint8_t>& record,
                      std::string_view tag = "app", const ExtraFields* extra = nullptr) {
  DatadogEncoder enc(cfg);
  return encodeOne(enc, record, tag, extra);
}

DatadogEncoderConfig allSet() {
  DatadogEncoderConfig c;
  c.ddService = "svc";
  c.ddSource = "src";
  c.ddTags = "env:prod,team:x";
  c.ddHostname = "host1";
  return c;
}

bool validJson(std::string_view s) { return firelane::testsupport::isValidJson(s); }

// Owns records and batches for a FlushChunk; slices cover whole batches.
class ChunkBuilder {
 public:
  void addBatch(std::string tag, const std::vector<std::vector<uint8_t>>& records,
                std::shared_ptr<const ExtraFields> extra = nullptr) {
    auto b = std::make_shared<EventBatch>();
    b->tag = std::move(tag);
    b->extra = std::move(extra);
    for (const auto& r : records) {
      storage_.push_back(r);
      b->add(kTimeNs, storage_.back());
    }
    chunk_.slices.push_back(BatchSlice{b, 0, static_cast<uint32_t>(b->events.size())});
    chunk_.events += b->events.size();
  }
  const FlushChunk& chunk() const { return chunk_; }

 private:
  std::deque<std::vector<uint8_t>> storage_;  // deque: addresses stay put as it grows
  FlushChunk chunk_;
};

std::vector<uint8_t> logRecord(std::string_view log) {
  Packer p;
  p.map(1).kv("log", log);
  return p.bytes();
}

// Encodes a whole chunk, checking every payload's validity and limits; returns events per payload.
std::vector<size_t> encodeAll(DatadogEncoder& enc, const FlushChunk& chunk, PayloadStats* total = nullptr,
                              std::vector<std::string>* payloads = nullptr) {
  std::vector<size_t> counts;
  ChunkPosition pos;
  std::string out;
  while (!pos.atEnd(chunk)) {
    PayloadStats st = enc.encodePayload(chunk, pos, out);
    REQUIRE(st.consumed > 0);
    REQUIRE(out.size() <= enc.config().maxPayloadBytes);
    REQUIRE(validJson(out));
    counts.push_back(st.events);
    if (total) {
      total->events += st.events;
      total->consumed += st.consumed;
      total->truncated += st.truncated;
      total->dropped += st.dropped;
    }
    if (payloads) payloads->push_back(out);
  }
  return counts;
}

}  // namespace

TEST_CASE("datadog: timestamps round to the millisecond like Fluent Bit", "[datadog]") {
  CHECK(datadogTimestampMs(1700000000123456789) == 1700000000123);
  CHECK(datadogTimestampMs(1700000000123500000) == 1700000000124);
  CHECK(datadogTimestampMs(1700000000123499999) == 1700000000123);
  CHECK(datadogTimestampMs(1700000000999600000) == 1700000001000);
  CHECK(datadogTimestampMs(0) == 0);
  CHECK(datadogTimestampMs(-1) == 0);  // tv_sec -1, tv_nsec 999999999 -> -1000 + 999 + 1
}

TEST_CASE("datadog: FireLens record without provider ecs", "[datadog]") {
  const auto rec = fireLensRecord();
  SECTION("dd_* unset") {
    CHECK(encodeOne(DatadogEncoderConfig{}, rec) ==
          "{\"timestamp\":" + kTs + ",\"container_id\":\"" + kContainerId +
              "\",\"container_name\":\"/app\",\"source\":\"stdout\",\"message\":\"hello\","
              "\"ecs_cluster\":\"c\",\"ecs_task_arn\":\"" + kTaskArn +
              "\",\"ecs_task_definition\":\"fam:3\"}");
  }
  SECTION("dd_* set, include_tag_key") {
    DatadogEncoderConfig c = allSet();
    c.includeTagKey = true;
    CHECK(encodeOne(c, rec, "app-firelens-0123abcd") ==
          "{\"timestamp\":" + kTs +
              ",\"tagkey\":\"app-firelens-0123abcd\",\"ddsource\":\"src\",\"service\":\"svc\","
              "\"hostname\":\"host1\",\"container_id\":\"" + kContainerId +
              "\",\"container_name\":\"/app\",\"source\":\"stdout\",\"message\":\"hello\","
              "\"ecs_cluster\":\"c\",\"ecs_task_arn\":\"" + kTaskArn +
              "\",\"ecs_task_definition\":\"fam:3\",\"ddtags\":\"env:prod,team:x\"}");
  }
}

TEST_CASE("datadog: FireLens record with provider ecs", "[datadog]") {
  const auto rec = fireLensRecord();
  const std::string remapped = "container_id:" + kContainerId + ",container_name:app,cluster_name:c,task_arn:" +
                               kTaskArn + ",region:us-east-1,task_id:c/0123abcd,task_family:fam,task_version:3";
  SECTION("dd_* unset") {
    DatadogEncoderConfig c;
    c.providerEcs = true;
    CHECK(encodeOne(c, rec) == "{\"timestamp\":" + kTs +
                                   ",\"source\":\"stdout\",\"message\":\"hello\",\"ddtags\":\"" + remapped + "\"}");
  }
  SECTION("dd_* set, custom tag key and message key") {
    DatadogEncoderConfig c = allSet();
    c.providerEcs = true;
    c.includeTagKey = true;
    c.tagKey = "fluent_tag";
    c.ddMessageKey = "source";
    CHECK(encodeOne(c, rec, "t") ==
          "{\"timestamp\":" + kTs +
              ",\"fluent_tag\":\"t\",\"ddsource\":\"src\",\"service\":\"svc\",\"hostname\":\"host1\","
              "\"message\":\"stdout\",\"log\":\"hello\",\"ddtags\":\"" + remapped + ",env:prod,team:x\"}");
  }
  SECTION("values that are not in the expected form are kept under their own names") {
    Packer p;
    p.map(6)
        .kv("ecs_cluster", "arn:aws:ecs:eu-west-1:1:cluster/prod")
        .kv("ecs_task_definition", "nocolon")
        .kv("ecs_task_arn", "short-id")
        .kv("container_name", "noslash")
        .kv("container_image", "nginx:1.25")
        .kv("log", "x");
    DatadogEncoderConfig c;
    c.providerEcs = true;
    c.jsonDateKey = "";
    CHECK(encodeOne(c, p.bytes()) ==
          "{\"message\":\"x\",\"ddtags\":\"cluster_name:prod,ecs_task_definition:nocolon,"
          "task_arn:short-id,task_id:short-id,container_name:noslash,container_image:nginx:1.25\"}");
  }
  SECTION("non-string or empty values are not remapped") {
    Packer p;
    p.map(3).str("container_id").integer(5).kv("container_name", "").str("ecs_cluster").bin("b");
    DatadogEncoderConfig c;
    c.providerEcs = true;
    CHECK(encodeOne(c, p.bytes()) ==
          "{\"timestamp\":" + kTs + ",\"container_id\":5,\"container_name\":\"\",\"ecs_cluster\":\"b\"}");
  }
  SECTION("remap with dd_tags but nothing to remap writes dd_tags alone") {
    DatadogEncoderConfig c;
    c.providerEcs = true;
    c.ddTags = "a:b";
    CHECK(encodeOne(c, logRecord("m")) == "{\"timestamp\":" + kTs + ",\"message\":\"m\",\"ddtags\":\"a:b\"}");
  }
}

TEST_CASE("datadog: json_date_key, empty values, extra fields", "[datadog]") {
  SECTION("json_date_key off: the object starts with the next member") {
    DatadogEncoderConfig c = allSet();
    c.jsonDateKey = "";
    CHECK(encodeOne(c, logRecord("m")) ==
          "{\"ddsource\":\"src\",\"service\":\"svc\",\"hostname\":\"host1\",\"message\":\"m\","
          "\"ddtags\":\"env:prod,team:x\"}");
    DatadogEncoderConfig bare;
    bare.jsonDateKey = "";
    CHECK(encodeOne(bare, logRecord("m")) == "{\"message\":\"m\"}");
    Packer empty;
    empty.map(0);
    CHECK(encodeOne(bare, empty.bytes()) == "{}");
  }
  SECTION("custom date key and values set but empty") {
    DatadogEncoderConfig c;
    c.jsonDateKey = "date";
    c.ddService = "";
    c.ddTags = "";
    CHECK(encodeOne(c, logRecord("m")) == "{\"date\":" + kTs + ",\"service\":\"\",\"message\":\"m\",\"ddtags\":\"\"}");
  }
  SECTION("extra fields follow the record's and are remapped and renamed like them") {
    Packer ex;
    ex.kv("ecs_cluster", "arn:aws:ecs:us-east-1:1:cluster/prod").str("n").integer(1).kv("log", "from-extra");
    ExtraFields extra;
    extra.kv = ex.bytes();
    extra.count = 3;
    DatadogEncoderConfig c;
    c.ddTags = "env:prod";
    CHECK(encodeOne(c, logRecord("m"), "t", &extra) ==
          "{\"timestamp\":" + kTs +
              ",\"message\":\"m\",\"ecs_cluster\":\"arn:aws:ecs:us-east-1:1:cluster/prod\",\"n\":1,"
              "\"message\":\"from-extra\",\"ddtags\":\"env:prod\"}");
    c.providerEcs = true;
    CHECK(encodeOne(c, logRecord("m"), "t", &extra) ==
          "{\"timestamp\":" + kTs +
              ",\"message\":\"m\",\"n\":1,\"message\":\"from-extra\",\"ddtags\":\"cluster_name:prod,env:prod\"}");
  }
}

TEST_CASE("datadog: non-string values, keys and bytes", "[datadog]") {
  Packer p;
  p.map(10)
      .kv("log", "a\xff" "b\n\"q\"")
      .str("n").integer(-5)
      .str("f").dbl(1.0)
      .str("b").boolean(true)
      .str("nil").nil()
      .str("arr").array(2).integer(1).str("a")
      .str("map").map(1).kv("k", "v")
      .str("bin").bin("xy")
      .integer(7).str("intkey")
      .str("k\xc3").str("\xe2\x82\xac ok");
  DatadogEncoderConfig c;
  c.jsonDateKey = "";
  CHECK(encodeOne(c, p.bytes()) ==
        "{\"message\":\"a\\ufffdb\\n\\\"q\\\"\",\"n\":-5,\"f\":1.0,\"b\":true,\"nil\":null,\"arr\":[1,\"a\"],"
        "\"map\":{\"k\":\"v\"},\"bin\":\"xy\",\"7\":\"intkey\",\"k\\ufffd\":\"\xe2\x82\xac ok\"}");
  SECTION("tag and config strings are escaped") {
    DatadogEncoderConfig e;
    e.jsonDateKey = "";
    e.includeTagKey = true;
    e.ddSource = "a\"b";
    CHECK(encodeOne(e, logRecord("m"), "t\\ag") == "{\"tagkey\":\"t\\\\ag\",\"ddsource\":\"a\\\"b\",\"message\":\"m\"}");
  }
  SECTION("a record that is not a map is an empty object") {
    Packer s;
    s.str("not a map");
    CHECK(encodeOne(c, s.bytes()) == "{}");
  }
}

TEST_CASE("datadog: payloads are cut at 1000 events", "[datadog]") {
  ChunkBuilder b;
  std::vector<std::vector<uint8_t>> recs(700, logRecord("hello world"));
  b.addBatch("a", recs);
  b.addBatch("b", {});  // empty slices are skipped
  b.addBatch("c", recs);
  b.addBatch("d", std::vector<std::vector<uint8_t>>(1100, logRecord("x")));
  DatadogEncoderConfig c;
  c.includeTagKey = true;
  DatadogEncoder enc(c);
  PayloadStats total;
  std::vector<std::string> payloads;
  CHECK(encodeAll(enc, b.chunk(), &total, &payloads) == std::vector<size_t>{1000, 1000, 500});
  CHECK(total.events == 2500);
  CHECK(total.consumed == 2500);
  CHECK(total.truncated == 0);
  CHECK(total.dropped == 0);
  // The tag follows the slice: event 700 (first of batch "c") is the 701st object of payload 0.
  CHECK(payloads[0].find("\"tagkey\":\"c\"") != std::string::npos);
  CHECK(payloads[0].substr(0, 60).find("\"tagkey\":\"a\"") != std::string::npos);
  CHECK(payloads[2].find("\"tagkey\":\"c\"") == std::string::npos);
}

TEST_CASE("datadog: payloads are cut at 5,000,000 bytes", "[datadog]") {
  DatadogEncoderConfig c;
  DatadogEncoder enc(c);
  // Size the message so that one event's JSON is exactly 9,999 bytes: with its comma, 10,000.
  const size_t base = encodeOne(enc, logRecord("")).size();
  const auto rec = logRecord(std::string(9999 - base, 'm'));
  REQUIRE(encodeOne(enc, rec).size() == 9999);
  ChunkBuilder b;
  b.addBatch("a", std::vector<std::vector<uint8_t>>(600, rec));
  b.addBatch("b", std::vector<std::vector<uint8_t>>(600, rec));
  // n events take 2 + 9,999 n + (n - 1) bytes: at most 499 fit in 5,000,000.
  std::vector<std::string> payloads;
  CHECK(encodeAll(enc, b.chunk(), nullptr, &payloads) == std::vector<size_t>{499, 499, 202});
  CHECK(payloads[0].size() == 2 + 499 * 10000 - 1);

  SECTION("a payload exactly at the limit is allowed") {
    DatadogEncoderConfig exact;
    exact.maxPayloadBytes = 2 + 3 * 10000 - 1;
    DatadogEncoder e(exact);
    ChunkBuilder b3;
    b3.addBatch("a", std::vector<std::vector<uint8_t>>(7, rec));
    CHECK(encodeAll(e, b3.chunk()) == std::vector<size_t>{3, 3, 1});
  }
}

TEST_CASE("datadog: events over 1 MB are cut to the limit", "[datadog]") {
  DatadogEncoderConfig c;
  c.ddTags = "env:prod";
  DatadogEncoder enc(c);
  const size_t limit = c.maxEventBytes;

  SECTION("the message is cut, across multi-byte characters and escapes, to valid JSON") {
    std::string big;
    while (big.size() < 1'300'000) big += "ab\xc3\xa9\n\x01\xe2\x82\xac\"\\ \xf0\x9f\x98\x80";
    for (size_t extra = 0; extra < 24; ++extra) {  // every alignment of the cut point
      ChunkBuilder b;
      b.addBatch("t", {logRecord("small"), logRecord(big.substr(0, big.size() - extra)), logRecord("after")});
      PayloadStats total;
      std::vector<std::string> payloads;
      CHECK(encodeAll(enc, b.chunk(), &total, &payloads) == std::vector<size_t>{3});
      CHECK(total.truncated == 1);
      CHECK(total.dropped == 0);
      // The middle object: from the second '{' to the start of the third object.
      const std::string& p = payloads[0];
      const size_t first = p.find("},{") + 2;
      const size_t last = p.rfind(",{\"timestamp\"");
      const std::string event = p.substr(first, last - first);
      INFO("extra " << extra << ", size " << event.size());
      CHECK(event.size() <= limit);
      CHECK(event.size() > limit - 8);  // at most one escape (6 bytes) of slack
      CHECK(validJson(event));
      CHECK(event.ends_with("\",\"ddtags\":\"env:prod\"}"));
    }
  }

  SECTION("other large strings are cut when the message is not enough") {
    Packer p;
    p.map(3).kv("log", std::string(100'000, 'm')).kv("other", std::string(1'000'000, 'o')).kv("k", "v");
    const std::string e = encodeOne(enc, p.bytes());
    REQUIRE(e.size() > limit);
    ChunkBuilder b;
    b.addBatch("t", {p.bytes()});
    std::vector<std::string> payloads;
    PayloadStats total;
    encodeAll(enc, b.chunk(), &total, &payloads);
    CHECK(total.truncated == 1);
    const std::string& out = payloads[0];
    CHECK(out.size() == limit + 2);
    CHECK(out.find("\"message\":\"\",") != std::string::npos);    // the message went first, whole
    CHECK(out.find(std::string(999'000, 'o')) != std::string::npos);  // then part of "other"
    CHECK(out.ends_with("\",\"k\":\"v\",\"ddtags\":\"env:prod\"}]"));
  }

  SECTION("an event that no string cut can save is dropped and counted") {
    Packer p;
    p.map(2).kv("log", "short").str("nested").map(1).kv("inner", std::string(1'200'000, 'n'));
    ChunkBuilder b;
    b.addBatch("t", {logRecord("before"), p.bytes(), logRecord("after")});
    PayloadStats total;
    std::vector<std::string> payloads;
    CHECK(encodeAll(enc, b.chunk(), &total, &payloads) == std::vector<size_t>{2});
    CHECK(total.dropped == 1);
    CHECK(total.consumed == 3);
    CHECK(payloads[0].find("before") != std::string::npos);
    CHECK(payloads[0].find("after") != std::string::npos);

    ChunkBuilder alone;
    alone.addBatch("t", {p.bytes()});
    std::string out;
    ChunkPosition pos;
    PayloadStats st = enc.encodePayload(alone.chunk(), pos, out);
    CHECK(out == "[]");
    CHECK(st.events == 0);
    CHECK(st.dropped == 1);
    CHECK(pos.atEnd(alone.chunk()));
  }

  SECTION("a cut event that does not fit the current payload is counted once, in the next") {
    DatadogEncoderConfig small;
    small.maxEventBytes = 1000;
    small.maxPayloadBytes = 1500;
    DatadogEncoder e(small);
    ChunkBuilder b;
    b.addBatch("t", {logRecord(std::string(900, 'a')), logRecord(std::string(5000, 'b'))});
    PayloadStats total;
    std::vector<std::string> payloads;
    CHECK(encodeAll(e, b.chunk(), &total, &payloads) == std::vector<size_t>{1, 1});
    CHECK(total.truncated == 1);
    CHECK(payloads[1].size() == 1002);
  }
}

TEST_CASE("datadog: an empty chunk gives no payload", "[datadog]") {
  DatadogEncoder enc(DatadogEncoderConfig{});
  FlushChunk chunk;
  ChunkPosition pos;
  CHECK(pos.atEnd(chunk));
  ChunkBuilder b;
  b.addBatch("t", {});
  std::string out;
  ChunkPosition pos2;
  PayloadStats st = enc.encodePayload(b.chunk(), pos2, out);
  CHECK(out == "[]");
  CHECK(st.consumed == 0);
  CHECK(pos2.atEnd(b.chunk()));
}
