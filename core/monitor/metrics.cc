// Snapshot collection and the JSON / Prometheus renderings of the monitoring server.
#include "core/monitor/metrics.h"

#include <cinttypes>
#include <cstdio>

#include "core/codec/json_writer.h"
#include "core/engine/worker.h"

namespace firelane::monitor {

namespace {

// Instances are created in config order on every worker; a Single input lives on one worker only,
// so entries are merged by instance name, keeping first-seen order.
template <typename T>
T& entry(std::vector<T>& list, const std::string& name, const std::string& plugin) {
  for (auto& e : list)
    if (e.name == name) return e;
  list.push_back(T{});
  list.back().name = name;
  list.back().plugin = plugin;
  return list.back();
}

void addNamed(std::map<std::string, uint64_t>& into, const NamedCounters& from) {
  from.forEach([&](const std::string& k, uint64_t v) { into[k] += v; });
}

// Prometheus label values escape backslash, double quote and newline.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class PromWriter {
 public:
  explicit PromWriter(std::string& out) : out_(out) {}
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const char* name, std::string_view instance, uint64_t v, std::string_view reason = {}) {
    out_ += name;
    out_ += "{name=\"";
    out_ += label(instance);
    if (!reason.empty()) {
      out_ += "\",reason=\"";
      out_ += label(reason);
    }
    out_ += "\"} ";
    out_ += std::to_string(v);
    out_ += '\n';
  }

 private:
  std::string& out_;
};

void field(std::string& out, const char* key, uint64_t v, bool last = false) {
  out += '"';
  out += key;
  out += "\":";
  out += std::to_string(v);
  if (!last) out += ',';
}

}  // namespace

uint64_t Snapshot::outputErrors() const {
  uint64_t n = 0;
  for (const auto& o : outputs) n += o.errors;
  return n;
}

uint64_t Snapshot::outputRetriesFailed() const {
  uint64_t n = 0;
  for (const auto& o : outputs) n += o.retriesFailed;
  return n;
}

Snapshot collect(const std::vector<std::unique_ptr<Worker>>& workers) {
  Snapshot s;
  for (const auto& w : workers) {
    w->forEachInput([&](const InputSlot& in) {
      auto& m = entry(s.inputs, in.spec().instance, in.spec().plugin);
      const auto& c = in.stats();
      m.records += c.records.get();
      m.bytes += c.bytes.get();
      m.connections += c.connections.get();
      m.pausedWorkers += c.paused.get();
      addNamed(m.errors, c.errors);
    });
    w->forEachFilter([&](const FilterSlot& f) {
      auto& m = entry(s.filters, f.spec().instance, f.spec().plugin);
      const auto& c = f.stats();
      m.recordsIn += c.recordsIn.get();
      m.dropped += c.recordsDropped.get();
      m.added += c.recordsAdded.get();
      addNamed(m.errors, c.errors);
    });
    w->forEachOutput([&](const OutputRunner& o) {
      auto& m = entry(s.outputs, o.spec().instance, o.spec().plugin);
      const auto& c = o.stats();
      m.records += c.records.get();
      m.bytes += c.bytes.get();
      m.errors += c.errors.get();
      m.retries += c.retries.get();
      m.retriesFailed += c.retriesFailed.get();
      m.dropped += c.dropped.get();
      m.queuedBytes += c.queuedBytes.get();
      m.spoolBytes += c.spoolBytes.get();
      m.spoolBatches += c.spoolBatches.get();
      m.inFlight += c.inFlight.get();
      m.concurrencyLimit += c.concurrencyLimit.get();
      addNamed(m.reasons, c.reasons);
    });
    const auto& g = w->storage();
    auto& st = s.storage;
    st.enabled = st.enabled || g.enabled.get() != 0;
    st.bytesOnDisk += g.bytesOnDisk.get();
    st.segments += g.segments.get();
    st.recoveredBatches += g.recovered.get();
    st.corruptBatches += g.corrupt.get();
    st.tornBytes += g.torn.get();
    st.ioErrors += g.ioErrors.get();
    st.droppedBatches += g.dropped.get();
    st.unreadableBatches += g.unreadable.get();
  }
  return s;
}

