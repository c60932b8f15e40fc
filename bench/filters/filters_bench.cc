// Micro benchmarks for the filters on the FireLens path: grep keeping / dropping everything, and ECS
// enrichment by the ecs filter (shared block) against FireLens' record_modifier (records rewritten).
// items/s = events per second on one core. Counters per event: copied_B (bytes BatchEditor wrote into
// new buffers) and owned_B (bytes of buffers the filter added to the batch): 0 means no copy.
#include <benchmark/benchmark.h>
#include <uv.h>

#include <string>
#include <vector>

#include "core/codec/msgpack_writer.h"
#include "core/common/log.h"
#include "core/config/classic_parser.h"
#include "core/plugin/registry.h"
#include "core/record/record_builder.h"
#include "filters/ecs/ecs_config.h"
#include "filters/grep/grep.h"
#include "filters/record_modifier/record_modifier.h"

using namespace firelane;

namespace {

constexpr size_t kBatch = 1000;
const std::string kContainer = "3f8a2c9d1e7b4a6f0c5d8e2b9a1f7c3d6e0b4a8f2c9d1e7b5a3f6c0d8e2b9a14";
const std::string kTaskArn = "arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef";

// A Docker/FireLens record: {"container_id", "container_name", "source", "log"}.
std::vector<uint8_t> dockerRecord(size_t i) {
  std::vector<uint8_t> out;
  codec::MsgpackWriter w(out);
  w.mapHeader(4);
  w.str("container_id");
  w.str(kContainer);
  w.str("container_name");
  w.str("/app");
  w.str("source");
  w.str("stdout");
  w.str("log");
  w.str("2024-05-01T12:00:00Z INFO request " + std::to_string(i) +
        " GET /api/v1/items?id=42 status=200 duration_ms=12 user_agent=\"Mozilla/5.0\"");
  return out;
}

// kBatch records in one buffer, and the batch viewing them.
struct Input {
  BufferPtr buf;
  EventBatch batch;
  Input() {
    std::vector<std::vector<uint8_t>> recs;
    size_t total = 0;
    for (size_t i = 0; i < kBatch; ++i) {
      recs.push_back(dockerRecord(i));
      total += recs.back().size();
    }
    buf = makeBuffer(total);
    batch.tag = "app-firelens-0123456789abcdef0123456789abcdef";
    for (auto& r : recs) {
      const uint8_t* at = buf->data() + buf->size();
      buf->append(r.data(), r.size());
      batch.add(1700000000000000000, {at, r.size()});
    }
    batch.owners.push_back(buf);
  }
};

// The factory owns the config its filters reference: keep it alive as long as they are.
std::shared_ptr<FilterFactory> build(void (*reg)(Registry&), const std::string& name, const std::string& entries) {
  Registry r;
  reg(r);
  auto doc = config::parseString("[FILTER]\n    Name " + name + "\n    Match *\n" + entries, "bench.conf", ".");
  const PluginInfo* info = r.find(PluginKind::Filter, name);
  static constexpr std::string_view kSkip[] = {"Name"};
  auto values = validateOptions(doc->sections.at(0), r.allOptions(*info), "[FILTER] " + name, kSkip);
  ServiceConfig service;
  PluginEnv env{service, name + ".0"};
  auto f = info->makeFilter(*values, env);
  if (!f) {
    fprintf(stderr, "bench config: %s\n", f.message().c_str());
    abort();
  }
  return *f;
}

// Runs `filter` over a fresh copy of the input batch per iteration (the copy is of the event views,
// 16 bytes per event, not of the records).
void runFilter(benchmark::State& state, Filter& filter, const Input& in) {
  uint64_t copied0 = record::bytesCopiedOnThisThread();
  uint64_t owned = 0;
  for (auto _ : state) {
    EventBatch b;
    b.tag = in.batch.tag;
    b.events = in.batch.events;
    b.owners = in.batch.owners;
    b.bytes = in.batch.bytes;
    benchmark::DoNotOptimize(filter.apply(b));
    for (size_t i = in.batch.owners.size(); i < b.owners.size(); ++i) owned += b.owners[i]->size();
    benchmark::DoNotOptimize(b.events.data());
  }
  double events = static_cast<double>(state.iterations()) * kBatch;
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["copied_B"] = static_cast<double>(record::bytesCopiedOnThisThread() - copied0) / events;
  state.counters["owned_B"] = static_cast<double>(owned) / events;
}

void BM_GrepMatch(benchmark::State& state) {
  Input in;
  auto factory = build(&filters::grep::registerPlugin, "grep", "    Regex log status=2\\d\\d\n");
  auto f = factory->create(0);
  runFilter(state, *f, in);
}
BENCHMARK(BM_GrepMatch);

void BM_GrepNoMatch(benchmark::State& state) {
  Input in;
  auto factory = build(&filters::grep::registerPlugin, "grep", "    Regex log status=5\\d\\d\n");
  auto f = factory->create(0);
  runFilter(state, *f, in);
}
BENCHMARK(BM_GrepNoMatch);

void BM_GrepExcludeNoMatch(benchmark::State& state) {
  Input in;
  auto factory = build(&filters::grep::registerPlugin, "grep", "    Exclude log ^DEBUG\n");
  auto f = factory->create(0);
  runFilter(state, *f, in);
}
BENCHMARK(BM_GrepExcludeNoMatch);

// A one-shot HTTP responder on the loop serving the task metadata, so the real ecs filter gets ready.
struct MetadataServer {
  uv_tcp_t server;
  std::string response;
  uint16_t port = 0;
  explicit MetadataServer(uv_loop_t* loop) {
    std::string body = R"({"Cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/prod","TaskARN":")" + kTaskArn +
                       R"(","Family":"web","Revision":"42","AvailabilityZone":"us-east-1a","LaunchType":"FARGATE",)"
                       R"("Containers":[{"DockerId":")" + kContainer + R"(","Name":"app","Image":"nginx"}]})";
    response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
    uv_tcp_init(loop, &server);
    server.data = this;
    sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0);
    uv_listen(reinterpret_cast<uv_stream_t*>(&server), 8, [](uv_stream_t* s, int) {
      auto* self = static_cast<MetadataServer*>(s->data);
      auto* c = new uv_tcp_t;
      uv_tcp_init(s->loop, c);
      c->data = self;
      uv_accept(s, reinterpret_cast<uv_stream_t*>(c));
      uv_read_start(
          reinterpret_cast<uv_stream_t*>(c),
          [](uv_handle_t*, size_t, uv_buf_t* b) {
            static char mem[65536];
            *b = uv_buf_init(mem, sizeof(mem));
          },
          [](uv_stream_t* st, ssize_t n, const uv_buf_t*) {
            auto* self = static_cast<MetadataServer*>(st->data);
            if (n < 0) {
              uv_close(reinterpret_cast<uv_handle_t*>(st), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
              return;
            }
            auto* req = new uv_write_t;
            uv_buf_t buf = uv_buf_init(self->response.data(), static_cast<unsigned>(self->response.size()));
            uv_write(req, st, &buf, 1, [](uv_write_t* r, int) { delete r; });
          });
    });
    sockaddr_storage name;
    int len = sizeof(name);
    uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&name), &len);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&name)->sin_port);
  }
};

