// End to end: the tcp input through the binary: the FireLens health-check input (127.0.0.1, tagged
// firelens-healthcheck, routed to null), Format json and none, and a malformed or oversized stream
// closing only its own connection, counted in the metrics, while another connection keeps streaming.
#include <catch2/catch.hpp>
#include <chrono>
#include <regex>
#include <thread>

#include "e2e/e2e_util.h"
#include "support/http_get.h"

namespace firelane::e2e {
namespace {

const char* kService =
    "[SERVICE]\n    Flush 0.05\n    Grace 5\n    HTTP_Server On\n    HTTP_Listen 127.0.0.1\n    HTTP_Port 0\n";

// Polls the Prometheus metrics until `sample` (e.g. `x{name="a"} 1`) is there or kTimeout passes.
bool waitForMetric(uint16_t port, const std::string& sample) {
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = httpGet(port, "/api/v1/metrics/prometheus");
    if (r && r->status == 200 && r->body.find(sample + "\n") != std::string::npos) return true;
    std::this_thread::sleep_for(Millis(50));  // polling interval of a bounded condition wait
  }
  return false;
}

std::unique_ptr<ForwardClient> connectTo(const Firelane& fl, size_t index) {
  std::string error;
  auto c = ForwardClient::connectTcp("127.0.0.1", fl.tcpPort(index), Millis(5000), &error);
  INFO(error);
  REQUIRE(c);
  return c;
}

}  // namespace

TEST_CASE("tcp input: FireLens health check goes to null while json and none records reach stdout",
          "[e2e][tcp]") {
  Firelane fl;
  fl.start(std::string(kService) +
           "[INPUT]\n    Name tcp\n    Listen 127.0.0.1\n    Port 0\n    Tag firelens-healthcheck\n"
           "[INPUT]\n    Name tcp\n    Listen 127.0.0.1\n    Port 0\n    Format json\n    Tag app-json\n"
           "[INPUT]\n    Name tcp\n    Listen 127.0.0.1\n    Port 0\n    Format none\n    Separator \\r\\n\n"
           "[OUTPUT]\n    Name null\n    Match firelens-healthcheck\n"
           "[OUTPUT]\n    Name stdout\n    Match_Regex ^(app-json|tcp\\.2)$\n    Format json_lines\n");
  REQUIRE(fl.listeners().size() == 3);
  CHECK(fl.listeners()[0].instance == "tcp.0");
  uint16_t mport = monitorPort(fl.proc());

  // What the ECS agent's health check does: one small JSON object, then close.
  auto health = connectTo(fl, 0);
  REQUIRE(health->send("{\"health\":\"check\"}"));
  health.reset();

  auto json = connectTo(fl, 1);
  REQUIRE(json->send("{\"log\":\"first\",\"n\":1}\n{\"log\":\"sec"));
  REQUIRE(json->send("ond {}\",\"nested\":{\"k\":[1,2]}}"));
  auto lines = connectTo(fl, 2);
  REQUIRE(lines->send("plain line\r\nwith \"quotes\"\r\n"));

  auto out = fl.lines(4);
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.find(',')) < b.substr(b.find(','));
  });
  for (auto& l : out) l = l.substr(l.find(','));  // drop the receive-time "date"
  CHECK(out == std::vector<std::string>{R"(,"log":"first","n":1})", R"(,"log":"plain line"})",
                                        R"(,"log":"second {}","nested":{"k":[1,2]}})",
                                        R"(,"log":"with \"quotes\""})"});
  CHECK(waitForMetric(mport, R"(fluentbit_output_proc_records_total{name="null.0"} 1)"));
  CHECK(waitForMetric(mport, R"(fluentbit_input_records_total{name="tcp.1"} 2)"));
}

TEST_CASE("tcp input: malformed JSON closes that connection only and is counted", "[e2e][tcp]") {
  Firelane fl;
  fl.start(std::string(kService) +
           "[INPUT]\n    Name tcp\n    Listen 127.0.0.1\n    Port 0\n    Tag app\n    Buffer_Size 1\n"
           "[OUTPUT]\n    Name stdout\n    Match app\n    Format json_lines\n");
  uint16_t mport = monitorPort(fl.proc());
  auto good = connectTo(fl, 0);
  auto bad = connectTo(fl, 0);
  auto big = connectTo(fl, 0);
  REQUIRE(good->send("{\"id\":\"g1\"}\n"));
  REQUIRE(bad->send("{\"id\":\"b1\"}\n{\"id\" \"b2\"}\n{\"id\":\"b3\"}\n"));
  CHECK(bad->waitClosed(kTimeout));
  // Buffer_Size 1 = 1 KiB: an object that grows past it closes the connection.
  REQUIRE(big->send("{\"id\":\"k1\"}{\"log\":\"" + std::string(2000, 'x')));
  CHECK(big->waitClosed(kTimeout));
  for (int i = 2; i <= 50; ++i) REQUIRE(good->send("{\"id\":\"g" + std::to_string(i) + "\"}"));
  auto out = fl.lines(52);
  auto ids = countBy(out, "id");
  CHECK(ids.size() == 52);
  CHECK(ids["b1"] == 1);
  CHECK(ids["k1"] == 1);
  CHECK(ids["g50"] == 1);
  CHECK(ids.count("b3") == 0);
  CHECK(waitForMetric(mport, R"(firelane_input_errors_total{name="tcp.0",reason="malformed_json"} 1)"));
  CHECK(waitForMetric(mport, R"(firelane_input_errors_total{name="tcp.0",reason="record_too_large"} 1)"));
  CHECK(fl.proc().stderrText().find("closing connection from 127.0.0.1:") != std::string::npos);
}

TEST_CASE("tcp input: bad Chunk_Size and Format stop start-up with file:line", "[e2e][tcp]") {
  TempDir dir;
  std::string conf = dir.writeFile("t.conf",
                                   "[INPUT]\n    Name tcp\n    Port 0\n    Chunk_Size lots\n"
                                   "[OUTPUT]\n    Name null\n    Match *\n");
  auto proc = Process::spawn(firelaneBin(), {"--dry-run", "-c", conf});
  auto code = proc->waitExit(kTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  REQUIRE(proc->waitOutputClosed(kTimeout));
  CHECK(proc->stderrText().find("t.conf:4: invalid value 'lots' for 'Chunk_Size' in [INPUT] tcp") != std::string::npos);
  std::string conf2 = dir.writeFile("u.conf",
                                    "[INPUT]\n    Name tcp\n    Port 0\n    Format msgpack\n"
                                    "[OUTPUT]\n    Name null\n    Match *\n");
  auto proc2 = Process::spawn(firelaneBin(), {"--dry-run", "-c", conf2});
  auto code2 = proc2->waitExit(kTimeout);
  REQUIRE(code2.has_value());
  CHECK(*code2 == 1);
  REQUIRE(proc2->waitOutputClosed(kTimeout));
  CHECK(proc2->stderrText().find("u.conf:4: invalid value 'msgpack' for 'Format' in [INPUT] tcp") != std::string::npos);
}

}  // namespace firelane::e2e
