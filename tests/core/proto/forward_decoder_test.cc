// Tests for the forward protocol decoder: every mode and time form, options and acks, partial
// frames, limits (frame size, gzip bombs, depth) and hostile bytes. Inputs are packed by msgpack-c.
#include <msgpack.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/proto/forward/decoder.h"

using namespace firelane;
using namespace firelane::proto::forward;

namespace {

using Bytes = std::vector<uint8_t>;

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
  Bytes bytes() const { return {sbuf_.data, sbuf_.data + sbuf_.size}; }
  Pack& array(uint32_t n) {
    msgpack_pack_array(&pk_, n);
    return *this;
  }
  Pack& map(uint32_t n) {
    msgpack_pack_map(&pk_, n);
    return *this;
  }
  Pack& str(std::string_view s) {
    msgpack_pack_str(&pk_, s.size());
    msgpack_pack_str_body(&pk_, s.data(), s.size());
    return *this;
  }
  Pack& bin(const Bytes& b) {
    msgpack_pack_bin(&pk_, b.size());
    msgpack_pack_bin_body(&pk_, b.data(), b.size());
    return *this;
  }
  Pack& strBytes(const Bytes& b) {
    msgpack_pack_str(&pk_, b.size());
    msgpack_pack_str_body(&pk_, b.data(), b.size());
    return *this;
  }
  Pack& uint(uint64_t v) {
    msgpack_pack_uint64(&pk_, v);
    return *this;
  }
  Pack& integer(int64_t v) {
    msgpack_pack_int64(&pk_, v);
    return *this;
  }
  Pack& nil() {
    msgpack_pack_nil(&pk_);
    return *this;
  }
  Pack& dbl(double v) {
    msgpack_pack_double(&pk_, v);
    return *this;
  }
  Pack& eventTime(uint32_t sec, uint32_t nsec, int8_t type = 0) {
    const uint8_t body[8] = {uint8_t(sec >> 24),  uint8_t(sec >> 16),  uint8_t(sec >> 8),  uint8_t(sec),
                             uint8_t(nsec >> 24), uint8_t(nsec >> 16), uint8_t(nsec >> 8), uint8_t(nsec)};
    msgpack_pack_ext(&pk_, 8, type);  // msgpack-c picks fixext8 (d7 00)
    msgpack_pack_ext_body(&pk_, body, 8);
    return *this;
  }
  Pack& raw(const Bytes& b) {
    msgpack_sbuffer_write(&sbuf_, reinterpret_cast<const char*>(b.data()), b.size());
    return *this;
  }
  // {"log": log, "source": "stdout"}
  Pack& record(std::string_view log) { return map(2).str("log").str(log).str("source").str("stdout"); }

 private:
  msgpack_sbuffer sbuf_;
  msgpack_packer pk_;
};

Bytes recordBytes(std::string_view log) {
  Pack p;
  p.record(log);
  return p.bytes();
}

// [time, record] entries back to back, as PackedForward carries them.
Bytes packedEntries(int n, uint32_t sec = 1700000000) {
  Pack p;
  for (int i = 0; i < n; ++i) p.array(2).eventTime(sec + i, 500).record("line " + std::to_string(i));
  return p.bytes();
}

Bytes gzip(const Bytes& in, int level = 6) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, in.size()) + 32);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// gzip of `n` zero bytes, streamed so the test never holds the plain bytes.
Bytes gzipZeros(size_t n) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  const Bytes zeros(1 << 20, 0);
  Bytes out;
  Bytes chunk(1 << 16);
  size_t left = n;
  int r = Z_OK;
  do {
    const size_t take = std::min(left, zeros.size());
    zs.next_in = const_cast<Bytef*>(zeros.data());
    zs.avail_in = static_cast<uInt>(take);
    left -= take;
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = chunk.data();
      zs.avail_out = static_cast<uInt>(chunk.size());
      r = deflate(&zs, flush);
      out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    } while (zs.avail_out == 0);
  } while (left > 0);
  REQUIRE(r == Z_STREAM_END);
  deflateEnd(&zs);
  return out;
}

