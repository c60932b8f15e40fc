// Micro benchmarks for msgpack -> JSON encoding (core/codec/json_writer), the per-event cost of the
// stdout, Datadog and CloudWatch outputs. Bytes/s count msgpack input bytes.
#include <benchmark/benchmark.h>
#include <msgpack.h>

#include <string>
#include <vector>

#include "core/codec/json_writer.h"

namespace {

void packStr(msgpack_packer* pk, std::string_view s) {
  msgpack_pack_str(pk, s.size());
  msgpack_pack_str_body(pk, s.data(), s.size());
}

// A typical container log record: {"log", "source", "container_id", "container_name"}.
std::vector<uint8_t> makeRecord(std::string_view log) {
  msgpack_sbuffer sbuf;
  msgpack_sbuffer_init(&sbuf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  packStr(&pk, "log");
  packStr(&pk, log);
  packStr(&pk, "source");
  packStr(&pk, "stdout");
  packStr(&pk, "container_id");
  packStr(&pk, "3f8a2c9d1e7b4a6f0c5d8e2b9a1f7c3d6e0b4a8f2c9d1e7b5a3f6c0d8e2b9a14");
  packStr(&pk, "container_name");
  packStr(&pk, "/app");
  std::vector<uint8_t> out(reinterpret_cast<uint8_t*>(sbuf.data),
                           reinterpret_cast<uint8_t*>(sbuf.data) + sbuf.size);
  msgpack_sbuffer_destroy(&sbuf);
  return out;
}

std::string asciiLog() {
  std::string log =
      "2024-06-01T12:34:56.789Z INFO  [http-nio-8080-exec-7] c.e.shop.api.OrderController - "
      "order accepted id=84213 user=alice items=3 total=129.95 currency=EUR latency_ms=42 ok";
  while (log.size() < 180) log += " pad";
  log.resize(180);
  return log;
}

// A JSON application log inside the log field: quotes, a tab, a newline, accents, euro, emoji.
std::string escapedLog() {
  return "{\"level\":\"warn\",\"msg\":\"paiement refusé: solde 12,50 € insuffisant 😀\",\"path\":"
         "\"C:\\\\srv\\\\app\",\"trace\":\"at Foo.bar(Foo.java:42)\\n\\tat Main.main\"}\n";
}

void runObject(benchmark::State& state, const std::vector<uint8_t>& record) {
  std::string out;
  size_t outBytes = 0;
  for (auto _ : state) {
    out.clear();
    firelane::codec::appendJsonObject(out, record);
    outBytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * record.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["record_bytes"] = static_cast<double>(record.size());
  state.counters["json_bytes"] = static_cast<double>(outBytes);
}

void BM_JsonObjectAscii(benchmark::State& state) { runObject(state, makeRecord(asciiLog())); }
BENCHMARK(BM_JsonObjectAscii);

void BM_JsonObjectEscapesUtf8(benchmark::State& state) { runObject(state, makeRecord(escapedLog())); }
BENCHMARK(BM_JsonObjectEscapesUtf8);

// The shape outputs use: many records appended into one reused request buffer, newline separated,
// with a date key and per-batch extra fields.
void BM_JsonBatchWithDateAndExtra(benchmark::State& state) {
  const auto record = makeRecord(asciiLog());
  msgpack_sbuffer sbuf;
  msgpack_sbuffer_init(&sbuf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
  packStr(&pk, "ecs_cluster");
  packStr(&pk, "prod-eu-west-1");
  firelane::ExtraFields extra;
  extra.kv.assign(reinterpret_cast<uint8_t*>(sbuf.data), reinterpret_cast<uint8_t*>(sbuf.data) + sbuf.size);
  extra.count = 1;
  msgpack_sbuffer_destroy(&sbuf);

  constexpr int kBatch = 1000;
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < kBatch; ++i) {
      firelane::codec::appendJsonObjectWithDate(out, "date", "1717245296.789", record, &extra);
      out += '\n';
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatch * record.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_JsonBatchWithDateAndExtra);

void BM_JsonStringAscii4K(benchmark::State& state) {
  std::string s;
  while (s.size() < 4096) s += asciiLog();
  std::string out;
  for (auto _ : state) {
    out.clear();
    firelane::codec::appendJsonString(out, s);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_JsonStringAscii4K);

}  // namespace
