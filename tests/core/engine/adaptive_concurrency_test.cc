// AdaptiveConcurrency against simulated intakes (discrete events, simulated clock): where the limit
// settles, how it reacts to 429s and to queueing latency, and that it never leaves [1, max].
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <random>

#include "core/engine/adaptive_concurrency.h"

using firelane::AdaptiveConcurrency;
using Outcome = AdaptiveConcurrency::Outcome;

namespace {

struct Answer {
  uint64_t rttUs;
  Outcome outcome;
};

// A sender with an endless backlog: keeps `limit()` requests in flight against `serve`.
struct Simulation {
  explicit Simulation(unsigned max) : ac(AdaptiveConcurrency::Options{max}) {}

  AdaptiveConcurrency ac;
  uint64_t nowUs = 0;
  unsigned inFlight = 0;
  struct Flight {
    uint64_t startedUs;
    Outcome outcome;
    bool probe;
  };
  std::multimap<uint64_t, Flight> pending;  // by completion time
  std::function<Answer(unsigned inFlight, uint64_t nowUs)> serve;
  bool backlog = true;
  // Statistics over the run (after `warmUpUs`).
  uint64_t warmUpUs = 0;
  uint64_t ok = 0, backPressure = 0, maxLimit = 0, minLimit = UINT64_MAX;
  double limitTimeSum = 0;  // limit integrated over time

  void fill() {
    while (backlog && inFlight < ac.limit()) {
      ++inFlight;
      bool probe = ac.started(inFlight);
      Answer a = serve(inFlight, nowUs);
      pending.emplace(nowUs + a.rttUs, Flight{nowUs, a.outcome, probe});
    }
  }
  void runUntil(uint64_t endUs) {
    fill();
    while (!pending.empty() && pending.begin()->first <= endUs) {
      auto [at, req] = *pending.begin();
      pending.erase(pending.begin());
      if (at > warmUpUs)
        limitTimeSum += static_cast<double>(ac.steadyLimit()) * static_cast<double>(at - std::max(nowUs, warmUpUs));
      nowUs = at;
      --inFlight;
      ac.completed(nowUs, nowUs - req.startedUs, req.outcome, req.probe);
      if (nowUs > warmUpUs) {
        (req.outcome == Outcome::Ok ? ok : backPressure)++;
        maxLimit = std::max<uint64_t>(maxLimit, ac.steadyLimit());
        minLimit = std::min<uint64_t>(minLimit, ac.steadyLimit());
      }
      fill();
    }
  }
  void startMeasuring() {
    warmUpUs = nowUs;
    ok = backPressure = maxLimit = limitTimeSum = 0;
    minLimit = UINT64_MAX;
  }
  double meanLimit() const { return limitTimeSum / static_cast<double>(nowUs - warmUpUs); }
};

}  // namespace

