// End to end: malformed forward input closes only the offending connection, logs one error, loses
// nothing already accepted, while a second connection keeps streaming valid events.
#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <regex>
#include <thread>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

// Streams acked Forward batches of 10 events on its own connection from a thread until stopped.
class GoodStreamer {
 public:
  explicit GoodStreamer(std::unique_ptr<ForwardClient> client) : client_(std::move(client)) {
    thread_ = std::thread([this] { run(); });
  }
  ~GoodStreamer() { stop(); }

  // Stops after the batch in flight; returns how many events were acked.
  size_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return sent_;
  }
  // Waits until at least `n` events were acked (or an error); false at the deadline.
  bool waitSent(size_t n, Millis timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    return cv_.wait_until(lock, deadline, [&] { return sent_ >= n || !error_.empty(); }) && error_.empty();
  }
  std::string error() {
    std::lock_guard lock(mutex_);
    return error_;
  }
  size_t sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  void run() {
    for (size_t batch = 0; !stop_; ++batch) {
      auto events = makeEvents("good-", 10, batch * 10);
      ForwardOptions opts;
      opts.chunk = "good-" + std::to_string(batch);
      if (!client_->sendWithAck(buildForward("good", events, TimeFormat::EventTimeFixExt8, opts), *opts.chunk,
                                kTimeout)) {
        std::lock_guard lock(mutex_);
        error_ = "good connection failed at batch " + std::to_string(batch) + ": " + client_->lastError();
        cv_.notify_all();
        return;
      }
      std::lock_guard lock(mutex_);
      sent_ += events.size();
      cv_.notify_all();
    }
  }

  std::unique_ptr<ForwardClient> client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t sent_ = 0;
  std::string error_;
};

// A valid message (Message mode) whose events the bad connection gets acked before misbehaving.
std::string acceptedPrefix(const std::vector<Event>& events) {
  ForwardOptions opts;
  opts.chunk = "pre";
  return buildForward("bad", events, TimeFormat::EventTimeFixExt8, opts);
}

// gzip of `copies` repetitions of `unit`, streamed through zlib so nothing big is ever allocated.
std::string gzipRepeated(const std::string& unit, size_t copies) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out;
  char buf[1 << 16];
  std::string block;
  while (block.size() < (1 << 20)) block += unit;
  size_t unitsPerBlock = block.size() / unit.size();
  for (size_t done = 0; done < copies; done += unitsPerBlock) {
    bool last = done + unitsPerBlock >= copies;
    size_t n = std::min(unitsPerBlock, copies - done);
    zs.next_in = reinterpret_cast<Bytef*>(block.data());
    zs.avail_in = static_cast<uInt>(n * unit.size());
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      out.append(buf, sizeof(buf) - zs.avail_out);
    } while (zs.avail_out == 0 || (last && zs.avail_in > 0));
  }
  deflateEnd(&zs);
  return out;
}

struct BadCase {
  const char* name;
  std::string inputExtra;                             // extra [INPUT] lines
  std::function<void(ForwardClient&)> misbehave;      // after the accepted prefix
};

