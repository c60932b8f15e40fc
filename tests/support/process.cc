// Child-process control for end-to-end tests: posix_spawn, a poll-driven I/O thread draining the
// child's stdout/stderr, pidfd-based exit waits and /proc statistics.
#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace firelane::testsupport {
namespace {

using Clock = std::chrono::steady_clock;

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void closeFd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::vector<std::string> mergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto keyOf = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (const auto& x : extra) overridden = overridden || keyOf(x) == keyOf(entry);
    if (!overridden) env.push_back(std::move(entry));
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TempDir

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" +
                      std::string(prefix) + ".XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error(errnoText("mkdtemp"));
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::file(std::string_view name) const { return path_ + "/" + std::string(name); }

std::string TempDir::writeFile(std::string_view name, std::string_view content) const {
  std::string full = file(name);
  std::ofstream out(full, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + full);
  return full;
}

// ---------------------------------------------------------------------------------------------
// /proc

std::optional<ProcStats> readProcStats(pid_t pid) {
  ProcStats stats;
  std::string base = "/proc/" + std::to_string(pid);
  std::ifstream status(base + "/status");
  if (!status) return std::nullopt;
  std::string line;
  bool sawRss = false;
  while (std::getline(status, line)) {
    auto kb = [&line]() { return std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10) * 1024; };
    if (line.rfind("VmRSS:", 0) == 0) {
      stats.rssBytes = kb();
      sawRss = true;
    } else if (line.rfind("VmHWM:", 0) == 0) {
      stats.peakRssBytes = kb();
    }
  }
  if (!sawRss) return std::nullopt;  // zombie or kernel thread

  std::ifstream statFile(base + "/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  // Fields after the command: state(3) ... utime(14) stime(15).
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) stats.userSeconds = std::strtod(field.c_str(), nullptr) / ticks;
    if (index == 15) stats.systemSeconds = std::strtod(field.c_str(), nullptr) / ticks;
  }
  return stats;
}

std::optional<size_t> countOpenFds(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec);
  if (ec) return std::nullopt;
  size_t n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    ++n;
  }
  return n;
}

bool waitUntil(const std::function<bool()>& condition, Millis timeout, Millis interval) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    int ms = remainingMs(deadline);
    if (ms == 0) return false;
    ::poll(nullptr, 0, std::min<int>(ms, static_cast<int>(interval.count())));
  }
}

// ---------------------------------------------------------------------------------------------
// Process

