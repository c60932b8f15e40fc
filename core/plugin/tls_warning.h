// The start-up warning of a TLS client (an output) whose server certificate checks are turned off:
// allowed, as in Fluent Bit, but never silent.
#pragma once

#include <string>
#include <string_view>

#include "core/plugin/registry.h"

namespace firelane {

// Adds "<where>: tls.verify off in <label> '<instance>'[ node '<node>']: ..." to the pipeline's
// warnings (logged at start and by --dry-run). `where` is OptionValues::where("tls.verify").
inline void warnTlsVerifyOff(const PluginEnv& env, const std::string& where, const std::string& label,
                             std::string_view node = {}) {
  if (!env.warnings) return;
  std::string w = where + ": tls.verify off in " + label + " '" + env.instanceName + "'";
  if (!node.empty()) w += " node '" + std::string(node) + "'";
  w += ": the server certificate is not checked, so anyone on the network path can read and change "
       "what this output sends";
  env.warnings->push_back(std::move(w));
}

}  // namespace firelane
