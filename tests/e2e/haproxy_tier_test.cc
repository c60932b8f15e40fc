// End to end, the aggregator tier as deployed: agents (forward output, acks, TLS, shared_key) ->
// HAProxy (TCP mode, roundrobin, health checks that expect the aggregator's HELO over TLS) ->
// three firelane aggregators (forward input -> datadog output) -> the fake Datadog intake. An
// aggregator is killed with SIGKILL mid-stream (no freezing first) and restarted: durable ones on
// their filesystem spool (acks once stored, replay after the restart), and memory-only ones that ack
// only after Datadog accepted (ack_after delivered). Every event must reach the intake, duplicates
// are counted and bounded. A wrong shared_key and an unknown CA are refused.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "e2e/e2e_util.h"
#include "support/fake_intake.h"
#include "support/http_get.h"
#include "support/test_certs.h"

namespace firelane::e2e {
namespace {

const std::string kApiKey = "dd-tier-0123456789-s3cr3t";
const std::string kSharedKey = "tier-Shared-Key-5e1b";
constexpr size_t kAggregators = 3;

// The haproxy binary: on PATH or in the sbin folders Debian installs it to. The test command
// installs the package (scripts/firelane.sh), so a missing binary is a failure, not a skip.
std::string haproxyBin() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) dirs.push_back(d);
  }
  dirs.insert(dirs.end(), {"/usr/sbin", "/usr/local/sbin", "/sbin"});
  for (const auto& d : dirs) {
    std::string p = d + "/haproxy";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  FAIL("haproxy is not installed: the tier test needs Debian's 'haproxy' package "
       "(listed in PACKAGES of scripts/firelane.sh; apt-get install haproxy)");
  return {};
}

