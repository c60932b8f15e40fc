// StdoutWriter: blocking writes to fd 1 on a dedicated thread.
#include "outputs/stdout/stdout_writer.h"

#include <cerrno>
#include <unistd.h>

namespace firelane::outputs::stdout_output {

StdoutWriter& StdoutWriter::instance() {
  static StdoutWriter writer;
  return writer;
}

StdoutWriter::StdoutWriter() : thread_([this] { run(); }) {}

StdoutWriter::~StdoutWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void StdoutWriter::submit(std::string data, std::function<void(bool)> done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(std::move(data), std::move(done));
  }
  cv_.notify_one();
}

void StdoutWriter::run() {
  for (;;) {
    std::pair<std::string, std::function<void(bool)>> item;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    const std::string& s = item.first;
    size_t off = 0;
    bool ok = true;
    while (off < s.size()) {
      ssize_t n = ::write(STDOUT_FILENO, s.data() + off, s.size() - off);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        // stdout was made non-blocking by someone else: wait until writable.
        usleep(1000);
      } else {
        ok = false;
        break;
      }
    }
    if (item.second) item.second(ok);
  }
}

}  // namespace firelane::outputs::stdout_output