Bytes zstd(const Bytes& in) {
  Bytes out(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// [tag, payload, {"compressed": kind}] (no option when kind is empty)
Bytes packedFrame(const Bytes& payload, std::string_view kind = "", bool asStr = false) {
  Pack p;
  p.array(kind.empty() ? 2 : 3).str("app");
  asStr ? p.strBytes(payload) : p.bin(payload);
  if (!kind.empty()) p.map(1).str("compressed").str(kind);
  return p.bytes();
}

Bytes messageFrame() {
  Pack p;
  p.array(4).str("docker.app").eventTime(1700000000, 123456789).record("hello").map(0);
  return p.bytes();
}

Bytes forwardFrame(int n) {
  Pack p;
  p.array(3).str("fw").array(static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) p.array(2).uint(1700000000 + i).record("entry");
  p.map(2).str("size").uint(static_cast<uint64_t>(n)).str("chunk").str("Y2h1bmstaWQ=");
  return p.bytes();
}

struct Result {
  Bytes input;  // a copy the events point into (callers often pass temporaries)
  DecodeStatus status;
  DecodeError error = DecodeError::None;
  DecodedFrame frame;
  std::vector<Event> events;
};

Result decode(const Bytes& b, Limits limits = {}) {
  Result r;
  Decoder d(limits);
  r.input = b;
  r.status = d.next(r.input, r.frame, r.events, r.error);
  return r;
}

void requireError(const Bytes& b, DecodeError expected, Limits limits = {}) {
  Result r = decode(b, limits);
  INFO("got " << errorName(r.error));
  REQUIRE(r.status == DecodeStatus::Error);
  REQUIRE(r.error == expected);
  REQUIRE(r.events.empty());
}

std::string_view recordLog(const Event& e) {
  // Records here are {"log": <str>, ...}: read the value with msgpack-c (independent of the decoder).
  msgpack_zone zone;
  msgpack_zone_init(&zone, 1024);
  msgpack_object obj;
  size_t off = 0;
  static thread_local std::string keep;
  keep.clear();
  if (msgpack_unpack(reinterpret_cast<const char*>(e.record.data()), e.record.size(), &off, &zone, &obj) ==
          MSGPACK_UNPACK_SUCCESS &&
      obj.type == MSGPACK_OBJECT_MAP && obj.via.map.size > 0 &&
      obj.via.map.ptr[0].val.type == MSGPACK_OBJECT_STR) {
    keep.assign(obj.via.map.ptr[0].val.via.str.ptr, obj.via.map.ptr[0].val.via.str.size);
  }
  msgpack_zone_destroy(&zone);
  return keep;
}

const Bytes kDefaultRecord = recordBytes("hello");

}  // namespace

TEST_CASE("forward: Message mode with EventTime fixext8", "[forward]") {
  const Bytes b = messageFrame();
  Result r = decode(b);
  REQUIRE(r.status == DecodeStatus::Ok);
  CHECK(r.frame.mode == Mode::Message);
  CHECK(r.frame.tag == "docker.app");
  CHECK(r.frame.consumed == b.size());
  CHECK(r.frame.chunkRaw.empty());
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].timeNs == 1700000000LL * 1000000000 + 123456789);
  CHECK(r.events[0].record.size() == kDefaultRecord.size());
  CHECK(Bytes(r.events[0].record.begin(), r.events[0].record.end()) == kDefaultRecord);
  // Zero copy: the record is a view into the input.
  CHECK(r.events[0].record.data() >= r.input.data());
  CHECK(r.events[0].record.data() + r.events[0].record.size() <= r.input.data() + r.input.size());
}

TEST_CASE("forward: Message mode time forms", "[forward]") {
  SECTION("EventTime as ext8 (c7 08 00)") {
    Pack p;
    p.array(3).str("t").raw({0xc7, 0x08, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x07}).record("x");
    Result r = decode(p.bytes());
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.events.at(0).timeNs == 0x6553f100LL * 1000000000 + 7);
  }
  SECTION("integer seconds") {
    Pack p;
    p.array(3).str("t").uint(1700000001).record("x");
    Result r = decode(p.bytes());
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.events.at(0).timeNs == 1700000001LL * 1000000000);
  }
  SECTION("float64 seconds") {
    Pack p;
    p.array(3).str("t").dbl(1700000000.25).record("x");
    Result r = decode(p.bytes());
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.events.at(0).timeNs == 1700000000LL * 1000000000 + 250000000);
  }
  SECTION("float32 seconds") {
    Pack p;
    p.array(3).str("t");
    msgpack_pack_float(p.pk(), 2.5f);
    p.record("x");
    Result r = decode(p.bytes());
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.events.at(0).timeNs == 2500000000LL);
  }
  SECTION("Fluent Bit 2.1+ [EventTime, metadata]") {
    Pack p;
    p.array(3).str("t").array(2).eventTime(1700000000, 5).map(1).str("otel").str("x").record("x");
    Result r = decode(p.bytes());
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.frame.mode == Mode::Message);
    CHECK(r.events.at(0).timeNs == 1700000000LL * 1000000000 + 5);
    CHECK(recordLog(r.events[0]) == "x");
  }
  SECTION("[int, metadata]") {
    Pack p;
    p.array(3).str("t").array(2).uint(10).map(0).record("x");
    Result r = decode(p.bytes());
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.events.at(0).timeNs == 10LL * 1000000000);
  }
}

