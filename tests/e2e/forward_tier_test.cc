// End to end, two or three real firelane processes: an agent (forward input -> forward output with
// acks) and aggregators (forward input -> stdout). Delivery, shared-key and user authentication,
// refusal of a wrong key (and no secret in any log), TLS with the test CA and rejection of an
// unknown CA, upstream failover with a dead node, and an aggregator killed mid-stream.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "e2e/e2e_util.h"
#include "support/test_certs.h"

namespace firelane::e2e {
namespace {

// Agent: forward input on port 0, forward output with acks; `output` adds output lines.
std::string agentConfig(const std::string& output) {
  return "[SERVICE]\n"
         "    Flush 0.05\n"
         "    Grace 5\n"
         "    Log_Level info\n"
         "    scheduler.base 0.1\n"
         "    scheduler.cap 0.5\n"
         "\n[INPUT]\n"
         "    Name forward\n"
         "    Listen 127.0.0.1\n"
         "    Port 0\n"
         "\n[OUTPUT]\n"
         "    Name forward\n"
         "    Match *\n"
         "    Retry_Limit no_limits\n"
         "    require_ack_response on\n" +
         output;
}

std::string hostPort(uint16_t port) {
  return "    Host 127.0.0.1\n    Port " + std::to_string(port) + "\n";
}

// Sends `events` to the agent in Forward messages of 10.
void sendEvents(Firelane& agent, const std::vector<Event>& events) {
  auto client = agent.connect();
  for (size_t i = 0; i < events.size(); i += 10) {
    std::span<const Event> part(events.data() + i, std::min<size_t>(10, events.size() - i));
    REQUIRE(client->send(buildForward("app.one", part)));
  }
}

// Reads stdout lines of every process until `want` distinct ids of `events` were seen; returns all
// lines read (duplicates included).
std::vector<std::string> collect(std::vector<Firelane*> procs, const std::vector<Event>& events, Millis timeout) {
  std::set<std::string> want;
  for (const auto& e : events) want.insert(e.record[0].second);
  std::vector<std::string> all;
  waitUntil(
      [&] {
        for (auto* p : procs) {
          if (!p->proc().running()) continue;
          for (auto& l : p->proc().takeStdoutLines()) {
            want.erase(fieldOf(l, "id"));
            all.push_back(std::move(l));
          }
        }
        return want.empty();
      },
      timeout, Millis(20));
  INFO("missing " << want.size() << " ids");
  CHECK(want.empty());
  return all;
}

// A bound TCP port with no listener: connecting to it is refused, and it stays taken.
struct DeadPort {
  int fd = -1;
  uint16_t port = 0;
  DeadPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~DeadPort() { ::close(fd); }
};

}  // namespace

TEST_CASE("forward tier: agent to aggregator delivers every event exactly", "[e2e][forward-tier]") {
  Firelane agg;
  agg.start(forwardToStdoutConfig());
  Firelane agent;
  agent.start(agentConfig(hostPort(agg.tcpPort())));
  auto events = makeEvents("t", 300);
  sendEvents(agent, events);
  auto got = agg.lines(events.size());
  auto expected = jsonLines(events);
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  CHECK(got == expected);
}

TEST_CASE("forward tier: gzip time_as_integer and tag override", "[e2e][forward-tier]") {
  Firelane agg;
  agg.start(forwardToStdoutConfig());
  Firelane agent;
  agent.start(agentConfig(hostPort(agg.tcpPort()) + "    compress gzip\n    time_as_integer on\n    Tag renamed\n"));
  auto events = makeEvents("g", 50);
  sendEvents(agent, events);
  auto got = agg.lines(events.size());
  auto expected = jsonLines(events, true);
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  CHECK(got == expected);
}

TEST_CASE("forward tier: shared_key and users authenticate", "[e2e][forward-tier][security]") {
  const std::string key = "k3y-Shared-9f1c";
  const std::string pw = "pa55-Alice-77e0";
  Firelane agg;
  agg.start(forwardToStdoutConfig("    shared_key " + key + "\n    self_hostname aggregator-1\n"
                                  "    security.users bob other-pass\n    security.users alice " + pw + "\n"));
  Firelane agent;
  agent.start(agentConfig(hostPort(agg.tcpPort()) + "    shared_key " + key +
                          "\n    self_hostname agent-1\n    username alice\n    password " + pw + "\n"));
  auto events = makeEvents("s", 40);
  sendEvents(agent, events);
  auto got = agg.lines(events.size());
  CHECK(countBy(got, "id").size() == events.size());
  for (Firelane* p : {&agg, &agent}) {
    CHECK(p->proc().stderrText().find(key) == std::string::npos);
    CHECK(p->proc().stderrText().find(pw) == std::string::npos);
  }
}

TEST_CASE("forward tier: a wrong shared_key or password is refused and nothing is delivered",
          "[e2e][forward-tier][security]") {
  const std::string good = "good-Key-41d2";
  const std::string bad = "wrong-Key-77aa";
  bool wrongPassword = GENERATE(false, true);
  Firelane agg;
  agg.start(forwardToStdoutConfig("    shared_key " + good + "\n    security.users alice right-Pw-1\n"));
  Firelane agent;
  agent.start(agentConfig(hostPort(agg.tcpPort()) + "    shared_key " + (wrongPassword ? good : bad) +
                          "\n    username alice\n    password " + (wrongPassword ? "wrong-Pw-2" : "right-Pw-1") +
                          "\n"));
  sendEvents(agent, makeEvents("w", 10));
  const char* reason = wrongPassword ? "username/password mismatch" : "shared_key mismatch";
  // The aggregator logs each refusal; the agent retries (two refusals seen by both sides).
  for (int i = 0; i < 2; ++i) {
    INFO("aggregator stderr:\n" << agg.proc().stderrText() << "\nagent stderr:\n" << agent.proc().stderrText());
    auto line = agg.proc().waitForStderr("auth_failed", kTimeout);
    REQUIRE(line);
    CHECK(line->find(reason) != std::string::npos);
    REQUIRE(agent.proc().waitForStderr(std::string("authentication refused by the server: ") + reason, kTimeout));
  }
  CHECK(agg.proc().takeStdoutLines().empty());
  for (Firelane* p : {&agg, &agent}) {
    for (const std::string& secret : {good, bad, std::string("right-Pw-1"), std::string("wrong-Pw-2")})
      CHECK(p->proc().stderrText().find(secret) == std::string::npos);
  }
}

TEST_CASE("forward tier: TLS with the test CA and refusal of an unknown CA", "[e2e][forward-tier][tls]") {
  testsupport::TestPki pki;
  Firelane agg;
  agg.start(forwardToStdoutConfig("    tls on\n    tls.crt_file " + pki.server().certFile + "\n    tls.key_file " +
                                  pki.server().keyFile + "\n    shared_key tls-Key-5\n"));
  SECTION("known CA") {
    Firelane agent;
    agent.start(agentConfig(hostPort(agg.tcpPort()) + "    tls on\n    tls.verify on\n    tls.ca_file " +
                            pki.caFile() + "\n    shared_key tls-Key-5\n"));
    auto events = makeEvents("tls", 60);
    sendEvents(agent, events);
    auto got = agg.lines(events.size());
    CHECK(countBy(got, "id").size() == events.size());
  }
  SECTION("unknown CA") {
    Firelane agent;
    agent.start(agentConfig(hostPort(agg.tcpPort()) + "    tls on\n    tls.verify on\n    tls.ca_file " +
                            pki.unknownCaFile() + "\n"));
    sendEvents(agent, makeEvents("x", 10));
    INFO("agent stderr:\n" << agent.proc().stderrText());
    REQUIRE(agent.proc().waitForStderr("certificate verify failed", kTimeout));
    REQUIRE(agent.proc().waitForStderr("certificate verify failed", kTimeout));  // retried, refused again
    CHECK(agg.proc().takeStdoutLines().empty());
  }
}

TEST_CASE("forward tier: the aggregator can require client certificates", "[e2e][forward-tier][tls]") {
  testsupport::TestPki pki;
  Firelane agg;
  agg.start(forwardToStdoutConfig("    tls on\n    tls.crt_file " + pki.server().certFile + "\n    tls.key_file " +
                                  pki.server().keyFile + "\n    tls.verify on\n    tls.ca_file " + pki.caFile() + "\n"));
  const std::string tls = "    tls on\n    tls.verify on\n    tls.ca_file " + pki.caFile() + "\n";
  SECTION("client certificate from the CA") {
    Firelane agent;
    agent.start(agentConfig(hostPort(agg.tcpPort()) + tls + "    tls.crt_file " + pki.client().certFile +
                            "\n    tls.key_file " + pki.client().keyFile + "\n"));
    auto events = makeEvents("mtls", 30);
    sendEvents(agent, events);
    CHECK(countBy(agg.lines(events.size()), "id").size() == events.size());
  }
  SECTION("client certificate from an unknown CA") {
    Firelane agent;
    agent.start(agentConfig(hostPort(agg.tcpPort()) + tls + "    tls.crt_file " + pki.unknownClient().certFile +
                            "\n    tls.key_file " + pki.unknownClient().keyFile + "\n"));
    sendEvents(agent, makeEvents("x", 10));
    INFO("aggregator stderr:\n" << agg.proc().stderrText());
    REQUIRE(agg.proc().waitForStderr("tls_failed", kTimeout));
    REQUIRE(agg.proc().waitForStderr("tls_failed", kTimeout));  // the agent retried
    CHECK(agg.proc().takeStdoutLines().empty());
  }
}

TEST_CASE("forward tier: upstream with a dead node delivers everything to the live one",
          "[e2e][forward-tier][upstream]") {
  DeadPort dead;
  Firelane agg;
  agg.start(forwardToStdoutConfig());
  Firelane agent;
  std::string up = agent.dir().writeFile("upstream.conf",
                                         "[UPSTREAM]\n    name aggs\n\n[NODE]\n    name dead\n    host 127.0.0.1\n"
                                         "    port " + std::to_string(dead.port) +
                                             "\n\n[NODE]\n    name live\n    host 127.0.0.1\n    port " +
                                             std::to_string(agg.tcpPort()) + "\n");
  agent.start(agentConfig("    Upstream " + up + "\n"));
  // Rounds of 20 events, each delivered before the next is sent: every round is its own flush, so
  // round robin offers the dead node a flush in the first two rounds (one client connection: one
  // worker).
  std::map<std::string, int> counts;
  for (size_t round = 0; round < 10; ++round) {
    auto events = makeEvents("u", 20, round * 20);
    sendEvents(agent, events);
    for (auto& [id, n] : countBy(agg.lines(events.size()), "id")) counts[id] += n;
  }
  CHECK(counts.size() == 200);
  for (auto& [id, n] : counts) CHECK(n == 1);
  INFO("agent stderr:\n" << agent.proc().stderrText());
  CHECK(agent.proc().waitForStderr("node dead failed: connect: connection refused", kTimeout));
}

TEST_CASE("forward tier: an aggregator killed mid-stream loses nothing with acks", "[e2e][forward-tier][upstream]") {
  Firelane a;
  a.start(forwardToStdoutConfig());
  Firelane b;
  b.start(forwardToStdoutConfig());
  Firelane agent;
  std::string up = agent.dir().writeFile(
      "upstream.conf", "[UPSTREAM]\n    name aggs\n\n[NODE]\n    name a\n    host 127.0.0.1\n    port " +
                           std::to_string(a.tcpPort()) + "\n\n[NODE]\n    name b\n    host 127.0.0.1\n    port " +
                           std::to_string(b.tcpPort()) + "\n");
  agent.start(agentConfig("    Upstream " + up + "\n    ack_response_timeout 1\n    node_retry_interval 0.5\n"));

  // Phase 1: both aggregators take part; wait until everything is printed.
  auto first = makeEvents("p1-", 100);
  sendEvents(agent, first);
  auto lines1 = collect({&a, &b}, first, kTimeout);

  // Phase 2: aggregator a freezes (it can no longer ack what the agent writes to it), the agent
  // keeps sending, then a is killed with unacknowledged chunks in its socket.
  REQUIRE(a.proc().sendSignal(SIGSTOP));
  auto second = makeEvents("p2-", 100, 100);
  std::vector<std::string> lines2;
  bool killed = false;
  // Rounds of 10, each its own flush: round robin offers a its share; those flushes get no ack,
  // time out and are retried on b. Once that was seen, a is killed with its socket still full.
  for (size_t round = 0; round < 10; ++round) {
    std::vector<Event> part(second.begin() + static_cast<long>(round * 10),
                            second.begin() + static_cast<long>(round * 10 + 10));
    sendEvents(agent, part);
    auto got = collect({&b}, part, kTimeout);
    lines2.insert(lines2.end(), got.begin(), got.end());
    if (!killed && agent.proc().stderrText().find("no ack within ack_response_timeout") != std::string::npos) {
      REQUIRE(a.proc().sendSignal(SIGKILL));
      REQUIRE(a.proc().waitExit(kTimeout));
      killed = true;
    }
  }
  INFO("agent stderr:\n" << agent.proc().stderrText());
  REQUIRE(killed);
  // Late duplicates (a retried chunk arriving twice) would show up here.
  for (auto& l : b.proc().takeStdoutLines()) lines2.push_back(std::move(l));

  // At least once: every event arrived. Duplicates are bounded by the chunks in flight when a
  // froze; a frozen process prints nothing, so here none may be duplicated.
  auto counts = countBy(lines2, "id");
  CHECK(counts.size() == second.size());
  int dups = 0;
  for (auto& [id, n] : counts) dups += n - 1;
  CHECK(dups == 0);
  CHECK(countBy(lines1, "id").size() == first.size());
}

TEST_CASE("forward input: max_connections and idle_timeout", "[e2e][forward][limits]") {
  Firelane agg;
  agg.start(forwardToStdoutConfig("    max_connections 1\n    idle_timeout 2\n"));
  auto first = agg.connect();
  REQUIRE(first->send(buildMessage("app", makeEvents("m", 1)[0])));
  agg.lines(1);  // the first connection is accepted and working
  auto second = agg.connect();
  INFO("stderr:\n" << agg.proc().stderrText());
  CHECK(second->waitClosed(kTimeout));
  CHECK(agg.proc().waitForStderr("max_connections (1) reached", kTimeout));
  // The first one goes silent: it is closed by idle_timeout.
  CHECK(first->waitClosed(kTimeout));
  CHECK(agg.proc().waitForStderr("idle_timeout", kTimeout));
  // Both slots are free again.
  auto third = agg.connect();
  REQUIRE(third->send(buildMessage("app", makeEvents("m", 1, 1)[0])));
  CHECK(fieldOf(agg.lines(1)[0], "id") == "m1");
}

}  // namespace firelane::e2e
