// Filesystem spool: segment writing with rollback on failed writes, recovery scan, cursors,
// garbage collection of delivered segments and the disk bound.
#include "core/storage/spool.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common/log.h"

namespace firelane::storage {

namespace {

std::string errnoText(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

Status mkdirs(const std::string& dir) {
  std::string cur;
  size_t i = 0;
  while (i <= dir.size()) {
    size_t slash = dir.find('/', i);
    if (slash == std::string::npos) slash = dir.size();
    cur = dir.substr(0, slash);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0750) != 0 && errno != EEXIST) {
      return Status::error(errnoText("cannot create", cur, errno));
    }
    i = slash + 1;
  }
  return {};
}

bool preadAll(int fd, uint8_t* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

// Writes all of `bytes` at `off`; returns 0 or the errno of the failure.
int pwriteAll(int fd, const uint8_t* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return EIO;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return 0;
}

void syncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

struct ScannedFrame {
  uint64_t offset;
  FrameHeader header;
};

// Scans a segment held in memory. validEnd: where the last intact frame ends (the tail after it is
// torn and is cut). Frames with a bad payload checksum are skipped; a damaged header is skipped by
// searching for the next intact frame.
struct ScanResult {
  std::vector<ScannedFrame> frames;
  uint64_t validEnd = kSegmentHeaderSize;
  uint64_t corrupt = 0;
};

bool intactAt(std::span<const uint8_t> file, uint64_t off, FrameHeader* out) {
  if (file.size() - off < kFrameHeaderSize) return false;
  auto h = decodeFrameHeader(file.subspan(off, kFrameHeaderSize));
  if (!h || h->length > file.size() - off - kFrameHeaderSize) return false;
  *out = *h;
  return true;
}

ScanResult scanFrames(std::span<const uint8_t> file) {
  ScanResult r;
  uint64_t off = kSegmentHeaderSize;
  while (off < file.size()) {
    FrameHeader h;
    if (intactAt(file, off, &h)) {
      auto payload = file.subspan(off + kFrameHeaderSize, h.length);
      if (crc32Of(payload) == h.payloadCrc) {
        r.frames.push_back({off, h});
      } else {
        ++r.corrupt;
      }
      off += kFrameHeaderSize + h.length;
      r.validEnd = off;
      continue;
    }
    // Damaged or incomplete header: resynchronise on the next frame whose header and payload
    // both check out. None: everything from `off` is a torn tail.
    uint64_t next = off + 1;
    bool found = false;
    for (; next + kFrameHeaderSize <= file.size(); ++next) {
      if (file[next] != (kFrameMagic & 0xff)) continue;
      FrameHeader nh;
      if (intactAt(file, next, &nh) &&
          crc32Of(file.subspan(next + kFrameHeaderSize, nh.length)) == nh.payloadCrc) {
        found = true;
        break;
      }
    }
    if (!found) break;
    ++r.corrupt;
    off = next;
  }
  return r;
}

void putCursor(uint8_t out[20], SpoolPosition p) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(p.seq >> (8 * i));
  for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<uint8_t>(p.offset >> (8 * i));
  uint32_t crc = crc32Of({out, 16});
  for (int i = 0; i < 4; ++i) out[16 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

std::optional<SpoolPosition> getCursor(const uint8_t in[20]) {
  uint32_t crc = 0;
  for (int i = 3; i >= 0; --i) crc = (crc << 8) | in[16 + i];
  if (crc != crc32Of({in, 16})) return std::nullopt;
  SpoolPosition p;
  for (int i = 7; i >= 0; --i) p.seq = (p.seq << 8) | in[i];
  for (int i = 7; i >= 0; --i) p.offset = (p.offset << 8) | in[8 + i];
  return p;
}

// Output names become file names: keep [A-Za-z0-9._-], replace the rest.
std::string fileSafe(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

}  // namespace

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {
  size_t n = options_.outputs.size();
  outstanding_.resize(n);
  pendingBytes_.resize(n);
  backlog_.resize(n);
  persisted_.resize(n);
  ahead_.resize(n);
  aheadDirty_.resize(n);
  cursorFds_.assign(n, -1);
}

Spool::~Spool() {
  persistCursors();
  if (activeFd_ >= 0) ::close(activeFd_);
  for (int fd : cursorFds_)
    if (fd >= 0) ::close(fd);
}

std::string Spool::segmentPath(uint64_t seq) const {
  char name[40];
  std::snprintf(name, sizeof(name), "/seg-%016" PRIx64 ".log", seq);
  return options_.dir + name;
}

std::string Spool::cursorPath(size_t output) const {
  return options_.dir + "/cursor-" + fileSafe(options_.outputs[output]);
}

Result<std::unique_ptr<Spool>> Spool::open(SpoolOptions options) {
  if (options.outputs.size() > 64) return Status::error("storage: at most 64 outputs per spool");
  if (options.dir.empty()) return Status::error("storage: empty spool folder");
  std::unique_ptr<Spool> s(new Spool(std::move(options)));
  if (Status st = mkdirs(s->options_.dir); !st) return st;
  if (Status st = s->recover(); !st) return st;
  return s;
}

Status Spool::recover() {
  DIR* d = ::opendir(options_.dir.c_str());
  if (!d) return Status::error(errnoText("cannot open", options_.dir, errno));
  std::vector<uint64_t> seqs;
  while (dirent* e = ::readdir(d)) {
    unsigned long long seq = 0;
    char tail[8] = {0};
    if (std::sscanf(e->d_name, "seg-%16llx.%7s", &seq, tail) == 2 && std::strcmp(tail, "log") == 0 &&
        std::strlen(e->d_name) == 24) {
      seqs.push_back(seq);
    }
  }
  ::closedir(d);
  std::sort(seqs.begin(), seqs.end());

  std::vector<SpoolPosition> cursors(options_.outputs.size());
  uint64_t maxSeq = 0;
  for (size_t o = 0; o < options_.outputs.size(); ++o) {
    int fd = ::open(cursorPath(o).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // Cursor record (20 bytes), then optionally: u32 count, count x (u64 seq, u64 offset), u32 crc.
    uint8_t buf[20];
    if (preadAll(fd, buf, sizeof(buf), 0)) {
      if (auto c = getCursor(buf)) cursors[o] = *c;
    }
    uint8_t nb[4];
    if (preadAll(fd, nb, 4, 20)) {
      uint32_t n = nb[0] | nb[1] << 8 | nb[2] << 16 | static_cast<uint32_t>(nb[3]) << 24;
      if (n <= kMaxAhead) {
        std::vector<uint8_t> list(4 + size_t{n} * 16 + 4);
        if (preadAll(fd, list.data(), list.size(), 20)) {
          size_t body = list.size() - 4;
          uint32_t crc = 0;
          for (int i = 3; i >= 0; --i) crc = (crc << 8) | list[body + static_cast<size_t>(i)];
          if (crc == crc32Of({list.data(), body})) {
            for (uint32_t i = 0; i < n; ++i) {
              SpoolPosition p;
              for (int b = 7; b >= 0; --b) p.seq = (p.seq << 8) | list[4 + i * 16 + static_cast<size_t>(b)];
              for (int b = 7; b >= 0; --b) p.offset = (p.offset << 8) | list[12 + i * 16 + static_cast<size_t>(b)];
              if (cursors[o] < p) ahead_[o].insert(p);
            }
          }
        }
      }
    }
    ::close(fd);
    persisted_[o] = cursors[o];
    maxSeq = std::max(maxSeq, cursors[o].seq);
  }

  for (uint64_t seq : seqs) {
    maxSeq = std::max(maxSeq, seq);
    std::string path = segmentPath(seq);
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Status::error(errnoText("cannot open", path, errno));
    struct stat st{};
    ::fstat(fd, &st);
    std::vector<uint8_t> file(static_cast<size_t>(st.st_size));
    if (!file.empty() && !preadAll(fd, file.data(), file.size(), 0)) {
      int err = errno;
      ::close(fd);
      return Status::error(errnoText("cannot read", path, err));
    }
    if (file.size() < kSegmentHeaderSize) {
      // Crashed while creating it: nothing was ever acknowledged from it.
      stats_.tornBytes += file.size();
      ::close(fd);
      ::unlink(path.c_str());
      continue;
    }
    auto header = decodeSegmentHeader(file);
    if (!header || header->seq != seq) {
      ::close(fd);
      ++stats_.corruptSegments;
      std::string aside = path + ".corrupt";
      ::rename(path.c_str(), aside.c_str());
      FL_WARN("storage: %s has a damaged header; moved aside to %s", path.c_str(), aside.c_str());
      continue;
    }
    ScanResult scan = scanFrames(file);
    if (scan.validEnd < file.size()) {
      stats_.tornBytes += file.size() - scan.validEnd;
      if (::ftruncate(fd, static_cast<off_t>(scan.validEnd)) != 0) {
        int err = errno;
        ::close(fd);
        return Status::error(errnoText("cannot cut the torn tail of", path, err));
      }
    }
    ::close(fd);
    if (scan.corrupt > 0) {
      FL_WARN("storage: %s: skipped %" PRIu64 " corrupt batch(es)", path.c_str(), scan.corrupt);
    }
    stats_.corruptBatches += scan.corrupt;
    stats_.recoveredBatches += scan.frames.size();
    segments_[seq] = Segment{path, scan.validEnd};
    stats_.bytesOnDisk += scan.validEnd;
    for (const ScannedFrame& f : scan.frames) {
      SpoolPosition pos{seq, f.offset};
      for (size_t o = 0; o < options_.outputs.size(); ++o) {
        if ((f.header.outputMask >> o & 1) == 0 || pos < cursors[o] || ahead_[o].count(pos)) continue;
        uint32_t frameBytes = static_cast<uint32_t>(kFrameHeaderSize + f.header.length);
        outstanding_[o].emplace(pos, frameBytes);
        pendingBytes_[o] += frameBytes;
        backlog_[o].push_back({pos, f.header.length});
      }
    }
  }
  nextSeq_ = maxSeq + 1;
  stats_.segments = segments_.size();
  collect();
  return {};
}

SpoolPosition Spool::end() const {
  if (activeSeq_ != 0) return {activeSeq_, segments_.at(activeSeq_).size};
  return {nextSeq_, 0};
}

SpoolPosition Spool::cursor(size_t output) const {
  const auto& o = outstanding_[output];
  return o.empty() ? end() : o.begin()->first;
}

std::optional<SpoolPosition> Spool::oldest(size_t output) const {
  const auto& o = outstanding_[output];
  if (o.empty()) return std::nullopt;
  return o.begin()->first;
}

Status Spool::openActive() {
  uint64_t seq = nextSeq_;
  std::string path = segmentPath(seq);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return Status::error(errnoText("cannot create", path, errno));
  uint8_t h[kSegmentHeaderSize];
  encodeSegmentHeader({options_.worker, seq}, h);
  int err = pwriteAll(fd, h, sizeof(h), 0);
  if (err == 0 && options_.syncFull && ::fdatasync(fd) != 0) err = errno;
  if (err != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return Status::error(errnoText("cannot write", path, err));
  }
  if (options_.syncFull) syncDir(options_.dir);
  ++nextSeq_;
  activeFd_ = fd;
  activeSeq_ = seq;
  segments_[seq] = Segment{path, kSegmentHeaderSize};
  stats_.bytesOnDisk += kSegmentHeaderSize;
  stats_.segments = segments_.size();
  return {};
}

void Spool::sealActive() {
  if (activeFd_ >= 0) ::close(activeFd_);
  activeFd_ = -1;
  activeSeq_ = 0;
}

AppendResult Spool::append(const EventBatch& batch, uint64_t outputMask) {
  frame_.assign(kFrameHeaderSize, 0);
  encodeBatchTo(batch, frame_);
  size_t payload = frame_.size() - kFrameHeaderSize;
  if (payload > kMaxPayload) return {AppendStatus::IoError, {}, "storage: batch too large to spool"};
  FrameHeader fh{static_cast<uint32_t>(payload), outputMask,
                 crc32Of({frame_.data() + kFrameHeaderSize, payload})};
  encodeFrameHeader(fh, frame_.data());

  bool rotate = activeSeq_ != 0 && segments_[activeSeq_].size > kSegmentHeaderSize &&
                segments_[activeSeq_].size + frame_.size() > options_.segmentBytes;
  uint64_t need = frame_.size() + ((rotate || activeSeq_ == 0) ? kSegmentHeaderSize : 0);
  if (options_.totalLimit != 0 && stats_.bytesOnDisk + need > options_.totalLimit) {
    return {AppendStatus::Full, {}, {}};
  }
  if (rotate) {
    sealActive();
    collect();  // the sealed segment may already be fully delivered
  }
  if (activeSeq_ == 0) {
    if (Status st = openActive(); !st) {
      ++stats_.ioErrors;
      return {AppendStatus::IoError, {}, st.message()};
    }
  }
  Segment& seg = segments_[activeSeq_];
  SpoolPosition pos{activeSeq_, seg.size};

  int err = 0;
  std::optional<WriteFault> fault = options_.faultHook ? options_.faultHook() : std::nullopt;
  if (fault) {
    size_t n = std::min(fault->writeBytes, frame_.size());
    err = pwriteAll(activeFd_, frame_.data(), n, seg.size);
    if (err == 0) err = fault->err;
  } else {
    err = pwriteAll(activeFd_, frame_.data(), frame_.size(), seg.size);
  }
  if (err == 0 && options_.syncFull && ::fdatasync(activeFd_) != 0) err = errno;
  if (err != 0) {
    ++stats_.ioErrors;
    // Cut whatever part of the frame reached the file (if even that fails, recovery cuts the
    // partial frame as a torn tail), then start a new segment with the next append: after a
    // failed fdatasync the page cache cannot be trusted, and a segment that hit a file-size or
    // quota limit would fail for ever while a new file succeeds. A segment holding only its
    // header is kept (no pile of empty files while the disk stays full).
    bool cut = ::ftruncate(activeFd_, static_cast<off_t>(seg.size)) == 0;
    if (!cut || options_.syncFull || seg.size > kSegmentHeaderSize) {
      sealActive();
      collect();
    }
    return {AppendStatus::IoError, {}, errnoText("cannot append to", seg.path, err)};
  }
  seg.size += frame_.size();
  stats_.bytesOnDisk += frame_.size();
  ++stats_.appendedBatches;
  for (size_t o = 0; o < outstanding_.size(); ++o) {
    if ((outputMask >> o & 1) == 0) continue;
    outstanding_[o].emplace(pos, static_cast<uint32_t>(frame_.size()));
    pendingBytes_[o] += frame_.size();
  }
  return {AppendStatus::Ok, pos, {}};
}

Result<EventBatch> Spool::read(SpoolPosition pos) const {
  auto it = segments_.find(pos.seq);
  if (it == segments_.end()) return Status::error("storage: segment gone");
  int fd = ::open(it->second.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error(errnoText("cannot open", it->second.path, errno));
  uint8_t hb[kFrameHeaderSize];
  std::optional<FrameHeader> h;
  if (preadAll(fd, hb, sizeof(hb), pos.offset)) h = decodeFrameHeader({hb, sizeof(hb)});
  if (!h) {
    ::close(fd);
    return Status::error("storage: damaged frame header in " + it->second.path);
  }
  BufferPtr buf = makeBuffer(h->length == 0 ? 1 : h->length);
  bool ok = preadAll(fd, buf->tail().data(), h->length, pos.offset + kFrameHeaderSize);
  ::close(fd);
  if (!ok) return Status::error("storage: short read in " + it->second.path);
  buf->commit(h->length);
  if (crc32Of(buf->bytes()) != h->payloadCrc) {
    return Status::error("storage: checksum mismatch in " + it->second.path);
  }
  auto batch = decodeBatch(buf);
  if (!batch) return Status::error("storage: malformed batch in " + it->second.path);
  return std::move(*batch);
}

void Spool::delivered(size_t output, SpoolPosition pos) {
  if (output >= outstanding_.size()) return;
  auto it = outstanding_[output].find(pos);
  if (it == outstanding_[output].end()) return;
  pendingBytes_[output] -= std::min<uint64_t>(it->second, pendingBytes_[output]);
  outstanding_[output].erase(it);
  SpoolPosition c = cursor(output);
  auto& ahead = ahead_[output];
  if (c < pos) ahead.insert(pos);
  ahead.erase(ahead.begin(), ahead.lower_bound(c));
  aheadDirty_[output] = true;
  collect();
}

void Spool::collect() {
  uint64_t keepFrom = end().seq;
  for (size_t o = 0; o < outstanding_.size(); ++o) keepFrom = std::min(keepFrom, cursor(o).seq);
  while (!segments_.empty() && segments_.begin()->first < keepFrom &&
         segments_.begin()->first != activeSeq_) {
    removeSegment(segments_.begin());
  }
}

void Spool::removeSegment(std::map<uint64_t, Segment>::iterator it) {
  ::unlink(it->second.path.c_str());
  stats_.bytesOnDisk -= std::min(stats_.bytesOnDisk, it->second.size);
  ++stats_.deletedSegments;
  segments_.erase(it);
  stats_.segments = segments_.size();
}

size_t Spool::dropOldest() {
  if (segments_.empty()) return 0;
  auto it = segments_.begin();
  uint64_t seq = it->first;
  if (seq == activeSeq_) sealActive();
  std::set<SpoolPosition> dropped;
  for (size_t o = 0; o < outstanding_.size(); ++o) {
    auto& out = outstanding_[o];
    while (!out.empty() && out.begin()->first.seq <= seq) {
      dropped.insert(out.begin()->first);
      pendingBytes_[o] -= std::min<uint64_t>(out.begin()->second, pendingBytes_[o]);
      out.erase(out.begin());
    }
  }
  for (auto& b : backlog_) {
    b.erase(std::remove_if(b.begin(), b.end(), [&](const SpoolEntry& e) { return e.pos.seq <= seq; }),
            b.end());
  }
  removeSegment(it);
  stats_.droppedBatches += dropped.size();
  if (!dropped.empty()) {
    FL_WARN("storage: %s: disk limit reached; dropped %zu undelivered batch(es) (oldest first)",
              options_.dir.c_str(), dropped.size());
  }
  collect();
  return dropped.size();
}

Status Spool::persistCursors() {
  Status result;
  for (size_t o = 0; o < outstanding_.size(); ++o) {
    SpoolPosition c = cursor(o);
    if (c == persisted_[o] && !aheadDirty_[o]) continue;
    // Overwritten in place through a descriptor kept open: this runs after every completed flush, and
    // a new file plus rename per call cost ~0.15 s of CPU per million events (docs/benchmarks.md).
    // The cursor record (first 20 bytes, own CRC) sits in the first sector; a write torn by a crash
    // can only spoil the checksummed list after it, which recovery then ignores (duplicates, no
    // loss). Bytes left behind a shorter record are never read (the list carries its length).
    std::string path = cursorPath(o);
    int& fd = cursorFds_[o];
    if (fd < 0) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      result = Status::error(errnoText("cannot write", path, errno));
      continue;
    }
    std::vector<uint8_t> buf(20);
    putCursor(buf.data(), c);
    const auto& ahead = ahead_[o];
    uint32_t n = static_cast<uint32_t>(std::min(ahead.size(), kMaxAhead));
    for (int i = 0; i < 4; ++i) buf.push_back(static_cast<uint8_t>(n >> (8 * i)));
    auto it = ahead.begin();
    for (uint32_t k = 0; k < n; ++k, ++it) {
      for (int i = 0; i < 8; ++i) buf.push_back(static_cast<uint8_t>(it->seq >> (8 * i)));
      for (int i = 0; i < 8; ++i) buf.push_back(static_cast<uint8_t>(it->offset >> (8 * i)));
    }
    uint32_t crc = crc32Of({buf.data() + 20, buf.size() - 20});
    for (int i = 0; i < 4; ++i) buf.push_back(static_cast<uint8_t>(crc >> (8 * i)));
    int err = pwriteAll(fd, buf.data(), buf.size(), 0);
    if (err != 0) {
      ::close(fd);  // opened again by the next call
      fd = -1;
      result = Status::error(errnoText("cannot write", path, err));
      continue;
    }
    aheadDirty_[o] = false;
    persisted_[o] = c;
  }
  return result;
}

}  // namespace firelane::storage
