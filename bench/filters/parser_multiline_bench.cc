// Micro benchmarks for the parser filter (nginx regex, json) and the multiline filter's partial
// message reassembly: events/s through Filter::apply on batches of 100 FireLens-shaped records.
#include <benchmark/benchmark.h>
#include <msgpack.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config/classic_parser.h"
#include "core/parser/log_parser.h"
#include "core/plugin/registry.h"
#include "filters/multiline/multiline.h"
#include "filters/parser/parser.h"

namespace {

using namespace firelane;

std::vector<uint8_t> record(std::initializer_list<std::pair<std::string, std::string>> kvs) {
  msgpack_sbuffer sbuf;
  msgpack_sbuffer_init(&sbuf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, kvs.size());
  for (const auto& [k, v] : kvs) {
    msgpack_pack_str(&pk, k.size());
    msgpack_pack_str_body(&pk, k.data(), k.size());
    msgpack_pack_str(&pk, v.size());
    msgpack_pack_str_body(&pk, v.data(), v.size());
  }
  std::vector<uint8_t> out(sbuf.data, sbuf.data + sbuf.size);
  msgpack_sbuffer_destroy(&sbuf);
  return out;
}

FilterPtr makeFilter(void (*reg)(Registry&), const std::string& name, const std::string& entries,
                     const ServiceConfig& svc, std::shared_ptr<FilterFactory>& keep) {
  Registry r;
  reg(r);
  auto doc = config::parseString("[FILTER]\n    Name " + name + "\n    Match *\n" + entries, "bench.conf", ".");
  const PluginInfo* info = r.find(PluginKind::Filter, name);
  static constexpr std::string_view kSkip[] = {"Name"};
  auto values = validateOptions(doc->sections.at(0), r.allOptions(*info), "[FILTER] " + name, kSkip);
  PluginEnv env{svc, name + ".0"};
  auto f = info->makeFilter(*values, env);
  if (!f) {
    fprintf(stderr, "%s\n", f.message().c_str());
    abort();
  }
  keep = *f;
  return keep->create(0);
}

ServiceConfig shippedParsers() {
  // The shipped file, found from this source file's path (the bench target has no source-dir define).
  std::string here = __FILE__;
  std::string root = here.substr(0, here.rfind("/bench/filters/"));
  auto set = parser::ParserSet::load({{root + "/conf/parsers.conf", "", ""}});
  if (!set) {
    fprintf(stderr, "%s\n", set.message().c_str());
    abort();
  }
  ServiceConfig s;
  s.parsers = *set;
  return s;
}

// A batch of `records`, all views into one buffer, rebuilt for every iteration (filters rewrite it).
EventBatch batchOf(const std::vector<std::vector<uint8_t>>& records, const BufferRef& buf) {
  EventBatch b;
  b.tag = "app-firelens-1";
  size_t off = 0;
  for (const auto& r : records) {
    b.add(1700000000000000000, {buf->data() + off, r.size()});
    off += r.size();
  }
  b.owners.push_back(buf);
  return b;
}

BufferRef pack(const std::vector<std::vector<uint8_t>>& records) {
  size_t total = 0;
  for (const auto& r : records) total += r.size();
  BufferPtr buf = makeBuffer(total);
  for (const auto& r : records) buf->append(r.data(), r.size());
  return buf;
}

void runParser(benchmark::State& state, const std::string& parserName, const std::vector<std::string>& lines) {
  ServiceConfig svc = shippedParsers();
  std::shared_ptr<FilterFactory> keep;
  DiscardingFilterContext ctx{nullptr, "bench.0"};
  auto f = makeFilter(filters::parser::registerPlugin, "parser",
                      "    Key_Name log\n    Parser " + parserName + "\n    Reserve_Data On\n", svc, keep);
  (void)f->start(ctx);
  std::vector<std::vector<uint8_t>> recs;
  size_t bytes = 0;
  for (size_t i = 0; i < 100; ++i) {
    recs.push_back(record({{"container_id", std::string(64, 'c')}, {"source", "stdout"}, {"log", lines[i % lines.size()]}}));
    bytes += recs.back().size();
  }
  BufferRef buf = pack(recs);
  for (auto _ : state) {
    EventBatch b = batchOf(recs, buf);
    benchmark::DoNotOptimize(f->apply(b));
    benchmark::DoNotOptimize(b.events.data());
  }
  state.SetItemsProcessed(state.iterations() * 100);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_ParserNginxRegex(benchmark::State& state) {
  runParser(state, "nginx",
            {R"~(172.17.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /api/v1/items?page=2 HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64)")~",
             R"(10.0.3.7 - alice [14/Nov/2023:22:13:21 +0000] "POST /login HTTP/2.0" 302 0 "https://shop.example/" "curl/8.1.2")"});
}
BENCHMARK(BM_ParserNginxRegex);

void BM_ParserJson(benchmark::State& state) {
  runParser(state, "json",
            {R"({"level":"info","msg":"request served","status":200,"latency_ms":12.5,"path":"/api/v1/items","user":{"id":42,"roles":["a","b"]},"time":"14/Nov/2023:22:13:20 +0000"})",
             R"({"level":"warn","msg":"slow query \"select\"","rows":1200,"ok":true,"time":"14/Nov/2023:22:13:21 +0000"})"});
}
BENCHMARK(BM_ParserJson);

// Docker's partial messages: every 4 records are one 64 KiB line in 16 KiB pieces, mixed 1:1 with short
// lines of another container.
void BM_MultilinePartialReassembly(benchmark::State& state) {
  ServiceConfig svc;
  std::shared_ptr<FilterFactory> keep;
  DiscardingFilterContext ctx{nullptr, "bench.0"};
  auto f = makeFilter(filters::multiline::registerPlugin, "multiline", "    mode partial_message\n", svc, keep);
  (void)f->start(ctx);
  std::vector<std::vector<uint8_t>> recs;
  size_t bytes = 0;
  std::string chunk(16 * 1024, 'x');
  for (int msg = 0; msg < 25; ++msg) {
    for (int p = 1; p <= 4; ++p) {
      recs.push_back(record({{"container_id", std::string(64, 'a')}, {"source", "stdout"}, {"log", chunk},
                             {"partial_message", "true"}, {"partial_id", "id" + std::to_string(msg)},
                             {"partial_ordinal", std::to_string(p)}, {"partial_last", p == 4 ? "true" : "false"}}));
      recs.push_back(record({{"container_id", std::string(64, 'b')}, {"source", "stdout"}, {"log", "short line"}}));
    }
  }
  for (auto& r : recs) bytes += r.size();
  BufferRef buf = pack(recs);
  for (auto _ : state) {
    EventBatch b = batchOf(recs, buf);
    benchmark::DoNotOptimize(f->apply(b));
    if (b.events.size() != 125) state.SkipWithError("unexpected output count");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(recs.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_MultilinePartialReassembly);

// Java stack traces (8 lines each) mixed with plain lines, built-in java parser.
void BM_MultilineJava(benchmark::State& state) {
  ServiceConfig svc;
  std::shared_ptr<FilterFactory> keep;
  DiscardingFilterContext ctx{nullptr, "bench.0"};
  auto f = makeFilter(filters::multiline::registerPlugin, "multiline", "    multiline.parser java\n", svc, keep);
  (void)f->start(ctx);
  std::vector<std::vector<uint8_t>> recs;
  const std::vector<std::string> trace = {"java.lang.IllegalStateException: boom",
                                          "\tat com.example.App.run(App.java:12)",
                                          "\tat com.example.App.main(App.java:5)",
                                          "Caused by: java.io.IOException: disk",
                                          "\tat com.example.Io.read(Io.java:40)",
                                          "\t... 2 more"};
  while (recs.size() < 96) {
    recs.push_back(record({{"container_id", "c"}, {"log", "INFO request served in 12 ms"}}));
    for (const auto& l : trace) recs.push_back(record({{"container_id", "c"}, {"log", l}}));
  }
  recs.push_back(record({{"container_id", "c"}, {"log", "INFO end"}}));
  BufferRef buf = pack(recs);
  for (auto _ : state) {
    EventBatch b = batchOf(recs, buf);
    benchmark::DoNotOptimize(f->apply(b));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(recs.size()));
}
BENCHMARK(BM_MultilineJava);

}  // namespace
