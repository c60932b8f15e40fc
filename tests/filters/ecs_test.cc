// Tests for the ecs filter: task metadata parsing and templates, config errors, and the runtime on a
// real loop against a fake task-metadata endpoint (healthy, slow, failing then healthy, dead), the
// shared zero-copy field blocks and their byte-identity with FireLens' record_modifier.
#include "filters/ecs/ecs_config.h"

#include <catch2/catch.hpp>
#include <cstdlib>

#include "filters/filter_test_util.h"
#include "filters/record_modifier/record_modifier.h"
#include "support/fake_http_server.h"

using namespace firelane;
using namespace firelane::filtertest;
using namespace firelane::filters::ecs;
using firelane::testsupport::FakeHttpServer;
using firelane::testsupport::ScriptedReply;
using Ms = std::chrono::milliseconds;

namespace {

auto reg = &filters::ecs::registerPlugin;

const std::string kApp = std::string(64, 'a');
const std::string kSidecar = std::string(64, 'b');

std::string taskJson(const std::string& cluster = "arn:aws:ecs:us-east-1:111122223333:cluster/prod",
                     bool withService = true) {
  return R"({"Cluster":")" + cluster +
         R"(","TaskARN":"arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",)"
         R"("Family":"web","Revision":"42","DesiredStatus":"RUNNING","KnownStatus":"RUNNING",)"
         R"("AvailabilityZone":"us-east-1a","LaunchType":"FARGATE",)" +
         (withService ? std::string(R"("ServiceName":"web-svc",)") : std::string()) +
         R"("Containers":[{"DockerId":")" + kApp + R"(","Name":"app","Image":"nginx:1.25","Labels":{}},)"
         R"({"DockerId":")" + kSidecar + R"(","Name":"log_router","Image":"firelane:latest"}]})";
}

std::vector<uint8_t> dockerRecord(const std::string& containerId, const std::string& log) {
  return strMap({{"container_id", containerId}, {"container_name", "/app"}, {"source", "stdout"}, {"log", log}});
}

std::string jsonWithExtra(const EventBatch& b, size_t i) {
  std::string out;
  codec::appendJsonObject(out, b.events[i].record, b.extra.get());
  return out;
}

// A FilterContext on a real libuv loop (the metadata fetch needs one).
class LoopContext final : public FilterContext {
 public:
  LoopContext() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
  }
  ~LoopContext() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t* loop() override { return &loop_; }
  unsigned workerId() const override { return 0; }
  const std::string& instanceName() const override { return name_; }
  FilterCounters& counters() override { return counters_; }
  void emit(EventBatch&& batch) override { emitted.push_back(std::move(batch)); }

  // Runs the loop until `done()` or the deadline; a 5 ms tick keeps uv_run from blocking forever.
  bool runUntil(const std::function<bool()>& done, Ms timeout = Ms(10000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    uv_timer_start(&tick_, [](uv_timer_t*) {}, 5, 5);
    bool ok = false;
    while (!(ok = done()) && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&tick_);
    return ok;
  }

  std::vector<EventBatch> emitted;

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
  std::string name_ = "ecs.0";
  FilterCounters counters_;
};

struct Live {
  std::shared_ptr<FilterFactory> factory;
  FilterPtr filter;
  LoopContext ctx;
  bool closed = false;
  ~Live() {
    if (closed) return;
    filter->close([&] { closed = true; });
    CHECK(ctx.runUntil([&] { return closed; }));
  }
};

std::unique_ptr<Live> startLive(const std::string& entries) {
  auto f = buildFilter(reg, "ecs", entries);
  INFO((f.ok() ? std::string() : f.message()));
  REQUIRE(f.ok());
  auto l = std::make_unique<Live>();
  l->factory = *f;
  l->filter = l->factory->create(0);
  REQUIRE(l->filter->start(l->ctx).ok());
  return l;
}

// Applies a one-event batch until the filter enriches it (metadata arrived).
bool awaitReady(Live& l) {
  return l.ctx.runUntil([&] {
    auto b = makeBatch({dockerRecord(kApp, "probe")});
    return l.filter->apply(b) == FilterResult::Modified;
  });
}

std::string conf(const FakeHttpServer& s, const std::string& more = "") {
  return "    Metadata_URI " + s.baseUrl() + "/v4/abc-123\n    Metadata_Retry_Base 0.01\n    Metadata_Retry_Cap 0.05\n" +
         more;
}

}  // namespace