TEST_CASE("forward: Forward mode with options", "[forward]") {
  const Bytes b = forwardFrame(3);
  Result r = decode(b);
  REQUIRE(r.status == DecodeStatus::Ok);
  CHECK(r.frame.mode == Mode::Forward);
  CHECK(r.frame.tag == "fw");
  CHECK(r.frame.consumed == b.size());
  CHECK(r.frame.size == 3);
  REQUIRE(r.events.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(r.events[i].timeNs == (1700000000LL + i) * 1000000000);
    CHECK(recordLog(r.events[i]) == "entry");
  }
  // chunk is kept as its msgpack bytes, and echoed verbatim in the ack.
  Pack chunk;
  chunk.str("Y2h1bmstaWQ=");
  CHECK(Bytes(r.frame.chunkRaw.begin(), r.frame.chunkRaw.end()) == chunk.bytes());
  Bytes ack;
  encodeAck(r.frame.chunkRaw, ack);
  Pack expected;
  expected.map(1).str("ack").str("Y2h1bmstaWQ=");
  CHECK(ack == expected.bytes());
  Bytes none;
  encodeAck({}, none);
  CHECK(none.empty());
}

TEST_CASE("forward: Forward mode with zero entries and [time, metadata] entries", "[forward]") {
  Pack p;
  p.array(2).str("fw").array(0);
  Result r = decode(p.bytes());
  REQUIRE(r.status == DecodeStatus::Ok);
  CHECK(r.frame.mode == Mode::Forward);
  CHECK(r.events.empty());

  Pack q;
  q.array(2).str("fw").array(2);
  q.array(2).array(2).eventTime(1, 2).map(0).record("a");
  q.array(2).eventTime(3, 4).record("b");
  Result s = decode(q.bytes());
  REQUIRE(s.status == DecodeStatus::Ok);
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].timeNs == 1000000002);
  CHECK(s.events[1].timeNs == 3000000004);
}

TEST_CASE("forward: PackedForward with bin and with str", "[forward]") {
  const Bytes entries = packedEntries(5);
  for (bool asStr : {false, true}) {
    for (std::string_view kind : {"", "text"}) {
      const Bytes b = packedFrame(entries, kind, asStr);
      Result r = decode(b);
      REQUIRE(r.status == DecodeStatus::Ok);
      CHECK(r.frame.mode == Mode::PackedForward);
      CHECK(r.frame.consumed == b.size());
      CHECK(r.frame.decompressed == nullptr);
      REQUIRE(r.events.size() == 5);
      CHECK(r.events[4].timeNs == 1700000004LL * 1000000000 + 500);
      CHECK(recordLog(r.events[4]) == "line 4");
      CHECK(r.events[0].record.data() > r.input.data());
      CHECK(r.events[4].record.data() < r.input.data() + r.input.size());
    }
  }
}

TEST_CASE("forward: CompressedPackedForward gzip, one and several members", "[forward]") {
  const Bytes a = packedEntries(3, 100);
  const Bytes b = packedEntries(4, 200);
  SECTION("one member") {
    const Bytes f = packedFrame(gzip(a), "gzip");
    Result r = decode(f);
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.frame.mode == Mode::CompressedPackedForward);
    CHECK(r.frame.consumed == f.size());
    REQUIRE(r.frame.decompressed != nullptr);
    CHECK(r.frame.decompressed->size() == a.size());
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[2].timeNs == 102LL * 1000000000 + 500);
    // Events point into the decompressed buffer.
    const uint8_t* base = r.frame.decompressed->data();
    for (const Event& e : r.events) {
      CHECK(e.record.data() >= base);
      CHECK(e.record.data() + e.record.size() <= base + r.frame.decompressed->size());
    }
  }
  SECTION("several members back to back") {
    const Bytes f = packedFrame(concat(concat(gzip(a), gzip(b, 1)), gzip(a, 9)), "gzip", true);
    Result r = decode(f);
    REQUIRE(r.status == DecodeStatus::Ok);
    REQUIRE(r.events.size() == 10);
    CHECK(r.events[3].timeNs == 200LL * 1000000000 + 500);
    CHECK(recordLog(r.events[9]) == "line 2");
    CHECK(r.frame.decompressed->size() == 2 * a.size() + b.size());
  }
  SECTION("a large payload grows the output buffer") {
    const Bytes big = packedEntries(20000);
    // Two members so the ISIZE guess (last member only) is too small.
    const Bytes f = packedFrame(concat(gzip(big), gzip(a)), "gzip");
    Result r = decode(f);
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.events.size() == 20003);
  }
}