// A port that was free a moment ago (bound to 0, then released). Whoever binds it next may lose a
// race with another process: HAProxy's start is retried on a bind error.
uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// HAProxy in the foreground (-db) on a config in a temp dir, with an admin socket there for the
// runtime API (server states, moving a server to a new port).
class Haproxy {
 public:
  // Starts HAProxy in front of `servers` (name -> port) and waits until every server is UP.
  void start(const std::vector<std::pair<std::string, uint16_t>>& servers) {
    std::string bin = haproxyBin();
    servers_ = servers;
    constexpr int kAttempts = 5;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      port_ = freePort();
      std::string cfg = dir_.writeFile("haproxy.cfg", config());
      proc_ = Process::spawn(bin, {"-db", "-f", cfg});
      bool ready = waitUntil([&] { return !proc_->running() || adminReachable(); }, kTimeout, Millis(20));
      if (proc_->running() && ready) break;
      proc_->waitExit(kTimeout);
      proc_->waitOutputClosed(kTimeout);
      std::string err = proc_->stderrText();
      INFO("haproxy config:\n" << config() << "\nstderr:\n" << err);
      bool bindRace = err.find("cannot bind socket") != std::string::npos;
      REQUIRE(bindRace);  // anything else is a real failure
      REQUIRE(attempt < kAttempts);
    }
    for (const auto& [name, port] : servers_)
      if (!waitStatus(name, "UP")) FAIL("haproxy did not see " << name << " UP; stderr:\n" << proc_->stderrText());
  }

  uint16_t port() const { return port_; }
  Process& proc() { return *proc_; }

  // One runtime API command; returns the whole answer.
  std::string command(const std::string& cmd) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    std::string out = commandOn(fd, cmd);
    ::close(fd);
    return out;
  }

  // The status column of `show stat` for a server of the backend ("UP", "DOWN", "UP 1/2", ...).
  std::string status(const std::string& server) {
    std::stringstream ss(command("show stat"));
    std::string line;
    size_t statusCol = 0;
    while (std::getline(ss, line)) {
      std::vector<std::string> cols;
      std::stringstream ls(line);
      for (std::string c; std::getline(ls, c, ',');) cols.push_back(c);
      if (line.rfind("# ", 0) == 0) {
        for (size_t i = 0; i < cols.size(); ++i)
          if (cols[i] == "status") statusCol = i;
      } else if (cols.size() > statusCol && statusCol && cols[0] == "aggregators" && cols[1] == server) {
        return cols[statusCol];
      }
    }
    return {};
  }

  // Waits until the server's status is exactly `want` (a server in transition shows "UP 1/2").
  bool waitStatus(const std::string& server, const std::string& want) {
    bool ok = waitUntil([&] { return status(server) == want; }, kTimeout, Millis(50));
    if (!ok) UNSCOPED_INFO("haproxy: " << server << " is '" << status(server) << "', wanted " << want);
    return ok;
  }

  // Points a server at a new port, as an orchestrator does when a node comes back elsewhere.
  void moveServer(const std::string& server, uint16_t port) {
    std::string answer = command("set server aggregators/" + server + " addr 127.0.0.1 port " + std::to_string(port));
    INFO("haproxy answered: " << answer);
    REQUIRE(answer.find("changed") != std::string::npos);
  }

 private:
  std::string config() const {
    std::string c =
        "global\n"
        "    maxconn 256\n"
        // Without SO_REUSEPORT: a port some other process (firelane binds with SO_REUSEPORT as the
        // same user) took in the meantime must fail the bind instead of being shared.
        "    noreuseport\n"
        "    stats socket " + dir_.file("admin.sock") + " mode 600 level admin\n"
        "defaults\n"
        "    mode tcp\n"
        "    timeout connect 500ms\n"
        "    timeout client 30s\n"
        "    timeout server 30s\n"
        "    timeout check 500ms\n"
        // A connect refused by a dead aggregator is retried on another one.
        "    retries 3\n"
        "    option redispatch 1\n"
        "frontend tier\n"
        "    bind 127.0.0.1:" + std::to_string(port_) + "\n"
        "    default_backend aggregators\n"
        "backend aggregators\n"
        "    balance roundrobin\n"
        // Alive means: completes TLS and greets with the forward handshake's HELO (msgpack
        // ["HELO", ...] = 92 a4 'H' 'E' 'L' 'O'). A frozen process whose kernel still accepts
        // connections fails this check; a bare TCP connect check would pass.
        "    option tcp-check\n"
        "    tcp-check expect binary 92a448454c4f\n"
        // Sessions on a server marked down are cut, so agents fail over without waiting for acks.
        "    default-server inter 200ms fall 2 rise 2 check-ssl verify none on-marked-down shutdown-sessions\n";
    for (const auto& [name, port] : servers_)
      c += "    server " + name + " 127.0.0.1:" + std::to_string(port) + " check\n";
    return c;
  }

  bool adminReachable() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::string path = dir_.file("admin.sock");
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    return ok;
  }

  std::string commandOn(int fd, const std::string& cmd) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::string path = dir_.file("admin.sock");
    REQUIRE(path.size() < sizeof(a.sun_path));
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return {};
    std::string line = cmd + "\n";
    if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) return {};
    // Without "prompt" mode HAProxy answers one command and closes.
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    for (;;) {
      auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return out;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

  TempDir dir_{"firelane-haproxy"};
  std::unique_ptr<Process> proc_;
  std::vector<std::pair<std::string, uint16_t>> servers_;
  uint16_t port_ = 0;
};

// What an aggregator has done with a chunk when it answers the chunk id.
enum class Durability {
  Memory,     // queued in memory (ack_after stored without a spool): a crash loses what was acked
  Spool,      // appended and fdatasync'ed to its filesystem spool (storage.sync full)
  Delivered,  // memory only, acked once Datadog accepted it (ack_after delivered)
};

// Intake, PKI, three aggregators, HAProxy in front of them (all UP).
struct Tier {
  FakeIntake intake{[] {
    FakeIntakeOptions o;
    o.apiKey = kApiKey;
    return o;
  }()};
  testsupport::TestPki pki;
  const Durability durability;
  // One storage.path per aggregator, outliving its process: a restart replays it.
  std::array<TempDir, kAggregators> spools;
  std::array<std::unique_ptr<Firelane>, kAggregators> aggs;
  Haproxy haproxy;

  explicit Tier(Durability d = Durability::Memory) : durability(d) {
    intake.start();
    std::vector<std::pair<std::string, uint16_t>> servers;
    for (size_t i = 0; i < kAggregators; ++i) {
      aggs[i] = startAggregator(i, name(i));
      servers.emplace_back(name(i), aggs[i]->tcpPort());
    }
    haproxy.start(servers);
  }

  static std::string name(size_t i) { return "agg" + std::to_string(i); }

