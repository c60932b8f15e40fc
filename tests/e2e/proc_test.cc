// End to end: the proc input watching a real child process (a `sleep` with a unique argument) through
// the binary: stdout shows it down, up with its pid, and down again after it is killed.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

// Reads stdout lines until one satisfies `pred` (returned) or the deadline passes (nullopt).
std::optional<std::string> awaitLine(Process& p, const std::function<bool(const std::string&)>& pred,
                                     Millis timeout = kTimeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    for (auto& line : p.readStdoutLines(1, std::max(left, Millis(1))))
      if (pred(line)) return line;
  }
  return std::nullopt;
}

bool has(const std::string& line, const std::string& s) { return line.find(s) != std::string::npos; }

}  // namespace

TEST_CASE("proc e2e: a child process seen down then up then down", "[e2e][proc]") {
  // A sleep duration nobody else runs: 86400.<our pid><time> seconds.
  std::string unique = "86400." + std::to_string(::getpid()) +
                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
  std::string search = "sleep " + unique;
  bool alert = GENERATE(false, true);
  INFO("Alert " << alert);
  Firelane fl;
  fl.start("[SERVICE]\n    Flush 0.05\n"
           "[INPUT]\n    Name proc\n    Tag health\n    Search_String " + search +
           "\n    Exact_Match off\n    Interval_Sec 0\n    Interval_NSec 50000000\n    Alert " +
           (alert ? "on" : "off") +
           "\n[OUTPUT]\n    Name stdout\n    Match health\n    Format json_lines\n");
  const std::string name = "\"proc_name\":\"" + search + "\"";
  REQUIRE(awaitLine(fl.proc(), [&](const std::string& l) { return has(l, "\"alive\":false") && has(l, name); }));

  auto child = Process::spawn("/bin/sleep", {unique});
  const std::string pid = "\"pid\":" + std::to_string(child->pid()) + ",";
  auto up = awaitLine(fl.proc(), [&](const std::string& l) { return has(l, "\"alive\":true"); });
  REQUIRE(up);
  CHECK(has(*up, name));
  CHECK(has(*up, pid));
  if (alert) {
    CHECK(has(*up, "\"fd\":"));
    CHECK(has(*up, "\"mem.VmRSS\":"));
  }

  REQUIRE(child->sendSignal(SIGKILL));
  REQUIRE(child->waitExit(kTimeout) == 128 + SIGKILL);
  // Lines printed meanwhile are up (Alert off) or nothing (Alert on); then down again.
  auto down = awaitLine(fl.proc(), [&](const std::string& l) {
    if (alert) CHECK_FALSE(has(l, "\"alive\":true"));
    return has(l, "\"alive\":false");
  });
  REQUIRE(down);
  CHECK(has(*down, name));
  CHECK_FALSE(has(*down, "\"pid\""));
}

}  // namespace firelane::e2e
