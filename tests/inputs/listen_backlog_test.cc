// The forward and tcp inputs on a loop the test drives: what a shutdown does with connections that are
// still in the listen backlog (connected and written to, not yet accepted).
#include <catch2/catch.hpp>

#include <uv.h>

#include "core/app/builtin_plugins.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"
#include "support/forward_client.h"
#include "support/process.h"

using namespace firelane;
using namespace firelane::testsupport;

namespace {

// Counts what the input emits; the loop is the test's own.
struct CountingContext final : InputContext {
  uv_loop_t* loop_;
  InputCounters counters_;
  std::string name_ = "forward.0";
  size_t events = 0;
  explicit CountingContext(uv_loop_t* l) : loop_(l) {}
  uv_loop_t* loop() override { return loop_; }
  unsigned workerId() const override { return 0; }
  const std::string& instanceName() const override { return name_; }
  InputCounters& counters() override { return counters_; }
  bool emit(EventBatch&& batch) override {
    events += batch.events.size();
    return true;
  }
  void finished() override {}
};

}  // namespace

TEST_CASE("forward and tcp inputs: shutdown takes connections waiting in the listen backlog", "[inputs][forward]") {
  std::string listen = GENERATE(as<std::string>{}, "unix", "tcp", "tcp input");
  TempDir dir;
  std::string sock = dir.file("fwd.sock");
  std::string text = std::string("[INPUT]\n    Name ") + (listen == "tcp input" ? "tcp" : "forward") + "\n" +
                     (listen == "unix" ? "    unix_path " + sock + "\n" : std::string("    Listen 127.0.0.1\n    Port 0\n")) +
                     "[OUTPUT]\n    Name null\n    Match *\n";
  INFO(listen);
  Registry registry;
  registerBuiltinPlugins(registry);
  auto doc = config::parseString(text, "t.conf", dir.path());
  REQUIRE(doc.ok());
  auto pc = buildPipeline(*doc, registry);
  REQUIRE(pc.ok());
  auto& factory = *pc->inputs[0].factory;
  REQUIRE(factory.prepare(1).ok());

  uv_loop_t loop;
  uv_loop_init(&loop);
  CountingContext ctx(&loop);
  {
    InputPtr input = factory.create(0);
    REQUIRE(input->start(ctx).ok());
    // The loop has not run: the kernel completes these connections into the backlog and takes their
    // bytes, but nothing accepted them yet.
    std::vector<std::unique_ptr<ForwardClient>> clients;
    uint16_t port = 0;
    if (listen != "unix") {
      // The bound port: the only listening socket this process owns on 127.0.0.1 with the input's fd.
      sockaddr_in addr{};
      socklen_t len = sizeof(addr);
      uv_os_fd_t fd = -1;
      for (int candidate = 3; candidate < 1024 && port == 0; ++candidate) {
        int listening = 0;
        socklen_t l = sizeof(listening);
        if (::getsockopt(candidate, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == 0 && listening &&
            ::getsockname(candidate, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.sin_family == AF_INET) {
          fd = candidate;
          port = ntohs(addr.sin_port);
        }
        len = sizeof(addr);
      }
      REQUIRE(fd >= 0);
    }
    std::vector<testsupport::Event> events;
    for (uint32_t i = 0; i < 5; ++i) events.push_back(testsupport::Event{1700000000 + i, 0, {{"log", "line " + std::to_string(i)}}});
    for (int k = 0; k < 3; ++k) {
      auto c = listen == "unix" ? ForwardClient::connectUnix(sock) : ForwardClient::connectTcp("127.0.0.1", port);
      REQUIRE(c);
      if (listen == "tcp input") {
        std::string lines;
        for (const auto& e : events) lines += "{\"log\":\"" + e.record.at(0).second + "\"}\n";
        REQUIRE(c->send(lines));
      } else {
        REQUIRE(c->send(buildForward("app", events)));
      }
      clients.push_back(std::move(c));
    }
    clients.clear();  // closed: each connection holds its events and then EOF
    input->stopAccepting();
    // Without taking the backlog the listener's close resets those connections: nothing arrives.
    for (int i = 0; i < 2000 && !(ctx.events == 15 && input->idle()); ++i) uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(ctx.events == 15);
    CHECK(input->idle());
    bool closed = false;
    input->close([&] { closed = true; });
    for (int i = 0; i < 100 && !closed; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(closed);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
