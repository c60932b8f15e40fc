// Micro benchmarks for request-body compression (core/codec/compressor): MB/s of JSON in and ratio
// (in/out) per library and level, on Datadog JSON payloads of random-word logs and repetitive logs.
// Args: corpus (0 words, 1 repetitive), level, payload bytes.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/codec/compressor.h"

namespace {

using firelane::codec::Codec;
using firelane::codec::Compressor;
using firelane::codec::GzipLibrary;

std::string hex(std::mt19937& rng, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = digits[rng() % 16];
  return s;
}

// A Datadog intake body as the datadog output makes it for FireLens records with provider ecs:
// per event a timestamp, fixed source/service/host, the record's "source" and "message", and the
// same ~340 bytes of ddtags. Corpus 0: messages of random words from a 4000-word vocabulary and
// random numbers (zlib-6 ratio about 6-7). Corpus 1: an access log with few distinct values.
std::string makeCorpus(int corpus, size_t bytes) {
  std::mt19937 rng(42);
  std::vector<std::string> vocab;
  for (int i = 0; i < 4000; ++i) {
    std::string w;
    const size_t len = 2 + rng() % 9;
    for (size_t k = 0; k < len; ++k) w.push_back(static_cast<char>('a' + rng() % 26));
    vocab.push_back(w);
  }
  const std::string task = hex(rng, 32);
  const std::string tags = "container_id:" + hex(rng, 64) +
                           ",container_name:shop-api,cluster_name:prod,task_arn:arn:aws:ecs:us-east-1:"
                           "123456789012:task/prod/" + task + ",region:us-east-1,task_id:prod/" + task +
                           ",task_family:shop-api,task_version:42,env:prod,team:payments";
  static const char* paths[] = {"/api/v1/orders", "/api/v1/cart", "/healthz", "/api/v1/users/me",
                                "/static/app.js"};
  static const char* levels[] = {"INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR"};
  std::string out = "[";
  int64_t ts = 1700000000000;
  while (out.size() < bytes) {
    std::string msg;
    ts += rng() % 50;
    if (corpus == 0) {
      msg = "2024-06-01T12:34:56." + std::to_string(rng() % 1000) + "Z " + levels[rng() % 6] + " [worker-" +
            std::to_string(rng() % 16) + "] ";
      const size_t target = 120 + rng() % 300;
      while (msg.size() < target) {
        msg += vocab[rng() % vocab.size()];
        msg += rng() % 5 == 0 ? " id=" + std::to_string(rng() % 1000000) + " " : " ";
      }
    } else {
      msg = "10.0.1." + std::to_string(rng() % 4) + " - - [01/Jun/2024:12:34:56 +0000] \\\"GET " +
            paths[rng() % 5] + " HTTP/1.1\\\" " + (rng() % 20 ? "200" : "404") + " " +
            std::to_string(512 + rng() % 4) + " \\\"-\\\" \\\"Mozilla/5.0 (X11; Linux x86_64)\\\" rt=0.0" +
            std::to_string(rng() % 10);
    }
    if (out.size() > 1) out += ',';
    out += "{\"timestamp\":" + std::to_string(ts) +
           ",\"ddsource\":\"java\",\"service\":\"shop-api\",\"hostname\":\"ip-10-0-1-23\",\"source\":\"stdout\","
           "\"message\":\"" + msg + "\",\"ddtags\":\"" + tags + "\"}";
  }
  out += ']';
  return out;
}

const std::string& corpus(int which, size_t bytes) {
  static std::string cache[2];
  static size_t cachedBytes[2] = {0, 0};
  if (cachedBytes[which] != bytes) {
    cache[which] = makeCorpus(which, bytes);
    cachedBytes[which] = bytes;
  }
  return cache[which];
}

void run(benchmark::State& state, Codec codec, GzipLibrary lib) {
  const std::string& in = corpus(static_cast<int>(state.range(0)), static_cast<size_t>(state.range(2)));
  auto c = Compressor::create({codec, static_cast<int>(state.range(1)), lib});
  if (!c.ok()) {
    state.SkipWithError(c.message().c_str());
    return;
  }
  std::string out;
  for (auto _ : state) {
    c.value()->compress(in, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(in.size()) / static_cast<double>(out.size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
}

void BM_Compress_Libdeflate(benchmark::State& state) { run(state, Codec::Gzip, GzipLibrary::Libdeflate); }
void BM_Compress_Zlib(benchmark::State& state) { run(state, Codec::Gzip, GzipLibrary::Zlib); }
void BM_Compress_Zstd(benchmark::State& state) { run(state, Codec::Zstd, GzipLibrary::Libdeflate); }

// 5,000,000 bytes: the largest body the intake takes. 500,000: about 1000 FireLens events, the
// body the 1000-entry limit makes in practice.
void args(benchmark::internal::Benchmark* b) {
  for (int64_t bytes : {5'000'000, 500'000}) {
    for (int corpus : {0, 1}) {
      for (int level : {1, 3, 6, 9}) b->Args({corpus, level, bytes});
    }
  }
  b->ArgNames({"corpus", "level", "bytes"})->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Compress_Libdeflate)->Apply(args);
BENCHMARK(BM_Compress_Zlib)->Apply(args);
BENCHMARK(BM_Compress_Zstd)->Apply(args);
// libdeflate's levels between the usual ones, to see where the 25%-over-zlib-6 budget is met.
BENCHMARK(BM_Compress_Libdeflate)
    ->ArgsProduct({{0, 1}, {2, 4, 5}, {5'000'000}})
    ->ArgNames({"corpus", "level", "bytes"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