TEST_CASE("forward: CompressedPackedForward zstd", "[forward]") {
  const Bytes a = packedEntries(6);
  Result r = decode(packedFrame(zstd(a), "zstd"));
  REQUIRE(r.status == DecodeStatus::Ok);
  CHECK(r.frame.mode == Mode::CompressedPackedForward);
  CHECK(r.events.size() == 6);
  // Several zstd frames back to back.
  Result two = decode(packedFrame(concat(zstd(a), zstd(packedEntries(2))), "zstd"));
  REQUIRE(two.status == DecodeStatus::Ok);
  CHECK(two.events.size() == 8);
  requireError(packedFrame(Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9}, "zstd"), DecodeError::DecompressFailed);
  Bytes cut = zstd(a);
  cut.resize(cut.size() - 3);
  requireError(packedFrame(cut, "zstd"), DecodeError::DecompressFailed);
  Limits small;
  small.maxDecompressedBytes = a.size() - 1;
  requireError(packedFrame(zstd(a), "zstd"), DecodeError::DecompressTooLarge, small);
}

TEST_CASE("forward: options fluent_signal, size, unknown keys", "[forward]") {
  Pack p;
  p.array(4).str("t").uint(1).record("x");
  p.map(4).str("fluent_signal").uint(2).str("size").uint(1).str("other").array(1).map(0);
  msgpack_pack_int(p.pk(), 5);  // a non-string key is skipped
  p.str("v");
  Result r = decode(p.bytes());
  REQUIRE(r.status == DecodeStatus::Ok);
  CHECK(r.frame.fluentSignal == 2);
  CHECK(r.frame.size == 1);
  CHECK(r.frame.chunkRaw.empty());

  // Option chunk in Message mode.
  Pack q;
  q.array(4).str("t").uint(1).record("x").map(1).str("chunk").bin({1, 2, 3});
  Result s = decode(q.bytes());
  REQUIRE(s.status == DecodeStatus::Ok);
  const Bytes rawChunk = {0xc4, 0x03, 1, 2, 3};
  CHECK(Bytes(s.frame.chunkRaw.begin(), s.frame.chunkRaw.end()) == rawChunk);
  Bytes ack;
  encodeAck(s.frame.chunkRaw, ack);
  CHECK(ack == Bytes{0x81, 0xa3, 'a', 'c', 'k', 0xc4, 0x03, 1, 2, 3});
}

TEST_CASE("forward: heartbeat and back-to-back frames", "[forward]") {
  Bytes stream = {0xc0};
  stream = concat(stream, messageFrame());
  stream = concat(stream, forwardFrame(2));
  stream.push_back(0xc0);
  stream = concat(stream, packedFrame(packedEntries(3)));
  stream = concat(stream, packedFrame(gzip(packedEntries(4)), "gzip"));

  Decoder d;
  std::vector<Event> events;
  std::vector<Mode> modes;
  std::vector<BufferRef> keep;
  size_t off = 0;
  while (off < stream.size()) {
    DecodedFrame f;
    DecodeError e;
    const DecodeStatus st = d.next(std::span<const uint8_t>(stream).subspan(off), f, events, e);
    REQUIRE(st == DecodeStatus::Ok);
    REQUIRE(f.consumed > 0);
    if (f.mode == Mode::Heartbeat) CHECK(f.consumed == 1);
    if (f.decompressed) keep.push_back(f.decompressed);
    modes.push_back(f.mode);
    off += f.consumed;
  }
  CHECK(off == stream.size());
  CHECK(modes == std::vector<Mode>{Mode::Heartbeat, Mode::Message, Mode::Forward, Mode::Heartbeat,
                                   Mode::PackedForward, Mode::CompressedPackedForward});
  CHECK(events.size() == 1 + 2 + 3 + 4);
  CHECK(recordLog(events.back()) == "line 3");
}

