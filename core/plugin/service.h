// The typed [SERVICE] section: process-wide settings, parsed once before anything starts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/common/log.h"
#include "core/plugin/options.h"

namespace firelane {
namespace parser {
class ParserSet;
}

struct ServiceConfig {
  double flushSeconds = 1.0;
  double graceSeconds = 5.0;
  log::Level logLevel = log::Level::Info;
  unsigned workers = 1;  // default: number of cores
  bool httpServer = false;
  std::string httpListen = "0.0.0.0";
  int httpPort = 2020;
  bool healthCheck = false;  // /api/v1/health applies the HC_* rules (otherwise always ok)
  int hcErrorsCount = 5;
  int hcRetryFailureCount = 5;
  int hcPeriod = 60;  // seconds
  double schedulerBase = 5.0;  // retry backoff, seconds
  double schedulerCap = 2000.0;
  std::vector<std::string> parsersFiles;
  // [PARSER]/[MULTILINE_PARSER] definitions of every Parsers_File, loaded once by buildPipeline.
  std::shared_ptr<const parser::ParserSet> parsers;
  std::string storagePath;
  bool storageSyncFull = false;  // storage.sync full: fdatasync every spool append before it counts
};

// The [SERVICE] option table (Fluent Bit's keys; some accepted for compatibility and ignored).
const std::vector<OptionSpec>& serviceOptions();
ServiceConfig makeServiceConfig(const OptionValues& values);

}  // namespace firelane
