// Micro benchmarks for the CloudWatch Logs path: SigV4 signing of one PutLogEvents request (small and
// full-size bodies; the body's SHA-256 dominates large ones) and PutLogEvents body building (MB/s of
// msgpack in) for FireLens records, whole record as JSON and with log_key.
#include <benchmark/benchmark.h>
#include <msgpack.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

#include "core/aws/sigv4.h"
#include "outputs/cloudwatch_logs/cloudwatch_logs_encoder.h"

namespace {

using namespace firelane;
using namespace firelane::outputs::cloudwatch_logs;

void packStr(msgpack_packer* pk, std::string_view s) {
  msgpack_pack_str(pk, s.size());
  msgpack_pack_str_body(pk, s.data(), s.size());
}

std::vector<uint8_t> makeRecord(std::mt19937& rng) {
  std::string log = "2024-06-01T12:34:56Z INFO [worker-" + std::to_string(rng() % 16) + "] ";
  const size_t target = 120 + rng() % 300;
  while (log.size() < target) log += std::string(2 + rng() % 9, static_cast<char>('a' + rng() % 26)) + " ";
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
  std::vector<uint8_t> out(reinterpret_cast<uint8_t*>(sbuf.data), reinterpret_cast<uint8_t*>(sbuf.data) + sbuf.size);
  msgpack_sbuffer_destroy(&sbuf);
  return out;
}

struct Corpus {
  std::deque<std::vector<uint8_t>> records;
  FlushChunk chunk;
  size_t msgpackBytes = 0;
};

// 5000 events in batches of 100, times out of order within a second (the encoder sorts).
const Corpus& corpus() {
  static Corpus c = [] {
    Corpus c;
    std::mt19937 rng(7);
    int64_t t = 1'750'000'000'000'000'000;
    for (int b = 0; b < 50; ++b) {
      auto batch = std::make_shared<EventBatch>();
      batch->tag = "shop-api-firelens-0123456789abcdef0123456789abcdef";
      for (int i = 0; i < 100; ++i) {
        c.records.push_back(makeRecord(rng));
        batch->add(t + static_cast<int64_t>(rng() % 1'000'000'000), c.records.back());
        c.msgpackBytes += c.records.back().size();
      }
      t += 1'000'000'000;
      c.chunk.slices.push_back({batch, 0, 100});
      c.chunk.events += 100;
    }
    return c;
  }();
  return c;
}

void BM_SigV4SignPutLogEvents(benchmark::State& state) {
  aws::Signer signer;
  aws::Credentials creds{"ASIAEXAMPLEEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                         std::string(600, 't'), {}, "bench"};
  aws::SigningParams params{"us-east-1", "logs", true, false, false};
  const std::string body(static_cast<size_t>(state.range(0)), 'x');
  auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    http::Request req;
    req.headers.push_back({"Content-Type", "application/x-amz-json-1.1"});
    req.headers.push_back({"X-Amz-Target", "Logs_20140328.PutLogEvents"});
    req.headers.push_back({"User-Agent", "firelane"});
    req.body = body;
    auto sig = signer.sign(req, "logs.us-east-1.amazonaws.com", creds, params, now);
    benchmark::DoNotOptimize(sig.signature.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_SigV4SignPutLogEvents)->ArgName("body")->Arg(1024)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

// Builds every PutLogEvents body for the 5000-event chunk per iteration.
void BM_PutLogEventsBuild(benchmark::State& state) {
  const Corpus& c = corpus();
  CloudWatchEncoderConfig cfg;
  cfg.logGroupName = "/ecs/shop-api";
  cfg.logStreamTemplate = *NameTemplate::parse("$(tag)/$(ecs_task_id)");
  cfg.logStreamPrefix = "x-";
  if (state.range(0)) cfg.logKey = *record::RecordAccessor::parse("log");
  CloudWatchEncoder enc(cfg);
  std::vector<PutCall> calls;
  size_t bodyBytes = 0;
  const int64_t now = 1'750'000'100'000;
  for (auto _ : state) {
    calls.clear();
    enc.encode(c.chunk, now, calls);
    bodyBytes = 0;
    for (const auto& call : calls) bodyBytes += call.body.size();
    benchmark::DoNotOptimize(calls.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.chunk.events));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.msgpackBytes));
  state.counters["body_MBps"] =
      benchmark::Counter(static_cast<double>(state.iterations() * bodyBytes) / 1e6, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PutLogEventsBuild)->ArgName("log_key")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
