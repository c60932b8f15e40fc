// End to end: the command line: config errors with file:line and suggestions, --dry-run, --version,
// help texts, and a pipeline built from -i/-o flags alone.
#include <signal.h>

#include <catch2/catch.hpp>
#include <regex>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

struct Outcome {
  std::optional<int> code;
  std::string out;
  std::string err;
};

// Runs firelane to completion (bounded by kTimeout) and collects both streams.
Outcome runToExit(const std::vector<std::string>& args) {
  auto proc = Process::spawn(firelaneBin(), args);
  proc->closeStdin();
  Outcome o;
  o.code = proc->waitExit(kTimeout);
  proc->waitOutputClosed(kTimeout);
  o.out = proc->readStdoutToEof(Millis(0));
  o.err = proc->stderrText();
  return o;
}

const char* kValidConfig =
    "[SERVICE]\n    Flush 1\n"
    "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
    "[OUTPUT]\n    Name stdout\n    Match *\n";

}  // namespace

TEST_CASE("cli: unknown key is a config error with file:line and a suggestion", "[e2e][cli]") {
  TempDir dir;
  std::string conf = dir.writeFile("x.conf",
                                   "[INPUT]\n"
                                   "    Name forward\n"
                                   "    Prot 24224\n"
                                   "[OUTPUT]\n"
                                   "    Name stdout\n"
                                   "    Match *\n");
  auto o = runToExit({"-c", conf});
  INFO("stdout:\n" << o.out << "\nstderr:\n" << o.err);
  REQUIRE(o.code.has_value());
  CHECK(*o.code == 1);
  CHECK(o.err.find("x.conf:3: unknown key 'Prot' in [INPUT] forward (did you mean 'Port'?)") != std::string::npos);
  CHECK(o.out.empty());
}

TEST_CASE("cli: --dry-run validates without running", "[e2e][cli]") {
  TempDir dir;
  SECTION("valid config") {
    auto o = runToExit({"--dry-run", "-c", dir.writeFile("ok.conf", kValidConfig)});
    INFO("stdout:\n" << o.out << "\nstderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 0);
    CHECK((o.out + o.err).find("configuration test is successful") != std::string::npos);
    CHECK(o.err.find("[engine] started") == std::string::npos);
  }
  SECTION("invalid config") {
    std::string conf = dir.writeFile("bad.conf", "[INPUT]\n    Name forward\n    Port not-a-port\n");
    auto o = runToExit({"--dry-run", "-c", conf});
    INFO("stdout:\n" << o.out << "\nstderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 1);
    CHECK(o.err.find("bad.conf:3:") != std::string::npos);
    CHECK((o.out + o.err).find("configuration test is successful") == std::string::npos);
  }
}

TEST_CASE("cli: --version, -h and per-plugin --help", "[e2e][cli]") {
  SECTION("--version") {
    auto o = runToExit({"--version"});
    INFO("stdout:\n" << o.out << "\nstderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 0);
    CHECK((o.out + o.err).find(FIRELANE_VERSION) != std::string::npos);
  }
  SECTION("-h") {
    auto o = runToExit({"-h"});
    INFO("stdout:\n" << o.out << "\nstderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 0);
    CHECK((o.out + o.err).find("-c") != std::string::npos);
  }
  SECTION("-o stdout --help lists its options") {
    auto o = runToExit({"-o", "stdout", "--help"});
    INFO("stdout:\n" << o.out << "\nstderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 0);
    std::string text = o.out + o.err;
    CHECK(std::regex_search(text, std::regex("format", std::regex::icase)));
    CHECK(text.find("json_lines") != std::string::npos);
  }
  SECTION("-i forward --help lists its options") {
    auto o = runToExit({"-i", "forward", "--help"});
    INFO("stdout:\n" << o.out << "\nstderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 0);
    std::string text = o.out + o.err;
    for (const char* key : {"unix_path", "tag_prefix", "buffer_chunk_size", "buffer_max_size"}) {
      INFO(key);
      CHECK(std::regex_search(text, std::regex(key, std::regex::icase)));
    }
  }
}

TEST_CASE("cli: unknown plugin and missing config file exit 1", "[e2e][cli]") {
  SECTION("unknown input") {
    auto o = runToExit({"-i", "no_such_input", "-o", "stdout"});
    INFO("stderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 1);
    CHECK(o.err.find("no_such_input") != std::string::npos);
  }
  SECTION("missing config file") {
    auto o = runToExit({"-c", "/nonexistent/firelane-e2e.conf"});
    INFO("stderr:\n" << o.err);
    REQUIRE(o.code.has_value());
    CHECK(*o.code == 1);
    CHECK(o.err.find("/nonexistent/firelane-e2e.conf") != std::string::npos);
  }
}

TEST_CASE("cli: -i dummy -o stdout pipeline from flags", "[e2e][cli][dummy]") {
  auto proc = Process::spawn(firelaneBin(), {"-i", "dummy", "-p", R"(dummy={"message":"hi","n":1})", "-p", "rate=20",
                                             "-t", "dummy.cli", "-o", "stdout", "-m", "dummy.*", "-f", "0.05"});
  auto lines = proc->readStdoutLines(3, kTimeout);
  INFO("stderr:\n" << proc->stderrText());
  REQUIRE(lines.size() == 3);
  static const std::regex shape(R"(^\{"date":\d+\.\d{6},"message":"hi","n":1\}$)");
  for (const auto& l : lines) {
    INFO(l);
    CHECK(std::regex_match(l, shape));
  }
  REQUIRE(proc->sendSignal(SIGTERM));
  auto code = proc->waitExit(kTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("cli: -v and -vv are accepted", "[e2e][cli]") {
  std::string flag = GENERATE(as<std::string>(), "-v", "-vv");
  auto proc = Process::spawn(firelaneBin(), {flag, "-i", "dummy", "-p", "rate=50", "-o", "null", "-m", "*", "-f", "0.05"});
  auto started = proc->waitForStderr("[engine] started", kTimeout);
  INFO(flag << " stderr:\n" << proc->stderrText());
  CHECK(started.has_value());
  REQUIRE(proc->sendSignal(SIGTERM));
  CHECK(proc->waitExit(kTimeout) == std::optional<int>(0));
}

TEST_CASE("cli: dummy Samples and Match that routes nothing", "[e2e][cli][dummy]") {
  TempDir dir;
  std::string conf = dir.writeFile("dummy.conf",
                                   "[SERVICE]\n    Flush 0.05\n"
                                   "[INPUT]\n    Name dummy\n    Dummy {\"k\":\"v\"}\n    Rate 100\n    Samples 5\n"
                                   "    Tag d.one\n"
                                   "[OUTPUT]\n    Name stdout\n    Match d.*\n"
                                   "[OUTPUT]\n    Name stdout\n    Match other\n");
  auto proc = Process::spawn(firelaneBin(), {"-c", conf});
  auto lines = proc->readStdoutLines(5, kTimeout);
  INFO("stderr:\n" << proc->stderrText());
  REQUIRE(lines.size() == 5);
  for (const auto& l : lines) CHECK(l.find(R"(,"k":"v"})") != std::string::npos);
  // firelane may exit on its own once the dummy input is done; SIGTERM otherwise. Either way: 0.
  proc->sendSignal(SIGTERM);
  auto code = proc->waitExit(kTimeout);
  proc->waitOutputClosed(kTimeout);
  INFO("stderr after exit:\n" << proc->stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(proc->readStdoutToEof(kTimeout).empty());  // Samples 5: nothing after the fifth
}

}  // namespace firelane::e2e
