// Forward decoder throughput per mode with FireLens-shaped records, and the hand-written msgpack
// cursor against msgpack-c's unpacker validating the same PackedForward payload.
#include <benchmark/benchmark.h>
#include <msgpack.h>
#include <zlib.h>
#include <zstd.h>

#include <string>
#include <vector>

#include "core/proto/forward/decoder.h"
#include "core/proto/msgpack_cursor.h"

namespace {

using Bytes = std::vector<uint8_t>;
using firelane::Event;
using firelane::proto::MsgpackCursor;
using firelane::proto::MsgpackStatus;
namespace fwd = firelane::proto::forward;

constexpr int kEntries = 1000;

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
  Pack& str(std::string_view s) {
    msgpack_pack_str(&pk_, s.size());
    msgpack_pack_str_body(&pk_, s.data(), s.size());
    return *this;
  }
  Pack& eventTime(uint32_t sec, uint32_t nsec) {
    const uint8_t b[8] = {uint8_t(sec >> 24),  uint8_t(sec >> 16),  uint8_t(sec >> 8),  uint8_t(sec),
                          uint8_t(nsec >> 24), uint8_t(nsec >> 16), uint8_t(nsec >> 8), uint8_t(nsec)};
    msgpack_pack_ext(&pk_, 8, 0);
    msgpack_pack_ext_body(&pk_, b, 8);
    return *this;
  }
  // A Docker/FireLens record of about 250 bytes; `i` varies the line so compression is realistic.
  Pack& record(int i) {
    std::string log = "2024-06-01T12:00:00.000Z INFO [worker-" + std::to_string(i % 16) +
                      "] request handled method=GET path=/api/v1/items/" + std::to_string(i * 7919) +
                      " status=200 duration_ms=" + std::to_string(i % 97) + " user_agent=Mozilla/5.0 trace=";
    while (log.size() < 180) log += static_cast<char>('a' + (i + log.size()) % 26);
    msgpack_pack_map(&pk_, 4);
    str("log").str(log);
    str("source").str("stdout");
    str("container_id").str("3f2a9c1b7d8e4f60a1b2c3d4e5f60718293a4b5c6d7e8f901a2b3c4d5e6f7081");
    str("container_name").str("/app");
    return *this;
  }

 private:
  msgpack_sbuffer sbuf_;
  msgpack_packer pk_;
};

Bytes packedEntries() {
  Pack p;
  for (int i = 0; i < kEntries; ++i) {
    msgpack_pack_array(p.pk(), 2);
    p.eventTime(1700000000 + i, 123456789).record(i);
  }
  return p.bytes();
}

