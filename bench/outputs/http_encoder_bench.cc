// Micro benchmarks for the http output's request bodies (outputs/http, core/codec/record_format):
// events/s and MB/s of msgpack in per Format, and json_lines + gzip (the whole CPU of a request).
#include <benchmark/benchmark.h>
#include <msgpack.h>

#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "outputs/http/http.h"

namespace {

using firelane::FlushChunk;
using firelane::codec::RecordFormat;
using firelane::outputs::http_output::encodeBody;
using firelane::outputs::http_output::HttpOutputConfig;

void packStr(msgpack_packer* pk, std::string_view s) {
  msgpack_pack_str(pk, s.size());
  msgpack_pack_str_body(pk, s.data(), s.size());
}

// A FireLens-shaped record: container fields and a log line of random words (120-420 bytes).
std::vector<uint8_t> makeRecord(std::mt19937& rng) {
  std::string log = "2024-06-01T12:34:56Z INFO [worker-" + std::to_string(rng() % 16) + "] ";
  const size_t target = 120 + rng() % 300;
  while (log.size() < target) {
    const size_t len = 2 + rng() % 9;
    for (size_t k = 0; k < len; ++k) log.push_back(static_cast<char>('a' + rng() % 26));
    log.push_back(' ');
  }
  msgpack_sbuffer sbuf;
  msgpack_sbuffer_init(&sbuf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  packStr(&pk, "container_id");
  packStr(&pk, "3f8a2c9d1e7b4a6f0c5d8e2b9a1f7c3d6e0b4a8f2c9d1e7b5a3f6c0d8e2b9a14");
  packStr(&pk, "container_name");
  packStr(&pk, "/shop-api");
  packStr(&pk, "source");
  packStr(&pk, "stdout");
  packStr(&pk, "log");
  packStr(&pk, log);
  std::vector<uint8_t> out(reinterpret_cast<uint8_t*>(sbuf.data), reinterpret_cast<uint8_t*>(sbuf.data) + sbuf.size);
  msgpack_sbuffer_destroy(&sbuf);
  return out;
}

struct Corpus {
  std::deque<std::vector<uint8_t>> records;
  FlushChunk chunk;
  size_t msgpackBytes = 0;
};

// One chunk of 5000 events in batches of 100.
const Corpus& corpus() {
  static Corpus c = [] {
    Corpus c;
    std::mt19937 rng(11);
    int64_t t = 1700000000000000000;
    for (int b = 0; b < 50; ++b) {
      auto batch = std::make_shared<firelane::EventBatch>();
      batch->tag = "shop-api-firelens-0123456789abcdef";
      for (int i = 0; i < 100; ++i) {
        c.records.push_back(makeRecord(rng));
        batch->add(t += 1234567, c.records.back());
        c.msgpackBytes += c.records.back().size();
      }
      c.chunk.slices.push_back({batch, 0, 100});
      c.chunk.events += 100;
    }
    c.chunk.bytes = c.msgpackBytes;
    return c;
  }();
  return c;
}

// Arg: the RecordFormat (0 json, 1 json_lines, 2 json_stream, 3 msgpack).
void BM_HttpEncode(benchmark::State& state) {
  const Corpus& c = corpus();
  HttpOutputConfig cfg;
  cfg.format.format = static_cast<RecordFormat>(state.range(0));
  std::string out;
  for (auto _ : state) {
    encodeBody(cfg, c.chunk, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.chunk.events));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.msgpackBytes));
  state.counters["body_B_per_event"] = static_cast<double>(out.size()) / static_cast<double>(c.chunk.events);
}
BENCHMARK(BM_HttpEncode)->ArgName("format")->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// json_lines + gzip at the default level: the CPU of one `compress gzip` request body.
void BM_HttpEncodeGzip(benchmark::State& state) {
  const Corpus& c = corpus();
  HttpOutputConfig cfg;
  cfg.format.format = RecordFormat::JsonLines;
  auto comp = firelane::codec::Compressor::create({firelane::codec::Codec::Gzip, firelane::codec::kDefaultGzipLevel});
  if (!comp.ok()) {
    state.SkipWithError(comp.message().c_str());
    return;
  }
  std::string json, body;
  for (auto _ : state) {
    encodeBody(cfg, c.chunk, json);
    comp.value()->compress(json, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.chunk.events));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.msgpackBytes));
  state.counters["body_B_per_event"] = static_cast<double>(body.size()) / static_cast<double>(c.chunk.events);
}
BENCHMARK(BM_HttpEncodeGzip)->Unit(benchmark::kMillisecond);

}  // namespace