std::vector<BadCase> badCases() {
  auto rec = Record{{"log", "x"}};
  return {
      {"truncated frame at EOF", "",
       [](ForwardClient& c) {
         std::string frame = buildForward("bad", makeEvents("t", 3));
         c.send(frame.substr(0, frame.size() / 2), kTimeout);
         c.shutdownWrite();
       }},
      {"garbage bytes", "",
       [](ForwardClient& c) { c.send(std::string(64, '\xc1') + "GET / HTTP/1.1\r\n\r\n", kTimeout); }},
      {"root is not an array", "",
       [](ForwardClient& c) {
         Packer p;
         c.send(p.map(1).str("tag").str("x").take(), kTimeout);
       }},
      {"tag is not a string", "",
       [rec](ForwardClient& c) {
         Packer p;
         c.send(p.array(3).integer(42).time(1700000000, 0, TimeFormat::EventTimeFixExt8).record(rec).take(), kTimeout);
       }},
      {"record is not a map", "",
       [](ForwardClient& c) {
         Packer p;
         c.send(p.array(3).str("bad").time(1700000000, 0, TimeFormat::EventTimeFixExt8).str("not a map").take(),
                kTimeout);
       }},
      {"Forward entry record is not a map", "",
       [](ForwardClient& c) {
         Packer p;
         p.array(2).str("bad").array(1).array(2).time(1700000000, 0, TimeFormat::Integer).array(0);
         c.send(p.take(), kTimeout);
       }},
      {"option is not a map", "",
       [rec](ForwardClient& c) {
         Packer p;
         p.array(4).str("bad").time(1700000000, 0, TimeFormat::EventTimeFixExt8).record(rec).str("chunk");
         c.send(p.take(), kTimeout);
       }},
      {"frame over buffer_max_size", "    buffer_chunk_size 16k\n    buffer_max_size 64k\n",
       [](ForwardClient& c) {
         auto big = makeEvents("big", 2000);  // ~100 KB PackedForward
         c.send(buildPackedForward("bad", big), Millis(3000));  // may fail midway once the server closes
       }},
      {"gzip bomb", "    buffer_max_size 1M\n",
       [](ForwardClient& c) {
         // 128 MiB of valid [time, record] entries compress to ~400 KB (ratio ~340).
         std::string unit = packEntries(makeEvents("bomb", 1), TimeFormat::EventTimeFixExt8);
         std::string bomb = gzipRepeated(unit, (128u << 20) / unit.size());
         Packer p;
         ForwardOptions opts;
         opts.compressed = "gzip";
         p.array(3).str("bad").bin(bomb).options(opts);
         c.send(p.take(), Millis(3000));
       }},
      {"corrupt gzip", "",
       [](ForwardClient& c) {
         std::string gz = gzip(packEntries(makeEvents("z", 5), TimeFormat::EventTimeFixExt8));
         for (size_t i = 12; i < gz.size() - 8; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
         ForwardOptions opts;
         opts.compressed = "gzip";
         Packer p;
         c.send(p.array(3).str("bad").bin(gz).options(opts).take(), kTimeout);
       }},
      {"EventTime with a 4-byte body", "",
       [rec](ForwardClient& c) {
         Packer p;
         p.array(3).str("bad").raw(std::string("\xd6\x00\x65\x53\xf1\x00", 6)).record(rec);
         c.send(p.take(), kTimeout);
       }},
      {"EventTime ext8 with a 12-byte body", "",
       [rec](ForwardClient& c) {
         Packer p;
         p.array(3).str("bad").raw(std::string("\xc7\x0c\x00", 3) + eventTimeBody(1700000000, 0) + "\0\0\0\0").record(rec);
         c.send(p.take(), kTimeout);
       }},
  };
}

}  // namespace

TEST_CASE("forward: bad input closes only that connection", "[e2e][forward][bad-input]") {
  for (const auto& bad : badCases()) {
    DYNAMIC_SECTION(bad.name) {
      Firelane fl;
      fl.start(forwardToStdoutConfig(bad.inputExtra));
      GoodStreamer good(fl.connect());
      REQUIRE(good.waitSent(50, kTimeout));

      auto victim = fl.connect();
      auto accepted = makeEvents("pre-", 5);
      INFO(victim->lastError());
      REQUIRE(victim->sendWithAck(acceptedPrefix(accepted), "pre", kTimeout));
      bad.misbehave(*victim);
      CHECK(victim->waitClosed(kTimeout));

      static const std::regex errorLine(R"(error.*input:forward|input:forward.*error)", std::regex::icase);
      auto logged = fl.proc().waitForStderrRegex(errorLine, kTimeout);
      INFO("stderr:\n" << fl.proc().stderrText());
      CHECK(logged.has_value());

      // The good connection keeps going after the bad one is gone.
      size_t before = good.stop();
      GoodStreamer more(fl.connect());
      REQUIRE(more.waitSent(20, kTimeout));
      size_t after = more.stop();
      INFO(good.error() << more.error());
      CHECK(good.error().empty());
      CHECK(more.error().empty());

      // Everything acked arrives exactly once: the bad connection's prefix and both good streams.
      // (Both streamers number their events from 0, so "good-<i>" appears once per streamer.)
      auto lines = fl.lines(accepted.size() + before + after, Millis(20000));
      auto counts = countBy(lines, "id");
      for (const auto& e : accepted) CHECK(counts[e.record[0].second] == 1);
      for (size_t i = 0; i < std::max(before, after); ++i) {
        int expected = (i < before ? 1 : 0) + (i < after ? 1 : 0);
        INFO("good-" << i);
        CHECK(counts["good-" + std::to_string(i)] == expected);
      }
      // Only one error line for one bad connection.
      CHECK_FALSE(fl.proc().waitForStderrRegex(errorLine, Millis(0)).has_value());
      CHECK(fl.proc().running());
    }
  }
}

}  // namespace firelane::e2e

