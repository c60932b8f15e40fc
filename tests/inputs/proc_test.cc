// Tests for the proc input: name and command-line matching, reading a fake procfs, the records it
// emits on a real loop (fields, mem x1000, fd count), up/down changes, Alert, pause/resume, config errors.
#include "inputs/proc/proc.h"

#include <sys/stat.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/codec/json_writer.h"
#include "core/config/classic_parser.h"
#include "support/process.h"

using namespace firelane;
using namespace firelane::inputs::proc;
using Ms = std::chrono::milliseconds;

namespace {

// A fake /proc with processes written as files.
struct FakeProc {
  testsupport::TempDir dir{"firelane-proc"};
  void add(int pid, const std::string& comm, const std::string& cmdlineNul, uint64_t rssKb, int fds) {
    std::string base = dir.path() + "/" + std::to_string(pid);
    std::filesystem::create_directories(base + "/fd");
    std::ofstream(base + "/comm") << comm << "\n";
    std::ofstream(base + "/cmdline", std::ios::binary) << cmdlineNul;
    std::ofstream(base + "/status") << "Name:\t" << comm << "\nVmPeak:\t  2000 kB\nVmRSS:\t  " << rssKb
                                    << " kB\nVmSwap:\t       0 kB\nThreads:\t1\n";
    for (int i = 0; i < fds; ++i) std::ofstream(base + "/fd/" + std::to_string(i)) << "";
  }
  void remove(int pid) { std::filesystem::remove_all(dir.path() + "/" + std::to_string(pid)); }
};

class LoopInputContext final : public InputContext {
 public:
  LoopInputContext() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
  }
  ~LoopInputContext() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t* loop() override { return &loop_; }
  unsigned workerId() const override { return 0; }
  const std::string& instanceName() const override { return name_; }
  InputCounters& counters() override { return counters_; }
  bool emit(EventBatch&& batch) override {
    for (auto& e : batch.events) {
      std::string j;
      codec::appendJsonObject(j, e.record);
      records.push_back(j);
      tags.push_back(batch.tag);
    }
    return true;
  }
  void finished() override {}
  bool runUntil(const std::function<bool()>& done, Ms timeout = Ms(10000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    uv_timer_start(&tick_, [](uv_timer_t*) {}, 5, 5);
    bool ok = false;
    while (!(ok = done()) && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&tick_);
    return ok;
  }
  std::vector<std::string> records;
  std::vector<std::string> tags;

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
  std::string name_ = "proc.0";
  InputCounters counters_;
};

Result<std::shared_ptr<InputFactory>> build(const std::string& entries) {
  Registry reg;
  registerPlugin(reg);
  auto doc = config::parseString("[INPUT]\n    Name proc\n" + entries, "t.conf", ".");
  REQUIRE(doc.ok());
  const PluginInfo* info = reg.find(PluginKind::Input, "proc");
  REQUIRE(info);
  static constexpr std::string_view kSkip[] = {"Name"};
  auto values = validateOptions(doc->sections.at(0), reg.allOptions(*info), "[INPUT] proc", kSkip);
  if (!values) return values.status();
  ServiceConfig service;
  PluginEnv env{service, "proc.0"};
  return info->makeInput(*values, env);
}

struct Running {
  std::shared_ptr<InputFactory> factory;
  InputPtr input;
  LoopInputContext ctx;
  ~Running() {
    bool closed = false;
    input->close([&] { closed = true; });
    CHECK(ctx.runUntil([&] { return closed; }));
  }
};

std::unique_ptr<Running> run(const std::string& entries) {
  auto f = build(entries);
  INFO((f.ok() ? std::string() : f.message()));
  REQUIRE(f.ok());
  auto r = std::make_unique<Running>();
  r->factory = *f;
  r->input = r->factory->create(0);
  REQUIRE(r->input->start(r->ctx).ok());
  return r;
}

}  // namespace

TEST_CASE("proc: matching by name and by command line", "[inputs][proc]") {
  ProcessInfo p{42, "postgres", "/usr/lib/postgresql/15/bin/postgres -D /var/lib/pg"};
  CHECK(matches(p, "postgres", true));
  CHECK_FALSE(matches(p, "postgre", true));
  CHECK_FALSE(matches(p, "-D /var", true));
  CHECK(matches(p, "-D /var", false));
  CHECK(matches(p, "postgre", false));
  CHECK_FALSE(matches(p, "", false));
  // comm is cut at 15 characters; argv[0]'s base name is not.
  ProcessInfo longName{7, "a-very-long-nam", "/opt/a-very-long-name-daemon --x"};
  CHECK(matches(longName, "a-very-long-name-daemon", true));
  CHECK(matches(longName, "a-very-long-nam", true));
}

TEST_CASE("proc: reading a procfs tree", "[inputs][proc]") {
  FakeProc fp;
  fp.add(30, "sleep", std::string("sleep\0" "100\0", 10), 100, 3);
  fp.add(4, "bash", std::string("/bin/bash\0-c\0echo hi\0", 22), 10, 1);
  std::filesystem::create_directories(fp.dir.path() + "/self");
  std::filesystem::create_directories(fp.dir.path() + "/77");  // vanished while read: no comm
  auto list = listProcesses(fp.dir.path(), 30);
  REQUIRE(list.size() == 1);
  CHECK(list[0].pid == 4);
  CHECK(list[0].comm == "bash");
  CHECK(list[0].cmdline == "/bin/bash -c echo hi");
  list = listProcesses(fp.dir.path(), 0);
  REQUIRE(list.size() == 2);
  CHECK(list[1].cmdline == "sleep 100");
  CHECK(listProcesses(fp.dir.path() + "/nope", 0).empty());
}

