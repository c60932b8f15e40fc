// Plugin registry and the option tables shared by every plugin of a kind.
#include "core/plugin/registry.h"

#include <thread>

#include "core/config/document.h"

namespace firelane {

const char* kindName(PluginKind k) {
  switch (k) {
    case PluginKind::Input: return "input";
    case PluginKind::Filter: return "filter";
    case PluginKind::Output: return "output";
  }
  return "?";
}

const char* sectionName(PluginKind k) {
  switch (k) {
    case PluginKind::Input: return "INPUT";
    case PluginKind::Filter: return "FILTER";
    case PluginKind::Output: return "OUTPUT";
  }
  return "?";
}

void Registry::add(PluginInfo info) { plugins_.push_back(std::move(info)); }

const PluginInfo* Registry::find(PluginKind kind, std::string_view name) const {
  for (const auto& p : plugins_)
    if (p.kind == kind && config::iequals(p.name, name)) return &p;
  return nullptr;
}

std::vector<std::string> Registry::names(PluginKind kind) const {
  std::vector<std::string> out;
  for (const auto& p : plugins_)
    if (p.kind == kind) out.push_back(p.name);
  return out;
}

const std::vector<OptionSpec>& Registry::commonOptions(PluginKind kind) {
  using T = OptionType;
  static const std::vector<OptionSpec> input = {
      {"Tag", T::String, "", "tag of the records this input emits (replaces incoming tags)"},
      {"Alias", T::String, "", "name of this instance in logs and metrics"},
      {"Mem_Buf_Limit", T::Size, "0", "pause this input while it holds more than this in memory (0 = no limit)"},
      {"storage.type", T::Enum, "memory", "where records are buffered", false, false, false,
       {"memory", "filesystem"}},
      {"Threaded", T::Bool, "off", "accepted for compatibility; every input runs on the worker loops"},
      {"Log_Level", T::String, "", "accepted for compatibility"},
  };
  static const std::vector<OptionSpec> filter = {
      {"Match", T::String, "", "tag pattern; '*' matches any run of characters including dots"},
      {"Match_Regex", T::String, "", "re2 regular expression anchored at the start of the tag; wins over Match"},
      {"Alias", T::String, "", "name of this instance in logs and metrics"},
      {"Log_Level", T::String, "", "accepted for compatibility"},
  };
  static const std::vector<OptionSpec> output = {
      {"Match", T::String, "", "tag pattern; '*' matches any run of characters including dots"},
      {"Match_Regex", T::String, "", "re2 regular expression anchored at the start of the tag; wins over Match"},
      {"Alias", T::String, "", "name of this instance in logs and metrics"},
      {"Retry_Limit", T::String, "1",
       "retries per chunk: a number, 'no_limits'/'false' (unlimited) or 'no_retries'"},
      {"queue_limit", T::Size, "8M",
       "bytes queued in memory per worker before the inputs feeding this output pause"},
      {"storage.total_limit_size", T::Size, "0",
       "bytes of the filesystem spool this output may hold undelivered, per worker (0 = no bound)"},
      {"storage.total_limit_policy", T::Enum, "pause",
       "at storage.total_limit_size: pause the inputs, or drop this output's oldest stored batches", false, false,
       false, {"pause", "drop_oldest"}},
      {"concurrency", T::Enum, "adaptive",
       "flushes in flight: 'adaptive' (1 up to the output's workers, more while the destination answers "
       "quickly, fewer on 429/5xx/timeouts or rising latency) or 'fixed' (always workers)", false, false, false,
       {"adaptive", "fixed"}},
      {"Log_Level", T::String, "", "accepted for compatibility"},
  };
  switch (kind) {
    case PluginKind::Input: return input;
    case PluginKind::Filter: return filter;
    case PluginKind::Output: return output;
  }
  return input;
}

std::vector<OptionSpec> Registry::allOptions(const PluginInfo& info) const {
  std::vector<OptionSpec> all = info.options;
  for (const auto& c : commonOptions(info.kind)) {
    bool overridden = false;
    for (const auto& o : info.options)
      if (config::iequals(o.name, c.name)) overridden = true;
    if (!overridden) all.push_back(c);
  }
  return all;
}

const std::vector<OptionSpec>& serviceOptions() {
  using T = OptionType;
  static const std::vector<OptionSpec> specs = {
      {"Flush", T::Seconds, "1", "seconds between flushes of buffered records to the outputs"},
      {"Grace", T::Seconds, "5", "seconds to drain and flush on SIGTERM before exiting"},
      {"Log_Level", T::Enum, "info", "error, warn, info, debug or trace", false, false, false,
       {"off", "error", "warn", "warning", "info", "debug", "trace"}},
      {"workers", T::Int, "0", "worker threads, each with its own event loop (0 = number of cores)"},
      {"HTTP_Server", T::Bool, "off", "serve health and metrics over HTTP"},
      {"HTTP_Listen", T::String, "0.0.0.0", "address of the monitoring server"},
      {"HTTP_Port", T::Int, "2020", "port of the monitoring server"},
      {"Health_Check", T::Bool, "off", "enable /api/v1/health rules"},
      {"HC_Errors_Count", T::Int, "5", "health: errors allowed per period"},
      {"HC_Retry_Failure_Count", T::Int, "5", "health: failed retries allowed per period"},
      {"HC_Period", T::Int, "60", "health: period in seconds"},
      {"Parsers_File", T::String, "", "file with [PARSER] sections", true},
      {"Plugins_File", T::String, "", "accepted for compatibility (no dynamic plugins)"},
      {"Streams_File", T::String, "", "accepted for compatibility"},
      {"Daemon", T::Bool, "off", "accepted for compatibility; firelane stays in the foreground"},
      {"Log_File", T::String, "", "accepted for compatibility; logs go to stderr"},
      {"Coro_Stack_Size", T::Size, "0", "accepted for compatibility"},
      {"scheduler.base", T::Seconds, "5", "retry backoff base, seconds"},
      {"scheduler.cap", T::Seconds, "2000", "retry backoff cap, seconds"},
      {"storage.path", T::String, "", "folder of the filesystem spool"},
      {"storage.sync", T::Enum, "normal", "normal or full (fsync before ack)", false, false, false,
       {"normal", "full"}},
      {"storage.checksum", T::Bool, "off", "checksum spooled batches"},
      {"storage.max_chunks_up", T::Int, "128", "spooled batches kept in memory"},
      {"storage.backlog.mem_limit", T::Size, "5M", "memory for replaying the spool"},
      {"storage.metrics", T::Bool, "off", "accepted for compatibility"},
  };
  return specs;
}

ServiceConfig makeServiceConfig(const OptionValues& v) {
  ServiceConfig s;
  s.flushSeconds = v.seconds("Flush");
  s.graceSeconds = v.seconds("Grace");
  log::parseLevel(v.str("Log_Level"), s.logLevel);
  int64_t w = v.integer("workers");
  s.workers = w > 0 ? static_cast<unsigned>(w) : std::max(1u, std::thread::hardware_concurrency());
  s.httpServer = v.boolean("HTTP_Server");
  s.httpListen = std::string(v.str("HTTP_Listen"));
  s.httpPort = static_cast<int>(v.integer("HTTP_Port"));
  s.healthCheck = v.boolean("Health_Check");
  s.hcErrorsCount = static_cast<int>(v.integer("HC_Errors_Count"));
  s.hcRetryFailureCount = static_cast<int>(v.integer("HC_Retry_Failure_Count"));
  s.hcPeriod = static_cast<int>(std::max<int64_t>(1, v.integer("HC_Period")));
  s.schedulerBase = v.seconds("scheduler.base");
  s.schedulerCap = v.seconds("scheduler.cap");
  for (auto f : v.all("Parsers_File")) s.parsersFiles.emplace_back(f);
  s.storagePath = std::string(v.str("storage.path"));
  s.storageSyncFull = v.str("storage.sync") == "full";
  return s;
}

}  // namespace firelane
