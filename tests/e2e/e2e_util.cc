// Shared fixture for end-to-end tests (see e2e_util.h).
#include "e2e/e2e_util.h"

#include <catch2/catch.hpp>
#include <regex>
#include <thread>

namespace firelane::e2e {

std::string firelaneBin() { return FIRELANE_BIN; }

std::string forwardToStdoutConfig(const std::string& inputExtra, const std::string& flush) {
  return "[SERVICE]\n"
         "    Flush " + flush + "\n"
         "    Grace 5\n"
         "    Log_Level info\n"
         "\n[INPUT]\n"
         "    Name forward\n"
         "    Listen 127.0.0.1\n"
         "    Port 0\n" +
         inputExtra +
         "\n[OUTPUT]\n"
         "    Name stdout\n"
         "    Match *\n"
         "    Format json_lines\n";
}

void Firelane::start(const std::string& config, SpawnOptions spawn, const std::vector<std::string>& launcher) {
  std::string path = dir_.writeFile("firelane.conf", config);
  if (launcher.empty()) {
    proc_ = Process::spawn(firelaneBin(), {"-c", path}, std::move(spawn));
  } else {
    std::vector<std::string> args(launcher.begin() + 1, launcher.end());
    args.insert(args.end(), {firelaneBin(), "-c", path});
    proc_ = Process::spawn(launcher.front(), args, std::move(spawn));
  }
  auto started = waitForStartup(*proc_, kTimeout);
  INFO("config:\n" << config << "\nstderr:\n" << proc_->stderrText());
  REQUIRE(started.has_value());
  listeners_ = *started;
}

uint16_t Firelane::tcpPort(size_t index) const {
  for (const auto& l : listeners_) {
    if (!l.isUnix() && index-- == 0) return l.port;
  }
  INFO("stderr:\n" << proc_->stderrText());
  FAIL("no tcp listener #" << index << " announced");
  return 0;
}

std::string Firelane::unixPath(size_t index) const {
  for (const auto& l : listeners_) {
    if (l.isUnix() && index-- == 0) return l.unixPath;
  }
  INFO("stderr:\n" << proc_->stderrText());
  FAIL("no unix listener #" << index << " announced");
  return {};
}

std::unique_ptr<ForwardClient> Firelane::connect(size_t index) const {
  std::string error;
  auto client = ForwardClient::connectTcp("127.0.0.1", tcpPort(index), kTimeout, &error);
  INFO(error);
  REQUIRE(client != nullptr);
  return client;
}

std::unique_ptr<ForwardClient> Firelane::connectUnix(size_t index) const {
  std::string error;
  auto client = ForwardClient::connectUnix(unixPath(index), kTimeout, &error);
  INFO(error);
  REQUIRE(client != nullptr);
  return client;
}

std::vector<std::string> Firelane::lines(size_t n, Millis timeout) {
  auto got = proc_->readStdoutLines(n, timeout);
  INFO("got " << got.size() << " of " << n << " lines; stderr:\n" << proc_->stderrText());
  REQUIRE(got.size() == n);
  return got;
}

uint16_t monitorPort(Process& proc) {
  static const std::regex re(R"(\[http_server\] serving http://127\.0\.0\.1:(\d+))");
  std::string err = proc.stderrText();
  std::smatch m;
  INFO(err);
  REQUIRE(std::regex_search(err, m, re));
  return static_cast<uint16_t>(std::stoul(m[1]));
}

std::optional<HttpResponse> pollHttp(uint16_t port, const std::string& path,
                                     const std::function<bool(const HttpResponse&)>& pred, Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<HttpResponse> r;
  while (std::chrono::steady_clock::now() < deadline) {
    r = httpGet(port, path);
    if (r && pred(*r)) return r;
    std::this_thread::sleep_for(Millis(50));  // polling interval of a bounded condition wait
  }
  return r;
}

std::string fieldOf(const std::string& line, const std::string& key) {
  std::string needle = "\"" + key + "\":\"";
  auto pos = line.find(needle);
  if (pos == std::string::npos) return {};
  pos += needle.size();
  auto end = line.find('"', pos);
  return end == std::string::npos ? std::string() : line.substr(pos, end - pos);
}

std::map<std::string, int> countBy(const std::vector<std::string>& lines, const std::string& key) {
  std::map<std::string, int> counts;
  for (const auto& l : lines) ++counts[fieldOf(l, key)];
  return counts;
}

std::vector<Event> makeEvents(const std::string& prefix, size_t count, size_t first) {
  std::vector<Event> events;
  for (size_t i = first; i < first + count; ++i) {
    events.push_back(Event{static_cast<uint32_t>(1700000000 + i), static_cast<uint32_t>((i % 1000) * 1000 + 123000),
                           {{"id", prefix + std::to_string(i)}, {"log", "event number " + std::to_string(i)}}});
  }
  return events;
}

std::vector<std::string> jsonLines(const std::vector<Event>& events, bool integerTime) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(jsonLine(e, integerTime));
  return out;
}

}  // namespace firelane::e2e
