// Adaptive request concurrency for an output: how many flushes may be in flight, learnt from
// round-trip times and back-pressure answers (AIMD as TCP, with TCP Vegas' queue estimate).
#pragma once

#include <cstdint>

namespace firelane {

// Pure logic, no clock of its own: the caller passes monotonic microseconds. One per OutputRunner.
//
// Completions are gathered over windows of about one round trip. The rules:
// - back-pressure (a flush asked to be retried: 429, 5xx, timeout, reset): limit *= 0.5 at once,
//   at most once per window (the other flights of that round trip saw the same overload);
// - at the end of a window, the requests waiting at the destination are estimated as
//   queue = limit * (1 - minRtt / meanRtt) (TCP Vegas). queue > beta: limit *= 0.9 (latency rises
//   without more throughput); queue < alpha and the limit was used: limit += 1.
// - the limit at which back-pressure came is remembered as a ceiling: growing to it again waits
//   8 clean windows, twice as many each time the same ceiling refuses again (up to 128), so an
//   intake with a fixed capacity sees a 429 ever more rarely instead of once per sawtooth. A window
//   at or above the ceiling without back-pressure forgets it (the capacity grew).
// - minRtt is the no-load round trip. It is kept honest by a probe (BBR's ProbeRTT): every 64 busy
//   windows one request goes out alone and its round trip replaces minRtt, so a destination that
//   became slower for good does not look like a growing queue, and a queue does not become the norm.
// The limit stays within [1, max].
class AdaptiveConcurrency {
 public:
  struct Options {
    unsigned max = 16;
    unsigned initial = 1;
    double backPressureDecrease = 0.5;
    double latencyDecrease = 0.9;
    unsigned probeWindows = 64;  // busy windows between probes of the no-load round trip
  };

  enum class Outcome { Ok, BackPressure, Other };  // Other: neither a capacity signal nor an RTT sample

  explicit AdaptiveConcurrency(Options options);

  // Flushes that may be in flight now (1 while probing).
  unsigned limit() const { return probing_ ? 1 : limit_; }
  // The learnt limit (what a gauge shows).
  unsigned steadyLimit() const { return limit_; }
  // A flush started; `inFlight` counts it. True when it is the probe: pass that to completed().
  bool started(unsigned inFlight);
  // A flush completed after `rttUs`; `nowUs` is the completion time.
  void completed(uint64_t nowUs, uint64_t rttUs, Outcome outcome, bool probe = false);

  uint64_t minRttUs() const { return minRttUs_; }
  uint64_t increases() const { return increases_; }
  uint64_t decreases() const { return decreases_; }
  uint64_t probes() const { return probes_; }

 private:
  void decrease(double ratio);
  void endWindow();

  Options options_;
  unsigned limit_;
  uint64_t minRttUs_ = 0;  // 0: no sample yet
  double smoothedRttUs_ = 0;  // EWMA of window means: the window length
  // The current window.
  bool windowOpen_ = false;
  uint64_t windowEndUs_ = 0;
  uint64_t windowRttSumUs_ = 0;
  uint64_t windowSamples_ = 0;
  bool windowBackPressure_ = false;
  bool windowReachedLimit_ = false;
  // The limit that met back-pressure last (0: none) and how long to stay just below it.
  unsigned ceiling_ = 0;
  unsigned ceilingWait_ = 0;
  unsigned windowsBelowCeiling_ = 0;
  // Probing the no-load round trip.
  unsigned busyWindows_ = 0;
  bool probing_ = false;
  bool probeSent_ = false;
  uint64_t increases_ = 0;
  uint64_t decreases_ = 0;
  uint64_t probes_ = 0;
};

}  // namespace firelane