TEST_CASE("forward: every prefix of a valid frame is NeedMore", "[forward]") {
  Pack opt;
  opt.array(3).str("t").strBytes(packedEntries(2)).map(3).str("chunk").str("abc").str("size").uint(2);
  opt.str("fluent_signal").uint(0);
  Pack meta;
  meta.array(3).str("t").array(2).eventTime(5, 6).map(1).str("k").str("v").record("m");
  const std::vector<Bytes> frames = {messageFrame(),
                                     forwardFrame(4),
                                     packedFrame(packedEntries(3)),
                                     packedFrame(gzip(packedEntries(3)), "gzip"),
                                     packedFrame(zstd(packedEntries(3)), "zstd"),
                                     opt.bytes(),
                                     meta.bytes()};
  for (const Bytes& f : frames) {
    REQUIRE(decode(f).status == DecodeStatus::Ok);
    for (size_t cut = 0; cut < f.size(); ++cut) {
      const Bytes prefix(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(cut));
      Result r = decode(prefix);
      INFO("cut " << cut << " of " << f.size() << " error " << errorName(r.error));
      REQUIRE(r.status == DecodeStatus::NeedMore);
      REQUIRE(r.events.empty());
      REQUIRE(r.frame.needed > cut);
      REQUIRE(r.frame.needed <= f.size());
    }
  }
}

TEST_CASE("forward: needed is known from the bin header", "[forward]") {
  const Bytes f = packedFrame(packedEntries(200));
  Result r = decode(Bytes(f.begin(), f.begin() + 20));
  REQUIRE(r.status == DecodeStatus::NeedMore);
  CHECK(r.frame.needed == f.size());  // no option: the bin ends the frame
}

TEST_CASE("forward: NeedMore and Error append nothing to existing events", "[forward]") {
  Decoder d;
  std::vector<Event> events(2);
  const Bytes f = forwardFrame(5);
  DecodedFrame frame;
  DecodeError e;
  CHECK(d.next(std::span<const uint8_t>(f.data(), f.size() - 1), frame, events, e) == DecodeStatus::NeedMore);
  CHECK(events.size() == 2);
  // The option is read after all entries were appended: its failure must roll them back.
  Pack bad;
  bad.array(3).str("fw").array(2).array(2).uint(1).map(0).array(2).uint(2).map(0).array(0);
  CHECK(d.next(bad.bytes(), frame, events, e) == DecodeStatus::Error);
  CHECK(e == DecodeError::BadOption);
  CHECK(events.size() == 2);
}

TEST_CASE("forward: structural errors", "[forward]") {
  SECTION("garbage") { requireError({0xc1, 0x01, 0x02}, DecodeError::Malformed); }
  SECTION("root is a map") {
    Pack p;
    p.map(1).str("a").str("b");
    requireError(p.bytes(), DecodeError::RootNotArray);
  }
  SECTION("root is an int") { requireError({0x05}, DecodeError::RootNotArray); }
  SECTION("root is a string") { requireError({0xa1, 'x'}, DecodeError::RootNotArray); }
  SECTION("array too short or too long") {
    Pack one;
    one.array(1).str("t");
    requireError(one.bytes(), DecodeError::Malformed);
    Pack five;
    five.array(5).str("t").uint(1).record("x").map(0).nil();
    requireError(five.bytes(), DecodeError::Malformed);
    Pack fw4;
    fw4.array(4).str("t").array(0).map(0).map(0);
    requireError(fw4.bytes(), DecodeError::Malformed);
  }
  SECTION("tag is not a string") {
    Pack p;
    p.array(3).uint(1).uint(1).record("x");
    requireError(p.bytes(), DecodeError::BadTag);
    Pack q;
    q.array(3).bin({'t'}).uint(1).record("x");
    requireError(q.bytes(), DecodeError::BadTag);
  }
  SECTION("record is not a map") {
    Pack p;
    p.array(3).str("t").uint(1).str("not a map");
    requireError(p.bytes(), DecodeError::BadRecord);
    Pack q;
    q.array(2).str("t").array(1).array(2).uint(1).array(0);
    requireError(q.bytes(), DecodeError::BadRecord);
  }
  SECTION("option is not a map") {
    Pack p;
    p.array(4).str("t").uint(1).record("x").array(0);
    requireError(p.bytes(), DecodeError::BadOption);
    Pack q;
    q.array(3).str("t").bin(packedEntries(1)).str("gzip");
    requireError(q.bytes(), DecodeError::BadOption);
  }
  SECTION("bad option values") {
    for (int64_t v : {int64_t{3}, int64_t{-1}}) {
      Pack p;
      p.array(4).str("t").uint(1).record("x").map(1).str("fluent_signal").integer(v);
      requireError(p.bytes(), DecodeError::BadOption);
    }
    Pack s;
    s.array(4).str("t").uint(1).record("x").map(1).str("fluent_signal").str("logs");
    requireError(s.bytes(), DecodeError::BadOption);
    Pack c;
    c.array(3).str("t").bin(packedEntries(1)).map(1).str("compressed").str("lz4");
    requireError(c.bytes(), DecodeError::BadOption);
  }
  SECTION("Forward entries that are not [time, record]") {
    Pack p;
    p.array(2).str("t").array(1).array(3).uint(1).map(0).nil();
    requireError(p.bytes(), DecodeError::BadEntries);
  }
}

