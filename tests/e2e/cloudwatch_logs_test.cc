// End to end: the firelane binary sends FireLens-shaped records to the fake CloudWatch Logs service,
// which checks every request's SigV4 signature and every PutLogEvents rule. Credentials come from
// the environment or the fake ECS endpoint (rotating keys).
#include <catch2/catch.hpp>

#include <set>

#include "e2e/e2e_util.h"
#include "support/fake_cloudwatch.h"

namespace firelane::e2e {
namespace {

constexpr const char* kTaskArnA = "arn:aws:ecs:us-east-1:123456789012:task/prod/aaaa1111";
constexpr const char* kTaskArnB = "arn:aws:ecs:us-east-1:123456789012:task/staging/bbbb2222";

// Events stamped now (CloudWatch refuses events older than 14 days), FireLens-shaped.
std::vector<Event> fireLensEvents(const std::string& prefix, size_t n, const std::string& cluster,
                                  const std::string& taskArn) {
  std::vector<Event> out;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  uint32_t secs = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  for (size_t i = 0; i < n; ++i) {
    Event e;
    e.seconds = secs;
    e.nanos = static_cast<uint32_t>(i * 1000);
    e.record = {{"container_id", std::string(64, 'c')},
                {"container_name", "/app"},
                {"source", "stdout"},
                {"log", prefix + std::to_string(i)},
                {"ecs_cluster", cluster},
                {"ecs_task_arn", taskArn},
                {"ecs_task_definition", "app:7"}};
    out.push_back(std::move(e));
  }
  return out;
}

std::string config(const std::string& endpoint, const std::string& outputExtra) {
  return "[SERVICE]\n"
         "    Flush 0.05\n"
         "    Grace 5\n"
         "    Log_Level info\n"
         "    scheduler.base 0.05\n"
         "    scheduler.cap 0.3\n"
         "\n[INPUT]\n"
         "    Name forward\n"
         "    Listen 127.0.0.1\n"
         "    Port 0\n"
         "\n[OUTPUT]\n"
         "    Name cloudwatch_logs\n"
         "    Match *\n"
         "    region us-east-1\n"
         "    endpoint " + endpoint + "\n" + outputExtra;
}

SpawnOptions envKeys() {
  SpawnOptions s;
  s.env = {"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_EC2_METADATA_DISABLED=true"};
  return s;
}

void sendAll(Firelane& fl, const std::string& tag, const std::vector<Event>& events, size_t perFrame = 50) {
  auto client = fl.connect();
  for (size_t i = 0; i < events.size(); i += perFrame) {
    std::span<const Event> part(events.data() + i, std::min(perFrame, events.size() - i));
    REQUIRE(client->send(buildForward(tag, part)));
  }
}

// message -> how many times CloudWatch stored it, over every stream.
std::map<std::string, int> messageCounts(const FakeCloudWatch& cw) {
  std::map<std::string, int> counts;
  for (const auto& [stream, events] : cw.allEvents())
    for (const auto& e : events) counts[e.message]++;
  return counts;
}

}  // namespace

TEST_CASE("cloudwatch_logs e2e: FireLens records land in templated groups and streams", "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDE2E", {"e2e-secret", "", SysClock::time_point::max()});
  FakeCloudWatch cw(keys);
  cw.start();
  Firelane fl;
  fl.start(config(cw.url(),
                  "    log_group_name fallback\n"
                  "    log_group_template /ecs/$(ecs_cluster)\n"
                  "    log_stream_prefix from-\n"
                  "    log_stream_template $(tag)/$(ecs_task_id)\n"
                  "    log_key log\n"
                  "    log_format json/emf\n"
                  "    auto_create_group true\n"
                  "    log_retention_days 7\n"
                  "    Retry_Limit no_limits\n"),
           envKeys());
  sendAll(fl, "app-firelens-aaaa1111", fireLensEvents("a-", 300, "prod", kTaskArnA));
  sendAll(fl, "web-firelens-bbbb2222", fireLensEvents("b-", 200, "staging", kTaskArnB));
  INFO(fl.proc().stderrText());
  REQUIRE(cw.waitForEvents(500, kTimeout));
  auto a = cw.events("/ecs/prod", "app-firelens-aaaa1111/aaaa1111");
  auto b = cw.events("/ecs/staging", "web-firelens-bbbb2222/bbbb2222");
  REQUIRE(a.size() == 300);
  REQUIRE(b.size() == 200);
  std::set<std::string> got;
  for (const auto& e : a) got.insert(e.message);
  for (size_t i = 0; i < 300; ++i) CHECK(got.count("a-" + std::to_string(i)) == 1);
  // PutRetentionPolicy runs beside the first PutLogEvents, not before it.
  CHECK(cw.waitFor([&] { return cw.retention("/ecs/prod") == 7 && cw.retention("/ecs/staging") == 7; }, kTimeout));
  CHECK(cw.opCount("CreateLogGroup") == 2);
  CHECK(cw.opCount("CreateLogStream") >= 2);
  CHECK(cw.opCount("DescribeLogStreams") == 0);
  CHECK(cw.violations().empty());
  for (const auto& h : cw.putHeaders()) CHECK(h.at("x-amzn-logs-format") == "json/emf");
  CHECK(fl.proc().stderrText().find("e2e-secret") == std::string::npos);
}

