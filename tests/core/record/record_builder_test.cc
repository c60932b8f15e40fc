// Tests for RecordBuilder and BatchEditor: header sizes, raw copies, referenced values, one buffer per
// batch, bytes accounting, and malformed records.
#include "core/record/record_builder.h"

#include <catch2/catch.hpp>

#include "filters/filter_test_util.h"

using namespace firelane;
using namespace firelane::record;
using firelane::filtertest::Pack;
using firelane::filtertest::json;
using firelane::filtertest::makeBatch;
using firelane::filtertest::strMap;

TEST_CASE("readEntries splits pairs and rejects bad records", "[record]") {
  Pack p;
  p.map(3).kv("a", "1").i64(5).str("int").bin("b").map(1).kv("x", "y");
  auto rec = p.bytes();
  std::vector<Entry> es;
  REQUIRE(readEntries(rec, es));
  REQUIRE(es.size() == 3);
  CHECK(es[0].key == "a");
  CHECK(es[0].keyIsString);
  CHECK_FALSE(es[1].keyIsString);
  CHECK(es[2].key == "b");
  CHECK(es[2].pair().size() == 3 + 5);  // bin8 "b" + map {"x":"y"}
  std::vector<uint8_t> cut(rec.begin(), rec.end() - 1);
  CHECK_FALSE(readEntries(cut, es));
  std::vector<uint8_t> trailing = rec;
  trailing.push_back(0x01);
  CHECK_FALSE(readEntries(trailing, es));
  std::vector<uint8_t> hugeCount = {0xdf, 0xff, 0xff, 0xff, 0xff};
  CHECK_FALSE(readEntries(hugeCount, es));
  CHECK_FALSE(readEntries({}, es));
}

TEST_CASE("RecordBuilder: keep, add, header sizes", "[record]") {
  auto rec = strMap({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  std::vector<Entry> es;
  REQUIRE(readEntries(rec, es));
  RecordBuilder b;
  b.begin();
  b.copyPair(es[0].pair());
  b.copyPair(es[2].keyRaw, es[2].value);
  b.addStr("new", "v");
  b.addRaw("raw", es[1].value);
  b.addKey("n");
  b.writer().integer(-7);
  b.valueWritten();
  std::string big(100000, 'x');
  b.addStrRef("big", big);
  size_t r = b.end();
  auto out = b.toVector(r);
  CHECK(b.size(r) == out.size());
  CHECK(json(out) == R"({"a":"1","c":"3","new":"v","raw":"2","n":-7,"big":")" + big + "\"}");

  // 16 pairs need map16, like msgpack-c writes it.
  b.begin();
  for (int i = 0; i < 16; ++i) b.addStr("k" + std::to_string(i), "v");
  size_t r2 = b.end();
  auto out2 = b.toVector(r2);
  CHECK(out2[0] == 0xde);
  Pack p;
  p.map(16);
  for (int i = 0; i < 16; ++i) p.kv("k" + std::to_string(i), "v");
  CHECK(out2 == p.bytes());
  // Adjacent copies merge into one range.
  b.begin();
  b.copyPairs(std::span<const uint8_t>(rec).subspan(1), 3);
  CHECK(b.toVector(b.end()) == rec);
}

TEST_CASE("BatchEditor: one buffer, bytes kept right, unchanged and drop-all", "[record]") {
  RecordBuilder b;
  {
    auto batch = makeBatch({strMap({{"a", "1"}}), strMap({{"a", "2"}})});
    BatchEditor ed(batch, b);
    ed.keep();
    ed.keep();
    CHECK(ed.finish() == FilterResult::Unchanged);
    CHECK(batch.owners.size() == 1);
  }
  {
    auto batch = makeBatch({strMap({{"a", "1"}}), strMap({{"a", "2"}}), strMap({{"a", "3"}})});
    const uint8_t* first = batch.events[0].record.data();
    BatchEditor ed(batch, b);
    ed.keep();
    ed.drop();
    std::vector<Entry> es;
    REQUIRE(readEntries(batch.events[2].record, es));
    b.begin();
    b.copyPair(es[0].pair());
    b.addStr("x", "yy");
    ed.replace(b.end(), 42);
    CHECK(ed.finish() == FilterResult::Modified);
    REQUIRE(batch.events.size() == 2);
    CHECK(batch.events[0].record.data() == first);
    CHECK(json(batch.events[1].record) == R"({"a":"3","x":"yy"})");
    CHECK(batch.events[1].timeNs == 42);
    CHECK(batch.owners.size() == 2);
    CHECK(batch.bytes == filtertest::sumBytes(batch));
    CHECK(ed.bytesWritten() == batch.events[1].record.size());
  }
  {
    auto batch = makeBatch({strMap({{"a", "1"}})});
    BatchEditor ed(batch, b);
    ed.drop();
    CHECK(ed.finish() == FilterResult::DropAll);
    CHECK(batch.events.empty());
    CHECK(batch.bytes == 0);
  }
  {
    auto batch = makeBatch({strMap({{"a", "1"}})});
    BatchEditor ed(batch, b);
    ed.retime(5);
    CHECK(ed.finish() == FilterResult::Modified);
    CHECK(batch.events[0].timeNs == 5);
    CHECK(batch.owners.size() == 1);
  }
}
