// RecordBuilder and BatchEditor: piece lists of raw ranges, one buffer per rewritten batch.
#include "core/record/record_builder.h"

#include <cstring>

#include "core/proto/msgpack_cursor.h"

namespace firelane::record {

using proto::MsgpackCursor;
using proto::MsgpackHeader;
using proto::MsgpackStatus;
using proto::MsgpackType;

namespace {
thread_local uint64_t tBytesCopied = 0;
}

uint64_t bytesCopiedOnThisThread() { return tBytesCopied; }

bool readEntries(Bytes record, std::vector<Entry>& out) {
  out.clear();
  MsgpackCursor c(record);
  uint32_t n;
  if (c.readMap(n) != MsgpackStatus::Ok) return false;
  // Every pair takes at least two bytes: refuse absurd counts before reserving.
  if (n > c.remaining() / 2) return false;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Entry e;
    size_t k0 = c.offset();
    MsgpackHeader h;
    if (c.peek(h) != MsgpackStatus::Ok) return false;
    if (h.type == MsgpackType::Str || h.type == MsgpackType::Bin) {
      std::span<const uint8_t> b;
      if (c.readStrOrBin(b) != MsgpackStatus::Ok) return false;
      e.key = {reinterpret_cast<const char*>(b.data()), b.size()};
      e.keyIsString = true;
    } else if (c.skip() != MsgpackStatus::Ok) {
      return false;
    }
    e.keyRaw = record.subspan(k0, c.offset() - k0);
    if (c.skip(e.value) != MsgpackStatus::Ok) return false;
    out.push_back(e);
  }
  return c.atEnd();
}

void RecordBuilder::clear() {
  scratch_.clear();
  pieces_.clear();
  records_.clear();
  cur_ = Rec{};
  total_ = 0;
}

void RecordBuilder::begin() {
  cur_ = Rec{};
  cur_.firstPiece = pieces_.size();
}

void RecordBuilder::ext(const uint8_t* p, size_t n) {
  if (n == 0) return;
  cur_.bodySize += n;
  if (pieces_.size() > cur_.firstPiece) {
    Piece& last = pieces_.back();
    if (last.ext && last.ext + last.len == p) {
      last.len += n;
      return;
    }
  }
  pieces_.push_back({p, 0, n});
}

void RecordBuilder::scratchFrom(size_t start) {
  size_t n = scratch_.size() - start;
  if (n == 0) return;
  cur_.bodySize += n;
  if (pieces_.size() > cur_.firstPiece) {
    Piece& last = pieces_.back();
    if (!last.ext && last.off + last.len == start) {
      last.len += n;
      return;
    }
  }
  pieces_.push_back({nullptr, start, n});
}

void RecordBuilder::copyPair(Bytes pair) {
  ext(pair.data(), pair.size());
  ++cur_.pairs;
}

void RecordBuilder::copyPair(Bytes keyRaw, Bytes value) {
  ext(keyRaw.data(), keyRaw.size());
  ext(value.data(), value.size());
  ++cur_.pairs;
}

void RecordBuilder::copyPairs(Bytes bytes, uint32_t pairs) {
  ext(bytes.data(), bytes.size());
  cur_.pairs += pairs;
}

void RecordBuilder::addStr(std::string_view key, std::string_view value) {
  size_t start = scratch_.size();
  writer_.str(key);
  writer_.str(value);
  scratchFrom(start);
  ++cur_.pairs;
}

void RecordBuilder::addStrRef(std::string_view key, std::string_view value) {
  if (value.size() < 64) return addStr(key, value);
  size_t start = scratch_.size();
  writer_.str(key);
  // Header only; the payload stays where it is until write().
  size_t n = value.size();
  if (n <= 0xff) {
    scratch_.push_back(0xd9);
    scratch_.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xffff) {
    scratch_.push_back(0xda);
    scratch_.push_back(static_cast<uint8_t>(n >> 8));
    scratch_.push_back(static_cast<uint8_t>(n));
  } else {
    scratch_.push_back(0xdb);
    for (int s = 24; s >= 0; s -= 8) scratch_.push_back(static_cast<uint8_t>(n >> s));
  }
  scratchFrom(start);
  ext(reinterpret_cast<const uint8_t*>(value.data()), n);
  ++cur_.pairs;
}

