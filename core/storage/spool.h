// The filesystem spool of one worker: batches appended to checksummed segment files, a persisted
// delivery cursor per output, crash recovery (torn tails cut, corrupt batches skipped and
// counted), segment deletion once every output delivered, and a bound on disk use.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/common/status.h"
#include "core/event/event_batch.h"
#include "core/storage/segment_format.h"

namespace firelane::storage {

// Where a batch lives: segment sequence number and byte offset of its frame. Totally ordered in
// append order (sequence numbers only grow, also across restarts).
struct SpoolPosition {
  uint64_t seq = 0;
  uint64_t offset = 0;
  auto operator<=>(const SpoolPosition&) const = default;
};

// A test hook: before each frame write, may ask the writer to write only `writeBytes` bytes of
// the frame and then fail with `err` (e.g. ENOSPC), as a full disk would.
struct WriteFault {
  int err = 0;
  size_t writeBytes = 0;
};

struct SpoolOptions {
  std::string dir;  // this worker's folder; created if missing
  unsigned worker = 0;
  // Stable names of the outputs (e.g. "0.datadog"); index i is bit i of a batch's output mask.
  // A name without a cursor file on disk replays every stored batch routed to its index.
  std::vector<std::string> outputs;
  bool syncFull = false;               // fdatasync every append before it reports success
  uint64_t segmentBytes = 8u << 20;    // a segment is sealed once the next frame would pass this
  uint64_t totalLimit = 0;             // bytes on disk; 0 = unbounded
  std::function<std::optional<WriteFault>()> faultHook;
};

struct SpoolStats {
  uint64_t recoveredBatches = 0;  // frames read back intact at open
  uint64_t corruptBatches = 0;    // frames skipped at open (checksum or damaged header)
  uint64_t corruptSegments = 0;   // segment files set aside at open (bad header)
  uint64_t tornBytes = 0;         // bytes cut from segment tails at open
  uint64_t droppedBatches = 0;    // removed undelivered by dropOldest()
  uint64_t ioErrors = 0;          // failed appends (disk full, I/O error)
  uint64_t appendedBatches = 0;
  uint64_t deletedSegments = 0;
  uint64_t bytesOnDisk = 0;
  size_t segments = 0;
};

enum class AppendStatus { Ok, Full, IoError };

struct AppendResult {
  AppendStatus status = AppendStatus::Ok;
  SpoolPosition pos;
  std::string error;  // IoError: what failed, with strerror
};

// One stored batch waiting for an output, as found at open.
struct SpoolEntry {
  SpoolPosition pos;
  uint32_t length = 0;  // payload bytes
};

// Not thread-safe: owned and used by one worker loop. Calls block on disk I/O (appends are small
// sequential writes; reads are one pread per batch).
class Spool {
 public:
  static constexpr size_t kMaxAhead = 4096;
  // Creates the folder if needed, scans and repairs every segment, loads the cursors.
  static Result<std::unique_ptr<Spool>> open(SpoolOptions options);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // The batches stored before open that output `output` has not delivered, oldest first.
  const std::vector<SpoolEntry>& backlog(size_t output) const { return backlog_[output]; }

  // Stores a batch for the outputs in `outputMask`. Ok: on disk (and fdatasync'ed with syncFull).
  // Full: totalLimit would be passed; nothing written. IoError: nothing (valid) written.
  AppendResult append(const EventBatch& batch, uint64_t outputMask);

  // Reads a stored batch back (checksum verified); events are views into one new buffer.
  Result<EventBatch> read(SpoolPosition pos) const;

  // Output `output` delivered the batch at `pos`. Deletes segments nobody needs any more.
  void delivered(size_t output, SpoolPosition pos);

  // Writes the cursors that moved since the last call (in place, one pwrite per output), each with
  // the batches above it that were delivered out of order (up to kMaxAhead). A stale cursor only
  // causes duplicates on restart, never loss.
  Status persistCursors();

  // Deletes the oldest segment even if undelivered (storage.total_limit_size with drop policy).
  // Returns the number of batches that some output had not delivered yet (0 if nothing left).
  size_t dropOldest();

  // Lowest position output `output` has not delivered (its cursor).
  SpoolPosition cursor(size_t output) const;
  bool pending(size_t output, SpoolPosition pos) const { return outstanding_[output].count(pos) > 0; }
  // Bytes on disk (frames) output `output` has not delivered yet: its share of the disk bound.
  uint64_t pendingBytes(size_t output) const { return pendingBytes_[output]; }
  size_t pendingBatches(size_t output) const { return outstanding_[output].size(); }
  // The oldest batch output `output` has not delivered (storage.total_limit_policy drop_oldest).
  std::optional<SpoolPosition> oldest(size_t output) const;
  const SpoolStats& stats() const { return stats_; }
  const std::string& dir() const { return options_.dir; }
  const SpoolOptions& options() const { return options_; }

 private:
  struct Segment {
    std::string path;
    uint64_t size = 0;
  };
  explicit Spool(SpoolOptions options);
  Status recover();
  Status openActive();
  void sealActive();
  void collect();
  void removeSegment(std::map<uint64_t, Segment>::iterator it);
  SpoolPosition end() const;
  std::string segmentPath(uint64_t seq) const;
  std::string cursorPath(size_t output) const;

  SpoolOptions options_;
  std::map<uint64_t, Segment> segments_;
  std::vector<std::map<SpoolPosition, uint32_t>> outstanding_;  // position -> frame bytes
  std::vector<uint64_t> pendingBytes_;
  std::vector<std::vector<SpoolEntry>> backlog_;
  std::vector<SpoolPosition> persisted_;  // last cursor written per output
  // Per output: batches delivered out of order, above its cursor (a retry holds the cursor back
  // while later batches go out). Saved with the cursor so a restart does not send them again.
  std::vector<std::set<SpoolPosition>> ahead_;
  std::vector<bool> aheadDirty_;
  std::vector<int> cursorFds_;  // per output, opened by the first persistCursors(), -1 until then
  uint64_t nextSeq_ = 1;
  int activeFd_ = -1;
  uint64_t activeSeq_ = 0;  // 0 = no active segment
  std::vector<uint8_t> frame_;
  SpoolStats stats_;
};

using SpoolPtr = std::unique_ptr<Spool>;

}  // namespace firelane::storage
