// End to end: forward -> the real firelane binary -> datadog output -> the fake intake. Fluent Bit's
// JSON key for key, h2 over TLS and the HTTP/1.1 fallback, CA checks, every status path of the
// intake (retry, Retry-After, reject, 413 split, 403), exactly-once delivery through failures, and
// the API key never reaching stderr.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <regex>
#include <set>

#include "e2e/e2e_util.h"
#include "support/connect_proxy.h"
#include "support/fake_intake.h"

using namespace firelane::e2e;
using namespace std::chrono_literals;

namespace {

const std::string kApiKey = "dd-0123456789abcdef-s3cr3t";

struct DatadogSetup {
  std::string output;             // extra [OUTPUT] lines
  std::string service;            // extra [SERVICE] lines
  std::string schedulerBase = "0.05";
  std::string schedulerCap = "0.2";
  std::string retryLimit = "no_limits";
  std::string http2 = "prior_knowledge";
  bool tls = false;
  std::string caFile;
};

// [SERVICE] (one worker, fast flush and backoff, debug logs so that any secret in them would show)
// + forward on 127.0.0.1:0 + datadog to the intake.
std::string datadogConfig(const FakeIntake& intake, const DatadogSetup& s) {
  std::string c =
      "[SERVICE]\n"
      "    Flush 0.05\n"
      "    Grace 10\n"
      "    Log_Level debug\n"
      "    workers 1\n"
      "    scheduler.base " + s.schedulerBase + "\n"
      "    scheduler.cap " + s.schedulerCap + "\n" + s.service +
      "\n[INPUT]\n"
      "    Name forward\n"
      "    Listen 127.0.0.1\n"
      "    Port 0\n"
      "\n[OUTPUT]\n"
      "    Name datadog\n"
      "    Match *\n"
      "    Host 127.0.0.1\n"
      "    Port " +
      std::to_string(intake.port()) +
      "\n"
      "    apikey " +
      kApiKey +
      "\n"
      "    http2 " +
      s.http2 +
      "\n"
      "    Retry_Limit " +
      s.retryLimit + "\n";
  if (s.tls) {
    c += "    TLS on\n";
    if (!s.caFile.empty()) c += "    tls.ca_file " + s.caFile + "\n";
  } else {
    c += "    TLS off\n";
  }
  return c + s.output;
}

FakeIntakeOptions intakeOptions(bool tls = false) {
  FakeIntakeOptions o;
  o.apiKey = kApiKey;
  o.tls = tls;
  return o;
}

// Sends `events` on one connection in Forward frames of `perFrame` events.
void sendEvents(Firelane& f, const std::string& tag, const std::vector<Event>& events, size_t perFrame = 500) {
  auto client = f.connect();
  for (size_t i = 0; i < events.size(); i += perFrame) {
    size_t n = std::min(perFrame, events.size() - i);
    REQUIRE(client->send(buildForward(tag, std::span<const Event>(events.data() + i, n))));
  }
}

// Stops firelane (SIGTERM), REQUIREs exit 0, and returns its whole stderr, which must not hold the key.
std::string stopAndCheckLogs(Firelane& f) {
  REQUIRE(f.proc().sendSignal(SIGTERM));
  auto code = f.proc().waitExit(kTimeout);
  REQUIRE(f.proc().waitOutputClosed(kTimeout));
  std::string err = f.proc().stderrText();
  INFO(err);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(err.find(kApiKey) == std::string::npos);
  CHECK(err.find("s3cr3t") == std::string::npos);
  return err;
}

// The totals line firelane logs for the datadog output at exit.
struct Totals {
  uint64_t delivered = 0, dropped = 0, retries = 0, exhausted = 0;
};
Totals totalsOf(const std::string& err) {
  static const std::regex re(
      R"(\[output:datadog:[^\]]+\] totals: (\d+) records delivered, (\d+) dropped, (\d+) retries, (\d+) retries exhausted)");
  std::smatch m;
  INFO(err);
  REQUIRE(std::regex_search(err, m, re));
  return Totals{std::stoull(m[1]), std::stoull(m[2]), std::stoull(m[3]), std::stoull(m[4])};
}

// Every event id the intake accepted, with how often.
std::map<std::string, int> idCounts(const FakeIntake& intake) {
  std::map<std::string, int> counts;
  for (const auto& e : intake.events()) {
    if (e.contains("id")) ++counts[e["id"].get<std::string>()];
  }
  return counts;
}

// REQUIREs that exactly the ids of `events` arrived, each once.
void requireExactlyOnce(const FakeIntake& intake, const std::vector<Event>& events) {
  auto counts = idCounts(intake);
  size_t dup = 0, missing = 0;
  for (const auto& e : events) {
    auto it = counts.find(e.record[0].second);
    if (it == counts.end()) ++missing;
    else if (it->second != 1) ++dup;
  }
  CHECK(missing == 0);
  CHECK(dup == 0);
  CHECK(counts.size() == events.size());
  CHECK(intake.eventCount() == events.size());
}

const std::string kContainerId = "3c8e0b4f8e5a4b1c9d2f7a6e5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c";
const std::string kTaskArn = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef";

// What Docker's fluentd driver plus FireLens' record_modifier make of one stdout line.
Event fireLensEvent(const std::string& line) {
  return Event{1700000000,
               123600000,  // .1236 s: Fluent Bit rounds to ...124 ms
               {{"container_id", kContainerId},
                {"container_name", "/app"},
                {"source", "stdout"},
                {"log", line},
                {"ecs_cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/prod"},
                {"ecs_task_arn", kTaskArn},
                {"ecs_task_definition", "web:7"}}};
}

}  // namespace

