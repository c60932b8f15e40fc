// What one output runner needs from its worker's spool: the stored batches it holds in memory
// (with their undelivered event counts) and the ones it has only on disk, read back in order
// when its queue has room. Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

#include "core/event/event_batch.h"
#include "core/storage/spool.h"

namespace firelane::storage {

class SpoolLink {
 public:
  // `output`: this runner's bit in the spool's output mask. Starts with the spool's backlog for it.
  SpoolLink(Spool& spool, size_t output);

  // New stored batches must queue behind older ones that are only on disk.
  bool diskBacklog() const { return !onDisk_.empty(); }
  size_t diskBatches() const { return onDisk_.size(); }
  void keepOnDisk(SpoolPosition pos) { onDisk_.push_back(pos); }

  // The batch (held in memory by this runner) is stored at `pos`.
  void track(const EventBatch* batch, SpoolPosition pos);
  // Events of a tracked batch left the runner (delivered, rejected or dropped after retries);
  // once all of them did, the spool hears that this output is done with the batch.
  void done(const BatchSlice& slice);

  // The oldest batch that is only on disk, read back; empty when there is none. A batch that can
  // no longer be read (damaged since it was written) is skipped, counted and released.
  std::optional<std::pair<BatchRef, SpoolPosition>> readNext();
  uint64_t unreadable() const { return unreadable_; }

 private:
  struct Held {
    SpoolPosition pos;
    size_t remaining;
  };
  Spool& spool_;
  size_t output_;
  std::deque<SpoolPosition> onDisk_;
  std::unordered_map<const EventBatch*, Held> held_;
  uint64_t unreadable_ = 0;
};

}  // namespace firelane::storage
