// The on-disk format of the filesystem spool: segment files made of checksummed batch frames, and
// the (pure, I/O-free) encoding of an EventBatch into a frame payload and back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/event/event_batch.h"

namespace firelane::storage {

// Segment file = SegmentHeader, then frames back to back. Integers are little-endian.
//
//   segment header (32 bytes): "FLSPOOL\0", u32 version, u32 worker, u64 seq, u32 0, u32 crc
//   frame header   (24 bytes): u32 magic, u32 payload length, u64 output mask, u32 payload crc,
//                              u32 header crc
//
// The header crc covers the first 20 header bytes, so a damaged length is detected before it is
// used to skip; the payload crc covers the payload. Checksums are CRC-32 (the zlib/gzip polynomial).
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr size_t kFrameHeaderSize = 24;
inline constexpr uint32_t kSegmentVersion = 1;
inline constexpr uint32_t kFrameMagic = 0x31424C46;  // "FLB1"
// A frame payload larger than this is treated as damage (no batch gets near it).
inline constexpr uint32_t kMaxPayload = 1u << 30;

struct SegmentHeader {
  uint32_t worker = 0;
  uint64_t seq = 0;
};

struct FrameHeader {
  uint32_t length = 0;      // payload bytes
  uint64_t outputMask = 0;  // bit i: output i still has to deliver this batch
  uint32_t payloadCrc = 0;
};

uint32_t crc32Of(std::span<const uint8_t> bytes);

void encodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]);
std::optional<SegmentHeader> decodeSegmentHeader(std::span<const uint8_t> bytes);

void encodeFrameHeader(const FrameHeader& h, uint8_t out[kFrameHeaderSize]);
// Empty when the magic or the header crc does not match (the length cannot be trusted).
std::optional<FrameHeader> decodeFrameHeader(std::span<const uint8_t> bytes);

// Payload: u32 tag length, tag, u32 event count, u32 extra count, u32 extra length, extra bytes,
// then per event i64 time (ns), u32 record length, record bytes.
std::vector<uint8_t> encodeBatch(const EventBatch& batch);
// Bytes a batch takes in a segment (frame header + payload), for disk-bound checks before writing.
inline size_t frameBytesOf(const EventBatch& b) {
  return kFrameHeaderSize + 4 + b.tag.size() + 12 + (b.extra ? b.extra->kv.size() : 0) + b.events.size() * 12 +
         b.bytes;
}
// Appends the encoding to `out` (one allocation for header + payload in the writer).
void encodeBatchTo(const EventBatch& batch, std::vector<uint8_t>& out);

// Rebuilds a batch whose events are views into `payload` (kept alive through batch.owners).
// Empty when the payload is malformed; never reads outside it.
std::optional<EventBatch> decodeBatch(const BufferRef& payload);

}  // namespace firelane::storage
