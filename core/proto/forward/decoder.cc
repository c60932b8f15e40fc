// Forward protocol v1 decoder: validates one frame in place with MsgpackCursor and emits events as
// views into it (or into a decompressed buffer); refuses oversized frames and gzip/zstd bombs early.
#include "core/proto/forward/decoder.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>

#include "core/proto/msgpack_cursor.h"

namespace firelane::proto::forward {

const char* errorName(DecodeError e) {
  switch (e) {
    case DecodeError::None: return "none";
    case DecodeError::Malformed: return "malformed";
    case DecodeError::RootNotArray: return "root_not_array";
    case DecodeError::BadTag: return "bad_tag";
    case DecodeError::BadTime: return "bad_time";
    case DecodeError::BadRecord: return "bad_record";
    case DecodeError::BadOption: return "bad_option";
    case DecodeError::BadEntries: return "bad_entries";
    case DecodeError::FrameTooLarge: return "frame_too_large";
    case DecodeError::DecompressFailed: return "decompress_failed";
    case DecodeError::DecompressTooLarge: return "decompress_too_large";
    case DecodeError::TooDeep: return "too_deep";
  }
  return "unknown";
}

void encodeAck(std::span<const uint8_t> chunkRaw, std::vector<uint8_t>& out) {
  if (chunkRaw.empty()) return;
  static constexpr uint8_t kPrefix[] = {0x81, 0xa3, 'a', 'c', 'k'};
  out.insert(out.end(), std::begin(kPrefix), std::end(kPrefix));
  out.insert(out.end(), chunkRaw.begin(), chunkRaw.end());
}

namespace {

constexpr int64_t kNsPerSec = 1000000000;
constexpr uint64_t kMaxSeconds = INT64_MAX / kNsPerSec;  // so seconds * 1e9 fits int64
// deflate cannot compress better than about 1032:1, so a gzip payload larger than this is a lie.
constexpr size_t kMaxDeflateRatio = 1032;

enum class Step { Ok, NeedMore, Error };
enum class Compression { None, Gzip, Zstd };

uint32_t loadLe32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24); }

// A per-thread inflate state, reset between payloads instead of re-allocating its 40 KB each time.
struct Inflater {
  z_stream zs{};
  bool ready = false;
  ~Inflater() {
    if (ready) inflateEnd(&zs);
  }
  bool reset() {
    if (ready) return inflateReset(&zs) == Z_OK;
    ready = inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK;
    return ready;
  }
};

struct ZstdDctxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Output of a decompressor: grows by reallocation (events must point into one contiguous buffer)
// and refuses to exceed the cap. `limit` is cap + 1 so that reaching it proves the cap was passed.
class Sink {
 public:
  Sink(size_t firstGuess, size_t cap) : cap_(cap), limit_(cap == SIZE_MAX ? cap : cap + 1) {
    buf_ = makeBuffer(std::clamp<size_t>(firstGuess, 1, limit_));
  }
  // Room to write into, growing if full; empty when the cap is reached.
  std::span<uint8_t> room() {
    if (buf_->available() == 0) {
      if (buf_->capacity() >= limit_) return {};
      const size_t grown =
          buf_->capacity() > limit_ / 2 ? limit_ : std::max<size_t>(buf_->capacity() * 2, 4096);
      BufferPtr bigger = makeBuffer(std::min(grown, limit_));
      bigger->append(buf_->data(), buf_->size());
      buf_ = std::move(bigger);
    }
    return buf_->tail();
  }
  void commit(size_t n) { buf_->commit(n); }
  bool overCap() const { return buf_->size() > cap_; }
  BufferPtr take() { return std::move(buf_); }

 private:
  size_t cap_;
  size_t limit_;
  BufferPtr buf_;
};

// Parses one frame. Events are appended as they are found; Decoder::next rolls them back on failure.
class FrameParser {
 public:
  FrameParser(const Limits& limits, DecodedFrame& frame, std::vector<Event>& events)
      : limits_(limits), frame_(frame), events_(events) {}

  Step parse(std::span<const uint8_t> view);

  DecodeError error = DecodeError::None;
  size_t needed = 0;

