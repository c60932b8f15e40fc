// Tests for the filesystem spool: the batch codec, append and reopen, torn tails at every cut
// point, corrupt bytes anywhere, failed writes (ENOSPC), cursors per output, segment deletion,
// the disk bound and drop-oldest.
#include "core/storage/spool.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/process.h"

using namespace firelane;
using namespace firelane::storage;
using firelane::testsupport::TempDir;

namespace {

EventBatch makeBatch(const std::string& tag, int n, const std::string& prefix) {
  auto buf = makeBuffer(4096);
  EventBatch b;
  b.tag = tag;
  for (int i = 0; i < n; ++i) {
    std::string rec = prefix + std::to_string(i);
    auto at = buf->tail();
    std::copy(rec.begin(), rec.end(), at.begin());
    buf->commit(rec.size());
    b.add(1000 + i, {at.data(), rec.size()});
  }
  b.keep(buf);
  return b;
}

// tag|t:rec|t:rec...
std::string text(const EventBatch& b) {
  std::string s = b.tag;
  for (const Event& e : b.events) {
    s += "|" + std::to_string(e.timeNs) + ":" + std::string(e.record.begin(), e.record.end());
  }
  return s;
}

SpoolOptions opts(const std::string& dir, std::vector<std::string> outputs = {"0.out"}) {
  SpoolOptions o;
  o.dir = dir;
  o.outputs = std::move(outputs);
  return o;
}

SpoolPtr openOk(SpoolOptions o) {
  auto r = Spool::open(std::move(o));
  REQUIRE(r.ok());
  return std::move(r.value());
}

std::vector<std::string> files(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string onlySegment(const std::string& dir) {
  auto segs = files(dir, "seg-");
  REQUIRE(segs.size() == 1);
  return dir + "/" + segs[0];
}

off_t sizeOf(const std::string& path) {
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_size;
}

void flipByte(const std::string& path, off_t at) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t b;
  REQUIRE(::pread(fd, &b, 1, at) == 1);
  b ^= 0x5a;
  REQUIRE(::pwrite(fd, &b, 1, at) == 1);
  ::close(fd);
}

// Each round of a damage loop starts from the pristine segment as a first start would: without the
// cursors the previous round saved.
void dropCursors(const std::string& dir) {
  for (const auto& f : files(dir, "cursor-")) ::unlink((dir + "/" + f).c_str());
}

// Appends n one-event batches tagged t0..t<n-1> for output 0 (mask 1), keeping positions and texts.
void appendTagged(Spool& s, int n, std::vector<SpoolPosition>& pos, std::vector<std::string>& all) {
  for (int i = 0; i < n; ++i) {
    EventBatch b = makeBatch("t" + std::to_string(i), 1, "abc");
    all.push_back(text(b));
    pos.push_back(s.append(b, 1).pos);
  }
}

std::vector<std::string> replay(Spool& s, size_t output = 0) {
  std::vector<std::string> out;
  for (const SpoolEntry& e : s.backlog(output)) {
    auto b = s.read(e.pos);
    REQUIRE(b.ok());
    out.push_back(text(*b));
  }
  return out;
}

}  // namespace

TEST_CASE("spool format: a batch round-trips with tag and times and extra fields", "[storage]") {
  EventBatch b = makeBatch("app.web", 3, "rec");
  auto extra = std::make_shared<ExtraFields>();
  extra->kv = {0xa1, 'k', 0xa1, 'v'};
  extra->count = 1;
  b.extra = extra;
  auto enc = encodeBatch(b);
  auto buf = makeBuffer(enc.size());
  buf->append(enc.data(), enc.size());
  auto back = decodeBatch(buf);
  REQUIRE(back.has_value());
  CHECK(text(*back) == text(b));
  CHECK(back->bytes == b.bytes);
  REQUIRE(back->extra);
  CHECK(back->extra->kv == extra->kv);
  CHECK(back->extra->count == 1);
  // Events are views into the payload buffer, which the batch keeps alive.
  REQUIRE(back->owners.size() == 1);
  CHECK(back->events[0].record.data() >= buf->data());
  CHECK(back->events[0].record.data() < buf->data() + buf->size());

  EventBatch empty;
  auto e2 = encodeBatch(empty);
  auto buf2 = makeBuffer(e2.size());
  buf2->append(e2.data(), e2.size());
  auto back2 = decodeBatch(buf2);
  REQUIRE(back2.has_value());
  CHECK(back2->events.empty());
  CHECK(back2->tag.empty());
  CHECK(!back2->extra);
}

