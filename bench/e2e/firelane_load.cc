// firelane_load: end-to-end throughput and latency of the real binary. Sends N FireLens-like events
// over forward connections (acked at the end of each connection) or into firelane's stdin, and reports
// events/s, MB/s, firelane's CPU seconds per million events, its peak RSS and, with a sink, p50/p99
// latency from send to the sink's 2xx (every log line carries its send time). The sink is the null
// output, the datadog output posting into the fake intake (h2c or HTTP/1.1), or the cloudwatch_logs
// output posting into this tool's fake CloudWatch; with a sink a run ends when it accepted every event.
// Named scenarios (--scenario) print a table and can write JSON and an SVG chart of /proc samples.
// --storage normal|full runs the same load through the filesystem spool (storage.sync normal or full);
// the `outage` scenario offers N bytes into the spool while the fake intake is down for T seconds,
// then brings it back and checks that every event arrives (see runOutage). --compare BIN runs the same
// load through another binary with a Fluent Bit config (see serviceConfig); forward-datadog-slow-intake
// caps the fake intake's requests in service (429 above) to show the output's concurrency control.
// --record-size N sets the length of each generated log line; --acks puts a chunk option on every
// forward message and reads the acks within a window of unacknowledged messages (see AckWindow).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "load_latency.h"
#include "load_sinks.h"
#include "load_spool.h"
#include "support/fake_intake.h"
#include "support/forward_client.h"
#include "support/http_get.h"
#include "support/process.h"

namespace {

using firelane::testsupport::Event;
using firelane::testsupport::ForwardClient;
using firelane::testsupport::ForwardOptions;
using firelane::testsupport::Millis;
using firelane::testsupport::ProcStats;
using firelane::testsupport::TimeFormat;
using Clock = std::chrono::steady_clock;
using firelane::bench::LatencyRecorder;

enum class Mode { Packed, Forward, Message };
enum class Input { Forward, Stdin };
enum class Sink { Null, DatadogH2c, DatadogH1, CloudWatch };
enum class Padding { Repeat, Random };
// Memory: firelane's default buffering; Normal / Full: `storage.type filesystem` on the input, a spool
// under the run's temp folder, `storage.sync normal|full`.
enum class Storage { Memory, Normal, Full };
// The config a --compare binary gets: Fluent Bit's keys, or (when the binary is firelane itself) the
// same file with firelane's equivalents where the two differ (see serviceConfig).
enum class Dialect { FluentBit, Firelane };

// The ecs + grep scenario: the fake task metadata's task, and the share of DEBUG lines grep drops.
constexpr const char* kBenchTaskArn = "arn:aws:ecs:us-east-1:111122223333:task/bench/0123456789abcdef0123456789abcdef";
constexpr unsigned kDebugEvery = 10;
// The cloudwatch sink's static credentials (passed to firelane through its environment).
constexpr const char* kBenchAccessKey = "AKIDFIRELANEBENCH";
constexpr const char* kBenchRegion = "us-east-1";
// --record-size bounds, and the forward input's default largest frame (buffer_max_size).
constexpr unsigned kMinRecordSize = 64;
constexpr unsigned kMaxRecordSize = 1 << 20;
constexpr uint64_t kForwardMaxMessage = 6'144'000;
// A record's bytes besides its log line (time, the other three fields, keys, msgpack headers).
constexpr unsigned kRecordOverhead = 120;

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
  Input input = Input::Forward;
  Sink sink = Sink::Null;
  bool ecsGrep = false;  // [FILTER] ecs (fake task metadata) + grep dropping every 10th line (DEBUG)
  double rate = 0;       // offered events/s over all connections; 0: as fast as possible
  bool halfLoad = false; // --rate half: one unpaced calibration run, then runs at half its rate
  double flush = 0.2;    // [SERVICE] Flush of the spawned instance (the latency target is Flush + 20 ms)
  Padding padding = Padding::Repeat;
  unsigned recordSize = 0;  // --record-size: length of each log line (0: the padding's default, see logSize)
  bool acks = false;        // a chunk option on every forward message, acks read within ackWindow
  unsigned ackWindow = 100; // unacknowledged messages per connection before the sender waits
  std::string compress = "gzip";
  int compressLevel = 0;  // 0: the output's default
  unsigned inFlight = 4;  // datadog `workers`: requests in flight per firelane worker
  std::string concurrency;  // datadog `concurrency` (adaptive | fixed); empty: the key is not written
  // The fake intake's capacity: at most this many requests in service at once, each for
  // intakeServiceMs; more get 429 without Retry-After (0: unlimited).
  size_t intakeCapacity = 0;
  unsigned intakeServiceMs = 0;
  bool json = false;
  bool keepLogs = false;
  std::string scenario;   // named scenario (sets the options above; later flags override)
  std::string jsonOut;    // write the runs (with 100 ms samples) as JSON here
  std::string svgOut;     // and a chart of throughput / CPU / RSS over time here
  std::string compare;    // another binary (e.g. fluent-bit) run through the same scenario
  std::string compareDialect = "auto";  // auto (from `BIN --version`) | fluent-bit | firelane
  Storage storage = Storage::Memory;
  std::string queueLimit;  // the output's queue_limit (empty: firelane's default, 8M)
  // The outage scenario: offer `offerBytes` of forward frames (paced over `outageSeconds`) while the
  // intake is down for `outageSeconds`, then wait up to `drainTimeout` s for every event to arrive.
  bool outage = false;
  double outageSeconds = 60;
  uint64_t offerBytes = 1'000'000'000;
  double drainTimeout = 900;
  std::string schedulerBase, schedulerCap;  // [SERVICE] retry backoff (empty: firelane's defaults, 5 s / 2000 s)
};

// The length of each generated log line: --record-size, else the padding's historical default (the
// figures in docs/benchmarks.md were measured with these).
unsigned logSize(const Args& a) {
  if (a.recordSize != 0) return a.recordSize;
  return a.padding == Padding::Repeat ? 180 : 150;
}

// Named scenarios: the workloads issue 7 compares with Fluent Bit.
struct Scenario {
  const char* name;
  Input input;
  Mode mode;
  unsigned batch;  // events per message (packed), frames per write (message), lines per write (stdin)
  Sink sink;
  Padding padding;
  uint64_t events;
  bool ecsGrep;
  const char* what;
  unsigned inFlight = 4;        // datadog `workers`
  size_t intakeCapacity = 0;    // the fake intake's concurrent requests (0: unlimited)
  unsigned intakeServiceMs = 0; // and the time each one is in service
};
const Scenario kScenarios[] = {
    {"forward-null-packed", Input::Forward, Mode::Packed, 1000, Sink::Null, Padding::Repeat, 3'000'000, false,
     "PackedForward, 1000 events per message -> null"},
    // 1M events: CPU time comes in 10 ms ticks, 0.01 us per event here (0.033 with 300k).
    {"forward-null-message", Input::Forward, Mode::Message, 1, Sink::Null, Padding::Repeat, 1'000'000, false,
     "Message mode, one frame per write (Docker) -> null"},
    {"forward-datadog-packed", Input::Forward, Mode::Packed, 1000, Sink::DatadogH1, Padding::Repeat, 1'000'000, false,
     "PackedForward, repetitive logs -> datadog gzip, HTTP/1.1"},
    {"forward-datadog-message", Input::Forward, Mode::Message, 1, Sink::DatadogH1, Padding::Random, 300'000, false,
     "Message mode one frame per write, random-word logs -> datadog gzip, HTTP/1.1"},
    {"forward-cloudwatch", Input::Forward, Mode::Message, 1, Sink::CloudWatch, Padding::Random, 300'000, false,
     "Message mode one frame per write, random-word logs -> cloudwatch_logs (PutLogEvents, HTTP/1.1)"},
    {"stdin-datadog", Input::Stdin, Mode::Message, 1000, Sink::DatadogH1, Padding::Random, 300'000, false,
     "random-word lines piped into stdin, 1000 lines per write -> datadog gzip, HTTP/1.1"},
    {"forward-datadog-ecs-grep", Input::Forward, Mode::Message, 1, Sink::DatadogH1, Padding::Random, 300'000, true,
     "Message mode one frame per write -> ecs filter (task metadata) + grep (drops the 10% DEBUG lines) -> "
     "datadog gzip, HTTP/1.1"},
    // Adaptive HTTP concurrency: 16 requests in flight per worker against an intake that serves 4 at
    // once (20 ms each) and answers 429 above that; --concurrency adaptive|fixed picks the output's mode.
    // h2c: over HTTP/1.1 the output's max_connections (2 per worker) would cap the requests in flight.
    {"forward-datadog-slow-intake", Input::Forward, Mode::Message, 1, Sink::DatadogH2c, Padding::Random, 300'000, false,
     "Message mode one frame per write, random-word logs -> datadog gzip, h2c, workers 16, into an intake "
     "serving 4 requests at once (20 ms each, 429 above)",
     16, 4, 20},
};

const char* storageName(Storage s) {
  switch (s) {
    case Storage::Memory: return "memory";
    case Storage::Normal: return "normal";
    case Storage::Full: return "full";
  }
  return "?";
}