 private:
  Step fail(DecodeError e) {
    error = e;
    return Step::Error;
  }
  // Maps a cursor failure. `complete` is set for packed payloads, whose bytes are all present: there
  // running out of bytes means the entries are cut or followed by garbage.
  Step from(const MsgpackCursor& c, MsgpackStatus s, DecodeError wrongType, bool complete) {
    switch (s) {
      case MsgpackStatus::Ok: return Step::Ok;
      case MsgpackStatus::Incomplete:
        if (complete) return fail(DecodeError::BadEntries);
        needed = c.needed() + owed_;
        return Step::NeedMore;
      case MsgpackStatus::Invalid: return fail(DecodeError::Malformed);
      case MsgpackStatus::TooDeep: return fail(DecodeError::TooDeep);
      case MsgpackStatus::WrongType: return fail(wrongType);
    }
    return fail(DecodeError::Malformed);
  }

  Step parseTime(MsgpackCursor& c, int64_t& ns, bool complete, bool allowArray);
  Step parseEntry(MsgpackCursor& c, bool complete);
  Step parseRecord(MsgpackCursor& c, int64_t ns, bool complete);
  Step parseOption(MsgpackCursor& c, Compression& compression);
  Step decodePacked(std::span<const uint8_t> payload, Compression compression);
  Step gunzip(std::span<const uint8_t> in, BufferPtr& out);
  Step unzstd(std::span<const uint8_t> in, BufferPtr& out);

  const Limits& limits_;
  DecodedFrame& frame_;
  std::vector<Event>& events_;
  size_t owed_ = 0;  // bytes that must still follow the object being read (at least 1 per object)
};

Step FrameParser::parse(std::span<const uint8_t> view) {
  MsgpackCursor c(view);
  MsgpackHeader h;
  MsgpackStatus s = c.peek(h);
  if (s != MsgpackStatus::Ok) return from(c, s, DecodeError::Malformed, false);
  if (h.type == MsgpackType::Nil) {
    frame_.mode = Mode::Heartbeat;
    frame_.consumed = 1;
    return Step::Ok;
  }
  if (h.type != MsgpackType::Array) return fail(DecodeError::RootNotArray);
  // Sizes outside 2..4 fit no mode; Malformed rather than BadEntries because the frame's shape,
  // not its entries, is wrong.
  const uint32_t n = h.length;
  if (n < 2 || n > 4) return fail(DecodeError::Malformed);
  c.readHeader(h);

  owed_ = n - 1;
  std::string_view tag;
  if (Step st = from(c, c.readStr(tag), DecodeError::BadTag, false); st != Step::Ok) return st;
  frame_.tag = tag;

  owed_ = n - 2;
  MsgpackHeader second;
  s = c.peek(second);
  if (s != MsgpackStatus::Ok) return from(c, s, DecodeError::Malformed, false);

  Compression compression = Compression::None;
  switch (second.type) {
    case MsgpackType::Str:
    case MsgpackType::Bin: {
      if (n > 3) return fail(DecodeError::Malformed);
      std::span<const uint8_t> payload;
      // The bin header gives the frame's size: refused here if too large, before it is buffered.
      if (Step st = from(c, c.readStrOrBin(payload), DecodeError::Malformed, false); st != Step::Ok)
        return st;
      if (n == 3) {
        owed_ = 0;
        if (Step st = parseOption(c, compression); st != Step::Ok) return st;
      }
      frame_.consumed = c.offset();
      return decodePacked(payload, compression);
    }
    case MsgpackType::Array: {
      // [tag, [[time, record], ...]] (Forward) or [tag, [time, {metadata}], record] (Message in the
      // Fluent Bit 2.1+ event format): told apart by the first element of the array.
      MsgpackCursor probe = c;
      MsgpackHeader inner;
      probe.readHeader(inner);
      const uint32_t count = inner.length;
      bool forward = count == 0;
      if (!forward) {
        s = probe.peek(inner);
        if (s != MsgpackStatus::Ok) return from(probe, s, DecodeError::Malformed, false);
        forward = inner.type == MsgpackType::Array;
      }
      if (!forward) break;  // Message
      if (n > 3) return fail(DecodeError::Malformed);
      frame_.mode = Mode::Forward;
      c = probe;
      const size_t afterEntries = n - 2;
      for (uint32_t i = 0; i < count; ++i) {
        // Each entry still owed takes at least 3 bytes ([, time, {}).
        owed_ = afterEntries + 3 * size_t{count - i - 1};
        if (Step st = parseEntry(c, false); st != Step::Ok) return st;
      }
      if (n == 3) {
        owed_ = 0;
        if (Step st = parseOption(c, compression); st != Step::Ok) return st;
      }
      frame_.consumed = c.offset();
      return Step::Ok;
    }
    default: break;  // Message; a bad time type is reported by parseTime
  }

  if (n < 3) return fail(DecodeError::Malformed);
  frame_.mode = Mode::Message;
  int64_t ns = 0;
  if (Step st = parseTime(c, ns, false, true); st != Step::Ok) return st;
  owed_ = n - 3;
  if (Step st = parseRecord(c, ns, false); st != Step::Ok) return st;
  if (n == 4) {
    owed_ = 0;
    if (Step st = parseOption(c, compression); st != Step::Ok) return st;
  }
  frame_.consumed = c.offset();
  return Step::Ok;
}

