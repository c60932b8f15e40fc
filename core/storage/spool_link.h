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
  // The batch stays on disk only; `watch` (if any) follows it until it is read back and delivered.
  void keepOnDisk(SpoolPosition pos, DeliveryWatchRef watch) { onDisk_.push_back({pos, std::move(watch)}); }

  // The batch (held in memory by this runner) is stored at `pos`.
  void track(const EventBatch* batch, SpoolPosition pos);
  // Events of a tracked batch left the runner delivered (or dropped after retries, rejected):
  // once all of them did, the spool hears that this output is done with the batch.
  void done(const BatchSlice& slice);
  // Shutdown: the events of a tracked batch left memory undelivered; the batch stays in the
  // spool for the next start.
  void abandon(const BatchSlice& slice);
  bool tracked(const EventBatch* batch) const { return held_.count(batch) > 0; }
  // Events held in memory that are also in the spool (not lost if the process stops now).
  uint64_t heldRecords() const { return heldRecords_; }

  // The oldest batch that is only on disk, read back; empty when there is none. A batch that can
  // no longer be read (damaged since it was written) is skipped, counted and released.
  std::optional<std::pair<BatchRef, SpoolPosition>> readNext();
  uint64_t unreadable() const { return unreadable_; }
  size_t output() const { return output_; }

 private:
  struct Held {
    SpoolPosition pos;
    size_t remaining;
  };
  struct OnDisk {
    SpoolPosition pos;
    DeliveryWatchRef watch;
  };
  bool settle(const BatchSlice& slice, SpoolPosition* pos);

  Spool& spool_;
  size_t output_;
  std::deque<OnDisk> onDisk_;
  std::unordered_map<const EventBatch*, Held> held_;
  uint64_t heldRecords_ = 0;
  uint64_t unreadable_ = 0;
};

}  // namespace firelane::storage
