// AIMD concurrency limit from round-trip times and back-pressure (see the header for the rules).
#include "core/engine/adaptive_concurrency.h"

#include <algorithm>
#include <cmath>

namespace firelane {

AdaptiveConcurrency::AdaptiveConcurrency(Options options) : options_(options) {
  options_.max = std::max(1u, options_.max);
  options_.probeWindows = std::max(1u, options_.probeWindows);
  limit_ = std::clamp(options_.initial, 1u, options_.max);
}

bool AdaptiveConcurrency::started(unsigned inFlight) {
  if (probing_) {
    // The probe leaves when everything before it has answered, so nothing of ours queues ahead.
    if (!probeSent_ && inFlight == 1) {
      probeSent_ = true;
      return true;
    }
    return false;
  }
  if (inFlight >= limit_) windowReachedLimit_ = true;
  return false;
}

void AdaptiveConcurrency::decrease(double ratio) {
  if (limit_ <= 1) return;
  limit_ = std::max(1u, static_cast<unsigned>(std::floor(limit_ * ratio)));
  decreases_++;
}

void AdaptiveConcurrency::completed(uint64_t nowUs, uint64_t rttUs, Outcome outcome, bool probe) {
  if (probe) {
    probing_ = false;
    probeSent_ = false;
    busyWindows_ = 0;
    if (outcome == Outcome::Ok) minRttUs_ = std::max<uint64_t>(1, rttUs);
    windowOpen_ = false;  // a fresh window under the restored limit
  }
  if (outcome == Outcome::Ok && (minRttUs_ == 0 || rttUs < minRttUs_)) minRttUs_ = std::max<uint64_t>(1, rttUs);
  if (outcome == Outcome::BackPressure && !windowBackPressure_) {
    constexpr unsigned kFirstWait = 8, kMaxWait = 128;
    ceilingWait_ = ceiling_ && limit_ <= ceiling_ ? std::min(kMaxWait, ceilingWait_ * 2) : kFirstWait;
    ceiling_ = limit_;
    windowsBelowCeiling_ = 0;
    decrease(options_.backPressureDecrease);
    windowBackPressure_ = true;
    // The flights already out were sent under the old limit: judge the new one a round trip later.
    windowOpen_ = false;
  }
  if (probe) return;
  if (!windowOpen_) {
    // A window lasts about one round trip: long enough for the flights started under the current
    // limit to answer, short enough to follow a changing destination.
    double length = smoothedRttUs_ > 0 ? smoothedRttUs_ : static_cast<double>(rttUs);
    windowEndUs_ = nowUs + std::max<uint64_t>(1, static_cast<uint64_t>(length));
    windowOpen_ = true;
    windowRttSumUs_ = 0;
    windowSamples_ = 0;
    windowReachedLimit_ = false;
    return;  // this completion belongs to the previous window
  }
  if (outcome == Outcome::Ok) {
    windowRttSumUs_ += rttUs;
    windowSamples_++;
  }
  if (nowUs >= windowEndUs_) endWindow();
}

void AdaptiveConcurrency::endWindow() {
  windowOpen_ = false;
  bool backPressure = windowBackPressure_;
  windowBackPressure_ = false;
  if (probing_ || backPressure || windowSamples_ == 0) return;
  double mean = static_cast<double>(windowRttSumUs_) / static_cast<double>(windowSamples_);
  smoothedRttUs_ = smoothedRttUs_ > 0 ? 0.7 * smoothedRttUs_ + 0.3 * mean : mean;
  double queue = limit_ * std::max(0.0, 1.0 - static_cast<double>(minRttUs_) / mean);
  double lg = std::log10(static_cast<double>(limit_));
  double alpha = std::max(2.0, 3 * lg);
  double beta = std::max(4.0, 6 * lg);
  if (queue > beta) {
    decrease(options_.latencyDecrease);
  } else if (windowReachedLimit_ && queue < alpha) {
    if (ceiling_ && limit_ >= ceiling_) ceiling_ = 0;  // the ceiling held this time: capacity grew
    bool waitBelowCeiling = ceiling_ && limit_ + 1 >= ceiling_ && ++windowsBelowCeiling_ < ceilingWait_;
    if (limit_ < options_.max && !waitBelowCeiling) {
      limit_++;
      increases_++;
      windowsBelowCeiling_ = 0;
    }
  }
  if (windowReachedLimit_ && limit_ > 1 && ++busyWindows_ >= options_.probeWindows) {
    probing_ = true;
    probes_++;
  }
}

}  // namespace firelane