const char* sinkName(Sink s) {
  switch (s) {
    case Sink::Null: return "null";
    case Sink::DatadogH2c: return "datadog-h2c";
    case Sink::DatadogH1: return "datadog-h1";
    case Sink::CloudWatch: return "cloudwatch";
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

// What the load is: the forward mode, or "stdin".
const char* loadName(Input input, Mode m) { return input == Input::Stdin ? "stdin" : modeName(m); }

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
               "  --input I           forward (default) | stdin: lines piped into firelane's stdin, --batch\n"
               "                      lines per write (needs a sink)\n"
               "  --sink S            null (default) | datadog-h2c | datadog-h1 | cloudwatch: the datadog\n"
               "                      output into the fake intake over h2c or HTTP/1.1, or cloudwatch_logs\n"
               "                      into this tool's fake CloudWatch; the clock stops when the sink\n"
               "                      accepted every event, and p50/p99 latency is from send to its 2xx\n"
               "  --ecs-grep          add the ecs filter (a fake task-metadata endpoint here, via\n"
               "                      ECS_CONTAINER_METADATA_URI_V4) and grep `Exclude log DEBUG` (every\n"
               "                      10th line is DEBUG); the sink checks every event was enriched\n"
               "  --rate R|half       offered rate in events/s over all connections (default: as fast as\n"
               "                      possible); half: one unpaced calibration run, then half its rate\n"
               "  --flush S           [SERVICE] Flush of the spawned instance (default 0.2)\n"
               "  --padding P         repeat (default: ~180-char log lines differing in a few digits) |\n"
               "                      random (random words from 300, gzip ratio ~8.8 like real logs)\n"
               "  --record-size N     length in bytes of each event's log line, send stamp included\n"
               "                      (64..1048576; default 180 with repeat padding, ~150 with random)\n"
               "  --acks              forward: a chunk option (require_ack_response) on every message;\n"
               "                      acks are read as they come, the run fails unless every message\n"
               "                      was acked correctly; reports acks and their round trip p50/p99\n"
               "  --ack-window W      unacknowledged messages per connection before the sender waits\n"
               "                      for acks (default 100)\n"
               "  --compress C        datadog: gzip (default) | zstd | none\n"
               "  --compress-level L  datadog: compression level (default: the output's)\n"
               "  --in-flight N       datadog: requests in flight per worker (`workers`, default 4)\n"
               "  --concurrency C     datadog: `concurrency adaptive|fixed` in [OUTPUT] (default: not written)\n"
               "  --intake-capacity K the fake intake serves at most K requests at once and answers 429\n"
               "                      (no Retry-After) above that (default 0: unlimited)\n"
               "  --intake-service-ms MS  time each admitted request is in service (default 0)\n"
               "  --json              one JSON object per run instead of the readable line\n"
               "  --scenario NAME     forward-null-packed | forward-null-message | forward-datadog-packed |\n"
               "                      forward-datadog-message | forward-cloudwatch | stdin-datadog |\n"
               "                      forward-datadog-ecs-grep | forward-datadog-slow-intake (sets input,\n"
               "                      mode, batch, sink, padding, events, filters, in-flight, intake\n"
               "                      capacity; options after it override)\n"
               "  --json-out FILE     write every run with its 100 ms /proc samples as JSON\n"
               "  --svg FILE          write a self-contained SVG chart (events/s, CPU, RSS over time)\n"
               "  --compare BIN       also run BIN (e.g. fluent-bit) through the same runs, with a\n"
               "                      Fluent Bit config (every scenario but outage), and print both\n"
               "  --compare-dialect D auto (default: firelane if `BIN --version` says so) | fluent-bit |\n"
               "                      firelane: firelane's stdin and ecs keys differ from Fluent Bit's\n"
               "  --storage S         memory (default) | normal | full: `storage.type filesystem` on the input,\n"
               "                      a spool in the run's temp folder, `storage.sync S`; reports the\n"
               "                      spool folder's peak size (sampled every 100 ms)\n"
               "  --queue-limit SIZE  the output's queue_limit (default: firelane's, 8M)\n"
               "  --scenario outage   the intake is down for --outage T s (default 60) while --bytes N\n"
               "                      (default 1000000000) of PackedForward frames are offered, paced over\n"
               "                      T; then it comes back. Prints peak RSS, spool peak, time to drain,\n"
               "                      events offered / delivered / duplicated (fails unless all arrive)\n"
               "  --outage T          seconds the intake is down (outage scenario)\n"
               "  --bytes N           bytes offered during the outage (K/M/G suffixes: 10^3 multiples)\n"
               "  --drain-timeout S   outage: give up waiting for delivery after S s (default 900)\n"
               "  --scheduler-base S  [SERVICE] scheduler.base (retry backoff; outage sets 1)\n"
               "  --scheduler-cap S   [SERVICE] scheduler.cap (outage sets 10; firelane's default 2000)\n"
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
    else if (k == "--concurrency") {
      a.concurrency = value();
      if (a.concurrency != "adaptive" && a.concurrency != "fixed") {
        std::fprintf(stderr, "unknown concurrency '%s' (adaptive | fixed)\n", a.concurrency.c_str());
        return std::nullopt;
      }
    }
    else if (k == "--intake-capacity") a.intakeCapacity = std::stoull(value());
    else if (k == "--intake-service-ms") a.intakeServiceMs = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--sink") {
      std::string v = value();
      if (v == "null") a.sink = Sink::Null;
      else if (v == "datadog-h2c") a.sink = Sink::DatadogH2c;
      else if (v == "datadog-h1") a.sink = Sink::DatadogH1;
      else if (v == "cloudwatch") a.sink = Sink::CloudWatch;
      else {
        std::fprintf(stderr, "unknown sink '%s'\n", v.c_str());
        return std::nullopt;
      }
    }
    else if (k == "--verbose") a.keepLogs = true;
    else if (k == "--storage") {
      std::string v = value();
      if (v == "memory") a.storage = Storage::Memory;
      else if (v == "normal") a.storage = Storage::Normal;
      else if (v == "full") a.storage = Storage::Full;
      else {
        std::fprintf(stderr, "unknown storage '%s' (memory | normal | full)\n", v.c_str());
        return std::nullopt;
      }
    }
    else if (k == "--queue-limit") a.queueLimit = value();
    else if (k == "--scheduler-base") a.schedulerBase = value();
    else if (k == "--scheduler-cap") a.schedulerCap = value();
    else if (k == "--outage") a.outageSeconds = std::stod(value());
    else if (k == "--drain-timeout") a.drainTimeout = std::stod(value());
    else if (k == "--bytes") {
      std::string v = value();
      double mult = 1;
      if (!v.empty() && (v.back() == 'K' || v.back() == 'k')) mult = 1e3, v.pop_back();
      else if (!v.empty() && (v.back() == 'M' || v.back() == 'm')) mult = 1e6, v.pop_back();
      else if (!v.empty() && (v.back() == 'G' || v.back() == 'g')) mult = 1e9, v.pop_back();
      a.offerBytes = static_cast<uint64_t>(std::stod(v) * mult);
    }
    else if (k == "--ecs-grep") a.ecsGrep = true;
    else if (k == "--record-size") a.recordSize = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--acks") a.acks = true;
    else if (k == "--ack-window") a.ackWindow = static_cast<unsigned>(std::stoul(value()));
    else if (k == "--flush") a.flush = std::stod(value());
    else if (k == "--rate") {
      std::string v = value();
      a.halfLoad = v == "half";
      a.rate = a.halfLoad ? 0 : std::stod(v);
    }
    else if (k == "--input") {
      std::string v = value();
      if (v == "forward") a.input = Input::Forward;
      else if (v == "stdin") a.input = Input::Stdin;
      else {
        std::fprintf(stderr, "unknown input '%s'\n", v.c_str());
        return std::nullopt;
      }
    }
    else if (k == "--json-out") a.jsonOut = value();
    else if (k == "--svg") a.svgOut = value();
    else if (k == "--compare") a.compare = value();
    else if (k == "--compare-dialect") {
      a.compareDialect = value();
      if (a.compareDialect != "auto" && a.compareDialect != "fluent-bit" && a.compareDialect != "firelane") {
        std::fprintf(stderr, "unknown compare dialect '%s' (auto | fluent-bit | firelane)\n", a.compareDialect.c_str());
        return std::nullopt;
      }
    }
    else if (k == "--scenario") {
      std::string v = value();
      if (v == "outage") {
        // The aggregator tier's load (PackedForward, 1000 events per message, logs that compress like
        // real ones) into the spool, datadog over HTTP/1.1; later flags override.
        a.scenario = v;
        a.outage = true;
        a.input = Input::Forward;
        a.mode = Mode::Packed;
        a.batch = 1000;
        a.sink = Sink::DatadogH1;
        a.padding = Padding::Random;
        a.storage = Storage::Normal;
        // Retries while the intake is down back off up to 10 s (firelane's default cap is 2000 s, as
        // Fluent Bit's: after a long outage the first retry may come minutes after the intake is back).
        a.schedulerBase = "1";
        a.schedulerCap = "10";
        continue;
      }
      const Scenario* found = nullptr;
      for (const auto& sc : kScenarios)
        if (v == sc.name) found = &sc;
      if (!found) {
        std::fprintf(stderr, "unknown scenario '%s'\n", v.c_str());
        return std::nullopt;
      }
      a.scenario = v;
      a.input = found->input;
      a.ecsGrep = found->ecsGrep;
      a.mode = found->mode;
      a.batch = found->batch;
      a.sink = found->sink;
      a.padding = found->padding;
      a.events = found->events;
      a.inFlight = found->inFlight;
      a.intakeCapacity = found->intakeCapacity;
      a.intakeServiceMs = found->intakeServiceMs;
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
  if ((a.sink != Sink::Null || a.input == Input::Stdin || a.ecsGrep) && a.port != 0) {
    std::fprintf(stderr, "--sink, --input stdin and --ecs-grep spawn their own instance: not with --port\n");
    return std::nullopt;
  }
  if (a.input == Input::Stdin && a.sink == Sink::Null) {
    std::fprintf(stderr, "--input stdin needs a sink (the run ends when the sink accepted every event)\n");
    return std::nullopt;
  }
  if (!a.compare.empty() && a.port != 0) {
    std::fprintf(stderr, "--compare spawns both binaries: not with --port\n");
    return std::nullopt;
  }
  const bool datadog = a.sink == Sink::DatadogH1 || a.sink == Sink::DatadogH2c;
  if ((!a.concurrency.empty() || a.intakeCapacity > 0 || a.intakeServiceMs > 0) && !datadog) {
    std::fprintf(stderr, "--concurrency, --intake-capacity and --intake-service-ms need a datadog sink\n");
    return std::nullopt;
  }
  if (a.rate < 0 || a.flush <= 0) {
    std::fprintf(stderr, "--rate and --flush must be positive\n");
    return std::nullopt;
  }
  if (a.outage && (a.sink == Sink::Null || a.sink == Sink::CloudWatch || a.input != Input::Forward || a.port != 0 ||
                   !a.compare.empty() || a.ecsGrep || a.halfLoad || a.rate > 0 || a.outageSeconds <= 0 ||
                   a.offerBytes == 0 || a.drainTimeout <= 0)) {
    std::fprintf(stderr, "--scenario outage: forward -> datadog only, spawned here (no --port, --compare, --ecs-grep, "
                         "--rate); --outage, --bytes and --drain-timeout > 0\n");
    return std::nullopt;
  }
  if (a.storage != Storage::Memory && a.port != 0) {
    std::fprintf(stderr, "--storage configures a spawned instance: not with --port\n");
    return std::nullopt;
  }
  if (a.connections == 0 || a.batch == 0 || a.events == 0) {
    std::fprintf(stderr, "--events, --connections and --batch must be > 0\n");
    return std::nullopt;
  }
  if (a.recordSize != 0 && (a.recordSize < kMinRecordSize || a.recordSize > kMaxRecordSize)) {
    std::fprintf(stderr, "--record-size must be within %u..%u\n", kMinRecordSize, kMaxRecordSize);
    return std::nullopt;
  }
  // One PackedForward / Forward message holds --batch events: keep it under the forward input's
  // default buffer_max_size (firelane's and Fluent Bit's), or the server drops the connection.
  if (a.input == Input::Forward && a.mode != Mode::Message &&
      static_cast<uint64_t>(a.batch) * (logSize(a) + kRecordOverhead) > kForwardMaxMessage) {
    std::fprintf(stderr, "--batch %u events of --record-size %u make messages over %llu bytes (the forward "
                         "input's buffer_max_size): lower --batch\n",
                 a.batch, logSize(a), static_cast<unsigned long long>(kForwardMaxMessage));
    return std::nullopt;
  }
  if (a.acks && (a.input != Input::Forward || a.outage)) {
    std::fprintf(stderr, "--acks needs the forward input (not stdin, not the outage scenario)\n");
    return std::nullopt;
  }
  if (a.ackWindow == 0) {
    std::fprintf(stderr, "--ack-window must be > 0\n");
    return std::nullopt;
  }
  return a;
}

// A FireLens-like event: 64-hex container id and a log line of about `size` chars that `salt` varies
// (defaults: see logSize). Repeat: exactly `size` chars differing in a few digits (gzip ~30x). Random:
// random words from a 300-word vocabulary up to at least `size` chars (a word longer at most), which
// compresses like real application logs (gzip level 6 ~8.8x on Datadog's JSON). Every line ends with
// a send-time stamp placeholder the sender patches. `debugEvery` > 0: every
// debugEvery-th salt is a DEBUG line (what the ecs + grep scenario drops). The event time is the
// tool's start (CloudWatch refuses events older than 14 days).
std::string containerId() {
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 64; ++i) id += kHex[(i * 7 + 3) % 16];
  return id;
}

std::string shortContainerId() { return containerId().substr(0, 12); }

bool isDebug(uint64_t salt, unsigned debugEvery) { return debugEvery > 0 && salt % debugEvery == 0; }