// ---- Hostile sizes: length prefixes that claim gigabytes, endless nesting, floods of tiny frames.
// The process must stay within its memory bound (peak RSS, VmHWM) and keep serving a second
// connection while it happens.
namespace firelane::e2e {
namespace {

// VmHWM and VmPeak of a live process, in bytes.
struct Peaks {
  uint64_t hwm = 0;
  uint64_t vmPeak = 0;
};

Peaks readPeaks(pid_t pid) {
  Peaks p;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    uint64_t kb = 0;
    if (std::sscanf(line.c_str(), "VmHWM: %lu kB", &kb) == 1) p.hwm = kb * 1024;
    if (std::sscanf(line.c_str(), "VmPeak: %lu kB", &kb) == 1) p.vmPeak = kb * 1024;
  }
  return p;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// `unit` repeated to about `bytes`.
std::string repeat(const std::string& unit, size_t bytes) {
  std::string out;
  out.reserve(bytes + unit.size());
  while (out.size() < bytes) out += unit;
  return out;
}

struct HostileCase {
  const char* name;
  std::string head;    // the lying header
  std::string filler;  // what follows it, sent until the server closes (or all of it)
};

std::vector<HostileCase> hostileCases() {
  constexpr uint32_t k2G = 0x7fffffff;
  const std::string entry = std::string("\x92\x01\x80", 3);  // [1, {}]
  return {
      {"str32 tag claiming 2 GB", "\x93" "\xdb" + be32(k2G), std::string(16 << 20, 'a')},
      {"bin32 PackedForward payload claiming 2 GB", "\x92\xa3" "bad" "\xc6" + be32(k2G), repeat(entry, 16 << 20)},
      {"array32 Forward entries claiming 2^31 events", "\x92\xa3" "bad" "\xdd" + be32(k2G), repeat(entry, 16 << 20)},
      {"map32 record claiming 2^31 pairs", "\x93\xa3" "bad" "\x01" "\xdf" + be32(k2G),
       repeat(std::string("\xa1k\x01", 3), 16 << 20)},
      {"array32 root claiming 2^31 elements", "\xdd" + be32(k2G), std::string(16 << 20, '\x01')},
      {"endless nested arrays", "", std::string(16 << 20, '\x91')},
      {"endless nested maps in a record", "\x93\xa3" "bad" "\x01", repeat(std::string("\x81\xa1k", 3), 16 << 20)},
  };
}

// A forward input (default buffer limits) whose "good" events go to stdout and everything else to null.
std::string hostileConfig() {
  return "[SERVICE]\n    Flush 0.05\n    Grace 2\n"
         "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
         "[OUTPUT]\n    Name stdout\n    Match good\n    Format json_lines\n"
         "[OUTPUT]\n    Name null\n    Match_Regex ^(bad|tiny)$\n";
}

// How far above the warmed-up peak RSS the process may go: a few connection buffers
// (buffer_max_size is 6 MB) and batches in flight, nowhere near what the headers claim. ASan's
// quarantine holds up to 256 MB of freed memory on top.
// After an attack: stops `good` (which must have seen no error), checks that a new connection gets
// 100 acks too, and returns how many events `good` had sent.
size_t stopAndServeAnother(Firelane& fl, GoodStreamer& good) {
  const size_t sent = good.stop();
  GoodStreamer more(fl.connect());
  CHECK(more.waitSent(100, kTimeout));
  more.stop();
  INFO(good.error() << more.error());
  CHECK(good.error().empty());
  CHECK(more.error().empty());
  return sent;
}

uint64_t rssAllowance() { return (64u << 20) + (kSanitized ? 320u << 20 : 0); }

}  // namespace

TEST_CASE("forward: hostile length prefixes and nesting stay within the memory bound", "[e2e][forward][hostile]") {
  for (const auto& bad : hostileCases()) {
    DYNAMIC_SECTION(bad.name) {
      Firelane fl;
      fl.start(hostileConfig());
      GoodStreamer good(fl.connect());
      REQUIRE(good.waitSent(100, kTimeout));
      const Peaks before = readPeaks(fl.proc().pid());
      REQUIRE(before.hwm > 0);

      auto victim = fl.connect();
      REQUIRE(victim->send(bad.head, kTimeout));
      // The rest in 64 KB pieces; a send fails once the server has closed the connection.
      for (size_t off = 0; off < bad.filler.size(); off += 64 << 10) {
        if (!victim->send(std::string_view(bad.filler).substr(off, 64 << 10), Millis(3000))) break;
      }
      CHECK(victim->waitClosed(kTimeout));

      // The other connection was never stalled: it keeps getting acks after the attack, and a new
      // connection is served too.
      CHECK(good.waitSent(good.sent() + 100, kTimeout));
      CHECK(stopAndServeAnother(fl, good) >= 100);

      const Peaks after = readPeaks(fl.proc().pid());
      INFO("VmHWM " << before.hwm << " -> " << after.hwm << ", VmPeak " << before.vmPeak << " -> " << after.vmPeak
                    << "\nstderr:\n" << fl.proc().stderrText());
      CHECK(after.hwm <= before.hwm + rssAllowance());
      // Not even reserved (untouched) memory near what the header claims.
      CHECK(after.vmPeak <= before.vmPeak + (1ull << 30));
      CHECK(fl.proc().running());
    }
  }
}

TEST_CASE("forward: a million tiny frames neither blow the memory bound nor stall another connection",
          "[e2e][forward][hostile]") {
  Firelane fl;
  fl.start(hostileConfig());
  GoodStreamer good(fl.connect());
  REQUIRE(good.waitSent(100, kTimeout));
  const Peaks before = readPeaks(fl.proc().pid());

  // 1,000,000 Message frames ["tiny", 1, {}] (5 bytes each), then one that asks for an ack: the
  // ack proves every frame before it was taken.
  const std::string frame("\x93\xa4tiny\x01\x80", 8);
  auto flood = fl.connect();
  const std::string block = repeat(frame, 1 << 20);  // 131072 frames per block
  const size_t perBlock = block.size() / frame.size();
  size_t frames = 0;
  for (; frames + perBlock <= 1000000; frames += perBlock) REQUIRE(flood->send(block, kTimeout));
  std::string rest;
  for (; frames < 1000000; ++frames) rest += frame;
  REQUIRE(flood->send(rest, kTimeout));
  // The good connection goes on while the flood is being decoded.
  CHECK(good.waitSent(good.sent() + 100, kTimeout));
  ForwardOptions opts;
  opts.chunk = "tiny-last";
  Packer p;
  p.array(4).str("tiny").integer(1).map(0).options(opts);
  CHECK(flood->sendWithAck(p.take(), "tiny-last", Millis(30000)));

  CHECK(stopAndServeAnother(fl, good) >= 100);

  const Peaks after = readPeaks(fl.proc().pid());
  INFO("VmHWM " << before.hwm << " -> " << after.hwm << "\nstderr:\n" << fl.proc().stderrText());
  CHECK(after.hwm <= before.hwm + rssAllowance());
  CHECK(fl.proc().running());
}

}  // namespace firelane::e2e