TEST_CASE("adaptive concurrency: a healthy intake lets the limit climb to max and stay", "[engine][concurrency]") {
  Simulation sim(16);
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> jitter(0, 2000);
  sim.serve = [&](unsigned, uint64_t) { return Answer{20'000 + jitter(rng), Outcome::Ok}; };
  CHECK(sim.ac.limit() == 1);
  sim.runUntil(2'000'000);  // 100 round trips
  CHECK(sim.ac.limit() == 16);
  sim.startMeasuring();
  sim.runUntil(12'000'000);
  CHECK(sim.minLimit >= 14);
  CHECK(sim.maxLimit == 16);
  CHECK(sim.backPressure == 0);
  // Probes of the no-load round trip cost little: 10 s at 16 per ~21 ms is ~7600 requests.
  CHECK(sim.ac.probes() >= 2);
  CHECK(sim.ok >= 7000);
}

TEST_CASE("adaptive concurrency: the limit does not grow while the sender does not use it", "[engine][concurrency]") {
  AdaptiveConcurrency ac({16});
  // One request at a time (a light load): never at the limit once it is above 1.
  uint64_t now = 0;
  for (int i = 0; i < 1000; ++i) {
    bool probe = ac.started(1);
    now += 20'000;
    ac.completed(now, 20'000, Outcome::Ok, probe);
  }
  CHECK(ac.limit() == 2);  // reached at 1, so one step up; 2 was never used
}

TEST_CASE("adaptive concurrency: an intake that answers 429 above 4 requests keeps few 429s", "[engine][concurrency]") {
  // The intake serves 4 requests at once (20 ms each); more get 429 at once. A fixed concurrency of
  // 16 would have 12 of every 16 requests refused.
  Simulation sim(16);
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<uint64_t> jitter(0, 2000);
  sim.serve = [&](unsigned inFlight, uint64_t) {
    if (inFlight > 4) return Answer{500 + jitter(rng) / 4, Outcome::BackPressure};
    return Answer{20'000 + jitter(rng), Outcome::Ok};
  };
  sim.runUntil(1'000'000);
  sim.startMeasuring();
  sim.runUntil(31'000'000);
  INFO("ok " << sim.ok << " 429 " << sim.backPressure << " mean limit " << sim.meanLimit());
  CHECK(sim.maxLimit <= 5);
  CHECK(sim.meanLimit() >= 3.5);
  CHECK(sim.meanLimit() <= 4.5);
  // Throughput: at least 85% of the intake's capacity (4 per 20 ms = 200 per second), and the
  // remembered ceiling makes 429s rare: under 1% of the accepted requests.
  CHECK(sim.ok >= static_cast<uint64_t>(0.85 * 200 * 30));
  CHECK(sim.backPressure * 100 <= sim.ok);
}

TEST_CASE("adaptive concurrency: a ceiling learnt from 429s is left when the intake grows", "[engine][concurrency]") {
  Simulation sim(32);
  unsigned capacity = 4;
  sim.serve = [&](unsigned inFlight, uint64_t) {
    return inFlight > capacity ? Answer{500, Outcome::BackPressure} : Answer{20'000, Outcome::Ok};
  };
  sim.runUntil(20'000'000);  // long enough for the longest wait below the ceiling
  REQUIRE(sim.ac.steadyLimit() <= 4);
  capacity = 12;
  // At most one wait of 128 windows (~2.6 s at 20 ms) before it tries above the old ceiling again.
  sim.runUntil(sim.nowUs + 4'000'000);
  sim.startMeasuring();
  sim.runUntil(sim.nowUs + 2'000'000);
  CHECK(sim.meanLimit() >= 9);
  CHECK(sim.maxLimit <= 13);
}

TEST_CASE("adaptive concurrency: queueing latency at a serial intake keeps the limit low", "[engine][concurrency]") {
  // One request at a time is served (10 ms each); more in flight only wait longer. No 429 ever:
  // only the round-trip time tells that concurrency does not help.
  Simulation sim(16);
  uint64_t busyUntil = 0;
  sim.serve = [&](unsigned, uint64_t now) {
    uint64_t done = std::max(now, busyUntil) + 10'000;
    busyUntil = done;
    return Answer{done - now, Outcome::Ok};
  };
  sim.runUntil(1'000'000);
  sim.startMeasuring();
  sim.runUntil(31'000'000);
  INFO("ok " << sim.ok << " mean limit " << sim.meanLimit() << " max " << sim.maxLimit);
  CHECK(sim.meanLimit() <= 4.0);
  CHECK(sim.maxLimit <= 8);
  CHECK(sim.ok >= static_cast<uint64_t>(0.9 * 100 * 30));  // the intake stays busy
}

TEST_CASE("adaptive concurrency: back-pressure halves the limit once per window and it recovers", "[engine][concurrency]") {
  Simulation sim(32);
  bool overloaded = false;
  sim.serve = [&](unsigned, uint64_t) {
    return overloaded ? Answer{20'000, Outcome::BackPressure} : Answer{20'000, Outcome::Ok};
  };
  sim.runUntil(2'000'000);
  REQUIRE(sim.ac.steadyLimit() == 32);
  uint64_t decreasesBefore = sim.ac.decreases();
  overloaded = true;
  // The flights out answer normally; the next round trip is all 429s: one halving, not 32.
  sim.runUntil(sim.nowUs + 41'000);
  CHECK(sim.ac.steadyLimit() == 16);
  CHECK(sim.ac.decreases() == decreasesBefore + 1);
  sim.runUntil(sim.nowUs + 400'000);  // an outage: down to 1, never 0
  CHECK(sim.ac.steadyLimit() == 1);
  overloaded = false;
  sim.runUntil(sim.nowUs + 1'500'000);
  CHECK(sim.ac.steadyLimit() == 32);
}

TEST_CASE("adaptive concurrency: limits stay within 1 and max for any answers", "[engine][concurrency]") {
  std::mt19937_64 rng(3);
  for (unsigned max : {1u, 2u, 7u, 64u}) {
    AdaptiveConcurrency ac({max, 100});
    CHECK(ac.limit() == max);  // the initial value is clamped
    uint64_t now = 0;
    for (int i = 0; i < 20000; ++i) {
      bool probe = ac.started(static_cast<unsigned>(rng() % (max + 2)));
      now += rng() % 50'000;
      ac.completed(now, rng() % 100'000, static_cast<Outcome>(rng() % 3), probe);
      REQUIRE(ac.limit() >= 1);
      REQUIRE(ac.limit() <= max);
    }
  }
}