  // `hostname` goes into every event it delivers (dd_hostname), so the intake shows who sent what.
  std::unique_ptr<Firelane> startAggregator(size_t i, const std::string& hostname) {
    std::string service, input;
    if (durability == Durability::Spool) {
      service = "    storage.path " + spools[i].path() + "\n    storage.sync full\n";
      input = "    storage.type filesystem\n";
    } else if (durability == Durability::Delivered) {
      input = "    ack_after delivered\n";
    }
    auto f = std::make_unique<Firelane>();
    f->start("[SERVICE]\n"
             "    Flush 0.05\n"
             "    Grace 2\n"
             "    Log_Level info\n"
             "    workers 1\n"
             "    scheduler.base 0.05\n"
             "    scheduler.cap 0.2\n"
             "    HTTP_Server On\n"
             "    HTTP_Listen 127.0.0.1\n"
             "    HTTP_Port 0\n" +
             service +
             "\n[INPUT]\n"
             "    Name forward\n"
             "    Listen 127.0.0.1\n"
             "    Port 0\n" +
             input +
             "    tls on\n"
             "    tls.crt_file " + pki.server().certFile + "\n"
             "    tls.key_file " + pki.server().keyFile + "\n"
             "    shared_key " + kSharedKey + "\n"
             "    self_hostname " + name(i) + "\n"
             "\n[OUTPUT]\n"
             "    Name datadog\n"
             "    Match *\n"
             "    Host 127.0.0.1\n"
             "    Port " + std::to_string(intake.port()) + "\n"
             "    TLS off\n"
             "    http2 prior_knowledge\n"
             "    apikey " + kApiKey + "\n"
             "    dd_hostname " + hostname + "\n"
             "    Retry_Limit no_limits\n");
    return f;
  }

  // An agent: forward input on port 0 -> forward output to HAProxy with acks. `output` adds lines
  // (overriding TLS / key settings); `upstreamNodes` > 0 sends through an Upstream file of that many
  // nodes that all point at HAProxy (one connection each).
  std::unique_ptr<Firelane> startAgent(const std::string& name, const std::string& output = "",
                                       size_t upstreamNodes = 0) {
    auto f = std::make_unique<Firelane>();
    std::string target = "    Host 127.0.0.1\n    Port " + std::to_string(haproxy.port()) + "\n";
    if (upstreamNodes) {
      std::string up = "[UPSTREAM]\n    name vip\n";
      for (size_t i = 0; i < upstreamNodes; ++i)
        up += "\n[NODE]\n    name vip-" + std::to_string(i) + "\n    host 127.0.0.1\n    port " +
              std::to_string(haproxy.port()) + "\n";
      target = "    Upstream " + f->dir().writeFile("upstream.conf", up) + "\n";
    }
    f->start("[SERVICE]\n"
             "    Flush 0.05\n"
             "    Grace 2\n"
             "    Log_Level info\n"
             "    workers 1\n"
             "    scheduler.base 0.1\n"
             "    scheduler.cap 0.5\n"
             "    HTTP_Server On\n"
             "    HTTP_Listen 127.0.0.1\n"
             "    HTTP_Port 0\n"
             "\n[INPUT]\n"
             "    Name forward\n"
             "    Listen 127.0.0.1\n"
             "    Port 0\n"
             "\n[OUTPUT]\n"
             "    Name forward\n"
             "    Match *\n" +
             target +
             "    Retry_Limit no_limits\n"
             "    require_ack_response on\n"
             "    ack_response_timeout 1\n"
             "    connect_timeout 2\n"
             "    node_retry_interval 0.2\n"
             "    self_hostname " + name + "\n"
             "    tls on\n"
             "    tls.verify on\n"
             "    tls.ca_file " + pki.caFile() + "\n"
             "    shared_key " + kSharedKey + "\n" +
             output);
    return f;
  }

  // Every event id the intake accepted, with how often, and who delivered it.
  std::map<std::string, int> idCounts(std::map<std::string, std::set<std::string>>* byHost = nullptr) const {
    std::map<std::string, int> counts;
    for (const auto& e : intake.events()) {
      if (!e.contains("id")) continue;
      std::string id = e["id"].get<std::string>();
      ++counts[id];
      if (byHost && e.contains("hostname")) (*byHost)[e["hostname"].get<std::string>()].insert(id);
    }
    return counts;
  }
};