TEST_CASE("cloudwatch_logs e2e: 30% throttling plus resets and 500s deliver every event exactly once",
          "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDE2E", {"e2e-secret", "", SysClock::time_point::max()});
  FakeCloudWatch cw(keys);
  cw.start();
  cw.failNext(3, CloudWatchFault{CloudWatchFault::Kind::Reset});
  cw.failNext(3, CloudWatchFault{CloudWatchFault::Kind::ServerError});
  cw.failNext(2, CloudWatchFault{CloudWatchFault::Kind::DropStream});  // the stream vanishes: created again
  cw.failFraction(0.3, CloudWatchFault::Kind::Throttle, 7);
  Firelane fl;
  fl.start(config(cw.url(),
                  "    log_group_name throttled\n"
                  "    log_stream_template $(ecs_task_id)\n"
                  "    log_stream_name fallback\n"
                  "    log_key log\n"
                  "    auto_create_group true\n"
                  "    workers 4\n"
                  "    Retry_Limit no_limits\n"),
           envKeys());
  // Two tasks interleaved: most chunks hold two streams, so a chunk often half-succeeds.
  auto a = fireLensEvents("a-", 1500, "prod", kTaskArnA);
  auto b = fireLensEvents("b-", 1500, "prod", kTaskArnB);
  auto client = fl.connect();
  for (size_t i = 0; i < 1500; i += 30) {
    size_t puts = cw.opCount("PutLogEvents");
    REQUIRE(client->send(buildForward("app", std::span<const Event>(a.data() + i, 30))));
    REQUIRE(client->send(buildForward("app", std::span<const Event>(b.data() + i, 30))));
    // Pace the sender so the run spreads over many chunks (and many PutLogEvents calls).
    cw.waitFor([&] { return cw.opCount("PutLogEvents") > puts; }, Millis(2000));
  }
  INFO(fl.proc().stderrText());
  REQUIRE(cw.waitForEvents(3000, Millis(30000)));
  auto counts = messageCounts(cw);
  CHECK(counts.size() == 3000);
  size_t dup = 0;
  for (const auto& [m, n] : counts) dup += n != 1;
  CHECK(dup == 0);
  CHECK(cw.events("throttled", "aaaa1111").size() == 1500);
  CHECK(cw.events("throttled", "bbbb2222").size() == 1500);
  CHECK(cw.opCount("PutLogEvents") >= 50);
  CHECK(cw.answered("ThrottlingException") >= 10);
  CHECK(cw.answered("<reset>") == 3);
  CHECK(cw.answered("ServiceUnavailableException") == 3);
  CHECK(cw.answered("ResourceNotFoundException") >= 2);
  CHECK(cw.violations().empty());
}

TEST_CASE("cloudwatch_logs e2e: ECS credentials rotate mid-run without a failed request", "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  FakeCredentialOptions co;
  co.lifetime = std::chrono::seconds(3);
  FakeCredentialEndpoint ecs(keys, co);
  ecs.start();
  FakeCloudWatch cw(keys);
  cw.start();
  cw.createStream("rotating", "stream");
  SpawnOptions spawn;
  spawn.env = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/task-role",
               "FIRELANE_ECS_CREDENTIALS_HOST=127.0.0.1:" + std::to_string(ecs.port()),
               "AWS_EC2_METADATA_DISABLED=true"};
  Firelane fl;
  fl.start(config(cw.url(), "    log_group_name rotating\n    log_stream_name stream\n    log_key log\n"), spawn);
  auto client = fl.connect();
  // Keep sending until three different keys signed accepted requests (each lives 3 s).
  size_t sent = 0;
  auto distinctKeys = [&] {
    auto k = cw.signingKeys();
    return std::set<std::string>(k.begin(), k.end()).size();
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (distinctKeys() < 3 && std::chrono::steady_clock::now() < deadline) {
    auto batch = fireLensEvents("r" + std::to_string(sent) + "-", 20, "prod", kTaskArnA);
    REQUIRE(client->send(buildForward("app", batch)));
    sent += 20;
    cw.waitFor([&] { return cw.eventCount() >= sent; }, Millis(2000));  // paces the sender
  }
  INFO(fl.proc().stderrText());
  CHECK(distinctKeys() >= 3);
  REQUIRE(cw.waitForEvents(sent, kTimeout));
  CHECK(cw.eventCount() == sent);
  CHECK(cw.answered("ExpiredTokenException") == 0);
  CHECK(cw.answered("UnrecognizedClientException") == 0);
  CHECK(cw.answered("InvalidSignatureException") == 0);
  CHECK(cw.violations().empty());
  CHECK(ecs.issued() >= 3);
}

