// libFuzzer target for the spool recovery reader: the input becomes a segment file (and optionally
// a cursor file) in a scratch folder, then Spool::open scans and repairs it. Whatever it found must
// read back, the spool must take and return a new batch, and a second open must find nothing left
// to repair. The raw input also goes through the frame/segment header and payload decoders.
//
// Input: byte 0 = flags, then the segment file's bytes.
//   bit 0: write a valid segment header over the first 32 bytes (reach the frame scanner)
//   bit 1: recompute the checksums of every frame header found (reach the payload decoder)
//   bit 2: the 16 bytes after the flags are a cursor (seq, offset) for output 0, checksummed
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/common/log.h"
#include "core/storage/segment_format.h"
#include "core/storage/spool.h"
#include "tests/fuzz/fuzz_util.h"

namespace firelane::fuzz {
namespace {

ScratchDir& scratch() {
  static ScratchDir dir("firelane-fuzz-spool-");
  return dir;
}

void clearDir(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    ::closedir(d);
    for (const auto& n : names) ::unlink((dir + "/" + n).c_str());
  }
}

void writeFile(const std::string& path, const uint8_t* data, size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) __builtin_trap();
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) __builtin_trap();
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

void putLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t getLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

// Gives every frame that starts with the magic correct checksums (its length clamped to the file).
void fixFrames(std::vector<uint8_t>& file) {
  size_t off = storage::kSegmentHeaderSize;
  while (off + storage::kFrameHeaderSize <= file.size()) {
    uint8_t* h = file.data() + off;
    if (getLe32(h) != storage::kFrameMagic) {
      ++off;
      continue;
    }
    size_t room = file.size() - off - storage::kFrameHeaderSize;
    uint32_t len = std::min<uint32_t>(getLe32(h + 4), static_cast<uint32_t>(room));
    putLe32(h + 4, len);
    putLe32(h + 16, storage::crc32Of({h + storage::kFrameHeaderSize, len}));
    putLe32(h + 20, storage::crc32Of({h, 20}));
    off += storage::kFrameHeaderSize + len;
  }
}

void touchBatch(const EventBatch& b) {
  volatile uint8_t sink = 0;
  for (const Event& e : b.events)
    for (uint8_t byte : e.record) sink = sink ^ byte;
  for (char c : b.tag) sink = sink ^ static_cast<uint8_t>(c);
  (void)sink;
}

}  // namespace

int spoolOneInput(const uint8_t* data, size_t size) {
  log::setLevel(log::Level::Off);
  const std::string& dir = scratch().path();
  if (dir.empty() || size < 1 || size > (1u << 20)) return 0;
  const uint8_t flags = data[0];
  std::span<const uint8_t> rest(data + 1, size - 1);

  // The pure decoders on the raw bytes.
  storage::decodeSegmentHeader(rest);
  storage::decodeFrameHeader(rest);
  {
    BufferPtr payload = makeBuffer(rest.empty() ? 1 : rest.size());
    payload->append(rest.data(), rest.size());
    if (auto b = storage::decodeBatch(payload)) touchBatch(*b);
  }

  clearDir(dir);
  if ((flags & 4) && rest.size() >= 16) {
    uint8_t cursor[20];
    std::memcpy(cursor, rest.data(), 16);
    putLe32(cursor + 16, storage::crc32Of({cursor, 16}));
    writeFile(dir + "/cursor-out0", cursor, sizeof(cursor));
    rest = rest.subspan(16);
  }
  std::vector<uint8_t> file(rest.begin(), rest.end());
  if (flags & 1) {
    if (file.size() < storage::kSegmentHeaderSize) file.resize(storage::kSegmentHeaderSize);
    storage::encodeSegmentHeader({0, 1}, file.data());
  }
  if (flags & 2) fixFrames(file);
  writeFile(dir + "/seg-0000000000000001.log", file.data(), file.size());

  storage::SpoolOptions options;
  options.dir = dir;
  options.outputs = {"out0", "out1"};
  uint64_t recovered = 0;
  {
    auto spool = storage::Spool::open(options);
    if (!spool) __builtin_trap();  // damage is repaired or set aside, never an error
    recovered = (*spool)->stats().recoveredBatches;
    for (size_t o = 0; o < 2; ++o) {
      for (const auto& entry : (*spool)->backlog(o)) {
        if (auto b = (*spool)->read(entry.pos)) touchBatch(*b);
      }
    }
    // Still usable: a new batch goes in and comes back.
    std::vector<uint8_t> rec = {0x81, 0xa3, 'l', 'o', 'g', 0xa2, 'h', 'i'};
    BufferPtr buf = makeBuffer(rec.size());
    buf->append(rec.data(), rec.size());
    EventBatch batch;
    batch.tag = "fuzz";
    batch.add(1, {buf->data(), rec.size()});
    batch.owners.push_back(buf);
    auto put = (*spool)->append(batch, 3);
    if (put.status != storage::AppendStatus::Ok) __builtin_trap();
    auto back = (*spool)->read(put.pos);
    if (!back || back->events.size() != 1 || back->tag != "fuzz" ||
        !std::equal(rec.begin(), rec.end(), back->events[0].record.begin(), back->events[0].record.end()))
      __builtin_trap();
    if (!(*spool)->backlog(0).empty()) (*spool)->delivered(0, (*spool)->backlog(0).front().pos);
  }
  {
    // Recovery repaired everything it cut: a second scan finds no torn tail and no bad header.
    auto again = storage::Spool::open(options);
    if (!again) __builtin_trap();
    const auto& st = (*again)->stats();
    if (st.tornBytes != 0 || st.corruptSegments != 0) __builtin_trap();
    if (st.recoveredBatches < 1 || st.recoveredBatches > recovered + 1) __builtin_trap();
  }
  return 0;
}

}  // namespace firelane::fuzz

FIRELANE_FUZZ_ENTRY(firelane::fuzz::spoolOneInput)