TEST_CASE("datadog e2e: FireLens records arrive as Fluent Bit's JSON key for key", "[e2e][datadog]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  const std::string tag = "app-firelens-0123456789abcdef";
  const std::string line = R"(GET /health 200 "ok" é)";
  DatadogSetup s;
  s.output =
      "    dd_service web\n"
      "    dd_source nodejs\n"
      "    dd_hostname host-1\n"
      "    dd_tags env:prod,team:a\n";
  std::string expected;
  SECTION("without provider ecs") {
    expected =
        R"({"timestamp":1700000000124,"ddsource":"nodejs","service":"web","hostname":"host-1",)"
        R"("container_id":")" + kContainerId + R"(","container_name":"/app","source":"stdout",)"
        R"("message":"GET /health 200 \"ok\" é",)"
        R"("ecs_cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/prod",)"
        R"("ecs_task_arn":")" + kTaskArn + R"(","ecs_task_definition":"web:7",)"
        R"("ddtags":"env:prod,team:a"})";
  }
  SECTION("with provider ecs and include_tag_key") {
    s.output +=
        "    provider ecs\n"
        "    include_tag_key on\n"
        "    tag_key fluent_tag\n";
    expected =
        R"({"timestamp":1700000000124,"fluent_tag":"app-firelens-0123456789abcdef",)"
        R"("ddsource":"nodejs","service":"web","hostname":"host-1",)"
        R"("source":"stdout","message":"GET /health 200 \"ok\" é",)"
        R"("ddtags":"container_id:)" + kContainerId + R"(,container_name:app,cluster_name:prod,)"
        R"(task_arn:)" + kTaskArn + R"(,region:us-east-1,task_id:prod/0123456789abcdef0123456789abcdef,)"
        R"(task_family:web,task_version:7,env:prod,team:a"})";
  }
  Firelane f;
  f.start(datadogConfig(intake, s));
  sendEvents(f, tag, {fireLensEvent(line)});
  REQUIRE(intake.waitForEvents(1, kTimeout));
  auto texts = intake.eventTexts();
  REQUIRE(texts.size() == 1);
  CHECK(texts[0] == expected);
  auto reqs = intake.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].status == 202);
  CHECK(reqs[0].protocol == IntakeProtocol::Http2);
  CHECK(reqs[0].headers.at("content-type") == "application/json");
  CHECK(reqs[0].headers.at("content-encoding") == "gzip");
  CHECK(reqs[0].headers.at("user-agent").rfind("firelane/", 0) == 0);
  CHECK(intake.violations().empty());
  stopAndCheckLogs(f);
}

