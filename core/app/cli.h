// Command line, fluent-bit style: -c FILE, -i/-F/-o NAME with -p k=v, -m MATCH, -t TAG, -f SECONDS,
// -v/-vv, --dry-run, --version, -h, and `-o NAME --help` for a plugin's options.
#pragma once

#include <string>
#include <vector>

#include "core/common/status.h"
#include "core/config/document.h"
#include "core/plugin/registry.h"

namespace firelane::app {

struct CliOptions {
  std::string configFile;
  std::vector<config::Section> sections;  // from -i/-F/-o (and -f/-v as a [SERVICE] section)
  bool dryRun = false;
  bool version = false;
  bool help = false;
  // `-o NAME --help`: the plugin whose options to print.
  bool pluginHelp = false;
  PluginKind helpKind = PluginKind::Input;
  std::string helpName;
};

Result<CliOptions> parseCli(const std::vector<std::string>& args);
std::string usage();
// The whole config: the file (if any) followed by the command line's sections.
Result<config::Document> loadConfig(const CliOptions& cli);
// Text for `-o NAME --help`; an error for an unknown plugin.
Result<std::string> pluginHelp(const Registry& registry, PluginKind kind, const std::string& name);

// Runs firelane with these arguments (without argv[0]); returns the exit code.
int runMain(const std::vector<std::string>& args);

}  // namespace firelane::app
