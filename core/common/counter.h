// Metrics counters: written by one worker thread, read by any thread (monitoring), no locked ops.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace firelane {

// Single-writer counter: add() is a plain load+store (no lock prefix) because only the owning
// worker writes it; other threads may read a slightly stale value.
class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Counters keyed by a reason ("bad_tag", "frame_too_large"): created on first use (errors are rare,
// so the lookup is off the hot path).
class NamedCounters {
 public:
  void add(std::string_view reason, uint64_t n = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(reason);
    if (it == map_.end()) it = map_.emplace(std::string(reason), std::make_unique<Counter>()).first;
    it->second->add(n);
  }
  uint64_t get(std::string_view reason) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(reason);
    return it == map_.end() ? 0 : it->second->get();
  }
  template <typename F>
  void forEach(F&& f) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [k, v] : map_) f(k, v->get());
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> map_;
};

struct InputCounters {
  Counter records;
  Counter bytes;
  Counter connections;  // gauge: currently open
  Counter paused;       // gauge: 1 while paused by backpressure
  NamedCounters errors;
};

struct OutputCounters {
  Counter records;  // delivered
  Counter bytes;
  Counter errors;
  Counter retries;
  Counter retriesFailed;
  Counter dropped;       // records dropped (retries exhausted, rejected)
  Counter queuedBytes;   // gauge
  Counter spoolBytes;    // gauge: bytes in the filesystem spool this output has not delivered
  Counter spoolBatches;  // gauge
  Counter inFlight;          // gauge: flushes running
  Counter concurrencyLimit;  // gauge: flushes allowed at once (adaptive or the fixed `workers`)
  NamedCounters reasons; // by cause: "http_503", "timeout", "truncated", ...
};

}  // namespace firelane