TEST_CASE("datadog e2e: compress zstd and none are accepted by the intake", "[e2e][datadog]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  auto codec = GENERATE(as<std::string>{}, "zstd", "none");
  DatadogSetup s;
  s.output = "    compress " + codec + "\n";
  Firelane f;
  f.start(datadogConfig(intake, s));
  auto events = makeEvents("c", 300);
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  auto reqs = intake.requests();
  REQUIRE_FALSE(reqs.empty());
  if (codec == "zstd") CHECK(reqs[0].headers.at("content-encoding") == "zstd");
  else CHECK(reqs[0].headers.count("content-encoding") == 0);
  CHECK(intake.violations().empty());
  stopAndCheckLogs(f);
}

TEST_CASE("datadog e2e: h2 over TLS carries many concurrent streams on one connection", "[e2e][datadog][tls]") {
  FakeIntake intake(intakeOptions(true));
  intake.start();
  intake.setDelay(150ms);  // answers overlap: the requests must be multiplexed
  DatadogSetup s;
  s.tls = true;
  s.http2 = "on";
  s.caFile = intake.caFile();
  s.output = "    workers 8\n";
  Firelane f;
  f.start(datadogConfig(intake, s));
  auto events = makeEvents("h2-", 8000);
  sendEvents(f, "app", events, 1000);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  auto st = intake.stats();
  CHECK(st.h2Connections == 1);
  CHECK(st.h1Connections == 0);
  CHECK(st.maxStreamsPerConnection >= 8);
  CHECK(st.maxConcurrentStreams > 1);
  for (const auto& r : intake.requests()) {
    CHECK(r.tls);
    CHECK(r.protocol == IntakeProtocol::Http2);
    CHECK(r.events <= 1000);
  }
  stopAndCheckLogs(f);
}

// The value of a Prometheus sample `name{name="instance"} value`, or -1 when absent.
double promSample(const std::string& body, const std::string& name) {
  std::regex re("(^|\n)" + name + "\\{name=\"[^\"]+\"\\} ([0-9.]+)");
  std::smatch m;
  return std::regex_search(body, m, re) ? std::stod(m[2]) : -1;
}

TEST_CASE("datadog e2e: adaptive concurrency keeps 429s from an intake at capacity low", "[e2e][datadog][concurrency]") {
  // The intake serves 3 requests at once (25 ms each) and answers 429 above that. The output may have
  // 16 requests in flight; 30 full requests are backlogged at once. Fixed concurrency sends 16 and
  // gets mostly 429s (each retried after a backoff); adaptive finds about 3.
  auto run = [](const std::string& concurrency) {
    auto o = intakeOptions();
    o.maxConcurrentRequests = 3;
    o.serviceTime = 25ms;
    FakeIntake intake(o);
    intake.start();
    DatadogSetup s;
    s.service = "    HTTP_Server On\n    HTTP_Listen 127.0.0.1\n    HTTP_Port 0\n";
    s.output = "    workers 16\n    concurrency " + concurrency + "\n";
    Firelane f;
    f.start(datadogConfig(intake, s));
    uint16_t mport = monitorPort(f.proc());
    auto events = makeEvents(concurrency + "-", 30000);
    sendEvents(f, "app", events, 1000);
    REQUIRE(intake.waitForEvents(events.size(), 60000ms));
    requireExactlyOnce(intake, events);
    auto st = intake.stats();
    CHECK(st.maxInService <= 3);
    CHECK(st.status(202) >= 30);
    auto metrics = pollHttp(mport, "/api/v1/metrics/prometheus",
                            [](const HttpResponse& r) { return r.status == 200; });
    REQUIRE(metrics);
    double limit = promSample(metrics->body, "firelane_output_concurrency_limit");
    CHECK(promSample(metrics->body, "firelane_output_in_flight") == 0);
    stopAndCheckLogs(f);
    return std::make_tuple(st.overCapacity, st.status(202), limit);
  };
  auto [fixed429, fixedOk, fixedLimit] = run("fixed");
  auto [adaptive429, adaptiveOk, adaptiveLimit] = run("adaptive");
  INFO("fixed: " << fixed429 << " 429s, " << fixedOk << " accepted; adaptive: " << adaptive429 << " 429s, "
                 << adaptiveOk << " accepted, limit " << adaptiveLimit);
  CHECK(fixedLimit == 16);
  CHECK(adaptiveLimit >= 1);
  CHECK(adaptiveLimit < 16);
  CHECK(fixed429 >= fixedOk);              // the flood: at least one 429 per accepted request
  CHECK(adaptive429 * 3 <= adaptiveOk);    // adaptive: under one per three
  CHECK(adaptive429 * 4 <= fixed429);
}

