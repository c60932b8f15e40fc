// firelane_load: end-to-end throughput of the real binary. Sends N FireLens-like events over forward
// connections (acked at the end of each connection) and reports events/s, MB/s, firelane's CPU
// seconds per million events and its peak RSS. The sink is the null output, or the datadog output
// posting into the fake intake (h2c or HTTP/1.1); then a run ends when the intake accepted every event.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_intake.h"
#include "support/forward_client.h"
#include "support/process.h"

namespace {

using firelane::testsupport::Event;
using firelane::testsupport::ForwardClient;
using firelane::testsupport::ForwardOptions;
using firelane::testsupport::Millis;
using firelane::testsupport::ProcStats;
using firelane::testsupport::TimeFormat;
using Clock = std::chrono::steady_clock;

enum class Mode { Packed, Forward, Message };
enum class Sink { Null, DatadogH2c, DatadogH1 };

struct Args {
  std::string firelane;
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // != 0: use a running instance
  pid_t pid = 0;      // of the running instance, for CPU / RSS (optional)
  uint64_t events = 10'000'000;
  unsigned connections = 1;
  unsigned workers = 0;  // 0: firelane's default
  unsigned batch = 1000;
  unsigned runs = 1;
  Mode mode = Mode::Packed;
  Sink sink = Sink::Null;
  std::string compress = "gzip";
  int compressLevel = 0;  // 0: the output's default
  unsigned inFlight = 4;  // datadog `workers`: requests in flight per firelane worker
  bool json = false;
  bool keepLogs = false;
};

const char* sinkName(Sink s) {
  switch (s) {
    case Sink::Null: return "null";
    case Sink::DatadogH2c: return "datadog-h2c";
    case Sink::DatadogH1: return "datadog-h1";
  }
  return "?";
}

const char* modeName(Mode m) {
  switch (m) {
    case Mode::Packed: return "packed";
    case Mode::Forward: return "forward";
    case Mode::Message: return "message";
  }
  return "?";
}

void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [options]\n"
               "  --firelane PATH     binary to spawn (default: $FIRELANE_BIN, else firelane next to this tool)\n"
               "  --host H --port P   use a running instance instead of spawning one\n"
               "  --pid PID           pid of that running instance (for CPU and RSS numbers)\n"
               "  --events N          events per run (default 10000000)\n"
               "  --connections C     parallel forward connections (default 1)\n"
               "  --workers W         [SERVICE] workers of the spawned instance (default: firelane's)\n"
               "  --mode M            packed (PackedForward, default) | forward | message\n"
               "  --batch B           events per message in packed/forward mode, per write in message "
               "mode (default 1000)\n"
               "  --runs R            repeat R times, a fresh instance each time (default 1)\n"
               "  --sink S            null (default) | datadog-h2c | datadog-h1: the datadog output into\n"
               "                      the fake intake over h2c or HTTP/1.1; the clock stops when the\n"
               "                      intake accepted every event\n"
               "  --compress C        datadog: gzip (default) | zstd | none\n"
               "  --compress-level L  datadog: compression level (default: the output's)\n"
               "  --in-flight N       datadog: requests in flight per worker (`workers`, default 4)\n"
               "  --json              one JSON object per run instead of the readable line\n"
               "  --verbose           echo the spawned instance's stderr at the end\n",
               argv0);
}