Event makeEvent(uint64_t salt, Padding padding, unsigned debugEvery, size_t size) {
  static const std::string id = containerId();
  static const uint32_t startSeconds = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::string stamp = firelane::bench::stampPlaceholder();
  const bool debug = isDebug(salt, debugEvery);
  std::string log;
  if (padding == Padding::Repeat) {
    log = std::string("2024-05-01T12:00:00.000Z ") + (debug ? "DEBUG" : "INFO ") + " [http-nio-8080-exec-" +
          std::to_string(salt % 200) + "] c.example.api.OrderController - GET /api/v1/orders/" + std::to_string(salt) +
          " completed status=200 duration_ms=" + std::to_string(salt % 977) + " user=";
    // Small sizes cut the prefix (the INFO/DEBUG level, in its first 30 chars, stays).
    if (log.size() + 1 + stamp.size() > size) log.resize(size - 1 - stamp.size());
    while (log.size() + 1 + stamp.size() < size) log += static_cast<char>('a' + log.size() % 26);
    log += ' ';
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
    char prefix[48];
    std::snprintf(prefix, sizeof(prefix), "2024-05-01T12:00:%02u.%03uZ %s ", static_cast<unsigned>(salt / 1000 % 60),
                  static_cast<unsigned>(salt % 1000), debug ? "DEBUG" : "INFO");
    log = prefix;
    log.reserve(size + 16);
    while (log.size() + stamp.size() < size) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      log += vocab[x % vocab.size()];
      log += ' ';
    }
  }
  log += stamp;
  return Event{startSeconds, 123456000, {{"log", log}, {"source", "stdout"}, {"container_id", id},
                                         {"container_name", "/app"}}};
}

// --acks: every message's chunk option is a base64 id of 16 bytes (as Fluentd's): run, connection,
// message sequence, patched in at send time over this placeholder (always the message's last bytes:
// the option map holds only the chunk).
constexpr size_t kChunkIdBytes = 16;
constexpr size_t kChunkSize = 24;  // base64 of 16 bytes, "==" included
const std::string kChunkPlaceholder(kChunkSize - 2, 'A');

// One write's worth of load: its bytes, where the send-time stamps are, and how many events it holds.
struct Payload {
  std::string bytes;
  std::vector<uint32_t> stamps;
  std::vector<uint32_t> chunks;  // --acks: offsets of each message's chunk id (kChunkSize bytes)
  uint64_t events = 0;
  uint64_t kept = 0;  // events the scenario's filters keep (all but DEBUG lines with --ecs-grep)
};

// `count` events in the chosen mode (for message mode: `count` Message frames back to back; for stdin:
// `count` lines), with a chunk option on the last frame when `chunk` is set. --acks: a chunk
// placeholder on every message instead (`chunk` is not used).
Payload buildPayload(const Args& a, unsigned count, uint64_t salt, const std::optional<std::string>& chunk) {
  const unsigned debugEvery = a.ecsGrep ? kDebugEvery : 0;
  Payload p;
  p.events = count;
  std::vector<Event> events;
  events.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    events.push_back(makeEvent(salt + i, a.padding, debugEvery, logSize(a)));
    if (!isDebug(salt + i, debugEvery)) ++p.kept;
  }
  ForwardOptions opts;
  opts.chunk = chunk;
  if (a.acks) opts.chunk = kChunkPlaceholder + "==";
  // The chunk id is the message's last kChunkSize bytes.
  auto markChunk = [&] {
    if (a.acks) p.chunks.push_back(static_cast<uint32_t>(p.bytes.size() - kChunkSize));
  };
  if (a.input == Input::Stdin) {
    for (const Event& e : events) {
      p.bytes += e.record.front().second;
      p.bytes += '\n';
    }
  } else {
    switch (a.mode) {
      case Mode::Packed:
        p.bytes = firelane::testsupport::buildPackedForward("app-firelens-0123", events, TimeFormat::EventTimeFixExt8,
                                                            firelane::testsupport::PayloadType::Bin, opts);
        markChunk();
        break;
      case Mode::Forward:
        p.bytes = firelane::testsupport::buildForward("app-firelens-0123", events, TimeFormat::EventTimeFixExt8, opts);
        markChunk();
        break;
      case Mode::Message: {
        ForwardOptions docker;
        docker.emptyMap = true;
        for (unsigned i = 0; i < count; ++i) {
          const bool last = i + 1 == count;
          p.bytes += firelane::testsupport::buildMessage("app-firelens-0123", events[i], TimeFormat::EventTimeFixExt8,
                                                         a.acks || (last && chunk) ? opts : docker);
          markChunk();
        }
        break;
      }
    }
  }
  p.stamps = firelane::bench::findStamps(p.bytes);
  for (uint32_t at : p.chunks)
    if (p.bytes.compare(at, kChunkSize, opts.chunk.value_or("")) != 0) throw std::logic_error("chunk id not at a message's end");
  return p;
}

// How many distinct payloads of --batch events to build and cycle through: ~8k events, at most ~64 MB
// of log lines.
size_t poolPayloads(const Args& a) {
  const size_t events = std::min<size_t>(8192, std::max<size_t>(1, (size_t{64} << 20) / logSize(a)));
  return std::clamp<size_t>(events / a.batch, 1, 4096);
}

// Sends payloads with the send time patched into their stamps, paced to an offered rate when asked.
class StampedSender {
 public:
  // `rate`: events/s for this sender (0: unpaced); `start`: when the clock started. `firstSequence`:
  // number the events (one stamp each) from there instead of stamping the send time (outage runs).
  StampedSender(double rate, Clock::time_point start, std::optional<uint64_t> firstSequence = std::nullopt)
      : rate_(rate), start_(start), sequence_(firstSequence) {}
  // The payload's bytes with the current time (or the next sequence numbers) in every stamp (valid
  // until the next call; AckWindow::label patches the chunk ids in place).
  std::string& stamp(const Payload& p) {
    pace();
    scratch_.assign(p.bytes);
    const uint64_t now = firelane::bench::nowMicros();
    for (uint32_t at : p.stamps) firelane::bench::writeStamp(scratch_.data() + at, sequence_ ? (*sequence_)++ : now);
    sent_ += p.events;
    return scratch_;
  }

 private:
  // Sleeps while more than 200 us ahead of the offered rate (finer sleeps cost more than they help).
  void pace() {
    if (rate_ <= 0) return;
    auto due = start_ + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(static_cast<double>(sent_) / rate_));
    if (due - Clock::now() > std::chrono::microseconds(200)) std::this_thread::sleep_until(due);
  }

  double rate_;
  Clock::time_point start_;
  std::optional<uint64_t> sequence_;
  uint64_t sent_ = 0;
  std::string scratch_;
};

// --acks on one connection: labels each message with a fresh chunk id, keeps at most `window`
// messages unacknowledged (the sender waits for acks beyond that), checks every ack against what is
// outstanding, and records each ack's round trip (from just before the send to its arrival). Acks
// are read without blocking after every send, so a sender never waits for one before the next send
// while the window has room. One owner thread.
class AckWindow {
 public:
  AckWindow(int fd, unsigned run, unsigned connection, unsigned window) : fd_(fd), window_(window) {
    id_[0] = static_cast<unsigned char>(run);
    id_[1] = static_cast<unsigned char>(connection >> 16);
    id_[2] = static_cast<unsigned char>(connection >> 8);
    id_[3] = static_cast<unsigned char>(connection);
    std::memcpy(id_ + 12, "flld", 4);
  }

  // Blocks (reading acks) until `messages` more fit in the window; false on a read error or when no
  // ack came within `timeout`.
  bool makeRoom(size_t messages, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    while (error_.empty() && !pending_.empty() && pending_.size() + messages > window_) {
      const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
      if (left <= 0) {
        error_ = "no ack within " + std::to_string(timeout.count()) + " ms (" + std::to_string(pending_.size()) +
                 " messages unacknowledged)";
        return false;
      }
      if (!read(static_cast<int>(left))) return false;
    }
    return error_.empty();
  }

  // Writes a fresh chunk id into every message of `p` in `bytes` (p's bytes, stamped) and counts the
  // messages as outstanding from now.
  void label(std::string& bytes, const Payload& p) {
    const uint64_t now = firelane::bench::nowMicros();
    for (uint32_t at : p.chunks) {
      const uint64_t seq = next_++;
      for (int i = 0; i < 8; ++i) id_[4 + i] = static_cast<unsigned char>(seq >> (56 - 8 * i));
      encode(id_, bytes.data() + at);
      pending_.push_back({seq, now});
    }
    sent_ += p.chunks.size();
  }

  // Reads whatever acks have arrived, without waiting.
  bool poll() { return read(0); }

  // Waits (bounded) until every message sent was acknowledged.
  bool finish(Millis timeout) {
    // Only an empty window has room for window + 1 more; a wrong ack ends the wait.
    return makeRoom(window_ + 1, timeout) && error_.empty();
  }

  uint64_t sent() const { return sent_; }
  uint64_t received() const { return received_; }
  uint64_t wrong() const { return wrong_; }
  const std::vector<uint32_t>& roundTrips() const { return rttMicros_; }
  const std::string& error() const { return error_; }

 private:
  static constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  static void encode(const unsigned char* id, char* out) {
    size_t o = 0;
    for (size_t i = 0; i < kChunkIdBytes; i += 3) {
      const uint32_t b0 = id[i], b1 = i + 1 < kChunkIdBytes ? id[i + 1] : 0, b2 = i + 2 < kChunkIdBytes ? id[i + 2] : 0;
      const uint32_t v = b0 << 16 | b1 << 8 | b2;
      out[o++] = kB64[v >> 18 & 63];
      out[o++] = kB64[v >> 12 & 63];
      out[o++] = i + 1 < kChunkIdBytes ? kB64[v >> 6 & 63] : '=';
      out[o++] = i + 2 < kChunkIdBytes ? kB64[v & 63] : '=';
    }
  }

  // The sequence number in a chunk id this connection sent (nullopt: not one of ours).
  std::optional<uint64_t> sequenceOf(std::string_view chunk) const {
    if (chunk.size() != kChunkSize) return std::nullopt;
    unsigned char raw[kChunkIdBytes + 2] = {};
    for (size_t i = 0, o = 0; i < kChunkSize; i += 4) {
      uint32_t v = 0;
      for (size_t k = 0; k < 4; ++k) {
        const char c = chunk[i + k];
        const size_t d = c == '=' ? 0 : kB64.find(c);
        if (d == std::string_view::npos) return std::nullopt;
        v = v << 6 | static_cast<uint32_t>(d);
      }
      raw[o++] = static_cast<unsigned char>(v >> 16), raw[o++] = static_cast<unsigned char>(v >> 8),
      raw[o++] = static_cast<unsigned char>(v);
    }
    // Ours: this run's and connection's id bytes, and canonical base64 (it re-encodes to itself).
    if (std::memcmp(raw, id_, 4) != 0 || std::memcmp(raw + 12, id_ + 12, 4) != 0) return std::nullopt;
    char canonical[kChunkSize];
    encode(raw, canonical);
    if (std::string_view(canonical, kChunkSize) != chunk) return std::nullopt;
    uint64_t seq = 0;
    for (int i = 0; i < 8; ++i) seq = seq << 8 | raw[4 + i];
    return seq;
  }

  // One ack: must name an outstanding message (usually the oldest: acks come in order).
  void accept(std::string_view chunk, uint64_t now) {
    auto seq = sequenceOf(chunk);
    auto it = pending_.end();
    if (seq) it = std::find_if(pending_.begin(), pending_.end(), [&](const auto& p) { return p.first == *seq; });
    if (it == pending_.end()) {
      if (error_.empty()) error_ = "ack for '" + std::string(chunk) + "', which no outstanding message carries";
      ++wrong_;
      return;
    }
    rttMicros_.push_back(static_cast<uint32_t>(std::min<uint64_t>(now - std::min(now, it->second), UINT32_MAX)));
    pending_.erase(it);
    ++received_;
  }

