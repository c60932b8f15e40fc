// The event model: an EventBatch is a tag plus events that are views into refcounted buffers.
// Batches are built by inputs, may be rewritten by filters, and are shared read-only by outputs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/event/buffer.h"

namespace firelane {

// Pre-encoded msgpack key/value pairs appended to every record of a batch (e.g. ECS metadata):
// encoders write a record's own fields, then these. Shared, never copied per event.
struct ExtraFields {
  std::vector<uint8_t> kv;  // `count` msgpack key/value pairs back to back
  uint32_t count = 0;
};
using ExtraFieldsRef = std::shared_ptr<const ExtraFields>;

// Set by an input that answers its client only once a batch's fate is known (forward
// `ack_after delivered`): shared by every copy of the batch (also ones read back from the spool)
// and destroyed with the last of them. Outputs that drop or reject events set `failed`.
struct DeliveryWatch {
  virtual ~DeliveryWatch() = default;
  bool failed = false;
};
using DeliveryWatchRef = std::shared_ptr<DeliveryWatch>;

// One log event. `record` is a complete msgpack map, a view into a buffer the batch owns.
struct Event {
  int64_t timeNs = 0;  // nanoseconds since the Unix epoch
  std::span<const uint8_t> record;
};

// A run of events with one tag. Not thread-safe; stays on the worker that built it.
struct EventBatch {
  std::string tag;
  std::vector<Event> events;
  std::vector<BufferRef> owners;  // keep every byte that `events` point into alive
  ExtraFieldsRef extra;           // optional fields added to every event
  size_t bytes = 0;               // sum of record sizes, for accounting and limits
  DeliveryWatchRef watch;         // optional: told when every output is done with the batch

  void add(int64_t timeNs, std::span<const uint8_t> record) {
    events.push_back(Event{timeNs, record});
    bytes += record.size();
  }
  void keep(const BufferRef& b) {
    if (owners.empty() || owners.back() != b) owners.push_back(b);
  }
};

// Once queued, a batch is immutable and shared by every output it was routed to.
using BatchRef = std::shared_ptr<const EventBatch>;

// A contiguous range of a batch's events: outputs flush chunks made of slices, so a large batch
// can be split across requests without copying.
struct BatchSlice {
  BatchRef batch;
  uint32_t begin = 0;
  uint32_t end = 0;  // exclusive
  std::span<const Event> events() const {
    return std::span<const Event>(batch->events).subspan(begin, end - begin);
  }
  const std::string& tag() const { return batch->tag; }
};

// What one output flush call delivers: one request's worth of events.
struct FlushChunk {
  std::vector<BatchSlice> slices;
  size_t events = 0;
  size_t bytes = 0;
  uint64_t id = 0;   // unique per output instance; the same across retries of this chunk
  int attempt = 0;   // 1 on the first flush, 2 on the first retry, ...
};

}  // namespace firelane
