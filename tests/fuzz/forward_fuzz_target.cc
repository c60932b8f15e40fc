// libFuzzer entry for the forward protocol: the frame decoder (as the input runs it, frame after
// frame, with a small frame limit) and the HELO / PING / PONG parsers. Built as a fuzzer with
// -DFIRELANE_FUZZ=ON (clang); in the normal build the corpus replay test calls it directly.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/proto/forward/decoder.h"
#include "core/proto/forward/handshake.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace pf = firelane::proto::forward;
  std::span<const uint8_t> in(data, size);
  pf::Limits limits;
  limits.maxFrameBytes = 1 << 20;
  limits.maxDecompressedBytes = 4 << 20;
  pf::Decoder decoder(limits);
  std::vector<firelane::Event> events;
  for (int frames = 0; !in.empty() && frames < 4096; ++frames) {
    pf::DecodedFrame frame;
    pf::DecodeError err = pf::DecodeError::None;
    events.clear();
    if (decoder.next(in, frame, events, err) != pf::DecodeStatus::Ok) break;
    if (frame.consumed == 0 || frame.consumed > in.size()) __builtin_trap();  // the decoder must progress
    for (const auto& e : events) {
      // Records are views inside the input or the decompressed buffer.
      if (e.record.empty()) __builtin_trap();
    }
    if (!frame.chunkRaw.empty()) {
      std::vector<uint8_t> ack;
      pf::encodeAck(frame.chunkRaw, ack);
    }
    in = in.subspan(frame.consumed);
  }
  std::span<const uint8_t> all(data, size);
  size_t used = 0;
  pf::Helo helo;
  pf::Ping ping;
  pf::Pong pong;
  if (pf::parseHelo(all, helo, used) == pf::ParseStatus::Ok && used > size) __builtin_trap();
  if (pf::parsePing(all, ping, used) == pf::ParseStatus::Ok) {
    if (used > size) __builtin_trap();
    pf::checkPing(ping, "nonce", "", "key", {});
  }
  if (pf::parsePong(all, pong, used) == pf::ParseStatus::Ok && used > size) __builtin_trap();
  return 0;
}