Step FrameParser::parseTime(MsgpackCursor& c, int64_t& ns, bool complete, bool allowArray) {
  MsgpackHeader h;
  MsgpackStatus s = c.peek(h);
  if (s != MsgpackStatus::Ok) return from(c, s, DecodeError::BadTime, complete);
  switch (h.type) {
    case MsgpackType::PosInt:
      if (h.uintValue() > kMaxSeconds) return fail(DecodeError::BadTime);
      ns = static_cast<int64_t>(h.uintValue()) * kNsPerSec;
      c.readHeader(h);
      return Step::Ok;
    case MsgpackType::Ext: {
      // Refused on the header alone, so a wrong ext never waits for its payload.
      if (h.extType != 0 || h.length != 8) return fail(DecodeError::BadTime);
      int8_t type;
      std::span<const uint8_t> d;
      if (Step st = from(c, c.readExt(type, d), DecodeError::BadTime, complete); st != Step::Ok) return st;
      // Nanoseconds >= 1e9 are not rejected: both halves are uint32, so the sum cannot overflow,
      // and dropping a connection over a sender's rounding quirk would lose more than it saves.
      ns = int64_t{detail::loadBe32(d.data())} * kNsPerSec + detail::loadBe32(d.data() + 4);
      return Step::Ok;
    }
    case MsgpackType::Float32:
    case MsgpackType::Float64: {
      const double v = h.floatValue();
      if (!(v >= 0) || v >= static_cast<double>(kMaxSeconds)) return fail(DecodeError::BadTime);
      const double whole = std::floor(v);
      ns = static_cast<int64_t>(whole) * kNsPerSec + std::llround((v - whole) * 1e9);
      c.readHeader(h);
      return Step::Ok;
    }
    case MsgpackType::Array: {
      if (!allowArray || h.length != 2) return fail(DecodeError::BadTime);
      c.readHeader(h);
      if (Step st = parseTime(c, ns, complete, false); st != Step::Ok) return st;
      s = c.peek(h);
      if (s != MsgpackStatus::Ok) return from(c, s, DecodeError::BadTime, complete);
      if (h.type != MsgpackType::Map) return fail(DecodeError::BadTime);
      return from(c, c.skip(limits_.maxDepth), DecodeError::BadTime, complete);
    }
    default: return fail(DecodeError::BadTime);
  }
}

Step FrameParser::parseRecord(MsgpackCursor& c, int64_t ns, bool complete) {
  MsgpackHeader h;
  MsgpackStatus s = c.peek(h);
  if (s != MsgpackStatus::Ok) return from(c, s, DecodeError::BadRecord, complete);
  if (h.type != MsgpackType::Map) return fail(DecodeError::BadRecord);
  std::span<const uint8_t> record;
  if (Step st = from(c, c.skip(record, limits_.maxDepth), DecodeError::BadRecord, complete); st != Step::Ok) {
    return st;
  }
  events_.push_back(Event{ns, record});
  return Step::Ok;
}

Step FrameParser::parseEntry(MsgpackCursor& c, bool complete) {
  uint32_t n;
  if (Step st = from(c, c.readArray(n), DecodeError::BadEntries, complete); st != Step::Ok) return st;
  if (n != 2) return fail(DecodeError::BadEntries);
  int64_t ns = 0;
  if (Step st = parseTime(c, ns, complete, true); st != Step::Ok) return st;
  return parseRecord(c, ns, complete);
}

