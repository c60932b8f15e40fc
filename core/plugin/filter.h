// The Filter stage interface: one synchronous call per batch, no I/O on the hot path.
#pragma once

#include <memory>

#include "core/event/event_batch.h"

namespace firelane {

enum class FilterResult {
  Unchanged,  // batch untouched: the original bytes flow on
  Modified,   // events/owners/extra were rewritten in place
  DropAll,    // every event dropped
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual FilterResult apply(EventBatch& batch) = 0;
};
using FilterPtr = std::unique_ptr<Filter>;

class FilterFactory {
 public:
  virtual ~FilterFactory() = default;
  virtual FilterPtr create(unsigned workerId) const = 0;
};

}  // namespace firelane