  // Reads what the socket has (waiting up to `timeoutMs` for the first bytes) and takes every complete
  // ack. False on EOF, a read error, or a response that is not an ack.
  bool read(int timeoutMs) {
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeoutMs);
    if (ready < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) return true;
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        buf_.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n == 0) return fail("connection closed by the server with " + std::to_string(pending_.size()) +
                              " messages unacknowledged");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return fail(std::string("recv: ") + std::strerror(errno));
    }
    const uint64_t now = firelane::bench::nowMicros();
    size_t at = 0;
    while (at < buf_.size()) {
      const std::string_view rest(buf_.data() + at, buf_.size() - at);
      // Fast path for {"ack": str|bin of 24}: fixmap 1, fixstr "ack", then fixstr / str8 / bin8 24.
      if (rest.size() >= 5 + 1 + kChunkSize && rest.compare(0, 5, "\x81\xa3" "ack") == 0 &&
          static_cast<unsigned char>(rest[5]) == (0xa0 | kChunkSize)) {
        accept(rest.substr(6, kChunkSize), now);
        at += 6 + kChunkSize;
        continue;
      }
      size_t consumed = 0;
      auto chunk = firelane::testsupport::decodeAck(rest, &consumed);
      if (consumed == 0) break;  // incomplete (a parse error never completes: the deadline ends it)
      if (!chunk) return fail("the server sent a response that is not {\"ack\": ...}");
      accept(*chunk, now);
      at += consumed;
    }
    buf_.erase(0, at);
    return true;
  }

  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  int fd_;
  size_t window_;
  unsigned char id_[kChunkIdBytes] = {};
  uint64_t next_ = 0, sent_ = 0, received_ = 0, wrong_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> pending_;  // sequence, send time (us)
  std::vector<uint32_t> rttMicros_;
  std::string buf_;
  std::string error_;
};

struct Sample {
  double t = 0;        // seconds since the clock started
  double cpu = 0;      // the process's CPU seconds since the clock started
  uint64_t rss = 0;    // VmRSS
  uint64_t events = 0; // events written to the sockets so far
  uint64_t spool = 0;  // bytes in the spool folder (--storage normal|full)
};

struct RunResult {
  std::string binary;
  std::optional<Dialect> compat;  // set: a --compare run with a config of this dialect
  std::vector<Sample> samples;
  bool ok = true;
  std::string error;
  double seconds = 0;
  double rate = 0;     // offered events/s (0: unpaced)
  uint64_t bytes = 0;  // load written (forward frames or stdin lines)
  uint64_t expected = 0;  // events the sink must accept (all but those the filters drop)
  uint64_t accepted = 0;  // events the sink accepted
  std::optional<ProcStats> before, after;
  std::optional<int> exitCode;
  uint64_t requests = 0;         // sink: requests that carried events (datadog, PutLogEvents)
  uint64_t refused429 = 0;       // datadog: requests answered 429 (the intake's capacity limit)
  uint64_t maxInService = 0;     // datadog: most requests in service at the intake at once
  uint64_t intakeBodyBytes = 0;  // and their bodies as sent (compressed for datadog)
  uint64_t jsonBytes = 0;        // datadog: the bodies decompressed
  uint64_t zlib6Bytes = 0;       // datadog: the same JSON as gzip level 6 (the reference size)
  uint64_t latencyCount = 0;     // stamped events the sink saw
  double p50Ms = -1, p99Ms = -1; // send -> sink 2xx
  uint64_t spoolPeak = 0;        // --storage normal|full: largest spool folder seen (100 ms samples)
  uint64_t events = 0;           // events written
  uint64_t ackMessages = 0;      // --acks: messages sent with a chunk option
  uint64_t acks = 0;             // and the correct acks received for them
  uint64_t wrongAcks = 0;        // acks naming no outstanding message
  double ackP50Ms = -1, ackP99Ms = -1;  // send -> ack round trip
};

constexpr const char* kBenchApiKey = "bench-api-key";

// A run through another binary (--compare): its config dialect and the ports it must use (it cannot
// report the ports it binds).
struct Compat {
  Dialect dialect = Dialect::FluentBit;
  uint16_t forwardPort = 0;   // forward input
  uint16_t httpPort = 0;      // stdin input: the monitoring server, polled until it answers (start-up)
  uint16_t metadataPort = 0;  // ecs filter, Fluent Bit: the fake ECS agent introspection API
  std::string parsersFile;    // stdin input, Fluent Bit: the file defining kLineParser
};

// Fluent Bit's stdin input reads JSON unless a parser is named: this one makes each line {"log": line}
// as firelane's stdin does. The lookahead leaves a line without its newline yet (the end of a read)
// unmatched, so Fluent Bit waits for the rest instead of splitting it.
constexpr const char* kLineParser = "firelane_load_line";
std::string lineParserFile() {
  return std::string("[PARSER]\n    Name   ") + kLineParser + "\n    Format regex\n    Regex  ^(?<log>[^\\n]*)(?=\\n)\n";
}

// The container's 12-character short id: Fluent Bit's ecs filter finds it in the tag.
std::string shortContainerId();

