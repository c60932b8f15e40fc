// End to end: output names FireLens task definitions use: Fluent Bit outputs firelane does not
// implement stop start-up with a clear message, and the Go plugin name `cloudwatch` runs as
// cloudwatch_logs with its options translated (templates with default_* fallbacks).
#include <catch2/catch.hpp>

#include "e2e/e2e_util.h"
#include "support/fake_cloudwatch.h"

namespace firelane::e2e {
namespace {

struct Outcome {
  std::optional<int> code;
  std::string err;
};

Outcome runToExit(const std::vector<std::string>& args) {
  auto proc = Process::spawn(firelaneBin(), args);
  proc->closeStdin();
  Outcome o;
  o.code = proc->waitExit(kTimeout);
  proc->waitOutputClosed(kTimeout);
  o.err = proc->stderrText();
  return o;
}

std::string withOutput(const std::string& output) {
  return "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
         "[OUTPUT]\n" + output;
}

Event cwEvent(uint32_t secs, uint32_t i, const std::string& log, bool withEcs) {
  Event e;
  e.seconds = secs;
  e.nanos = i * 1000;
  e.record = {{"container_name", "/app"}, {"source", "stdout"}, {"log", log}};
  if (withEcs) {
    e.record.push_back({"ecs_cluster", "prod"});
    e.record.push_back({"ecs_task_arn", "arn:aws:ecs:us-east-1:123456789012:task/prod/aaaa1111"});
  }
  return e;
}

}  // namespace

TEST_CASE("output names: unimplemented Fluent Bit outputs stop start-up with the supported list",
          "[e2e][output_names]") {
  TempDir dir;
  for (std::string name : {"kinesis_firehose", "kinesis_streams", "firehose", "kinesis", "s3", "es", "opensearch",
                           "splunk", "loki"}) {
    std::string conf = dir.writeFile("x.conf", withOutput("    Name " + name + "\n    Match *\n    region us-east-1\n"));
    auto o = runToExit({"--dry-run", "-c", conf});
    INFO(o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 1);
    CHECK(o.err.find("x.conf:6: output plugin '" + name + "' is not supported by firelane; supported outputs: ") !=
          std::string::npos);
    CHECK(o.err.find("cloudwatch_logs") != std::string::npos);
    CHECK(o.err.find("datadog") != std::string::npos);
    CHECK(o.err.find("did you mean") == std::string::npos);
  }
  // http is implemented now: it is accepted, and named among the supported outputs.
  std::string http = dir.writeFile("http.conf", withOutput("    Name http\n    Match *\n    Format json\n"));
  auto ok = runToExit({"--dry-run", "-c", http});
  INFO(ok.err);
  CHECK(ok.code == std::optional<int>(0));
  std::string s3 = dir.writeFile("s3.conf", withOutput("    Name s3\n    Match *\n"));
  auto listed = runToExit({"--dry-run", "-c", s3});
  CHECK(listed.err.find(", http") != std::string::npos);
  // A misspelling of a real output still gets a suggestion.
  std::string conf = dir.writeFile("y.conf", withOutput("    Name datadgo\n    Match *\n"));
  auto o = runToExit({"--dry-run", "-c", conf});
  CHECK(o.code == std::optional<int>(1));
  CHECK(o.err.find("y.conf:6: unknown output plugin 'datadgo' (did you mean 'datadog'?)") != std::string::npos);
}

TEST_CASE("output names: Go cloudwatch options that firelane lacks are config errors", "[e2e][output_names]") {
  TempDir dir;
  std::string conf = dir.writeFile(
      "g.conf", withOutput("    Name cloudwatch\n    Match *\n    region us-east-1\n    log_group_name g\n"
                           "    log_stream_prefix p-\n    metric_namespace ns\n"));
  auto o = runToExit({"--dry-run", "-c", conf});
  INFO(o.err);
  CHECK(o.code == std::optional<int>(1));
  CHECK(o.err.find("g.conf:11: option 'metric_namespace' of the Go cloudwatch plugin is not supported") !=
        std::string::npos);
  // Translated keys are validated by cloudwatch_logs' rules, naming the Go key's line.
  conf = dir.writeFile("h.conf", withOutput("    Name cloudwatch\n    Match *\n    region us-east-1\n"
                                            "    log_group_name g\n    log_stream_prefix p-\n"
                                            "    log_retention_days 8\n"));
  o = runToExit({"--dry-run", "-c", conf});
  CHECK(o.code == std::optional<int>(1));
  CHECK(o.err.find("h.conf:11: invalid value for 'log_retention_days'") != std::string::npos);
  conf = dir.writeFile("i.conf", withOutput("    Name cloudwatch\n    Match *\n    region us-east-1\n"
                                            "    log_group_name g\n    log_stream_prefix p-\n"
                                            "    auto_create_stream true\n"));
  o = runToExit({"--dry-run", "-c", conf});
  CHECK(o.code == std::optional<int>(0));
}

TEST_CASE("output names: Go cloudwatch templates with default_ fallbacks deliver to the fake service",
          "[e2e][output_names][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDE2E", {"e2e-secret", "", SysClock::time_point::max()});
  FakeCloudWatch cw(keys);
  cw.start();
  Firelane fl;
  SpawnOptions spawn;
  spawn.env = {"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_EC2_METADATA_DISABLED=true"};
  fl.start("[SERVICE]\n    Flush 0.05\n    Grace 5\n"
           "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
           "[OUTPUT]\n    Name cloudwatch\n    Match app-*\n    region us-east-1\n    endpoint " + cw.url() + "\n"
           "    log_group_name /ecs/$(ecs_cluster)\n    default_log_group_name fallback-group\n"
           "    log_stream_name $(tag)/$(ecs_task_id)\n    default_log_stream_name fallback-stream\n"
           "    auto_create_group true\n    log_key log\n"
           "[OUTPUT]\n    Name cloudwatch\n    Match web-*\n    region us-east-1\n    endpoint " + cw.url() + "\n"
           "    log_group_name plain-group\n    default_log_group_name unused\n    log_stream_prefix from-\n"
           "    auto_create_group true\n    log_key log\n",
           spawn);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  uint32_t secs = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  std::vector<Event> app, web;
  for (uint32_t i = 0; i < 10; ++i) app.push_back(cwEvent(secs, i, "with-" + std::to_string(i), true));
  for (uint32_t i = 0; i < 5; ++i) app.push_back(cwEvent(secs, 10 + i, "without-" + std::to_string(i), false));
  for (uint32_t i = 0; i < 4; ++i) web.push_back(cwEvent(secs, i, "web-" + std::to_string(i), true));
  auto client = fl.connect();
  REQUIRE(client->send(buildForward("app-firelens-aaaa1111", app)));
  REQUIRE(client->send(buildForward("web-firelens-bbbb2222", web)));
  INFO(fl.proc().stderrText());
  REQUIRE(cw.waitForEvents(19, kTimeout));
  CHECK(cw.events("/ecs/prod", "app-firelens-aaaa1111/aaaa1111").size() == 10);
  auto fallback = cw.events("fallback-group", "fallback-stream");
  REQUIRE(fallback.size() == 5);
  CHECK(fallback[0].message == "without-0");
  CHECK(cw.events("plain-group", "from-web-firelens-bbbb2222").size() == 4);
  CHECK(cw.violations().empty());
}

}  // namespace firelane::e2e