TEST_CASE("datadog e2e: falls back to HTTP/1.1 when the intake offers only http/1.1", "[e2e][datadog][tls]") {
  auto o = intakeOptions(true);
  o.alpn = {"http/1.1"};
  FakeIntake intake(o);
  intake.start();
  DatadogSetup s;
  s.tls = true;
  s.http2 = "on";
  s.caFile = intake.caFile();
  Firelane f;
  f.start(datadogConfig(intake, s));
  auto events = makeEvents("h1-", 3000);
  sendEvents(f, "app", events, 1000);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  auto st = intake.stats();
  CHECK(st.h2Connections == 0);
  CHECK(st.h1Requests >= 3);
  CHECK(st.connections <= 2);  // keep-alive: max_connections 2 carried every request
  stopAndCheckLogs(f);
}

TEST_CASE("datadog e2e: an unknown CA fails the handshake and tls.ca_file fixes it", "[e2e][datadog][tls]") {
  FakeIntake intake(intakeOptions(true));
  intake.start();
  auto events = makeEvents("ca-", 10);
  {
    DatadogSetup s;
    s.tls = true;
    s.caFile = intake.pki().unknownCaFile();
    s.retryLimit = "1";
    Firelane f;
    f.start(datadogConfig(intake, s));
    sendEvents(f, "app", events);
    auto line = f.proc().waitForStderr("dropping 10 records after 2 attempts", kTimeout);
    INFO(f.proc().stderrText());
    REQUIRE(line);
    CHECK(line->find("certificate verify failed") != std::string::npos);
    CHECK(intake.stats().requests == 0);
    CHECK(intake.stats().tlsHandshakeFailures >= 1);
    auto err = stopAndCheckLogs(f);
    auto t = totalsOf(err);
    CHECK(t.dropped == 10);
    CHECK(t.exhausted == 1);
  }
  DatadogSetup s;
  s.tls = true;
  s.caFile = intake.caFile();
  Firelane f;
  f.start(datadogConfig(intake, s));
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  stopAndCheckLogs(f);
}

TEST_CASE("datadog e2e: 500 and 503 are retried until accepted", "[e2e][datadog][status]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.failNext(1, Fault::withStatus(500));
  intake.failNext(1, Fault::withStatus(503));
  Firelane f;
  f.start(datadogConfig(intake, {}));
  auto events = makeEvents("r", 20);
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  auto reqs = intake.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].status == 500);
  CHECK(reqs[1].status == 503);
  CHECK(reqs[2].status == 202);
  auto err = stopAndCheckLogs(f);
  CHECK(err.find("retrying 20 records") != std::string::npos);
  CHECK(err.find("HTTP 503 from 127.0.0.1") != std::string::npos);
  auto t = totalsOf(err);
  CHECK(t.delivered == 20);
  CHECK(t.retries == 2);
  CHECK(t.dropped == 0);
}

