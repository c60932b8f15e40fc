// Per-output view of the spool: delivery tracking of held batches and read-back of disk-only ones.
#include "core/storage/spool_link.h"

#include "core/common/log.h"

namespace firelane::storage {

SpoolLink::SpoolLink(Spool& spool, size_t output) : spool_(spool), output_(output) {
  for (const SpoolEntry& e : spool.backlog(output)) onDisk_.push_back({e.pos, nullptr});
}

void SpoolLink::track(const EventBatch* batch, SpoolPosition pos) {
  held_[batch] = Held{pos, batch->events.size()};
  heldRecords_ += batch->events.size();
}

bool SpoolLink::settle(const BatchSlice& slice, SpoolPosition* pos) {
  auto it = held_.find(slice.batch.get());
  if (it == held_.end()) return false;
  size_t n = std::min<size_t>(slice.end - slice.begin, it->second.remaining);
  it->second.remaining -= n;
  heldRecords_ -= std::min<uint64_t>(n, heldRecords_);
  if (it->second.remaining > 0) return false;
  *pos = it->second.pos;
  held_.erase(it);
  return true;
}

void SpoolLink::done(const BatchSlice& slice) {
  SpoolPosition pos;
  if (settle(slice, &pos)) spool_.delivered(output_, pos);
}

void SpoolLink::abandon(const BatchSlice& slice) {
  SpoolPosition pos;
  settle(slice, &pos);
}

std::optional<std::pair<BatchRef, SpoolPosition>> SpoolLink::readNext() {
  while (!onDisk_.empty()) {
    OnDisk next = std::move(onDisk_.front());
    onDisk_.pop_front();
    if (!spool_.pending(output_, next.pos)) continue;  // dropped meanwhile (disk limit policy)
    auto batch = spool_.read(next.pos);
    if (!batch || batch->events.empty()) {
      ++unreadable_;
      FL_ERROR("storage: cannot read back a spooled batch: %s",
               batch ? "no events" : batch.message().c_str());
      if (next.watch) next.watch->failed = true;
      spool_.delivered(output_, next.pos);
      continue;
    }
    batch->watch = std::move(next.watch);
    auto ref = std::make_shared<const EventBatch>(std::move(*batch));
    track(ref.get(), next.pos);
    return std::make_pair(BatchRef(ref), next.pos);
  }
  return std::nullopt;
}

}  // namespace firelane::storage