// The client side: streams Forward frames of `kPerFrame` events to each agent on its own
// connection, with at most `kWindow` events sent and not yet at the intake (flow control by a
// condition, not by sleeping).
class Streamer {
 public:
  static constexpr size_t kPerFrame = 10;
  static constexpr size_t kWindow = 100;

  explicit Streamer(Tier& tier) : tier_(tier) {}
  void add(Firelane& agent) { clients_.push_back({agent.connect(), "a" + std::to_string(clients_.size()) + "-"}); }

  // One frame to every agent, after waiting for room in the window.
  void round() {
    bool room = tier_.intake.waitFor([&](const FakeIntakeStats& s) { return s.events + kWindow >= sent_.size(); },
                                     kTimeout);
    INFO("intake has " << tier_.intake.eventCount() << " of " << sent_.size() << " events sent");
    REQUIRE(room);
    for (auto& c : clients_) {
      auto events = makeEvents(c.prefix, kPerFrame, c.next);
      c.next += kPerFrame;
      REQUIRE(c.client->send(buildForward("app.tier", events)));
      for (const auto& e : events) sent_.push_back(e.record[0].second);
    }
  }

  // Waits until the intake holds every id sent so far (at least once).
  bool waitAllDelivered() {
    return tier_.intake.waitFor([&](const FakeIntakeStats& s) { return s.events >= sent_.size(); }, kTimeout) &&
           waitUntil([&] { return missing().empty(); }, kTimeout, Millis(50));
  }
  std::vector<std::string> missing() const {
    auto counts = tier_.idCounts();
    std::vector<std::string> out;
    for (const auto& id : sent_)
      if (!counts.count(id)) out.push_back(id);
    return out;
  }
  const std::vector<std::string>& sent() const { return sent_; }

 private:
  struct Client {
    std::unique_ptr<ForwardClient> client;
    std::string prefix;
    size_t next = 0;
  };
  Tier& tier_;
  std::vector<Client> clients_;
  std::vector<std::string> sent_;
};

// An aggregator's forward input error counter for `reason`, from its Prometheus endpoint (the
// monitoring port is logged before "[engine] started"); 0 when absent or unreachable.
uint64_t inputErrors(Process& proc, const std::string& reason) {
  static const std::regex portRe(R"(\[http_server\] serving http://127\.0\.0\.1:(\d+))");
  std::string err = proc.stderrText();
  std::smatch m;
  if (!std::regex_search(err, m, portRe)) return 0;
  auto reply = httpGet(static_cast<uint16_t>(std::stoul(m[1])), "/api/v1/metrics/prometheus");
  if (!reply || reply->status != 200) return 0;
  std::regex sample("firelane_input_errors_total\\{name=\"[^\"]*\",reason=\"" + reason + "\"\\} (\\d+)");
  uint64_t total = 0;
  const std::string& body = reply->body;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), sample); it != std::sregex_iterator(); ++it)
    total += std::stoull((*it)[1]);
  return total;
}

// Sum of the records in every "retrying N records" line of an agent's log: each resend of a chunk.
size_t retriedRecords(const std::string& stderrText) {
  static const std::regex re(R"(\[output:forward:[^\]]*\] retrying (\d+) records)");
  size_t total = 0;
  for (auto it = std::sregex_iterator(stderrText.begin(), stderrText.end(), re); it != std::sregex_iterator(); ++it)
    total += std::stoul((*it)[1]);
  return total;
}

// /api/v1/<path> of a firelane process with HTTP_Server On, parsed; null when unreadable.
nlohmann::json monitorJson(Process& proc, const std::string& path) {
  auto reply = httpGet(monitorPort(proc), path);
  if (!reply || reply->status != 200) return nullptr;
  auto doc = nlohmann::json::parse(reply->body, nullptr, false);
  return doc.is_object() ? doc : nullptr;
}

// An integer of such a document by JSON pointer ("/output/datadog.0/proc_records"); -1 when absent.
int64_t numberAt(const nlohmann::json& doc, const std::string& pointer) {
  nlohmann::json::json_pointer p(pointer);
  if (!doc.is_object() || !doc.contains(p) || !doc[p].is_number_integer()) return -1;
  return doc[p].get<int64_t>();
}

