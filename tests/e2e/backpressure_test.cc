// End to end: an output that cannot write (stdout pipe nobody reads) makes firelane stop reading its
// sockets: the sender stalls, firelane's memory stays bounded, and nothing is lost once it drains.
#include <catch2/catch.hpp>

#include "e2e/e2e_util.h"

namespace firelane::e2e {

TEST_CASE("backpressure: unread stdout stalls the sender with bounded memory, then all arrives",
          "[e2e][backpressure]") {
  constexpr uint64_t kOffer = 1ull << 30;         // offered bytes
  constexpr uint64_t kRssBound = 150ull << 20;    // VmRSS ceiling while stalled
  constexpr size_t kPerMessage = 1000;
  // PackedForward messages of 1000 events, or 1000 Docker-style Message frames per unit.
  std::string mode = GENERATE(as<std::string>(), "PackedForward", "Message");
  INFO("mode " << mode);
  Firelane fl;
  SpawnOptions spawn;
  spawn.readStdout = false;
  fl.start(forwardToStdoutConfig("    Mem_Buf_Limit 8MB\n"), spawn);
  auto client = fl.connect();
  std::vector<Event> events;
  for (size_t i = 0; i < kPerMessage; ++i) {
    events.push_back(Event{1700000000, 0, {{"log", std::string(90, static_cast<char>('a' + i % 26))}, {"n", std::to_string(i)}}});
  }
  std::string message;
  if (mode == "PackedForward") {
    message = buildPackedForward("bp", events);
  } else {
    ForwardOptions docker;
    docker.emptyMap = true;
    for (const auto& e : events) message += buildMessage("bp", e, TimeFormat::EventTimeFixExt8, docker);
  }

  // Offer kOffer bytes without ever blocking; "stalled" = the socket stays unwritable for 2 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint64_t sent = 0, maxRss = 0, messagesDone = 0;
  size_t offset = 0;
  bool stalled = false;
  while (sent < kOffer && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = client->trySend(std::string_view(message).substr(offset));
    INFO(client->lastError());
    REQUIRE(n >= 0);
    offset += static_cast<size_t>(n);
    sent += static_cast<uint64_t>(n);
    if (offset == message.size()) {
      offset = 0;
      if (++messagesDone % 16 == 0) {
        if (auto st = fl.proc().stats()) maxRss = std::max(maxRss, st->rssBytes);
      }
    }
    if (n == 0 && !client->waitWritable(Millis(2000))) {
      stalled = true;
      break;
    }
  }
  INFO("sent " << sent << " bytes (" << messagesDone << " messages) before stalling; stderr:\n"
               << fl.proc().stderrText());
  REQUIRE(stalled);
  auto stalledStats = fl.proc().stats();
  REQUIRE(stalledStats.has_value());
  maxRss = std::max(maxRss, stalledStats->rssBytes);
  INFO("VmRSS while stalled " << (stalledStats->rssBytes >> 20) << " MiB, max while sending " << (maxRss >> 20)
                              << " MiB");
  CHECK(stalledStats->rssBytes < kRssBound);
  CHECK(maxRss < kRssBound);
  CHECK(fl.proc().stdoutBytes() == 0);

  // Start reading: firelane drains, resumes reading the socket, and every event offered arrives.
  fl.proc().resumeStdout();
  if (offset > 0) {
    REQUIRE(client->send(std::string_view(message).substr(offset), Millis(60000)));
    ++messagesDone;
  }
  ForwardOptions opts;
  opts.chunk = "bp-final";
  auto last = makeEvents("final-", 10);
  INFO(client->lastError());
  REQUIRE(client->sendWithAck(buildForward("bp", last, TimeFormat::EventTimeFixExt8, opts), "bp-final",
                              Millis(120000)));
  auto lines = fl.lines(messagesDone * kPerMessage + last.size(), Millis(120000));
  CHECK(countBy(lines, "id").size() == last.size() + 1);  // the 10 final ids + "" for the bulk events
  CHECK(fl.proc().takeStdoutLines().empty());
}

}  // namespace firelane::e2e