TEST_CASE("spool format: the checksum is standard CRC-32 so segments of earlier builds still verify",
          "[storage]") {
  // The check value of the CRC-32 used by zlib and gzip (segments written with zlib's crc32 before).
  const std::string check = "123456789";
  CHECK(crc32Of({reinterpret_cast<const uint8_t*>(check.data()), check.size()}) == 0xCBF43926u);
  CHECK(crc32Of({}) == 0u);
  // Longer than the vector blocks, with an odd tail: zlib's value for 0..999 mod 256.
  std::vector<uint8_t> bytes(1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  CHECK(crc32Of(bytes) == 0x74E3FB41u);
}

TEST_CASE("spool format: malformed payloads are rejected without reading outside them", "[storage]") {
  auto enc = encodeBatch(makeBatch("t", 4, "record-"));
  for (size_t n = 0; n < enc.size(); ++n) {  // every truncation
    auto buf = makeBuffer(enc.size());
    buf->append(enc.data(), n);
    CHECK(!decodeBatch(buf).has_value());
  }
  // Trailing garbage, and an event count far larger than the bytes can hold.
  auto longer = enc;
  longer.push_back(0);
  auto buf = makeBuffer(longer.size());
  buf->append(longer.data(), longer.size());
  CHECK(!decodeBatch(buf).has_value());
  auto huge = enc;
  huge[5] = 0xff;  // tag "t" is 1 byte: the event count starts at offset 5
  huge[6] = 0xff;
  huge[7] = 0xff;
  huge[8] = 0x7f;
  auto buf2 = makeBuffer(huge.size());
  buf2->append(huge.data(), huge.size());
  CHECK(!decodeBatch(buf2).has_value());
}

TEST_CASE("spool format: headers detect any single damaged byte", "[storage]") {
  uint8_t h[kFrameHeaderSize];
  encodeFrameHeader({100, 5, 0x12345678}, h);
  auto ok = decodeFrameHeader({h, sizeof(h)});
  REQUIRE(ok.has_value());
  CHECK(ok->length == 100);
  CHECK(ok->outputMask == 5);
  CHECK(ok->payloadCrc == 0x12345678);
  for (size_t i = 0; i < sizeof(h); ++i) {
    h[i] ^= 1;
    CHECK(!decodeFrameHeader({h, sizeof(h)}).has_value());
    h[i] ^= 1;
  }
  uint8_t s[kSegmentHeaderSize];
  encodeSegmentHeader({3, 77}, s);
  auto sh = decodeSegmentHeader({s, sizeof(s)});
  REQUIRE(sh.has_value());
  CHECK(sh->worker == 3);
  CHECK(sh->seq == 77);
  for (size_t i = 0; i < sizeof(s); ++i) {
    s[i] ^= 0x80;
    CHECK(!decodeSegmentHeader({s, sizeof(s)}).has_value());
    s[i] ^= 0x80;
  }
}

TEST_CASE("spool: batches survive reopen and replay in order", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path() + "/w0";  // created on open, with parents
  {
    auto s = openOk(opts(d));
    for (int i = 0; i < 5; ++i) {
      auto r = s->append(makeBatch("tag" + std::to_string(i), i, "r"), 1);
      REQUIRE(r.status == AppendStatus::Ok);
    }
    CHECK(s->stats().appendedBatches == 5);
    auto back = s->read(SpoolPosition{1, kSegmentHeaderSize});
    REQUIRE(back.ok());
    CHECK(text(*back) == "tag0");
  }
  auto s = openOk(opts(d));
  CHECK(s->stats().recoveredBatches == 5);
  CHECK(s->stats().corruptBatches == 0);
  CHECK(s->stats().tornBytes == 0);
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) want.push_back(text(makeBatch("tag" + std::to_string(i), i, "r")));
  CHECK(replay(*s) == want);
  // New appends go to a new segment after the recovered ones.
  auto r = s->append(makeBatch("new", 1, "n"), 1);
  REQUIRE(r.status == AppendStatus::Ok);
  CHECK(r.pos > s->backlog(0).back().pos);
  CHECK(files(d, "seg-").size() == 2);
}

