// Per-output view of the spool: delivery tracking of held batches and read-back of disk-only ones.
#include "core/storage/spool_link.h"

#include "core/common/log.h"

namespace firelane::storage {

SpoolLink::SpoolLink(Spool& spool, size_t output) : spool_(spool), output_(output) {
  for (const SpoolEntry& e : spool.backlog(output)) onDisk_.push_back(e.pos);
}

void SpoolLink::track(const EventBatch* batch, SpoolPosition pos) {
  held_[batch] = Held{pos, batch->events.size()};
}

void SpoolLink::done(const BatchSlice& slice) {
  auto it = held_.find(slice.batch.get());
  if (it == held_.end()) return;
  size_t n = slice.end - slice.begin;
  it->second.remaining -= std::min(n, it->second.remaining);
  if (it->second.remaining > 0) return;
  spool_.delivered(output_, it->second.pos);
  held_.erase(it);
}

std::optional<std::pair<BatchRef, SpoolPosition>> SpoolLink::readNext() {
  while (!onDisk_.empty()) {
    SpoolPosition pos = onDisk_.front();
    onDisk_.pop_front();
    if (!spool_.pending(output_, pos)) continue;  // dropped meanwhile (disk limit policy)
    auto batch = spool_.read(pos);
    if (!batch || batch->events.empty()) {
      ++unreadable_;
      FL_ERROR("storage: cannot read back a spooled batch: %s",
               batch ? "no events" : batch.message().c_str());
      spool_.delivered(output_, pos);
      continue;
    }
    auto ref = std::make_shared<const EventBatch>(std::move(*batch));
    track(ref.get(), pos);
    return std::make_pair(BatchRef(ref), pos);
  }
  return std::nullopt;
}

}  // namespace firelane::storage