std::unique_ptr<Process> Process::spawn(const std::string& binary, const std::vector<std::string>& args,
                                        SpawnOptions options) {
  // Writes to a child's closed stdin (or a peer's closed socket) must return EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);

  int in[2], out[2], err[2], wakePipe[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(wakePipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error(errnoText("pipe2"));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);

  // The child starts with default dispositions and an empty mask, whatever the test runner set.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argStrings;
  argStrings.push_back(binary);
  argStrings.insert(argStrings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argStrings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStrings = mergedEnvironment(options.env);
  std::vector<char*> envp;
  for (auto& e : envStrings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    for (int fd : {in[1], out[0], err[0], wakePipe[0], wakePipe[1]}) ::close(fd);
    throw std::runtime_error("posix_spawn " + binary + ": " + std::strerror(rc));
  }

  std::unique_ptr<Process> p(new Process());
  p->pid_ = pid;
  p->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  p->stdin_ = in[1];
  p->stdout_ = out[0];
  p->stderr_ = err[0];
  p->wakeRead_ = wakePipe[0];
  p->wakeWrite_ = wakePipe[1];
  p->readStdout_ = options.readStdout;
  setNonBlocking(p->stdin_);
  setNonBlocking(p->stdout_);
  setNonBlocking(p->stderr_);
  p->io_ = std::thread([raw = p.get()] { raw->ioLoop(); });
  return p;
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    reap(0);
  }
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake();
  if (io_.joinable()) io_.join();
  for (int* fd : {&pidfd_, &stdin_, &stdout_, &stderr_, &wakeRead_, &wakeWrite_}) closeFd(*fd);
}

void Process::wake() const {
  char byte = 1;
  [[maybe_unused]] auto n = ::write(wakeWrite_, &byte, 1);
}

void Process::ioLoop() {
  std::vector<char> buf(1 << 16);
  for (;;) {
    pollfd fds[3];
    nfds_t count = 0;
    int outIndex = -1, errIndex = -1;
    {
      std::lock_guard lock(mutex_);
      if (stop_ || (stdoutEof_ && stderrEof_)) return;
      fds[count++] = {wakeRead_, POLLIN, 0};
      if (readStdout_ && !stdoutEof_) {
        outIndex = static_cast<int>(count);
        fds[count++] = {stdout_, POLLIN, 0};
      }
      if (!stderrEof_) {
        errIndex = static_cast<int>(count);
        fds[count++] = {stderr_, POLLIN, 0};
      }
    }
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) {
      while (::read(wakeRead_, buf.data(), buf.size()) > 0) {
      }
    }
    if (outIndex >= 0 && fds[outIndex].revents != 0) {
      ssize_t n = ::read(stdout_, buf.data(), buf.size());
      std::lock_guard lock(mutex_);
      if (n > 0) {
        stdoutBuf_.append(buf.data(), static_cast<size_t>(n));
        stdoutTotal_ += static_cast<uint64_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        stdoutEof_ = true;
      }
      changed_.notify_all();
    }
    if (errIndex >= 0 && fds[errIndex].revents != 0) {
      ssize_t n = ::read(stderr_, buf.data(), buf.size());
      std::lock_guard lock(mutex_);
      if (n > 0) {
        stderrAll_.append(buf.data(), static_cast<size_t>(n));
        stderrPartial_.append(buf.data(), static_cast<size_t>(n));
        size_t start = 0, nl;
        while ((nl = stderrPartial_.find('\n', start)) != std::string::npos) {
          stderrLines_.push_back(stderrPartial_.substr(start, nl - start));
          start = nl + 1;
        }
        stderrPartial_.erase(0, start);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        stderrEof_ = true;
        if (!stderrPartial_.empty()) stderrLines_.push_back(std::move(stderrPartial_));
        stderrPartial_.clear();
      }
      changed_.notify_all();
    }
  }
}

std::optional<std::string> Process::takeStderrLine(const std::function<bool(const std::string&)>& pred) {
  // Caller holds mutex_.
  while (stderrNext_ < stderrLines_.size()) {
    const std::string& line = stderrLines_[stderrNext_++];
    if (pred(line)) return line;
  }
  return std::nullopt;
}

std::optional<std::string> Process::waitForStderr(std::string_view substring, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  std::string needle(substring);
  std::unique_lock lock(mutex_);
  for (;;) {
    if (auto line = takeStderrLine([&](const std::string& l) { return l.find(needle) != std::string::npos; }))
      return line;
    if (stderrEof_) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
        stderrNext_ == stderrLines_.size())
      return std::nullopt;
  }
}

std::optional<std::string> Process::waitForStderrRegex(const std::regex& re, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (auto line = takeStderrLine([&](const std::string& l) { return std::regex_search(l, re); }))
      return line;
    if (stderrEof_) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
        stderrNext_ == stderrLines_.size())
      return std::nullopt;
  }
}

std::string Process::stderrText() const {
  std::lock_guard lock(mutex_);
  return stderrAll_;
}

bool Process::waitOutputClosed(Millis timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return stderrEof_ && (stdoutEof_ || !readStdout_); });
}

std::vector<std::string> Process::readStdoutLines(size_t n, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  std::vector<std::string> lines;
  std::unique_lock lock(mutex_);
  for (;;) {
    size_t start = 0, nl;
    while (lines.size() < n && (nl = stdoutBuf_.find('\n', start)) != std::string::npos) {
      lines.push_back(stdoutBuf_.substr(start, nl - start));
      start = nl + 1;
    }
    stdoutBuf_.erase(0, start);
    if (lines.size() >= n || stdoutEof_) return lines;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      // One last scan of what arrived just before the deadline.
      while (lines.size() < n && (nl = stdoutBuf_.find('\n')) != std::string::npos) {
        lines.push_back(stdoutBuf_.substr(0, nl));
        stdoutBuf_.erase(0, nl + 1);
      }
      return lines;
    }
  }
}

