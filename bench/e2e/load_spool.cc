// Spool folder size and the outage scenario's delivery tally (see load_spool.h).
#include "load_spool.h"

#include <dirent.h>
#include <sys/stat.h>

#include <chrono>

#include "load_latency.h"

namespace firelane::bench {

namespace {

// Depth-limited: firelane's spool is `<path>/worker-N/{seg-*.log,cursor-*}`.
uint64_t walk(const std::string& dir, int depth) {
  uint64_t total = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;  // removed meanwhile (a delivered segment)
    if (S_ISREG(st.st_mode)) total += static_cast<uint64_t>(st.st_size);
    else if (S_ISDIR(st.st_mode) && depth > 0) total += walk(path, depth - 1);
  }
  ::closedir(d);
  return total;
}

}  // namespace

uint64_t dirBytes(const std::string& dir) { return walk(dir, 2); }

size_t subdirCount(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    struct stat st {};
    if (name != "." && name != ".." && ::stat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) ++n;
  }
  ::closedir(d);
  return n;
}

void SequenceTracker::scan(std::string_view body) {
  std::vector<uint64_t> found;
  for (size_t at = body.find(kStampMarker); at != std::string_view::npos; at = body.find(kStampMarker, at + 1)) {
    if (at + kStampSize > body.size()) break;
    uint64_t v = 0;
    bool digits = true;
    for (size_t i = kStampMarker.size(); i < kStampSize && digits; ++i) {
      char c = body[at + i];
      digits = c >= '0' && c <= '9';
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!digits) continue;
    found.push_back(v);
    at += kStampSize - 1;
  }
  std::lock_guard lock(mu_);
  for (uint64_t v : found) {
    if (v >= seen_.size()) {
      ++strays_;
      continue;
    }
    if (seen_[v] == 0) ++distinct_;
    else ++duplicates_;
    if (seen_[v] < 255) ++seen_[v];
  }
  cv_.notify_all();
}

uint64_t SequenceTracker::distinct() const {
  std::lock_guard lock(mu_);
  return distinct_;
}

uint64_t SequenceTracker::duplicates() const {
  std::lock_guard lock(mu_);
  return duplicates_;
}

uint64_t SequenceTracker::strays() const {
  std::lock_guard lock(mu_);
  return strays_;
}

bool SequenceTracker::waitAll(uint64_t timeoutMs) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&] { return distinct_ >= seen_.size(); });
}

}  // namespace firelane::bench
