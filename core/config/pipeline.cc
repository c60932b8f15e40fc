// Builds the typed PipelineConfig from a parsed Document: validation happens here, once.
#include "core/config/pipeline.h"

#include <filesystem>
#include <map>

#include "core/config/values.h"
#include "core/parser/log_parser.h"

namespace firelane {
namespace {

constexpr std::string_view kOtherSections[] = {"parser", "multiline_parser", "upstream", "node", "plugins",
                                               "custom"};

Result<OptionValues> validateService(const config::Document& doc) {
  config::Section merged;
  merged.kind = "service";
  for (const auto& s : doc.sections) {
    if (s.kind != "service") continue;
    if (merged.file.empty()) {
      merged.file = s.file;
      merged.line = s.line;
    }
    merged.entries.insert(merged.entries.end(), s.entries.begin(), s.entries.end());
  }
  if (merged.file.empty()) merged.file = "<defaults>";
  return validateOptions(merged, serviceOptions(), "[SERVICE]");
}

// Output names Fluent Bit (and the AWS Go plugins FireLens configs use) know but firelane does not
// implement: a config naming one gets a clear "not supported" rather than a spelling suggestion.
constexpr std::string_view kUnsupportedOutputs[] = {
    "kinesis_firehose", "kinesis_streams", "kinesis", "firehose", "s3", "es", "opensearch", "splunk", "loki",
    "kafka", "kafka-rest", "file", "gelf", "syslog", "tcp", "newrelic", "stackdriver",
    "azure", "azure_blob", "azure_kusto", "azure_logs_ingestion", "bigquery", "chronicle", "counter", "exit",
    "flowcounter", "influxdb", "logdna", "nats", "nrlogs", "opentelemetry", "oracle_log_analytics", "pgsql",
    "prometheus_exporter", "prometheus_remote_write", "skywalking", "td", "websocket", "vivo_exporter", "calyptia"};

bool isUnsupportedOutput(std::string_view name) {
  for (auto n : kUnsupportedOutputs)
    if (config::iequals(n, name)) return true;
  return false;
}

PluginKind kindOf(const std::string& k) {
  if (k == "input") return PluginKind::Input;
  if (k == "filter") return PluginKind::Filter;
  return PluginKind::Output;
}

}  // namespace

bool parseRetryLimit(std::string_view text, int& out) {
  if (config::iequals(text, "no_limits") || config::iequals(text, "false") || config::iequals(text, "off")) {
    out = -1;
    return true;
  }
  if (config::iequals(text, "no_retries")) {
    out = 0;
    return true;
  }
  auto n = config::parseInt(text);
  if (!n || *n < 0 || *n > 1000000) return false;
  out = static_cast<int>(*n);
  return true;
}

Result<PipelineConfig> buildPipeline(const config::Document& doc, const Registry& registry) {
  PipelineConfig pc;
  pc.warnings = doc.warnings;
  auto service = validateService(doc);
  if (!service) return service.status();
  pc.service = makeServiceConfig(*service);
  // Parsers files are loaded (and their regexes compiled) here, so a bad one stops start-up.
  std::vector<parser::ParserSet::FileRef> parserFiles;
  for (const auto& s : doc.sections) {
    if (s.kind != "service") continue;
    for (const auto& e : s.entries) {
      if (!config::iequals(e.key, "Parsers_File")) continue;
      parserFiles.push_back({e.value, e.file + ":" + std::to_string(e.line), std::filesystem::path(e.file).parent_path().string()});
    }
  }
  auto parsers = parser::ParserSet::load(parserFiles);
  if (!parsers) return parsers.status();
  pc.service.parsers = std::move(*parsers);

  std::map<std::string, int> perPluginIndex;
  static constexpr std::string_view kSkip[] = {"Name"};
  for (const auto& section : doc.sections) {
    if (section.kind == "service") continue;
    bool other = false;
    for (auto k : kOtherSections) other = other || section.kind == k;
    if (other) continue;
    if (section.kind != "input" && section.kind != "filter" && section.kind != "output") {
      return Status::error(section.where() + ": unknown section [" + section.kind + "]");
    }
    PluginKind kind = kindOf(section.kind);
    const config::Entry* nameEntry = section.find("Name");
    if (!nameEntry || nameEntry->value.empty()) {
      return Status::error(section.where() + ": [" + sectionName(kind) + "] section without a Name");
    }
    const PluginInfo* info = registry.find(kind, nameEntry->value);
    if (!info) {
      std::string msg = nameEntry->file + ":" + std::to_string(nameEntry->line) + ": unknown " + kindName(kind) +
                        " plugin '" + nameEntry->value + "'";
      auto names = registry.names(kind);
      if (kind == PluginKind::Output && isUnsupportedOutput(nameEntry->value)) {
        msg = nameEntry->file + ":" + std::to_string(nameEntry->line) + ": output plugin '" + nameEntry->value +
              "' is not supported by firelane; supported outputs: ";
        for (size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : "") + names[i];
        return Status::error(msg);
      }
      std::string suggestion = suggestName(nameEntry->value, names);
      if (!suggestion.empty()) {
        msg += " (did you mean '" + suggestion + "'?)";
      } else {
        msg += "; available: ";
        for (size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : "") + names[i];
      }
      return Status::error(msg);
    }
    std::string label = std::string("[") + sectionName(kind) + "] " + info->name;
    auto specs = registry.allOptions(*info);
    auto values = validateOptions(section, specs, label, kSkip);
    if (!values) return values.status();
    int index = perPluginIndex[std::string(kindName(kind)) + "/" + info->name]++;
    std::string instance = values->isSet("Alias") ? std::string(values->str("Alias"))
                                                  : info->name + "." + std::to_string(index);
    PluginEnv env{pc.service, instance, &pc.warnings};

    if (kind == PluginKind::Input) {
      auto factory = info->makeInput(*values, env);
      if (!factory) return factory.status();
      pc.inputs.push_back({info->name, instance, values->size("Mem_Buf_Limit"), std::move(*factory)});
      pc.inputs.back().storageFilesystem = values->str("storage.type") == "filesystem";
      if (pc.inputs.back().storageFilesystem && pc.service.storagePath.empty())
        pc.warnings.push_back(values->where("storage.type") +
                              ": storage.type filesystem without storage.path in [SERVICE]: buffering in memory");
      continue;
    }
    auto matcher = TagMatcher::create(values->str("Match"), values->str("Match_Regex"));
    if (!matcher) return Status::error(values->where("Match_Regex") + ": " + matcher.message());
    if (matcher->empty()) pc.warnings.push_back(section.where() + ": " + label + " has no Match rule; it gets no records");
    if (kind == PluginKind::Filter) {
      auto factory = info->makeFilter(*values, env);
      if (!factory) return factory.status();
      pc.filters.push_back({info->name, instance, std::move(*matcher), std::move(*factory)});
      continue;
    }
    OutputSpec out;
    out.plugin = info->name;
    out.instance = instance;
    out.matcher = std::move(*matcher);
    if (!parseRetryLimit(values->str("Retry_Limit"), out.retryLimit)) {
      return Status::error(values->where("Retry_Limit") + ": invalid value '" + std::string(values->str("Retry_Limit")) +
                           "' for 'Retry_Limit' in " + label + ": expected a number, no_limits or no_retries");
    }
    out.queueLimit = std::max<uint64_t>(values->size("queue_limit"), 64 * 1024);
    out.storageLimit = values->size("storage.total_limit_size");
    out.storageDropOldest = config::iequals(values->str("storage.total_limit_policy"), "drop_oldest");
    out.adaptiveConcurrency = !config::iequals(values->str("concurrency"), "fixed");
    auto factory = info->makeOutput(*values, env);
    if (!factory) return factory.status();
    out.factory = std::move(*factory);
    pc.outputs.push_back(std::move(out));
  }
  if (pc.inputs.empty()) return Status::error("no inputs configured: add an [INPUT] section or -i NAME");
  if (pc.outputs.empty()) return Status::error("no outputs configured: add an [OUTPUT] section or -o NAME");
  return pc;
}

}  // namespace firelane