// The ecs filter on a loop, fed until the metadata arrived.
void runEcs(benchmark::State& state, const std::string& extraConf) {
  log::setLevel(log::Level::Warn);  // the filter logs the metadata it got at info, once per run
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    MetadataServer server(&loop);
    DiscardingFilterContext ctx(&loop, "bench.0");
    auto factory = build(&filters::ecs::registerPlugin, "ecs",
                         "    Metadata_URI http://127.0.0.1:" + std::to_string(server.port) + "/v4/x\n    Metadata_Wait 0\n" +
                             extraConf);
    auto f = factory->create(0);
    f->start(ctx);
    Input in;
    for (int i = 0; i < 100000; ++i) {
      EventBatch probe;
      probe.add(0, in.batch.events[0].record);
      if (f->apply(probe) == FilterResult::Modified) break;
      uv_run(&loop, UV_RUN_ONCE);
    }
    runFilter(state, *f, in);
    bool closed = false;
    f->close([&] { closed = true; });
    uv_close(reinterpret_cast<uv_handle_t*>(&server.server), nullptr);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  uv_walk(&loop, [](uv_handle_t* h, void*) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }, nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

void BM_EcsEnrich(benchmark::State& state) { runEcs(state, ""); }
BENCHMARK(BM_EcsEnrich);

// With a per-container field: each record's container_id is looked up.
void BM_EcsEnrichWithContainer(benchmark::State& state) { runEcs(state, "    Add container_name $ContainerName\n"); }
BENCHMARK(BM_EcsEnrichWithContainer);

// What FireLens does today: record_modifier rewrites every record with the three fields.
void BM_RecordModifierFireLens(benchmark::State& state) {
  Input in;
  auto factory = build(&filters::record_modifier::registerPlugin, "record_modifier",
                       "    Record ecs_cluster prod\n    Record ecs_task_arn " + kTaskArn +
                           "\n    Record ecs_task_definition web:42\n");
  auto f = factory->create(0);
  runFilter(state, *f, in);
}
BENCHMARK(BM_RecordModifierFireLens);

}  // namespace
