// FireLens conformance, end to end: the config the ECS agent writes for a task with two app containers
// (one logging to Datadog, one to CloudWatch Logs), run unchanged by the real binary against fake
// Datadog, CloudWatch Logs, ECS credentials and task metadata endpoints, and fed exactly what Docker's
// fluentd log driver sends (REFERENCE.md section 2). With storage.path, a Datadog outage fills the
// spool, and a kill -9 of the router with a restart on the same storage.path loses nothing it had read.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "e2e/e2e_util.h"
#include "support/docker_log_driver.h"
#include "support/fake_cloudwatch.h"
#include "support/fake_http_server.h"
#include "support/fake_intake.h"

namespace firelane::e2e {
namespace {

using nlohmann::json;

const std::string kTaskId = "5f3c0a1e9b7d4c2a8e6f1d0b3a9c7e5f";
const std::string kClusterArn = "arn:aws:ecs:us-east-1:111122223333:cluster/prod";
const std::string kTaskArn = "arn:aws:ecs:us-east-1:111122223333:task/prod/" + kTaskId;
const std::string kInstanceId = "i-0a1b2c3d4e5f67890";
const std::string kApiKey = "dd-firelens-0123456789-s3cr3t";
const std::string kAuthToken = "ecs-agent-auth-token-7f3e";
const DockerContainer kWeb{"0b9d2c51a1e84f4c8d6e3a7f5b2c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7a8", "/web"};
const DockerContainer kWorker{"7c1e4f3a2b5d6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f", "/worker"};
// Docker's tag under FireLens: <container name>-firelens-<task id>.
const std::string kWebTag = "web-firelens-" + kTaskId;
const std::string kWorkerTag = "worker-firelens-" + kTaskId;
const std::string kLogGroup = "/ecs/worker";
const std::string kLogStream = "worker-" + kWorkerTag;  // log_stream_prefix + tag

std::string taskMetadataJson() {
  return json{{"Cluster", kClusterArn},
              {"TaskARN", kTaskArn},
              {"Family", "web-app"},
              {"Revision", "12"},
              {"AvailabilityZone", "us-east-1b"},
              {"LaunchType", "EC2"},
              {"Containers",
               json::array({json{{"DockerId", kWeb.id}, {"Name", "web"}, {"Image", "nginx:1.25"}},
                            json{{"DockerId", kWorker.id}, {"Name", "worker"}, {"Image", "worker:3"}}})}}
      .dump();
}

FakeIntakeOptions intakeOptions() {
  FakeIntakeOptions o;
  o.apiKey = kApiKey;
  return o;
}

FakeCredentialOptions credentialOptions() {
  FakeCredentialOptions o;
  o.ecsAuthorization = kAuthToken;
  return o;
}

// The whole task on 127.0.0.1: the fakes, the log router, and the two Docker connections.
struct FireLensTask {
  std::shared_ptr<FakeKeyring> keys = std::make_shared<FakeKeyring>();
  FakeCredentialEndpoint credentials{keys, credentialOptions()};
  FakeCloudWatch cloudwatch{keys};
  FakeIntake datadog{intakeOptions()};
  FakeHttpServer metadata{{{"/v4/" + kTaskId + "/task", ScriptedReply{200, taskMetadataJson()}}}};
  // The task's volume: the socket, the user's config file and storage.path, kept across restarts of
  // the router (as /var/run/fluent.sock and the storage volume are).
  TempDir dir{"firelane-firelens"};
  std::unique_ptr<Firelane> router;
  uint16_t monitor = 0;
  std::unique_ptr<ForwardClient> web;     // Docker's driver for the web container (unix socket)
  std::unique_ptr<ForwardClient> worker;  // and for the worker container (TCP, as in bridge mode)

  FireLensTask() {
    credentials.start();
    cloudwatch.start();
    datadog.start();
  }

