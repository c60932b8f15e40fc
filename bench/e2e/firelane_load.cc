// firelane_load: end-to-end throughput of the real binary. Sends N FireLens-like events over forward
// connections (acked at the end of each connection) and reports events/s, MB/s, firelane's CPU
// seconds per million events and its peak RSS. The sink is the null output, or the datadog output
// posting into the fake intake (h2c or HTTP/1.1); then a run ends when the intake accepted every event.
// Named scenarios (--scenario) print a table and can write JSON and an SVG chart of /proc samples.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
enum class Padding { Repeat, Random };

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
  Padding padding = Padding::Repeat;
  std::string compress = "gzip";
  int compressLevel = 0;  // 0: the output's default
  unsigned inFlight = 4;  // datadog `workers`: requests in flight per firelane worker
  bool json = false;
  bool keepLogs = false;
  std::string scenario;   // named scenario (sets the options above; later flags override)
  std::string jsonOut;    // write the runs (with 100 ms samples) as JSON here
  std::string svgOut;     // and a chart of throughput / CPU / RSS over time here
  std::string compare;    // another binary (e.g. fluent-bit) run through the same scenario
};

// Named scenarios: the workloads issue 7 compares with Fluent Bit.
struct Scenario {
  const char* name;
  Mode mode;
  unsigned batch;
  Sink sink;
  Padding padding;
  uint64_t events;
  const char* what;
};
const Scenario kScenarios[] = {
    {"forward-null-packed", Mode::Packed, 1000, Sink::Null, Padding::Repeat, 3'000'000,
     "PackedForward, 1000 events per message -> null"},
    {"forward-null-message", Mode::Message, 1, Sink::Null, Padding::Repeat, 300'000,
     "Message mode, one frame per write (Docker) -> null"},
    {"forward-datadog-packed", Mode::Packed, 1000, Sink::DatadogH1, Padding::Repeat, 1'000'000,
     "PackedForward, repetitive logs -> datadog gzip, HTTP/1.1"},
    {"forward-datadog-message", Mode::Message, 1, Sink::DatadogH1, Padding::Random, 300'000,
     "Message mode one frame per write, random-word logs -> datadog gzip, HTTP/1.1"},
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
               "  --padding P         repeat (default: ~180-char log lines differing in a few digits) |\n"
               "                      random (random words from 300, gzip ratio ~8.8 like real logs)\n"
               "  --compress C        datadog: gzip (default) | zstd | none\n"
               "  --compress-level L  datadog: compression level (default: the output's)\n"
               "  --in-flight N       datadog: requests in flight per worker (`workers`, default 4)\n"
               "  --json              one JSON object per run instead of the readable line\n"
               "  --scenario NAME     forward-null-packed | forward-null-message | forward-datadog-packed |\n"
               "                      forward-datadog-message (sets mode, batch, sink, padding, events;\n"
               "                      options after it override)\n"
               "  --json-out FILE     write every run with its 100 ms /proc samples as JSON\n"
               "  --svg FILE          write a self-contained SVG chart (events/s, CPU, RSS over time)\n"
               "  --compare BIN       also run BIN (e.g. fluent-bit) through the same runs, with a\n"
               "                      Fluent Bit-compatible config, and print both\n"
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
    else if (k == "--json-out") a.jsonOut = value();
    else if (k == "--svg") a.svgOut = value();
    else if (k == "--compare") a.compare = value();
    else if (k == "--scenario") {
      std::string v = value();
      const Scenario* found = nullptr;
      for (const auto& sc : kScenarios)
        if (v == sc.name) found = &sc;
      if (!found) {
        std::fprintf(stderr, "unknown scenario '%s'\n", v.c_str());
        return std::nullopt;
      }
      a.scenario = v;
      a.mode = found->mode;
      a.batch = found->batch;
      a.sink = found->sink;
      a.padding = found->padding;
      a.events = found->events;
    }
    else if (k == "--padding") {
      std::string v = value();
      if (v == "repeat") a.padding = Padding::Repeat;
      else if (v == "random") a.padding = Padding::Random;
      else {
        std::fprintf(stderr, "unknown padding '%s'\n", v.c_str());
        return std::nullopt;
      }
    }
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

// A FireLens-like event: 64-hex container id and a log line that `salt` varies. Repeat: ~180 chars
// differing in a few digits (gzip ~30x). Random: a ~150-char line of random words from a 300-word
// vocabulary, which compresses like real application logs (gzip level 6 ~8.8x on Datadog's JSON).
Event makeEvent(uint64_t salt, Padding padding) {
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 64; ++i) id += kHex[(i * 7 + 3) % 16];
  std::string log;
  if (padding == Padding::Repeat) {
    log = "2024-05-01T12:00:00.000Z INFO  [http-nio-8080-exec-" + std::to_string(salt % 200) +
          "] c.example.api.OrderController - GET /api/v1/orders/" + std::to_string(salt) +
          " completed status=200 duration_ms=" + std::to_string(salt % 977) + " user=";
    while (log.size() < 180) log += static_cast<char>('a' + log.size() % 26);
  } else {
    static const std::vector<std::string> vocab = [] {
      std::vector<std::string> v;
      uint64_t x = 0x9e3779b97f4a7c15ull;
      for (int i = 0; i < 300; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        std::string w;
        for (uint64_t n = 3 + x % 8, y = x >> 3; n > 0; --n, y /= 26) w += static_cast<char>('a' + y % 26);
        v.push_back(w);
      }
      return v;
    }();
    uint64_t x = salt * 0x2545f4914f6cdd1dull + 0x9e3779b97f4a7c15ull;
    char prefix[40];
    std::snprintf(prefix, sizeof(prefix), "2024-05-01T12:00:%02u.%03uZ INFO ", static_cast<unsigned>(salt / 1000 % 60),
                  static_cast<unsigned>(salt % 1000));
    log = prefix;
    while (log.size() < 150) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      log += vocab[x % vocab.size()];
      log += ' ';
    }
    log.pop_back();
  }
  return Event{1714564800, 123456000, {{"log", log}, {"source", "stdout"}, {"container_id", id},
                                       {"container_name", "/app"}}};
}