std::vector<std::string> Process::takeStdoutLines() {
  std::vector<std::string> lines;
  std::lock_guard lock(mutex_);
  size_t start = 0, nl;
  while ((nl = stdoutBuf_.find('\n', start)) != std::string::npos) {
    lines.push_back(stdoutBuf_.substr(start, nl - start));
    start = nl + 1;
  }
  stdoutBuf_.erase(0, start);
  return lines;
}

std::string Process::readStdoutToEof(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [this] { return stdoutEof_; });
  return std::exchange(stdoutBuf_, std::string());
}

uint64_t Process::stdoutBytes() const {
  std::lock_guard lock(mutex_);
  return stdoutTotal_;
}

void Process::resumeStdout() {
  {
    std::lock_guard lock(mutex_);
    readStdout_ = true;
  }
  wake();
}

bool Process::writeStdin(std::string_view data, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    if (stdin_ < 0) return false;
    ssize_t n = ::write(stdin_, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    pollfd pfd{stdin_, POLLOUT, 0};
    int ms = remainingMs(deadline);
    if (ms == 0 || ::poll(&pfd, 1, ms) == 0) return false;
  }
  return true;
}

void Process::closeStdin() { closeFd(stdin_); }

bool Process::sendSignal(int signal) const { return running() && ::kill(pid_, signal) == 0; }

bool Process::reap(int options) {
  int status = 0;
  rusage usage{};
  pid_t r = ::wait4(pid_, &status, options, &usage);
  if (r != pid_) return false;
  exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ProcStats final;
  final.userSeconds = static_cast<double>(usage.ru_utime.tv_sec) + usage.ru_utime.tv_usec / 1e6;
  final.systemSeconds = static_cast<double>(usage.ru_stime.tv_sec) + usage.ru_stime.tv_usec / 1e6;
  final.peakRssBytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  finalStats_ = final;
  return true;
}

std::optional<int> Process::waitExit(Millis timeout) {
  if (exitCode_) return exitCode_;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (reap(WNOHANG)) return exitCode_;
    int ms = remainingMs(deadline);
    if (ms == 0) return std::nullopt;
    if (pidfd_ >= 0) {
      pollfd pfd{pidfd_, POLLIN, 0};
      ::poll(&pfd, 1, ms);
    } else {
      ::poll(nullptr, 0, std::min(ms, 5));  // no pidfd (old kernel): re-check every 5 ms
    }
  }
}

std::optional<ProcStats> Process::stats() const {
  if (!running()) return finalStats_;
  return readProcStats(pid_);
}

// ---------------------------------------------------------------------------------------------
// Startup lines

std::optional<Listener> parseListeningLine(const std::string& line) {
  static const std::regex tcp(R"((?:\[input:[a-z_]+:([^\]]*)\] )?listening on tcp (\S+):(\d+))");
  static const std::regex unixRe(R"((?:\[input:[a-z_]+:([^\]]*)\] )?listening on unix (\S+))");
  std::smatch m;
  Listener l;
  if (std::regex_search(line, m, tcp)) {
    l.instance = m[1].str();
    l.host = m[2].str();
    l.port = static_cast<uint16_t>(std::stoul(m[3].str()));
    return l;
  }
  if (std::regex_search(line, m, unixRe)) {
    l.instance = m[1].str();
    l.unixPath = m[2].str();
    return l;
  }
  return std::nullopt;
}

std::optional<std::vector<Listener>> waitForStartup(Process& process, Millis timeout) {
  static const std::regex interesting(R"(listening on (tcp|unix) |\[engine\] started)");
  auto deadline = Clock::now() + timeout;
  std::vector<Listener> listeners;
  for (;;) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto line = process.waitForStderrRegex(interesting, left);
    if (!line) return std::nullopt;
    if (line->find("[engine] started") != std::string::npos) return listeners;
    if (auto l = parseListeningLine(*line)) listeners.push_back(std::move(*l));
  }
}

}  // namespace firelane::testsupport