std::optional<Args> parseArgs(int argc, char** argv) {
  Args a;
  if (const char* env = std::getenv("FIRELANE_BIN")) a.firelane = env;
  if (a.firelane.empty()) {
    std::string self = argv[0];
    auto slash = self.rfind('/');
    a.firelane = (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/firelane";
  }
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--firelane") a.firelane = value();
    else if (k == "--host") a.host = value();
    else if (k == "--port") a.port = static_cast<uint16_t>(std::stoul(value()));
    else if (k == "--pid") a.pid = static_cast<pid_t>(std::stol(value()));
    else if (k == "--events") a.events = std::stoull(value());
    else if (k == "--connections") a.connections = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--workers") a.workers = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--batch") a.batch = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--runs") a.runs = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--json") a.json = true;
    else if (k == "--compress") a.compress = value();
    else if (k == "--compress-level") a.compressLevel = std::stoi(value());
    else if (k == "--in-flight") a.inFlight = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--sink") {
      std::string v = value();
      if (v == "null") a.sink = Sink::Null;
      else if (v == "datadog-h2c") a.sink = Sink::DatadogH2c;
      else if (v == "datadog-h1") a.sink = Sink::DatadogH1;
      else {
        std::fprintf(stderr, "unknown sink '%s'\n", v.c_str());
        return std::nullopt;
      }
    }
    else if (k == "--verbose") a.keepLogs = true;
    else if (k == "--mode") {
      std::string m = value();
      if (m == "packed") a.mode = Mode::Packed;
      else if (m == "forward") a.mode = Mode::Forward;
      else if (m == "message") a.mode = Mode::Message;
      else {
        std::fprintf(stderr, "unknown mode '%s'\n", m.c_str());
        return std::nullopt;
      }
    } else {
      usage(argv[0]);
      return std::nullopt;
    }
  }
  if (a.sink != Sink::Null && a.port != 0) {
    std::fprintf(stderr, "--sink datadog-* spawns its own instance: it cannot be used with --port\n");
    return std::nullopt;
  }
  if (a.connections == 0 || a.batch == 0 || a.events == 0) {
    std::fprintf(stderr, "--events, --connections and --batch must be > 0\n");
    return std::nullopt;
  }
  return a;
}

// A FireLens-like event: ~180-char log line, 64-hex container id; `salt` varies the log text.
Event makeEvent(uint64_t salt) {
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 64; ++i) id += kHex[(i * 7 + 3) % 16];
  std::string log = "2024-05-01T12:00:00.000Z INFO  [http-nio-8080-exec-" + std::to_string(salt % 200) +
                    "] c.example.api.OrderController - GET /api/v1/orders/" + std::to_string(salt) +
                    " completed status=200 duration_ms=" + std::to_string(salt % 977) + " user=";
  while (log.size() < 180) log += static_cast<char>('a' + log.size() % 26);
  return Event{1714564800, 123456000, {{"log", log}, {"source", "stdout"}, {"container_id", id},
                                       {"container_name", "/app"}}};
}

// One wire payload holding `count` events in the chosen mode (for message mode: `count` Message
// frames back to back), with a chunk option on the last frame when `chunk` is set.
std::string buildPayload(Mode mode, unsigned count, uint64_t salt, const std::optional<std::string>& chunk) {
  std::vector<Event> events;
  events.reserve(count);
  for (unsigned i = 0; i < count; ++i) events.push_back(makeEvent(salt + i));
  ForwardOptions opts;
  opts.chunk = chunk;
  switch (mode) {
    case Mode::Packed:
      return firelane::testsupport::buildPackedForward("app-firelens-0123", events, TimeFormat::EventTimeFixExt8,
                                                       firelane::testsupport::PayloadType::Bin, opts);
    case Mode::Forward:
      return firelane::testsupport::buildForward("app-firelens-0123", events, TimeFormat::EventTimeFixExt8, opts);
    case Mode::Message: {
      std::string out;
      ForwardOptions docker;
      docker.emptyMap = true;
      for (unsigned i = 0; i < count; ++i) {
        const bool last = i + 1 == count;
        out += firelane::testsupport::buildMessage("app-firelens-0123", events[i], TimeFormat::EventTimeFixExt8,
                                                   last && chunk ? opts : docker);
      }
      return out;
    }
  }
  return {};
}

struct RunResult {
  bool ok = true;
  std::string error;
  double seconds = 0;
  uint64_t bytes = 0;
  std::optional<ProcStats> before, after;
  std::optional<int> exitCode;
  uint64_t requests = 0;         // datadog sinks: requests the intake read
  uint64_t intakeBodyBytes = 0;  // and their (compressed) bodies
};

constexpr const char* kBenchApiKey = "bench-api-key";

