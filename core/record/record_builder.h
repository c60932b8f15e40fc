// Building new msgpack records from existing ones without a DOM: kept pairs are copied as raw byte
// ranges, new pairs are encoded once, and every rewritten record of a batch lands in one new Buffer.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/codec/msgpack_writer.h"
#include "core/event/event_batch.h"
#include "core/plugin/filter.h"
#include "core/record/record_accessor.h"

namespace firelane::record {

// One top-level key/value pair of a record, as views into it.
struct Entry {
  Bytes keyRaw;          // the key's msgpack bytes
  Bytes value;           // the value's msgpack bytes
  std::string_view key;  // the key's text when it is a str or bin, else empty
  bool keyIsString = false;
  // key and value bytes as one range (they are adjacent in the record)
  Bytes pair() const { return {keyRaw.data(), keyRaw.size() + value.size()}; }
};

// Splits the map `record` into its top-level pairs (appended to `out`, which is cleared first).
// False when `record` is not a complete, valid msgpack map.
bool readEntries(Bytes record, std::vector<Entry>& out);

// Collects new records as a list of pieces: ranges of existing records (referenced, not copied, until
// write()) and small encodings in its own scratch space. Each record gets the smallest map header for
// its final pair count, as msgpack-c (and so Fluent Bit) would write it.
//
// Referenced bytes (copyPair, addStrRef, addRaw) must stay alive and unchanged until write(). Reuse one
// builder per filter instance (clear() keeps the capacity). Not thread-safe.
class RecordBuilder {
 public:
  void clear();

  // Starts a record; pairs added until end() belong to it.
  void begin();
  // Copies an existing pair (adjacent key and value bytes, e.g. Entry::pair()).
  void copyPair(Bytes pair);
  void copyPair(Bytes keyRaw, Bytes value);
  // Copies a run of `pairs` consecutive pairs as one range.
  void copyPairs(Bytes bytes, uint32_t pairs);
  // New pairs: key encoded as str; the value as str (copied now or referenced), or raw msgpack.
  void addStr(std::string_view key, std::string_view value);
  void addStrRef(std::string_view key, std::string_view value);
  void addRaw(std::string_view key, Bytes value);
  // Existing key bytes with a new value.
  void addRawKey(Bytes keyRaw, Bytes value);
  // For values the caller encodes itself: write the key, then the value with writer().
  void addKey(std::string_view key);
  codec::MsgpackWriter& writer() { return writer_; }
  // Must follow every value written through writer() after addKey().
  void valueWritten();
  // Finishes the record; returns its index.
  size_t end();

  size_t records() const { return records_.size(); }
  uint32_t pairCount(size_t record) const { return records_[record].pairs; }
  // Encoded size of record i (header included), and of all records.
  size_t size(size_t record) const;
  size_t totalSize() const { return total_; }

  // Writes record i to dst (size(i) bytes available); returns bytes written.
  size_t writeRecord(size_t record, uint8_t* dst) const;
  // Record i as a vector (tests, single records).
  std::vector<uint8_t> toVector(size_t record) const;

 private:
  struct Piece {
    const uint8_t* ext;  // referenced bytes, or nullptr for scratch_[off, off + len)
    size_t off;
    size_t len;
  };
  struct Rec {
    size_t firstPiece = 0;
    size_t endPiece = 0;
    uint32_t pairs = 0;
    size_t bodySize = 0;
  };
  void ext(const uint8_t* p, size_t n);
  void scratchFrom(size_t start);
  static size_t headerSize(uint32_t pairs) { return pairs < 16 ? 1 : pairs <= 0xffff ? 3 : 5; }

  std::vector<uint8_t> scratch_;
  codec::MsgpackWriter writer_{scratch_};
  std::vector<Piece> pieces_;
  std::vector<Rec> records_;
  Rec cur_;
  size_t keyStart_ = 0;
  size_t total_ = 0;
};

// Applies per-event decisions to a batch, in event order: keep() leaves the event's view as is, drop()
// removes it, replace() points it at the builder's last finished record. finish() writes all replaced
// records into ONE new Buffer appended to batch.owners, keeps batch.bytes right and tells the engine
// what happened. Counts the bytes it wrote (for benches: a grep that only drops copies nothing).
class BatchEditor {
 public:
  BatchEditor(EventBatch& batch, RecordBuilder& builder);
  RecordBuilder& builder() { return builder_; }
  void keep() { actions_.push_back({kKeep, 0, false}); }
  void drop() {
    actions_.push_back({kDrop, 0, false});
    ++dropped_;
  }
  void replace(size_t record) { actions_.push_back({static_cast<int64_t>(record), 0, false}); }
  void replace(size_t record, int64_t timeNs) { actions_.push_back({static_cast<int64_t>(record), timeNs, true}); }
  // Event time only.
  void retime(int64_t timeNs) { actions_.push_back({kKeep, timeNs, true}); }
  FilterResult finish();
  size_t bytesWritten() const { return written_; }

 private:
  static constexpr int64_t kKeep = -1;
  static constexpr int64_t kDrop = -2;
  struct Action {
    int64_t what;
    int64_t timeNs;
    bool setTime;
  };
  EventBatch& batch_;
  RecordBuilder& builder_;
  std::vector<Action> actions_;
  size_t dropped_ = 0;
  size_t written_ = 0;
};

// Bytes written into new buffers by BatchEditor on this thread since start (bench instrumentation).
uint64_t bytesCopiedOnThisThread();

}  // namespace firelane::record
