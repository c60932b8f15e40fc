// Buffer helpers.
#include "core/event/buffer.h"

#include <cstring>

namespace firelane {

void Buffer::append(const void* p, size_t n) {
  std::memcpy(data_.get() + size_, p, n);
  size_ += n;
}

void Buffer::compact(size_t from) {
  size_t keep = size_ - from;
  if (keep && from) std::memmove(data_.get(), data_.get() + from, keep);
  size_ = keep;
}

}  // namespace firelane
