// End to end: the monitoring server of the real binary (HTTP_Server On): every endpoint, counters
// that follow the traffic, the health rule flipping on output failures, and a busy port.
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>
#include <thread>

#include "e2e/e2e_util.h"
#include "support/http_get.h"

namespace firelane::e2e {
namespace {

// A loopback TCP port with nothing listening (bound, then closed).
uint16_t closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

const char* kService =
    "[SERVICE]\n    Flush 0.05\n    Grace 2\n    HTTP_Server On\n    HTTP_Listen 127.0.0.1\n    HTTP_Port 0\n";

}  // namespace

TEST_CASE("monitor: endpoints answer and counters follow the traffic", "[e2e][monitor]") {
  Firelane fl;
  fl.start(std::string(kService) +
           "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
           "[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n");
  uint16_t port = monitorPort(fl.proc());

  auto up = httpGet(port, "/api/v1/uptime");
  REQUIRE(up.has_value());
  CHECK(up->status == 200);
  CHECK(up->headers["content-type"] == "application/json");
  CHECK(std::regex_match(up->body, std::regex(R"(\{"uptime_sec":\d+,"uptime_hr":"Fluent Bit has been running:  0 day, 0 hour, 0 minute and \d+ seconds"\})")));

  auto root = httpGet(port, "/");
  REQUIRE(root.has_value());
  CHECK(root->status == 200);
  CHECK(root->body.find("\"version\":\"" FIRELANE_VERSION "\"") != std::string::npos);

  auto health = httpGet(port, "/api/v1/health");
  REQUIRE(health.has_value());
  CHECK(health->status == 200);
  CHECK(health->body == "ok\n");

  auto client = fl.connect();
  ForwardOptions opts;
  opts.chunk = "m1";
  REQUIRE(client->sendWithAck(buildForward("app", makeEvents("e", 3), TimeFormat::EventTimeFixExt8, opts), "m1",
                              kTimeout));
  fl.lines(3);

  auto metrics = pollGet(port, "/api/v1/metrics", [](const HttpReply& r) {
    return r.body.find("\"proc_records\":3") != std::string::npos;
  });
  REQUIRE(metrics.has_value());
  INFO(metrics->body);
  CHECK(metrics->status == 200);
  CHECK(metrics->body.find("\"forward.0\":{\"records\":3,") != std::string::npos);
  CHECK(metrics->body.find("\"stdout.0\":{\"proc_records\":3,") != std::string::npos);

  for (const char* path : {"/api/v1/metrics/prometheus", "/metrics"}) {
    auto prom = httpGet(port, path);
    REQUIRE(prom.has_value());
    INFO(path << "\n" << prom->body);
    CHECK(prom->status == 200);
    CHECK(prom->headers["content-type"] == "text/plain; version=0.0.4");
    CHECK(prom->body.find("fluentbit_input_records_total{name=\"forward.0\"} 3\n") != std::string::npos);
    CHECK(prom->body.find("fluentbit_output_proc_records_total{name=\"stdout.0\"} 3\n") != std::string::npos);
    CHECK(prom->body.find("fluentbit_output_errors_total{name=\"stdout.0\"} 0\n") != std::string::npos);
    CHECK(prom->body.find("firelane_input_connections{name=\"forward.0\"} 1\n") != std::string::npos);
  }

  auto storage = httpGet(port, "/api/v1/storage");
  REQUIRE(storage.has_value());
  CHECK(storage->status == 200);
  CHECK(storage->body.find("\"input_chunks\":{\"forward.0\":{\"status\":{\"overlimit\":false}}}") != std::string::npos);

  auto missing = httpGet(port, "/api/v2/nothing");
  REQUIRE(missing.has_value());
  CHECK(missing->status == 404);
  auto post = httpRequest("127.0.0.1", port, "POST", "/api/v1/uptime");
  REQUIRE(post.has_value());
  CHECK(post->status == 405);
  auto head = httpRequest("127.0.0.1", port, "HEAD", "/api/v1/uptime");
  REQUIRE(head.has_value());
  CHECK(head->status == 200);
  CHECK(head->body.empty());

  // Garbage and oversized requests get an error and a closed connection; the server keeps serving.
  auto garbage = httpRaw(port, "\x01\x02 not http\r\n\r\n");
  REQUIRE(garbage.has_value());
  CHECK(garbage->rfind("HTTP/1.1 400 ", 0) == 0);
  auto huge = httpRaw(port, "GET /api/v1/uptime HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  REQUIRE(huge.has_value());
  CHECK(huge->rfind("HTTP/1.1 431 ", 0) == 0);
  // Keep-alive: two pipelined requests on one connection get two answers.
  auto twice = httpRaw(port,
                       "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(twice.has_value());
  CHECK(twice->find("ok\n") != twice->rfind("ok\n"));
  auto again = httpGet(port, "/api/v1/uptime");
  REQUIRE(again.has_value());
  CHECK(again->status == 200);

  fl.proc().sendSignal(SIGTERM);
  auto code = fl.proc().waitExit(kTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("monitor: health turns to error when an output keeps failing", "[e2e][monitor]") {
  Firelane fl;
  fl.start(std::string(kService) +
           "    Health_Check On\n    HC_Errors_Count 1\n    HC_Retry_Failure_Count 1\n    HC_Period 60\n"
           "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
           "[OUTPUT]\n    Name datadog\n    Match *\n    Host 127.0.0.1\n    Port " +
           std::to_string(closedPort()) +
           "\n    TLS off\n    apikey secret-key-123\n    Retry_Limit no_retries\n");
  uint16_t port = monitorPort(fl.proc());
  auto ok = httpGet(port, "/api/v1/health");
  REQUIRE(ok.has_value());
  CHECK(ok->status == 200);

  auto client = fl.connect();
  // Two separate flushes fail (connection refused, no retries): errors 2 > HC_Errors_Count 1.
  for (int i = 0; i < 2; ++i) {
    ForwardOptions opts;
    opts.chunk = "h" + std::to_string(i);
    REQUIRE(client->sendWithAck(buildForward("app", makeEvents("e", 1, static_cast<size_t>(i)),
                                             TimeFormat::EventTimeFixExt8, opts),
                                *opts.chunk, kTimeout));
    auto failed = pollGet(port, "/api/v1/metrics", [i](const HttpReply& r) {
      return r.body.find("\"retries_failed\":" + std::to_string(i + 1)) != std::string::npos;
    });
    REQUIRE(failed.has_value());
    INFO(failed->body);
    REQUIRE(failed->body.find("\"retries_failed\":" + std::to_string(i + 1)) != std::string::npos);
  }
  auto bad = pollGet(port, "/api/v1/health", [](const HttpReply& r) { return r.status == 500; });
  REQUIRE(bad.has_value());
  CHECK(bad->status == 500);
  CHECK(bad->body == "error\n");
  auto prom = httpGet(port, "/api/v1/metrics/prometheus");
  REQUIRE(prom.has_value());
  CHECK(prom->body.find("fluentbit_output_retries_failed_total{name=\"datadog.0\"} 2\n") != std::string::npos);
  CHECK(prom->body.find("secret-key-123") == std::string::npos);
  CHECK(fl.proc().stderrText().find("secret-key-123") == std::string::npos);
}

TEST_CASE("monitor: a busy HTTP_Port fails start-up with exit code 1", "[e2e][monitor]") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  TempDir dir;
  std::string conf = dir.writeFile(
      "m.conf", "[SERVICE]\n    HTTP_Server On\n    HTTP_Listen 127.0.0.1\n    HTTP_Port " +
                    std::to_string(ntohs(a.sin_port)) + "\n[INPUT]\n    Name dummy\n[OUTPUT]\n    Name null\n    Match *\n");
  auto proc = Process::spawn(firelaneBin(), {"-c", conf});
  auto code = proc->waitExit(kTimeout);
  ::close(fd);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  proc->waitOutputClosed(kTimeout);
  CHECK(proc->stderrText().find("[http_server] cannot listen on 127.0.0.1:") != std::string::npos);
  CHECK(proc->stderrText().find("firelane v" FIRELANE_VERSION " starting with config " + conf) != std::string::npos);
}

}  // namespace firelane::e2e