TEST_CASE("proc: records with mem and fd, up and down changes", "[inputs][proc]") {
  FakeProc fp;
  fp.add(30, "sleep", std::string("sleep\0" "100\0", 10), 1234, 3);
  auto r = run("    Proc_Name sleep\n    Search_String nothing-like-this\n    Interval_Sec 0\n"
               "    Interval_NSec 20000000\n    Path.procfs " + fp.dir.path() + "\n    Tag health\n");
  REQUIRE(r->ctx.runUntil([&] { return r->ctx.records.size() >= 2; }));
  CHECK(r->ctx.tags[0] == "health");
  CHECK(r->ctx.records[0] ==
        R"({"alive":true,"proc_name":"sleep","pid":30,"mem.VmPeak":2000000,"mem.VmSize":0,"mem.VmLck":0,)"
        R"("mem.VmHWM":0,"mem.VmRSS":1234000,"mem.VmData":0,"mem.VmStk":0,"mem.VmExe":0,"mem.VmLib":0,)"
        R"("mem.VmPTE":0,"mem.VmSwap":0,"fd":3})");
  CHECK(r->ctx.records[1] == R"({"alive":false,"proc_name":"nothing-like-this"})");
  fp.remove(30);
  REQUIRE(r->ctx.runUntil([&] { return r->ctx.records.back() == R"({"alive":false,"proc_name":"nothing-like-this"})" &&
                                        r->ctx.records[r->ctx.records.size() - 2] == R"({"alive":false,"proc_name":"sleep"})"; }));
  // Paused: nothing is read or emitted until resume.
  r->input->pause();
  size_t before = r->ctx.records.size();
  fp.add(31, "sleep", std::string("sleep\0", 6), 1, 0);
  bool ticked = false;
  uv_timer_t probe;
  uv_timer_init(r->ctx.loop(), &probe);
  probe.data = &ticked;
  uv_timer_start(&probe, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 100, 0);
  REQUIRE(r->ctx.runUntil([&] { return ticked; }));
  uv_close(reinterpret_cast<uv_handle_t*>(&probe), nullptr);
  CHECK(r->ctx.records.size() == before);
  r->input->resume();
  REQUIRE(r->ctx.runUntil([&] { return r->ctx.records.size() >= before + 2; }));
  CHECK(r->ctx.records[before] == R"({"alive":true,"proc_name":"sleep","pid":31,"mem.VmPeak":2000000,"mem.VmSize":0,)"
                                  R"("mem.VmLck":0,"mem.VmHWM":0,"mem.VmRSS":1000,"mem.VmData":0,"mem.VmStk":0,)"
                                  R"("mem.VmExe":0,"mem.VmLib":0,"mem.VmPTE":0,"mem.VmSwap":0,"fd":0})");
}

TEST_CASE("proc: Alert emits only while down and once on recovery", "[inputs][proc]") {
  FakeProc fp;
  auto r = run("    Proc_Name svc\n    Interval_Sec 0\n    Interval_NSec 20000000\n    Alert on\n    Mem off\n"
               "    Fd off\n    Path.procfs " + fp.dir.path() + "\n");
  REQUIRE(r->ctx.runUntil([&] { return r->ctx.records.size() >= 2; }));
  for (auto& rec : r->ctx.records) CHECK(rec == R"({"alive":false,"proc_name":"svc"})");
  fp.add(50, "svc", std::string("svc\0", 4), 1, 1);
  REQUIRE(r->ctx.runUntil([&] { return r->ctx.records.back() == R"({"alive":true,"proc_name":"svc","pid":50})"; }));
  size_t n = r->ctx.records.size();
  // Up and staying up: silence. Down again: alerts again.
  fp.remove(50);
  REQUIRE(r->ctx.runUntil([&] { return r->ctx.records.size() > n; }));
  CHECK(r->ctx.records[n] == R"({"alive":false,"proc_name":"svc"})");
}

TEST_CASE("proc: config errors", "[inputs][proc]") {
  CHECK(build("").message() == "[INPUT] proc: missing Proc_Name (or Search_String) in [INPUT] proc");
  CHECK(build("    Proc_Name x\n    Interval_Sec 0\n").message().find("t.conf:4: invalid interval") == 0);
  CHECK(build("    Proc_Name x\n    Interval_NSec 1000000000\n").message().find("t.conf:4: invalid interval") == 0);
  CHECK(build("    Proc_Name x\n    Interval_Sec -1\n").message().find("t.conf:4: invalid interval") == 0);
  CHECK(build("    Proc_Name x\n    Intervl_Sec 1\n").message().find("did you mean 'Interval_Sec'") != std::string::npos);
  CHECK(build("    Proc_Name x\n    Interval_Sec 0\n    Interval_NSec 5000000\n").ok());
}