TEST_CASE("spool: a torn tail is cut at every cut point and appends continue", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  off_t end2 = 0;
  off_t end3 = 0;
  std::string pristine;
  {
    auto s = openOk(opts(d));
    s->append(makeBatch("a", 2, "x"), 1);
    s->append(makeBatch("b", 2, "y"), 1);
    end2 = sizeOf(onlySegment(d));
    s->append(makeBatch("c", 2, "z"), 1);
    end3 = sizeOf(onlySegment(d));
  }
  std::string seg = onlySegment(d);
  {
    FILE* f = std::fopen(seg.c_str(), "rb");
    pristine.resize(static_cast<size_t>(end3));
    REQUIRE(std::fread(pristine.data(), 1, pristine.size(), f) == pristine.size());
    std::fclose(f);
  }
  for (off_t cut = end2 + 1; cut < end3; ++cut) {
    INFO("cut at " << cut);
    {
      FILE* f = std::fopen(seg.c_str(), "wb");
      std::fwrite(pristine.data(), 1, static_cast<size_t>(cut), f);
      std::fclose(f);
    }
    dropCursors(d);
    auto s = openOk(opts(d));
    CHECK(s->stats().recoveredBatches == 2);
    CHECK(s->stats().corruptBatches == 0);
    CHECK(s->stats().tornBytes == static_cast<uint64_t>(cut - end2));
    CHECK(sizeOf(seg) == end2);
    CHECK(replay(*s) == std::vector<std::string>{text(makeBatch("a", 2, "x")), text(makeBatch("b", 2, "y"))});
    // Appending after the repair works; the new segment is removed so the next cut starts clean.
    REQUIRE(s->append(makeBatch("d", 1, "w"), 1).status == AppendStatus::Ok);
    s.reset();
    auto again = openOk(opts(d));
    CHECK(again->stats().recoveredBatches == 3);
    CHECK(again->stats().tornBytes == 0);
    again.reset();
    for (const auto& f : files(d, "seg-")) {
      if (d + "/" + f != seg) ::unlink((d + "/" + f).c_str());
    }
  }
  // A segment that crashed before its header was complete is removed.
  {
    FILE* f = std::fopen(seg.c_str(), "wb");
    std::fwrite(pristine.data(), 1, 10, f);
    std::fclose(f);
  }
  auto s = openOk(opts(d));
  CHECK(s->backlog(0).empty());
  CHECK(files(d, "seg-").empty());
}

TEST_CASE("spool: a corrupt byte anywhere skips only the damaged batch", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  std::vector<std::string> all;
  std::vector<off_t> ends;
  std::string pristine;
  {
    auto s = openOk(opts(d));
    for (int i = 0; i < 4; ++i) {
      EventBatch b = makeBatch("t" + std::to_string(i), 3, "v");
      all.push_back(text(b));
      REQUIRE(s->append(b, 1).status == AppendStatus::Ok);
      ends.push_back(sizeOf(onlySegment(d)));
    }
  }
  std::string seg = onlySegment(d);
  {
    FILE* f = std::fopen(seg.c_str(), "rb");
    pristine.resize(static_cast<size_t>(ends.back()));
    REQUIRE(std::fread(pristine.data(), 1, pristine.size(), f) == pristine.size());
    std::fclose(f);
  }
  // Every byte of the second frame (header and payload), and of the segment header.
  for (off_t at = 0; at < ends[1]; ++at) {
    if (at >= static_cast<off_t>(kSegmentHeaderSize) && at < ends[0]) continue;
    INFO("damaged byte " << at);
    {
      FILE* f = std::fopen(seg.c_str(), "wb");
      std::fwrite(pristine.data(), 1, pristine.size(), f);
      std::fclose(f);
    }
    flipByte(seg, at);
    dropCursors(d);
    auto s = openOk(opts(d));
    if (at < static_cast<off_t>(kSegmentHeaderSize)) {
      CHECK(s->stats().corruptSegments == 1);
      CHECK(s->backlog(0).empty());
      CHECK(files(d, "seg-").size() == 1);  // the .corrupt file
      s.reset();
      ::unlink((seg + ".corrupt").c_str());
      continue;
    }
    CHECK(s->stats().corruptBatches == 1);
    CHECK(s->stats().recoveredBatches == 3);
    CHECK(s->stats().tornBytes == 0);
    CHECK(replay(*s) == std::vector<std::string>{all[0], all[2], all[3]});
  }
}

