// Spawning the real firelane binary from tests and benches: pipes for its stdio, deadline-based waits
// on its output, signals, exit codes, and its memory / CPU use read from /proc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace firelane::testsupport {

using Millis = std::chrono::milliseconds;

// A fresh directory from mkdtemp (under $TMPDIR or /tmp), removed recursively on destruction.
// Not thread-safe; owned by one test.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "firelane-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to `<dir>/<name>` (truncating) and returns the full path. Throws on failure.
  std::string writeFile(std::string_view name, std::string_view content) const;
  // `<dir>/<name>` without creating anything (e.g. for a unix socket path).
  std::string file(std::string_view name) const;

 private:
  std::string path_;
};

// Memory and CPU of a live process, from /proc/<pid>/status and /proc/<pid>/stat.
struct ProcStats {
  uint64_t rssBytes = 0;      // VmRSS
  uint64_t peakRssBytes = 0;  // VmHWM
  double userSeconds = 0;     // utime
  double systemSeconds = 0;   // stime
  double cpuSeconds() const { return userSeconds + systemSeconds; }
};

// Reads the stats of any pid; nullopt when /proc/<pid> is gone or unreadable.
std::optional<ProcStats> readProcStats(pid_t pid);

struct SpawnOptions {
  // Extra environment entries "KEY=VALUE" added to (or overriding) the parent's environment.
  std::vector<std::string> env;
  // When false the child's stdout pipe is not read until resumeStdout(): a slow consumer, for
  // backpressure tests. stderr is always drained so logging can never block the child.
  bool readStdout = true;
};

// One child process. Its stdout and stderr are drained by a background thread into buffers, which
// the wait functions below consume; each wait is bounded by a deadline (no sleeping). The
// destructor SIGKILLs the child if it is still running and reaps it. All methods may be called
// from the owning test thread; the I/O thread only appends to the buffers.
class Process {
 public:
  // Spawns `binary` with `args` (argv[0] is `binary`). Throws std::runtime_error on failure.
  static std::unique_ptr<Process> spawn(const std::string& binary, const std::vector<std::string>& args,
                                        SpawnOptions options = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // --- stderr (lines without the trailing '\n') ---
  // Waits for a stderr line containing `substring` that has not yet been returned by an earlier
  // wait, and returns it; nullopt at the deadline. Lines are scanned in order and every line up to
  // the match is consumed, so successive waits see successive lines.
  std::optional<std::string> waitForStderr(std::string_view substring, Millis timeout);
  // Same, with std::regex_search (run it again on the returned line to get the groups).
  std::optional<std::string> waitForStderrRegex(const std::regex& re, Millis timeout);
  // Everything read from stderr so far (for failure messages).
  std::string stderrText() const;
  // Waits until the child closed stderr (and stdout, when it is being read), e.g. after it exited,
  // so stderrText() / readStdoutToEof() hold everything. False at the deadline.
  bool waitOutputClosed(Millis timeout);

  // --- stdout ---
  // Returns up to `n` complete lines (without '\n'), consuming them; returns early with fewer only
  // at the deadline or when stdout reached EOF.
  std::vector<std::string> readStdoutLines(size_t n, Millis timeout);
  // Consumes whatever complete lines are buffered now, without waiting.
  std::vector<std::string> takeStdoutLines();
  // Waits until stdout is closed by the child (or the deadline) and returns all unconsumed bytes.
  std::string readStdoutToEof(Millis timeout);
  // Total bytes received on stdout so far, consumed or not.
  uint64_t stdoutBytes() const;
  // Starts draining stdout (after SpawnOptions::readStdout = false).
  void resumeStdout();

  // --- stdin ---
  // Writes all of `data` to the child's stdin; false on error (EPIPE) or at the deadline.
  bool writeStdin(std::string_view data, Millis timeout = Millis(10000));
  void closeStdin();

  // --- lifecycle ---
  bool sendSignal(int signal) const;
  // Waits for the child to exit and reaps it. Returns the exit code, or 128 + signal number if it was
  // killed by a signal; nullopt at the deadline (the child keeps running).
  std::optional<int> waitExit(Millis timeout);
  bool running() const { return !exitCode_.has_value(); }
  // /proc stats while the child runs; after it was reaped by waitExit, its final stats from
  // wait4's rusage (CPU times and peak RSS; rssBytes is 0).
  std::optional<ProcStats> stats() const;

 private:
  Process() = default;
  void ioLoop();
  void wake() const;
  std::optional<std::string> takeStderrLine(const std::function<bool(const std::string&)>& pred);
  bool reap(int options);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  int wakeRead_ = -1;
  int wakeWrite_ = -1;
  std::thread io_;
  std::optional<int> exitCode_;
  std::optional<ProcStats> finalStats_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stop_ = false;
  bool readStdout_ = true;
  bool stdoutEof_ = false;
  bool stderrEof_ = false;
  std::string stdoutBuf_;  // unconsumed bytes
  uint64_t stdoutTotal_ = 0;
  std::string stderrPartial_;        // bytes after the last '\n'
  std::vector<std::string> stderrLines_;
  size_t stderrNext_ = 0;            // first line not yet consumed by a wait
  std::string stderrAll_;
};

// Number of open file descriptors of a live process (entries of /proc/<pid>/fd).
std::optional<size_t> countOpenFds(pid_t pid);

// Re-checks `condition` every `interval` until it holds (true) or `timeout` passes (false). For
// state with no event to wait on (/proc counters); prefer the event-driven waits above.
bool waitUntil(const std::function<bool()>& condition, Millis timeout, Millis interval = Millis(10));

// A forward listener as announced on stderr: "[input:forward:<instance>] listening on tcp
// 127.0.0.1:<port>" or "... listening on unix <path>".
struct Listener {
  std::string instance;  // may be empty when the line has no [input:<kind>:...] prefix
  std::string host;      // tcp only
  uint16_t port = 0;     // tcp only
  std::string unixPath;  // unix only
  bool isUnix() const { return !unixPath.empty(); }
};

// Parses one stderr line; nullopt when it is not a listening line.
std::optional<Listener> parseListeningLine(const std::string& line);

// Waits for "[engine] started" and returns every listener announced before it, in order; nullopt
// (and the process keeps running) at the deadline.
std::optional<std::vector<Listener>> waitForStartup(Process& process, Millis timeout);

}  // namespace firelane::testsupport
