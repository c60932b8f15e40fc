// Shared fixture for end-to-end tests: a firelane process on a temp-dir config, its listeners, and
// helpers to build configs, connect and pick fields out of stdout lines.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <functional>

#include "support/expected_output.h"
#include "support/forward_client.h"
#include "support/http_get.h"
#include "support/process.h"

namespace firelane::e2e {

using namespace firelane::testsupport;

// True in the ASan+UBSan build, whose shadow memory and quarantine raise a process's RSS (memory
// bounds measured on the normal build get more room there).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// Bound of every single wait in the e2e tests; generous for loaded CI machines.
inline constexpr Millis kTimeout{10000};

// The path of the binary under test (FIRELANE_BIN).
std::string firelaneBin();

// [SERVICE] (Flush `flush`, Grace 5) + one forward input on 127.0.0.1 port 0 (plus `inputExtra`,
// lines such as "    Tag foo\n") + a stdout json_lines output matching everything.
std::string forwardToStdoutConfig(const std::string& inputExtra = "", const std::string& flush = "0.05");

// One running firelane. The temp dir exists from construction, so configs can reference files in it
// (unix sockets); start() writes the config, spawns `firelane -c <dir>/firelane.conf` and REQUIREs
// "[engine] started" within kTimeout. The destructor kills the process if still running.
class Firelane {
 public:
  Firelane() = default;
  // `launcher`: a command the binary runs under (e.g. {"prlimit", "--fsize=1000000"}).
  void start(const std::string& config, SpawnOptions spawn = {}, const std::vector<std::string>& launcher = {});

  TempDir& dir() { return dir_; }
  Process& proc() { return *proc_; }
  const std::vector<Listener>& listeners() const { return listeners_; }
  // The i-th tcp listener's port / the i-th unix listener's path (REQUIREs it exists).
  uint16_t tcpPort(size_t index = 0) const;
  std::string unixPath(size_t index = 0) const;
  // Connects to the i-th tcp listener (REQUIREs success).
  std::unique_ptr<ForwardClient> connect(size_t index = 0) const;
  std::unique_ptr<ForwardClient> connectUnix(size_t index = 0) const;

  // Reads exactly `n` stdout lines within `timeout`, REQUIREs all of them (printing stderr if not).
  std::vector<std::string> lines(size_t n, Millis timeout = kTimeout);

 private:
  TempDir dir_;
  std::unique_ptr<Process> proc_;
  std::vector<Listener> listeners_;
};

// The monitoring server's port (HTTP_Server On, HTTP_Port 0) as logged before "[engine] started";
// REQUIREs the line.
uint16_t monitorPort(Process& proc);

// GETs `path` from the monitoring server until `pred(reply)` holds or `timeout` passes; returns the
// last reply (nullopt when none came).
std::optional<HttpResponse> pollHttp(uint16_t port, const std::string& path,
                                     const std::function<bool(const HttpResponse&)>& pred, Millis timeout = kTimeout);

// The string value of `"key":"..."` in a JSON line (no unescaping); empty when absent.
std::string fieldOf(const std::string& line, const std::string& key);

// How many lines carry each value of `key`.
std::map<std::string, int> countBy(const std::vector<std::string>& lines, const std::string& key);

// `count` events {"id": "<prefix><first + i>", "log": "..."} at 1700000000 + i s, i * 1000 + 123000 ns.
std::vector<Event> makeEvents(const std::string& prefix, size_t count, size_t first = 0);

// Lines for events, in order.
std::vector<std::string> jsonLines(const std::vector<Event>& events, bool integerTime = false);

}  // namespace firelane::e2e