TEST_CASE("forward: time errors", "[forward]") {
  SECTION("EventTime of length 4") {
    Pack p;
    p.array(3).str("t");
    msgpack_pack_ext(p.pk(), 4, 0);
    msgpack_pack_ext_body(p.pk(), "\0\0\0\1", 4);
    p.record("x");
    requireError(p.bytes(), DecodeError::BadTime);
  }
  SECTION("ext type 5") {
    Pack p;
    p.array(3).str("t").eventTime(1, 2, 5).record("x");
    requireError(p.bytes(), DecodeError::BadTime);
  }
  SECTION("a wrong ext header is refused before its payload arrives") {
    requireError({0x93, 0xa1, 't', 0xc9, 0x10, 0, 0, 0, 0}, DecodeError::BadTime);
  }
  SECTION("negative, huge, NaN, nil and map times") {
    Pack neg;
    neg.array(3).str("t").integer(-1).record("x");
    requireError(neg.bytes(), DecodeError::BadTime);
    Pack huge;
    huge.array(3).str("t").uint(UINT64_MAX).record("x");
    requireError(huge.bytes(), DecodeError::BadTime);
    Pack nan;
    nan.array(3).str("t").dbl(std::nan("")).record("x");
    requireError(nan.bytes(), DecodeError::BadTime);
    Pack nil;
    nil.array(3).str("t").nil().record("x");
    requireError(nil.bytes(), DecodeError::BadTime);
    Pack m;
    m.array(3).str("t").map(0).record("x");
    requireError(m.bytes(), DecodeError::BadTime);
  }
  SECTION("[time, metadata] with a bad shape") {
    Pack notMap;
    notMap.array(3).str("t").array(2).uint(1).str("meta").record("x");
    requireError(notMap.bytes(), DecodeError::BadTime);
    Pack three;
    three.array(3).str("t").array(3).uint(1).map(0).map(0).record("x");
    requireError(three.bytes(), DecodeError::BadTime);
    Pack nested;
    nested.array(3).str("t").array(2).array(2).uint(1).map(0).map(0).record("x");
    requireError(nested.bytes(), DecodeError::BadEntries);  // an array first: read as Forward entries
  }
}

TEST_CASE("forward: frame size limits", "[forward]") {
  SECTION("a bin32 header announcing 100 MB fails at once") {
    Bytes b = {0x92, 0xa1, 't', 0xc6, 0x06, 0x40, 0x00, 0x00, 0x92, 0x01};
    requireError(b, DecodeError::FrameTooLarge);
  }
  SECTION("a str32 inside a record announcing 100 MB fails at once") {
    Bytes b = {0x93, 0xa1, 't', 0x01, 0x81, 0xa1, 'k', 0xdb, 0x06, 0x40, 0x00, 0x00, 'a'};
    requireError(b, DecodeError::FrameTooLarge);
  }
  SECTION("an entries array announcing 4 billion entries fails at once") {
    Bytes b = {0x92, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x92, 0x01, 0x80};
    requireError(b, DecodeError::FrameTooLarge);
  }
  SECTION("a complete frame over the limit") {
    const Bytes f = forwardFrame(50);
    Limits l;
    l.maxFrameBytes = f.size() - 1;
    requireError(f, DecodeError::FrameTooLarge, l);
    l.maxFrameBytes = f.size();
    CHECK(decode(f, l).status == DecodeStatus::Ok);
    // A buffered prefix already at the limit cannot become a frame within it.
    l.maxFrameBytes = 100;
    requireError(Bytes(f.begin(), f.begin() + 100), DecodeError::FrameTooLarge, l);
    // Refused even earlier: the ~47 entries still owed need at least 3 bytes each.
    requireError(Bytes(f.begin(), f.begin() + 99), DecodeError::FrameTooLarge, l);
    l.maxFrameBytes = f.size();
    CHECK(decode(Bytes(f.begin(), f.begin() + 99), l).status == DecodeStatus::NeedMore);
  }
  SECTION("the limit applies to the frame, not to what follows it") {
    const Bytes f = messageFrame();
    Limits l;
    l.maxFrameBytes = f.size();
    Result r = decode(concat(f, forwardFrame(30)), l);
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(r.frame.consumed == f.size());
  }
}

