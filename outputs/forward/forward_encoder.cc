// PackedForward / CompressedPackedForward message building for the forward output.
#include "outputs/forward/forward_encoder.h"

#include "core/codec/base64.h"
#include "core/codec/msgpack_writer.h"
#include "core/codec/record_format.h"
#include "core/proto/forward/handshake.h"

namespace firelane::outputs::forward {

void appendEntries(const BatchSlice& slice, bool timeAsInteger, std::vector<uint8_t>& out) {
  codec::MsgpackWriter w(out);
  const ExtraFields* extra = slice.batch->extra.get();
  for (const Event& e : slice.events()) codec::appendMsgpackEntry(w, e, extra, timeAsInteger);
}

namespace {

void binHeader(std::vector<uint8_t>& out, size_t n) {
  if (n <= 0xff) {
    out.push_back(0xc4);
    out.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xffff) {
    out.push_back(0xc5);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(0xc6);
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(n >> s));
  }
}

}  // namespace

bool encodeChunk(const FlushChunk& chunk, const EncodeOptions& options, std::string& out,
                 std::vector<std::string>& chunkIds) {
  std::vector<uint8_t> entries;
  std::vector<uint8_t> msg;
  std::string compressed;
  size_t i = 0;
  while (i < chunk.slices.size()) {
    const std::string& tag = options.tag.empty() ? chunk.slices[i].tag() : options.tag;
    entries.clear();
    size_t events = 0;
    size_t j = i;
    for (; j < chunk.slices.size(); ++j) {
      if (options.tag.empty() && chunk.slices[j].tag() != tag) break;
      appendEntries(chunk.slices[j], options.timeAsInteger, entries);
      events += chunk.slices[j].end - chunk.slices[j].begin;
    }
    i = j;
    if (events == 0) continue;
    std::string_view payload(reinterpret_cast<const char*>(entries.data()), entries.size());
    if (options.gzip) {
      if (!options.gzip->compress(payload, compressed)) return false;
      payload = compressed;
    }
    msg.clear();
    codec::MsgpackWriter w(msg);
    w.arrayHeader(3);
    w.str(tag);
    binHeader(msg, payload.size());
    w.raw(payload.data(), payload.size());
    w.mapHeader(1 + (options.ack ? 1 : 0) + (options.gzip ? 1 : 0));
    w.str("size");
    w.uint(events);
    if (options.ack) {
      chunkIds.push_back(codec::base64(proto::forward::randomBytes(16)));
      w.str("chunk");
      w.str(chunkIds.back());
    }
    if (options.gzip) {
      w.str("compressed");
      w.str("gzip");
    }
    out.append(reinterpret_cast<const char*>(msg.data()), msg.size());
  }
  return true;
}

}  // namespace firelane::outputs::forward