// Mid-stream, an aggregator that carries traffic dies by SIGKILL (no SIGSTOP first) while it holds
// chunks it has taken but not delivered, and comes back on a new port (on the same storage.path).
// What it had taken is then either acknowledged and spooled (Spool: the restart replays it) or not
// acknowledged at all (Delivered: the agents send it again elsewhere). Every event must arrive.
void killAggregatorMidStream(Durability durability) {
  const bool spool = durability == Durability::Spool;
  Tier tier(durability);
  // With ack_after delivered an ack waits for Datadog's answer, which phase 2 holds back for kHold:
  // agents on the surviving aggregators wait longer than that for their acks. The victim's agent
  // does not wait: its session closes with the victim.
  constexpr Millis kHold{4000};
  const std::string agentOutput = spool ? "" : "    ack_response_timeout 8\n";
  std::vector<std::unique_ptr<Firelane>> agents;
  agents.push_back(tier.startAgent("agent-0", agentOutput));
  agents.push_back(tier.startAgent("agent-1", agentOutput));
  Streamer stream(tier);
  for (auto& a : agents) stream.add(*a);
  auto logs = [&] {
    std::string s;
    for (size_t i = 0; i < agents.size(); ++i)
      s += "--- agent " + std::to_string(i) + ":\n" + agents[i]->proc().stderrText();
    for (size_t i = 0; i < kAggregators; ++i) s += "--- " + Tier::name(i) + ":\n" + tier.aggs[i]->proc().stderrText();
    return s + "--- haproxy:\n" + tier.haproxy.proc().stderrText();
  };
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) FAIL(what << "\n" << logs());
  };
  auto resentRecords = [&] {
    size_t n = 0;
    for (auto& a : agents) n += retriedRecords(a->proc().stderrText());
    return n;
  };
  // Records the agents' forward outputs completed, i.e. whose chunks an aggregator acknowledged.
  auto ackedRecords = [&] {
    int64_t n = 0;
    for (auto& a : agents)
      n += std::max<int64_t>(0, numberAt(monitorJson(a->proc(), "/api/v1/metrics"), "/output/forward.0/proc_records"));
    return static_cast<size_t>(n);
  };
  using Clock = std::chrono::steady_clock;

  // Phase 1: the tier carries the stream. Each agent holds one connection; roundrobin put them on
  // two different aggregators.
  for (int i = 0; i < 10; ++i) stream.round();
  require(stream.waitAllDelivered(), "phase 1 did not deliver everything");
  std::map<std::string, std::set<std::string>> byHost;
  tier.idCounts(&byHost);
  CHECK(byHost.size() == 2);
  // The victim is an aggregator that carries traffic.
  size_t victim = kAggregators;
  for (size_t i = 0; i < kAggregators && victim == kAggregators; ++i)
    if (byHost.count(Tier::name(i))) victim = i;
  REQUIRE(victim < kAggregators);
  const std::string victimName = Tier::name(victim);
  const std::string restartedName = victimName + "-restarted";
  // The victim has delivered all it took (its counter follows the intake's answers by a moment).
  int64_t takenBefore = 0;
  int64_t deliveredBefore = -1;
  waitUntil([&] {
    auto m = monitorJson(tier.aggs[victim]->proc(), "/api/v1/metrics");
    takenBefore = numberAt(m, "/input/forward.0/records");
    deliveredBefore = numberAt(m, "/output/datadog.0/proc_records");
    return takenBefore > 0 && deliveredBefore == takenBefore;
  }, kTimeout, Millis(20));
  REQUIRE(takenBefore > 0);
  REQUIRE(deliveredBefore == takenBefore);

  // Phase 2: Datadog holds its answers for kHold, so what the victim takes from now on is still
  // undelivered when it dies. The stream goes on; once the victim took new chunks (and, with the
  // spool, the agents have their acks for everything sent), it is killed with more frames on the way.
  tier.intake.setDelay(kHold);
  const auto held = Clock::now();
  stream.round();
  nlohmann::json victimNow;
  bool taken = waitUntil([&] {
    victimNow = monitorJson(tier.aggs[victim]->proc(), "/api/v1/metrics");
    return numberAt(victimNow, "/input/forward.0/records") > takenBefore &&
           (!spool || ackedRecords() == stream.sent().size());
  }, kTimeout, Millis(20));
  require(taken, "the victim took nothing of the new round (or the agents have no acks for it)");
  if (spool) {
    // Acknowledged and not delivered: only the spool has these chunks now.
    auto st = monitorJson(tier.aggs[victim]->proc(), "/api/v1/storage");
    INFO(st.dump());
    CHECK(numberAt(st, "/output_queues/datadog.0/spool_batches") > 0);
  } else {
    CHECK(ackedRecords() < stream.sent().size());  // the victim's share waits for Datadog
  }
  stream.round();
  REQUIRE(tier.aggs[victim]->proc().sendSignal(SIGKILL));
  const auto killedAt = Clock::now();
  REQUIRE(tier.aggs[victim]->proc().waitExit(kTimeout));
  // Taken and not delivered: every request the victim completed since `held` waits kHold for its
  // answer, and it died before any was due (the intake drops a dead client's held answers unrecorded).
  CHECK(numberAt(victimNow, "/output/datadog.0/proc_records") == deliveredBefore);
  require(killedAt - held < kHold, "the kill came after Datadog's answers were due: the test machine is too slow");
  tier.intake.clearFaults();
  // HAProxy's health check (which wants a HELO) takes the dead node out; the stream goes on.
  auto deadline = Clock::now() + kTimeout;
  while (tier.haproxy.status(victimName) != "DOWN" && Clock::now() < deadline) stream.round();
  require(tier.haproxy.status(victimName) == "DOWN", "haproxy did not mark " + victimName + " DOWN");
  for (int i = 0; i < 10; ++i) stream.round();

  // Phase 3: the victim restarts (on a new port: binding its old one could collide with another
  // test's ephemeral port; on its old storage.path).
  tier.aggs[victim] = tier.startAggregator(victim, restartedName);
  Process& back = tier.aggs[victim]->proc();
  int64_t replayed = 0;
  std::set<std::string> replayedIds;
  if (spool) {
    // Before HAProxy sends it anything, it replays its spool into the intake.
    auto drained = pollHttp(monitorPort(back), "/api/v1/storage", [](const HttpResponse& r) {
      auto st = nlohmann::json::parse(r.body, nullptr, false);
      return numberAt(st, "/output_queues/datadog.0/spool_batches") == 0 &&
             numberAt(st, "/storage_layer/spool/recovered_batches") > 0;
    });
    require(drained.has_value() && drained->status == 200, "the restarted victim did not replay its spool: " +
                                                                (drained ? drained->body : std::string("no answer")));
    require(back.stderrText().find("replaying") != std::string::npos, "no replay logged");
    replayed = numberAt(monitorJson(back, "/api/v1/metrics"), "/output/datadog.0/proc_records");
    std::map<std::string, std::set<std::string>> hosts;
    tier.idCounts(&hosts);
    replayedIds = hosts[restartedName];
    require(replayed > 0 && !replayedIds.empty(), "the replay delivered nothing");
  }
  // HAProxy is pointed at it; its HELO brings it back UP.
  tier.haproxy.moveServer(victimName, tier.aggs[victim]->tcpPort());
  require(tier.haproxy.waitStatus(victimName, "UP"), "the restarted " + victimName + " did not come back UP");
  // Long-lived connections stay where they are, so a new agent joins with three connections through
  // HAProxy: roundrobin over three UP servers gives one to each, the restarted one included.
  agents.push_back(tier.startAgent("agent-2", agentOutput, 3));
  stream.add(*agents.back());
  bool restartedServes = false;
  deadline = Clock::now() + kTimeout;
  while (!restartedServes && Clock::now() < deadline) {
    stream.round();
    restartedServes = numberAt(monitorJson(back, "/api/v1/metrics"), "/output/datadog.0/proc_records") > replayed;
  }
  require(restartedServes, "the restarted " + victimName + " delivered nothing new");

  // Phase 4: the stream ends; every event arrives at least once.
  bool complete = stream.waitAllDelivered();
  auto missing = stream.missing();
  require(complete && missing.empty(), std::to_string(missing.size()) + " of " + std::to_string(stream.sent().size()) +
                                           " events missing, first: " + (missing.empty() ? "" : missing.front()));

  // Duplicates: an event reaches the intake twice only when it went to Datadog twice. Either (a) an
  // agent sent its chunk twice, after an aggregator had taken it but the ack did not come back in
  // time (ack_response_timeout on a loaded machine, or a session cut after the ack was written, as
  // the victim's was): the agents log every resend with its record count; or (b) the restarted
  // victim replayed a batch whose request the intake had accepted just before the kill, with the
  // answer never seen by the victim (a request in flight at the kill): every such batch is among
  // the `replayed` records. So duplicates <= resent + replayed. On an idle machine the count is 0:
  // a spooling victim's acks were in before the kill, an ack_after delivered one had delivered none
  // of what it held, and the intake drops held answers of a dead client unrecorded.
  std::map<std::string, std::set<std::string>> finalHosts;
  auto counts = tier.idCounts(&finalHosts);
  size_t duplicates = 0;
  for (const auto& [id, n] : counts) duplicates += static_cast<size_t>(n - 1);
  WARN("haproxy tier (" << (spool ? "spool" : "ack_after delivered") << "): " << stream.sent().size() << " events, "
                        << duplicates << " duplicates, " << resentRecords() << " records resent by the agents, "
                        << replayed << " replayed from the spool");
  CHECK(duplicates <= resentRecords() + static_cast<size_t>(replayed));
  CHECK(counts.size() == stream.sent().size());
  if (spool) {
    // Events the victim acknowledged and then died with reached the intake through its spool only:
    // no agent sent them again.
    size_t onlyReplayed = 0;
    for (const auto& id : replayedIds) {
      bool elsewhere = false;
      for (const auto& [host, ids] : finalHosts) elsewhere = elsewhere || (host != restartedName && ids.count(id));
      onlyReplayed += !elsewhere;
    }
    CHECK(onlyReplayed > 0);
  } else {
    // What the victim held unacknowledged was sent again through the other aggregators.
    CHECK(resentRecords() > 0);
  }

  // No secret in any log; every request the intake saw was well-formed.
  std::string all = logs();
  CHECK(all.find(kSharedKey) == std::string::npos);
  CHECK(all.find(kApiKey) == std::string::npos);
  CHECK(tier.intake.violations().empty());
}

}  // namespace

