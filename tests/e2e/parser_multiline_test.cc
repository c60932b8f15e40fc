// End to end through the real binary: forward input -> parser / multiline filter -> stdout json lines.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {
std::string readFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("parser filter: nginx lines become fields with the parsed time", "[e2e][parser]") {
  Firelane fl;
  std::string conf = forwardToStdoutConfig() +
                     "\n[FILTER]\n    Name parser\n    Match app.*\n    Key_Name log\n    Parser nginx\n"
                     "    Parser json\n    Reserve_Data On\n";
  // Parsers_File belongs to [SERVICE]; relative to the config's folder.
  fl.dir().writeFile("parsers.conf", readFileText(std::string(FIRELANE_SOURCE_DIR) + "/conf/parsers.conf"));
  conf.insert(conf.find("    Grace"), "    Parsers_File parsers.conf\n");
  fl.start(conf);
  auto c = fl.connect();
  std::vector<Event> events = {
      {1600000000, 0,
       {{"container_id", "abc"},
        {"log", R"(172.17.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /index.html HTTP/1.1" 200 612 "-" "curl/8.1")"}}},
      {1600000001, 0, {{"container_id", "abc"}, {"log", "not an access log line"}}},
      {1600000002, 0, {{"log", R"({"level":"error","code":7})"}, {"source", "stderr"}}},
  };
  std::string wire;
  for (const auto& e : events) wire += buildMessage("app.web", e);
  REQUIRE(c->send(wire));
  auto lines = fl.lines(3);
  CHECK(lines[0] ==
        R"({"date":1700000000.000000,"remote":"172.17.0.1","host":"-","user":"-","method":"GET","path":"/index.html",)"
        R"("code":"200","size":"612","referer":"-","agent":"curl/8.1","container_id":"abc"})");
  CHECK(lines[1] == R"({"date":1600000001.000000,"container_id":"abc","log":"not an access log line"})");
  CHECK(lines[2] == R"({"date":1600000002.000000,"level":"error","code":7,"source":"stderr"})");
}

TEST_CASE("parser filter: a bad regex in a parsers file stops start-up with file and line", "[e2e][parser]") {
  TempDir dir;
  dir.writeFile("p.conf", "[PARSER]\n    Name bad\n    Format regex\n    Regex ^(?<a>x)\\1$\n");
  std::string conf = dir.writeFile("f.conf",
                                   "[SERVICE]\n    Parsers_File p.conf\n[INPUT]\n    Name dummy\n"
                                   "[OUTPUT]\n    Name null\n    Match *\n");
  auto proc = Process::spawn(firelaneBin(), {"-c", conf, "--dry-run"});
  auto code = proc->waitExit(kTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  REQUIRE(proc->waitOutputClosed(kTimeout));  // exited is not yet drained: stderr may still be in the pipe
  std::string err = proc->stderrText();
  INFO(err);
  CHECK(err.find("p.conf:4: invalid Regex in [PARSER] bad: invalid escape sequence: \\1") != std::string::npos);
}

TEST_CASE("multiline filter: Docker partial messages are joined across interleaved containers", "[e2e][multiline]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig() + "\n[FILTER]\n    Name multiline\n    Match *\n    mode partial_message\n");
  auto c = fl.connect();
  std::string line;
  for (size_t i = 0; line.size() < 100 * 1024; ++i) line += "chunk " + std::to_string(i) + " ";
  std::string wire;
  const size_t piece = 16 * 1024;
  size_t n = (line.size() + piece - 1) / piece;
  for (size_t i = 0; i < n; ++i) {
    Event e{1700000000, 5000, {{"container_id", std::string(64, 'a')}, {"source", "stdout"},
                               {"log", line.substr(i * piece, piece)}, {"partial_message", "true"},
                               {"partial_id", "pid-1"}, {"partial_ordinal", std::to_string(i + 1)},
                               {"partial_last", i + 1 == n ? "true" : "false"}}};
    wire += buildMessage("app-firelens-1", e);
    Event other{1700000001, 0, {{"container_id", std::string(64, 'b')}, {"log", "other " + std::to_string(i)}}};
    wire += buildMessage("app-firelens-1", other);
  }
  REQUIRE(c->send(wire));
  auto lines = fl.lines(n + 1);
  for (size_t i = 0; i + 1 < n; ++i) CHECK(fieldOf(lines[i], "log") == "other " + std::to_string(i));
  CHECK(lines[n - 1] == R"({"date":1700000000.000005,"container_id":")" + std::string(64, 'a') +
                            R"(","source":"stdout","log":")" + line + "\"}");
  CHECK(fieldOf(lines[n], "log") == "other " + std::to_string(n - 1));
}

TEST_CASE("multiline filter: a group whose last piece is lost comes out after flush_ms", "[e2e][multiline]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig() +
           "\n[FILTER]\n    Name multiline\n    Match *\n    mode partial_message\n    flush_ms 100\n");
  auto c = fl.connect();
  std::string wire;
  for (int i = 1; i <= 2; ++i) {
    Event e{1700000000, 0, {{"log", "piece" + std::to_string(i) + " "}, {"partial_message", "true"},
                            {"partial_id", "lost"}, {"partial_ordinal", std::to_string(i)}, {"partial_last", "false"}}};
    wire += buildMessage("app-firelens-1", e);
  }
  REQUIRE(c->send(wire));
  auto lines = fl.lines(1);
  CHECK(lines[0] == R"({"date":1700000000.000000,"log":"piece1 piece2 "})");
}

TEST_CASE("multiline filter: java stack traces are joined by the real binary", "[e2e][multiline]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig() + "\n[FILTER]\n    Name multiline\n    Match *\n    multiline.parser java\n");
  auto c = fl.connect();
  std::vector<std::string> trace = {"java.lang.RuntimeException: boom", "\tat a.B.c(B.java:1)", "\tat a.B.main(B.java:9)"};
  std::string wire;
  uint32_t t = 1700000000;
  for (const auto& l : trace) wire += buildMessage("app", Event{t++, 0, {{"container_id", "c1"}, {"log", l}}});
  wire += buildMessage("app", Event{t, 0, {{"container_id", "c1"}, {"log", "done"}}});
  REQUIRE(c->send(wire));
  auto lines = fl.lines(2);
  CHECK(lines[0] == R"~({"date":1700000000.000000,"container_id":"c1","log":"java.lang.RuntimeException: boom\n\tat a.B.c(B.java:1)\n\tat a.B.main(B.java:9)"})~");
  CHECK(lines[1] == R"({"date":1700000003.000000,"container_id":"c1","log":"done"})");
}

}  // namespace firelane::e2e
