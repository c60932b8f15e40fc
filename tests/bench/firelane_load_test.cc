// The load tool's scenarios work end to end (small runs): the tool spawns firelane, feeds it, and its
// sinks accept every expected event with no protocol violation, or the tool exits non-zero. Figures
// are not asserted here (benchmarks measure, tests do not time); only the offered rate's lower bound.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

std::string loadBin() { return std::string(FIRELANE_BUILD_DIR) + "/firelane_load"; }

bool haveLoadBin() {
  struct stat st {};
  return ::stat(loadBin().c_str(), &st) == 0;
}

// Test cases return early (with a warning) when the tool was not built (-DFIRELANE_BENCH=OFF, as in the
// sanitizer build).
#define SKIP_WITHOUT_LOAD_BIN()                                       \
  do {                                                                \
    if (!haveLoadBin()) {                                             \
      WARN("firelane_load not built (FIRELANE_BENCH off): skipped"); \
      return;                                                         \
    }                                                                 \
  } while (0)

// Runs the tool with --json and returns its one line per run, parsed; REQUIREs exit 0.
std::vector<nlohmann::json> runLoad(std::vector<std::string> args) {
  args.insert(args.end(), {"--firelane", firelaneBin(), "--json"});
  auto proc = Process::spawn(loadBin(), args);
  auto code = proc->waitExit(Millis(120000));
  std::string out = proc->readStdoutToEof(kTimeout);
  INFO("stdout:\n" << out << "\nstderr:\n" << proc->stderrText());
  REQUIRE(code.has_value());
  REQUIRE(*code == 0);
  std::vector<nlohmann::json> runs;
  size_t start = 0;
  for (size_t nl = out.find('\n'); nl != std::string::npos; start = nl + 1, nl = out.find('\n', start)) {
    auto j = nlohmann::json::parse(out.substr(start, nl - start), nullptr, false);
    if (!j.is_discarded()) runs.push_back(std::move(j));
  }
  return runs;
}

}  // namespace

TEST_CASE("firelane_load: forward-cloudwatch delivers every event as well-formed PutLogEvents", "[bench][load]") {
  SKIP_WITHOUT_LOAD_BIN();
  auto runs = runLoad({"--scenario", "forward-cloudwatch", "--events", "3000"});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["sink"] == "cloudwatch");
  CHECK(runs[0]["expected_at_sink"] == 3000);
  CHECK(runs[0]["requests"].get<uint64_t>() >= 1);
  // Every accepted event carried its send stamp back: latency was measured.
  CHECK(runs[0]["latency_p99_ms"].get<double>() >= runs[0]["latency_p50_ms"].get<double>());
  CHECK(runs[0]["latency_p50_ms"].get<double>() > 0);
}

TEST_CASE("firelane_load: stdin-datadog pipes lines and firelane exits 0 at EOF", "[bench][load]") {
  SKIP_WITHOUT_LOAD_BIN();
  auto runs = runLoad({"--scenario", "stdin-datadog", "--events", "2500"});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["load"] == "stdin");
  CHECK(runs[0]["expected_at_sink"] == 2500);
  CHECK(runs[0]["latency_p50_ms"].get<double>() > 0);
}

TEST_CASE("firelane_load: ecs + grep scenario drops the DEBUG lines and enriches the rest", "[bench][load]") {
  SKIP_WITHOUT_LOAD_BIN();
  auto runs = runLoad({"--scenario", "forward-datadog-ecs-grep", "--events", "3000"});
  REQUIRE(runs.size() == 1);
  // ok also means: every accepted event carried the task ARN of the fake metadata endpoint.
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["ecs_grep"] == true);
  const auto expected = runs[0]["expected_at_sink"].get<uint64_t>();
  CHECK(expected >= 2690);  // every 10th line is DEBUG
  CHECK(expected <= 2710);
}

TEST_CASE("firelane_load: --compare runs the cloudwatch and stdin and ecs-grep scenarios through a second binary",
          "[bench][load][compare]") {
  SKIP_WITHOUT_LOAD_BIN();
  // No Fluent Bit here: firelane itself is the second binary, run with the compare config (fixed
  // ports, Fluent Bit's keys; `BIN --version` names firelane, so its own stdin and ecs keys).
  struct Case {
    const char* scenario;
    uint64_t events;
    bool filtered;  // ecs-grep drops the DEBUG lines (every 10th)
  };
  for (const Case& c : {Case{"forward-cloudwatch", 2000, false}, Case{"stdin-datadog", 2000, false},
                        Case{"forward-datadog-ecs-grep", 2000, true}}) {
    INFO("scenario " << c.scenario);
    auto runs = runLoad({"--scenario", c.scenario, "--events", std::to_string(c.events), "--compare", firelaneBin()});
    REQUIRE(runs.size() == 2);
    CHECK(runs[0]["config"] == "native");
    CHECK(runs[1]["config"] == "firelane");
    for (const auto& r : runs) {
      INFO("run " << r.dump());
      CHECK(r["ok"] == true);
      const auto expected = r["expected_at_sink"].get<uint64_t>();
      if (c.filtered) {
        CHECK(expected >= c.events * 9 / 10 - 10);
        CHECK(expected <= c.events * 9 / 10 + 10);
      } else {
        CHECK(expected == c.events);
      }
      // Every event accepted, none twice.
      CHECK(r["accepted_at_sink"].get<uint64_t>() == expected);
      CHECK(r["requests"].get<uint64_t>() >= 1);
    }
  }
}

