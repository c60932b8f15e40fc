// Decoder for the Fluentd forward protocol v1 (Message, Forward, PackedForward,
// CompressedPackedForward): validates a frame in place and yields events as views into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/event/event_batch.h"

namespace firelane::proto::forward {

enum class Mode { Heartbeat, Message, Forward, PackedForward, CompressedPackedForward };

enum class DecodeStatus {
  Ok,        // one frame decoded; `frame.consumed` bytes used
  NeedMore,  // the frame is incomplete; call again with more bytes (at least `frame.needed` in all)
  Error,     // the stream is broken; close the connection
};

enum class DecodeError {
  None,
  Malformed,           // bytes are not valid msgpack (garbage)
  RootNotArray,        // root is neither an array nor nil
  BadTag,              // tag is not a string
  BadTime,             // time is not int / EventTime(ext 0, len 8) / float / [EventTime, map]
  BadRecord,           // record is not a map
  BadOption,           // option is not a map, or has a bad value (compressed, fluent_signal)
  BadEntries,          // Forward entries not arrays of [time, record]; packed bytes not entries
  FrameTooLarge,       // frame bigger than Limits::maxFrameBytes
  DecompressFailed,    // gzip/zstd stream invalid
  DecompressTooLarge,  // decompressed size over Limits::maxDecompressedBytes (gzip bomb)
  TooDeep,             // nesting deeper than Limits::maxDepth
};
const char* errorName(DecodeError e);  // short snake_case name for counters/logs, e.g. "bad_tag"

struct Limits {
  size_t maxFrameBytes = 6144000;          // buffer_max_size
  size_t maxDecompressedBytes = 64 << 20;  // cap for one CompressedPackedForward payload
  int maxDepth = 64;                       // nesting limit inside records
};

struct DecodedFrame {
  Mode mode = Mode::Heartbeat;
  std::string_view tag;                // view into the input
  size_t consumed = 0;                 // Ok: bytes this frame took
  // NeedMore: a lower bound for the bytes the frame takes (always > the input's size), nearly exact
  // once a PackedForward bin header was seen. Calling again with fewer bytes is wasted work.
  size_t needed = 0;
  std::span<const uint8_t> chunkRaw;   // msgpack encoding of option "chunk" (empty = no ack asked)
  BufferRef decompressed;              // CompressedPackedForward: the buffer events point into
  int64_t size = -1;                   // option "size" if it was an integer >= 0 (informational)
  uint8_t fluentSignal = 0;            // option "fluent_signal": 0 logs, 1 metrics, 2 traces
};

// Stateless apart from limits; cheap to keep one per connection.
class Decoder {
 public:
  explicit Decoder(Limits limits = {}) : limits_(limits) {}

  // Decodes the frame at the front of `input`. On Ok appends its events to `events` (records are
  // validated msgpack maps; views into `input`, or into `frame.decompressed`). A nil heartbeat is Ok
  // with mode Heartbeat and no events. On Error `error` says why; nothing was appended.
  DecodeStatus next(std::span<const uint8_t> input, DecodedFrame& frame, std::vector<Event>& events,
                    DecodeError& error) const;

  const Limits& limits() const { return limits_; }

 private:
  Limits limits_;
};

// Encodes the ack response {"ack": <chunk>} for a frame's chunkRaw into `out` (appends).
void encodeAck(std::span<const uint8_t> chunkRaw, std::vector<uint8_t>& out);

}  // namespace firelane::proto::forward