TEST_CASE("cloudwatch_logs e2e: malformed or oversized events do not block the others", "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDE2E", {"e2e-secret", "", SysClock::time_point::max()});
  FakeCloudWatch cw(keys);
  cw.start();
  cw.createStream("mixed", "stream");
  Firelane fl;
  fl.start(config(cw.url(), "    log_group_name mixed\n    log_stream_name stream\n    log_key log\n"
                            "    Retry_Limit no_limits\n"),
           envKeys());
  auto good = fireLensEvents("ok-", 100, "prod", kTaskArnA);
  std::vector<Event> bad = fireLensEvents("x-", 4, "prod", kTaskArnA);
  bad[0].record[3].second = std::string(1'200'000, 'z');           // over 1 MB: truncated
  bad[1].record[3].second = std::string("bad \xff\xfe utf8");        // invalid UTF-8: replaced
  bad[2].seconds -= 20 * 24 * 3600;                                  // 20 days old: not sent
  bad[3].record.erase(bad[3].record.begin() + 3);                    // no log key: not sent
  auto client = fl.connect();
  REQUIRE(client->send(buildForward("app", std::span<const Event>(good.data(), 50))));
  REQUIRE(client->send(buildForward("app", bad)));
  // A stream deleted behind our back is created again on ResourceNotFoundException.
  REQUIRE(cw.waitForEvents(52, kTimeout));
  cw.deleteStream("mixed", "stream");
  REQUIRE(client->send(buildForward("app", std::span<const Event>(good.data() + 50, 50))));
  INFO(fl.proc().stderrText());
  REQUIRE(cw.waitForEvents(102, kTimeout));
  auto events = cw.events("mixed", "stream");
  size_t oks = 0, truncated = 0, replaced = 0;
  for (const auto& e : events) {
    if (e.message.rfind("ok-", 0) == 0) oks++;
    if (e.message.size() == 1'048'576 - 26) truncated++;
    if (e.message == "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8") replaced++;
  }
  CHECK(events.size() == 102);
  CHECK(oks == 100);
  CHECK(truncated == 1);
  CHECK(replaced == 1);
  // First use (the stream existed already: ResourceAlreadyExistsException is success), then again
  // after the deletion.
  CHECK(cw.opCount("CreateLogStream") == 2);
  CHECK(cw.answered("ResourceNotFoundException") >= 1);
  CHECK(cw.violations().empty());
  CHECK(fl.proc().stderrText().find("truncated 1 events") != std::string::npos);
  CHECK(fl.proc().stderrText().find("1 events older than 14 days") != std::string::npos);
}

TEST_CASE("cloudwatch_logs e2e: a missing group without auto_create_group drops only its events",
          "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDE2E", {"e2e-secret", "", SysClock::time_point::max()});
  FakeCloudWatch cw(keys);
  cw.start();
  cw.createGroup("/ecs/prod");
  Firelane fl;
  fl.start(config(cw.url(), "    log_group_name unused\n    log_group_template /ecs/$(ecs_cluster)\n"
                            "    log_stream_name stream\n    log_key log\n"),
           envKeys());
  auto client = fl.connect();
  REQUIRE(client->send(buildForward("app", fireLensEvents("gone-", 10, "missing", kTaskArnB))));
  REQUIRE(client->send(buildForward("app", fireLensEvents("here-", 10, "prod", kTaskArnA))));
  INFO(fl.proc().stderrText());
  REQUIRE(cw.waitForEvents(10, kTimeout));
  CHECK(cw.events("/ecs/prod", "stream").size() == 10);
  CHECK(fl.proc()
            .waitForStderr("log group '/ecs/missing' does not exist and auto_create_group is off", kTimeout)
            .has_value());
  CHECK_FALSE(cw.hasGroup("/ecs/missing"));
  CHECK(cw.opCount("CreateLogGroup") == 0);
  CHECK(cw.violations().empty());
}

TEST_CASE("cloudwatch_logs e2e: a refused key is logged with its provider and never its secret",
          "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDE2E", {"the-real-secret", "", SysClock::time_point::max()});
  FakeCloudWatch cw(keys);
  cw.start();
  cw.createStream("g", "s");
  Firelane fl;
  fl.start(config(cw.url(), "    log_group_name g\n    log_stream_name s\n    Retry_Limit 1\n"), envKeys());
  auto client = fl.connect();
  REQUIRE(client->send(buildForward("app", fireLensEvents("x-", 3, "prod", kTaskArnA))));
  auto line = fl.proc().waitForStderr("InvalidSignatureException", kTimeout);
  INFO(fl.proc().stderrText());
  REQUIRE(line.has_value());
  CHECK(fl.proc().stderrText().find("access key AKIDE2E from environment") != std::string::npos);
  CHECK(fl.proc().stderrText().find("e2e-secret") == std::string::npos);
  CHECK(cw.eventCount() == 0);
}

