// End to end, security review items: outputs with `tls.verify off` start but warn, naming the
// output (datadog, cloudwatch_logs, forward incl. upstream nodes); secrets (Datadog apikey, forward
// shared_key / passwords, AWS secret and session token) never appear in --dry-run output, config
// errors or start-up logs; a bad unix_perm is a config error.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

struct Outcome {
  std::optional<int> code;
  std::string all;  // stdout + stderr
};

Outcome runToExit(const std::vector<std::string>& args, SpawnOptions spawn = {}) {
  auto proc = Process::spawn(firelaneBin(), args, std::move(spawn));
  proc->closeStdin();
  Outcome o;
  o.code = proc->waitExit(kTimeout);
  proc->waitOutputClosed(kTimeout);
  o.all = proc->readStdoutToEof(Millis(0)) + proc->stderrText();
  return o;
}

const char* kSecrets[] = {"dd-apikey-0123456789abcdef", "in-shared-key-7f3a9c", "alice-password-x9y8",
                          "out-shared-key-c0ffee", "bob-password-q1w2e3", "AWSSECRETs3cr3tKEYvalue",
                          "AWSSESSIONtok3nFQoGZXIvYXdz"};

SpawnOptions awsEnv() {
  SpawnOptions s;
  s.env = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", std::string("AWS_SECRET_ACCESS_KEY=") + kSecrets[5],
           std::string("AWS_SESSION_TOKEN=") + kSecrets[6], "AWS_EC2_METADATA_DISABLED=true",
           std::string("DD_KEY=") + kSecrets[0]};
  return s;
}

// Every secret-bearing option of the built-in plugins, each in its own section; `extra` is added
// to every section (e.g. an invalid key to turn the run into a config error).
std::string secretConfig(const std::string& extra, const std::string& logLevel = "trace") {
  return "[SERVICE]\n    Flush 1\n    Log_Level " + logLevel +
         "\n"
         "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
         "    shared_key " + kSecrets[1] + "\n    security.users alice " + kSecrets[2] + "\n" + extra +
         "[OUTPUT]\n    Name datadog\n    Match *\n    Host 127.0.0.1\n    Port 9\n    TLS off\n"
         "    apikey ${DD_KEY}\n" + extra +
         "[OUTPUT]\n    Name forward\n    Match *\n    Host 127.0.0.1\n    Port 9\n"
         "    shared_key " + kSecrets[3] + "\n    username bob\n    password " + kSecrets[4] + "\n" + extra +
         "[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n    region us-east-1\n    endpoint http://127.0.0.1:9\n"
         "    log_group_name g\n    log_stream_name s\n" + extra;
}