std::string renderJson(const Snapshot& s) {
  std::string out = "{\"input\":{";
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const auto& m = s.inputs[i];
    if (i) out += ',';
    codec::appendJsonString(out, m.name);
    out += ":{";
    field(out, "records", m.records);
    field(out, "bytes", m.bytes);
    field(out, "connections", m.connections, true);
    out += '}';
  }
  out += "},\"filter\":{";
  for (size_t i = 0; i < s.filters.size(); ++i) {
    const auto& m = s.filters[i];
    if (i) out += ',';
    codec::appendJsonString(out, m.name);
    out += ":{";
    field(out, "drop_records", m.dropped);
    field(out, "add_records", m.added);
    field(out, "records", m.recordsIn, true);
    out += '}';
  }
  out += "},\"output\":{";
  for (size_t i = 0; i < s.outputs.size(); ++i) {
    const auto& m = s.outputs[i];
    if (i) out += ',';
    codec::appendJsonString(out, m.name);
    out += ":{";
    field(out, "proc_records", m.records);
    field(out, "proc_bytes", m.bytes);
    field(out, "errors", m.errors);
    field(out, "retries", m.retries);
    field(out, "retries_failed", m.retriesFailed);
    field(out, "dropped_records", m.dropped);
    field(out, "queued_bytes", m.queuedBytes, true);
    out += '}';
  }
  out += "}}";
  return out;
}

std::string renderPrometheus(const Snapshot& s, double uptimeSeconds) {
  std::string out;
  PromWriter w(out);
  char up[64];
  std::snprintf(up, sizeof up, "%.0f", uptimeSeconds);
  w.family("fluentbit_uptime", "counter", "Number of seconds that firelane has been running.");
  out += "fluentbit_uptime ";
  out += up;
  out += '\n';

  w.family("fluentbit_input_records_total", "counter", "Number of input records.");
  for (const auto& m : s.inputs) w.sample("fluentbit_input_records_total", m.name, m.records);
  w.family("fluentbit_input_bytes_total", "counter", "Number of input bytes.");
  for (const auto& m : s.inputs) w.sample("fluentbit_input_bytes_total", m.name, m.bytes);
  w.family("fluentbit_filter_drop_records_total", "counter", "Number of records dropped by filters.");
  for (const auto& m : s.filters) w.sample("fluentbit_filter_drop_records_total", m.name, m.dropped);
  w.family("fluentbit_filter_add_records_total", "counter", "Number of records added by filters.");
  for (const auto& m : s.filters) w.sample("fluentbit_filter_add_records_total", m.name, m.added);
  w.family("fluentbit_output_proc_records_total", "counter", "Number of processed output records.");
  for (const auto& m : s.outputs) w.sample("fluentbit_output_proc_records_total", m.name, m.records);
  w.family("fluentbit_output_proc_bytes_total", "counter", "Number of processed output bytes.");
  for (const auto& m : s.outputs) w.sample("fluentbit_output_proc_bytes_total", m.name, m.bytes);
  w.family("fluentbit_output_errors_total", "counter", "Number of output errors.");
  for (const auto& m : s.outputs) w.sample("fluentbit_output_errors_total", m.name, m.errors);
  w.family("fluentbit_output_retries_total", "counter", "Number of output retries.");
  for (const auto& m : s.outputs) w.sample("fluentbit_output_retries_total", m.name, m.retries);
  w.family("fluentbit_output_retries_failed_total", "counter", "Number of abandoned batches.");
  for (const auto& m : s.outputs) w.sample("fluentbit_output_retries_failed_total", m.name, m.retriesFailed);
  w.family("fluentbit_output_dropped_records_total", "counter", "Number of dropped records.");
  for (const auto& m : s.outputs) w.sample("fluentbit_output_dropped_records_total", m.name, m.dropped);

  w.family("firelane_input_connections", "gauge", "Open client connections of an input.");
  for (const auto& m : s.inputs) w.sample("firelane_input_connections", m.name, m.connections);
  w.family("firelane_input_paused", "gauge", "Workers on which an input is paused by backpressure.");
  for (const auto& m : s.inputs) w.sample("firelane_input_paused", m.name, m.pausedWorkers);
  w.family("firelane_input_errors_total", "counter", "Input errors by reason (bad frames, closed connections).");
  for (const auto& m : s.inputs)
    for (const auto& [reason, v] : m.errors) w.sample("firelane_input_errors_total", m.name, v, reason);
  w.family("firelane_filter_errors_total", "counter", "Filter errors by reason.");
  for (const auto& m : s.filters)
    for (const auto& [reason, v] : m.errors) w.sample("firelane_filter_errors_total", m.name, v, reason);
  w.family("firelane_output_queue_bytes", "gauge", "Bytes held by an output: queued, in flight or waiting for a retry.");
  for (const auto& m : s.outputs) w.sample("firelane_output_queue_bytes", m.name, m.queuedBytes);
  w.family("firelane_output_spool_bytes", "gauge", "Bytes in the filesystem spool an output has not delivered yet.");
  for (const auto& m : s.outputs) w.sample("firelane_output_spool_bytes", m.name, m.spoolBytes);
  w.family("firelane_output_in_flight", "gauge", "Flushes (requests) of an output running now, all workers.");
  for (const auto& m : s.outputs) w.sample("firelane_output_in_flight", m.name, m.inFlight);
  w.family("firelane_output_concurrency_limit", "gauge",
           "Flushes an output may run at once, all workers (adaptive: learnt from latency and 429/5xx).");
  for (const auto& m : s.outputs) w.sample("firelane_output_concurrency_limit", m.name, m.concurrencyLimit);
  if (s.storage.enabled) {
    w.family("firelane_spool_bytes", "gauge", "Bytes of the filesystem spool on disk.");
    w.sample("firelane_spool_bytes", "storage", s.storage.bytesOnDisk);
    w.family("firelane_spool_corrupt_batches_total", "counter", "Spooled batches skipped as corrupt at start.");
    w.sample("firelane_spool_corrupt_batches_total", "storage", s.storage.corruptBatches);
    w.family("firelane_spool_io_errors_total", "counter", "Failed spool writes (disk full, I/O errors).");
    w.sample("firelane_spool_io_errors_total", "storage", s.storage.ioErrors);
  }
  w.family("firelane_output_events_total", "counter",
           "Output events by reason: HTTP statuses, transport errors, truncated or rejected records.");
  for (const auto& m : s.outputs)
    for (const auto& [reason, v] : m.reasons) w.sample("firelane_output_events_total", m.name, v, reason);
  return out;
}