TEST_CASE("cloudwatch_logs e2e: a Fluent Bit config with endpoint port and tls settings works over TLS",
          "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDE2E", {"e2e-secret", "", SysClock::time_point::max()});
  FakeCloudWatchOptions o;
  o.pki = std::make_shared<TestPki>();
  FakeCloudWatch cw(keys, o);
  cw.start();
  cw.createStream("tls", "s");
  const std::string port = std::to_string(cw.port());
  SECTION("tls.verify off, as FireLens configs for local endpoints have it") {
    Firelane fl;
    fl.start(config("127.0.0.1", "    port " + port + "\n    tls.verify off\n    log_group_name tls\n"
                                 "    log_stream_name s\n    log_key log\n"),
             envKeys());
    REQUIRE(fl.connect()->send(buildForward("app", fireLensEvents("t-", 20, "prod", kTaskArnA))));
    INFO(fl.proc().stderrText());
    REQUIRE(cw.waitForEvents(20, kTimeout));
  }
  SECTION("verified against the CA in tls.ca_file") {
    Firelane fl;
    fl.start(config("127.0.0.1", "    port " + port + "\n    tls.ca_file " + o.pki->caFile() +
                                 "\n    log_group_name tls\n    log_stream_name s\n    log_key log\n"),
             envKeys());
    REQUIRE(fl.connect()->send(buildForward("app", fireLensEvents("t-", 20, "prod", kTaskArnA))));
    INFO(fl.proc().stderrText());
    REQUIRE(cw.waitForEvents(20, kTimeout));
  }
  CHECK(cw.tlsHandshakes() >= 1);
  CHECK(cw.violations().empty());
}

TEST_CASE("cloudwatch_logs e2e: credentials from EC2 IMDSv2 and from role_arn through STS", "[e2e][cloudwatch]") {
  auto keys = std::make_shared<FakeKeyring>();
  FakeCredentialEndpoint meta(keys);
  meta.start();
  FakeCloudWatch cw(keys);
  cw.start();
  cw.createStream("creds", "s");
  const std::string outputs = "    log_group_name creds\n    log_stream_name s\n    log_key log\n";
  SECTION("IMDSv2") {
    SpawnOptions spawn;
    spawn.env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + meta.url(), "AWS_EC2_METADATA_DISABLED=false"};
    Firelane fl;
    fl.start(config(cw.url(), outputs), spawn);
    REQUIRE(fl.connect()->send(buildForward("app", fireLensEvents("i-", 10, "prod", kTaskArnA))));
    INFO(fl.proc().stderrText());
    REQUIRE(cw.waitForEvents(10, kTimeout));
    CHECK(meta.count("imds-token") >= 1);
    CHECK(cw.signingKeys().front().rfind("ASIAIMDS", 0) == 0);
  }
  SECTION("role_arn with external_id on top of environment keys") {
    keys->add("AKIDBASE", {"base-secret", "", SysClock::time_point::max()});
    SpawnOptions spawn;
    spawn.env = {"AWS_ACCESS_KEY_ID=AKIDBASE", "AWS_SECRET_ACCESS_KEY=base-secret", "AWS_EC2_METADATA_DISABLED=true"};
    Firelane fl;
    fl.start(config(cw.url(), outputs + "    role_arn arn:aws:iam::123456789012:role/firelane\n"
                                        "    external_id ext-1\n    sts_endpoint " + meta.url() + "\n"),
             spawn);
    REQUIRE(fl.connect()->send(buildForward("app", fireLensEvents("r-", 10, "prod", kTaskArnA))));
    INFO(fl.proc().stderrText());
    REQUIRE(cw.waitForEvents(10, kTimeout));
    CHECK(meta.count("sts:AssumeRole") >= 1);
    CHECK(meta.count("sts-external-id:ext-1") >= 1);
    for (const auto& k : cw.signingKeys()) CHECK(k.rfind("ASIASTS", 0) == 0);
  }
  CHECK(cw.violations().empty());
}

TEST_CASE("cloudwatch_logs e2e: the shipped FireLens config passes --dry-run", "[e2e][cloudwatch]") {
  auto proc = Process::spawn(firelaneBin(), {"--dry-run", "-c", FIRELANE_SOURCE_DIR "/conf/firelens-cloudwatch.conf"});
  auto code = proc->waitExit(kTimeout);
  INFO(proc->stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

}  // namespace firelane::e2e
