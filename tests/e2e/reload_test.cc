// End to end: SIGHUP reloads the config file: an invalid file is refused (the old pipeline keeps
// running), a valid one replaces the pipeline after the old one drained, without losing events.
#include <signal.h>

#include <catch2/catch.hpp>
#include <regex>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

std::string configWith(const std::string& value) {
  return "[SERVICE]\n    Flush 0.05\n    Grace 5\n"
         "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
         "[FILTER]\n    Name record_modifier\n    Match *\n    Record version " +
         value +
         "\n"
         "[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n";
}

void sendAcked(ForwardClient& client, const std::string& prefix, size_t n, const std::string& chunk) {
  ForwardOptions opts;
  opts.chunk = chunk;
  INFO(client.lastError());
  REQUIRE(client.sendWithAck(buildForward("app", makeEvents(prefix, n), TimeFormat::EventTimeFixExt8, opts), chunk,
                             kTimeout));
}

}  // namespace

TEST_CASE("reload: SIGHUP applies a valid config and refuses an invalid one", "[e2e][reload]") {
  Firelane fl;
  fl.start(configWith("one"));
  auto client = fl.connect();
  sendAcked(*client, "a", 3, "c1");
  for (const auto& line : fl.lines(3)) CHECK(fieldOf(line, "version") == "one");

  // An invalid file: refused with the place of the error; the running pipeline is untouched.
  const std::string path = fl.dir().path() + "/firelane.conf";
  fl.dir().writeFile("firelane.conf", configWith("two") + "[OUTPUT]\n    Name stdout\n    Matchh *\n");
  REQUIRE(fl.proc().sendSignal(SIGHUP));
  auto refused = fl.proc().waitForStderr("the new configuration is invalid, keeping the current one", kTimeout);
  REQUIRE(refused.has_value());
  CHECK(refused->find(path + ":18: unknown key 'Matchh'") != std::string::npos);
  sendAcked(*client, "b", 2, "c2");
  for (const auto& line : fl.lines(2)) CHECK(fieldOf(line, "version") == "one");

  // A valid file: events accepted before the signal are delivered by the old pipeline, then the new
  // one listens (port 0: a new port) and applies the new filter.
  fl.dir().writeFile("firelane.conf", configWith("two"));
  sendAcked(*client, "c", 5, "c3");
  REQUIRE(fl.proc().sendSignal(SIGHUP));
  REQUIRE(fl.proc().waitForStderr("configuration is valid, reloading", kTimeout).has_value());
  static const std::regex listening(R"(listening on tcp 127\.0\.0\.1:(\d+))");
  auto line = fl.proc().waitForStderrRegex(listening, kTimeout);
  REQUIRE(line.has_value());
  std::smatch m;
  REQUIRE(std::regex_search(*line, m, listening));
  auto old = fl.lines(5);
  for (const auto& l : old) CHECK(fieldOf(l, "version") == "one");
  CHECK(countBy(old, "id").size() == 5);
  REQUIRE(fl.proc().waitForStderr("[engine] started", kTimeout).has_value());

  auto fresh = ForwardClient::connectTcp("127.0.0.1", static_cast<uint16_t>(std::stoul(m[1])));
  REQUIRE(fresh);
  sendAcked(*fresh, "d", 4, "c4");
  for (const auto& l : fl.lines(4)) CHECK(fieldOf(l, "version") == "two");
  CHECK(fl.proc().running());

  REQUIRE(fl.proc().sendSignal(SIGTERM));
  auto code = fl.proc().waitExit(kTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

}  // namespace firelane::e2e