TEST_CASE("datadog e2e: 429 with Retry-After waits at least that long", "[e2e][datadog][status]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.failNext(1, Fault::withStatus(429, 2));
  Firelane f;
  f.start(datadogConfig(intake, {}));  // backoff alone would wait 0.05-0.1 s
  auto events = makeEvents("ra", 5);
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  auto reqs = intake.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].status == 429);
  CHECK(reqs[1].status == 202);
  CHECK(reqs[1].receivedAt - reqs[0].receivedAt >= 2000ms);
  stopAndCheckLogs(f);
}

TEST_CASE("datadog e2e: 400 and 401 are rejected without retry and counted", "[e2e][datadog][status]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  int status = GENERATE(400, 401);
  intake.failNext(1, Fault::withStatus(status));
  Firelane f;
  f.start(datadogConfig(intake, {}));
  auto rejected = makeEvents("rej", 7);
  sendEvents(f, "app", rejected);
  auto line = f.proc().waitForStderr("rejected 7 records", kTimeout);
  INFO(f.proc().stderrText());
  REQUIRE(line);
  CHECK(line->find("HTTP " + std::to_string(status) + " from 127.0.0.1") != std::string::npos);
  // The next events go through; the rejected ones were never sent again.
  auto later = makeEvents("ok", 3);
  sendEvents(f, "app", later);
  REQUIRE(intake.waitForEvents(later.size(), kTimeout));
  requireExactlyOnce(intake, later);
  CHECK(intake.stats().requests == 2);
  auto err = stopAndCheckLogs(f);
  auto t = totalsOf(err);
  CHECK(t.dropped == 7);
  CHECK(t.retries == 0);
  CHECK(t.delivered == 3);
}

TEST_CASE("datadog e2e: 413 splits the payload in halves until the intake takes them", "[e2e][datadog][status]") {
  auto o = intakeOptions();
  o.maxPayloadBytes = 3000;  // ~155-byte events: 40 need two splits (40 -> 20 -> 10)
  FakeIntake intake(o);
  intake.start();
  Firelane f;
  f.start(datadogConfig(intake, {}));
  // Requests 1-3 are the 413s (40, then both halves of 20); the 4th, a quarter of 10 events, fails
  // with 503: only that quarter is sent again, never the quarters the intake accepted.
  intake.failNext(3, Fault::pass());
  intake.failNext(1, Fault::withStatus(503));
  std::vector<Event> events;
  for (size_t i = 0; i < 40; ++i) {
    events.push_back(Event{1700000000, 0, {{"id", "split-" + std::to_string(i)}, {"log", std::string(100, 'a')}}});
  }
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  auto st = intake.stats();
  CHECK(st.status(413) == 3);
  CHECK(st.status(503) == 1);
  CHECK(st.status(202) == 4);
  for (const auto& r : intake.requests()) {
    if (r.status == 202 || r.status == 503) CHECK(r.events == (r.status == 202 ? 10u : 0u));
  }
  // One event larger than the intake takes cannot be split: it is dropped and counted.
  Event big{1700000000, 0, {{"id", "big"}, {"log", std::string(4000, 'x')}}};
  sendEvents(f, "app", {big});
  auto line = f.proc().waitForStderr("rejected 1 records: HTTP 413", kTimeout);
  INFO(f.proc().stderrText());
  CHECK(line);
  auto err = stopAndCheckLogs(f);
  CHECK(err.find("413 from 127.0.0.1: splitting 40 events in two requests") != std::string::npos);
  auto t = totalsOf(err);
  CHECK(t.delivered == 40);
  CHECK(t.dropped == 1);
  CHECK(t.retries == 1);
}