TEST_CASE("firelane_load: forward-datadog-slow-intake delivers everything through a capacity-limited intake",
          "[bench][load]") {
  SKIP_WITHOUT_LOAD_BIN();
  // Short retry backoff: requests refused with 429 come back within a second.
  auto runs = runLoad({"--scenario", "forward-datadog-slow-intake", "--events", "5000", "--scheduler-base", "0.2",
                       "--scheduler-cap", "1"});
  REQUIRE(runs.size() == 1);
  const auto& r = runs[0];
  CHECK(r["ok"] == true);
  CHECK(r["sink"] == "datadog-h2c");
  CHECK(r["in_flight"] == 16);
  CHECK(r["intake_capacity"] == 4);
  CHECK(r["intake_service_ms"] == 20);
  CHECK(r["concurrency"] == "default");  // no --concurrency: the key is not written
  CHECK(r["accepted_at_sink"] == 5000);
  CHECK(r["accepted_at_sink"] == r["expected_at_sink"]);
  // The intake never had more than its capacity in service; at most 1000 entries per accepted request.
  CHECK(r["max_in_service"].get<uint64_t>() >= 1);
  CHECK(r["max_in_service"].get<uint64_t>() <= 4);
  CHECK(r["requests"].get<uint64_t>() - r["responses_429"].get<uint64_t>() >= 5);
}

TEST_CASE("firelane_load: --acks puts a chunk on every message and every ack comes back", "[bench][load][acks]") {
  SKIP_WITHOUT_LOAD_BIN();
  struct Case {
    const char* scenario;
    uint64_t events;
    uint64_t messages;  // one per event in message mode; --batch 100 in packed mode
    std::vector<std::string> extra;
  };
  // Message mode with a window smaller than the run (the sender waits for acks), packed mode with
  // several connections; the datadog sink checks every event arrived.
  for (const Case& c : {Case{"forward-datadog-message", 3000, 3000, {"--ack-window", "16"}},
                        Case{"forward-datadog-packed", 3000, 30, {"--batch", "100", "--connections", "2"}}}) {
    INFO("scenario " << c.scenario);
    std::vector<std::string> args = {"--scenario", c.scenario, "--events", std::to_string(c.events), "--acks"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    auto runs = runLoad(args);
    REQUIRE(runs.size() == 1);
    const auto& r = runs[0];
    INFO("run " << r.dump());
    CHECK(r["ok"] == true);
    CHECK(r["acks_enabled"] == true);
    CHECK(r["ack_messages"] == c.messages);
    CHECK(r["acks"] == c.messages);
    CHECK(r["wrong_acks"] == 0);
    CHECK(r["events_sent"] == c.events);
    CHECK(r["expected_at_sink"] == c.events);
    CHECK(r["accepted_at_sink"] == c.events);
    CHECK(r["ack_p50_ms"].get<double>() > 0);
    CHECK(r["ack_p99_ms"].get<double>() >= r["ack_p50_ms"].get<double>());
  }
}

TEST_CASE("firelane_load: --acks fails the run on an ack no message asked for", "[bench][load][acks]") {
  SKIP_WITHOUT_LOAD_BIN();
  // A forward server on 127.0.0.1 that answers the first bytes it reads with an ack for a chunk the
  // tool never sent, then reads until the tool closes (bounded).
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const uint16_t port = ntohs(addr.sin_port);
  std::thread server([listener] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    pollfd lp{listener, POLLIN, 0};
    if (::poll(&lp, 1, 30000) <= 0) return;
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    // {"ack": "<24 chars>"}: well-formed, but no outstanding message's id.
    const std::string wrong = std::string("\x81\xa3" "ack\xb8", 6) + "bm90LWEtbG9hZC10b29sLWlk";
    bool answered = false;
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, 1000) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      if (!answered) answered = ::send(fd, wrong.data(), wrong.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(wrong.size());
    }
    ::close(fd);
  });
  auto proc = Process::spawn(loadBin(), {"--host", "127.0.0.1", "--port", std::to_string(port), "--mode", "message",
                                         "--batch", "1", "--events", "100000", "--acks", "--json"});
  auto code = proc->waitExit(Millis(60000));
  server.join();
  ::close(listener);
  const std::string out = proc->readStdoutToEof(kTimeout);
  INFO("stdout:\n" << out << "\nstderr:\n" << proc->stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  auto run = nlohmann::json::parse(out.substr(0, out.find('\n')), nullptr, false);
  REQUIRE(!run.is_discarded());
  CHECK(run["ok"] == false);
  CHECK(run["wrong_acks"] == 1);
  CHECK(run["acks"].get<uint64_t>() < run["ack_messages"].get<uint64_t>());
  CHECK(proc->stderrText().find("which no outstanding message carries") != std::string::npos);
}