TEST_CASE("ecs: task metadata parsing", "[filters][ecs]") {
  auto t = parseTaskMetadata(taskJson());
  REQUIRE(t.ok());
  CHECK(t->cluster == "prod");
  CHECK(t->taskArn == "arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef");
  CHECK(t->taskId == "0123456789abcdef0123456789abcdef");
  CHECK(t->family == "web");
  CHECK(t->revision == "42");
  CHECK(t->availabilityZone == "us-east-1a");
  CHECK(t->launchType == "FARGATE");
  CHECK(t->serviceName == "web-svc");
  REQUIRE(t->containers.size() == 2);
  REQUIRE(t->container(kSidecar));
  CHECK(t->container(kSidecar)->name == "log_router");
  CHECK(t->container(kApp)->image == "nginx:1.25");
  CHECK_FALSE(t->container("nope"));

  // A plain cluster name stays; a numeric Revision is accepted; old-style task ARNs have no cluster part.
  auto named = parseTaskMetadata(R"({"Cluster":"default","TaskARN":"arn:aws:ecs:r:1:task/abc","Family":"f","Revision":7})");
  REQUIRE(named.ok());
  CHECK(named->cluster == "default");
  CHECK(named->revision == "7");
  CHECK(named->taskId == "abc");
  CHECK(named->containers.empty());
  CHECK(clusterName("arn:aws-cn:ecs:cn-north-1:1:cluster/a/b") == "a/b");

  CHECK(parseTaskMetadata("").message().find("not a JSON object") != std::string::npos);
  CHECK(parseTaskMetadata("[1]").message().find("not a JSON object") != std::string::npos);
  CHECK(parseTaskMetadata(R"({"TaskARN":"x","Family":"f","Revision":"1"})").message().find("'Cluster'") !=
        std::string::npos);
  CHECK(parseTaskMetadata(R"({"Cluster":"c","TaskARN":5,"Family":"f","Revision":"1"})").message().find("'TaskARN'") !=
        std::string::npos);
  CHECK(parseTaskMetadata(R"({"Cluster":"c","TaskARN":"t","Revision":"1"})").message().find("'Family'") !=
        std::string::npos);
  // Broken containers are skipped, not fatal.
  auto odd = parseTaskMetadata(R"({"Cluster":"c","TaskARN":"t","Family":"f","Revision":"1","Containers":[1,{"Name":"x"},{"DockerId":"d"}]})");
  REQUIRE(odd.ok());
  REQUIRE(odd->containers.size() == 1);
  CHECK(odd->containers[0].dockerId == "d");
}

TEST_CASE("ecs: value templates and endpoints", "[filters][ecs]") {
  auto t = *parseTaskMetadata(taskJson("prod", false));
  std::string out;
  auto tpl = ValueTemplate::parse("task=$TaskID/$taskdefinition in $ClusterName $");
  REQUIRE(tpl.ok());
  CHECK_FALSE(tpl->usesContainer());
  CHECK(tpl->render(t, nullptr, out));
  CHECK(out == "task=0123456789abcdef0123456789abcdef/web:42 in prod $");
  // No ServiceName in the task: the field is left out rather than added empty.
  CHECK_FALSE(ValueTemplate::parse("$ServiceName")->render(t, nullptr, out));
  auto c = ValueTemplate::parse("$ECSContainerName@$ContainerImage");
  REQUIRE(c.ok());
  CHECK(c->usesContainer());
  CHECK_FALSE(c->render(t, nullptr, out));
  CHECK(c->render(t, t.container(kApp), out));
  CHECK(out == "app@nginx:1.25");
  auto bad = ValueTemplate::parse("$TaskId $Nope");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.message().find("unknown variable '$Nope'") != std::string::npos);

  auto e = parseEndpoint("http://169.254.170.2/v4/abc-123/");
  REQUIRE(e.ok());
  CHECK(e->host == "169.254.170.2");
  CHECK(e->port == 80);
  CHECK(e->path == "/v4/abc-123");
  e = parseEndpoint("http://[::1]:5000");
  REQUIRE(e.ok());
  CHECK(e->host == "::1");
  CHECK(e->port == 5000);
  CHECK(e->path.empty());
  CHECK_FALSE(parseEndpoint("https://x/v4").ok());
  CHECK_FALSE(parseEndpoint("http://x:99999/v4").ok());
  CHECK_FALSE(parseEndpoint("http://x:/v4").ok());
  CHECK_FALSE(parseEndpoint("http:///v4").ok());
}