TEST_CASE("datadog e2e: 403 is rejected with a message naming the host and the site", "[e2e][datadog][status]") {
  auto o = intakeOptions();
  o.apiKey = "the-key-of-another-site";
  FakeIntake intake(o);
  intake.start();
  Firelane f;
  f.start(datadogConfig(intake, {}));
  sendEvents(f, "app", makeEvents("f", 4));
  auto line = f.proc().waitForStderr("403 Forbidden from 127.0.0.1", kTimeout);
  INFO(f.proc().stderrText());
  REQUIRE(line);
  CHECK(line->find("the API key must belong to the Datadog site of this host") != std::string::npos);
  CHECK(line->find("site") != std::string::npos);
  REQUIRE(f.proc().waitForStderr("rejected 4 records", kTimeout));
  CHECK(intake.stats().status(403) == 1);
  CHECK(intake.violationCount(IntakeViolation::Kind::ApiKeyInvalid) == 1);
  auto err = stopAndCheckLogs(f);
  CHECK(totalsOf(err).dropped == 4);
  CHECK(err.find("(http_403 1)") != std::string::npos);
}

TEST_CASE("datadog e2e: retry_on_403 retries a 403 until the key is accepted", "[e2e][datadog][status]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.failNext(2, Fault::withStatus(403));
  DatadogSetup s;
  s.output = "    retry_on_403 on\n";
  Firelane f;
  f.start(datadogConfig(intake, s));
  auto events = makeEvents("k", 6);
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  CHECK(intake.stats().status(403) == 2);
  auto err = stopAndCheckLogs(f);
  CHECK(err.find("retrying (retry_on_403)") != std::string::npos);
  CHECK(totalsOf(err).retries == 2);
}

TEST_CASE("datadog e2e: resets and closed connections are retried", "[e2e][datadog][status]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  std::string http2 = GENERATE(as<std::string>{}, "prior_knowledge", "off");
  intake.failNext(1, Fault::tcpReset());
  intake.failNext(1, Fault::closeAfterRead());
  intake.failNext(1, Fault::streamReset());
  DatadogSetup s;
  s.http2 = http2;
  Firelane f;
  f.start(datadogConfig(intake, s));
  auto events = makeEvents("rst", 50);
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  CHECK(intake.stats().faults == 3);
  auto err = stopAndCheckLogs(f);
  CHECK(totalsOf(err).retries == 3);
}

TEST_CASE("datadog e2e: 20000 events through an intake failing 30% of requests arrive exactly once",
          "[e2e][datadog][status]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  std::string http2 = GENERATE(as<std::string>{}, "prior_knowledge", "off");
  intake.failFraction(0.3, Fault::withStatus(503), 7);
  DatadogSetup s;
  s.http2 = http2;
  s.schedulerBase = "0.01";
  s.schedulerCap = "0.05";
  s.output = "    workers 4\n";
  Firelane f;
  f.start(datadogConfig(intake, s));
  std::vector<Event> events;
  for (size_t i = 0; i < 20000; ++i) {
    events.push_back(Event{static_cast<uint32_t>(1700000000 + i / 100), static_cast<uint32_t>(i % 1000) * 1000,
                           {{"id", "e" + std::to_string(i)}, {"log", "line " + std::to_string(i)}}});
  }
  // Several connections, so that chunks and retries interleave.
  for (size_t c = 0; c < 4; ++c) {
    std::vector<Event> part(events.begin() + c * 5000, events.begin() + (c + 1) * 5000);
    sendEvents(f, "app" + std::to_string(c), part, 250);
  }
  REQUIRE(intake.waitForEvents(events.size(), 60000ms));
  requireExactlyOnce(intake, events);
  auto st = intake.stats();
  CHECK(st.faults > 0);
  CHECK(st.status(503) == st.faults);
  auto err = stopAndCheckLogs(f);
  auto t = totalsOf(err);
  CHECK(t.delivered == 20000);
  CHECK(t.dropped == 0);
  CHECK(t.retries == st.faults);
}

