// End to end: the filesystem spool of the real binary in front of the fake Datadog intake. kill -9
// while a client streams with acks, an intake outage with the spool absorbing the load, a full disk,
// a corrupt byte, shutdown with a dead destination, ack_after delivered, and the disk bound.
#include <signal.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "e2e/e2e_util.h"
#include "support/fake_intake.h"

namespace firelane::e2e {
namespace {

// Sends frames from a thread, for tests in which the input pauses and stops reading (the sends block).
class BackgroundSender {
 public:
  BackgroundSender(std::unique_ptr<ForwardClient> client, const std::vector<std::string>& frames)
      : client_(std::move(client)), thread_([this, &frames] {
          bool ok = true;
          for (const auto& fr : frames) ok = ok && client_->send(fr, Millis(60000));
          sent_ = ok;
        }) {}
  ~BackgroundSender() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits for the thread; true when every frame was sent.
  bool finish() {
    thread_.join();
    return sent_;
  }

 private:
  std::unique_ptr<ForwardClient> client_;
  std::atomic<bool> sent_{false};
  std::thread thread_;
};

const std::string kApiKey = "dd-spool-test-key";

struct SpoolSetup {
  std::string service;  // extra [SERVICE] lines
  std::string input;    // extra [INPUT] lines
  std::string output;   // extra [OUTPUT] lines
};

// One worker, fast flush and backoff, the monitoring server, forward (storage.type filesystem)
// -> datadog over HTTP/1.1 to the intake, spooling into `spoolDir`.
std::string spoolConfig(const FakeIntake& intake, const std::string& spoolDir, const SpoolSetup& s = {}) {
  return "[SERVICE]\n"
         "    Flush 0.05\n"
         "    Grace 5\n"
         "    workers 1\n"
         "    scheduler.base 0.05\n"
         "    scheduler.cap 0.2\n"
         "    HTTP_Server On\n"
         "    HTTP_Listen 127.0.0.1\n"
         "    HTTP_Port 0\n"
         "    storage.path " + spoolDir + "\n" + s.service +
         "\n[INPUT]\n"
         "    Name forward\n"
         "    Listen 127.0.0.1\n"
         "    Port 0\n"
         "    storage.type filesystem\n" + s.input +
         "\n[OUTPUT]\n"
         "    Name datadog\n"
         "    Match *\n"
         "    Host 127.0.0.1\n"
         "    Port " + std::to_string(intake.port()) + "\n"
         "    apikey " + kApiKey + "\n"
         "    TLS off\n"
         "    http2 off\n"
         "    Retry_Limit no_limits\n" + s.output;
}

FakeIntakeOptions intakeOptions() {
  FakeIntakeOptions o;
  o.apiKey = kApiKey;
  o.h2c = false;
  return o;
}

std::map<std::string, int> idCounts(const FakeIntake& intake) {
  std::map<std::string, int> counts;
  for (const auto& e : intake.events())
    if (e.contains("id")) ++counts[e["id"].get<std::string>()];
  return counts;
}

// Polls the intake until every id in `ids` was accepted at least once (bounded by `timeout`).
bool waitForIds(const FakeIntake& intake, const std::set<std::string>& ids, Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (intake.eventCount() >= ids.size()) {
      auto counts = idCounts(intake);
      bool all = true;
      for (const auto& id : ids) all = all && counts.count(id) > 0;
      if (all) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    intake.waitForEvents(intake.eventCount() + 1, Millis(200));
  }
}

std::set<std::string> idsOf(const std::vector<Event>& events) {
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.record[0].second);
  return ids;
}

// Events with a `pad`-byte "log" field (the spool and the intake see realistic sizes).
std::vector<Event> paddedEvents(const std::string& prefix, size_t count, size_t first, size_t pad) {
  auto events = makeEvents(prefix, count, first);
  for (auto& e : events) e.record[1].second.append(pad, 'x');
  return events;
}

// Stops firelane with SIGTERM; REQUIREs exit 0 and returns stderr.
std::string stop(Firelane& f) {
  REQUIRE(f.proc().sendSignal(SIGTERM));
  auto code = f.proc().waitExit(kTimeout);
  REQUIRE(f.proc().waitOutputClosed(kTimeout));
  std::string err = f.proc().stderrText();
  INFO(err);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(err.find(kApiKey) == std::string::npos);
  return err;
}

// A number field `"key":N` in a JSON body (the first one); -1 when absent.
long long jsonNumber(const std::string& body, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + "\":(\\d+)");
  if (!std::regex_search(body, m, re)) return -1;
  return std::stoll(m[1]);
}

