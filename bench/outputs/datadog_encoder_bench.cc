// Micro benchmarks for the Datadog encoder (outputs/datadog/datadog_encoder): events/s and MB/s of
// msgpack in for FireLens records with and without provider ecs, and encode + compress per payload.
#include <benchmark/benchmark.h>
#include <msgpack.h>

#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/codec/compressor.h"
#include "outputs/datadog/datadog_encoder.h"

namespace {

using firelane::FlushChunk;
using firelane::outputs::datadog::ChunkPosition;
using firelane::outputs::datadog::DatadogEncoder;
using firelane::outputs::datadog::DatadogEncoderConfig;

void packStr(msgpack_packer* pk, std::string_view s) {
  msgpack_pack_str(pk, s.size());
  msgpack_pack_str_body(pk, s.data(), s.size());
}

// A FireLens record after record_modifier: container fields, a log line of random words (120-420
// bytes), and the three ECS fields.
std::vector<uint8_t> makeRecord(std::mt19937& rng, const std::vector<std::string>& vocab) {
  std::string log = "2024-06-01T12:34:56." + std::to_string(rng() % 1000) + "Z INFO [worker-" +
                    std::to_string(rng() % 16) + "] ";
  const size_t target = 120 + rng() % 300;
  while (log.size() < target) log += vocab[rng() % vocab.size()] + " ";
  msgpack_sbuffer sbuf;
  msgpack_sbuffer_init(&sbuf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 7);
  packStr(&pk, "container_id");
  packStr(&pk, "3f8a2c9d1e7b4a6f0c5d8e2b9a1f7c3d6e0b4a8f2c9d1e7b5a3f6c0d8e2b9a14");
  packStr(&pk, "container_name");
  packStr(&pk, "/shop-api");
  packStr(&pk, "source");
  packStr(&pk, "stdout");
  packStr(&pk, "log");
  packStr(&pk, log);
  packStr(&pk, "ecs_cluster");
  packStr(&pk, "prod");
  packStr(&pk, "ecs_task_arn");
  packStr(&pk, "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef");
  packStr(&pk, "ecs_task_definition");
  packStr(&pk, "shop-api:42");
  std::vector<uint8_t> out(reinterpret_cast<uint8_t*>(sbuf.data),
                           reinterpret_cast<uint8_t*>(sbuf.data) + sbuf.size);
  msgpack_sbuffer_destroy(&sbuf);
  return out;
}

// One chunk of `n` events in batches of 100 (as consecutive forward frames make them).
struct Corpus {
  std::deque<std::vector<uint8_t>> records;
  FlushChunk chunk;
  size_t msgpackBytes = 0;
};

const Corpus& corpus() {
  static Corpus c = [] {
    Corpus c;
    std::mt19937 rng(7);
    std::vector<std::string> vocab;
    for (int i = 0; i < 4000; ++i) {
      std::string w;
      const size_t len = 2 + rng() % 9;
      for (size_t k = 0; k < len; ++k) w.push_back(static_cast<char>('a' + rng() % 26));
      vocab.push_back(w);
    }
    int64_t t = 1700000000000000000;
    for (int b = 0; b < 50; ++b) {
      auto batch = std::make_shared<firelane::EventBatch>();
      batch->tag = "shop-api-firelens-0123456789abcdef0123456789abcdef";
      for (int i = 0; i < 100; ++i) {
        c.records.push_back(makeRecord(rng, vocab));
        batch->add(t += 1234567, c.records.back());
        c.msgpackBytes += c.records.back().size();
      }
      c.chunk.slices.push_back({batch, 0, 100});
      c.chunk.events += 100;
    }
    return c;
  }();
  return c;
}

DatadogEncoderConfig config(bool ecs) {
  DatadogEncoderConfig c;
  c.ddService = "shop-api";
  c.ddSource = "java";
  c.ddTags = "env:prod,team:payments";
  c.providerEcs = ecs;
  return c;
}

// Encodes the whole 5000-event chunk into payloads (5 of 1000 events) per iteration.
void BM_DatadogEncode(benchmark::State& state) {
  const Corpus& c = corpus();
  DatadogEncoder enc(config(state.range(0) != 0));
  std::string out;
  size_t jsonBytes = 0;
  for (auto _ : state) {
    ChunkPosition pos;
    jsonBytes = 0;
    while (!pos.atEnd(c.chunk)) {
      enc.encodePayload(c.chunk, pos, out);
      jsonBytes += out.size();
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.chunk.events));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.msgpackBytes));
  state.counters["json_MBps"] = benchmark::Counter(static_cast<double>(state.iterations() * jsonBytes) / 1e6,
                                                   benchmark::Counter::kIsRate);
  state.counters["json_B_per_event"] = static_cast<double>(jsonBytes) / static_cast<double>(c.chunk.events);
}
BENCHMARK(BM_DatadogEncode)->ArgName("ecs")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Encode + compress with a codec: the whole CPU cost of a Datadog request body.
// Args: ecs, codec (1 gzip/libdeflate, 2 zstd), level.
void BM_DatadogEncodeCompress(benchmark::State& state) {
  const Corpus& c = corpus();
  DatadogEncoder enc(config(state.range(0) != 0));
  auto comp = firelane::codec::Compressor::create(
      {static_cast<firelane::codec::Codec>(state.range(1)), static_cast<int>(state.range(2))});
  if (!comp.ok()) {
    state.SkipWithError(comp.message().c_str());
    return;
  }
  std::string json, body;
  size_t bodyBytes = 0;
  for (auto _ : state) {
    ChunkPosition pos;
    bodyBytes = 0;
    while (!pos.atEnd(c.chunk)) {
      enc.encodePayload(c.chunk, pos, json);
      comp.value()->compress(json, body);
      bodyBytes += body.size();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.chunk.events));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.msgpackBytes));
  state.counters["body_B_per_event"] = static_cast<double>(bodyBytes) / static_cast<double>(c.chunk.events);
}
BENCHMARK(BM_DatadogEncodeCompress)
    ->ArgNames({"ecs", "codec", "level"})
    ->Args({1, 1, 1})
    ->Args({1, 1, 6})
    ->Args({1, 2, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
