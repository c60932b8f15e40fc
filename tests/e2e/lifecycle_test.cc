// End to end: SIGTERM / SIGINT drain everything acked to the outputs and exit 0.
#include <signal.h>

#include <catch2/catch.hpp>

#include "e2e/e2e_util.h"

namespace firelane::e2e {

TEST_CASE("lifecycle: SIGTERM or SIGINT drains every acked event and exits 0", "[e2e][lifecycle]") {
  int signal = GENERATE(SIGTERM, SIGINT);
  INFO("signal " << signal);
  constexpr size_t kBatches = 50, kBatch = 100;
  Firelane fl;
  // A long flush interval: the events are still buffered when the signal arrives.
  fl.start(forwardToStdoutConfig("", "2"));
  auto client = fl.connect();
  for (size_t b = 0; b < kBatches; ++b) {
    ForwardOptions opts;
    opts.chunk = "drain-" + std::to_string(b);
    auto events = makeEvents("d", kBatch, b * kBatch);
    INFO(client->lastError());
    REQUIRE(client->sendWithAck(buildPackedForward("drain", events, TimeFormat::EventTimeFixExt8,
                                                   PayloadType::Bin, opts),
                                *opts.chunk, kTimeout));
  }
  REQUIRE(fl.proc().sendSignal(signal));
  auto code = fl.proc().waitExit(Millis(15000));
  INFO("stderr:\n" << fl.proc().stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  std::string out = fl.proc().readStdoutToEof(kTimeout);
  std::vector<std::string> lines;
  for (size_t start = 0, nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(out.substr(start, nl - start));
  }
  CHECK(lines.size() == kBatches * kBatch);
  auto counts = countBy(lines, "id");
  size_t exactlyOnce = 0;
  for (size_t i = 0; i < kBatches * kBatch; ++i) exactlyOnce += counts["d" + std::to_string(i)] == 1 ? 1 : 0;
  CHECK(exactlyOnce == kBatches * kBatch);
}

TEST_CASE("lifecycle: SIGTERM with an idle connection open still exits 0 promptly", "[e2e][lifecycle]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig());
  auto idle = fl.connect();
  REQUIRE(fl.proc().sendSignal(SIGTERM));
  auto code = fl.proc().waitExit(Millis(8000));  // Grace 5 plus slack
  INFO("stderr:\n" << fl.proc().stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("lifecycle: SIGTERM with a stuck output exits 0 within Grace", "[e2e][lifecycle]") {
  Firelane fl;
  SpawnOptions spawn;
  spawn.readStdout = false;  // stdout is a pipe nobody reads: the output cannot finish
  std::string config = forwardToStdoutConfig();
  config.replace(config.find("Grace 5"), 7, "Grace 1");
  fl.start(config, spawn);
  auto client = fl.connect();
  for (size_t b = 0; b < 20; ++b) {  // ~2 MB, far more than the pipe holds
    ForwardOptions opts;
    opts.chunk = "stuck-" + std::to_string(b);
    std::vector<Event> events;
    for (size_t i = 0; i < 1000; ++i) events.push_back(Event{1700000000, 0, {{"log", std::string(60, 'x')}}});
    INFO(client->lastError());
    REQUIRE(client->sendWithAck(buildPackedForward("stuck", events, TimeFormat::EventTimeFixExt8, PayloadType::Bin, opts),
                                *opts.chunk, kTimeout));
  }
  auto start = std::chrono::steady_clock::now();
  REQUIRE(fl.proc().sendSignal(SIGTERM));
  auto code = fl.proc().waitExit(Millis(6000));
  INFO("stderr:\n" << fl.proc().stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(4000));
}

TEST_CASE("lifecycle: after SIGTERM the listeners stop accepting", "[e2e][lifecycle]") {
  Firelane fl;
  SpawnOptions spawn;
  spawn.readStdout = false;  // keeps firelane in its drain for the whole Grace period
  std::string config = forwardToStdoutConfig();
  config.replace(config.find("Grace 5"), 7, "Grace 3");
  fl.start(config, spawn);
  auto client = fl.connect();
  std::vector<Event> events;
  for (size_t i = 0; i < 2000; ++i) events.push_back(Event{1700000000, 0, {{"log", std::string(100, 'q')}}});
  ForwardOptions opts;
  opts.chunk = "before";
  INFO(client->lastError());
  REQUIRE(client->sendWithAck(buildPackedForward("t", events, TimeFormat::EventTimeFixExt8, PayloadType::Bin, opts),
                              "before", kTimeout));
  auto start = std::chrono::steady_clock::now();
  REQUIRE(fl.proc().sendSignal(SIGTERM));
  // Listeners close asynchronously after the signal; within a second new connections are refused
  // while firelane is still draining (its output is stuck, so it lives for the 3 s of Grace).
  bool refused = waitUntil(
      [&] { return ForwardClient::connectTcp("127.0.0.1", fl.tcpPort(), Millis(500)) == nullptr; }, Millis(1000));
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(refused);
  CHECK(elapsed < std::chrono::milliseconds(2500));
  CHECK(fl.proc().running());
  auto code = fl.proc().waitExit(Millis(8000));
  INFO("stderr:\n" << fl.proc().stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

}  // namespace firelane::e2e