TEST_CASE("ecs: config errors name the file line and key", "[filters][ecs]") {
  CHECK(configError(reg, "ecs", "    Metadata_URI http://h\n    Add k $Nope\n") ==
        "t.conf:5: invalid value 'k $Nope' for 'Add' in [FILTER] ecs: unknown variable '$Nope' (known: $ClusterName, "
        "$Cluster, $TaskARN, $TaskID, $TaskDefinitionFamily, $Family, $TaskDefinitionVersion, $Revision, "
        "$TaskDefinition, $AvailabilityZone, $LaunchType, $ServiceName, $ContainerID, $DockerId, $ContainerName, "
        "$ECSContainerName, $ContainerImage, $Image)");
  CHECK(configError(reg, "ecs", "    Add onlykey\n").find("t.conf:4: invalid value 'onlykey' for 'Add'") == 0);
  CHECK(configError(reg, "ecs", "    Metadata_URI ftp://h/v4\n") ==
        "t.conf:4: invalid Metadata_URI 'ftp://h/v4' in [FILTER] ecs: expected an http:// URI");
  CHECK(configError(reg, "ecs", "    FireLens_Fields off\n").find("adds nothing") != std::string::npos);
  CHECK(configError(reg, "ecs", "    Metadata_Retry_Base 2\n    Metadata_Retry_Cap 1\n").find("t.conf:5:") == 0);
  CHECK(configError(reg, "ecs", "    Metadata_Uri_typo x\n").find("did you mean 'Metadata_URI'") != std::string::npos);
}

TEST_CASE("ecs: off ECS the filter passes events unchanged", "[filters][ecs]") {
  unsetenv("ECS_CONTAINER_METADATA_URI_V4");
  auto f = startFilter(reg, "ecs", "");
  auto b = makeBatch({dockerRecord(kApp, "x")});
  CHECK(f->filter->apply(b) == FilterResult::Unchanged);
  CHECK_FALSE(b.extra);
}

TEST_CASE("ecs: shared block equals FireLens record_modifier output byte for byte", "[filters][ecs]") {
  FakeHttpServer server({{"/v4/abc-123/task", ScriptedReply{200, taskJson()}}});
  auto l = startLive(conf(server));
  REQUIRE(awaitReady(*l));
  auto reqs = server.requests();
  REQUIRE(!reqs.empty());
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].target == "/v4/abc-123/task");
  CHECK(reqs[0].violation.empty());

  Pack nested;
  nested.map(3).kv("container_id", kApp).str("kubernetes").map(1).kv("a", "b").str("n").i64(-5);
  std::vector<std::vector<uint8_t>> recs = {dockerRecord(kApp, "hello"), dockerRecord(kApp, std::string("\xff\xfe bad", 6)),
                                            dockerRecord(kApp, std::string(1 << 20, 'x')), nested.bytes()};
  auto batch = makeBatch(recs);
  std::vector<const uint8_t*> views;
  for (auto& e : batch.events) views.push_back(e.record.data());
  size_t owners = batch.owners.size(), bytes = batch.bytes;
  CHECK(l->filter->apply(batch) == FilterResult::Modified);
  // Zero copy: the records are the same bytes; only the shared block was attached.
  for (size_t i = 0; i < views.size(); ++i) CHECK(batch.events[i].record.data() == views[i]);
  CHECK(batch.owners.size() == owners);
  CHECK(batch.bytes == bytes);
  REQUIRE(batch.extra);
  CHECK(batch.extra->count == 3);

  // The record_modifier FireLens generates for the same task.
  auto rm = startFilter(&filters::record_modifier::registerPlugin, "record_modifier",
                        "    Record ecs_cluster prod\n"
                        "    Record ecs_task_arn arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef\n"
                        "    Record ecs_task_definition web:42\n");
  auto expected = makeBatch(recs);
  CHECK(rm->filter->apply(expected) == FilterResult::Modified);
  for (size_t i = 0; i < recs.size(); ++i) CHECK(jsonWithExtra(batch, i) == json(expected.events[i].record));
  CHECK(jsonWithExtra(batch, 0) ==
        R"({"container_id":")" + kApp + R"(","container_name":"/app","source":"stdout","log":"hello",)"
        R"("ecs_cluster":"prod","ecs_task_arn":"arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",)"
        R"("ecs_task_definition":"web:42"})");

  // Every batch shares the one block; a batch seen again (re-emitted) is left alone.
  auto other = makeBatch({dockerRecord(kSidecar, "y")});
  CHECK(l->filter->apply(other) == FilterResult::Modified);
  CHECK(other.extra == batch.extra);
  CHECK(l->filter->apply(other) == FilterResult::Unchanged);
  CHECK(other.extra->count == 3);
}