  // What the ECS agent writes to /fluent-bit/etc/fluent-bit.conf (no [SERVICE]; inputs, grep filters
  // from the containers' include/exclude-pattern, the record_modifier, @INCLUDE of the custom file,
  // then one output per container with logConfiguration.options copied verbatim), with the socket in
  // the temp dir and the ports bound as 0. `filesystem` adds storage.type filesystem to the inputs and
  // storage.path to the custom file's [SERVICE].
  std::string generatedConfig(bool filesystem, const std::string& datadogRetryLimit) {
    std::string storage = filesystem ? "    storage.type filesystem\n" : "";
    // The user's file (config-file-type file): the monitoring server and Grace 30 as the AWS guidance
    // has them, a short retry backoff (test speed), the ecs filter for a task-metadata field, and the
    // multiline filter that joins Docker's partial pieces, for the worker only (FireLens generates none).
    std::string custom = dir.writeFile(
        "extra.conf",
        "[SERVICE]\n"
        "    Grace 30\n"
        "    HTTP_Server On\n"
        "    HTTP_Listen 127.0.0.1\n"
        "    HTTP_Port 0\n"
        "    scheduler.base 0.05\n"
        "    scheduler.cap 0.3\n" +
            (filesystem ? "    storage.path " + dir.file("flb-storage") + "/\n" : std::string()) +
            "\n[FILTER]\n"
            "    Name ecs\n"
            "    Match worker-firelens*\n"
            "    FireLens_Fields off\n"
            "    Add availability_zone $AvailabilityZone\n"
            "\n[FILTER]\n"
            "    Name multiline\n"
            "    Match worker-firelens*\n"
            "    multiline.key_content log\n"
            "    mode partial_message\n");
    return "[INPUT]\n"
           "    Name forward\n"
           "    unix_path " + dir.file("fluent.sock") + "\n"
           "    Mem_Buf_Limit 25MB\n" + storage +
           "\n[INPUT]\n"
           "    Name forward\n"
           "    Listen 127.0.0.1\n"
           "    Port 0\n" + storage +
           "\n[INPUT]\n"
           "    Name tcp\n"
           "    Tag firelens-healthcheck\n"
           "    Listen 127.0.0.1\n"
           "    Port 0\n"
           "\n[FILTER]\n"
           "    Name grep\n"
           "    Match web-firelens*\n"
           "    Regex log \\S\n"
           "\n[FILTER]\n"
           "    Name grep\n"
           "    Match web-firelens*\n"
           "    Exclude log ^DEBUG\n"
           "\n[FILTER]\n"
           "    Name grep\n"
           "    Match worker-firelens*\n"
           "    Exclude log ^GET /healthz\n"
           "\n[FILTER]\n"
           "    Name record_modifier\n"
           "    Match *\n"
           "    Record ec2_instance_id " + kInstanceId + "\n"
           "    Record ecs_cluster prod\n"
           "    Record ecs_task_arn " + kTaskArn + "\n"
           "    Record ecs_task_definition web-app:12\n"
           "\n@INCLUDE " + custom + "\n"
           "\n[OUTPUT]\n"
           "    Name null\n"
           "    Match firelens-healthcheck\n"
           "\n[OUTPUT]\n"
           "    Name datadog\n"
           "    Match web-firelens*\n"
           "    Host 127.0.0.1\n"
           "    Port " + std::to_string(datadog.port()) + "\n"
           "    TLS off\n"
           "    apikey ${apikey_0}\n"
           "    dd_service web\n"
           "    dd_source nginx\n"
           "    dd_tags env:prod,team:edge\n"
           "    provider ecs\n" +
           (datadogRetryLimit.empty() ? "" : "    Retry_Limit " + datadogRetryLimit + "\n") +
           "\n[OUTPUT]\n"
           "    Name cloudwatch_logs\n"
           "    Match worker-firelens*\n"
           "    region us-east-1\n"
           "    endpoint " + cloudwatch.url() + "\n"
           "    log_group_name " + kLogGroup + "\n"
           "    log_stream_prefix worker-\n"
           "    auto_create_group true\n";
  }

