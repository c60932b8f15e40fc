// The plugin registry: every input, filter and output registers its name, option table and a
// factory-maker that turns validated options into an immutable typed config (a factory).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/plugin/filter.h"
#include "core/plugin/input.h"
#include "core/plugin/options.h"
#include "core/plugin/output.h"
#include "core/plugin/service.h"

namespace firelane {

enum class PluginKind { Input, Filter, Output };
const char* kindName(PluginKind k);     // "input", "filter", "output"
const char* sectionName(PluginKind k);  // "INPUT", "FILTER", "OUTPUT"

// What a factory-maker gets besides its options.
struct PluginEnv {
  const ServiceConfig& service;
  std::string instanceName;  // "forward.0": plugin name + index among instances of that plugin
  // Config-time warnings ("file:line: ..."), logged at start and by --dry-run; may be null.
  std::vector<std::string>* warnings = nullptr;
};

struct PluginInfo {
  PluginKind kind = PluginKind::Input;
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;  // plugin-specific; the engine adds the common ones (Tag, Match, ...)
  // Exactly one of these is set, matching `kind`. Errors name file:line via OptionValues::where().
  std::function<Result<std::shared_ptr<InputFactory>>(const OptionValues&, const PluginEnv&)> makeInput;
  std::function<Result<std::shared_ptr<FilterFactory>>(const OptionValues&, const PluginEnv&)> makeFilter;
  std::function<Result<std::shared_ptr<OutputFactory>>(const OptionValues&, const PluginEnv&)> makeOutput;
};

class Registry {
 public:
  void add(PluginInfo info);
  const PluginInfo* find(PluginKind kind, std::string_view name) const;  // case-insensitive
  std::vector<std::string> names(PluginKind kind) const;
  // Options every plugin of `kind` accepts (Tag, Mem_Buf_Limit / Match, Match_Regex, Retry_Limit...).
  static const std::vector<OptionSpec>& commonOptions(PluginKind kind);
  // plugin options followed by the common ones.
  std::vector<OptionSpec> allOptions(const PluginInfo& info) const;

 private:
  std::vector<PluginInfo> plugins_;
};

}  // namespace firelane
