// Send-time stamps in generated lines and the sinks' latency recorder (see load_latency.h).
#include "load_latency.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace firelane::bench {
namespace {

const auto kEpoch = std::chrono::steady_clock::now();

bool isStampAt(std::string_view bytes, size_t at) {
  if (at + kStampSize > bytes.size()) return false;
  for (size_t i = kStampMarker.size(); i < kStampSize; ++i) {
    char c = bytes[at + i];
    if (c < '0' || c > '9') return false;
  }
  return true;
}

uint64_t parseStamp(const char* digits) {
  uint64_t v = 0;
  for (size_t i = 0; i < kStampDigits; ++i) v = v * 10 + static_cast<uint64_t>(digits[i] - '0');
  return v;
}

}  // namespace

std::string stampPlaceholder() { return std::string(kStampMarker) + std::string(kStampDigits, '0'); }

uint64_t nowMicros() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - kEpoch).count());
}

void writeStamp(char* stamp, uint64_t micros) {
  char* d = stamp + kStampSize;
  for (size_t i = 0; i < kStampDigits; ++i) {
    *--d = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
}

std::vector<uint32_t> findStamps(std::string_view bytes) {
  std::vector<uint32_t> out;
  for (size_t at = bytes.find(kStampMarker); at != std::string_view::npos; at = bytes.find(kStampMarker, at + 1)) {
    if (isStampAt(bytes, at)) out.push_back(static_cast<uint32_t>(at));
  }
  return out;
}

size_t LatencyRecorder::scan(std::string_view body) {
  std::vector<uint32_t> found;
  const uint64_t now = nowMicros();
  for (size_t at = body.find(kStampMarker); at != std::string_view::npos; at = body.find(kStampMarker, at + 1)) {
    if (!isStampAt(body, at)) continue;
    uint64_t sent = parseStamp(body.data() + at + kStampMarker.size());
    found.push_back(static_cast<uint32_t>(std::min<uint64_t>(now > sent ? now - sent : 0, UINT32_MAX)));
    at += kStampSize - 1;
  }
  std::lock_guard lock(mu_);
  micros_.insert(micros_.end(), found.begin(), found.end());
  return found.size();
}

size_t LatencyRecorder::count() const {
  std::lock_guard lock(mu_);
  return micros_.size();
}

double LatencyRecorder::percentileMicros(double q) const {
  std::lock_guard lock(mu_);
  if (micros_.empty()) return -1;
  size_t k = std::min(micros_.size() - 1, static_cast<size_t>(q * static_cast<double>(micros_.size())));
  std::nth_element(micros_.begin(), micros_.begin() + static_cast<std::ptrdiff_t>(k), micros_.end());
  return micros_[k];
}

void LatencyRecorder::clear() {
  std::lock_guard lock(mu_);
  micros_.clear();
}

size_t countOccurrences(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  if (needle.empty()) return 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace firelane::bench