  // Starts the router (again: a restart after a crash finds the same socket path and storage.path)
  // and connects both containers' drivers.
  void start(bool filesystem = false, const std::string& datadogRetryLimit = "") {
    SpawnOptions spawn;
    spawn.env = {"apikey_0=" + kApiKey,  // secretOptions arrive as <name>_<container index>
                 "ECS_CONTAINER_METADATA_URI_V4=" + metadata.baseUrl() + "/v4/" + kTaskId,
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI=" + credentials.url() + "/v2/credentials/task-role",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN=" + kAuthToken,
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=",
                 "AWS_ACCESS_KEY_ID=",
                 "AWS_SECRET_ACCESS_KEY=",
                 "AWS_EC2_METADATA_DISABLED=true"};
    router = std::make_unique<Firelane>();
    router->start(generatedConfig(filesystem, datadogRetryLimit), spawn);
    monitor = monitorPort(router->proc());
    web = router->connectUnix();
    worker = router->connect(forwardTcpIndex());
  }

  // Index of the forward TCP listener among the tcp listeners (the health-check input is the other).
  size_t forwardTcpIndex() const {
    size_t tcp = 0;
    for (const auto& l : router->listeners()) {
      if (l.isUnix()) continue;
      if (l.instance.rfind("forward", 0) == 0) return tcp;
      ++tcp;
    }
    FAIL("no forward tcp listener announced");
    return 0;
  }
  uint16_t healthCheckPort() const {
    for (const auto& l : router->listeners())
      if (!l.isUnix() && l.instance.rfind("tcp", 0) == 0) return l.port;
    FAIL("no tcp (health check) listener announced");
    return 0;
  }

