// CLI parsing and the start-up sequence: config -> typed pipeline -> engine.
#include "core/app/cli.h"

#include <cstdio>

#include "core/app/builtin_plugins.h"
#include "core/common/log.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"
#include "core/engine/engine.h"

namespace firelane::app {
namespace {

constexpr const char* kCliFile = "<command line>";

config::Section cliSection(const std::string& kind, int argIndex) {
  config::Section s;
  s.kind = kind;
  s.file = kCliFile;
  s.line = argIndex;
  return s;
}

void addEntry(config::Section& s, std::string key, std::string value, int argIndex) {
  s.entries.push_back(config::Entry{std::move(key), std::move(value), kCliFile, argIndex});
}

}  // namespace

std::string usage() {
  return "Usage: firelane [OPTION]...\n"
         "  -c, --config=FILE     run the classic-format config FILE\n"
         "  -i, --input=NAME      add an input plugin\n"
         "  -F, --filter=NAME     add a filter plugin\n"
         "  -o, --output=NAME     add an output plugin\n"
         "  -p, --prop=\"K=V\"      set a property of the last -i/-F/-o\n"
         "  -m, --match=MATCH     Match of the last -F/-o\n"
         "  -t, --tag=TAG         Tag of the last -i\n"
         "  -f, --flush=SECONDS   flush interval\n"
         "  -w, --workers=N       worker threads\n"
         "  -v, -vv               debug / trace logging\n"
         "  -D, --dry-run         validate the configuration and exit\n"
         "  -V, --version         print the version\n"
         "  -h, --help            this help; with -i/-F/-o NAME: that plugin's options\n";
}

Result<CliOptions> parseCli(const std::vector<std::string>& args) {
  CliOptions o;
  config::Section service = cliSection("service", 0);
  config::Section* current = nullptr;
  auto value = [&](size_t& i, const std::string& arg, const char* longName) -> Result<std::string> {
    std::string prefix = std::string(longName) + "=";
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
    if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') return arg.substr(2);  // -ifoo
    if (i + 1 >= args.size()) return Status::error("option " + arg + " needs a value");
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    int idx = static_cast<int>(i + 1);
    auto is = [&](const char* s, const char* l) {
      return a == s || a == l || (a.rfind(std::string(l) + "=", 0) == 0) ||
             (a.size() > 2 && a.rfind(s, 0) == 0 && a[1] != '-' && std::string(s).size() == 2 &&
              std::string("cifopmtfw").find(s[1]) != std::string::npos);
    };
    if (a == "-h" || a == "--help") {
      if (current) {
        o.pluginHelp = true;
        o.helpKind = current->kind == "input" ? PluginKind::Input
                     : current->kind == "filter" ? PluginKind::Filter
                                                 : PluginKind::Output;
        o.helpName = current->find("Name") ? current->find("Name")->value : "";
      } else {
        o.help = true;
      }
    } else if (a == "-V" || a == "--version") {
      o.version = true;
    } else if (a == "-D" || a == "--dry-run") {
      o.dryRun = true;
    } else if (a == "-v" || a == "--verbose") {
      addEntry(service, "Log_Level", "debug", idx);
    } else if (a == "-vv") {
      addEntry(service, "Log_Level", "trace", idx);
    } else if (a == "-q" || a == "--quiet") {
      addEntry(service, "Log_Level", "error", idx);
    } else if (is("-c", "--config")) {
      auto v = value(i, a, "--config");
      if (!v) return v.status();
      o.configFile = *v;
    } else if (is("-i", "--input") || is("-F", "--filter") || is("-o", "--output")) {
      const char* kind = (a[1] == 'i' || a.rfind("--input", 0) == 0)    ? "input"
                         : (a[1] == 'F' || a.rfind("--filter", 0) == 0) ? "filter"
                                                                         : "output";
      const char* longName = kind[0] == 'i' ? "--input" : kind[0] == 'f' ? "--filter" : "--output";
      auto v = value(i, a, longName);
      if (!v) return v.status();
      o.sections.push_back(cliSection(kind, idx));
      current = &o.sections.back();
      addEntry(*current, "Name", *v, idx);
    } else if (is("-p", "--prop")) {
      auto v = value(i, a, "--prop");
      if (!v) return v.status();
      auto eq = v->find('=');
      // Values are never echoed: -p apikey=... is how secrets come in on the command line.
      std::string shown = eq == std::string::npos ? *v : v->substr(0, eq) + "=...";
      if (!current) return Status::error("-p '" + shown + "' must follow -i, -F or -o");
      if (eq == std::string::npos || eq == 0) return Status::error("-p '" + shown + "': expected KEY=VALUE");
      addEntry(*current, v->substr(0, eq), v->substr(eq + 1), idx);
    } else if (is("-m", "--match")) {
      auto v = value(i, a, "--match");
      if (!v) return v.status();
      if (!current || current->kind == "input") return Status::error("-m must follow -F or -o");
      addEntry(*current, "Match", *v, idx);
    } else if (is("-t", "--tag")) {
      auto v = value(i, a, "--tag");
      if (!v) return v.status();
      if (!current || current->kind != "input") return Status::error("-t must follow -i");
      addEntry(*current, "Tag", *v, idx);
    } else if (is("-f", "--flush")) {
      auto v = value(i, a, "--flush");
      if (!v) return v.status();
      addEntry(service, "Flush", *v, idx);
    } else if (is("-w", "--workers")) {
      auto v = value(i, a, "--workers");
      if (!v) return v.status();
      addEntry(service, "workers", *v, idx);
    } else {
      return Status::error("unknown option '" + a + "' (see firelane -h)");
    }
  }
  // Fluent Bit matches everything when -o is given without -m.
  for (auto& s : o.sections)
    if (s.kind != "input" && !s.find("Match") && !s.find("Match_Regex")) addEntry(s, "Match", "*", s.line);
  if (!service.entries.empty()) o.sections.push_back(std::move(service));
  return o;
}

Result<config::Document> loadConfig(const CliOptions& cli) {
  config::Document doc;
  if (!cli.configFile.empty()) {
    auto parsed = config::parseFile(cli.configFile);
    if (!parsed) return parsed.status();
    doc = std::move(*parsed);
  }
  for (const auto& s : cli.sections) doc.sections.push_back(s);
  return doc;
}

Result<std::string> pluginHelp(const Registry& registry, PluginKind kind, const std::string& name) {
  const PluginInfo* info = registry.find(kind, name);
  if (!info) return Status::error(std::string("unknown ") + kindName(kind) + " plugin '" + name + "'");
  std::string out = std::string(sectionName(kind)) + " " + info->name + ": " + info->description + "\n\n";
  out += formatOptionHelp(registry.allOptions(*info));
  return out;
}

int runMain(const std::vector<std::string>& args) {
  auto cli = parseCli(args);
  if (!cli) {
    fprintf(stderr, "firelane: %s\n", cli.message().c_str());
    return 1;
  }
  if (cli->version) {
    printf("firelane v%s\n", FIRELANE_VERSION);
    return 0;
  }
  Registry registry;
  registerBuiltinPlugins(registry);
  if (cli->pluginHelp) {
    auto text = pluginHelp(registry, cli->helpKind, cli->helpName);
    if (!text) {
      fprintf(stderr, "firelane: %s\n", text.message().c_str());
      return 1;
    }
    fputs(text->c_str(), stdout);
    return 0;
  }
  if (cli->help || (cli->configFile.empty() && cli->sections.empty())) {
    fputs(usage().c_str(), cli->help ? stdout : stderr);
    if (cli->help) {
      for (PluginKind k : {PluginKind::Input, PluginKind::Filter, PluginKind::Output}) {
        printf("\n%ss:", kindName(k));
        for (const auto& n : registry.names(k)) printf(" %s", n.c_str());
      }
      printf("\n");
    }
    return cli->help ? 0 : 1;
  }
  if (!cli->dryRun) {
    FL_INFO("[engine] firelane v%s starting with %s%s", FIRELANE_VERSION,
            cli->configFile.empty() ? "the command-line pipeline" : "config ", cli->configFile.c_str());
  }
  auto doc = loadConfig(*cli);
  if (!doc) {
    FL_ERROR("[config] %s", doc.message().c_str());
    return 1;
  }
  auto pipeline = buildPipeline(*doc, registry);
  if (!pipeline) {
    FL_ERROR("[config] %s", pipeline.message().c_str());
    return 1;
  }
  log::setLevel(pipeline->service.logLevel);
  for (const auto& w : pipeline->warnings) FL_WARN("[config] %s", w.c_str());
  if (cli->dryRun) {
    printf("configuration test is successful\n");
    return 0;
  }
  // SIGHUP builds a new pipeline from the same files; the engine validates it before draining the
  // old one, then runs again with it.
  PipelineLoader reload;
  if (!cli->configFile.empty()) {
    reload = [&cli, &registry]() -> Result<PipelineConfig> {
      auto d = loadConfig(*cli);
      if (!d) return d.status();
      return buildPipeline(*d, registry);
    };
  }
  PipelineConfig current = std::move(*pipeline);
  for (;;) {
    int rc;
    std::optional<PipelineConfig> next;
    {
      Engine engine(std::move(current), reload);
      rc = engine.run();
      next = engine.takeReloaded();
    }
    if (!next || rc != 0) return rc;
    current = std::move(*next);
    log::setLevel(current.service.logLevel);
    FL_INFO("[engine] firelane v%s reloaded config %s", FIRELANE_VERSION, cli->configFile.c_str());
  }
}

}  // namespace firelane::app