TEST_CASE("forward: decompression limits and failures", "[forward]") {
  SECTION("gzip bomb: 100 MB of zeros with a 1 MB cap") {
    const Bytes bomb = gzipZeros(100u << 20);
    CHECK(bomb.size() < 200000);
    Limits l;
    l.maxDecompressedBytes = 1 << 20;
    requireError(packedFrame(bomb, "gzip"), DecodeError::DecompressTooLarge, l);
  }
  SECTION("the cap is inclusive") {
    const Bytes a = packedEntries(10);
    Limits l;
    l.maxDecompressedBytes = a.size();
    CHECK(decode(packedFrame(gzip(a), "gzip"), l).status == DecodeStatus::Ok);
    CHECK(decode(packedFrame(concat(gzip(a), gzip({})), "gzip"), l).status == DecodeStatus::Ok);
    l.maxDecompressedBytes = a.size() - 1;
    requireError(packedFrame(gzip(a), "gzip"), DecodeError::DecompressTooLarge, l);
  }
  SECTION("a trailer lying about the size") {
    Bytes g = gzip(packedEntries(3));
    g[g.size() - 1] = 0xff;  // ISIZE ~4 GB: the CRC/size check fails, nothing huge is allocated
    requireError(packedFrame(g, "gzip"), DecodeError::DecompressFailed);
  }
  SECTION("corrupt gzip") {
    Bytes g = gzip(packedEntries(20));
    g[g.size() / 2] ^= 0x55;
    requireError(packedFrame(g, "gzip"), DecodeError::DecompressFailed);
    requireError(packedFrame({'n', 'o', 't', ' ', 'g', 'z'}, "gzip"), DecodeError::DecompressFailed);
  }
  SECTION("truncated gzip") {
    Bytes g = gzip(packedEntries(20));
    g.resize(g.size() - 5);
    requireError(packedFrame(g, "gzip"), DecodeError::DecompressFailed);
  }
  SECTION("garbage after a gzip member") {
    requireError(packedFrame(concat(gzip(packedEntries(2)), {1, 2, 3}), "gzip"),
                 DecodeError::DecompressFailed);
  }
  SECTION("decompressed bytes that are not entries") {
    requireError(packedFrame(gzip({0x01, 0x02}), "gzip"), DecodeError::BadEntries);
  }
}

TEST_CASE("forward: depth limit and packed garbage", "[forward]") {
  SECTION("deeply nested record") {
    Pack p;
    p.array(3).str("t").uint(1).map(1).str("k");
    for (int i = 0; i < 100; ++i) p.array(1);
    p.nil();
    requireError(p.bytes(), DecodeError::TooDeep);
    Limits l;
    l.maxDepth = 101;
    CHECK(decode(p.bytes(), l).status == DecodeStatus::Ok);
    l.maxDepth = 100;
    requireError(p.bytes(), DecodeError::TooDeep, l);
  }
  SECTION("deeply nested option value") {
    Pack p;
    p.array(4).str("t").uint(1).record("x").map(1).str("chunk");
    for (int i = 0; i < 100; ++i) p.array(1);
    p.nil();
    requireError(p.bytes(), DecodeError::TooDeep);
  }
  SECTION("trailing garbage inside packed entries") {
    requireError(packedFrame(concat(packedEntries(2), {0x01})), DecodeError::BadEntries);
    requireError(packedFrame(concat(packedEntries(2), {0x92, 0x01})), DecodeError::BadEntries);
    requireError(packedFrame(concat(packedEntries(2), {0xc1})), DecodeError::Malformed);
    const Bytes e = packedEntries(2);
    requireError(packedFrame(Bytes(e.begin(), e.end() - 1)), DecodeError::BadEntries);
  }
  SECTION("packed entry that is not a pair") {
    Pack p;
    p.array(3).uint(1).record("x").nil();
    requireError(packedFrame(p.bytes()), DecodeError::BadEntries);
  }
}