  // Polls `path` (/api/v1/metrics, /api/v1/storage) until `pred` holds (REQUIREd) and returns that
  // document.
  json waitForMetrics(const std::function<bool(const json&)>& pred, const std::string& path = "/api/v1/metrics") {
    auto holds = [&](const HttpResponse& r) {
      json m = json::parse(r.body, nullptr, false);
      return r.status == 200 && m.is_object() && pred(m);
    };
    auto r = pollHttp(monitor, path, holds);
    INFO((r ? r->body : std::string("no answer")) << "\nrouter stderr:\n" << router->proc().stderrText());
    REQUIRE(r.has_value());
    REQUIRE(holds(*r));
    return json::parse(r->body);
  }
};

// What must come out: one key per event a destination must hold, compared as multisets.
struct Expected {
  std::vector<std::string> datadog;     // web: every Docker event (pieces apart) the grep filters keep
  std::vector<std::string> cloudwatch;  // worker: every line (pieces joined) the grep filter keeps
};

std::string datadogKey(const std::string& source, int64_t ms, const std::string& message, const std::string& partialId,
                       const std::string& ordinal, const std::string& last) {
  return source + "|" + std::to_string(ms) + "|" + partialId + "|" + ordinal + "|" + last + "|" + message;
}
std::string cloudwatchKey(const std::string& source, int64_t ms, const std::string& log) {
  return source + "|" + std::to_string(ms) + "|" + log;
}

// The lines an app writes in one phase of the run: ordinary lines with quotes, tabs and UTF-8, lines
// the grep filters drop, blank lines, and lines of 16 KiB and more that Docker splits.
std::vector<std::pair<std::string, std::string>> appLines(const std::string& who, int phase, size_t n) {
  std::vector<std::pair<std::string, std::string>> out;  // (source, line)
  for (size_t i = 0; i < n; ++i) {
    std::string id = who + " p" + std::to_string(phase) + " #" + std::to_string(i);
    std::string line;
    switch (i % 20) {
      case 3: line = "DEBUG " + id + " cache miss"; break;
      case 5: line = "GET /healthz 200 " + id; break;
      case 7: line = ""; break;
      case 9: line = " \t "; break;
      case 11: line = id + " big " + std::string(40000 - id.size() - 5, 'x'); break;  // 3 pieces
      case 13: line = id + std::string(kDockerLineBuffer - id.size(), 'y'); break;   // a full buffer, then ""
      case 17: line = id + std::string(2 * kDockerLineBuffer - id.size(), 'z'); break;
      default: line = id + " GET /api/items \"ok\" \xc3\xa9\ttab"; break;
    }
    out.emplace_back(i % 4 == 1 ? "stderr" : "stdout", std::move(line));
  }
  return out;
}

// A counter of the /api/v1/metrics document, e.g. metric(m, "output", "null.0", "proc_records"); -1
// when absent.
int64_t metric(const json& m, const std::string& stage, const std::string& name, const std::string& counter) {
  return m.value(json::json_pointer("/" + stage + "/" + name + "/" + counter), int64_t{-1});
}

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool hasNonSpace(const std::string& s) { return s.find_first_not_of(" \t\r\n\f") != std::string::npos; }

// Writes one phase of both containers' output the way Docker's driver does (one Message per write,
// the two containers' connections interleaved) and adds what must come out to `want`. Returns the
// number of messages written.
size_t sendPhase(FireLensTask& task, int phase, size_t n, Expected& want) {
  static std::mt19937 keyOrder(20261205);  // Go's map iteration order, reproducibly random
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto nowNs = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  std::vector<std::string> wire[2];  // per container, in the order Docker writes them
  for (int c = 0; c < 2; ++c) {
    const auto lines = appLines(c == 0 ? "web" : "worker", phase, n);
    std::vector<std::vector<Event>> perLine;
    for (size_t i = 0; i < n; ++i) {
      const auto& [source, line] = lines[i];
      int64_t ns = nowNs + static_cast<int64_t>(i) * 1'000'137;
      char partialId[80];  // 64 hex digits, as Docker's partial_id
      snprintf(partialId, sizeof partialId, "%063zx%d", i * 10 + static_cast<size_t>(phase), c & 1);
      auto sec = static_cast<uint32_t>(ns / 1'000'000'000);
      auto nsec = static_cast<uint32_t>(ns % 1'000'000'000);
      perLine.push_back(dockerLineEvents(c == 0 ? kWeb : kWorker, source, line, sec, nsec, partialId, &keyOrder));
      if (c == 0) {
        // No multiline filter for web (FireLens generates none): each piece is an event of its own,
        // and each piece meets the grep filters alone, as in Fluent Bit.
        int64_t ms = (ns + 500'000) / 1'000'000;  // Datadog rounds to the nearest millisecond
        for (const auto& e : perLine.back()) {
          std::string log = recordValue(e.record, "log");
          if (!hasNonSpace(log) || startsWith(log, "DEBUG")) continue;
          want.datadog.push_back(datadogKey(source, ms, log, recordValue(e.record, "partial_id"),
                                            recordValue(e.record, "partial_ordinal"),
                                            recordValue(e.record, "partial_last")));
        }
      } else if (!startsWith(line, "GET /healthz")) {
        want.cloudwatch.push_back(cloudwatchKey(source, ns / 1'000'000, line));  // CloudWatch truncates
      }
    }
    const std::string& tag = c == 0 ? kWebTag : kWorkerTag;
    for (size_t i = 0; i < n; ++i) {
      if (i % 20 == 11 && i + 2 < n) {
        // Docker copies stdout and stderr in two goroutines: the pieces of line 11 (stdout) and of
        // line 13 (stderr) interleave; line 12 (stdout) follows the end of line 11.
        const auto& a = perLine[i];
        const auto& b = perLine[i + 2];
        for (size_t k = 0; k < std::max(a.size(), b.size()); ++k) {
          if (k < a.size()) wire[c].push_back(dockerMessage(tag, a[k]));
          if (k < b.size()) wire[c].push_back(dockerMessage(tag, b[k]));
        }
        for (const auto& e : perLine[i + 1]) wire[c].push_back(dockerMessage(tag, e));
        i += 2;
        continue;
      }
      for (const auto& e : perLine[i]) wire[c].push_back(dockerMessage(tag, e));
    }
  }
  for (size_t k = 0; k < std::max(wire[0].size(), wire[1].size()); ++k) {
    if (k < wire[0].size()) REQUIRE(task.web->send(wire[0][k], kTimeout));
    if (k < wire[1].size()) REQUIRE(task.worker->send(wire[1][k], kTimeout));
  }
  return wire[0].size() + wire[1].size();
}

std::multiset<std::string> splitTags(const std::string& ddtags) {
  std::multiset<std::string> out;
  size_t pos = 0;
  while (pos <= ddtags.size()) {
    size_t comma = std::min(ddtags.find(',', pos), ddtags.size());
    out.insert(ddtags.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The Datadog events as keys, CHECKing every event to carry exactly the fields Fluent Bit's datadog
// output with provider ecs makes of a FireLens record.
std::vector<std::string> datadogKeys(const FakeIntake& intake) {
  // provider ecs turns the ECS and container fields into tags in the order the record holds them
  // (Docker's is random), then appends dd_tags.
  const std::multiset<std::string> tags = {"container_id:" + kWeb.id, "container_name:web", "cluster_name:prod",
                                           "task_arn:" + kTaskArn, "region:us-east-1", "task_id:prod/" + kTaskId,
                                           "task_family:web-app", "task_version:12", "env:prod", "team:edge"};
  std::vector<std::string> keys;
  for (const json& e : intake.events()) {
    INFO(e.dump().substr(0, 600));
    CHECK(e.value("ddsource", "") == "nginx");
    CHECK(e.value("service", "") == "web");
    std::string ddtags = e.value("ddtags", "");
    CHECK(splitTags(ddtags) == tags);
    CHECK_THAT(ddtags, Catch::EndsWith(",env:prod,team:edge"));
    CHECK(e.value("ec2_instance_id", "") == kInstanceId);
    for (const char* moved : {"container_id", "container_name", "ecs_cluster", "ecs_task_arn", "ecs_task_definition",
                              "log", "availability_zone", "hostname"})
      CHECK_FALSE(e.contains(moved));
    bool partial = e.contains("partial_message");
    CHECK(e.size() == (partial ? 11u : 7u));  // timestamp ddsource service source message ec2_instance_id ddtags
    if (partial) CHECK(e.value("partial_message", "") == "true");
    keys.push_back(datadogKey(e.value("source", ""), e.value("timestamp", int64_t{0}), e.value("message", ""),
                              e.value("partial_id", ""), e.value("partial_ordinal", ""), e.value("partial_last", "")));
  }
  return keys;
}

// The CloudWatch events as keys, CHECKing each to sit in the configured group and stream and to hold
// the whole record as JSON: the Docker fields, the ECS keys, the task metadata field, and no partial_*
// keys (the pieces were joined).
std::vector<std::string> cloudwatchKeys(const FakeCloudWatch& cw) {
  std::vector<std::string> keys;
  for (const auto& [stream, events] : cw.allEvents()) {
    CHECK(stream == kLogGroup + "/" + kLogStream);
    for (const auto& e : events) {
      INFO(e.message.substr(0, 600));
      json r = json::parse(e.message);
      CHECK(r.value("container_id", "") == kWorker.id);
      CHECK(r.value("container_name", "") == "/worker");
      CHECK(r.value("ecs_cluster", "") == "prod");
      CHECK(r.value("ecs_task_arn", "") == kTaskArn);
      CHECK(r.value("ecs_task_definition", "") == "web-app:12");
      CHECK(r.value("ec2_instance_id", "") == kInstanceId);
      CHECK(r.value("availability_zone", "") == "us-east-1b");
      CHECK(r.size() == 9u);  // 4 from Docker, 4 from record_modifier, 1 from ecs: no partial_* left
      keys.push_back(cloudwatchKey(r.value("source", ""), e.timestamp, r.value("log", "")));
    }
  }
  return keys;
}

// Every expected event arrived exactly once, in the right destination, and nothing else did.
void checkDelivered(FireLensTask& task, const Expected& want) {
  auto gotDatadog = sorted(datadogKeys(task.datadog));
  auto wantDatadog = sorted(want.datadog);
  CHECK(gotDatadog.size() == wantDatadog.size());
  CHECK(gotDatadog == wantDatadog);
  auto gotCloudWatch = sorted(cloudwatchKeys(task.cloudwatch));
  auto wantCloudWatch = sorted(want.cloudwatch);
  CHECK(gotCloudWatch.size() == wantCloudWatch.size());
  CHECK(gotCloudWatch == wantCloudWatch);
  CHECK(task.datadog.violations().empty());
  CHECK(task.cloudwatch.violations().empty());
}

void waitDelivered(FireLensTask& task, const Expected& want) {
  INFO("router stderr:\n" << task.router->proc().stderrText());
  REQUIRE(task.datadog.waitForEvents(want.datadog.size(), kTimeout));
  REQUIRE(task.cloudwatch.waitForEvents(want.cloudwatch.size(), kTimeout));
}

// SIGTERM while the containers' last lines are still buffered; the containers stop right after (their
// drivers close the connections). REQUIREs a clean exit within the grace period and returns stderr.
std::string stopTask(FireLensTask& task) {
  REQUIRE(task.router->proc().sendSignal(SIGTERM));
  task.web.reset();
  task.worker.reset();
  auto code = task.router->proc().waitExit(kTimeout);
  REQUIRE(task.router->proc().waitOutputClosed(kTimeout));
  std::string err = task.router->proc().stderrText();
  INFO(err);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(err.find("draining (grace 30.0s)") != std::string::npos);  // the custom file's [SERVICE] applies
  CHECK(err.find("grace period expired") == std::string::npos);
  // Secrets never reach the logs.
  CHECK(err.find(kApiKey) == std::string::npos);
  CHECK(err.find(kAuthToken) == std::string::npos);
  CHECK(err.find("secret-ECS-") == std::string::npos);
  return err;
}

// Records read by the forward inputs (the unix socket and TCP), from /api/v1/metrics.
int64_t forwardRecords(const json& m) {
  int64_t n = 0;
  if (!m.contains("input") || !m["input"].is_object()) return -1;
  for (const auto& [name, counters] : m["input"].items())
    if (startsWith(name, "forward")) n += counters.value("records", int64_t{0});
  return n;
}

// An integer of a monitoring document by JSON pointer; -1 when absent.
int64_t numberAt(const json& doc, const std::string& pointer) {
  json::json_pointer p(pointer);
  return doc.contains(p) && doc[p].is_number_integer() ? doc[p].get<int64_t>() : -1;
}

// Waits until the router has read all `sent` messages since it started and holds them: the web lines
// in Datadog's part of the spool (Datadog is down), the worker's delivered to CloudWatch with its
// cursor saved (cloudwatch_logs.0 holds no spooled batch). An input counts a batch in the same loop
// turn that stores it, just before: the spool's figures must also read the same twice in a row, after
// the counters matched. Returns /api/v1/storage.
json waitSpooled(FireLensTask& task, size_t sent) {
  json last;
  task.waitForMetrics([&](const json& m) { return forwardRecords(m) == static_cast<int64_t>(sent); });
  return task.waitForMetrics(
      [&](const json& st) {
        json figures = {st.value("storage_layer", json()), st.value("output_queues", json())};
        bool stable = figures == last;
        last = figures;
        return stable && numberAt(st, "/output_queues/datadog.0/spool_batches") > 0 &&
               numberAt(st, "/output_queues/cloudwatch_logs.0/spool_batches") == 0;
      },
      "/api/v1/storage");
}

}  // namespace

TEST_CASE("firelens conformance: the generated config routes two containers to Datadog and CloudWatch",
          "[e2e][firelens]") {
  FireLensTask task;
  task.start();
  Expected want;

  // The health checks ECS and the AWS guidance use: /api/v1/uptime on the monitoring port, and a
  // connection to the tcp input, whose records go to null.
  auto uptime = httpGet(task.monitor, "/api/v1/uptime");
  REQUIRE(uptime.has_value());
  CHECK(uptime->status == 200);
  CHECK(json::parse(uptime->body).contains("uptime_sec"));
  {
    std::string error;
    auto probe = ForwardClient::connectTcp("127.0.0.1", task.healthCheckPort(), kTimeout, &error);
    INFO(error);
    REQUIRE(probe != nullptr);
    REQUIRE(probe->send("{\"health\":\"check\"}\n", kTimeout));
  }
  json m = task.waitForMetrics([](const json& m) { return metric(m, "output", "null.0", "proc_records") == 1; });
  CHECK(metric(m, "input", "tcp.0", "records") == 1);

  sendPhase(task, 1, 40, want);
  waitDelivered(task, want);
  checkDelivered(task, want);
  CHECK(task.credentials.count("ecs") >= 1);
  CHECK(task.credentials.count("denied") == 0);
  for (const auto& k : task.cloudwatch.signingKeys()) CHECK(startsWith(k, "ASIAECS"));
  CHECK(task.metadata.requestCount() >= 1);

  // Grace 30: what the containers wrote before the SIGTERM is delivered, through a failed request
  // retried during the drain, and the router exits as soon as it is done.
  task.datadog.failNext(1, Fault::withStatus(503));
  sendPhase(task, 2, 60, want);
  auto stopped = std::chrono::steady_clock::now();
  stopTask(task);
  CHECK(std::chrono::steady_clock::now() - stopped < kTimeout);
  checkDelivered(task, want);
  CHECK(task.datadog.stats().status(503) == 1);
}

TEST_CASE("firelens conformance: with storage.path nothing is lost while Datadog is down", "[e2e][firelens]") {
  FireLensTask task;
  task.start(true, "no_limits");
  Expected want;
  size_t sent = sendPhase(task, 1, 20, want);
  waitDelivered(task, want);
  json st = task.waitForMetrics([](const json&) { return true; }, "/api/v1/storage");
  CHECK(st["storage_layer"].value("type", "") == "filesystem");

  // Datadog refuses connections: the web lines wait in the spool while the worker's keep flowing to
  // CloudWatch, and the spool grows with each phase.
  task.datadog.stopListening();
  sent += sendPhase(task, 2, 40, want);
  INFO("router stderr:\n" << task.router->proc().stderrText());
  REQUIRE(task.cloudwatch.waitForEvents(want.cloudwatch.size(), kTimeout));
  task.waitForMetrics([](const json& m) { return metric(m, "output", "datadog.0", "retries") >= 3; });
  json spooled = waitSpooled(task, sent);
  INFO(spooled.dump());
  CHECK(spooled["storage_layer"].value("type", "") == "filesystem");
  sent += sendPhase(task, 3, 20, want);
  REQUIRE(task.cloudwatch.waitForEvents(want.cloudwatch.size(), kTimeout));
  json grown = waitSpooled(task, sent);
  INFO(grown.dump());
  const int64_t batches = numberAt(grown, "/output_queues/datadog.0/spool_batches");
  CHECK(batches > numberAt(spooled, "/output_queues/datadog.0/spool_batches"));
  CHECK(numberAt(grown, "/output_queues/datadog.0/spool_bytes") >
        numberAt(spooled, "/output_queues/datadog.0/spool_bytes"));
  CHECK(numberAt(grown, "/storage_layer/spool/bytes_on_disk") >
        numberAt(spooled, "/storage_layer/spool/bytes_on_disk"));

  // kill -9 during the outage. Docker's driver gets no acks, so what counts is what the router had
  // read (waitSpooled: every message written, all of it stored): all of it must reach Datadog after a
  // restart on the same storage.path, exactly once, and CloudWatch gets nothing twice.
  REQUIRE(task.router->proc().sendSignal(SIGKILL));
  auto code = task.router->proc().waitExit(kTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 128 + SIGKILL);
  task.web.reset();
  task.worker.reset();
  task.start(true, "no_limits");
  json recovered = task.waitForMetrics([](const json&) { return true; }, "/api/v1/storage");
  INFO(recovered.dump() << "\nrouter stderr:\n" << task.router->proc().stderrText());
  CHECK(recovered["storage_layer"].value("type", "") == "filesystem");
  CHECK(numberAt(recovered, "/output_queues/datadog.0/spool_batches") == batches);
  CHECK(numberAt(recovered, "/output_queues/cloudwatch_logs.0/spool_batches") == 0);
  CHECK(numberAt(recovered, "/storage_layer/spool/recovered_batches") >= batches);
  CHECK(numberAt(recovered, "/storage_layer/spool/corrupt_batches") == 0);
  CHECK(task.router->proc().stderrText().find("replaying") != std::string::npos);

  // Back, but answering 503 for a while.
  task.datadog.failNext(4, Fault::withStatus(503));
  task.datadog.resumeListening();
  sendPhase(task, 4, 20, want);
  waitDelivered(task, want);
  CHECK(task.datadog.stats().status(503) == 4);
  task.waitForMetrics(
      [](const json& st) { return numberAt(st, "/output_queues/datadog.0/spool_batches") == 0; }, "/api/v1/storage");

  stopTask(task);
  checkDelivered(task, want);
}

}  // namespace firelane::e2e
