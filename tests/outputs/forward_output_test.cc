// Tests for the forward output's pure parts: PackedForward / CompressedPackedForward messages
// (decoded back with the forward decoder and msgpack-c), extra fields, tag runs, integer time,
// and upstream file parsing with per-node settings and file:line errors.
#include <msgpack.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/proto/forward/decoder.h"
#include "filters/filter_test_util.h"
#include "outputs/forward/forward_config.h"
#include "outputs/forward/forward_encoder.h"
#include "support/process.h"

using namespace firelane;
using namespace firelane::outputs::forward;
using firelane::filtertest::makeBatch;
using firelane::filtertest::strMap;
using firelane::filtertest::json;

namespace {

struct Decoded {
  std::string tag;
  std::vector<Event> events;
  std::string chunk;
  int64_t size = -1;
  proto::forward::Mode mode{};
  BufferRef keep;
};

// Decodes every message of `wire` with the project's forward decoder.
std::vector<Decoded> decodeAll(const std::string& wire) {
  std::vector<Decoded> out;
  proto::forward::Decoder d;
  std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
  while (!in.empty()) {
    proto::forward::DecodedFrame f;
    proto::forward::DecodeError err{};
    Decoded one;
    REQUIRE(d.next(in, f, one.events, err) == proto::forward::DecodeStatus::Ok);
    one.tag = std::string(f.tag);
    one.mode = f.mode;
    one.size = f.size;
    one.keep = f.decompressed;
    if (!f.chunkRaw.empty()) {
      msgpack_unpacked u;
      msgpack_unpacked_init(&u);
      REQUIRE(msgpack_unpack_next(&u, reinterpret_cast<const char*>(f.chunkRaw.data()), f.chunkRaw.size(), nullptr) ==
              MSGPACK_UNPACK_SUCCESS);
      REQUIRE(u.data.type == MSGPACK_OBJECT_STR);
      one.chunk.assign(u.data.via.str.ptr, u.data.via.str.size);
      msgpack_unpacked_destroy(&u);
    }
    out.push_back(std::move(one));
    in = in.subspan(f.consumed);
  }
  return out;
}

FlushChunk chunkOf(const std::vector<BatchRef>& batches) {
  FlushChunk c;
  for (auto& b : batches) {
    c.slices.push_back(BatchSlice{b, 0, static_cast<uint32_t>(b->events.size())});
    c.events += b->events.size();
    c.bytes += b->bytes;
  }
  return c;
}

}  // namespace

TEST_CASE("forward output sends one PackedForward per tag run with acks", "[outputs][forward]") {
  auto a = std::make_shared<EventBatch>(makeBatch({strMap({{"log", "one"}}), strMap({{"log", "two"}})}, "app.a",
                                                  1700000000123456789));
  auto b = std::make_shared<EventBatch>(makeBatch({strMap({{"log", "three"}})}, "app.b"));
  auto extra = std::make_shared<ExtraFields>();
  {
    filtertest::Pack p;
    p.kv("ecs_cluster", "c1");
    extra->kv = p.bytes();
    extra->count = 1;
  }
  b->extra = extra;
  FlushChunk chunk = chunkOf({a, b});
  EncodeOptions o;
  o.ack = true;
  std::string wire;
  std::vector<std::string> ids;
  REQUIRE(encodeChunk(chunk, o, wire, ids));
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] != ids[1]);
  CHECK(ids[0].size() == 24);  // base64 of 16 bytes
  auto msgs = decodeAll(wire);
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].mode == proto::forward::Mode::PackedForward);
  CHECK(msgs[0].tag == "app.a");
  CHECK(msgs[0].chunk == ids[0]);
  CHECK(msgs[0].size == 2);
  REQUIRE(msgs[0].events.size() == 2);
  CHECK(msgs[0].events[0].timeNs == 1700000000123456789);
  CHECK(json(msgs[0].events[1].record) == R"({"log":"two"})");
  CHECK(msgs[1].tag == "app.b");
  CHECK(msgs[1].chunk == ids[1]);
  REQUIRE(msgs[1].events.size() == 1);
  CHECK(json(msgs[1].events[0].record) == R"({"log":"three","ecs_cluster":"c1"})");
}

