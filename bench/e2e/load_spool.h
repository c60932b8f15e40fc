// firelane_load's helpers for the filesystem spool runs: the size of a spool folder on disk, and a
// per-event delivery tally for the outage scenario (every event carries a unique sequence number).
#pragma once

#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace firelane::bench {

// Bytes of the regular files under `dir` and its subfolders (firelane's `<storage.path>/worker-N/`),
// 0 when it does not exist. Files removed while it walks are skipped.
uint64_t dirBytes(const std::string& dir);
// Subfolders of `dir` (one per firelane worker with a spool).
size_t subdirCount(const std::string& dir);

// Counts the deliveries of sequence-numbered events: the sender writes event i's number into the
// 12-digit stamp of its log line (load_latency.h) instead of a send time, and the sink scans every
// accepted body. Thread-safe (the intake calls scan() from its connection threads).
class SequenceTracker {
 public:
  explicit SequenceTracker(uint64_t events) : seen_(events, 0) {}
  // Tallies every stamp in `body`; numbers outside [0, events) are counted as strays.
  void scan(std::string_view body);
  uint64_t distinct() const;     // events delivered at least once
  uint64_t duplicates() const;   // deliveries beyond the first of an event
  uint64_t strays() const;       // stamps that are not one of the offered events
  // Blocks until every offered event was delivered or `timeoutMs` passed; true when all were.
  bool waitAll(uint64_t timeoutMs) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<uint8_t> seen_;  // deliveries per event, saturating at 255
  uint64_t distinct_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t strays_ = 0;
};

}  // namespace firelane::bench