TEST_CASE("firelane_load: --record-size sets the log line length and the sink still finds every stamp",
          "[bench][load]") {
  SKIP_WITHOUT_LOAD_BIN();
  auto base = runLoad({"--scenario", "forward-datadog-message", "--events", "2000"});
  auto big = runLoad({"--scenario", "forward-datadog-message", "--events", "2000", "--record-size", "2000"});
  REQUIRE(base.size() == 1);
  REQUIRE(big.size() == 1);
  INFO("default " << base[0].dump() << "\n--record-size 2000 " << big[0].dump());
  CHECK(base[0]["ok"] == true);
  CHECK(big[0]["ok"] == true);
  CHECK(base[0]["record_size"] == 150);  // random padding's default
  CHECK(big[0]["record_size"] == 2000);
  // A Message frame is its log line plus ~100 bytes (time, the other fields, msgpack headers); random
  // words overshoot the size by less than one word.
  const double basePer = base[0]["bytes_per_event"].get<double>();
  const double bigPer = big[0]["bytes_per_event"].get<double>();
  CHECK(basePer > 150);
  CHECK(basePer < 400);
  CHECK(bigPer > 2000);
  CHECK(bigPer < 2250);
  CHECK(bigPer - basePer > 1800);
  // Every event arrived, and the send stamp at the end of each long line was found in it.
  CHECK(big[0]["accepted_at_sink"] == 2000);
  CHECK(big[0]["latency_samples"] == big[0]["accepted_at_sink"]);
  CHECK(big[0]["latency_p50_ms"].get<double>() > 0);
}

TEST_CASE("firelane_load: --rate paces the sender", "[bench][load]") {
  SKIP_WITHOUT_LOAD_BIN();
  // 3000 events at 5000/s cannot take less than 0.6 s (a lower bound only: a loaded machine is slower).
  auto runs = runLoad({"--scenario", "forward-datadog-message", "--events", "3000", "--rate", "5000"});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["offered_rate"] == 5000);
  CHECK(runs[0]["seconds"].get<double>() >= 0.55);
}

TEST_CASE("firelane_load: --storage full and normal run through the filesystem spool", "[bench][load][storage]") {
  SKIP_WITHOUT_LOAD_BIN();
  auto full = runLoad({"--scenario", "forward-datadog-packed", "--events", "3000", "--storage", "full"});
  REQUIRE(full.size() == 1);
  CHECK(full[0]["ok"] == true);
  CHECK(full[0]["storage"] == "full");
  CHECK(full[0]["expected_at_sink"] == 3000);
  // The batches went through the spool folder: ~250 bytes of record per event were written there.
  CHECK(full[0]["spool_peak_bytes"].get<uint64_t>() > 3000 * 200);

  auto normal = runLoad({"--scenario", "forward-datadog-message", "--events", "2000", "--storage", "normal"});
  REQUIRE(normal.size() == 1);
  CHECK(normal[0]["ok"] == true);
  CHECK(normal[0]["storage"] == "normal");
  CHECK(normal[0]["spool_peak_bytes"].get<uint64_t>() > 2000 * 200);

  auto memory = runLoad({"--scenario", "forward-datadog-message", "--events", "2000"});
  REQUIRE(memory.size() == 1);
  CHECK(memory[0]["storage"] == "memory");
  CHECK(memory[0]["spool_peak_bytes"] == 0);
}

TEST_CASE("firelane_load: the outage scenario spools while the intake is down and delivers every event once",
          "[bench][load][storage]") {
  SKIP_WITHOUT_LOAD_BIN();
  auto runs = runLoad({"--scenario", "outage", "--bytes", "3M", "--outage", "2", "--drain-timeout", "60"});
  REQUIRE(runs.size() == 1);
  const auto& r = runs[0];
  CHECK(r["ok"] == true);
  CHECK(r["offered_bytes"].get<uint64_t>() >= 3'000'000);
  CHECK(r["offered_events"].get<uint64_t>() > 0);
  CHECK(r["delivered_events"] == r["offered_events"]);
  CHECK(r["duplicates"] == 0);
  CHECK(r["strays"] == 0);
  CHECK(r["drain_seconds"].get<double>() >= 0);
  // After the drain only the active segment is left (delivered segments are deleted).
  CHECK(r["spool_freed_seconds"].get<double>() >= 0);
  CHECK(r["spool_after_bytes"].get<uint64_t>() <= (8u << 20) + (64u << 10));
  // Everything offered while the intake was down went to disk (one segment, never deleted while it is
  // the active one); a stored event is its record plus 12 bytes, a PackedForward entry its record plus
  // 11, so the spool holds about what was offered.
  CHECK(r["spool_peak_bytes"].get<uint64_t>() >= 2'900'000);
  CHECK(r["intake_body_bytes"].get<uint64_t>() > 0);
}

}  // namespace firelane::e2e
