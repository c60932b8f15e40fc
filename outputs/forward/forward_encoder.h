// Builds forward-protocol messages from a flush chunk: one PackedForward (or gzip
// CompressedPackedForward) message per run of slices with the same tag. Records are copied as raw
// msgpack bytes; the batch's extra fields are spliced into each record's map. Pure, no I/O.
#pragma once

#include <string>
#include <vector>

#include "core/codec/compressor.h"
#include "core/event/event_batch.h"

namespace firelane::outputs::forward {

struct EncodeOptions {
  std::string tag;  // overrides every slice's tag when set
  bool timeAsInteger = false;
  bool ack = false;                     // add a "chunk" option (a fresh base64 id per message)
  codec::Compressor* gzip = nullptr;    // set: CompressedPackedForward
};

// Appends the messages to `out`; returns the chunk ids asked for (empty unless options.ack).
// Returns false only when compression fails.
bool encodeChunk(const FlushChunk& chunk, const EncodeOptions& options, std::string& out,
                 std::vector<std::string>& chunkIds);

// Appends the [time, record] entries of events [begin, end) of `slice` (record + extra fields).
void appendEntries(const BatchSlice& slice, bool timeAsInteger, std::vector<uint8_t>& out);

}  // namespace firelane::outputs::forward
