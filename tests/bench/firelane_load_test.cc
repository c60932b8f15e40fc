// The load tool's scenarios work end to end (small runs): the tool spawns firelane, feeds it, and its
// sinks accept every expected event with no protocol violation, or the tool exits non-zero. Figures
// are not asserted here (benchmarks measure, tests do not time); only the offered rate's lower bound.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

std::string loadBin() { return std::string(FIRELANE_BUILD_DIR) + "/firelane_load"; }

bool haveLoadBin() {
  struct stat st {};
  return ::stat(loadBin().c_str(), &st) == 0;
}

// Runs the tool with --json and returns its one line per run, parsed; REQUIREs exit 0.
std::vector<nlohmann::json> runLoad(std::vector<std::string> args) {
  args.insert(args.end(), {"--firelane", firelaneBin(), "--json"});
  auto proc = Process::spawn(loadBin(), args);
  auto code = proc->waitExit(Millis(120000));
  std::string out = proc->readStdoutToEof(kTimeout);
  INFO("stdout:\n" << out << "\nstderr:\n" << proc->stderrText());
  REQUIRE(code.has_value());
  REQUIRE(*code == 0);
  std::vector<nlohmann::json> runs;
  size_t start = 0;
  for (size_t nl = out.find('\n'); nl != std::string::npos; start = nl + 1, nl = out.find('\n', start)) {
    auto j = nlohmann::json::parse(out.substr(start, nl - start), nullptr, false);
    if (!j.is_discarded()) runs.push_back(std::move(j));
  }
  return runs;
}

}  // namespace

TEST_CASE("firelane_load: forward-cloudwatch delivers every event as well-formed PutLogEvents", "[bench][load]") {
  if (!haveLoadBin()) {
    WARN("firelane_load not built (FIRELANE_BENCH off): skipped");
    return;
  }
  auto runs = runLoad({"--scenario", "forward-cloudwatch", "--events", "3000"});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["sink"] == "cloudwatch");
  CHECK(runs[0]["expected_at_sink"] == 3000);
  CHECK(runs[0]["requests"].get<uint64_t>() >= 1);
  // Every accepted event carried its send stamp back: latency was measured.
  CHECK(runs[0]["latency_p99_ms"].get<double>() >= runs[0]["latency_p50_ms"].get<double>());
  CHECK(runs[0]["latency_p50_ms"].get<double>() > 0);
}

TEST_CASE("firelane_load: stdin-datadog pipes lines and firelane exits 0 at EOF", "[bench][load]") {
  if (!haveLoadBin()) {
    WARN("firelane_load not built (FIRELANE_BENCH off): skipped");
    return;
  }
  auto runs = runLoad({"--scenario", "stdin-datadog", "--events", "2500"});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["load"] == "stdin");
  CHECK(runs[0]["expected_at_sink"] == 2500);
  CHECK(runs[0]["latency_p50_ms"].get<double>() > 0);
}

TEST_CASE("firelane_load: ecs + grep scenario drops the DEBUG lines and enriches the rest", "[bench][load]") {
  if (!haveLoadBin()) {
    WARN("firelane_load not built (FIRELANE_BENCH off): skipped");
    return;
  }
  auto runs = runLoad({"--scenario", "forward-datadog-ecs-grep", "--events", "3000"});
  REQUIRE(runs.size() == 1);
  // ok also means: every accepted event carried the task ARN of the fake metadata endpoint.
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["ecs_grep"] == true);
  const auto expected = runs[0]["expected_at_sink"].get<uint64_t>();
  CHECK(expected >= 2690);  // every 10th line is DEBUG
  CHECK(expected <= 2710);
}

TEST_CASE("firelane_load: --rate paces the sender", "[bench][load]") {
  if (!haveLoadBin()) {
    WARN("firelane_load not built (FIRELANE_BENCH off): skipped");
    return;
  }
  // 3000 events at 5000/s cannot take less than 0.6 s (a lower bound only: a loaded machine is slower).
  auto runs = runLoad({"--scenario", "forward-datadog-message", "--events", "3000", "--rate", "5000"});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["ok"] == true);
  CHECK(runs[0]["offered_rate"] == 5000);
  CHECK(runs[0]["seconds"].get<double>() >= 0.55);
}

}  // namespace firelane::e2e