void RecordBuilder::addRaw(std::string_view key, Bytes value) {
  size_t start = scratch_.size();
  writer_.str(key);
  scratchFrom(start);
  ext(value.data(), value.size());
  ++cur_.pairs;
}

void RecordBuilder::addRawKey(Bytes keyRaw, Bytes value) { copyPair(keyRaw, value); }

void RecordBuilder::addKey(std::string_view key) {
  keyStart_ = scratch_.size();
  writer_.str(key);
}

void RecordBuilder::valueWritten() {
  scratchFrom(keyStart_);
  ++cur_.pairs;
}

size_t RecordBuilder::end() {
  cur_.endPiece = pieces_.size();
  records_.push_back(cur_);
  total_ += headerSize(cur_.pairs) + cur_.bodySize;
  return records_.size() - 1;
}

size_t RecordBuilder::size(size_t record) const {
  const Rec& r = records_[record];
  return headerSize(r.pairs) + r.bodySize;
}

size_t RecordBuilder::writeRecord(size_t record, uint8_t* dst) const {
  const Rec& r = records_[record];
  uint8_t* p = dst;
  uint32_t n = r.pairs;
  if (n < 16) {
    *p++ = static_cast<uint8_t>(0x80 | n);
  } else if (n <= 0xffff) {
    *p++ = 0xde;
    *p++ = static_cast<uint8_t>(n >> 8);
    *p++ = static_cast<uint8_t>(n);
  } else {
    *p++ = 0xdf;
    for (int s = 24; s >= 0; s -= 8) *p++ = static_cast<uint8_t>(n >> s);
  }
  for (size_t i = r.firstPiece; i < r.endPiece; ++i) {
    const Piece& pc = pieces_[i];
    std::memcpy(p, pc.ext ? pc.ext : scratch_.data() + pc.off, pc.len);
    p += pc.len;
  }
  return static_cast<size_t>(p - dst);
}

std::vector<uint8_t> RecordBuilder::toVector(size_t record) const {
  std::vector<uint8_t> v(size(record));
  writeRecord(record, v.data());
  return v;
}

BatchEditor::BatchEditor(EventBatch& batch, RecordBuilder& builder) : batch_(batch), builder_(builder) {
  builder_.clear();
  actions_.reserve(batch.events.size());
}

FilterResult BatchEditor::finish() {
  bool changed = dropped_ > 0;
  for (const Action& a : actions_) changed = changed || a.what >= 0 || a.setTime;
  if (!changed) return FilterResult::Unchanged;
  if (dropped_ == batch_.events.size()) {
    batch_.events.clear();
    batch_.bytes = 0;
    return FilterResult::DropAll;
  }
  size_t capacity = 0;
  for (const Action& a : actions_)
    if (a.what >= 0) capacity += builder_.size(static_cast<size_t>(a.what));
  BufferPtr buf;
  if (capacity > 0) buf = makeBuffer(capacity);
  size_t out = 0;
  size_t bytes = batch_.bytes;
  for (size_t i = 0; i < batch_.events.size(); ++i) {
    const Action& a = i < actions_.size() ? actions_[i] : Action{kKeep, 0, false};
    Event ev = batch_.events[i];
    if (a.what == kDrop) {
      bytes -= std::min(bytes, ev.record.size());
      continue;
    }
    if (a.what >= 0) {
      size_t rec = static_cast<size_t>(a.what);
      uint8_t* dst = buf->tail().data();
      size_t n = builder_.writeRecord(rec, dst);
      buf->commit(n);
      bytes = bytes - std::min(bytes, ev.record.size()) + n;
      ev.record = {dst, n};
      written_ += n;
    }
    if (a.setTime) ev.timeNs = a.timeNs;
    batch_.events[out++] = ev;
  }
  batch_.events.resize(out);
  batch_.bytes = bytes;
  if (buf) batch_.owners.push_back(std::move(buf));
  tBytesCopied += written_;
  return FilterResult::Modified;
}

}  // namespace firelane::record
