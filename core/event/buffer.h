// Refcounted byte buffers ("slabs") that received and decoded data live in; events are views into them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace firelane {

// A fixed-capacity byte buffer. The writer (one thread) fills it front to back with append/commit;
// bytes below size() never change again, so views into them stay valid while a reference lives.
class Buffer {
 public:
  explicit Buffer(size_t capacity) : data_(new uint8_t[capacity]), capacity_(capacity) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::span<const uint8_t> bytes() const { return {data_.get(), size_}; }

  // Writable space after the filled part, then commit(n) once n bytes were written into it.
  std::span<uint8_t> tail() { return {data_.get() + size_, capacity_ - size_}; }
  void commit(size_t n) { size_ += n; }
  size_t available() const { return capacity_ - size_; }
  void append(const void* p, size_t n);  // requires n <= available()
  // Keeps only bytes [from, size()) by moving them to the front. Only when nobody else holds a view.
  void compact(size_t from);

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_;
  size_t size_ = 0;
};

using BufferRef = std::shared_ptr<const Buffer>;
using BufferPtr = std::shared_ptr<Buffer>;

inline BufferPtr makeBuffer(size_t capacity) { return std::make_shared<Buffer>(capacity); }

}  // namespace firelane
