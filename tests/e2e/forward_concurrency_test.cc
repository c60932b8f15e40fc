// End to end: many concurrent forward connections in mixed modes; every event arrives exactly once.
#include <catch2/catch.hpp>
#include <thread>

#include "e2e/e2e_util.h"

namespace firelane::e2e {

TEST_CASE("forward: 50 concurrent clients x 200 events arrive exactly once", "[e2e][forward][concurrency]") {
  constexpr size_t kClients = 50, kEvents = 200, kBatch = 20;
  std::string workers = GENERATE(as<std::string>(), "default", "1", "4");
  INFO("workers " << workers);
  std::string config = forwardToStdoutConfig();
  if (workers != "default") config.insert(config.find("[INPUT]"), "    workers " + workers + "\n");
  Firelane fl;
  fl.start(config);

  std::vector<std::unique_ptr<ForwardClient>> clients;
  for (size_t c = 0; c < kClients; ++c) clients.push_back(fl.connect());
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (size_t c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      ForwardClient& client = *clients[c];
      for (size_t first = 0; first < kEvents; first += kBatch) {
        std::vector<Event> events;
        for (size_t i = first; i < first + kBatch; ++i) {
          events.push_back(Event{1700000000, 0, {{"c", std::to_string(c)}, {"i", std::to_string(i)}}});
        }
        const bool last = first + kBatch >= kEvents;
        ForwardOptions opts;
        if (last) opts.chunk = "client-" + std::to_string(c);
        std::string wire;
        switch (c % 4) {  // a different mode per client
          case 0:
            for (size_t k = 0; k < events.size(); ++k) {
              wire += buildMessage("many", events[k], TimeFormat::EventTimeFixExt8,
                                   k + 1 == events.size() ? opts : ForwardOptions{});
            }
            break;
          case 1: wire = buildForward("many", events, TimeFormat::EventTimeFixExt8, opts); break;
          case 2: wire = buildPackedForward("many", events, TimeFormat::EventTimeFixExt8, PayloadType::Bin, opts); break;
          case 3: wire = buildCompressedPackedForward("many", events, TimeFormat::EventTimeFixExt8, 2, opts); break;
        }
        bool ok = last ? client.sendWithAck(wire, *opts.chunk, Millis(30000)) : client.send(wire, Millis(30000));
        if (!ok) {
          errors[c] = client.lastError();
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t c = 0; c < kClients; ++c) {
    INFO("client " << c << ": " << errors[c]);
    CHECK(errors[c].empty());
  }

  auto lines = fl.lines(kClients * kEvents, Millis(30000));
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const auto& l : lines) ++seen[{fieldOf(l, "c"), fieldOf(l, "i")}];
  auto perClient = countBy(lines, "c");
  for (size_t c = 0; c < kClients; ++c) {
    INFO("client " << c);
    CHECK(perClient[std::to_string(c)] == static_cast<int>(kEvents));
  }
  size_t duplicates = 0;
  for (const auto& [key, n] : seen) duplicates += n > 1 ? 1 : 0;
  CHECK(seen.size() == kClients * kEvents);
  CHECK(duplicates == 0);
  CHECK(fl.proc().takeStdoutLines().empty());
}

// Docker writes one Message frame per write(); the input coalesces the reads of such a busy
// connection (it pauses reading it for a tick): nothing may be lost, reordered or left unread.
TEST_CASE("forward: one frame per write arrives complete and in order and a lone frame after it is acked",
          "[e2e][forward][concurrency]") {
  constexpr size_t kFrames = 5000;
  Firelane fl;
  fl.start(forwardToStdoutConfig());
  auto client = fl.connect();
  ForwardOptions docker;
  docker.emptyMap = true;
  for (size_t i = 0; i < kFrames; ++i) {
    Event e{1700000000, 0, {{"i", std::to_string(i)}, {"log", std::string(150, 'x')}}};
    INFO(i << ": " << client->lastError());
    REQUIRE(client->send(buildMessage("docker", e, TimeFormat::EventTimeFixExt8, docker), kTimeout));
  }
  auto lines = fl.lines(kFrames, Millis(30000));
  REQUIRE(lines.size() == kFrames);
  for (size_t i = 0; i < kFrames; ++i) {
    INFO("line " << i);
    REQUIRE(fieldOf(lines[i], "i") == std::to_string(i));
  }
  // The connection was read moments ago, so its next small read may be deferred: a single frame
  // that waits for its ack must still be read and acked.
  ForwardOptions opts;
  opts.chunk = "lone";
  Event last{1700000000, 0, {{"i", "last"}}};
  REQUIRE(client->sendWithAck(buildMessage("docker", last, TimeFormat::EventTimeFixExt8, opts), "lone", kTimeout));
  auto tail = fl.lines(1);
  REQUIRE(tail.size() == 1);
  CHECK(fieldOf(tail[0], "i") == "last");
  CHECK(fl.proc().takeStdoutLines().empty());
}

TEST_CASE("forward: 2000 short-lived connections leak no file descriptors", "[e2e][forward][concurrency]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig());
  auto baseline = countOpenFds(fl.proc().pid());
  REQUIRE(baseline.has_value());
  constexpr size_t kConnections = 2000;
  for (size_t i = 0; i < kConnections; ++i) {
    auto client = fl.connect();
    std::vector<Event> one{Event{1700000000, 0, {{"id", std::to_string(i)}}}};
    if (i % 2 == 0) {
      ForwardOptions opts;
      opts.chunk = "c" + std::to_string(i);
      INFO(i << ": " << client->lastError());
      REQUIRE(client->sendWithAck(buildForward("churn", one, TimeFormat::EventTimeFixExt8, opts), *opts.chunk, kTimeout));
    } else {
      REQUIRE(client->send(buildMessage("churn", one[0]), kTimeout));  // close right after sending
    }
  }
  auto lines = fl.lines(kConnections, Millis(30000));
  CHECK(countBy(lines, "id").size() == kConnections);
  size_t last = 0;
  bool settled = waitUntil(
      [&] {
        last = countOpenFds(fl.proc().pid()).value_or(0);
        return last <= *baseline + 8;
      },
      kTimeout);
  INFO("fds: baseline " << *baseline << ", now " << last);
  CHECK(settled);
}

}  // namespace firelane::e2e