Step FrameParser::parseOption(MsgpackCursor& c, Compression& compression) {
  uint32_t pairs;
  if (Step st = from(c, c.readMap(pairs), DecodeError::BadOption, false); st != Step::Ok) return st;
  for (uint32_t i = 0; i < pairs; ++i) {
    owed_ = 2 * size_t{pairs - i} - 1;
    MsgpackHeader kh;
    MsgpackStatus s = c.peek(kh);
    if (s != MsgpackStatus::Ok) return from(c, s, DecodeError::BadOption, false);
    std::string_view key;
    if (kh.type == MsgpackType::Str) {
      if (Step st = from(c, c.readStr(key), DecodeError::BadOption, false); st != Step::Ok) return st;
    } else if (Step st = from(c, c.skip(limits_.maxDepth), DecodeError::BadOption, false); st != Step::Ok) {
      return st;
    }
    owed_ = 2 * size_t{pairs - i - 1};

    if (key == "chunk") {
      std::span<const uint8_t> raw;
      if (Step st = from(c, c.skip(raw, limits_.maxDepth), DecodeError::BadOption, false); st != Step::Ok) {
        return st;
      }
      frame_.chunkRaw = raw;
    } else if (key == "compressed") {
      std::string_view v;
      if (Step st = from(c, c.readStr(v), DecodeError::BadOption, false); st != Step::Ok) return st;
      if (v == "gzip") {
        compression = Compression::Gzip;
      } else if (v == "zstd") {
        compression = Compression::Zstd;
      } else if (v == "text") {
        compression = Compression::None;
      } else {
        return fail(DecodeError::BadOption);
      }
    } else if (key == "fluent_signal") {
      int64_t v;
      if (Step st = from(c, c.readInt(v), DecodeError::BadOption, false); st != Step::Ok) return st;
      if (v < 0 || v > 2) return fail(DecodeError::BadOption);
      frame_.fluentSignal = static_cast<uint8_t>(v);
    } else {
      // "size" is informational: a sender's wrong count or type is not worth a closed connection.
      if (key == "size") {
        MsgpackHeader vh;
        if (c.peek(vh) == MsgpackStatus::Ok && vh.type == MsgpackType::PosInt &&
            vh.uintValue() <= INT64_MAX) {
          frame_.size = static_cast<int64_t>(vh.uintValue());
        }
      }
      if (Step st = from(c, c.skip(limits_.maxDepth), DecodeError::BadOption, false); st != Step::Ok)
        return st;
    }
  }
  return Step::Ok;
}

Step FrameParser::decodePacked(std::span<const uint8_t> payload, Compression compression) {
  std::span<const uint8_t> entries = payload;
  frame_.mode = Mode::PackedForward;
  if (compression != Compression::None) {
    frame_.mode = Mode::CompressedPackedForward;
    BufferPtr out;
    const Step st = compression == Compression::Gzip ? gunzip(payload, out) : unzstd(payload, out);
    if (st != Step::Ok) return st;
    entries = out->bytes();
    frame_.decompressed = std::move(out);
  }
  MsgpackCursor c(entries);
  while (!c.atEnd()) {
    if (Step st = parseEntry(c, true); st != Step::Ok) return st;
  }
  return Step::Ok;
}

