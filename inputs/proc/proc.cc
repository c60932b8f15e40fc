// The proc input: every Interval_Sec(+Interval_NSec) it looks the configured processes up in /proc
// and emits Fluent Bit in_proc records {"alive", "proc_name", "pid", "mem.Vm*", "fd"}, one per name.
// With Alert on, it emits only while a process is down, plus one record when it comes back. Reading
// /proc on the loop is cheap at these intervals (a few hundred small files per second at most).
#include "inputs/proc/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstring>

#include "core/codec/msgpack_writer.h"

namespace firelane::inputs::proc {
namespace {

// The /proc/<pid>/status memory lines in_proc reports, in its order.
constexpr const char* kMemKeys[] = {"VmPeak", "VmSize", "VmLck", "VmHWM", "VmRSS", "VmData",
                                    "VmStk",  "VmExe",  "VmLib", "VmPTE", "VmSwap"};
constexpr size_t kMemCount = sizeof(kMemKeys) / sizeof(kMemKeys[0]);

struct ProcConfig {
  std::string tag = "proc";
  std::vector<std::string> names;
  bool exact = true;
  uint64_t intervalMs = 1000;
  bool alert = false;
  bool mem = true;
  bool fd = true;
  std::string procRoot = "/proc";
};

bool readFile(const std::string& path, std::string& out, size_t limit = 65536) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() >= limit) break;
  }
  ::close(fd);
  return true;
}

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// kB values of /proc/<pid>/status, times 1000 as Fluent Bit's in_proc reports them.
void readMem(const std::string& root, int pid, uint64_t (&out)[kMemCount]) {
  std::fill(std::begin(out), std::end(out), 0);
  std::string text;
  if (!readFile(root + "/" + std::to_string(pid) + "/status", text)) return;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view key = line.substr(0, colon);
      for (size_t i = 0; i < kMemCount; ++i) {
        if (key == kMemKeys[i]) out[i] = std::strtoull(std::string(line.substr(colon + 1)).c_str(), nullptr, 10) * 1000;
      }
    }
    pos = end + 1;
  }
}

uint64_t countFds(const std::string& root, int pid) {
  DIR* d = ::opendir((root + "/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return 0;
  uint64_t n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

class ProcInput final : public Input {
 public:
  explicit ProcInput(const ProcConfig& cfg) : cfg_(cfg), wasAlive_(cfg.names.size(), -1) {}

  Status start(InputContext& ctx) override {
    ctx_ = &ctx;
    timer_ = new uv_timer_t;
    uv_timer_init(ctx.loop(), timer_);
    timer_->data = this;
    resume();
    return {};
  }
  void pause() override {
    paused_ = true;
    if (timer_) uv_timer_stop(timer_);
  }
  void resume() override {
    paused_ = false;
    if (timer_) {
      uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<ProcInput*>(t->data)->check(); }, cfg_.intervalMs,
                     cfg_.intervalMs);
    }
  }
  void stopAccepting() override {}
  void close(std::function<void()> closed) override {
    closed_ = std::move(closed);
    if (!timer_) return closed_();
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
      auto* self = static_cast<ProcInput*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
      self->closed_();
    });
    timer_ = nullptr;
  }

 private:
  void check() {
    if (paused_) return;
    auto procs = listProcesses(cfg_.procRoot, static_cast<int>(::getpid()));
    std::vector<uint8_t> bytes;
    codec::MsgpackWriter w(bytes);
    std::vector<size_t> ends;
    for (size_t i = 0; i < cfg_.names.size(); ++i) {
      const std::string& name = cfg_.names[i];
      const ProcessInfo* found = nullptr;
      for (const auto& p : procs) {
        if (matches(p, name, cfg_.exact)) {
          found = &p;
          break;
        }
      }
      bool alive = found != nullptr;
      bool recovered = wasAlive_[i] == 0 && alive;
      wasAlive_[i] = alive ? 1 : 0;
      if (cfg_.alert && alive && !recovered) continue;
      uint32_t fields = 2 + (alive ? 1 + (cfg_.mem ? kMemCount : 0) + (cfg_.fd ? 1 : 0) : 0);
      w.mapHeader(fields);
      w.str("alive");
      w.boolean(alive);
      w.str("proc_name");
      w.str(name);
      if (alive) {
        w.str("pid");
        w.integer(found->pid);
        if (cfg_.mem) {
          uint64_t mem[kMemCount];
          readMem(cfg_.procRoot, found->pid, mem);
          for (size_t k = 0; k < kMemCount; ++k) {
            w.str(std::string("mem.") + kMemKeys[k]);
            w.uint(mem[k]);
          }
        }
        if (cfg_.fd) {
          w.str("fd");
          w.uint(countFds(cfg_.procRoot, found->pid));
        }
      }
      ends.push_back(bytes.size());
    }
    if (ends.empty()) return;
    BufferPtr buf = makeBuffer(bytes.size());
    buf->append(bytes.data(), bytes.size());
    EventBatch batch;
    batch.tag = cfg_.tag;
    batch.owners.push_back(buf);
    int64_t now = nowNs();
    size_t begin = 0;
    for (size_t end : ends) {
      batch.add(now, std::span<const uint8_t>(buf->data() + begin, end - begin));
      begin = end;
    }
    ctx_->emit(std::move(batch));
  }

  const ProcConfig& cfg_;
  InputContext* ctx_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  std::vector<int> wasAlive_;  // per name: -1 unknown, 0 down, 1 up
  bool paused_ = false;
  std::function<void()> closed_;
};