TEST_CASE("spool: random damage never crashes and never yields a wrong batch", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  std::vector<std::string> all;
  std::string pristine;
  {
    auto s = openOk(opts(d));
    for (int i = 0; i < 8; ++i) {
      EventBatch b = makeBatch("t" + std::to_string(i), i % 3 + 1, "payload");
      all.push_back(text(b));
      REQUIRE(s->append(b, 1).status == AppendStatus::Ok);
    }
  }
  std::string seg = onlySegment(d);
  {
    FILE* f = std::fopen(seg.c_str(), "rb");
    pristine.resize(static_cast<size_t>(sizeOf(seg)));
    REQUIRE(std::fread(pristine.data(), 1, pristine.size(), f) == pristine.size());
    std::fclose(f);
  }
  uint32_t rng = 12345;
  auto next = [&] { return rng = rng * 1103515245u + 12345u; };
  for (int round = 0; round < 200; ++round) {
    std::string damaged = pristine;
    int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) {
      size_t at = kSegmentHeaderSize + next() % (damaged.size() - kSegmentHeaderSize);
      damaged[at] = static_cast<char>(next() & 0xff);
    }
    size_t len = (round % 3 == 0) ? damaged.size() - next() % 40 : damaged.size();
    FILE* f = std::fopen(seg.c_str(), "wb");
    std::fwrite(damaged.data(), 1, len, f);
    std::fclose(f);
    dropCursors(d);
    auto s = openOk(opts(d));
    auto got = replay(*s);
    // What comes back is an in-order subsequence of what was written.
    size_t j = 0;
    for (const auto& g : got) {
      while (j < all.size() && all[j] != g) ++j;
      REQUIRE(j < all.size());
      ++j;
    }
    CHECK(s->stats().recoveredBatches == got.size());
    CHECK(s->stats().recoveredBatches + s->stats().corruptBatches <= all.size());
  }
}

TEST_CASE("spool: a failed write leaves no partial batch and later appends go to a new segment", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  int failures = 0;
  auto o = opts(d);
  o.faultHook = [&]() -> std::optional<WriteFault> {
    if (failures == 0) return std::nullopt;
    --failures;
    return WriteFault{ENOSPC, 30};
  };
  auto s = openOk(o);
  REQUIRE(s->append(makeBatch("a", 2, "x"), 1).status == AppendStatus::Ok);
  off_t before = sizeOf(onlySegment(d));
  failures = 2;
  auto r = s->append(makeBatch("b", 2, "y"), 1);
  CHECK(r.status == AppendStatus::IoError);
  CHECK(r.error.find("No space left on device") != std::string::npos);
  CHECK(sizeOf(onlySegment(d)) == before);
  // The next append starts a new segment (a segment that hit a file-size or quota limit would fail
  // for ever); when that write fails too, the new segment keeps only its header.
  CHECK(s->append(makeBatch("b", 2, "y"), 1).status == AppendStatus::IoError);
  CHECK(s->stats().ioErrors == 2);
  CHECK(s->stats().segments == 2);
  CHECK(s->stats().bytesOnDisk == static_cast<uint64_t>(before) + kSegmentHeaderSize);
  REQUIRE(s->append(makeBatch("c", 1, "z"), 1).status == AppendStatus::Ok);
  s.reset();
  auto again = openOk(opts(d));
  CHECK(again->stats().corruptBatches == 0);
  CHECK(again->stats().tornBytes == 0);
  CHECK(replay(*again) == std::vector<std::string>{text(makeBatch("a", 2, "x")), text(makeBatch("c", 1, "z"))});
}

TEST_CASE("spool: with sync full a failed write moves on to a new segment", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  bool fail = false;
  auto o = opts(d);
  o.syncFull = true;
  o.faultHook = [&]() -> std::optional<WriteFault> {
    if (!fail) return std::nullopt;
    fail = false;
    return WriteFault{EIO, 1000000};  // the whole frame written, then the device reports an error
  };
  auto s = openOk(o);
  REQUIRE(s->append(makeBatch("a", 1, "x"), 1).status == AppendStatus::Ok);
  fail = true;
  CHECK(s->append(makeBatch("b", 1, "y"), 1).status == AppendStatus::IoError);
  REQUIRE(s->append(makeBatch("c", 1, "z"), 1).status == AppendStatus::Ok);
  CHECK(files(d, "seg-").size() == 2);
  s.reset();
  auto again = openOk(opts(d));
  CHECK(replay(*again) == std::vector<std::string>{text(makeBatch("a", 1, "x")), text(makeBatch("c", 1, "z"))});
}