Bytes gzip(const Bytes& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&zs, in.size()) + 32);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Bytes zstd(const Bytes& in) {
  Bytes out(ZSTD_compressBound(in.size()));
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

Bytes packedFrame(const Bytes& payload, std::string_view compressed) {
  Pack p;
  msgpack_pack_array(p.pk(), compressed.empty() ? 2 : 3);
  p.str("app-firelens-0123456789abcdef");
  msgpack_pack_bin(p.pk(), payload.size());
  msgpack_pack_bin_body(p.pk(), payload.data(), payload.size());
  if (!compressed.empty()) {
    msgpack_pack_map(p.pk(), 1);
    p.str("compressed").str(compressed);
  }
  return p.bytes();
}

// Decodes every frame in `stream` once per iteration.
void runDecoder(benchmark::State& state, const Bytes& stream, int eventsPerPass, size_t plainBytes) {
  const fwd::Decoder decoder;
  std::vector<Event> events;
  events.reserve(kEntries);
  for (auto _ : state) {
    size_t off = 0;
    while (off < stream.size()) {
      events.clear();
      fwd::DecodedFrame frame;
      fwd::DecodeError error;
      const auto st = decoder.next(std::span<const uint8_t>(stream).subspan(off), frame, events, error);
      if (st != fwd::DecodeStatus::Ok) {
        state.SkipWithError("decode failed");
        return;
      }
      benchmark::DoNotOptimize(events.data());
      off += frame.consumed;
    }
  }
  state.SetItemsProcessed(state.iterations() * eventsPerPass);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["plain_bytes"] = benchmark::Counter(
      static_cast<double>(plainBytes) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Docker's fluentd driver: one 4-element Message per event, EventTime, empty option map.
void BM_DecodeMessage(benchmark::State& state) {
  Pack p;
  for (int i = 0; i < kEntries; ++i) {
    msgpack_pack_array(p.pk(), 4);
    p.str("app-firelens-0123456789abcdef").eventTime(1700000000 + i, 1).record(i);
    msgpack_pack_map(p.pk(), 0);
  }
  const Bytes stream = p.bytes();
  runDecoder(state, stream, kEntries, stream.size());
}
BENCHMARK(BM_DecodeMessage);

void BM_DecodeForward(benchmark::State& state) {
  Pack p;
  msgpack_pack_array(p.pk(), 2);
  p.str("app-firelens-0123456789abcdef");
  msgpack_pack_array(p.pk(), kEntries);
  for (int i = 0; i < kEntries; ++i) {
    msgpack_pack_array(p.pk(), 2);
    p.eventTime(1700000000 + i, 1).record(i);
  }
  const Bytes stream = p.bytes();
  runDecoder(state, stream, kEntries, stream.size());
}
BENCHMARK(BM_DecodeForward);

void BM_DecodePackedForward(benchmark::State& state) {
  const Bytes stream = packedFrame(packedEntries(), "");
  runDecoder(state, stream, kEntries, stream.size());
}
BENCHMARK(BM_DecodePackedForward);

// Bytes processed = compressed wire bytes; plain_bytes = decompressed msgpack per second.
void BM_DecodeCompressedPackedForwardGzip(benchmark::State& state) {
  const Bytes plain = packedEntries();
  const Bytes stream = packedFrame(gzip(plain), "gzip");
  runDecoder(state, stream, kEntries, plain.size());
}
BENCHMARK(BM_DecodeCompressedPackedForwardGzip);

void BM_DecodeCompressedPackedForwardZstd(benchmark::State& state) {
  const Bytes plain = packedEntries();
  const Bytes stream = packedFrame(zstd(plain), "zstd");
  runDecoder(state, stream, kEntries, plain.size());
}
BENCHMARK(BM_DecodeCompressedPackedForwardZstd);

// Validation only, the same PackedForward payload: the cursor's skip per entry...
void BM_ValidatePackedCursor(benchmark::State& state) {
  const Bytes payload = packedEntries();
  for (auto _ : state) {
    MsgpackCursor c(payload);
    int n = 0;
    while (!c.atEnd()) {
      if (c.skip() != MsgpackStatus::Ok) {
        state.SkipWithError("invalid");
        return;
      }
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * kEntries);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
}
BENCHMARK(BM_ValidatePackedCursor);

// ...and msgpack-c's msgpack_unpack_next per entry, the way Fluent Bit walks records.
void BM_ValidatePackedMsgpackC(benchmark::State& state) {
  const Bytes payload = packedEntries();
  msgpack_unpacked result;
  msgpack_unpacked_init(&result);
  for (auto _ : state) {
    size_t off = 0;
    int n = 0;
    while (off < payload.size()) {
      const auto r =
          msgpack_unpack_next(&result, reinterpret_cast<const char*>(payload.data()), payload.size(), &off);
      if (r != MSGPACK_UNPACK_SUCCESS) {
        state.SkipWithError("invalid");
        break;
      }
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
  msgpack_unpacked_destroy(&result);
  state.SetItemsProcessed(state.iterations() * kEntries);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
}
BENCHMARK(BM_ValidatePackedMsgpackC);

}  // namespace
