// Posting work to a libuv loop from any thread: a uv_async_t plus a locked task list. This is the
// only way threads hand work to each other's loops.
#pragma once

#include <functional>
#include <mutex>
#include <uv.h>
#include <vector>

namespace firelane {

class LoopInbox {
 public:
  // Must be constructed on (or before running) `loop`'s thread.
  explicit LoopInbox(uv_loop_t* loop);
  LoopInbox(const LoopInbox&) = delete;
  LoopInbox& operator=(const LoopInbox&) = delete;
  ~LoopInbox();

  // Any thread. Tasks run on the loop thread in post order. Posting after close() drops the task.
  void post(std::function<void()> task);
  // Loop thread. Closes the async handle; tasks still queued are dropped.
  void close();
  bool closed() const { return closed_; }

 private:
  static void onAsync(uv_async_t* handle);
  // Heap-allocated so its memory outlives `this` until uv_close's callback.
  uv_async_t* async_;
  std::mutex mutex_;
  std::vector<std::function<void()>> tasks_;
  bool closed_ = false;
};

}  // namespace firelane