// `compat` set: a config for another binary (fixed ports, no firelane-only keys). `sinkPort`: the
// intake's or the fake CloudWatch's. `spoolDir`: storage.path with --storage normal|full (the storage
// keys are Fluent Bit's, so the compat config carries them too).
// Where Fluent Bit and firelane differ, the Firelane dialect writes firelane's form:
// - stdin: Fluent Bit needs `Parser` (kLineParser, in a Parsers_File); firelane's stdin makes
//   {"log": line} by itself and has no Parser key.
// - ecs: Fluent Bit's filter asks the ECS agent introspection API (`ecs_meta_host`, `ecs_meta_port`)
//   for the container whose short id follows `ecs_tag_prefix` in the tag (here: the forward input's
//   `tag_prefix`), and adds only what `Add` asks for; firelane's reads task metadata v4 from
//   ECS_CONTAINER_METADATA_URI_V4 and adds the same three FireLens fields by default.
std::string serviceConfig(const Args& a, uint16_t sinkPort, const std::string& spoolDir,
                          const Compat* compat = nullptr) {
  const bool fluentBit = compat && compat->dialect == Dialect::FluentBit;
  char flush[32];
  std::snprintf(flush, sizeof(flush), "%g", a.flush);
  std::string conf = std::string("[SERVICE]\n    Flush ") + flush + "\n    Grace 5\n    Log_Level info\n";
  if (a.workers > 0 && !compat) conf += "    workers " + std::to_string(a.workers) + "\n";
  const bool spool = a.storage != Storage::Memory;
  if (!a.schedulerBase.empty()) conf += "    scheduler.base " + a.schedulerBase + "\n";
  if (!a.schedulerCap.empty()) conf += "    scheduler.cap " + a.schedulerCap + "\n";
  if (spool) conf += "    storage.path " + spoolDir + "\n    storage.sync " + storageName(a.storage) + "\n";
  if (compat && compat->httpPort != 0) {
    conf += "    HTTP_Server On\n    HTTP_Listen 127.0.0.1\n    HTTP_Port " + std::to_string(compat->httpPort) + "\n";
  }
  if (fluentBit && a.input == Input::Stdin) conf += "    Parsers_File " + compat->parsersFile + "\n";
  if (a.input == Input::Stdin) {
    conf += "[INPUT]\n    Name stdin\n    Tag app-firelens-0123\n";
    if (fluentBit) conf += std::string("    Parser ") + kLineParser + "\n";
    // Long lines (--record-size): a read buffer that holds a whole line (Fluent Bit's default is 16k,
    // firelane's 1M; the key is the same in both).
    if (logSize(a) + 1 > 16000) conf += "    Buffer_Size " + std::to_string(logSize(a) + 65536) + "\n";
  } else {
    conf += "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port " +
            std::to_string(compat ? compat->forwardPort : 0) + "\n";
    if (fluentBit && a.ecsGrep) conf += "    tag_prefix " + shortContainerId() + ".\n";
  }
  if (spool) conf += "    storage.type filesystem\n";
  if (a.ecsGrep) {
    // What FireLens users run: task metadata on every record, debug lines filtered out.
    conf += "[FILTER]\n    Name ecs\n    Match *\n";
    if (fluentBit) {
      conf += "    ecs_meta_host 127.0.0.1\n    ecs_meta_port " + std::to_string(compat->metadataPort) +
              "\n    Add ecs_cluster $ClusterName\n    Add ecs_task_arn $TaskARN\n"
              "    Add ecs_task_definition $TaskDefinitionFamily:$TaskDefinitionVersion\n";
    }
    conf += "[FILTER]\n    Name grep\n    Match *\n    Exclude log DEBUG\n";
  }
  switch (a.sink) {
    case Sink::Null:
      conf += "[OUTPUT]\n    Name null\n    Match *\n";
      if (!a.queueLimit.empty() && !compat) conf += "    queue_limit " + a.queueLimit + "\n";
      return conf;
    case Sink::CloudWatch:
      // Fluent Bit takes a host name as `endpoint` (it strips only "https://") and the port and
      // plain HTTP from the generic `port` and `tls` keys; credentials come from the environment.
      return conf + "[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n    region " + kBenchRegion +
             "\n    endpoint 127.0.0.1\n    port " + std::to_string(sinkPort) + "\n    tls off\n"
             "    log_group_name /bench/firelane\n    log_stream_prefix bench-\n    auto_create_group on\n"
             "    Retry_Limit no_limits\n";
    case Sink::DatadogH2c:
    case Sink::DatadogH1:
      break;
  }
  conf += "[OUTPUT]\n    Name datadog\n    Match *\n    Host 127.0.0.1\n    Port " + std::to_string(sinkPort) +
          "\n    TLS off\n    apikey " + kBenchApiKey + "\n    dd_service bench\n    dd_source load\n"
          "    compress " + a.compress + "\n    Retry_Limit no_limits\n    workers " + std::to_string(a.inFlight) + "\n";
  if (compat) return conf;
  if (!a.queueLimit.empty()) conf += "    queue_limit " + a.queueLimit + "\n";
  conf += std::string("    http2 ") + (a.sink == Sink::DatadogH2c ? "prior_knowledge" : "off") + "\n";
  if (a.compressLevel > 0) conf += "    compress_level " + std::to_string(a.compressLevel) + "\n";
  if (!a.concurrency.empty()) conf += "    concurrency " + a.concurrency + "\n";
  return conf;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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

std::string baseName(const std::string& path);

// The sinks of one run: the fake Datadog intake or the fake CloudWatch, and the task metadata the ecs
// filter reads. Both sinks feed one latency recorder and count the enriched events.
struct Sinks {
  LatencyRecorder latency;
  std::atomic<uint64_t> enriched{0};
  std::string enrichedMarker;  // the task ARN: once per enriched event, in either sink's bodies
  std::unique_ptr<firelane::testsupport::FakeIntake> intake;
  std::unique_ptr<firelane::bench::BenchCloudWatch> cloudwatch;
  std::unique_ptr<firelane::bench::BenchTaskMetadata> metadata;

  // `paced`: a latency run; the intake then skips its zlib-6 reference compression, which would delay
  // every 2xx by the time a real intake never spends.
  Sinks(const Args& a, bool paced) {
    if (a.ecsGrep) {
      enrichedMarker = kBenchTaskArn;
      metadata = std::make_unique<firelane::bench::BenchTaskMetadata>(kBenchTaskArn, containerId());
      metadata->start();
    }
    if (a.sink == Sink::CloudWatch) {
      cloudwatch = std::make_unique<firelane::bench::BenchCloudWatch>(kBenchRegion, kBenchAccessKey, &latency,
                                                                      enrichedMarker);
      cloudwatch->start();
    } else if (a.sink != Sink::Null) {
      firelane::testsupport::FakeIntakeOptions io;
      io.apiKey = kBenchApiKey;
      io.recordEvents = false;  // counters only: memory stays flat
      io.recordRequests = false;
      io.zlibReference = a.compress == "gzip" && !paced;
      io.maxConcurrentRequests = a.intakeCapacity;
      io.serviceTime = Millis(a.intakeServiceMs);
      io.onAccepted = [this](std::string_view body) {
        latency.scan(body);
        if (!enrichedMarker.empty()) enriched += firelane::bench::countOccurrences(body, enrichedMarker);
      };
      intake = std::make_unique<firelane::testsupport::FakeIntake>(io);
      intake->start();
    }
  }
  uint16_t port() const { return intake ? intake->port() : cloudwatch ? cloudwatch->port() : 0; }
  std::vector<std::string> env() const {
    std::vector<std::string> e;
    if (metadata) e.push_back("ECS_CONTAINER_METADATA_URI_V4=" + metadata->url());
    if (cloudwatch) {
      // Static credentials through the environment, the first link of the chain.
      e.push_back(std::string("AWS_ACCESS_KEY_ID=") + kBenchAccessKey);
      e.push_back("AWS_SECRET_ACCESS_KEY=firelane-bench-secret");
      e.push_back("AWS_EC2_METADATA_DISABLED=true");
    }
    return e;
  }
  uint64_t accepted() const {
    if (intake) return intake->eventCount();
    if (cloudwatch) return cloudwatch->stats().events;
    return 0;
  }
  bool waitForEvents(uint64_t n, Millis timeout) const {
    if (intake) return intake->waitForEvents(n, timeout);
    if (cloudwatch) return cloudwatch->waitForEvents(n, timeout);
    return true;
  }
};

// `compat`: run `binary` (e.g. fluent-bit) with a config of that dialect on chosen ports.
RunResult runOnce(const Args& a, unsigned run, const std::string& binary, std::optional<Dialect> compat, double rate) {
  RunResult r;
  r.binary = binary;
  r.compat = compat;
  r.rate = rate;
  std::unique_ptr<firelane::testsupport::TempDir> dir;
  std::unique_ptr<firelane::testsupport::Process> proc;
  std::string host = a.host;
  uint16_t port = a.port;
  pid_t pid = a.pid;
  Sinks sinks(a, rate > 0);
  if (port == 0) {
    dir = std::make_unique<firelane::testsupport::TempDir>("firelane-load");
    host = "127.0.0.1";
    firelane::testsupport::SpawnOptions spawn;
    spawn.env = sinks.env();
    if (compat) {
      Compat c;
      c.dialect = *compat;
      const bool forward = a.input == Input::Forward;
      (forward ? c.forwardPort : c.httpPort) = freePort();
      if (sinks.metadata) c.metadataPort = sinks.metadata->port();
      if (!forward && c.dialect == Dialect::FluentBit) c.parsersFile = dir->writeFile("compare-parsers.conf", lineParserFile());
      std::string conf = dir->writeFile("compare.conf", serviceConfig(a, sinks.port(), dir->file("spool"), &c));
      proc = firelane::testsupport::Process::spawn(binary, {"-c", conf}, spawn);
      // It cannot tell us when it started: poll its forward port, or (stdin) its monitoring server.
      auto deadline = Clock::now() + std::chrono::seconds(15);
      bool up = false;
      while (!up && Clock::now() < deadline && proc->running()) {
        if (forward) {
          up = ForwardClient::connectTcp(host, c.forwardPort, Millis(200), nullptr) != nullptr;
        } else {
          auto res = firelane::testsupport::httpRequest(host, c.httpPort, "GET", "/api/v1/uptime", Millis(200));
          up = res && res->status == 200;
        }
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!up) {
        r.ok = false;
        r.error = binary + " did not answer on port " + std::to_string(forward ? c.forwardPort : c.httpPort) +
                  "; config:\n" + readText(conf) + "stderr:\n" + proc->stderrText();
        return r;
      }
      port = c.forwardPort;
    } else {
      std::string conf = dir->writeFile("firelane.conf", serviceConfig(a, sinks.port(), dir->file("spool")));
      proc = firelane::testsupport::Process::spawn(binary, {"-c", conf}, spawn);
      // Started (stdin too: its CPU is measured from here, without start-up).
      auto listeners = firelane::testsupport::waitForStartup(*proc, Millis(15000));
      const bool forward = a.input == Input::Forward;
      if (!listeners || (forward && (listeners->empty() || listeners->front().isUnix()))) {
        r.ok = false;
        r.error = "firelane did not start; stderr:\n" + proc->stderrText();
        return r;
      }
      if (forward) port = listeners->front().port;
    }
    pid = proc->pid();
  }

  // Per-stream (connection, or the stdin pipe) shares, payloads built before the clock starts.
  const unsigned streams = a.input == Input::Stdin ? 1 : a.connections;
  const uint64_t per = a.events / streams, extra = a.events % streams;
  // A pool of distinct payloads (~8k distinct events, fewer when the lines are long: at most ~64 MB)
  // cycled through, so compression sees varied input rather than one message repeated.
  std::vector<Payload> pool;
  size_t poolSize = poolPayloads(a);
  for (size_t i = 0; i < poolSize; ++i) pool.push_back(buildPayload(a, a.batch, i * a.batch + 1'000'000, std::nullopt));
  struct Plan {
    uint64_t events = 0;
    uint64_t fullMessages = 0;
    Payload last;
    std::string chunk;
  };
  std::vector<Plan> plans(streams);
  for (unsigned c = 0; c < streams; ++c) {
    Plan& p = plans[c];
    p.events = per + (c < extra ? 1 : 0);
    if (p.events == 0) continue;
    uint64_t lastCount = p.events % a.batch == 0 ? a.batch : p.events % a.batch;
    p.fullMessages = (p.events - lastCount) / a.batch;
    if (a.input == Input::Forward) p.chunk = "load-" + std::to_string(run) + "-" + std::to_string(c);
    p.last = buildPayload(a, static_cast<unsigned>(lastCount), 7 * c + 1,
                          p.chunk.empty() ? std::nullopt : std::optional<std::string>(p.chunk));
  }
  // What the sink must accept: every event but those the filters drop, known before the run starts.
  for (unsigned c = 0; c < streams; ++c) {
    const Plan& p = plans[c];
    if (p.events == 0) continue;
    for (uint64_t m = 0; m < p.fullMessages; ++m) r.expected += pool[(m + c) % pool.size()].kept;
    r.expected += p.last.kept;
  }
  std::vector<std::unique_ptr<ForwardClient>> clients(a.input == Input::Forward ? a.connections : 0);
  for (unsigned c = 0; c < clients.size(); ++c) {
    std::string err;
    clients[c] = ForwardClient::connectTcp(host, port, Millis(5000), &err);
    if (!clients[c]) {
      r.ok = false;
      r.error = "connect " + host + ":" + std::to_string(port) + ": " + err;
      return r;
    }
  }

  std::vector<std::unique_ptr<AckWindow>> ackWindows(a.acks ? clients.size() : 0);
  for (unsigned c = 0; c < ackWindows.size(); ++c)
    ackWindows[c] = std::make_unique<AckWindow>(clients[c]->fd(), run, c, a.ackWindow);

  if (pid > 0) r.before = firelane::testsupport::readProcStats(pid);
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> eventsSent{0};
  std::atomic<bool> sampling{true};
  std::thread sampler;
  const std::string spoolDir = dir && a.storage != Storage::Memory ? dir->file("spool") : std::string();
  std::vector<std::string> errors(streams);
  auto start = Clock::now();
  if (pid > 0 && r.before) {
    // /proc every 100 ms: throughput, CPU and RSS over time for the JSON and the chart.
    sampler = std::thread([&, pid] {
      const double cpu0 = r.before->cpuSeconds();
      while (sampling.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto st = firelane::testsupport::readProcStats(pid);
        if (!st) break;
        const uint64_t spool = spoolDir.empty() ? 0 : firelane::bench::dirBytes(spoolDir);
        r.spoolPeak = std::max(r.spoolPeak, spool);
        r.samples.push_back(Sample{std::chrono::duration<double>(Clock::now() - start).count(),
                                   st->cpuSeconds() - cpu0, st->rssBytes, eventsSent.load(), spool});
      }
    });
  }
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < streams; ++c) {
    threads.emplace_back([&, c] {
      const Plan& p = plans[c];
      if (p.events == 0) return;
      StampedSender sender(rate / streams, start);
      if (a.input == Input::Stdin) {
        for (uint64_t m = 0; m <= p.fullMessages; ++m) {
          const Payload& payload = m < p.fullMessages ? pool[m % pool.size()] : p.last;
          if (!proc->writeStdin(sender.stamp(payload), Millis(60000))) {
            errors[c] = "writing to firelane's stdin failed";
            return;
          }
          bytes += payload.bytes.size();
          eventsSent += payload.events;
        }
        return;
      }
      ForwardClient& client = *clients[c];
      if (a.acks) {
        AckWindow& acks = *ackWindows[c];
        auto fail = [&](const std::string& why) { errors[c] = why.empty() ? acks.error() : why; };
        for (uint64_t m = 0; m <= p.fullMessages; ++m) {
          const Payload& payload = m < p.fullMessages ? pool[(m + c) % pool.size()] : p.last;
          if (!acks.makeRoom(payload.chunks.size(), Millis(60000))) return fail("");
          std::string& out = sender.stamp(payload);
          acks.label(out, payload);
          if (!client.send(out, Millis(60000))) return fail(client.lastError());
          if (!acks.poll()) return fail("");
          bytes += payload.bytes.size();
          eventsSent += payload.events;
        }
        if (!acks.finish(Millis(120000))) fail("");
        return;
      }
      for (uint64_t m = 0; m < p.fullMessages; ++m) {
        const Payload& full = pool[(m + c) % pool.size()];
        if (!client.send(sender.stamp(full), Millis(60000))) {
          errors[c] = client.lastError();
          return;
        }
        bytes += full.bytes.size();
        eventsSent += a.batch;
      }
      if (!client.sendWithAck(sender.stamp(p.last), p.chunk, Millis(120000))) {
        errors[c] = client.lastError();
        return;
      }
      bytes += p.last.bytes.size();
      eventsSent += p.last.events;
    });
  }
  for (auto& t : threads) t.join();
  if (a.sink != Sink::Null && !sinks.waitForEvents(r.expected, Millis(600000))) {
    r.ok = false;
    r.error += "the sink accepted only " + std::to_string(sinks.accepted()) + " of " + std::to_string(r.expected) +
               " events\n";
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.bytes = bytes;
  r.events = eventsSent;
  if (pid > 0) r.after = firelane::testsupport::readProcStats(pid);
  sampling = false;
  if (sampler.joinable()) sampler.join();
  // The active segment stays until it is sealed: a run shorter than one sample still sees its spool.
  if (!spoolDir.empty()) r.spoolPeak = std::max(r.spoolPeak, firelane::bench::dirBytes(spoolDir));
  for (unsigned c = 0; c < streams; ++c) {
    if (!errors[c].empty()) {
      r.ok = false;
      r.error += "stream " + std::to_string(c) + ": " + errors[c] + "\n";
    }
  }
  if (a.acks) {
    // Every message acknowledged once, with its own id (a failed stream reported its error above).
    std::vector<uint32_t> rtts;
    for (const auto& w : ackWindows) {
      r.ackMessages += w->sent();
      r.acks += w->received();
      r.wrongAcks += w->wrong();
      rtts.insert(rtts.end(), w->roundTrips().begin(), w->roundTrips().end());
    }
    if (r.acks != r.ackMessages || r.wrongAcks > 0) {
      r.ok = false;
      r.error += std::to_string(r.acks) + " of " + std::to_string(r.ackMessages) + " messages acknowledged, " +
                 std::to_string(r.wrongAcks) + " wrong acks\n";
    }
    auto percentile = [&rtts](double q) {
      const size_t k = std::min(rtts.size() - 1, static_cast<size_t>(q * static_cast<double>(rtts.size())));
      std::nth_element(rtts.begin(), rtts.begin() + static_cast<std::ptrdiff_t>(k), rtts.end());
      return rtts[k] / 1000.0;
    };
    if (!rtts.empty()) r.ackP50Ms = percentile(0.50), r.ackP99Ms = percentile(0.99);
  }
  ackWindows.clear();
  clients.clear();
  if (proc) {
    // stdin: EOF makes firelane drain and exit by itself; otherwise SIGTERM.
    if (a.input == Input::Stdin) proc->closeStdin();
    else proc->sendSignal(SIGTERM);
    r.exitCode = proc->waitExit(Millis(15000));
    if (!r.exitCode) {
      r.ok = false;
      r.error += baseName(binary) + " did not exit within 15 s\n";
    } else if (*r.exitCode != 0) {
      r.ok = false;
      r.error += baseName(binary) + " exited with " + std::to_string(*r.exitCode) + "\n";
    }
    if (a.keepLogs || !r.ok)
      std::fprintf(stderr, "--- %s stderr ---\n%s", baseName(binary).c_str(), proc->stderrText().c_str());
  }
  if (sinks.intake) {
    auto st = sinks.intake->stats();
    r.requests = st.requests;
    r.refused429 = st.status(429);
    r.maxInService = st.maxInService;
    r.intakeBodyBytes = st.bodyBytes;
    r.jsonBytes = st.decodedBytes;
    r.zlib6Bytes = st.zlib6Bytes;
    if (st.violations > 0) {
      r.ok = false;
      r.error += std::to_string(st.violations) + " intake violations\n";
    }
  }
  if (sinks.cloudwatch) {
    auto st = sinks.cloudwatch->stats();
    r.requests = st.putRequests;
    r.intakeBodyBytes = st.bodyBytes;
    r.jsonBytes = st.bodyBytes;
    sinks.enriched += st.enriched;
    if (st.violations > 0) {
      r.ok = false;
      r.error += std::to_string(st.violations) + " CloudWatch violations, first: ";
      for (const auto& v : st.firstViolations) r.error += v + "; ";
      r.error += "\n";
    }
  }
  if (a.ecsGrep) {
    // Every event the sink accepted must carry the task metadata, fetched (at least once) from the fake.
    const uint64_t accepted = sinks.accepted();
    if (sinks.enriched.load() != accepted) {
      r.ok = false;
      r.error += std::to_string(accepted - std::min<uint64_t>(accepted, sinks.enriched.load())) + " of " +
                 std::to_string(accepted) + " accepted events lack the ECS task metadata\n";
    }
    if (sinks.metadata->taskRequests() == 0) {
      r.ok = false;
      r.error += "the ecs filter never fetched the task metadata\n";
    }
  }
  r.accepted = sinks.accepted();
  r.latencyCount = sinks.latency.count();
  if (r.latencyCount > 0) {
    r.p50Ms = sinks.latency.percentileMicros(0.50) / 1000.0;
    r.p99Ms = sinks.latency.percentileMicros(0.99) / 1000.0;
  }
  return r;
}

// ---- the outage scenario ----

std::string fmt(double v, const char* format);

struct OutageResult {
  bool ok = true;
  std::string error;
  uint64_t events = 0, bytes = 0;   // offered
  uint64_t delivered = 0, duplicates = 0, strays = 0;
  double offerSeconds = -1;         // first byte -> the last message acked
  double intakeDownSeconds = 0;     // first byte -> the intake listening again
  double drainSeconds = -1;         // the intake back -> every event delivered
  double freedSeconds = -1;         // the intake back -> delivered segments deleted (only active ones left)
  uint64_t spoolPeak = 0, spoolAtResume = 0, spoolAfter = 0;
  uint64_t peakRss = 0, rssAtResume = 0;
  double cpu = -1;
  uint64_t requests = 0, intakeBodyBytes = 0;
};

// The intake is down (refusing connections) from before firelane starts; `bytes` of PackedForward
// frames are offered, paced so the offer spans the outage; after `outageSeconds` (from the first byte)
// the intake listens again and the run waits until every event was delivered. Every event carries a
// unique sequence number in its log line, so delivered, missing and duplicated events are exact.
OutageResult runOutage(const Args& a) {
  OutageResult r;
  firelane::testsupport::TempDir dir("firelane-outage");
  const std::string spoolDir = dir.file("spool");
  std::vector<Payload> pool;
  size_t poolSize = poolPayloads(a);
  uint64_t poolBytes = 0;
  for (size_t i = 0; i < poolSize; ++i) {
    pool.push_back(buildPayload(a, a.batch, i * a.batch + 1'000'000, std::nullopt));
    poolBytes += pool.back().bytes.size();
    if (pool.back().stamps.size() != pool.back().events) throw std::runtime_error("a payload lacks per-event stamps");
  }
  const uint64_t messages = std::max<uint64_t>(a.connections, (a.offerBytes * poolSize + poolBytes - 1) / poolBytes);
  struct Plan {
    uint64_t messages = 0, firstSequence = 0;
    Payload last;  // carries the chunk option: its ack ends the connection's offer
    std::string chunk;
  };
  std::vector<Plan> plans(a.connections);
  uint64_t sequence = 0;
  for (unsigned c = 0; c < a.connections; ++c) {
    Plan& p = plans[c];
    p.messages = messages / a.connections + (c < messages % a.connections ? 1 : 0);
    p.firstSequence = sequence;
    sequence += p.messages * a.batch;
    p.chunk = "outage-" + std::to_string(c);
    p.last = buildPayload(a, a.batch, 7 * c + 1, p.chunk);
  }
  r.events = sequence;
  firelane::bench::SequenceTracker tracker(r.events);

  firelane::testsupport::FakeIntakeOptions io;
  io.apiKey = kBenchApiKey;
  io.recordEvents = false;
  io.recordRequests = false;
  io.onAccepted = [&tracker](std::string_view body) { tracker.scan(body); };
  firelane::testsupport::FakeIntake intake(io);
  intake.start();
  intake.stopListening();

  std::string conf = dir.writeFile("firelane.conf", serviceConfig(a, intake.port(), spoolDir));
  auto proc = firelane::testsupport::Process::spawn(a.firelane, {"-c", conf});
  auto listeners = firelane::testsupport::waitForStartup(*proc, Millis(15000));
  if (!listeners || listeners->empty() || listeners->front().isUnix()) {
    r.ok = false;
    r.error = "firelane did not start; stderr:\n" + proc->stderrText();
    return r;
  }
  const uint16_t port = listeners->front().port;
  const pid_t pid = proc->pid();
  std::vector<std::unique_ptr<ForwardClient>> clients(a.connections);
  for (auto& client : clients) {
    std::string err;
    client = ForwardClient::connectTcp("127.0.0.1", port, Millis(5000), &err);
    if (!client) {
      r.ok = false;
      r.error = "connect: " + err;
      return r;
    }
  }
  const Millis sendTimeout(static_cast<int64_t>((a.outageSeconds + a.drainTimeout) * 1000));
  auto before = firelane::testsupport::readProcStats(pid);
  std::atomic<uint64_t> bytes{0}, eventsSent{0};
  std::atomic<bool> sampling{true}, resumed{false};
  std::atomic<uint64_t> spoolPeak{0}, spoolAtResume{0}, rssAtResume{0};
  std::vector<std::string> errors(a.connections);
  const auto start = Clock::now();
  std::thread sampler([&] {
    uint64_t lastReport = 0;
    while (sampling.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const uint64_t spool = firelane::bench::dirBytes(spoolDir);
      spoolPeak = std::max(spoolPeak.load(), spool);
      auto st = firelane::testsupport::readProcStats(pid);
      if (!resumed.load()) {
        spoolAtResume = spool;
        if (st) rssAtResume = st->rssBytes;
      }
      const double t = std::chrono::duration<double>(Clock::now() - start).count();
      if (!a.json && static_cast<uint64_t>(t / 10) != lastReport) {
        // Progress every 10 s (an outage run takes minutes).
        lastReport = static_cast<uint64_t>(t / 10);
        std::fprintf(stderr, "t=%.0f s: offered %llu events (%.0f MB), delivered %llu, spool %.1f MB, RSS %.1f MB\n", t,
                     static_cast<unsigned long long>(eventsSent.load()), static_cast<double>(bytes.load()) / 1e6,
                     static_cast<unsigned long long>(tracker.distinct()), static_cast<double>(spool) / 1e6,
                     st ? static_cast<double>(st->rssBytes) / 1e6 : -1.0);
      }
    }
  });
  std::vector<std::thread> threads;
  const double rate = static_cast<double>(r.events) / a.outageSeconds;
  for (unsigned c = 0; c < a.connections; ++c) {
    threads.emplace_back([&, c] {
      const Plan& p = plans[c];
      StampedSender sender(rate / a.connections, start, p.firstSequence);
      ForwardClient& client = *clients[c];
      for (uint64_t m = 0; m + 1 < p.messages; ++m) {
        const Payload& full = pool[(m + c) % pool.size()];
        if (!client.send(sender.stamp(full), sendTimeout)) {
          errors[c] = client.lastError();
          return;
        }
        bytes += full.bytes.size();
        eventsSent += full.events;
      }
      if (!client.sendWithAck(sender.stamp(p.last), p.chunk, sendTimeout)) {
        errors[c] = client.lastError();
        return;
      }
      bytes += p.last.bytes.size();
      eventsSent += p.last.events;
    });
  }
  // The outage is the scenario's definition (a wall-clock window), not a synchronisation.
  std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(a.outageSeconds)));
  intake.resumeListening();
  const auto resumedAt = Clock::now();
  resumed = true;
  r.intakeDownSeconds = std::chrono::duration<double>(resumedAt - start).count();
  for (auto& t : threads) t.join();
  r.offerSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  const bool all = tracker.waitAll(static_cast<uint64_t>(a.drainTimeout * 1000));
  if (all) r.drainSeconds = std::chrono::duration<double>(Clock::now() - resumedAt).count();
  auto after = firelane::testsupport::readProcStats(pid);
  // The intake counts an event before firelane reads its 202, and a segment is deleted only once every
  // batch before it was delivered: the oldest batches, in retry backoff since the outage began, may be
  // the last to go. Wait (bounded) until only the active segments (<= 8 MiB each) are left.
  if (all) {
    const uint64_t activeOnly = (uint64_t{8} << 20) + (64u << 10);
    const auto freeDeadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < freeDeadline) {
      const size_t workers = std::max<size_t>(1, firelane::bench::subdirCount(spoolDir));
      if (firelane::bench::dirBytes(spoolDir) <= activeOnly * workers) {
        r.freedSeconds = std::chrono::duration<double>(Clock::now() - resumedAt).count();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a bounded condition
    }
  }
  r.spoolAfter = firelane::bench::dirBytes(spoolDir);
  sampling = false;
  sampler.join();
  r.bytes = bytes;
  // The active segment is never deleted: a last look counts what arrived after the last sample.
  r.spoolPeak = std::max(spoolPeak.load(), r.spoolAfter);
  r.spoolAtResume = spoolAtResume;
  r.rssAtResume = rssAtResume;
  if (before && after) {
    r.cpu = after->cpuSeconds() - before->cpuSeconds();
    r.peakRss = after->peakRssBytes;
  }
  for (unsigned c = 0; c < a.connections; ++c) {
    if (!errors[c].empty()) {
      r.ok = false;
      r.error += "connection " + std::to_string(c) + ": " + errors[c] + "\n";
    }
  }
  clients.clear();
  proc->sendSignal(SIGTERM);
  auto code = proc->waitExit(Millis(30000));
  if (!code || *code != 0) {
    r.ok = false;
    r.error += code ? "firelane exited with " + std::to_string(*code) + "\n" : "firelane did not exit within 30 s\n";
  }
  if (a.keepLogs || !r.ok) std::fprintf(stderr, "--- firelane stderr ---\n%s", proc->stderrText().c_str());
  auto st = intake.stats();
  r.requests = st.status(202);
  r.intakeBodyBytes = st.bodyBytes;
  if (st.violations > 0) {
    r.ok = false;
    r.error += std::to_string(st.violations) + " intake violations\n";
  }
  r.delivered = tracker.distinct();
  r.duplicates = tracker.duplicates();
  r.strays = tracker.strays();
  if (!all || r.delivered != r.events) {
    r.ok = false;
    r.error += "delivered " + std::to_string(r.delivered) + " of " + std::to_string(r.events) + " events within " +
               fmt(a.drainTimeout, "%.0f") + " s of the intake's return\n";
  }
  if (r.strays > 0) {
    r.ok = false;
    r.error += std::to_string(r.strays) + " events at the intake that were never offered\n";
  }
  return r;
}