std::vector<std::string> segmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind("seg-", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".log") out.push_back(dir + "/" + n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("storage e2e: kill -9 five times while a client streams with acks loses no acked event",
          "[e2e][storage]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  // Half the requests fail: at every kill some acknowledged batches are still undelivered.
  intake.failFraction(0.5, Fault::withStatus(503));
  TempDir spool("firelane-spool");
  SpoolSetup setup;
  setup.service = "    storage.sync full\n";
  std::set<std::string> acked;
  size_t next = 0;
  size_t sentUnacked = 0;
  for (int round = 0; round < 5; ++round) {
    Firelane f;
    f.start(spoolConfig(intake, spool.path(), setup));
    auto client = f.connect();
    for (int k = 0; k < 30; ++k) {
      auto events = makeEvents("e", 20, next);
      next += 20;
      std::string chunk = "r" + std::to_string(round) + "-" + std::to_string(k);
      ForwardOptions o;
      o.chunk = chunk;
      REQUIRE(client->sendWithAck(buildForward("app", events, TimeFormat::EventTimeFixExt8, o), chunk));
      for (const auto& id : idsOf(events)) acked.insert(id);
    }
    // Frames in flight when the process dies: not acknowledged, so the client would send them again.
    for (int k = 0; k < 3; ++k) {
      auto events = makeEvents("e", 20, next);
      next += 20;
      sentUnacked += 20;
      ForwardOptions o;
      o.chunk = "unacked-" + std::to_string(round) + "-" + std::to_string(k);
      REQUIRE(client->send(buildForward("app", events, TimeFormat::EventTimeFixExt8, o)));
    }
    REQUIRE(f.proc().sendSignal(SIGKILL));
    auto code = f.proc().waitExit(kTimeout);
    REQUIRE(code.has_value());
    CHECK(*code == 128 + SIGKILL);
  }
  intake.clearFaults();
  Firelane last;
  last.start(spoolConfig(intake, spool.path(), setup));
  INFO(last.proc().stderrText());
  CHECK(last.proc().stderrText().find("replaying") != std::string::npos);
  REQUIRE(waitForIds(intake, acked, Millis(30000)));
  stop(last);
  auto counts = idCounts(intake);
  size_t duplicates = 0;
  for (const auto& [id, n] : counts) duplicates += static_cast<size_t>(n - 1);
  // A duplicate is an event whose request was in flight at a kill: the intake took it, but the
  // answer never reached the cursor file (deliveries out of order are saved with the cursor). What
  // is in flight is at most what the round had not seen delivered yet, so a kill duplicates at most
  // one round's events (33 frames of 20); on an idle machine it is 0.
  INFO("acked " << acked.size() << ", delivered " << counts.size() << ", duplicates " << duplicates);
  CHECK(acked.size() == 5 * 30 * 20);
  CHECK(counts.size() <= acked.size() + sentUnacked);
  CHECK(duplicates <= 5 * 33 * 20);
}

TEST_CASE("storage e2e: an intake outage fills the spool instead of memory and it drains after",
          "[e2e][storage]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.stopListening();
  TempDir spool("firelane-spool");
  SpoolSetup setup;
  setup.output = "    queue_limit 1M\n";
  Firelane f;
  f.start(spoolConfig(intake, spool.path(), setup));
  uint16_t mport = monitorPort(f.proc());
  // 24 MB offered while the destination is down: the input never pauses (the spool takes it all).
  const size_t kFrames = 48, kPerFrame = 500, kPad = 1000;
  std::set<std::string> ids;
  {
    auto client = f.connect();
    for (size_t k = 0; k < kFrames; ++k) {
      auto events = paddedEvents("o", kPerFrame, k * kPerFrame, kPad);
      for (const auto& id : idsOf(events)) ids.insert(id);
      REQUIRE(client->send(buildPackedForward("app", events), kTimeout));
    }
  }
  auto full = pollHttp(mport, "/api/v1/storage",
                       [](const HttpResponse& r) { return jsonNumber(r.body, "bytes_on_disk") > 20'000'000; });
  REQUIRE(full.has_value());
  INFO(full->body);
  CHECK(jsonNumber(full->body, "bytes_on_disk") > 20'000'000);
  CHECK(full->body.find("\"input_chunks\":{\"forward.0\":{\"status\":{\"overlimit\":false}}}") != std::string::npos);
  auto stats = f.proc().stats();
  REQUIRE(stats.has_value());
  // 24 MB passed through while at most queue_limit (1 MB) of it is held in memory.
  CHECK(stats->peakRssBytes < (kSanitized ? 128u : 48u) * 1024 * 1024);

  intake.resumeListening();
  REQUIRE(waitForIds(intake, ids, Millis(60000)));
  auto drained = pollHttp(mport, "/api/v1/storage",
                          [](const HttpResponse& r) { return jsonNumber(r.body, "spool_batches") == 0; });
  REQUIRE(drained.has_value());
  CHECK(jsonNumber(drained->body, "spool_batches") == 0);
  CHECK(jsonNumber(drained->body, "bytes_on_disk") < 9'000'000);  // delivered segments are deleted
  stop(f);
  CHECK(intake.eventCount() == ids.size());  // exactly once: nothing was sent twice
}

TEST_CASE("storage e2e: 30% 5xx and resets with the spool still deliver every event exactly once",
          "[e2e][storage]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.failFraction(0.2, Fault::withStatus(503));
  intake.failNext(3, Fault::withStatus(429, 1));
  TempDir spool("firelane-spool");
  Firelane f;
  f.start(spoolConfig(intake, spool.path()));
  auto events = makeEvents("x", 4000);
  {
    auto client = f.connect();
    for (size_t i = 0; i < events.size(); i += 200)
      REQUIRE(client->send(buildForward("app", std::span<const Event>(events.data() + i, 200))));
  }
  // Resets mid-request on top of the 5xx.
  REQUIRE(intake.waitForRequests(5, kTimeout));
  intake.failFraction(0.1, Fault::tcpReset(), 7);
  REQUIRE(waitForIds(intake, idsOf(events), Millis(30000)));
  stop(f);
  auto counts = idCounts(intake);
  size_t dup = 0;
  for (const auto& [id, n] : counts) dup += n != 1;
  CHECK(counts.size() == events.size());
  CHECK(dup == 0);
}

TEST_CASE("storage e2e: a full disk pauses the input without corrupting the spool and flow resumes",
          "[e2e][storage]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.stopListening();
  TempDir spool("firelane-spool");
  // A 3 MB file system for the spool. Where mounting is not allowed, a 3 MB file-size limit on the
  // process makes the segment writes fail the same way (EFBIG instead of ENOSPC).
  std::string mountPoint = spool.path() + "/fs";
  ::mkdir(mountPoint.c_str(), 0700);
  bool mounted = ::mount("tmpfs", mountPoint.c_str(), "tmpfs", 0, "size=3m") == 0;
  struct Unmount {
    std::string path;
    bool active;
    ~Unmount() {
      if (active) ::umount2(path.c_str(), MNT_DETACH);
    }
  } unmount{mountPoint, mounted};
  std::vector<std::string> launcher;
  if (!mounted) {
    WARN("cannot mount a tmpfs here; simulating a full disk with a 3 MB file-size limit");
    launcher = {"/usr/bin/prlimit", "--fsize=3000000"};
  }
  Firelane f;
  f.start(spoolConfig(intake, mountPoint), {}, launcher);
  uint16_t mport = monitorPort(f.proc());
  const size_t kFrames = 16, kPerFrame = 500, kPad = 900;  // ~8 MB: more than the disk holds
  std::set<std::string> ids;
  std::vector<std::string> frames;
  for (size_t k = 0; k < kFrames; ++k) {
    auto events = paddedEvents("d", kPerFrame, k * kPerFrame, kPad);
    for (const auto& id : idsOf(events)) ids.insert(id);
    frames.push_back(buildPackedForward("app", events));
  }
  BackgroundSender sender(f.connect(), frames);
  auto paused = f.proc().waitForStderr("until the spool can be written again", kTimeout);
  CHECK(paused.has_value());
  auto st = pollHttp(mport, "/api/v1/storage", [](const HttpResponse& r) { return jsonNumber(r.body, "io_errors") > 0; });
  REQUIRE(st.has_value());
  CHECK(jsonNumber(st->body, "io_errors") > 0);
  CHECK(st->body.find("\"overlimit\":true") != std::string::npos);  // the input is paused

  intake.resumeListening();
  bool all = waitForIds(intake, ids, Millis(60000));
  CHECK(sender.finish());
  REQUIRE(all);
  CHECK(f.proc().waitForStderr("resuming", kTimeout).has_value());
  std::string err = stop(f);
  static const std::regex corrupt("skipped [1-9][0-9]* corrupt");
  CHECK_FALSE(std::regex_search(err, corrupt));

  // Nothing on disk is damaged: a restart on the same spool finds no corrupt batch.
  Firelane again;
  again.start(spoolConfig(intake, mountPoint), {}, launcher);
  auto after = pollHttp(monitorPort(again.proc()), "/api/v1/storage",
                        [](const HttpResponse& r) { return jsonNumber(r.body, "corrupt_batches") >= 0; });
  REQUIRE(after.has_value());
  CHECK(jsonNumber(after->body, "corrupt_batches") == 0);
  std::string err2 = stop(again);
  CHECK_FALSE(std::regex_search(err2, corrupt));
}

TEST_CASE("storage e2e: SIGTERM with the destination down keeps the rest in the spool and a corrupt byte "
          "costs only its batch",
          "[e2e][storage]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.stopListening();
  TempDir spool("firelane-spool");
  const size_t kFrames = 10, kPerFrame = 100;
  std::vector<std::vector<Event>> frames;
  {
    Firelane f;
    f.start(spoolConfig(intake, spool.path()));
    auto client = f.connect();
    for (size_t k = 0; k < kFrames; ++k) {
      frames.push_back(paddedEvents("c", kPerFrame, k * kPerFrame, 50));
      ForwardOptions o;
      o.chunk = "c" + std::to_string(k);
      // One frame per batch: acked before the next is sent.
      REQUIRE(client->sendWithAck(buildForward("app", frames.back(), TimeFormat::EventTimeFixExt8, o), *o.chunk));
    }
    std::string err = stop(f);
    CHECK(err.find("undelivered records stay in the spool") != std::string::npos);
  }
  auto segments = segmentFiles(spool.path() + "/worker-0");
  REQUIRE(segments.size() == 1);
  {
    int fd = ::open(segments[0].c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    off_t size = ::lseek(fd, 0, SEEK_END);
    off_t at = size / 2;
    unsigned char b = 0;
    REQUIRE(::pread(fd, &b, 1, at) == 1);
    b ^= 0x5a;
    REQUIRE(::pwrite(fd, &b, 1, at) == 1);
    ::close(fd);
  }
  intake.resumeListening();
  Firelane f;
  f.start(spoolConfig(intake, spool.path()));
  uint16_t mport = monitorPort(f.proc());
  REQUIRE(intake.waitForEvents((kFrames - 1) * kPerFrame, kTimeout));
  auto st = pollHttp(mport, "/api/v1/storage", [](const HttpResponse& r) { return jsonNumber(r.body, "spool_batches") == 0; });
  REQUIRE(st.has_value());
  INFO(st->body);
  CHECK(jsonNumber(st->body, "corrupt_batches") == 1);
  CHECK(jsonNumber(st->body, "recovered_batches") == static_cast<long long>(kFrames - 1));
  std::string err = stop(f);
  CHECK(err.find("skipped 1 corrupt") != std::string::npos);
  // Exactly one frame's events are missing; every other event arrived once.
  auto counts = idCounts(intake);
  CHECK(counts.size() == (kFrames - 1) * kPerFrame);
  size_t wholeFrames = 0;
  for (const auto& frame : frames) {
    size_t present = 0;
    for (const auto& id : idsOf(frame)) present += counts.count(id);
    wholeFrames += present == kPerFrame;
    CHECK((present == kPerFrame || present == 0));
  }
  CHECK(wholeFrames == kFrames - 1);
  for (const auto& [id, n] : counts) CHECK(n == 1);
}

TEST_CASE("storage e2e: ack_after delivered answers only once the intake accepted the events",
          "[e2e][storage][ack]") {
  FakeIntake intake(intakeOptions());
  intake.start();
  intake.failNext(1000, Fault::withStatus(503));
  TempDir spool("firelane-spool");
  SpoolSetup setup;
  setup.input = "    ack_after delivered\n";
  setup.output = "    Retry_Limit 1000\n";
  Firelane f;
  f.start(spoolConfig(intake, spool.path(), setup));
  auto client = f.connect();
  auto events = makeEvents("a", 50);
  ForwardOptions o;
  o.chunk = "chunk-1";
  REQUIRE(client->send(buildForward("app", events, TimeFormat::EventTimeFixExt8, o)));
  // The output has tried (and failed) twice: the batch is stored but not delivered, so no ack yet.
  REQUIRE(intake.waitForRequests(2, kTimeout));
  CHECK_FALSE(client->readAck(Millis(100)).has_value());
  CHECK(intake.eventCount() == 0);
  intake.clearFaults();
  auto ack = client->readAck(kTimeout);
  REQUIRE(ack.has_value());
  CHECK(*ack == "chunk-1");
  CHECK(intake.eventCount() == events.size());  // delivered before the ack was written

  // A batch the intake rejects (400: no retry) is never acknowledged, and that is counted.
  intake.failNext(1, Fault::withStatus(400));
  o.chunk = "chunk-2";
  REQUIRE(client->send(buildForward("app", makeEvents("b", 10), TimeFormat::EventTimeFixExt8, o)));
  uint16_t mport = monitorPort(f.proc());
  auto m = pollHttp(mport, "/api/v1/metrics/prometheus", [](const HttpResponse& r) {
    return r.body.find("firelane_input_errors_total{name=\"forward.0\",reason=\"ack_withheld\"} 1") !=
           std::string::npos;
  });
  REQUIRE(m.has_value());
  CHECK(m->body.find("reason=\"ack_withheld\"} 1") != std::string::npos);
  CHECK_FALSE(client->readAck(Millis(100)).has_value());
  stop(f);
}

TEST_CASE("storage e2e: total_limit_size pauses the input by default and drops the oldest on request",
          "[e2e][storage]") {
  const size_t kFrames = 12, kPerFrame = 200, kPad = 400;  // ~1 MB against a 256 KB bound
  auto build = [&](std::set<std::string>& ids, std::vector<std::string>& frames) {
    for (size_t k = 0; k < kFrames; ++k) {
      auto events = paddedEvents("l", kPerFrame, k * kPerFrame, kPad);
      for (const auto& id : idsOf(events)) ids.insert(id);
      ForwardOptions o;
      o.chunk = "f" + std::to_string(k);
      frames.push_back(buildPackedForward("app", events, TimeFormat::EventTimeFixExt8, PayloadType::Bin, o));
    }
  };
  SECTION("pause") {
    FakeIntake intake(intakeOptions());
    intake.start();
    intake.stopListening();
    TempDir spool("firelane-spool");
    SpoolSetup setup;
    setup.output = "    storage.total_limit_size 256K\n    queue_limit 64K\n";
    Firelane f;
    f.start(spoolConfig(intake, spool.path(), setup));
    std::set<std::string> ids;
    std::vector<std::string> frames;
    build(ids, frames);
    BackgroundSender sender(f.connect(), frames);
    CHECK(f.proc().waitForStderr("storage.total_limit_size reached: pausing input", kTimeout).has_value());
    auto st = pollHttp(monitorPort(f.proc()), "/api/v1/storage",
                       [](const HttpResponse& r) { return jsonNumber(r.body, "spool_bytes") > 0; });
    REQUIRE(st.has_value());
    CHECK(jsonNumber(st->body, "spool_bytes") <= 256 * 1024);
    intake.resumeListening();
    bool all = waitForIds(intake, ids, Millis(30000));
    CHECK(sender.finish());
    CHECK(all);
    stop(f);
  }
  SECTION("drop_oldest") {
    FakeIntake intake(intakeOptions());
    intake.start();
    intake.stopListening();
    TempDir spool("firelane-spool");
    SpoolSetup setup;
    setup.output = "    storage.total_limit_size 256K\n    storage.total_limit_policy drop_oldest\n    queue_limit 64K\n";
    Firelane f;
    f.start(spoolConfig(intake, spool.path(), setup));
    uint16_t mport = monitorPort(f.proc());
    std::set<std::string> ids;
    std::vector<std::string> frames;
    build(ids, frames);
    {
      // One batch per frame (each acked before the next is sent); the input is never paused.
      auto client = f.connect();
      for (size_t k = 0; k < frames.size(); ++k) {
        REQUIRE(client->sendWithAck(frames[k], "f" + std::to_string(k)));
      }
    }
    CHECK(f.proc().waitForStderr("dropping its oldest stored batches", kTimeout).has_value());
    auto st = pollHttp(mport, "/api/v1/storage", [](const HttpResponse& r) { return jsonNumber(r.body, "dropped_batches") > 0; });
    REQUIRE(st.has_value());
    INFO(st->body);
    CHECK(jsonNumber(st->body, "spool_bytes") <= 256 * 1024);
    intake.resumeListening();
    // The newest frame survives; the oldest ones (beyond the bound and not in memory) are gone.
    auto last = paddedEvents("l", kPerFrame, (kFrames - 1) * kPerFrame, kPad);
    REQUIRE(waitForIds(intake, idsOf(last), Millis(30000)));
    auto delivered = pollHttp(mport, "/api/v1/storage", [](const HttpResponse& r) { return jsonNumber(r.body, "spool_batches") == 0; });
    REQUIRE(delivered.has_value());
    stop(f);
    CHECK(intake.eventCount() < ids.size());
    // Frame 0 was also held in memory and goes out from there; frame 1 was only on disk.
    CHECK(idCounts(intake).count("l200") == 0);
  }
}

}  // namespace firelane::e2e
