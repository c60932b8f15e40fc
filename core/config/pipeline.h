// The validated, typed pipeline built from a config Document: service settings plus one spec per
// [INPUT]/[FILTER]/[OUTPUT], each holding its plugin's immutable factory. Runtime reads only this.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/common/status.h"
#include "core/config/document.h"
#include "core/plugin/registry.h"
#include "core/router/tag_matcher.h"

namespace firelane {

struct InputSpec {
  std::string plugin;    // "forward"
  std::string instance;  // alias or "forward.0"
  uint64_t memBufLimit = 0;
  std::shared_ptr<InputFactory> factory;
  bool storageFilesystem = false;  // storage.type filesystem: batches go through the spool
};

struct FilterSpec {
  std::string plugin;
  std::string instance;
  TagMatcher matcher;
  std::shared_ptr<FilterFactory> factory;
};

struct OutputSpec {
  std::string plugin;
  std::string instance;
  TagMatcher matcher;
  int retryLimit = 1;  // -1 = no limit, 0 = no retries
  uint64_t queueLimit = 8u << 20;
  std::shared_ptr<OutputFactory> factory;
  uint64_t storageLimit = 0;  // storage.total_limit_size (0 = unbounded), per worker
  bool storageDropOldest = false;  // storage.total_limit_policy drop_oldest (default: pause inputs)
  bool adaptiveConcurrency = true;  // `concurrency adaptive`: up to `workers` flushes, AIMD (fixed: always `workers`)
};

struct PipelineConfig {
  ServiceConfig service;
  std::vector<InputSpec> inputs;
  std::vector<FilterSpec> filters;
  std::vector<OutputSpec> outputs;
  std::vector<std::string> warnings;
};

// Validates every section against the registry and builds the factories. Sections the pipeline
// does not use (parser, multiline_parser, upstream, node, plugins) are skipped here.
// Errors: "file:line: unknown input plugin 'forwrd' (did you mean 'forward'?)", option errors.
Result<PipelineConfig> buildPipeline(const config::Document& doc, const Registry& registry);

// Parses Retry_Limit's text: number, "no_limits"/"false"/"off" (-1), "no_retries" (0).
bool parseRetryLimit(std::string_view text, int& out);

}  // namespace firelane