Step FrameParser::gunzip(std::span<const uint8_t> in, BufferPtr& out) {
  const size_t cap = limits_.maxDecompressedBytes;
  // A gzip member ends with ISIZE (its size mod 2^32): exact for the usual single member, so one
  // allocation and no copy. Bounded by what deflate can produce from these bytes, so a lying
  // trailer cannot make a tiny frame allocate the whole cap.
  size_t guess = in.size() * 4;
  if (in.size() >= 18) guess = size_t{loadLe32(in.data() + in.size() - 4)} + 1;
  guess = std::min(guess, in.size() * kMaxDeflateRatio + 64);
  Sink sink(guess, cap);
  if (in.empty()) {
    out = sink.take();
    return Step::Ok;
  }

  thread_local Inflater inflater;
  if (!inflater.reset()) return fail(DecodeError::DecompressFailed);
  z_stream& zs = inflater.zs;
  zs.avail_in = 0;  // inflateReset keeps the previous payload's input pointer: never reuse it
  const uint8_t* next = in.data();
  size_t left = in.size();
  for (;;) {
    std::span<uint8_t> room = sink.room();
    if (room.empty()) return fail(DecodeError::DecompressTooLarge);
    if (zs.avail_in == 0 && left > 0) {
      zs.next_in = const_cast<Bytef*>(next);
      zs.avail_in = static_cast<uInt>(std::min<size_t>(left, UINT_MAX));
      next += zs.avail_in;
      left -= zs.avail_in;
    }
    zs.next_out = room.data();
    zs.avail_out = static_cast<uInt>(std::min<size_t>(room.size(), UINT_MAX));
    const uInt before = zs.avail_out;
    const int r = inflate(&zs, Z_NO_FLUSH);
    sink.commit(before - zs.avail_out);
    if (r == Z_STREAM_END) {
      if (zs.avail_in == 0 && left == 0) break;
      // Another gzip member follows (senders may concatenate them).
      if (inflateReset(&zs) != Z_OK) return fail(DecodeError::DecompressFailed);
      continue;
    }
    if (r == Z_OK) continue;
    // Z_BUF_ERROR with room left means the input ended inside a member: truncated.
    if (r == Z_BUF_ERROR && zs.avail_out == 0) continue;
    return fail(DecodeError::DecompressFailed);
  }
  if (sink.overCap()) return fail(DecodeError::DecompressTooLarge);
  out = sink.take();
  return Step::Ok;
}

Step FrameParser::unzstd(std::span<const uint8_t> in, BufferPtr& out) {
  const size_t cap = limits_.maxDecompressedBytes;
  size_t guess = in.size() * 4;
  const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    guess = static_cast<size_t>(std::min<unsigned long long>(declared, SIZE_MAX - 1)) + 1;
  }
  Sink sink(guess, cap);
  if (in.empty()) {
    out = sink.take();
    return Step::Ok;
  }

  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDctxDeleter> dctx(ZSTD_createDCtx());
  if (!dctx) return fail(DecodeError::DecompressFailed);
  ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_only);
  // The window a frame asks for is allocated (once per thread): bound it by the output cap, but
  // not below 8 MB (streaming compressors declare windows larger than their content).
  int windowLog = 23;
  while (windowLog < 27 && (size_t{1} << windowLog) < cap) ++windowLog;
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, windowLog);

  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  for (;;) {
    std::span<uint8_t> room = sink.room();
    if (room.empty()) return fail(DecodeError::DecompressTooLarge);
    ZSTD_outBuffer ob{room.data(), room.size(), 0};
    const size_t inBefore = ib.pos;
    const size_t r = ZSTD_decompressStream(dctx.get(), &ob, &ib);
    sink.commit(ob.pos);
    if (ZSTD_isError(r)) return fail(DecodeError::DecompressFailed);
    if (ib.pos == ib.size) {
      if (r == 0) break;  // the last frame is complete and flushed
      // Input used up mid-frame while output room remained: truncated.
      if (ob.pos < ob.size) return fail(DecodeError::DecompressFailed);
    } else if (ib.pos == inBefore && ob.pos == 0) {
      return fail(DecodeError::DecompressFailed);  // no progress possible
    }
  }
  if (sink.overCap()) return fail(DecodeError::DecompressTooLarge);
  out = sink.take();
  return Step::Ok;
}

}  // namespace

DecodeStatus Decoder::next(std::span<const uint8_t> input, DecodedFrame& frame, std::vector<Event>& events,
                           DecodeError& error) const {
  frame = DecodedFrame{};
  error = DecodeError::None;
  const size_t mark = events.size();
  // Parsing never looks past maxFrameBytes: a frame still incomplete there is too large, however
  // much more the caller has buffered.
  std::span<const uint8_t> view = input.first(std::min(input.size(), limits_.maxFrameBytes));
  FrameParser parser(limits_, frame, events);
  const Step st = parser.parse(view);
  if (st == Step::Ok) return DecodeStatus::Ok;

  events.erase(events.begin() + static_cast<std::ptrdiff_t>(mark), events.end());
  frame = DecodedFrame{};
  if (st == Step::NeedMore) {
    const size_t need = std::max(parser.needed, view.size() + 1);
    if (need > limits_.maxFrameBytes) {
      error = DecodeError::FrameTooLarge;
      return DecodeStatus::Error;
    }
    frame.needed = need;
    return DecodeStatus::NeedMore;
  }
  error = parser.error;
  return DecodeStatus::Error;
}

}  // namespace firelane::proto::forward