// One wire payload holding `count` events in the chosen mode (for message mode: `count` Message
// frames back to back), with a chunk option on the last frame when `chunk` is set.
std::string buildPayload(Mode mode, Padding padding, unsigned count, uint64_t salt,
                         const std::optional<std::string>& chunk) {
  std::vector<Event> events;
  events.reserve(count);
  for (unsigned i = 0; i < count; ++i) events.push_back(makeEvent(salt + i, padding));
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

struct Sample {
  double t = 0;        // seconds since the clock started
  double cpu = 0;      // the process's CPU seconds since the clock started
  uint64_t rss = 0;    // VmRSS
  uint64_t events = 0; // events written to the sockets so far
};

struct RunResult {
  std::string binary;
  std::vector<Sample> samples;
  bool ok = true;
  std::string error;
  double seconds = 0;
  uint64_t bytes = 0;
  std::optional<ProcStats> before, after;
  std::optional<int> exitCode;
  uint64_t requests = 0;         // datadog sinks: requests the intake read
  uint64_t intakeBodyBytes = 0;  // and their (compressed) bodies
  uint64_t jsonBytes = 0;        // the bodies decompressed
  uint64_t zlib6Bytes = 0;       // the same JSON as gzip level 6 (the reference size)
};

constexpr const char* kBenchApiKey = "bench-api-key";

// compatPort != 0: a config Fluent Bit also runs (fixed port, no firelane-only keys).
std::string serviceConfig(const Args& a, uint16_t intakePort, uint16_t compatPort = 0) {
  const bool compat = compatPort != 0;
  std::string conf = "[SERVICE]\n    Flush 0.2\n    Grace 5\n    Log_Level info\n";
  if (a.workers > 0 && !compat) conf += "    workers " + std::to_string(a.workers) + "\n";
  conf += "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port " + std::to_string(compatPort) + "\n";
  if (a.sink == Sink::Null) return conf + "[OUTPUT]\n    Name null\n    Match *\n";
  conf += "[OUTPUT]\n    Name datadog\n    Match *\n    Host 127.0.0.1\n    Port " + std::to_string(intakePort) +
          "\n    TLS off\n    apikey " + kBenchApiKey + "\n    dd_service bench\n    dd_source load\n"
          "    compress " + a.compress + "\n    Retry_Limit no_limits\n    workers " + std::to_string(a.inFlight) + "\n";
  if (compat) return conf;
  conf += std::string("    http2 ") + (a.sink == Sink::DatadogH2c ? "prior_knowledge" : "off") + "\n";
  if (a.compressLevel > 0) conf += "    compress_level " + std::to_string(a.compressLevel) + "\n";
  return conf;
}

// A free TCP port on 127.0.0.1 (for binaries that cannot report the port they bound).
uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// `compat`: run `binary` (e.g. fluent-bit) with a Fluent Bit-compatible config on a chosen port.
RunResult runOnce(const Args& a, unsigned run, const std::string& binary, bool compat) {
  RunResult r;
  r.binary = binary;
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
    io.zlibReference = a.compress == "gzip";
    intake = std::make_unique<firelane::testsupport::FakeIntake>(io);
    intake->start();
  }
  if (port == 0) {
    dir = std::make_unique<firelane::testsupport::TempDir>("firelane-load");
    host = "127.0.0.1";
    if (compat) {
      port = freePort();
      std::string conf = dir->writeFile("compare.conf", serviceConfig(a, intake ? intake->port() : 0, port));
      proc = firelane::testsupport::Process::spawn(binary, {"-c", conf});
      // It cannot tell us when it listens: poll connect (bounded).
      auto deadline = Clock::now() + std::chrono::seconds(15);
      bool up = false;
      while (!up && Clock::now() < deadline && proc->running()) {
        up = ForwardClient::connectTcp(host, port, Millis(200), nullptr) != nullptr;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!up) {
        r.ok = false;
        r.error = binary + " did not listen on port " + std::to_string(port) + "; stderr:\n" + proc->stderrText();
        return r;
      }
    } else {
      std::string conf = dir->writeFile("firelane.conf", serviceConfig(a, intake ? intake->port() : 0));
      proc = firelane::testsupport::Process::spawn(binary, {"-c", conf});
      auto listeners = firelane::testsupport::waitForStartup(*proc, Millis(15000));
      if (!listeners || listeners->empty() || listeners->front().isUnix()) {
        r.ok = false;
        r.error = "firelane did not start; stderr:\n" + proc->stderrText();
        return r;
      }
      port = listeners->front().port;
    }
    pid = proc->pid();
  }

  // Per-connection shares, payloads built before the clock starts.
  const uint64_t per = a.events / a.connections, extra = a.events % a.connections;
  // A pool of distinct payloads (~8k distinct events) cycled through, so compression sees varied
  // input rather than one message repeated.
  std::vector<std::string> pool;
  size_t poolSize = std::clamp<size_t>(8192 / a.batch, 1, 4096);
  for (size_t i = 0; i < poolSize; ++i)
    pool.push_back(buildPayload(a.mode, a.padding, a.batch, i * a.batch + 1'000'000, std::nullopt));
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
    p.last = buildPayload(a.mode, a.padding, static_cast<unsigned>(lastCount), 7 * c, p.chunk);
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
  std::atomic<uint64_t> eventsSent{0};
  std::atomic<bool> sampling{true};
  std::thread sampler;
  std::vector<std::string> errors(a.connections);
  auto start = Clock::now();
  if (pid > 0 && r.before) {
    // /proc every 100 ms: throughput, CPU and RSS over time for the JSON and the chart.
    sampler = std::thread([&, pid] {
      const double cpu0 = r.before->cpuSeconds();
      while (sampling.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto st = firelane::testsupport::readProcStats(pid);
        if (!st) break;
        r.samples.push_back(Sample{std::chrono::duration<double>(Clock::now() - start).count(),
                                   st->cpuSeconds() - cpu0, st->rssBytes, eventsSent.load()});
      }
    });
  }
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < a.connections; ++c) {
    threads.emplace_back([&, c] {
      const Plan& p = plans[c];
      if (p.events == 0) return;
      ForwardClient& client = *clients[c];
      for (uint64_t m = 0; m < p.fullMessages; ++m) {
        const std::string& full = pool[(m + c) % pool.size()];
        if (!client.send(full, Millis(60000))) {
          errors[c] = client.lastError();
          return;
        }
        bytes += full.size();
        eventsSent += a.batch;
      }
      if (!client.sendWithAck(p.last, p.chunk, Millis(120000))) {
        errors[c] = client.lastError();
        return;
      }
      bytes += p.last.size();
      eventsSent += p.events - p.fullMessages * a.batch;
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
  sampling = false;
  if (sampler.joinable()) sampler.join();
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
    r.jsonBytes = st.decodedBytes;
    r.zlib6Bytes = st.zlib6Bytes;
    if (st.violations > 0) {
      r.ok = false;
      r.error += std::to_string(st.violations) + " intake violations\n";
    }
  }
  return r;
}

struct Row {
  unsigned run;
  RunResult r;
  double eps = 0, mbps = 0, cpu = -1, cpuPerM = -1, peakMb = -1;
};

Row summarize(const Args& a, unsigned run, RunResult&& r) {
  Row row{run, std::move(r)};
  const RunResult& x = row.r;
  row.eps = x.seconds > 0 ? static_cast<double>(a.events) / x.seconds : 0;
  row.mbps = x.seconds > 0 ? static_cast<double>(x.bytes) / 1e6 / x.seconds : 0;
  if (x.before && x.after) {
    row.cpu = x.after->cpuSeconds() - x.before->cpuSeconds();
    row.cpuPerM = row.cpu / (static_cast<double>(a.events) / 1e6);
    row.peakMb = static_cast<double>(x.after->peakRssBytes) / 1e6;
  }
  return row;
}

std::string baseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void printLine(const Args& a, const Row& row) {
  const RunResult& r = row.r;
  std::string workers = a.workers > 0 ? std::to_string(a.workers) : "default";
  if (a.json) {
    std::printf("{\"binary\":\"%s\",\"run\":%u,\"ok\":%s,\"sink\":\"%s\",\"requests\":%llu,\"intake_body_bytes\":%llu,"
                "\"mode\":\"%s\",\"events\":%llu,\"connections\":%u,\"batch\":%u,"
                "\"workers\":\"%s\",\"seconds\":%.3f,\"bytes\":%llu,\"events_per_sec\":%.0f,\"mb_per_sec\":%.1f,"
                "\"cpu_seconds\":%.3f,\"cpu_seconds_per_million_events\":%.3f,\"peak_rss_mb\":%.1f,"
                "\"padding\":\"%s\",\"json_bytes\":%llu,\"zlib6_bytes\":%llu}\n",
                baseName(r.binary).c_str(), row.run, r.ok ? "true" : "false", sinkName(a.sink),
                static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.intakeBodyBytes),
                modeName(a.mode), static_cast<unsigned long long>(a.events), a.connections, a.batch, workers.c_str(),
                r.seconds, static_cast<unsigned long long>(r.bytes), row.eps, row.mbps, row.cpu, row.cpuPerM,
                row.peakMb, a.padding == Padding::Random ? "random" : "repeat",
                static_cast<unsigned long long>(r.jsonBytes), static_cast<unsigned long long>(r.zlib6Bytes));
    return;
  }
  std::printf("run %u %s %s: sink=%s mode=%s padding=%s events=%llu connections=%u batch=%u workers=%s | %.2f s, "
              "%.0f events/s, %.1f MB/s",
              row.run, baseName(r.binary).c_str(), r.ok ? "ok" : "FAILED", sinkName(a.sink), modeName(a.mode),
              a.padding == Padding::Random ? "random" : "repeat", static_cast<unsigned long long>(a.events),
              a.connections, a.batch, workers.c_str(), r.seconds, row.eps, row.mbps);
  if (row.cpu >= 0) {
    std::printf(", cpu %.2f s (%.3f s per 1M events), peak RSS %.1f MB", row.cpu, row.cpuPerM, row.peakMb);
  }
  if (a.sink != Sink::Null) {
    std::printf(", %llu requests, %.1f MB compressed", static_cast<unsigned long long>(r.requests),
                static_cast<double>(r.intakeBodyBytes) / 1e6);
    if (r.zlib6Bytes > 0) {
      std::printf(" (JSON %.1f MB, ratio %.2f; zlib-6 %.1f MB, this/zlib-6 %.3f)", static_cast<double>(r.jsonBytes) / 1e6,
                  static_cast<double>(r.jsonBytes) / static_cast<double>(std::max<uint64_t>(1, r.intakeBodyBytes)),
                  static_cast<double>(r.zlib6Bytes) / 1e6,
                  static_cast<double>(r.intakeBodyBytes) / static_cast<double>(r.zlib6Bytes));
    }
  }
  std::printf("\n");
}

