// End to end: the FireLens-generated config (no [SERVICE], forward on a unix socket and TCP, grep,
// record_modifier, @INCLUDE, one output per container) against the same config with the ecs filter in
// place of the record_modifier, reading a fake task-metadata endpoint: stdout must be identical.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "e2e/e2e_util.h"
#include "support/fake_http_server.h"

namespace firelane::e2e {
namespace {

const std::string kTaskArn = "arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef";
const std::string kAppId = std::string(64, 'c');
const std::string kTag = "app-firelens-0123456789abcdef0123456789abcdef";

std::string taskJson() {
  return R"({"Cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/prod","TaskARN":")" + kTaskArn +
         R"(","Family":"web","Revision":"42","AvailabilityZone":"us-east-1a","LaunchType":"EC2",)"
         R"("Containers":[{"DockerId":")" + kAppId + R"(","Name":"app","Image":"nginx"}]})";
}

// The shape the ECS agent writes to /fluent-bit/etc/fluent-bit.conf (REFERENCE.md 2), with the socket
// in the test's temp dir and TCP on port 0. `enrich` is the record_modifier section or its ecs stand-in.
std::string fireLensConfig(Firelane& fl, const std::string& enrich, const std::string& format = "json_lines") {
  std::string user = fl.dir().writeFile("extra.conf",
                                        "[FILTER]\n    Name grep\n    Match *\n    Exclude log ^TRACE\n");
  return "[INPUT]\n"
         "    Name forward\n"
         "    unix_path " + fl.dir().file("fluent.sock") + "\n"
         "    Mem_Buf_Limit 25MB\n"
         "\n[INPUT]\n"
         "    Name forward\n"
         "    Listen 127.0.0.1\n"
         "    Port 0\n"
         "\n[FILTER]\n"
         "    Name grep\n"
         "    Match app-firelens*\n"
         "    Exclude log ^DEBUG\n"
         "\n" + enrich +
         "\n@INCLUDE " + user + "\n"
         "\n[OUTPUT]\n"
         "    Name null\n"
         "    Match firelens-healthcheck\n"
         "\n[OUTPUT]\n"
         "    Name stdout\n"
         "    Match app-firelens*\n"
         "    Format " + format + "\n";
}

const std::string kRecordModifier =
    "[FILTER]\n"
    "    Name record_modifier\n"
    "    Match *\n"
    "    Record ecs_cluster prod\n"
    "    Record ecs_task_arn " + kTaskArn + "\n"
    "    Record ecs_task_definition web:42\n";

const std::string kEcs =
    "[FILTER]\n"
    "    Name ecs\n"
    "    Match *\n"
    "    Metadata_Retry_Base 0.05\n"
    "    Metadata_Retry_Cap 0.2\n";

Event dockerEvent(uint32_t i, const std::string& log) {
  return Event{1700000000 + i, 1000 * i + 7,
               {{"container_id", kAppId}, {"container_name", "/app"}, {"source", "stdout"}, {"log", log}}};
}

