// End-to-end latency for firelane_load: the sender writes its send time into every generated log line
// ("@T" + 12 digits, microseconds on the tool's steady clock); the sinks, in the same process, scan
// each accepted body for those stamps just before answering 2xx and record now - stamp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace firelane::bench {

inline constexpr std::string_view kStampMarker = "@T";
inline constexpr size_t kStampDigits = 12;
inline constexpr size_t kStampSize = kStampMarker.size() + kStampDigits;

// "@T000000000000": what generated lines carry until the sender patches in the send time.
std::string stampPlaceholder();
// Microseconds since the tool started (steady clock).
uint64_t nowMicros();
// Overwrites the 12 digits after the marker at `stamp` (which points at '@').
void writeStamp(char* stamp, uint64_t micros);
// Offsets of every complete stamp in `bytes` (the payload the sender will patch before each send).
std::vector<uint32_t> findStamps(std::string_view bytes);

// Latencies of stamped events seen by a sink. Thread-safe (sinks call it from connection threads).
class LatencyRecorder {
 public:
  // Records now - stamp for every stamp in `body`; returns how many were found.
  size_t scan(std::string_view body);
  size_t count() const;
  // q in [0, 1]; microseconds; -1 when nothing was recorded.
  double percentileMicros(double q) const;
  void clear();

 private:
  mutable std::mutex mu_;
  mutable std::vector<uint32_t> micros_;
};

// Occurrences of `needle` in `haystack` (the sinks check that enrichment reached every event).
size_t countOccurrences(std::string_view haystack, std::string_view needle);

}  // namespace firelane::bench