TEST_CASE("haproxy tier: a spooling aggregator killed mid-stream replays what it acked", "[e2e][tier][storage]") {
  killAggregatorMidStream(Durability::Spool);
}

TEST_CASE("haproxy tier: an aggregator acking after delivery killed mid-stream loses nothing", "[e2e][tier]") {
  killAggregatorMidStream(Durability::Delivered);
}

TEST_CASE("haproxy tier: a wrong shared_key and an unknown CA are refused", "[e2e][tier][security]") {
  Tier tier;
  const bool unknownCa = GENERATE(false, true);
  auto agent = tier.startAgent("agent-bad", unknownCa ? "    tls.ca_file " + tier.pki.unknownCaFile() + "\n"
                                                       : "    shared_key wrong-Key-77aa\n");
  Streamer stream(tier);
  stream.add(*agent);
  stream.round();
  const std::string agentSays =
      unknownCa ? "certificate verify failed" : "authentication refused by the server: shared_key mismatch";
  const std::string reason = unknownCa ? "tls_failed" : "auth_failed";
  const std::string aggregatorSays = unknownCa ? "tls_failed" : "auth_failed (shared_key mismatch";
  // The agent is refused, retries, and is refused again; the aggregators log and count each refusal.
  for (int i = 0; i < 2; ++i) {
    INFO("agent stderr:\n" << agent->proc().stderrText());
    REQUIRE(agent->proc().waitForStderr(agentSays, kTimeout));
  }
  bool logged = waitUntil([&] {
    for (auto& a : tier.aggs)
      if (a->proc().stderrText().find(aggregatorSays) != std::string::npos) return true;
    return false;
  }, kTimeout);
  CHECK(logged);
  uint64_t counted = 0;
  waitUntil([&] {
    counted = 0;
    for (auto& a : tier.aggs) counted += inputErrors(a->proc(), reason);
    return counted >= 2;
  }, kTimeout, Millis(50));
  CHECK(counted >= 2);
  CHECK(tier.intake.eventCount() == 0);
  CHECK(tier.intake.stats().requests == 0);
  for (auto& a : tier.aggs) CHECK(a->proc().stderrText().find("wrong-Key-77aa") == std::string::npos);
  CHECK(agent->proc().stderrText().find("wrong-Key-77aa") == std::string::npos);
}

}  // namespace firelane::e2e