// Sends the same events to `fl` over its unix socket and TCP; returns how many should come out.
size_t sendFireLensTraffic(Firelane& fl) {
  auto viaUnix = fl.connectUnix();
  auto viaTcp = fl.connect();
  ForwardOptions docker;
  docker.emptyMap = true;  // Docker's fluentd driver: Message mode, 4 elements, {} options
  size_t expected = 0;
  for (uint32_t i = 0; i < 40; ++i) {
    std::string log = i % 5 == 0   ? "DEBUG noisy " + std::to_string(i)
                      : i % 7 == 0 ? "TRACE noisier " + std::to_string(i)
                      : i == 3     ? std::string("bad utf8 \xc3\x28 \xff end")
                      : i == 4     ? std::string(20000, 'L')
                                   : "line " + std::to_string(i) + " \"quoted\"\ttab";
    if (log.rfind("DEBUG", 0) != 0 && log.rfind("TRACE", 0) != 0) ++expected;
    auto& c = i % 2 ? viaUnix : viaTcp;
    REQUIRE(c->send(buildMessage(kTag, dockerEvent(i, log), TimeFormat::EventTimeFixExt8, docker), kTimeout));
  }
  return expected;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("ecs e2e: the ecs filter prints what FireLens' record_modifier prints", "[e2e][ecs]") {
  // The endpoint is slow, fails, drops a connection, then answers: records arriving meanwhile are
  // held (Metadata_Wait, default 5 s) and come out enriched all the same.
  testsupport::FakeHttpServer server(
      {{"/v4/abc-123/task", testsupport::ScriptedReply{200, taskJson(), "application/json", Millis(200)}}});
  testsupport::ScriptedReply dead;
  dead.drop = true;
  server.script({testsupport::ScriptedReply{503, "busy"}, dead});

  Firelane reference;
  reference.start(fireLensConfig(reference, kRecordModifier));
  Firelane ecs;
  SpawnOptions spawn;
  spawn.env = {"ECS_CONTAINER_METADATA_URI_V4=" + server.baseUrl() + "/v4/abc-123"};
  ecs.start(fireLensConfig(ecs, kEcs), spawn);

  size_t n = sendFireLensTraffic(reference);
  REQUIRE(sendFireLensTraffic(ecs) == n);
  auto want = sorted(reference.lines(n));
  auto got = sorted(ecs.lines(n));
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == want[i]);
  CHECK(want[0].find(R"("ecs_cluster":"prod","ecs_task_arn":")" + kTaskArn + R"(","ecs_task_definition":"web:42"})") !=
        std::string::npos);
  for (const auto& r : server.requests()) {
    CHECK(r.violation.empty());
    CHECK(r.target == "/v4/abc-123/task");
  }
  CHECK(server.requestCount() >= 3);
  // Nothing more comes out (DEBUG / TRACE lines were dropped by the grep filters in both).
  CHECK(reference.proc().takeStdoutLines().empty());
  CHECK(ecs.proc().takeStdoutLines().empty());
}

TEST_CASE("ecs e2e: stdout Format msgpack is byte-identical too", "[e2e][ecs]") {
  testsupport::FakeHttpServer server({{"/v4/abc-123/task", testsupport::ScriptedReply{200, taskJson()}}});
  std::string out[2], err[2];
  for (int i = 0; i < 2; ++i) {
    Firelane fl;
    SpawnOptions spawn;
    spawn.env = {"ECS_CONTAINER_METADATA_URI_V4=" + server.baseUrl() + "/v4/abc-123"};
    fl.start(fireLensConfig(fl, i == 0 ? kRecordModifier : kEcs, "msgpack"), spawn);
    // SIGTERM follows at once: records held for metadata still come out enriched.
    auto c = fl.connect();  // one connection: one worker, order kept
    std::string wire;
    for (uint32_t n = 0; n < 30; ++n) wire += buildMessage(kTag, dockerEvent(n, "m" + std::to_string(n)));
    // The ack of a last message says everything was read (and taken by the pipeline) before SIGTERM.
    ForwardOptions ack;
    ack.chunk = "last";
    wire += buildMessage(kTag, dockerEvent(30, "last"), TimeFormat::EventTimeFixExt8, ack);
    REQUIRE(c->sendWithAck(wire, "last", kTimeout));
    REQUIRE(fl.proc().sendSignal(SIGTERM));
    REQUIRE(fl.proc().waitExit(kTimeout) == std::optional<int>(0));
    out[i] = fl.proc().readStdoutToEof(kTimeout);
    err[i] = fl.proc().stderrText();
  }
  INFO("stderr of the ecs run:\n" << err[1]);
  CHECK(out[0].size() > 30 * 200);
  CHECK(out[0].find("ecs_task_definition") != std::string::npos);
  CHECK(out[1] == out[0]);
}

TEST_CASE("ecs e2e: off ECS one warning and records pass unchanged", "[e2e][ecs]") {
  Firelane fl;
  SpawnOptions spawn;
  spawn.env = {"ECS_CONTAINER_METADATA_URI_V4="};
  fl.start(fireLensConfig(fl, "[FILTER]\n    Name ecs\n    Match *\n"), spawn);
  auto c = fl.connect();
  REQUIRE(c->send(buildMessage(kTag, dockerEvent(1, "hello")), kTimeout));
  auto lines = fl.lines(1);
  CHECK(lines[0].find("\"log\":\"hello\"}") != std::string::npos);
  CHECK(lines[0].find("ecs_cluster") == std::string::npos);
  std::string err = fl.proc().stderrText();
  size_t first = err.find("ECS_CONTAINER_METADATA_URI_V4 is not set");
  REQUIRE(first != std::string::npos);
  CHECK(err.find("ECS_CONTAINER_METADATA_URI_V4 is not set", first + 1) == std::string::npos);
}
}  // namespace firelane::e2e