void printOutage(const Args& a, const OutageResult& r) {
  const double mb = 1e6;
  if (a.json) {
    std::printf("{\"scenario\":\"outage\",\"ok\":%s,\"storage\":\"%s\",\"outage_seconds\":%.3f,\"offered_events\":%llu,"
                "\"offered_bytes\":%llu,\"offer_seconds\":%.3f,\"delivered_events\":%llu,\"duplicates\":%llu,"
                "\"strays\":%llu,\"drain_seconds\":%.3f,\"spool_freed_seconds\":%.3f,\"spool_peak_bytes\":%llu,\"spool_at_resume_bytes\":%llu,"
                "\"spool_after_bytes\":%llu,\"peak_rss_bytes\":%llu,\"rss_at_resume_bytes\":%llu,\"cpu_seconds\":%.3f,"
                "\"requests\":%llu,\"intake_body_bytes\":%llu,\"queue_limit\":\"%s\"}\n",
                r.ok ? "true" : "false", storageName(a.storage), r.intakeDownSeconds,
                static_cast<unsigned long long>(r.events), static_cast<unsigned long long>(r.bytes), r.offerSeconds,
                static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.duplicates),
                static_cast<unsigned long long>(r.strays), r.drainSeconds, r.freedSeconds,
                static_cast<unsigned long long>(r.spoolPeak),
                static_cast<unsigned long long>(r.spoolAtResume), static_cast<unsigned long long>(r.spoolAfter),
                static_cast<unsigned long long>(r.peakRss), static_cast<unsigned long long>(r.rssAtResume), r.cpu,
                static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.intakeBodyBytes),
                a.queueLimit.empty() ? "8M" : a.queueLimit.c_str());
    return;
  }
  std::string workers = a.workers > 0 ? std::to_string(a.workers) : "default";
  std::printf("\noutage: %s, storage %s, workers %s, queue_limit %s, %u connection(s), %s padding, scheduler.cap %s s\n\n",
              r.ok ? "ok" : "FAILED", storageName(a.storage), workers.c_str(), a.queueLimit.empty() ? "8M" : a.queueLimit.c_str(),
              a.connections, a.padding == Padding::Random ? "random" : "repeat",
              a.schedulerCap.empty() ? "2000" : a.schedulerCap.c_str());
  std::printf("| what | value |\n|---|---|\n");
  std::printf("| intake down | %.1f s (from the first byte) |\n", r.intakeDownSeconds);
  std::printf("| offered | %llu events, %.1f MB of PackedForward in %.1f s |\n", static_cast<unsigned long long>(r.events),
              static_cast<double>(r.bytes) / mb, r.offerSeconds);
  std::printf("| delivered | %llu distinct events, %llu duplicates, %llu strays |\n",
              static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.duplicates),
              static_cast<unsigned long long>(r.strays));
  std::printf("| time to drain (intake back -> all delivered) | %s s |\n", fmt(r.drainSeconds, "%.1f").c_str());
  std::printf("| delivered segments deleted (intake back -> only active segments left) | %s s |\n",
              fmt(r.freedSeconds, "%.1f").c_str());
  std::printf("| spool peak / at the intake's return / after the drain | %.1f / %.1f / %.1f MB |\n",
              static_cast<double>(r.spoolPeak) / mb, static_cast<double>(r.spoolAtResume) / mb,
              static_cast<double>(r.spoolAfter) / mb);
  std::printf("| firelane peak RSS / RSS at the intake's return | %.1f / %.1f MB |\n", static_cast<double>(r.peakRss) / mb,
              static_cast<double>(r.rssAtResume) / mb);
  std::printf("| firelane CPU | %s s |\n", fmt(r.cpu, "%.1f").c_str());
  std::printf("| intake | %llu requests accepted, %.1f MB compressed |\n", static_cast<unsigned long long>(r.requests),
              static_cast<double>(r.intakeBodyBytes) / mb);
  if (!r.ok) std::fprintf(stderr, "outage run failed:\n%s", r.error.c_str());
}