std::string serviceConfig(const Args& a, uint16_t intakePort) {
  std::string conf = "[SERVICE]\n    Flush 0.2\n    Grace 5\n    Log_Level info\n";
  if (a.workers > 0) conf += "    workers " + std::to_string(a.workers) + "\n";
  conf += "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n";
  if (a.sink == Sink::Null) return conf + "[OUTPUT]\n    Name null\n    Match *\n";
  conf += "[OUTPUT]\n    Name datadog\n    Match *\n    Host 127.0.0.1\n    Port " + std::to_string(intakePort) +
          "\n    TLS off\n    apikey " + kBenchApiKey + "\n    dd_service bench\n    dd_source load\n"
          "    compress " + a.compress + "\n    Retry_Limit no_limits\n    workers " + std::to_string(a.inFlight) +
          "\n    http2 " + (a.sink == Sink::DatadogH2c ? "prior_knowledge" : "off") + "\n";
  if (a.compressLevel > 0) conf += "    compress_level " + std::to_string(a.compressLevel) + "\n";
  return conf;
}

RunResult runOnce(const Args& a, unsigned run) {
  RunResult r;
  std::unique_ptr<firelane::testsupport::TempDir> dir;
  std::unique_ptr<firelane::testsupport::Process> proc;
  std::string host = a.host;
  uint16_t port = a.port;
  pid_t pid = a.pid;
  std::unique_ptr<firelane::testsupport::FakeIntake> intake;
  if (a.sink != Sink::Null) {
    firelane::testsupport::FakeIntakeOptions io;
    io.apiKey = kBenchApiKey;
    io.recordEvents = false;  // counters only: memory stays flat
    io.recordRequests = false;
    intake = std::make_unique<firelane::testsupport::FakeIntake>(io);
    intake->start();
  }
  if (port == 0) {
    dir = std::make_unique<firelane::testsupport::TempDir>("firelane-load");
    std::string conf = dir->writeFile("firelane.conf", serviceConfig(a, intake ? intake->port() : 0));
    proc = firelane::testsupport::Process::spawn(a.firelane, {"-c", conf});
    auto listeners = firelane::testsupport::waitForStartup(*proc, Millis(15000));
    if (!listeners || listeners->empty() || listeners->front().isUnix()) {
      r.ok = false;
      r.error = "firelane did not start; stderr:\n" + proc->stderrText();
      return r;
    }
    host = "127.0.0.1";
    port = listeners->front().port;
    pid = proc->pid();
  }

  // Per-connection shares, payloads built before the clock starts.
  const uint64_t per = a.events / a.connections, extra = a.events % a.connections;
  std::string full = buildPayload(a.mode, a.batch, 0, std::nullopt);
  struct Plan {
    uint64_t events = 0;
    uint64_t fullMessages = 0;
    std::string last;
    std::string chunk;
  };
  std::vector<Plan> plans(a.connections);
  for (unsigned c = 0; c < a.connections; ++c) {
    Plan& p = plans[c];
    p.events = per + (c < extra ? 1 : 0);
    if (p.events == 0) continue;
    uint64_t lastCount = p.events % a.batch == 0 ? a.batch : p.events % a.batch;
    p.fullMessages = (p.events - lastCount) / a.batch;
    p.chunk = "load-" + std::to_string(run) + "-" + std::to_string(c);
    p.last = buildPayload(a.mode, static_cast<unsigned>(lastCount), 7 * c, p.chunk);
  }
  std::vector<std::unique_ptr<ForwardClient>> clients(a.connections);
  for (unsigned c = 0; c < a.connections; ++c) {
    std::string err;
    clients[c] = ForwardClient::connectTcp(host, port, Millis(5000), &err);
    if (!clients[c]) {
      r.ok = false;
      r.error = "connect " + host + ":" + std::to_string(port) + ": " + err;
      return r;
    }
  }

  if (pid > 0) r.before = firelane::testsupport::readProcStats(pid);
  std::atomic<uint64_t> bytes{0};
  std::vector<std::string> errors(a.connections);
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < a.connections; ++c) {
    threads.emplace_back([&, c] {
      const Plan& p = plans[c];
      if (p.events == 0) return;
      ForwardClient& client = *clients[c];
      for (uint64_t m = 0; m < p.fullMessages; ++m) {
        if (!client.send(full, Millis(60000))) {
          errors[c] = client.lastError();
          return;
        }
        bytes += full.size();
      }
      if (!client.sendWithAck(p.last, p.chunk, Millis(120000))) {
        errors[c] = client.lastError();
        return;
      }
      bytes += p.last.size();
    });
  }
  for (auto& t : threads) t.join();
  if (intake && !intake->waitForEvents(a.events, Millis(600000))) {
    r.ok = false;
    r.error += "the intake accepted only " + std::to_string(intake->eventCount()) + " events\n";
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.bytes = bytes;
  if (pid > 0) r.after = firelane::testsupport::readProcStats(pid);
  for (unsigned c = 0; c < a.connections; ++c) {
    if (!errors[c].empty()) {
      r.ok = false;
      r.error += "connection " + std::to_string(c) + ": " + errors[c] + "\n";
    }
  }
  clients.clear();
  if (proc) {
    proc->sendSignal(SIGTERM);
    r.exitCode = proc->waitExit(Millis(15000));
    if (!r.exitCode) {
      r.ok = false;
      r.error += "firelane did not exit within 15 s of SIGTERM\n";
    } else if (*r.exitCode != 0) {
      r.ok = false;
      r.error += "firelane exited with " + std::to_string(*r.exitCode) + "\n";
    }
    if (a.keepLogs || !r.ok) std::fprintf(stderr, "--- firelane stderr ---\n%s", proc->stderrText().c_str());
  }
  if (intake) {
    auto st = intake->stats();
    r.requests = st.requests;
    r.intakeBodyBytes = st.bodyBytes;
    if (st.violations > 0) {
      r.ok = false;
      r.error += std::to_string(st.violations) + " intake violations\n";
    }
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parseArgs(argc, argv);
  if (!parsed) return 2;
  const Args& a = *parsed;
  int status = 0;
  for (unsigned run = 0; run < a.runs; ++run) {
    RunResult r;
    try {
      r = runOnce(a, run);
    } catch (const std::exception& e) {
      r.ok = false;
      r.error = e.what();
    }
    if (!r.ok) status = 1;
    double eps = r.seconds > 0 ? static_cast<double>(a.events) / r.seconds : 0;
    double mbps = r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0;
    double cpu = -1, cpuPerM = -1, peakMb = -1;
    if (r.before && r.after) {
      cpu = r.after->cpuSeconds() - r.before->cpuSeconds();
      cpuPerM = cpu / (static_cast<double>(a.events) / 1e6);
      peakMb = static_cast<double>(r.after->peakRssBytes) / 1e6;
    }
    std::string workers = a.workers > 0 ? std::to_string(a.workers) : "default";
    if (a.json) {
      std::printf("{\"run\":%u,\"ok\":%s,\"sink\":\"%s\",\"requests\":%llu,\"intake_body_bytes\":%llu,"
                  "\"mode\":\"%s\",\"events\":%llu,\"connections\":%u,\"batch\":%u,"
                  "\"workers\":\"%s\",\"seconds\":%.3f,\"bytes\":%llu,\"events_per_sec\":%.0f,\"mb_per_sec\":%.1f,"
                  "\"cpu_seconds\":%.3f,\"cpu_seconds_per_million_events\":%.3f,\"peak_rss_mb\":%.1f}\n",
                  run, r.ok ? "true" : "false", sinkName(a.sink), static_cast<unsigned long long>(r.requests),
                  static_cast<unsigned long long>(r.intakeBodyBytes), modeName(a.mode), static_cast<unsigned long long>(a.events),
                  a.connections, a.batch, workers.c_str(), r.seconds, static_cast<unsigned long long>(r.bytes), eps,
                  mbps, cpu, cpuPerM, peakMb);
    } else {
      std::printf("run %u %s: sink=%s mode=%s events=%llu connections=%u batch=%u workers=%s | %.2f s, %.0f events/s, "
                  "%.1f MB/s",
                  run, r.ok ? "ok" : "FAILED", sinkName(a.sink), modeName(a.mode), static_cast<unsigned long long>(a.events),
                  a.connections, a.batch, workers.c_str(), r.seconds, eps, mbps);
      if (cpu >= 0) {
        std::printf(", firelane cpu %.2f s (%.3f s per 1M events), peak RSS %.1f MB", cpu, cpuPerM, peakMb);
      }
      if (a.sink != Sink::Null) {
        std::printf(", %llu requests, %.1f MB compressed", static_cast<unsigned long long>(r.requests),
                    static_cast<double>(r.intakeBodyBytes) / 1e6);
      }
      std::printf("\n");
    }
    if (!r.ok) std::fprintf(stderr, "run %u failed: %s\n", run, r.error.c_str());
    std::fflush(stdout);
  }
  return status;
}
