// Tests for MsgpackCursor: every wire type, typed reads, skip with its depth limit, and the
// Incomplete / Invalid distinction, against bytes packed by msgpack-c (an independent encoder).
#include "core/proto/msgpack_cursor.h"

#include <msgpack.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using firelane::proto::MsgpackCursor;
using firelane::proto::MsgpackHeader;
using firelane::proto::MsgpackStatus;
using firelane::proto::MsgpackType;

namespace {

// msgpack-c's packer writing into a byte vector.
class Pack {
 public:
  Pack() {
    msgpack_sbuffer_init(&sbuf_);
    msgpack_packer_init(&pk_, &sbuf_, msgpack_sbuffer_write);
  }
  ~Pack() { msgpack_sbuffer_destroy(&sbuf_); }
  Pack(const Pack&) = delete;
  Pack& operator=(const Pack&) = delete;

  msgpack_packer* pk() { return &pk_; }
  std::vector<uint8_t> bytes() const { return {sbuf_.data, sbuf_.data + sbuf_.size}; }
  Pack& str(std::string_view s) {
    msgpack_pack_str(&pk_, s.size());
    msgpack_pack_str_body(&pk_, s.data(), s.size());
    return *this;
  }
  Pack& bin(std::string_view s) {
    msgpack_pack_bin(&pk_, s.size());
    msgpack_pack_bin_body(&pk_, s.data(), s.size());
    return *this;
  }
  Pack& raw(std::vector<uint8_t> b) {
    msgpack_sbuffer_write(&sbuf_, reinterpret_cast<const char*>(b.data()), b.size());
    return *this;
  }

 private:
  msgpack_sbuffer sbuf_;
  msgpack_packer pk_;
};

MsgpackHeader headerOf(const std::vector<uint8_t>& b) {
  MsgpackCursor c(b);
  MsgpackHeader h;
  REQUIRE(c.peek(h) == MsgpackStatus::Ok);
  return h;
}

// Skips the one object in `b`; requires that it consumes exactly all bytes.
void requireSkipsAll(const std::vector<uint8_t>& b, int maxDepth = firelane::proto::kDefaultMaxDepth) {
  MsgpackCursor c(b);
  REQUIRE(c.skip(maxDepth) == MsgpackStatus::Ok);
  REQUIRE(c.atEnd());
}

// Packs a random object of bounded depth: the cross-check against msgpack-c's unpacker.
void packRandom(msgpack_packer* pk, std::mt19937& rng, int depth) {
  const int kind = static_cast<int>(rng() % (depth > 0 ? 12 : 9));
  switch (kind) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: rng() % 2 ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case 2: msgpack_pack_uint64(pk, uint64_t{rng()} << (rng() % 33)); break;
    case 3: msgpack_pack_int64(pk, -static_cast<int64_t>(uint64_t{rng()} << (rng() % 31)) - 1); break;
    case 4: msgpack_pack_double(pk, rng() / 7.0); break;
    case 5: msgpack_pack_float(pk, static_cast<float>(rng() / 3.0)); break;
    case 6: {
      std::string s(rng() % 300, 'x');
      msgpack_pack_str(pk, s.size());
      msgpack_pack_str_body(pk, s.data(), s.size());
      break;
    }
    case 7: {
      std::string s(rng() % 70000 < 100 ? 70000 : rng() % 40, 'b');
      msgpack_pack_bin(pk, s.size());
      msgpack_pack_bin_body(pk, s.data(), s.size());
      break;
    }
    case 8: {
      static const size_t kLens[] = {1, 2, 4, 8, 16, 3, 0, 300};
      std::string s(kLens[rng() % 8], 'e');
      msgpack_pack_ext(pk, s.size(), static_cast<int8_t>(rng() % 128));
      msgpack_pack_ext_body(pk, s.data(), s.size());
      break;
    }
    case 9:
    case 10: {
      const uint32_t n = rng() % 6 == 0 ? 20 : rng() % 5;
      msgpack_pack_array(pk, n);
      for (uint32_t i = 0; i < n; ++i) packRandom(pk, rng, depth - 1);
      break;
    }
    default: {
      const uint32_t n = rng() % 6 == 0 ? 17 : rng() % 5;
      msgpack_pack_map(pk, n);
      for (uint32_t i = 0; i < 2 * n; ++i) packRandom(pk, rng, depth - 1);
      break;
    }
  }
}

std::vector<uint8_t> nestedArrays(int levels) {
  std::vector<uint8_t> b(static_cast<size_t>(levels), 0x91);  // [[[...
  b.push_back(0x01);
  return b;
}

}  // namespace