void checkNoSecret(const std::string& text) {
  INFO(text);
  for (const char* s : kSecrets) {
    INFO(s);
    CHECK(text.find(s) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("security: outputs with tls.verify off start and warn naming the output", "[e2e][security][tls]") {
  Firelane fl;
  std::string upstream = fl.dir().writeFile(
      "upstream.conf",
      "[UPSTREAM]\n    name tier\n"
      "[NODE]\n    name node-a\n    host 127.0.0.1\n    port 9\n    tls on\n    tls.verify off\n"
      "[NODE]\n    name node-b\n    host 127.0.0.1\n    port 10\n    tls on\n");
  SpawnOptions env = awsEnv();
  fl.start(
      "[SERVICE]\n    Flush 1\n    Grace 1\n"
      "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
      "[OUTPUT]\n    Name datadog\n    Alias dd-insecure\n    Match nothing\n    Host 127.0.0.1\n    Port 9\n"
      "    apikey k\n    TLS on\n    tls.verify off\n"
      "[OUTPUT]\n    Name datadog\n    Alias dd-checked\n    Match nothing\n    Host 127.0.0.1\n    Port 9\n    apikey k\n"
      "    TLS on\n"
      "[OUTPUT]\n    Name datadog\n    Alias dd-plain\n    Match nothing\n    Host 127.0.0.1\n    Port 9\n    apikey k\n"
      "    tls.verify off\n"
      "[OUTPUT]\n    Name cloudwatch_logs\n    Alias cw-insecure\n    Match nothing\n    region us-east-1\n"
      "    endpoint 127.0.0.1\n    port 9\n    log_group_name g\n    log_stream_name s\n    tls.verify off\n"
      "[OUTPUT]\n    Name forward\n    Alias fw-insecure\n    Match nothing\n    Host 127.0.0.1\n    Port 9\n"
      "    tls on\n    tls.verify off\n"
      "[OUTPUT]\n    Name forward\n    Alias fw-upstream\n    Match nothing\n    Upstream " + upstream + "\n"
      "[OUTPUT]\n    Name forward\n    Alias fw-plain\n    Match nothing\n    Host 127.0.0.1\n    Port 9\n"
      "    tls.verify off\n"
      "[OUTPUT]\n    Name http\n    Alias http-insecure\n    Match nothing\n    Host 127.0.0.1\n    Port 9\n"
      "    tls on\n    tls.verify off\n",
      env);
  const std::string err = fl.proc().stderrText();
  INFO(err);
  CHECK(err.find("tls.verify off in [OUTPUT] datadog 'dd-insecure'") != std::string::npos);
  CHECK(err.find("tls.verify off in [OUTPUT] cloudwatch_logs 'cw-insecure'") != std::string::npos);
  CHECK(err.find("tls.verify off in [OUTPUT] forward 'fw-insecure' node '127.0.0.1:9'") != std::string::npos);
  CHECK(err.find("tls.verify off in [OUTPUT] forward 'fw-upstream' node 'node-a'") != std::string::npos);
  CHECK(err.find("tls.verify off in [OUTPUT] http 'http-insecure'") != std::string::npos);
  // Certificates checked, or no TLS at all: nothing to warn about.
  CHECK(err.find("'dd-checked'") == std::string::npos);
  CHECK(err.find("node 'node-b'") == std::string::npos);
  CHECK(err.find("'fw-plain'") == std::string::npos);
  CHECK(err.find("'dd-plain'") == std::string::npos);
  // Logged as warnings with the config line.
  CHECK(err.find("firelane.conf:") != std::string::npos);
  CHECK(fl.proc().running());
}

TEST_CASE("security: --dry-run also shows the tls.verify warning", "[e2e][security][tls]") {
  TempDir dir;
  std::string conf = dir.writeFile("dd.conf",
                                   "[INPUT]\n    Name dummy\n"
                                   "[OUTPUT]\n    Name datadog\n    Match *\n    apikey k\n    site eu1\n    tls.verify off\n");
  auto o = runToExit({"--dry-run", "-c", conf});
  INFO(o.all);
  REQUIRE(o.code == 0);
  CHECK(o.all.find("dd.conf:8: tls.verify off in [OUTPUT] datadog 'datadog.0'") != std::string::npos);
  CHECK(o.all.find("configuration test is successful") != std::string::npos);
}

TEST_CASE("security: secrets never appear in --dry-run output or config errors", "[e2e][security][secrets]") {
  TempDir dir;
  SECTION("valid config at trace level") {
    auto o = runToExit({"--dry-run", "-c", dir.writeFile("ok.conf", secretConfig(""))}, awsEnv());
    REQUIRE(o.code == 0);
    CHECK(o.all.find("configuration test is successful") != std::string::npos);
    checkNoSecret(o.all);
  }
  SECTION("an unknown key in each section") {
    auto o = runToExit({"--dry-run", "-c", dir.writeFile("bad.conf", secretConfig("    Bogus_Key 1\n"))},
                       awsEnv());
    REQUIRE(o.code == 1);
    CHECK(o.all.find("unknown key 'Bogus_Key'") != std::string::npos);
    checkNoSecret(o.all);
  }
  SECTION("an invalid Retry_Limit in each section") {
    auto o = runToExit({"--dry-run", "-c", dir.writeFile("bad2.conf", secretConfig("    Retry_Limit sometimes\n"))},
                       awsEnv());
    REQUIRE(o.code == 1);
    checkNoSecret(o.all);
  }
  SECTION("a secret line above the first section") {
    std::string conf = dir.writeFile("top.conf", std::string("    apikey ") + kSecrets[0] + "\n" + secretConfig(""));
    auto o = runToExit({"--dry-run", "-c", conf}, awsEnv());
    REQUIRE(o.code == 1);
    CHECK(o.all.find("top.conf:1: entry outside of a section: 'apikey'") != std::string::npos);
    checkNoSecret(o.all);
  }
  SECTION("@SET without a key") {
    std::string conf = dir.writeFile("set.conf", std::string("@SET =") + kSecrets[3] + "\n" + secretConfig(""));
    auto o = runToExit({"--dry-run", "-c", conf}, awsEnv());
    REQUIRE(o.code == 1);
    checkNoSecret(o.all);
  }
  SECTION("-p with a secret before any -o") {
    auto o = runToExit({"--dry-run", "-p", std::string("apikey=") + kSecrets[0], "-o", "datadog"});
    REQUIRE(o.code == 1);
    CHECK(o.all.find("-p 'apikey=...' must follow") != std::string::npos);
    checkNoSecret(o.all);
  }
  SECTION("a forward user without a password") {
    std::string conf = dir.writeFile(
        "users.conf", secretConfig("") + "[INPUT]\n    Name forward\n    Port 0\n    shared_key " + kSecrets[1] +
                          "\n    security.users " + kSecrets[2] + "\n");
    auto o = runToExit({"--dry-run", "-c", conf}, awsEnv());
    REQUIRE(o.code == 1);
    CHECK(o.all.find("security.users") != std::string::npos);
    checkNoSecret(o.all);
  }
}

TEST_CASE("security: secrets never appear in start-up and shutdown logs at trace level", "[e2e][security][secrets]") {
  Firelane fl;
  fl.start(secretConfig("", "trace"), awsEnv());
  REQUIRE(fl.proc().sendSignal(SIGTERM));
  REQUIRE(fl.proc().waitExit(kTimeout).has_value());
  fl.proc().waitOutputClosed(kTimeout);
  checkNoSecret(fl.proc().readStdoutToEof(Millis(0)) + fl.proc().stderrText());
}

TEST_CASE("security: an invalid unix_perm is a config error naming the key", "[e2e][security][unix]") {
  TempDir dir;
  std::string conf = dir.writeFile("perm.conf", "[INPUT]\n    Name forward\n    unix_path " + dir.file("s.sock") +
                                                    "\n    unix_perm 0999\n[OUTPUT]\n    Name null\n    Match *\n");
  auto o = runToExit({"--dry-run", "-c", conf});
  INFO(o.all);
  REQUIRE(o.code == 1);
  CHECK(o.all.find("perm.conf:4: invalid value '0999' for 'unix_perm' in [INPUT] forward") != std::string::npos);
}

TEST_CASE("security: firelane runs as an unprivileged user and honours unix_perm", "[e2e][security][unix]") {
  // nobody (65534) must reach the binary, the config and the socket folder: a copy in a 0755 folder.
  TempDir dir("firelane-nobody");
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  const std::string bin = dir.file("firelane");
  std::filesystem::copy_file(firelaneBin(), bin);
  // The socket folder belongs to the unprivileged user (as /var/run/fluent would in its image).
  const std::string run = dir.file("run");
  REQUIRE(::mkdir(run.c_str(), 0755) == 0);
  REQUIRE(::chown(run.c_str(), 65534, 65534) == 0);
  const std::string sock = run + "/fluent.sock";
  const std::string conf = dir.writeFile(
      "firelane.conf", "[SERVICE]\n    Flush 0.05\n    Grace 2\n"
                       "[INPUT]\n    Name forward\n    unix_path " + sock + "\n    unix_perm 0660\n"
                       "[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n");
  REQUIRE(::chmod(conf.c_str(), 0644) == 0);
  auto proc = Process::spawn("/usr/bin/setpriv", {"--reuid=65534", "--regid=65534", "--clear-groups", bin, "-c", conf});
  auto started = waitForStartup(*proc, kTimeout);
  INFO(proc->stderrText());
  REQUIRE(started.has_value());
  // The process really is unprivileged.
  std::ifstream status("/proc/" + std::to_string(proc->pid()) + "/status");
  std::string line, uid;
  while (std::getline(status, line))
    if (line.rfind("Uid:", 0) == 0) uid = line;
  CHECK(uid.find("\t65534\t65534\t65534\t65534") != std::string::npos);
  struct stat st{};
  REQUIRE(::stat(sock.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(st.st_uid == 65534);
  std::string error;
  auto client = ForwardClient::connectUnix(sock, kTimeout, &error);
  INFO(error);
  REQUIRE(client);
  auto events = makeEvents("u", 3);
  REQUIRE(client->send(buildForward("app", events)));
  auto got = proc->readStdoutLines(3, kTimeout);
  CHECK(got == jsonLines(events));
  REQUIRE(proc->sendSignal(SIGTERM));
  auto code = proc->waitExit(kTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

}  // namespace firelane::e2e