TEST_CASE("forward output tag override time_as_integer and gzip", "[outputs][forward]") {
  auto a = std::make_shared<EventBatch>(makeBatch({strMap({{"log", "x"}})}, "app.a", 1700000005999999999));
  auto b = std::make_shared<EventBatch>(makeBatch({strMap({{"log", "y"}})}, "app.b", 1700000006000000000));
  FlushChunk chunk = chunkOf({a, b});
  codec::CompressorOptions co;
  auto gz = codec::Compressor::create(co);
  REQUIRE(gz);
  for (bool gzip : {false, true}) {
    EncodeOptions o;
    o.tag = "fixed";
    o.timeAsInteger = true;
    o.gzip = gzip ? gz->get() : nullptr;
    std::string wire;
    std::vector<std::string> ids;
    REQUIRE(encodeChunk(chunk, o, wire, ids));
    CHECK(ids.empty());
    auto msgs = decodeAll(wire);
    REQUIRE(msgs.size() == 1);  // one tag: one message
    CHECK(msgs[0].mode == (gzip ? proto::forward::Mode::CompressedPackedForward : proto::forward::Mode::PackedForward));
    CHECK(msgs[0].tag == "fixed");
    CHECK(msgs[0].chunk.empty());
    REQUIRE(msgs[0].events.size() == 2);
    CHECK(msgs[0].events[0].timeNs == 1700000005000000000);
    CHECK(msgs[0].events[1].timeNs == 1700000006000000000);
    CHECK(json(msgs[0].events[1].record) == R"({"log":"y"})");
  }
}

TEST_CASE("upstream file with nodes and per-node settings", "[outputs][forward][upstream]") {
  testsupport::TempDir dir;
  std::string path = dir.writeFile("up.conf",
                                   "[UPSTREAM]\n"
                                   "    name  agg\n"
                                   "\n"
                                   "[NODE]\n"
                                   "    name  n1\n"
                                   "    host  127.0.0.1\n"
                                   "    port  24225\n"
                                   "\n"
                                   "[NODE]\n"
                                   "    Name  n2\n"
                                   "    Host  localhost\n"
                                   "    shared_key other\n"
                                   "    self_hostname agent-x\n");
  NodeConfig defaults;
  defaults.sharedKey = "base";
  defaults.selfHostname = "me";
  auto nodes = parseUpstreamFile(path, defaults);
  REQUIRE(nodes);
  REQUIRE(nodes->size() == 2);
  CHECK((*nodes)[0].name == "n1");
  CHECK((*nodes)[0].host == "127.0.0.1");
  CHECK((*nodes)[0].port == 24225);
  CHECK((*nodes)[0].sharedKey == "base");  // inherited from the output
  CHECK((*nodes)[0].selfHostname == "me");
  CHECK((*nodes)[1].host == "localhost");
  CHECK((*nodes)[1].port == 24224);
  CHECK((*nodes)[1].sharedKey == "other");
  CHECK((*nodes)[1].selfHostname == "agent-x");
}

TEST_CASE("upstream file errors name the file line and key", "[outputs][forward][upstream]") {
  testsupport::TempDir dir;
  NodeConfig defaults;
  auto bad = parseUpstreamFile(dir.writeFile("a.conf", "[UPSTREAM]\n    name x\n[NODE]\n    host h\n    prot 1\n"), defaults);
  REQUIRE_FALSE(bad);
  CHECK(bad.message().find("a.conf:5") != std::string::npos);
  CHECK(bad.message().find("'prot'") != std::string::npos);
  auto noHost = parseUpstreamFile(dir.writeFile("b.conf", "[UPSTREAM]\n    name x\n[NODE]\n    name n\n"), defaults);
  REQUIRE_FALSE(noHost);
  CHECK(noHost.message().find("b.conf:3") != std::string::npos);
  CHECK(noHost.message().find("'Host'") != std::string::npos);
  auto noNodes = parseUpstreamFile(dir.writeFile("c.conf", "[UPSTREAM]\n    name x\n"), defaults);
  REQUIRE_FALSE(noNodes);
  CHECK(noNodes.message().find("no [NODE]") != std::string::npos);
  auto badPort = parseUpstreamFile(dir.writeFile("d.conf", "[UPSTREAM]\n    name x\n[NODE]\n    host h\n    port 70000\n"),
                                   defaults);
  REQUIRE_FALSE(badPort);
  CHECK(badPort.message().find("d.conf:5") != std::string::npos);
  auto missing = parseUpstreamFile(dir.file("none.conf"), defaults);
  REQUIRE_FALSE(missing);
}