std::string renderStorage(const Snapshot& s) {
  uint64_t queued = 0;
  for (const auto& o : s.outputs) queued += o.queuedBytes;
  const StorageMetrics& st = s.storage;
  std::string body = "{\"storage_layer\":{\"type\":\"";
  body += st.enabled ? "filesystem" : "memory";
  body += "\",\"queued_bytes\":" + std::to_string(queued);
  if (st.enabled) {
    body += ",\"spool\":{\"bytes_on_disk\":" + std::to_string(st.bytesOnDisk) +
            ",\"segments\":" + std::to_string(st.segments) +
            ",\"recovered_batches\":" + std::to_string(st.recoveredBatches) +
            ",\"corrupt_batches\":" + std::to_string(st.corruptBatches) +
            ",\"torn_bytes\":" + std::to_string(st.tornBytes) + ",\"io_errors\":" + std::to_string(st.ioErrors) +
            ",\"dropped_batches\":" + std::to_string(st.droppedBatches) +
            ",\"unreadable_batches\":" + std::to_string(st.unreadableBatches) + "}";
  }
  body += "},\"input_chunks\":{";
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    if (i) body += ',';
    codec::appendJsonString(body, s.inputs[i].name);
    body += s.inputs[i].pausedWorkers ? ":{\"status\":{\"overlimit\":true}}" : ":{\"status\":{\"overlimit\":false}}";
  }
  body += "},\"output_queues\":{";
  for (size_t i = 0; i < s.outputs.size(); ++i) {
    if (i) body += ',';
    codec::appendJsonString(body, s.outputs[i].name);
    body += ":{\"queued_bytes\":" + std::to_string(s.outputs[i].queuedBytes);
    if (st.enabled) {
      body += ",\"spool_bytes\":" + std::to_string(s.outputs[i].spoolBytes) +
              ",\"spool_batches\":" + std::to_string(s.outputs[i].spoolBatches);
    }
    body += "}";
  }
  body += "}}";
  return body;
}

std::string renderUptime(uint64_t sec) {
  char hr[160];
  std::snprintf(hr, sizeof hr,
                "Fluent Bit has been running:  %" PRIu64 " day, %" PRIu64 " hour, %" PRIu64 " minute and %" PRIu64
                " seconds",
                sec / 86400, sec % 86400 / 3600, sec % 3600 / 60, sec % 60);
  std::string out = "{\"uptime_sec\":" + std::to_string(sec) + ",\"uptime_hr\":";
  codec::appendJsonString(out, hr);
  out += '}';
  return out;
}

HealthTracker::HealthTracker(const ServiceConfig& service)
    : enabled_(service.healthCheck),
      maxErrors_(static_cast<uint64_t>(std::max(0, service.hcErrorsCount))),
      maxRetryFailures_(static_cast<uint64_t>(std::max(0, service.hcRetryFailureCount))),
      period_(static_cast<uint64_t>(std::max(1, service.hcPeriod))) {}

void HealthTracker::sample(uint64_t now, uint64_t errorsTotal, uint64_t retriesFailedTotal) {
  points_.push_back(Point{now, errorsTotal, retriesFailedTotal});
  // Keep one point at or before the window's start as the baseline.
  while (points_.size() > 2 && points_[1].at + period_ <= now) points_.pop_front();
}

bool HealthTracker::healthy() const {
  if (!enabled_ || points_.size() < 2) return true;
  const Point& first = points_.front();
  const Point& last = points_.back();
  return last.errors - first.errors <= maxErrors_ && last.retriesFailed - first.retriesFailed <= maxRetryFailures_;
}

}  // namespace firelane::monitor