class ProcFactory final : public InputFactory {
 public:
  explicit ProcFactory(ProcConfig cfg) : cfg_(std::move(cfg)) {}
  InputPtr create(unsigned) const override { return std::make_unique<ProcInput>(cfg_); }

 private:
  ProcConfig cfg_;
};

}  // namespace

bool matches(const ProcessInfo& p, std::string_view name, bool exact) {
  if (name.empty()) return false;
  if (!exact) return p.cmdline.find(name) != std::string::npos;
  if (p.comm == name) return true;
  std::string_view argv0(p.cmdline);
  argv0 = argv0.substr(0, argv0.find(' '));
  size_t slash = argv0.rfind('/');
  if (slash != std::string_view::npos) argv0 = argv0.substr(slash + 1);
  return argv0 == name;
}

std::vector<ProcessInfo> listProcesses(const std::string& root, int selfPid) {
  std::vector<ProcessInfo> out;
  DIR* d = ::opendir(root.c_str());
  if (!d) return out;
  std::string text;
  while (dirent* e = ::readdir(d)) {
    char* endp = nullptr;
    long pid = std::strtol(e->d_name, &endp, 10);
    if (!endp || *endp != '\0' || pid <= 0 || pid == selfPid) continue;
    ProcessInfo p;
    p.pid = static_cast<int>(pid);
    std::string base = root + "/" + e->d_name;
    if (!readFile(base + "/comm", p.comm)) continue;
    while (!p.comm.empty() && p.comm.back() == '\n') p.comm.pop_back();
    readFile(base + "/cmdline", text);  // kernel threads and zombies have none
    while (!text.empty() && text.back() == '\0') text.pop_back();
    std::replace(text.begin(), text.end(), '\0', ' ');
    p.cmdline = std::move(text);
    text = std::string();
    out.push_back(std::move(p));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const ProcessInfo& a, const ProcessInfo& b) { return a.pid < b.pid; });
  return out;
}

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Input;
  info.name = "proc";
  info.description = "checks that processes are alive and reports their memory and open files";
  info.options = {
      {"Proc_Name", OptionType::String, "", "process to check: its name, or see Exact_Match", true},
      {"Search_String", OptionType::String, "", "same as Proc_Name", true},
      {"Exact_Match", OptionType::Bool, "on",
       "on: the process name (comm or argv[0]'s base name) equals the value; off: the command line contains it"},
      {"Interval_Sec", OptionType::Int, "1", "seconds between checks"},
      {"Interval_NSec", OptionType::Int, "0", "nanoseconds added to Interval_Sec"},
      {"Alert", OptionType::Bool, "off", "emit only while a process is down (and once when it is back)"},
      {"Mem", OptionType::Bool, "on", "add mem.VmPeak ... mem.VmSwap (kB x 1000, as Fluent Bit)"},
      {"Fd", OptionType::Bool, "on", "add fd, the number of open file descriptors"},
      {"Path.procfs", OptionType::String, "/proc", "where procfs is mounted"},
  };
  info.makeInput = [](const OptionValues& v, const PluginEnv&) -> Result<std::shared_ptr<InputFactory>> {
    ProcConfig c;
    if (v.isSet("Tag")) c.tag = std::string(v.str("Tag"));
    for (std::string_view key : {"Proc_Name", "Search_String"})
      for (std::string_view n : v.all(key))
        if (!n.empty()) c.names.emplace_back(n);
    if (c.names.empty()) return Status::error(v.where("Proc_Name") + ": missing Proc_Name (or Search_String) in " + v.label());
    c.exact = v.boolean("Exact_Match");
    int64_t sec = v.integer("Interval_Sec"), nsec = v.integer("Interval_NSec");
    if (sec < 0 || nsec < 0 || nsec >= 1000000000 || (sec == 0 && nsec < 1000000)) {
      return Status::error(v.where(v.isSet("Interval_NSec") ? "Interval_NSec" : "Interval_Sec") +
                           ": invalid interval in " + v.label() + ": need Interval_Sec >= 0, 0 <= Interval_NSec < "
                           "1000000000, and at least 1 ms in all");
    }
    c.intervalMs = static_cast<uint64_t>(sec) * 1000 + static_cast<uint64_t>(nsec) / 1000000;
    c.alert = v.boolean("Alert");
    c.mem = v.boolean("Mem");
    c.fd = v.boolean("Fd");
    c.procRoot = std::string(v.str("Path.procfs"));
    return std::shared_ptr<InputFactory>(std::make_shared<ProcFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::inputs::proc
