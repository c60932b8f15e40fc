// End to end: the image tree from `cmake --install --component image` into a staging root, run
// through its entrypoint against a FireLens-shaped config, as the container would (no engine needed).
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "e2e/e2e_util.h"

namespace firelane::e2e {

TEST_CASE("image layout: the installed tree runs a FireLens config through its entrypoint", "[e2e][image]") {
  TempDir dir;
  std::string root = dir.file("root");
  auto install = Process::spawn(FIRELANE_CMAKE, {"--install", FIRELANE_BUILD_DIR, "--prefix", root, "--component", "image"});
  auto installed = install->waitExit(kTimeout);
  INFO(install->stderrText());
  REQUIRE(installed == std::optional<int>(0));
  std::string fb = root + "/fluent-bit";
  for (std::string f : {"/bin/fluent-bit", "/bin/entrypoint.sh", "/etc/fluent-bit.conf", "/parsers/parsers.conf",
                        "/configs/minimize-log-loss.conf", "/configs/parse-json.conf", "/configs/healthcheck.conf",
                        "/VERSION"}) {
    INFO(f);
    CHECK(std::filesystem::is_regular_file(fb + f));
  }
  struct stat st {};
  REQUIRE(::stat((fb + "/bin/fluent-bit").c_str(), &st) == 0);
  CHECK((st.st_mode & S_IXUSR) != 0);

  // The image's default config is valid as shipped.
  auto dry = Process::spawn(fb + "/bin/entrypoint.sh", {"--dry-run", "-c", fb + "/etc/fluent-bit.conf"});
  CHECK(dry->waitExit(kTimeout) == std::optional<int>(0));

  // What FireLens writes to /fluent-bit/etc/fluent-bit.conf (no [SERVICE]), with the socket in the temp dir
  // and the image's parse-json.conf included as `config-file-value /fluent-bit/configs/parse-json.conf`.
  std::string sock = dir.file("fluent.sock");
  {
    std::ofstream conf(fb + "/etc/fluent-bit.conf", std::ios::trunc);
    conf << "[INPUT]\n    Name forward\n    unix_path " << sock << "\n    Mem_Buf_Limit 25MB\n\n"
         << "[INPUT]\n    Name tcp\n    Tag firelens-healthcheck\n    Listen 127.0.0.1\n    Port 0\n\n"
         << "[FILTER]\n    Name record_modifier\n    Match *\n    Record ecs_cluster prod\n"
         << "    Record ecs_task_definition web:3\n\n"
         << "@INCLUDE " << fb << "/configs/parse-json.conf\n\n"
         << "[OUTPUT]\n    Name null\n    Match firelens-healthcheck\n\n"
         << "[OUTPUT]\n    Name stdout\n    Match app-firelens*\n    Format json_lines\n";
  }
  auto proc = Process::spawn(fb + "/bin/entrypoint.sh", {});
  auto version = proc->readStdoutLines(1, kTimeout);
  REQUIRE(version.size() == 1);
  std::string expected;
  std::getline(std::ifstream(fb + "/VERSION"), expected);
  CHECK(!expected.empty());
  CHECK(version[0] == "firelane image version " + expected);
  auto listeners = waitForStartup(*proc, kTimeout);
  INFO(proc->stderrText());
  REQUIRE(listeners);
  REQUIRE(std::any_of(listeners->begin(), listeners->end(), [&](const Listener& l) { return l.unixPath == sock; }));
  auto client = ForwardClient::connectUnix(sock);
  REQUIRE(client);
  ForwardOptions docker;
  docker.emptyMap = true;
  std::vector<Event> events;
  for (uint32_t i = 0; i < 3; ++i)
    events.push_back(Event{1700000000 + i, 5,
                           {{"container_id", std::string(64, 'a')}, {"container_name", "/app"}, {"source", "stdout"},
                            {"log", "{\"level\":\"info\",\"n\":\"" + std::to_string(i) + "\"}"}}});
  for (const auto& e : events) REQUIRE(client->send(buildMessage("app-firelens-0123", e, TimeFormat::EventTimeFixExt8, docker)));
  client.reset();
  // SIGTERM right away: the entrypoint exec'd the router, so the signal reaches it and it drains.
  REQUIRE(proc->sendSignal(SIGTERM));
  auto lines = proc->readStdoutLines(3, kTimeout);
  REQUIRE(lines.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(fieldOf(lines[i], "level") == "info");
    CHECK(fieldOf(lines[i], "n") == std::to_string(i));
    CHECK(fieldOf(lines[i], "container_name") == "/app");
    CHECK(fieldOf(lines[i], "ecs_cluster") == "prod");
  }
  CHECK(proc->waitExit(kTimeout) == std::optional<int>(0));
}

}  // namespace firelane::e2e