TEST_CASE("cursor reads nil, bool and every integer width", "[msgpack]") {
  Pack p;
  msgpack_pack_nil(p.pk());
  msgpack_pack_true(p.pk());
  msgpack_pack_false(p.pk());
  msgpack_pack_fix_uint8(p.pk(), 200);
  msgpack_pack_fix_uint16(p.pk(), 60000);
  msgpack_pack_fix_uint32(p.pk(), 4000000000u);
  msgpack_pack_fix_uint64(p.pk(), UINT64_MAX);
  msgpack_pack_fix_int8(p.pk(), -100);
  msgpack_pack_fix_int16(p.pk(), -30000);
  msgpack_pack_fix_int32(p.pk(), -2000000000);
  msgpack_pack_fix_int64(p.pk(), INT64_MIN);
  msgpack_pack_int(p.pk(), 7);                  // positive fixint
  msgpack_pack_int(p.pk(), -5);                 // negative fixint
  p.raw({0xd0, 0x05});                          // int8 holding a positive value
  p.raw({0xd3, 0, 0, 0, 0, 0, 0, 0x01, 0x00});  // int64 holding 256
  const auto b = p.bytes();

  MsgpackCursor c(b);
  REQUIRE(c.readNil() == MsgpackStatus::Ok);
  bool v = false;
  REQUIRE(c.readBool(v) == MsgpackStatus::Ok);
  CHECK(v);
  REQUIRE(c.readBool(v) == MsgpackStatus::Ok);
  CHECK_FALSE(v);
  uint64_t u = 0;
  int64_t i = 0;
  MsgpackHeader h;
  REQUIRE(c.peek(h) == MsgpackStatus::Ok);
  CHECK(h.type == MsgpackType::PosInt);
  CHECK(h.size == 2);
  REQUIRE(c.readUint(u) == MsgpackStatus::Ok);
  CHECK(u == 200);
  REQUIRE(c.readInt(i) == MsgpackStatus::Ok);
  CHECK(i == 60000);
  REQUIRE(c.readUint(u) == MsgpackStatus::Ok);
  CHECK(u == 4000000000u);
  // UINT64_MAX does not fit int64: WrongType, and the cursor stays put.
  const size_t at = c.offset();
  CHECK(c.readInt(i) == MsgpackStatus::WrongType);
  CHECK(c.offset() == at);
  REQUIRE(c.readUint(u) == MsgpackStatus::Ok);
  CHECK(u == UINT64_MAX);
  REQUIRE(c.readInt(i) == MsgpackStatus::Ok);
  CHECK(i == -100);
  CHECK(c.readUint(u) == MsgpackStatus::WrongType);
  REQUIRE(c.readInt(i) == MsgpackStatus::Ok);
  CHECK(i == -30000);
  REQUIRE(c.readInt(i) == MsgpackStatus::Ok);
  CHECK(i == -2000000000);
  REQUIRE(c.peek(h) == MsgpackStatus::Ok);
  CHECK(h.type == MsgpackType::NegInt);
  CHECK(h.size == 9);
  REQUIRE(c.readInt(i) == MsgpackStatus::Ok);
  CHECK(i == INT64_MIN);
  REQUIRE(c.readInt(i) == MsgpackStatus::Ok);
  CHECK(i == 7);
  REQUIRE(c.readInt(i) == MsgpackStatus::Ok);
  CHECK(i == -5);
  REQUIRE(c.peek(h) == MsgpackStatus::Ok);
  CHECK(h.type == MsgpackType::PosInt);  // signed encodings of values >= 0 are normalised
  REQUIRE(c.readUint(u) == MsgpackStatus::Ok);
  CHECK(u == 5);
  REQUIRE(c.readUint(u) == MsgpackStatus::Ok);
  CHECK(u == 256);
  CHECK(c.atEnd());
  CHECK(c.readNil() == MsgpackStatus::Incomplete);
  CHECK(c.needed() == b.size() + 1);
}

TEST_CASE("cursor reads floats", "[msgpack]") {
  Pack p;
  msgpack_pack_float(p.pk(), 1.5f);
  msgpack_pack_double(p.pk(), -2.25e100);
  msgpack_pack_int(p.pk(), 3);
  const auto b = p.bytes();
  MsgpackCursor c(b);
  MsgpackHeader h;
  REQUIRE(c.peek(h) == MsgpackStatus::Ok);
  CHECK(h.type == MsgpackType::Float32);
  double d = 0;
  REQUIRE(c.readFloat(d) == MsgpackStatus::Ok);
  CHECK(d == 1.5);
  REQUIRE(c.peek(h) == MsgpackStatus::Ok);
  CHECK(h.type == MsgpackType::Float64);
  REQUIRE(c.readFloat(d) == MsgpackStatus::Ok);
  CHECK(d == -2.25e100);
  CHECK(c.readFloat(d) == MsgpackStatus::WrongType);
}

