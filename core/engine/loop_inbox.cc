// LoopInbox implementation.
#include "core/engine/loop_inbox.h"

namespace firelane {

LoopInbox::LoopInbox(uv_loop_t* loop) : async_(new uv_async_t) {
  uv_async_init(loop, async_, &LoopInbox::onAsync);
  async_->data = this;
}

LoopInbox::~LoopInbox() {
  if (!closed_) {
    // The loop is gone or never ran the close; the handle memory must not dangle into uv.
    async_->data = nullptr;
  }
}

void LoopInbox::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    tasks_.push_back(std::move(task));
  }
  uv_async_send(async_);
}

void LoopInbox::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    closed_ = true;
    tasks_.clear();
  }
  async_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
}

void LoopInbox::onAsync(uv_async_t* handle) {
  auto* self = static_cast<LoopInbox*>(handle->data);
  if (!self) return;
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    tasks.swap(self->tasks_);
  }
  for (auto& t : tasks) {
    t();
    if (!handle->data) return;  // closed by a task
  }
}

}  // namespace firelane
