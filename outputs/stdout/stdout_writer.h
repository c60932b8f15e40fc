// One process-wide thread that performs the blocking writes to standard output, in submission
// order, so that worker loops never block on a slow reader (their queues fill and inputs pause).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace firelane::outputs::stdout_output {

class StdoutWriter {
 public:
  static StdoutWriter& instance();
  ~StdoutWriter();

  // Any thread. `done(ok)` runs on the writer thread after the whole buffer was written (or failed).
  void submit(std::string data, std::function<void(bool ok)> done);

 private:
  StdoutWriter();
  void run();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::function<void(bool)>>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace firelane::outputs::stdout_output