struct Row {
  unsigned run;
  RunResult r;
  bool calibration = false;  // the unpaced run --rate half took its rate from
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

const char* concurrencyName(const Args& a) { return a.concurrency.empty() ? "default" : a.concurrency.c_str(); }

const char* configName(const RunResult& r) {
  if (!r.compat) return "native";
  return *r.compat == Dialect::FluentBit ? "fluent-bit" : "firelane";
}

// The binary's name, marked when it ran with the --compare config (firelane may be compared with itself).
std::string binaryLabel(const RunResult& r) { return baseName(r.binary) + (r.compat ? " (compare)" : ""); }

std::string runLabel(const Row& row) { return row.calibration ? "cal" : std::to_string(row.run); }

// "-" for figures a run does not have (no sink: no latency).
std::string fmt(double v, const char* format) {
  if (v < 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// Load bytes written per event (forward frames or stdin lines).
double bytesPerEvent(const RunResult& r) {
  return r.events > 0 ? static_cast<double>(r.bytes) / static_cast<double>(r.events) : 0;
}

void printLine(const Args& a, const Row& row) {
  const RunResult& r = row.r;
  std::string workers = a.workers > 0 ? std::to_string(a.workers) : "default";
  if (a.json) {
    std::printf("{\"binary\":\"%s\",\"config\":\"%s\",\"run\":\"%s\",\"ok\":%s,\"sink\":\"%s\",\"requests\":%llu,"
                "\"responses_429\":%llu,\"max_in_service\":%llu,\"concurrency\":\"%s\",\"intake_capacity\":%llu,"
                "\"intake_service_ms\":%u,\"in_flight\":%u,\"intake_body_bytes\":%llu,\"load\":\"%s\",\"ecs_grep\":%s,\"events\":%llu,\"expected_at_sink\":%llu,"
                "\"accepted_at_sink\":%llu,\"connections\":%u,\"batch\":%u,"
                "\"workers\":\"%s\",\"offered_rate\":%.0f,\"seconds\":%.3f,\"bytes\":%llu,\"events_per_sec\":%.0f,"
                "\"mb_per_sec\":%.1f,\"cpu_seconds\":%.3f,\"cpu_seconds_per_million_events\":%.3f,\"peak_rss_mb\":%.1f,"
                "\"latency_p50_ms\":%.2f,\"latency_p99_ms\":%.2f,"
                "\"padding\":\"%s\",\"json_bytes\":%llu,\"zlib6_bytes\":%llu,\"storage\":\"%s\",\"spool_peak_bytes\":%llu,",
                baseName(r.binary).c_str(), configName(r), runLabel(row).c_str(), r.ok ? "true" : "false", sinkName(a.sink),
                static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.refused429),
                static_cast<unsigned long long>(r.maxInService), concurrencyName(a),
                static_cast<unsigned long long>(a.intakeCapacity), a.intakeServiceMs, a.inFlight,
                static_cast<unsigned long long>(r.intakeBodyBytes), loadName(a.input, a.mode),
                a.ecsGrep ? "true" : "false", static_cast<unsigned long long>(a.events),
                static_cast<unsigned long long>(r.expected), static_cast<unsigned long long>(r.accepted), a.connections,
                a.batch, workers.c_str(), r.rate, r.seconds,
                static_cast<unsigned long long>(r.bytes), row.eps, row.mbps, row.cpu, row.cpuPerM, row.peakMb, r.p50Ms,
                r.p99Ms, a.padding == Padding::Random ? "random" : "repeat",
                static_cast<unsigned long long>(r.jsonBytes), static_cast<unsigned long long>(r.zlib6Bytes),
                storageName(a.storage), static_cast<unsigned long long>(r.spoolPeak));
    std::printf("\"record_size\":%u,\"events_sent\":%llu,\"bytes_per_event\":%.1f,\"latency_samples\":%llu,"
                "\"acks_enabled\":%s,\"ack_window\":%u,\"ack_messages\":%llu,\"acks\":%llu,\"wrong_acks\":%llu,"
                "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f}\n",
                logSize(a), static_cast<unsigned long long>(r.events), bytesPerEvent(r),
                static_cast<unsigned long long>(r.latencyCount), a.acks ? "true" : "false", a.ackWindow,
                static_cast<unsigned long long>(r.ackMessages), static_cast<unsigned long long>(r.acks),
                static_cast<unsigned long long>(r.wrongAcks), r.ackP50Ms, r.ackP99Ms);
    return;
  }
  std::printf("run %s %s %s: sink=%s load=%s%s padding=%s storage=%s events=%llu connections=%u batch=%u workers=%s "
              "rate=%s | %.2f s, %.0f events/s, %.1f MB/s",
              runLabel(row).c_str(), binaryLabel(r).c_str(), r.ok ? "ok" : "FAILED", sinkName(a.sink),
              loadName(a.input, a.mode), a.ecsGrep ? "+ecs+grep" : "", a.padding == Padding::Random ? "random" : "repeat",
              storageName(a.storage), static_cast<unsigned long long>(a.events), a.connections, a.batch, workers.c_str(),
              r.rate > 0 ? fmt(r.rate, "%.0f/s").c_str() : "max", r.seconds, row.eps, row.mbps);
  if (a.storage != Storage::Memory) std::printf(", spool peak %.1f MB", static_cast<double>(r.spoolPeak) / 1e6);
  std::printf(", %.0f B per event (log lines %u)", bytesPerEvent(r), logSize(a));
  if (a.acks) {
    std::printf(", acks %llu of %llu (window %u), ack round trip p50 %s p99 %s ms",
                static_cast<unsigned long long>(r.acks), static_cast<unsigned long long>(r.ackMessages), a.ackWindow,
                fmt(r.ackP50Ms, "%.2f").c_str(), fmt(r.ackP99Ms, "%.2f").c_str());
  }
  if (row.cpu >= 0) {
    std::printf(", cpu %.2f s (%.3f s per 1M events), peak RSS %.1f MB", row.cpu, row.cpuPerM, row.peakMb);
  }
  if (a.sink != Sink::Null) {
    std::printf(", latency p50 %s p99 %s ms (%llu stamps)", fmt(r.p50Ms, "%.1f").c_str(), fmt(r.p99Ms, "%.1f").c_str(),
                static_cast<unsigned long long>(r.latencyCount));
    std::printf(", %llu requests, %.1f MB %s", static_cast<unsigned long long>(r.requests),
                static_cast<double>(r.intakeBodyBytes) / 1e6, a.sink == Sink::CloudWatch ? "JSON" : "compressed");
    if (a.intakeCapacity > 0) {
      std::printf(", %llu answered 429 (intake capacity %zu, %u ms each; at most %llu in service)",
                  static_cast<unsigned long long>(r.refused429), a.intakeCapacity, a.intakeServiceMs,
                  static_cast<unsigned long long>(r.maxInService));
    }
    if (r.zlib6Bytes > 0) {
      std::printf(" (JSON %.1f MB, ratio %.2f; zlib-6 %.1f MB, this/zlib-6 %.3f)", static_cast<double>(r.jsonBytes) / 1e6,
                  static_cast<double>(r.jsonBytes) / static_cast<double>(std::max<uint64_t>(1, r.intakeBodyBytes)),
                  static_cast<double>(r.zlib6Bytes) / 1e6,
                  static_cast<double>(r.intakeBodyBytes) / static_cast<double>(r.zlib6Bytes));
    }
  }
  std::printf("\n");
}

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

void printTable(const Args& a, const std::vector<Row>& rows) {
  std::printf("\n%s, storage %s", a.scenario.empty() ? "(no scenario: options as given)" : a.scenario.c_str(),
              storageName(a.storage));
  if (a.sink == Sink::DatadogH1 || a.sink == Sink::DatadogH2c) {
    std::printf(", datadog workers %u, concurrency %s", a.inFlight, concurrencyName(a));
    if (a.intakeCapacity > 0)
      std::printf(", intake serves %zu at once (%u ms each, 429 above)", a.intakeCapacity, a.intakeServiceMs);
  }
  std::printf(", log lines %u chars", logSize(a));
  if (a.acks) std::printf(", acks (window %u per connection)", a.ackWindow);
  // --acks adds two columns: acks received of messages sent, and the ack round trip.
  std::printf("\n\n| binary | run | offered | events/s | MB/s | CPU s per 1M events | peak RSS MB | p50 ms | p99 ms | requests "
              "| 429s | bytes sent | spool peak MB |%s\n", a.acks ? " acks | ack p50 / p99 ms |" : "");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|%s\n", a.acks ? "---|---|" : "");
  const bool datadog = a.sink == Sink::DatadogH1 || a.sink == Sink::DatadogH2c;
  for (const Row& row : rows) {
    std::printf("| %s | %s%s | %s | %.0f | %.1f | %.3f | %.1f | %s | %s | %llu | %s | %llu | %s |",
                binaryLabel(row.r).c_str(), runLabel(row).c_str(), row.r.ok ? "" : " FAILED",
                row.r.rate > 0 ? fmt(row.r.rate, "%.0f/s").c_str() : "max", row.eps, row.mbps, row.cpuPerM, row.peakMb,
                fmt(row.r.p50Ms, "%.1f").c_str(), fmt(row.r.p99Ms, "%.1f").c_str(),
                static_cast<unsigned long long>(row.r.requests),
                datadog ? std::to_string(row.r.refused429).c_str() : "-",
                static_cast<unsigned long long>(row.r.intakeBodyBytes),
                a.storage == Storage::Memory ? "-" : fmt(static_cast<double>(row.r.spoolPeak) / 1e6, "%.1f").c_str());
    if (a.acks) {
      std::printf(" %llu of %llu | %s / %s |", static_cast<unsigned long long>(row.r.acks),
                  static_cast<unsigned long long>(row.r.ackMessages), fmt(row.r.ackP50Ms, "%.2f").c_str(),
                  fmt(row.r.ackP99Ms, "%.2f").c_str());
    }
    std::printf("\n");
  }
  // Medians per binary over the measured runs (calibration left out): the machine is noisy.
  std::vector<std::string> binaries;
  for (const Row& row : rows)
    if (std::find(binaries.begin(), binaries.end(), binaryLabel(row.r)) == binaries.end())
      binaries.push_back(binaryLabel(row.r));
  for (const auto& bin : binaries) {
    std::vector<double> eps, cpu, rss, p50, p99, spool, requests, refused, ack50, ack99;
    for (const Row& row : rows) {
      if (binaryLabel(row.r) != bin || row.calibration || !row.r.ok) continue;
      eps.push_back(row.eps), cpu.push_back(row.cpuPerM), rss.push_back(row.peakMb);
      requests.push_back(static_cast<double>(row.r.requests)), refused.push_back(static_cast<double>(row.r.refused429));
      spool.push_back(static_cast<double>(row.r.spoolPeak) / 1e6);
      if (row.r.p50Ms >= 0) p50.push_back(row.r.p50Ms), p99.push_back(row.r.p99Ms);
      if (row.r.ackP50Ms >= 0) ack50.push_back(row.r.ackP50Ms), ack99.push_back(row.r.ackP99Ms);
    }
    if (eps.size() < 2) continue;
    std::printf("| %s | median of %zu | | %.0f (%.0f-%.0f) | | %.3f (%.3f-%.3f) | %.1f | %s | %s | %s | %s | | %s |",
                bin.c_str(), eps.size(), median(eps), *std::min_element(eps.begin(), eps.end()),
                *std::max_element(eps.begin(), eps.end()), median(cpu), *std::min_element(cpu.begin(), cpu.end()),
                *std::max_element(cpu.begin(), cpu.end()), median(rss), fmt(median(p50), "%.1f").c_str(),
                fmt(median(p99), "%.1f").c_str(), a.sink == Sink::Null ? "" : fmt(median(requests), "%.0f").c_str(),
                datadog ? fmt(median(refused), "%.0f").c_str() : "",
                a.storage == Storage::Memory ? "-" : fmt(median(spool), "%.1f").c_str());
    if (a.acks) std::printf(" | %s / %s |", fmt(median(ack50), "%.2f").c_str(), fmt(median(ack99), "%.2f").c_str());
    std::printf("\n");
  }
  if (a.sink != Sink::Null) {
    std::printf("\nlatency: send -> sink 2xx; target p99 <= Flush + 20 ms = %.0f ms (at half of max load: --rate half)\n",
                a.flush * 1000 + 20);
  }
}

bool writeJson(const Args& a, const std::vector<Row>& rows) {
  FILE* f = std::fopen(a.jsonOut.c_str(), "w");
  if (!f) return false;
  std::fprintf(f, "{\"scenario\":\"%s\",\"load\":\"%s\",\"sink\":\"%s\",\"ecs_grep\":%s,\"padding\":\"%s\",\"events\":%llu,"
               "\"connections\":%u,\"batch\":%u,\"flush_seconds\":%g,\"in_flight\":%u,\"concurrency\":\"%s\","
               "\"intake_capacity\":%llu,\"intake_service_ms\":%u,\"record_size\":%u,\"acks\":%s,\"ack_window\":%u,\"runs\":[",
               a.scenario.c_str(), loadName(a.input, a.mode), sinkName(a.sink), a.ecsGrep ? "true" : "false",
               a.padding == Padding::Random ? "random" : "repeat", static_cast<unsigned long long>(a.events), a.connections,
               a.batch, a.flush, a.inFlight, concurrencyName(a), static_cast<unsigned long long>(a.intakeCapacity),
               a.intakeServiceMs, logSize(a), a.acks ? "true" : "false", a.ackWindow);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const RunResult& r = row.r;
    std::fprintf(f, "%s{\"binary\":\"%s\",\"config\":\"%s\",\"run\":\"%s\",\"ok\":%s,\"offered_rate\":%.0f,\"seconds\":%.3f,"
                 "\"events_per_sec\":%.0f,\"mb_per_sec\":%.2f,\"cpu_seconds\":%.3f,\"cpu_seconds_per_million_events\":%.4f,"
                 "\"peak_rss_bytes\":%llu,\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,\"latency_samples\":%llu,"
                 "\"expected_at_sink\":%llu,\"requests\":%llu,\"responses_429\":%llu,\"compressed_bytes\":%llu,\"json_bytes\":%llu,"
                 "\"zlib6_bytes\":%llu,\"bytes_per_event\":%.1f,\"ack_messages\":%llu,\"acks_received\":%llu,"
                 "\"wrong_acks\":%llu,\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"samples\":[",
                 i ? "," : "", baseName(r.binary).c_str(), configName(r), runLabel(row).c_str(), r.ok ? "true" : "false", r.rate,
                 r.seconds, row.eps, row.mbps, row.cpu, row.cpuPerM,
                 static_cast<unsigned long long>(r.after ? r.after->peakRssBytes : 0), r.p50Ms, r.p99Ms,
                 static_cast<unsigned long long>(r.latencyCount), static_cast<unsigned long long>(r.expected),
                 static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.refused429),
                 static_cast<unsigned long long>(r.intakeBodyBytes), static_cast<unsigned long long>(r.jsonBytes),
                 static_cast<unsigned long long>(r.zlib6Bytes), bytesPerEvent(r),
                 static_cast<unsigned long long>(r.ackMessages), static_cast<unsigned long long>(r.acks),
                 static_cast<unsigned long long>(r.wrongAcks), r.ackP50Ms, r.ackP99Ms);
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
  std::fprintf(f, "<text x=\"%.0f\" y=\"20\" font-size=\"15\">%s: %s%s, %s, %llu events, %u connection(s)</text>\n", left,
               a.scenario.empty() ? "firelane_load" : a.scenario.c_str(), loadName(a.input, a.mode),
               a.ecsGrep ? " + ecs + grep" : "", sinkName(a.sink),
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
    std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">%s run %s: %.0f events/s, %.3f CPU s per 1M events, peak RSS %.1f MB, "
                 "p50/p99 %s/%s ms</text>\n",
                 left + 18, ly + 20 * k, binaryLabel(row.r).c_str(), runLabel(row).c_str(), row.eps, row.cpuPerM,
                 row.peakMb, fmt(row.r.p50Ms, "%.1f").c_str(), fmt(row.r.p99Ms, "%.1f").c_str());
  }
  std::fprintf(f, "</svg>\n");
  return std::fclose(f) == 0;
}

}  // namespace