TEST_CASE("cursor reads str, bin and ext of every length form", "[msgpack]") {
  for (size_t len :
       {size_t{0}, size_t{31}, size_t{32}, size_t{255}, size_t{256}, size_t{65535}, size_t{65536}}) {
    const std::string s(len, 'q');
    Pack p;
    p.str(s).bin(s);
    msgpack_pack_ext(p.pk(), len, 42);
    msgpack_pack_ext_body(p.pk(), s.data(), len);
    const auto b = p.bytes();
    MsgpackCursor c(b);
    std::string_view sv;
    REQUIRE(c.readStr(sv) == MsgpackStatus::Ok);
    CHECK(sv == s);
    std::span<const uint8_t> bin;
    CHECK(c.readStr(sv) == MsgpackStatus::WrongType);
    REQUIRE(c.readBin(bin) == MsgpackStatus::Ok);
    CHECK(bin.size() == len);
    int8_t type = 0;
    std::span<const uint8_t> ext;
    REQUIRE(c.readExt(type, ext) == MsgpackStatus::Ok);
    CHECK(type == 42);
    CHECK(ext.size() == len);
    CHECK(c.atEnd());
  }
  // fixext 1/2/4/8/16 and ext8 spelled by hand.
  const std::vector<uint8_t> fix = {0xd4, 0x01, 0xaa, 0xd5, 0x02, 1, 2, 0xd6, 0x03, 1, 2, 3, 4};
  MsgpackCursor c(fix);
  MsgpackHeader h;
  REQUIRE(c.readHeader(h) == MsgpackStatus::Ok);
  CHECK((h.type == MsgpackType::Ext && h.extType == 1 && h.length == 1 && h.size == 2));
  std::span<const uint8_t> payload;
  REQUIRE(c.readPayload(h.length, payload) == MsgpackStatus::Ok);
  CHECK(payload[0] == 0xaa);
  REQUIRE(c.skip() == MsgpackStatus::Ok);
  REQUIRE(c.peek(h) == MsgpackStatus::Ok);
  CHECK(h.length == 4);
  REQUIRE(c.skip() == MsgpackStatus::Ok);
  CHECK(c.atEnd());
  const std::vector<uint8_t> ext8 = {0xc7, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
  h = headerOf(ext8);
  CHECK((h.type == MsgpackType::Ext && h.extType == 0 && h.length == 8 && h.size == 3));
  const std::vector<uint8_t> fix16 = {0xd8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  h = headerOf(fix16);
  CHECK((h.extType == -1 && h.length == 16));
  requireSkipsAll(fix16);
}

TEST_CASE("cursor reads array and map headers of every form", "[msgpack]") {
  for (uint32_t n : {0u, 15u, 16u, 65535u, 65536u}) {
    Pack p;
    msgpack_pack_array(p.pk(), n);
    for (uint32_t i = 0; i < n; ++i) msgpack_pack_int(p.pk(), 1);
    msgpack_pack_map(p.pk(), n);
    for (uint32_t i = 0; i < n; ++i) {
      p.str("k");
      msgpack_pack_nil(p.pk());
    }
    const auto b = p.bytes();
    MsgpackCursor c(b);
    uint32_t got = 0;
    CHECK(c.readMap(got) == MsgpackStatus::WrongType);
    REQUIRE(c.readArray(got) == MsgpackStatus::Ok);
    CHECK(got == n);
    for (uint32_t i = 0; i < n; ++i) REQUIRE(c.skip() == MsgpackStatus::Ok);
    MsgpackCursor whole(c.rest());
    REQUIRE(c.readMap(got) == MsgpackStatus::Ok);
    CHECK(got == n);
    REQUIRE(whole.skip() == MsgpackStatus::Ok);
    CHECK(whole.atEnd());
  }
}

TEST_CASE("cursor skip returns the raw bytes of one object", "[msgpack]") {
  Pack p;
  msgpack_pack_map(p.pk(), 2);
  p.str("a");
  msgpack_pack_array(p.pk(), 2);
  msgpack_pack_int(p.pk(), 1);
  p.bin("zz");
  p.str("b");
  msgpack_pack_double(p.pk(), 0.5);
  const auto first = p.bytes();
  msgpack_pack_int(p.pk(), 9);
  const auto b = p.bytes();
  MsgpackCursor c(b);
  std::span<const uint8_t> raw;
  REQUIRE(c.skip(raw) == MsgpackStatus::Ok);
  CHECK(raw.data() == b.data());
  CHECK(raw.size() == first.size());
  int64_t v = 0;
  REQUIRE(c.readInt(v) == MsgpackStatus::Ok);
  CHECK(v == 9);
}

TEST_CASE("cursor skip agrees with msgpack-c on random objects", "[msgpack]") {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 500; ++iter) {
    Pack p;
    packRandom(p.pk(), rng, 4);
    const auto b = p.bytes();
    requireSkipsAll(b);
    // Every proper prefix is Incomplete, with needed() beyond what is there.
    const size_t step = b.size() > 2000 ? b.size() / 500 : 1;
    for (size_t cut = 0; cut < b.size(); cut += step) {
      MsgpackCursor c(std::span<const uint8_t>(b.data(), cut));
      REQUIRE(c.skip() == MsgpackStatus::Incomplete);
      REQUIRE(c.needed() > cut);
      REQUIRE(c.needed() <= b.size());
      REQUIRE(c.offset() == 0);
    }
  }
}

TEST_CASE("cursor tells Invalid from Incomplete", "[msgpack]") {
  const std::vector<uint8_t> reserved = {0xc1};
  MsgpackCursor c(reserved);
  MsgpackHeader h;
  CHECK(c.peek(h) == MsgpackStatus::Invalid);
  CHECK(c.skip() == MsgpackStatus::Invalid);
  CHECK(c.offset() == 0);
  std::string_view s;
  CHECK(c.readStr(s) == MsgpackStatus::Invalid);

  // A reserved byte before the bytes run out is Invalid: more bytes cannot help.
  const std::vector<uint8_t> nested = {0x93, 0x01, 0xc1};
  CHECK(MsgpackCursor(nested).skip() == MsgpackStatus::Invalid);
  const std::vector<uint8_t> cut = {0x93, 0x01, 0x02};
  CHECK(MsgpackCursor(cut).skip() == MsgpackStatus::Incomplete);

  // Truncated headers: the announced header size tells what is needed.
  const std::vector<uint8_t> u32 = {0xce, 0x00};
  MsgpackCursor t(u32);
  CHECK(t.peek(h) == MsgpackStatus::Incomplete);
  CHECK(t.needed() == 5);
  const std::vector<uint8_t> str16 = {0xda, 0x01, 0x00, 'a'};
  MsgpackCursor t2(str16);
  CHECK(t2.readStr(s) == MsgpackStatus::Incomplete);
  CHECK(t2.needed() == 3 + 256);
  CHECK(t2.offset() == 0);
}

TEST_CASE("cursor skip of a huge announced container is Incomplete with a huge need", "[msgpack]") {
  const std::vector<uint8_t> b = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
  MsgpackCursor c(b);
  REQUIRE(c.skip() == MsgpackStatus::Incomplete);
  CHECK(c.needed() >= 0xffffffffull);
  const std::vector<uint8_t> m = {0xdf, 0xff, 0xff, 0xff, 0xff};
  MsgpackCursor cm(m);
  REQUIRE(cm.skip() == MsgpackStatus::Incomplete);
  CHECK(cm.needed() >= 2 * 0xffffffffull);
}

TEST_CASE("cursor skip enforces the depth limit", "[msgpack]") {
  requireSkipsAll(nestedArrays(64), 64);
  CHECK(MsgpackCursor(nestedArrays(65)).skip(64) == MsgpackStatus::TooDeep);
  CHECK(MsgpackCursor(nestedArrays(3)).skip(2) == MsgpackStatus::TooDeep);
  requireSkipsAll(nestedArrays(3), 3);
  // Scalars have depth 0; empty containers still count as a level.
  requireSkipsAll({0x01}, 0);
  CHECK(MsgpackCursor(std::vector<uint8_t>{0x80}).skip(0) == MsgpackStatus::TooDeep);
  // Very deep hostile input neither recurses nor overflows anything.
  CHECK(MsgpackCursor(nestedArrays(1000000)).skip(100000) == MsgpackStatus::TooDeep);
  // Nesting inside maps counts the same way.
  const std::vector<uint8_t> maps = {0x81, 0xa1, 'a', 0x81, 0xa1, 'b', 0x91, 0xc0};
  requireSkipsAll(maps, 3);
  CHECK(MsgpackCursor(maps).skip(2) == MsgpackStatus::TooDeep);
}