void printTable(const Args& a, const std::vector<Row>& rows) {
  std::printf("\n%s\n\n", a.scenario.empty() ? "(no scenario: options as given)" : a.scenario.c_str());
  std::printf("| binary | run | events/s | MB/s | CPU s per 1M events | peak RSS MB | requests | bytes sent (compressed) |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    std::printf("| %s | %u%s | %.0f | %.1f | %.3f | %.1f | %llu | %llu |\n", row.r.binary.c_str(), row.run,
                row.r.ok ? "" : " FAILED", row.eps, row.mbps, row.cpuPerM, row.peakMb,
                static_cast<unsigned long long>(row.r.requests), static_cast<unsigned long long>(row.r.intakeBodyBytes));
  }
}

bool writeJson(const Args& a, const std::vector<Row>& rows) {
  FILE* f = std::fopen(a.jsonOut.c_str(), "w");
  if (!f) return false;
  std::fprintf(f, "{\"scenario\":\"%s\",\"mode\":\"%s\",\"sink\":\"%s\",\"padding\":\"%s\",\"events\":%llu,"
               "\"connections\":%u,\"batch\":%u,\"runs\":[",
               a.scenario.c_str(), modeName(a.mode), sinkName(a.sink), a.padding == Padding::Random ? "random" : "repeat",
               static_cast<unsigned long long>(a.events), a.connections, a.batch);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const RunResult& r = row.r;
    std::fprintf(f, "%s{\"binary\":\"%s\",\"run\":%u,\"ok\":%s,\"seconds\":%.3f,\"events_per_sec\":%.0f,"
                 "\"mb_per_sec\":%.2f,\"cpu_seconds\":%.3f,\"cpu_seconds_per_million_events\":%.4f,"
                 "\"peak_rss_bytes\":%llu,\"requests\":%llu,\"compressed_bytes\":%llu,\"json_bytes\":%llu,"
                 "\"zlib6_bytes\":%llu,\"samples\":[",
                 i ? "," : "", baseName(r.binary).c_str(), row.run, r.ok ? "true" : "false", r.seconds, row.eps, row.mbps,
                 row.cpu, row.cpuPerM, static_cast<unsigned long long>(r.after ? r.after->peakRssBytes : 0),
                 static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.intakeBodyBytes),
                 static_cast<unsigned long long>(r.jsonBytes), static_cast<unsigned long long>(r.zlib6Bytes));
    for (size_t k = 0; k < r.samples.size(); ++k) {
      const Sample& sm = r.samples[k];
      std::fprintf(f, "%s{\"t\":%.3f,\"cpu_seconds\":%.3f,\"rss_bytes\":%llu,\"events_sent\":%llu}", k ? "," : "", sm.t,
                   sm.cpu, static_cast<unsigned long long>(sm.rss), static_cast<unsigned long long>(sm.events));
    }
    std::fprintf(f, "]}");
  }
  std::fprintf(f, "]}\n");
  return std::fclose(f) == 0;
}