TEST_CASE("spool: each output keeps its own cursor and delivered segments are deleted", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  auto o = opts(d, {"0.alpha", "1.beta"});
  o.segmentBytes = 200;  // about two batches per segment
  std::vector<SpoolPosition> pos;
  std::vector<std::string> all;
  {
    auto s = openOk(o);
    for (int i = 0; i < 8; ++i) {
      EventBatch b = makeBatch("t" + std::to_string(i), 2, "abcdefghij");
      all.push_back(text(b));
      uint64_t mask = (i % 2 == 0) ? 3 : 1;  // beta only needs the even batches
      auto r = s->append(b, mask);
      REQUIRE(r.status == AppendStatus::Ok);
      pos.push_back(r.pos);
    }
    size_t segs = files(d, "seg-").size();
    REQUIRE(segs >= 3);
    // alpha delivers everything out of order except batch 5; beta delivers 0 and 2.
    for (int i : {1, 0, 3, 2, 4, 7, 6}) s->delivered(0, pos[i]);
    s->delivered(1, pos[0]);
    s->delivered(1, pos[2]);
    s->delivered(0, pos[0]);  // twice: ignored
    CHECK(s->cursor(0) == pos[5]);
    CHECK(s->cursor(1) == pos[4]);
    // Segments wholly before both cursors are gone.
    for (const auto& f : files(d, "seg-")) {
      unsigned long long seq = std::stoull(f.substr(4, 16), nullptr, 16);
      CHECK(seq >= std::min(pos[5].seq, pos[4].seq));
    }
    CHECK(s->stats().deletedSegments >= 1);
    REQUIRE(s->persistCursors());
  }
  auto s = openOk(o);
  // alpha replays only 5: 6 and 7, delivered above its cursor, were saved with it.
  CHECK(replay(*s, 0) == std::vector<std::string>{all[5]});
  CHECK(replay(*s, 1) == std::vector<std::string>{all[4], all[6]});
  s->delivered(0, pos[5]);
  for (int i : {4, 6}) s->delivered(1, pos[i]);
  // Everything delivered: no segment is left.
  CHECK(files(d, "seg-").empty());
  CHECK(s->stats().bytesOnDisk == 0);
}

TEST_CASE("spool: a damaged list of out-of-order deliveries only costs duplicates", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  auto o = opts(d);
  std::vector<SpoolPosition> pos;
  std::vector<std::string> all;
  {
    auto s = openOk(o);
    appendTagged(*s, 4, pos, all);
    for (int i : {2, 3}) s->delivered(0, pos[i]);  // 0 and 1 still out
    REQUIRE(s->persistCursors());
  }
  auto cursorFiles = files(d, "cursor-");
  REQUIRE(cursorFiles.size() == 1);
  std::string path = d + "/" + cursorFiles[0];
  {
    auto s = openOk(o);
    CHECK(replay(*s) == std::vector<std::string>{all[0], all[1]});
  }
  // Flip a byte of the list (after the 20-byte cursor record): the cursor still holds, the list
  // is ignored, and 2 and 3 come again.
  flipByte(path, 30);
  auto s = openOk(o);
  CHECK(replay(*s) == all);
}

TEST_CASE("spool: a cursor rewritten in place over a longer one reads back exactly", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  auto o = opts(d);
  std::vector<SpoolPosition> pos;
  std::vector<std::string> all;
  auto s = openOk(o);
  appendTagged(*s, 6, pos, all);
  // A long list (4 batches delivered above the cursor), then a short one over it in the same file.
  for (int i : {2, 3, 4, 5}) s->delivered(0, pos[i]);
  REQUIRE(s->persistCursors());
  const off_t longSize = sizeOf(d + "/" + files(d, "cursor-").at(0));
  s->delivered(0, pos[0]);  // cursor -> 1; the list still holds 2..5
  s->delivered(0, pos[1]);  // cursor past 5; the list is empty
  REQUIRE(s->persistCursors());
  auto cursorFiles = files(d, "cursor-");
  REQUIRE(cursorFiles.size() == 1);  // no temporary files left behind
  // The shorter record overwrote the front; the stale tail behind it is not read.
  CHECK(sizeOf(d + "/" + cursorFiles[0]) == longSize);
  auto again = openOk(o);
  CHECK(replay(*again).empty());
}