TEST_CASE("ecs: Add fields per task and per container", "[filters][ecs]") {
  FakeHttpServer server({{"/v4/abc-123/task", ScriptedReply{200, taskJson()}}});
  auto l = startLive(conf(server,
                          "    Add ecs_task_id $TaskID\n    Add availability_zone $AvailabilityZone\n"
                          "    Add launch_type $LaunchType\n    Add ecs_service $ServiceName\n"
                          "    Add container_name $ContainerName\n    Add container_image $ContainerImage\n"));
  REQUIRE(awaitReady(*l));
  const std::string task =
      R"("ecs_cluster":"prod","ecs_task_arn":"arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",)"
      R"("ecs_task_definition":"web:42","ecs_task_id":"0123456789abcdef0123456789abcdef",)"
      R"("availability_zone":"us-east-1a","launch_type":"FARGATE","ecs_service":"web-svc")";

  auto app = makeBatch({strMap({{"container_id", kApp}, {"log", "a"}}), strMap({{"container_id", kApp}, {"log", "b"}})});
  CHECK(l->filter->apply(app) == FilterResult::Modified);
  CHECK(jsonWithExtra(app, 1) ==
        R"({"container_id":")" + kApp + R"(","log":"b",)" + task + R"(,"container_name":"app","container_image":"nginx:1.25"})");
  auto app2 = makeBatch({strMap({{"container_id", kApp}, {"log", "c"}})});
  l->filter->apply(app2);
  CHECK(app2.extra == app.extra);  // one block per container, shared

  // Unknown or missing container_id: the task fields only.
  auto unknown = makeBatch({strMap({{"container_id", "zzz"}}), strMap({{"container_id", "zzz"}})});
  CHECK(l->filter->apply(unknown) == FilterResult::Modified);
  CHECK(jsonWithExtra(unknown, 0) == R"({"container_id":"zzz",)" + task + "}");

  // Two containers in one batch: each record gets its own container's fields written into it.
  auto mixed = makeBatch({strMap({{"container_id", kApp}}), strMap({{"container_id", kSidecar}}), strMap({{"x", "1"}})});
  CHECK(l->filter->apply(mixed) == FilterResult::Modified);
  CHECK_FALSE(mixed.extra);
  CHECK(mixed.bytes == sumBytes(mixed));
  CHECK(json(mixed.events[0].record) ==
        R"({"container_id":")" + kApp + R"(",)" + task + R"(,"container_name":"app","container_image":"nginx:1.25"})");
  CHECK(json(mixed.events[1].record) == R"({"container_id":")" + kSidecar + R"(",)" + task +
                                            R"(,"container_name":"log_router","container_image":"firelane:latest"})");
  CHECK(json(mixed.events[2].record) == R"({"x":"1",)" + task + "}");
}

TEST_CASE("ecs: failing then healthy endpoint is retried with backoff", "[filters][ecs]") {
  FakeHttpServer server({{"/v4/abc-123/task", ScriptedReply{200, taskJson()}}});
  ScriptedReply dead;
  dead.drop = true;
  server.script({ScriptedReply{503, "busy"}, ScriptedReply{200, "{not json"}, dead, ScriptedReply{500, "x"}});
  auto l = startLive(conf(server, "    Metadata_Wait 0\n"));
  // Until the metadata arrives, events pass un-enriched (no wait configured).
  auto early = makeBatch({dockerRecord(kApp, "early")});
  CHECK(l->filter->apply(early) == FilterResult::Unchanged);
  CHECK_FALSE(early.extra);
  REQUIRE(awaitReady(*l));
  CHECK(server.requestCount() == 5);
  for (const auto& r : server.requests()) CHECK(r.violation.empty());
  CHECK(l->ctx.counters().errors.get("metadata_fetch") == 4);
}