// Three stacked panels (events/s sent, CPU cores used, RSS MB) over time, one line per run.
bool writeSvg(const Args& a, const std::vector<Row>& rows) {
  const double W = 900, panelH = 200, left = 70, right = 20, top = 40, gap = 50;
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  struct Series {
    std::vector<std::pair<double, double>> pts;
  };
  auto seriesOf = [](const RunResult& r, int which) {
    Series s;
    for (size_t i = 0; i < r.samples.size(); ++i) {
      const Sample& cur = r.samples[i];
      const Sample prev = i ? r.samples[i - 1] : Sample{};
      double dt = cur.t - prev.t;
      if (dt <= 0) continue;
      double v = which == 0   ? static_cast<double>(cur.events - prev.events) / dt
                 : which == 1 ? (cur.cpu - prev.cpu) / dt
                              : static_cast<double>(cur.rss) / 1e6;
      s.pts.emplace_back(cur.t, v);
    }
    return s;
  };
  double tMax = 0.1;
  for (const Row& row : rows)
    if (!row.r.samples.empty()) tMax = std::max(tMax, row.r.samples.back().t);
  FILE* f = std::fopen(a.svgOut.c_str(), "w");
  if (!f) return false;
  const double H = top + 3 * (panelH + gap) + 20 * static_cast<double>(rows.size());
  std::fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
  std::fprintf(f, "<text x=\"%.0f\" y=\"20\" font-size=\"15\">%s: %s, %s, %llu events, %u connection(s)</text>\n", left,
               a.scenario.empty() ? "firelane_load" : a.scenario.c_str(), modeName(a.mode), sinkName(a.sink),
               static_cast<unsigned long long>(a.events), a.connections);
  const char* titles[] = {"events/s sent", "CPU (cores)", "RSS (MB)"};
  for (int p = 0; p < 3; ++p) {
    double y0 = top + p * (panelH + gap);
    double vMax = 0;
    std::vector<Series> all;
    for (const Row& row : rows) {
      all.push_back(seriesOf(row.r, p));
      for (auto& pt : all.back().pts) vMax = std::max(vMax, pt.second);
    }
    if (vMax <= 0) vMax = 1;
    vMax *= 1.1;
    std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">%s</text>\n", left, y0 - 6, titles[p]);
    std::fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>\n", left,
                 y0, W - left - right, panelH);
    for (int g = 0; g <= 4; ++g) {
      double v = vMax * g / 4, y = y0 + panelH - panelH * g / 4;
      std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.4g</text>\n", left - 5, y + 4, v);
      if (g > 0 && g < 4)
        std::fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", left, W - right, y, y);
    }
    std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.1f s</text>\n", W - right, y0 + panelH + 14, tMax);
    for (size_t k = 0; k < all.size(); ++k) {
      std::fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colors[k % 8]);
      for (auto& pt : all[k].pts) {
        std::fprintf(f, "%.1f,%.1f ", left + (W - left - right) * pt.first / tMax, y0 + panelH - panelH * pt.second / vMax);
      }
      std::fprintf(f, "\"/>\n");
    }
  }
  double ly = top + 3 * (panelH + gap) - 20;
  for (size_t k = 0; k < rows.size(); ++k) {
    const Row& row = rows[k];
    std::fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>", left, ly + 20 * k - 10,
                 colors[k % 8]);
    std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">%s run %u: %.0f events/s, %.3f CPU s per 1M events, peak RSS %.1f MB</text>\n",
                 left + 18, ly + 20 * k, baseName(row.r.binary).c_str(), row.run, row.eps, row.cpuPerM, row.peakMb);
  }
  std::fprintf(f, "</svg>\n");
  return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parseArgs(argc, argv);
  if (!parsed) return 2;
  const Args& a = *parsed;
  int status = 0;
  std::vector<Row> rows;
  std::vector<std::pair<std::string, bool>> binaries = {{a.firelane, false}};
  if (!a.compare.empty()) binaries.emplace_back(a.compare, true);
  for (unsigned run = 0; run < a.runs; ++run) {
    for (const auto& [binary, compat] : binaries) {
      RunResult r;
      try {
        r = runOnce(a, run, binary, compat);
      } catch (const std::exception& e) {
        r.ok = false;
        r.error = e.what();
      }
      r.binary = binary;
      if (!r.ok) status = 1;
      rows.push_back(summarize(a, run, std::move(r)));
      printLine(a, rows.back());
      if (!rows.back().r.ok) std::fprintf(stderr, "run %u failed: %s\n", run, rows.back().r.error.c_str());
      std::fflush(stdout);
    }
  }
  if (!a.json && (!a.scenario.empty() || rows.size() > 1)) printTable(a, rows);
  if (!a.jsonOut.empty() && !writeJson(a, rows)) {
    std::fprintf(stderr, "cannot write %s\n", a.jsonOut.c_str());
    status = 1;
  }
  if (!a.svgOut.empty() && !writeSvg(a, rows)) {
    std::fprintf(stderr, "cannot write %s\n", a.svgOut.c_str());
    status = 1;
  }
  return status;
}