TEST_CASE("spool: sequence numbers stay above the cursors after every segment was deleted", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  SpoolPosition last;
  {
    auto s = openOk(opts(d));
    for (int i = 0; i < 3; ++i) {
      auto r = s->append(makeBatch("a", 1, "x"), 1);
      s->delivered(0, r.pos);
      last = r.pos;
    }
    REQUIRE(s->persistCursors());
  }
  {
    // Reopen: the active segment of the last run is sealed and deleted, only the cursor remains.
    auto s = openOk(opts(d));
    CHECK(s->backlog(0).empty());
    CHECK(files(d, "seg-").empty());
    auto r = s->append(makeBatch("new", 1, "n"), 1);
    REQUIRE(r.status == AppendStatus::Ok);
    CHECK(r.pos > last);
  }
  auto s = openOk(opts(d));
  CHECK(replay(*s) == std::vector<std::string>{text(makeBatch("new", 1, "n"))});
}

TEST_CASE("spool: a missing cursor replays everything routed to that output", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  {
    auto s = openOk(opts(d, {"0.a"}));
    s->append(makeBatch("x", 1, "x"), 3);  // bit 1: an output this run does not have
  }
  auto s = openOk(opts(d, {"0.a", "1.b"}));
  CHECK(replay(*s, 0).size() == 1);
  CHECK(replay(*s, 1).size() == 1);
}

TEST_CASE("spool: the disk bound refuses appends until delivery frees space", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  auto o = opts(d);
  o.segmentBytes = 150;
  o.totalLimit = 600;
  auto s = openOk(o);
  std::vector<SpoolPosition> pos;
  for (int i = 0; i < 100; ++i) {
    auto r = s->append(makeBatch("t", 2, "0123456789"), 1);
    if (r.status == AppendStatus::Full) break;
    REQUIRE(r.status == AppendStatus::Ok);
    pos.push_back(r.pos);
  }
  REQUIRE(pos.size() >= 3);
  REQUIRE(pos.size() < 100);
  CHECK(s->stats().bytesOnDisk <= o.totalLimit);
  uint64_t onDisk = 0;
  for (const auto& f : files(d, "seg-")) onDisk += static_cast<uint64_t>(sizeOf(d + "/" + f));
  CHECK(onDisk == s->stats().bytesOnDisk);
  CHECK(s->append(makeBatch("t", 2, "0123456789"), 1).status == AppendStatus::Full);
  // Delivering the first segment's batches frees space.
  for (const auto& p : pos) {
    if (p.seq == pos.front().seq) s->delivered(0, p);
  }
  CHECK(s->append(makeBatch("t", 2, "0123456789"), 1).status == AppendStatus::Ok);
}

TEST_CASE("spool: dropOldest removes the oldest undelivered batches and counts them", "[storage]") {
  TempDir dir("spool");
  std::string d = dir.path();
  auto o = opts(d, {"0.a", "1.b"});
  o.segmentBytes = 150;
  std::vector<SpoolPosition> pos;
  size_t inFirst = 0;
  {
    auto s = openOk(o);
    for (int i = 0; i < 6; ++i) {
      pos.push_back(s->append(makeBatch("t" + std::to_string(i), 2, "0123456789"), 3).pos);
    }
    uint64_t first = pos.front().seq;
    for (const auto& p : pos) inFirst += p.seq == first;
    s->delivered(1, pos[0]);  // delivered by one output, not the other: still counted once
    CHECK(s->dropOldest() == inFirst);
    CHECK(s->stats().droppedBatches == inFirst);
    CHECK(!s->pending(0, pos[0]));
    CHECK(s->cursor(0) == pos[inFirst]);
    REQUIRE(s->persistCursors());
  }
  auto s = openOk(o);
  CHECK(s->backlog(0).size() == 6 - inFirst);
  CHECK(s->backlog(1).size() == 6 - inFirst);
}