TEST_CASE("ecs: Metadata_Wait holds batches until a slow endpoint answers", "[filters][ecs]") {
  FakeHttpServer server({{"/v4/abc-123/task", ScriptedReply{200, taskJson(), "application/json", Ms(300)}}});
  auto l = startLive(conf(server, "    Metadata_Wait 30\n"));
  auto b1 = makeBatch({dockerRecord(kApp, "one")});
  auto b2 = makeBatch({dockerRecord(kApp, "two"), dockerRecord(kApp, "three")});
  CHECK(l->filter->apply(b1) == FilterResult::DropAll);
  CHECK(l->filter->apply(b2) == FilterResult::DropAll);
  REQUIRE(l->ctx.runUntil([&] { return l->ctx.emitted.size() == 2; }));
  auto& out = l->ctx.emitted;
  REQUIRE(out[0].events.size() == 1);
  REQUIRE(out[1].events.size() == 2);
  CHECK(jsonWithExtra(out[1], 1).find(R"("log":"three","ecs_cluster":"prod")") != std::string::npos);
  CHECK(out[0].extra == out[1].extra);
}

TEST_CASE("ecs: a dead endpoint ends the wait and the fetch gives up", "[filters][ecs]") {
  FakeHttpServer server({{"/v4/abc-123/task", ScriptedReply{500, "down"}}});
  SECTION("retry limit reached: held batches go on un-enriched") {
    auto l = startLive(conf(server, "    Metadata_Wait 30\n    Metadata_Retry_Limit 2\n"));
    auto b = makeBatch({dockerRecord(kApp, "held")});
    CHECK(l->filter->apply(b) == FilterResult::DropAll);
    REQUIRE(l->ctx.runUntil([&] { return l->ctx.emitted.size() == 1; }));
    CHECK(server.requestCount() == 3);
    CHECK_FALSE(l->ctx.emitted[0].extra);
    CHECK(json(l->ctx.emitted[0].events[0].record).find("\"log\":\"held\"") != std::string::npos);
    auto later = makeBatch({dockerRecord(kApp, "later")});
    CHECK(l->filter->apply(later) == FilterResult::Unchanged);
  }
  SECTION("wait time over: held batches go on, later ones are not held") {
    auto l = startLive(conf(server, "    Metadata_Wait 0.2\n    Metadata_Retry_Limit 1000\n"));
    auto b = makeBatch({dockerRecord(kApp, "held")});
    CHECK(l->filter->apply(b) == FilterResult::DropAll);
    REQUIRE(l->ctx.runUntil([&] { return l->ctx.emitted.size() == 1; }));
    auto later = makeBatch({dockerRecord(kApp, "later")});
    CHECK(l->filter->apply(later) == FilterResult::Unchanged);
  }
  SECTION("Metadata_Wait_Limit bounds what is held") {
    auto l = startLive(conf(server, "    Metadata_Wait 30\n    Metadata_Wait_Limit 1000\n"));
    auto small = makeBatch({dockerRecord(kApp, "s")});
    auto big = makeBatch({dockerRecord(kApp, std::string(2000, 'x'))});
    CHECK(l->filter->apply(small) == FilterResult::DropAll);
    CHECK(l->filter->apply(big) == FilterResult::Unchanged);
  }
  SECTION("shutdown releases what is held") {
    auto l = startLive(conf(server, "    Metadata_Wait 30\n"));
    auto b = makeBatch({dockerRecord(kApp, "held")});
    CHECK(l->filter->apply(b) == FilterResult::DropAll);
    // The endpoint answers 500: close ends the fetch (no retries) and lets the records go un-enriched.
    l->filter->close([&] { l->closed = true; });
    REQUIRE(l->ctx.runUntil([&] { return l->closed; }));
    REQUIRE(l->ctx.emitted.size() == 1);
    CHECK_FALSE(l->ctx.emitted[0].extra);
  }
  SECTION("shutdown waits for metadata that is about to arrive") {
    server.setRoute("/v4/abc-123/task", ScriptedReply{200, taskJson(), "application/json", Ms(300)});
    auto l = startLive(conf(server, "    Metadata_Wait 30\n"));
    auto b = makeBatch({dockerRecord(kApp, "held")});
    CHECK(l->filter->apply(b) == FilterResult::DropAll);
    l->filter->close([&] { l->closed = true; });
    CHECK(l->ctx.emitted.empty());
    REQUIRE(l->ctx.runUntil([&] { return l->closed; }));
    REQUIRE(l->ctx.emitted.size() == 1);
    REQUIRE(l->ctx.emitted[0].extra);
    CHECK(jsonWithExtra(l->ctx.emitted[0], 0).find(R"("log":"held","ecs_cluster":"prod")") != std::string::npos);
  }
}
