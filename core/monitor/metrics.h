// Metrics of the running pipeline for the monitoring server: a snapshot summed over workers per
// plugin instance, rendered as Fluent Bit's JSON and Prometheus formats, and the health rule.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin/service.h"

namespace firelane {
class Worker;
}

namespace firelane::monitor {

struct InputMetrics {
  std::string name;  // instance name ("forward.0" or the Alias)
  std::string plugin;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t connections = 0;  // gauge
  uint64_t pausedWorkers = 0;  // gauge: workers on which this input is paused by backpressure
  std::map<std::string, uint64_t> errors;  // by reason
};

struct FilterMetrics {
  std::string name;
  std::string plugin;
  uint64_t recordsIn = 0;
  uint64_t dropped = 0;
  uint64_t added = 0;
  std::map<std::string, uint64_t> errors;
};

struct OutputMetrics {
  std::string name;
  std::string plugin;
  uint64_t records = 0;  // delivered
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t retries = 0;
  uint64_t retriesFailed = 0;
  uint64_t dropped = 0;
  uint64_t queuedBytes = 0;  // gauge
  uint64_t spoolBytes = 0;   // gauge: in the filesystem spool, not yet delivered by this output
  uint64_t spoolBatches = 0; // gauge
  uint64_t inFlight = 0;          // gauge: flushes running, all workers
  uint64_t concurrencyLimit = 0;  // gauge: flushes allowed at once, all workers
  std::map<std::string, uint64_t> reasons;  // "http_503", "transport", "truncated", ...
};

// The filesystem spool, summed over workers (all zero without storage.path).
struct StorageMetrics {
  bool enabled = false;
  uint64_t bytesOnDisk = 0;
  uint64_t segments = 0;
  uint64_t recoveredBatches = 0;  // read back intact at start
  uint64_t corruptBatches = 0;    // skipped at start (checksum, damaged headers)
  uint64_t tornBytes = 0;         // cut from segment tails at start
  uint64_t ioErrors = 0;          // failed appends (disk full, I/O errors)
  uint64_t droppedBatches = 0;    // storage.total_limit_policy drop_oldest
  uint64_t unreadableBatches = 0; // could not be read back when due
};

struct Snapshot {
  StorageMetrics storage;
  std::vector<InputMetrics> inputs;
  std::vector<FilterMetrics> filters;
  std::vector<OutputMetrics> outputs;
  uint64_t outputErrors() const;
  uint64_t outputRetriesFailed() const;
};

// Sums every worker's counters per instance, in config order. Any thread; values may be slightly
// stale (single-writer relaxed counters).
Snapshot collect(const std::vector<std::unique_ptr<Worker>>& workers);

// Fluent Bit's /api/v1/metrics shape: {"input":{name:{records,bytes}},"filter":{...},"output":{...}}.
std::string renderJson(const Snapshot& s);
// Prometheus text format 0.0.4: Fluent Bit's metric names (fluentbit_*, label `name`) plus
// firelane_* gauges and by-reason counters.
std::string renderPrometheus(const Snapshot& s, double uptimeSeconds);
// {"uptime_sec":N,"uptime_hr":"Fluent Bit has been running:  D day, H hour, M minute and S seconds"}
std::string renderUptime(uint64_t uptimeSeconds);
// /api/v1/storage: Fluent Bit's shape (storage_layer, input_chunks) plus the spool's figures and
// what each output holds in memory and on disk.
std::string renderStorage(const Snapshot& s);

// Fluent Bit's health rule: unhealthy while, within the last HC_Period seconds, output errors
// exceeded HC_Errors_Count or failed retries exceeded HC_Retry_Failure_Count. Fed with cumulative
// totals once a second (main thread).
class HealthTracker {
 public:
  explicit HealthTracker(const ServiceConfig& service);
  void sample(uint64_t nowSeconds, uint64_t errorsTotal, uint64_t retriesFailedTotal);
  bool healthy() const;

 private:
  struct Point {
    uint64_t at;
    uint64_t errors;
    uint64_t retriesFailed;
  };
  bool enabled_;
  uint64_t maxErrors_;
  uint64_t maxRetryFailures_;
  uint64_t period_;
  std::deque<Point> points_;
};

}  // namespace firelane::monitor
