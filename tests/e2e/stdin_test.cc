// End to end: the stdin input turns each line into {"log": line}, and at EOF firelane drains and
// exits 0 when stdin was its only input.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cctype>

#include "e2e/e2e_util.h"

namespace firelane::e2e {

TEST_CASE("stdin: lines become json records and EOF exits 0", "[e2e][stdin]") {
  TempDir dir;
  std::string conf = dir.writeFile("stdin.conf",
                                   "[SERVICE]\n    Flush 0.05\n"
                                   "[INPUT]\n    Name stdin\n"
                                   "[OUTPUT]\n    Name stdout\n    Match stdin\n    Format json_lines\n");
  auto proc = Process::spawn(firelaneBin(), {"-c", conf});
  const std::vector<std::string> input = {
      "hello world",
      "say \"hi\"\tthere \\ back",
      "bad \xff byte and a cut \xc3 sequence",
      "control \x01 char",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      std::string(10000, 'x'),
  };
  std::string all;
  for (const auto& l : input) all += l + "\n";
  REQUIRE(proc->writeStdin(all, kTimeout));
  proc->closeStdin();

  auto code = proc->waitExit(kTimeout);
  INFO("stderr:\n" << proc->stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  std::string out = proc->readStdoutToEof(kTimeout);

  // {"date":<seconds>.<6 digits>,<rest>} checked by hand: std::regex recurses per character and
  // overflows the stack on the long lines of this test (under ASan).
  auto split = [](const std::string& line, std::string& seconds, std::string& rest) {
    const std::string head = "{\"date\":";
    if (line.rfind(head, 0) != 0 || line.back() != '}') return false;
    size_t dot = line.find('.', head.size());
    if (dot == std::string::npos || dot == head.size() || line.size() < dot + 8 || line[dot + 7] != ',') return false;
    seconds = line.substr(head.size(), dot - head.size());
    for (size_t k = 0; k < seconds.size(); ++k)
      if (!std::isdigit(static_cast<unsigned char>(seconds[k]))) return false;
    for (size_t k = dot + 1; k < dot + 7; ++k)
      if (!std::isdigit(static_cast<unsigned char>(line[k]))) return false;
    rest = line.substr(dot + 8, line.size() - dot - 9);
    return true;
  };
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  std::vector<std::string> lines;
  for (size_t start = 0, nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(out.substr(start, nl - start));
  }
  REQUIRE(lines.size() == input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    INFO("line " << i << ": " << lines[i].substr(0, 200));
    std::string seconds, rest;
    REQUIRE(split(lines[i], seconds, rest));
    CHECK(std::abs(std::stoll(seconds) - now.count()) < 120);
    CHECK(rest == "\"log\":" + jsonString(input[i]));
  }
  CHECK(lines[1] .find(R"("log":"say \"hi\"\tthere \\ back")") != std::string::npos);
  CHECK(lines[2].find(R"(bad \ufffd byte and a cut \ufffd sequence)") != std::string::npos);
  CHECK(lines[3].find(R"(control \u0001 char)") != std::string::npos);
}

TEST_CASE("stdin: Tag renames the stream for routing", "[e2e][stdin]") {
  TempDir dir;
  std::string conf = dir.writeFile("stdin.conf",
                                   "[SERVICE]\n    Flush 0.05\n"
                                   "[INPUT]\n    Name stdin\n    Tag from.pipe\n"
                                   "[OUTPUT]\n    Name stdout\n    Match from.*\n"
                                   "[OUTPUT]\n    Name stdout\n    Match stdin\n");
  auto proc = Process::spawn(firelaneBin(), {"-c", conf});
  REQUIRE(proc->writeStdin("one\ntwo\n", kTimeout));
  proc->closeStdin();
  auto code = proc->waitExit(kTimeout);
  INFO("stderr:\n" << proc->stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  std::string out = proc->readStdoutToEof(kTimeout);
  CHECK(std::count(out.begin(), out.end(), '\n') == 2);
  CHECK(out.find(R"("log":"one")") != std::string::npos);
  CHECK(out.find(R"("log":"two")") != std::string::npos);
}

TEST_CASE("stdin: one SIGTERM during the drain after EOF exits 0 within Grace", "[e2e][stdin][lifecycle]") {
  TempDir dir;
  std::string conf = dir.writeFile("stdin.conf",
                                   "[SERVICE]\n    Flush 0.05\n    Grace 2\n"
                                   "[INPUT]\n    Name stdin\n"
                                   "[OUTPUT]\n    Name stdout\n    Match *\n");
  SpawnOptions spawn;
  spawn.readStdout = false;  // ~400 KB of output into a 64 KB pipe nobody reads: the drain cannot finish
  auto proc = Process::spawn(firelaneBin(), {"-c", conf}, spawn);
  std::string input;
  for (int i = 0; i < 4000; ++i) input += std::string(90, 'd') + " " + std::to_string(i) + "\n";
  REQUIRE(proc->writeStdin(input, kTimeout));
  proc->closeStdin();
  // Best effort: let firelane see EOF and start its own drain (bounded; the log text is not a contract).
  proc->waitForStderr("draining", Millis(3000));
  REQUIRE(proc->running());
  auto start = std::chrono::steady_clock::now();
  proc->sendSignal(SIGTERM);
  auto code = proc->waitExit(Millis(8000));
  proc->resumeStdout();
  proc->waitOutputClosed(kTimeout);
  INFO("stderr:\n" << proc->stderrText());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(5000));
}

TEST_CASE("stdin: EOF does not stop firelane when other inputs remain", "[e2e][stdin]") {
  Firelane fl;
  std::string config = forwardToStdoutConfig();
  config.insert(config.find("[OUTPUT]"), "[INPUT]\n    Name stdin\n\n");
  fl.start(config);
  REQUIRE(fl.proc().writeStdin("from stdin\n", kTimeout));
  fl.proc().closeStdin();
  auto first = fl.lines(1);
  CHECK(first[0].find(R"("log":"from stdin")") != std::string::npos);

  auto client = fl.connect();
  auto events = makeEvents("after-eof-", 3);
  ForwardOptions opts;
  opts.chunk = "after";
  INFO(client->lastError());
  REQUIRE(client->sendWithAck(buildForward("t", events, TimeFormat::EventTimeFixExt8, opts), "after", kTimeout));
  CHECK(fl.lines(3) == jsonLines(events));
  CHECK(fl.proc().running());
  REQUIRE(fl.proc().sendSignal(SIGTERM));
  CHECK(fl.proc().waitExit(kTimeout) == std::optional<int>(0));
}

}  // namespace firelane::e2e