TEST_CASE("forward: errorName", "[forward]") {
  CHECK(std::string(errorName(DecodeError::BadTag)) == "bad_tag");
  CHECK(std::string(errorName(DecodeError::DecompressTooLarge)) == "decompress_too_large");
  CHECK(std::string(errorName(DecodeError::None)) == "none");
}

TEST_CASE("forward: random mutations never crash and Ok yields only map records", "[forward]") {
  Pack meta;
  meta.array(4)
      .str("t")
      .array(2)
      .eventTime(5, 6)
      .map(1)
      .str("k")
      .str("v")
      .record("m")
      .map(1)
      .str("chunk")
      .str("c");
  Pack nested;
  nested.array(3)
      .str("t")
      .uint(7)
      .map(2)
      .str("a")
      .array(3)
      .uint(1)
      .map(1)
      .str("b")
      .nil()
      .dbl(1.5)
      .str("c")
      .bin({1});
  const std::vector<Bytes> seeds = {messageFrame(),
                                    forwardFrame(5),
                                    packedFrame(packedEntries(4)),
                                    packedFrame(gzip(packedEntries(4)), "gzip"),
                                    packedFrame(zstd(packedEntries(4)), "zstd"),
                                    meta.bytes(),
                                    nested.bytes(),
                                    Bytes{0xc0}};
  std::mt19937 rng(20240601);
  Limits limits;
  limits.maxFrameBytes = 4096;
  limits.maxDecompressedBytes = 8192;
  limits.maxDepth = 8;
  const Decoder decoder(limits);
  size_t oks = 0;
  size_t errors = 0;
  for (int iter = 0; iter < 6000; ++iter) {
    Bytes b = seeds[rng() % seeds.size()];
    if (rng() % 3 == 0) b = concat(b, seeds[rng() % seeds.size()]);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      switch (rng() % 5) {
        case 0:
        case 1:
          if (!b.empty()) b[rng() % b.size()] = static_cast<uint8_t>(rng());
          break;
        case 2:
          if (!b.empty()) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 3: b.resize(rng() % (b.size() + 1)); break;
        default:
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(rng() % (b.size() + 1)),
                   static_cast<uint8_t>(rng()));
          break;
      }
    }
    // Decode frames until the stream stops.
    size_t off = 0;
    std::vector<Event> events;
    for (int frames = 0; frames < 8 && off < b.size(); ++frames) {
      DecodedFrame f;
      DecodeError e;
      events.clear();
      const std::span<const uint8_t> in = std::span<const uint8_t>(b).subspan(off);
      const DecodeStatus st = decoder.next(in, f, events, e);
      if (st == DecodeStatus::NeedMore) {
        REQUIRE(events.empty());
        REQUIRE(f.needed > in.size());
        break;
      }
      if (st == DecodeStatus::Error) {
        REQUIRE(events.empty());
        REQUIRE(e != DecodeError::None);
        ++errors;
        break;
      }
      ++oks;
      REQUIRE(f.consumed > 0);
      REQUIRE(f.consumed <= in.size());
      for (const Event& ev : events) {
        REQUIRE(!ev.record.empty());
        const uint8_t t = ev.record[0];
        REQUIRE(((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf));
        const uint8_t* lo = f.decompressed ? f.decompressed->data() : in.data();
        const size_t n = f.decompressed ? f.decompressed->size() : f.consumed;
        REQUIRE(ev.record.data() >= lo);
        REQUIRE(ev.record.data() + ev.record.size() <= lo + n);
        // msgpack-c agrees the record is exactly one valid object.
        msgpack_zone zone;
        msgpack_zone_init(&zone, 256);
        msgpack_object obj;
        size_t used = 0;
        const auto ur = msgpack_unpack(reinterpret_cast<const char*>(ev.record.data()), ev.record.size(),
                                       &used, &zone, &obj);
        msgpack_zone_destroy(&zone);
        REQUIRE(ur == MSGPACK_UNPACK_SUCCESS);
        REQUIRE(obj.type == MSGPACK_OBJECT_MAP);
      }
      off += f.consumed;
    }
  }
  // The mutations must exercise both outcomes.
  CHECK(oks > 500);
  CHECK(errors > 500);
}