TEST_CASE("datadog e2e: requests stay within 1000 events and 5000000 bytes", "[e2e][datadog][limits]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  Firelane f;
  f.start(datadogConfig(intake, {}));
  // Quotes double in JSON: ~4 KB of msgpack per event becomes ~8 KB of JSON, so one engine chunk
  // (4 MB of msgpack) needs two requests to stay under 5 MB.
  std::vector<Event> events;
  for (size_t i = 0; i < 1500; ++i) {
    events.push_back(Event{1700000000, 0, {{"id", "q" + std::to_string(i)}, {"log", std::string(4000, '"')}}});
  }
  sendEvents(f, "app", events, 100);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  size_t largest = 0;
  for (const auto& r : intake.requests()) {
    CHECK(r.status == 202);
    CHECK(r.events <= 1000);
    CHECK(r.decodedBytes <= 5'000'000);
    largest = std::max(largest, r.decodedBytes);
  }
  CHECK(largest > 4'000'000);  // the limit was actually approached
  CHECK(intake.stats().status(413) == 0);
  CHECK(intake.violations().empty());
  stopAndCheckLogs(f);
}

TEST_CASE("datadog e2e: an event over 1 MB is truncated and still delivered", "[e2e][datadog][limits]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  Firelane f;
  f.start(datadogConfig(intake, {}));
  const std::string huge(1'500'000, 'm');
  sendEvents(f, "app", {Event{1700000000, 0, {{"id", "huge"}, {"log", huge}}}});
  REQUIRE(intake.waitForEvents(1, kTimeout));
  auto events = intake.events();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["id"] == "huge");
  std::string message = events[0]["message"].get<std::string>();
  CHECK(message.size() < huge.size());
  CHECK(message.size() > 900'000);
  CHECK(huge.compare(0, message.size(), message) == 0);  // a prefix of the original
  CHECK(intake.eventTexts()[0].size() <= 1'000'000);
  CHECK(intake.violationCount(IntakeViolation::Kind::LogTooLarge) == 0);
  auto err = stopAndCheckLogs(f);
  CHECK(err.find("totals: 1 records delivered, 0 dropped, 0 retries, 0 retries exhausted (http_202 1, truncated 1)") !=
        std::string::npos);
}

TEST_CASE("datadog e2e: proxy tunnels through HTTP CONNECT and header adds request headers", "[e2e][datadog][proxy]") {
  FakeIntake intake(intakeOptions(true));
  intake.start();
  ConnectProxy proxy;
  proxy.start();
  DatadogSetup s;
  s.tls = true;
  s.http2 = "on";
  s.caFile = intake.caFile();
  s.output = "    proxy http://127.0.0.1:" + std::to_string(proxy.port()) +
             "\n"
             "    header X-Team logs-platform\n"
             "    header X-Env prod\n";
  Firelane f;
  f.start(datadogConfig(intake, s));
  auto events = makeEvents("px", 50);
  sendEvents(f, "app", events);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  REQUIRE_FALSE(proxy.requests().empty());
  CHECK(proxy.requests()[0] == "CONNECT 127.0.0.1:" + std::to_string(intake.port()) + " HTTP/1.1");
  for (const auto& r : intake.requests()) {
    CHECK(r.protocol == IntakeProtocol::Http2);
    CHECK(r.headers.at("x-team") == "logs-platform");
    CHECK(r.headers.at("x-env") == "prod");
  }
  stopAndCheckLogs(f);
}

TEST_CASE("datadog e2e: a response timeout is retried", "[e2e][datadog][status]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  std::string http2 = GENERATE(as<std::string>{}, "prior_knowledge", "off");
  intake.setDelay(5000ms);
  DatadogSetup s;
  s.http2 = http2;
  s.output = "    response_timeout 0.3\n";
  Firelane f;
  f.start(datadogConfig(intake, s));
  auto events = makeEvents("to", 12);
  sendEvents(f, "app", events);
  auto line = f.proc().waitForStderr("response timed out", kTimeout);
  INFO(f.proc().stderrText());
  REQUIRE(line);
  CHECK(line->find("retrying 12 records") != std::string::npos);
  intake.setDelay(0ms);
  REQUIRE(intake.waitForEvents(events.size(), kTimeout));
  requireExactlyOnce(intake, events);
  auto err = stopAndCheckLogs(f);
  CHECK(totalsOf(err).retries >= 1);
  CHECK(totalsOf(err).dropped == 0);
}