// The --compare binary's config dialect: as asked, or firelane when `BIN --version` names it.
Dialect compareDialect(const Args& a) {
  if (a.compareDialect == "fluent-bit") return Dialect::FluentBit;
  if (a.compareDialect == "firelane") return Dialect::Firelane;
  std::string out;
  try {
    auto proc = firelane::testsupport::Process::spawn(a.compare, {"--version"});
    proc->waitExit(Millis(10000));
    out = proc->readStdoutToEof(Millis(1000)) + proc->stderrText();
  } catch (const std::exception&) {
    return Dialect::FluentBit;  // the runs report why the binary does not start
  }
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out.find("firelane") != std::string::npos ? Dialect::Firelane : Dialect::FluentBit;
}

int main(int argc, char** argv) {
  auto parsed = parseArgs(argc, argv);
  if (!parsed) return 2;
  const Args& a = *parsed;
  if (a.outage) {
    OutageResult r;
    try {
      r = runOutage(a);
    } catch (const std::exception& e) {
      r.ok = false;
      r.error = e.what();
    }
    printOutage(a, r);
    return r.ok ? 0 : 1;
  }
  int status = 0;
  std::vector<Row> rows;
  std::vector<std::pair<std::string, std::optional<Dialect>>> binaries = {{a.firelane, std::nullopt}};
  if (!a.compare.empty()) {
    const Dialect d = compareDialect(a);
    if (!a.json) {
      std::printf("--compare %s: %s config\n", a.compare.c_str(),
                  d == Dialect::FluentBit ? "Fluent Bit" : "firelane (its stdin / ecs keys)");
    }
    binaries.emplace_back(a.compare, d);
  }
  auto runAndReport = [&](unsigned run, const std::string& binary, std::optional<Dialect> compat, double rate,
                          bool calibration) {
    RunResult r;
    try {
      r = runOnce(a, run, binary, compat, rate);
    } catch (const std::exception& e) {
      r.ok = false;
      r.error = e.what();
    }
    r.binary = binary;
    if (!r.ok) status = 1;
    rows.push_back(summarize(a, run, std::move(r)));
    rows.back().calibration = calibration;
    printLine(a, rows.back());
    if (!rows.back().r.ok) std::fprintf(stderr, "run %u failed: %s\n", run, rows.back().r.error.c_str());
    std::fflush(stdout);
    return rows.back();
  };
  // --rate half: each binary's max rate first (one unpaced run), then its runs at half of it.
  std::vector<double> rates(binaries.size(), a.rate);
  if (a.halfLoad) {
    for (size_t b = 0; b < binaries.size(); ++b) {
      const Row& cal = runAndReport(0, binaries[b].first, binaries[b].second, 0, true);
      if (!cal.r.ok || cal.eps <= 0) return 1;
      rates[b] = cal.eps / 2;
    }
  }
  for (unsigned run = 0; run < a.runs; ++run) {
    for (size_t b = 0; b < binaries.size(); ++b) runAndReport(run, binaries[b].first, binaries[b].second, rates[b], false);
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
