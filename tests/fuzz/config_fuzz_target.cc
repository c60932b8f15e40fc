// libFuzzer target for the classic config format: parseString (sections, @INCLUDE with globs and
// cycles, @SET, ${VAR}) and then buildPipeline (every built-in plugin's option table and factory),
// which is what `--dry-run` runs. Also checks that no value of a secret option (apikey, shared_key,
// password, ...) shows up in an error message.
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "core/app/builtin_plugins.h"
#include "core/common/log.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"
#include "tests/fuzz/fuzz_util.h"

namespace firelane::fuzz {
namespace {

// Files an input may @INCLUDE (by relative name only: see configOneInput).
struct Sandbox {
  ScratchDir dir{"firelane-fuzz-config-"};
  Registry registry;
  Sandbox() {
    log::setLevel(log::Level::Off);
    registerBuiltinPlugins(registry);
    write("out.conf", "[OUTPUT]\n    Name null\n    Match *\n");
    write("in.conf", "[INPUT]\n    Name dummy\n    Tag t\n@INCLUDE out.conf\n");
    write("self.conf", "@INCLUDE self.conf\n");
    write("parsers.conf", "[PARSER]\n    Name j\n    Format json\n    Time_Key t\n    Time_Format %s\n");
    write("env.conf", "[SERVICE]\n    Flush ${FLUSH}\n");
  }
  void write(const char* name, const char* text) const {
    std::ofstream(dir.path() + "/" + name, std::ios::binary) << text;
  }
};

Sandbox& sandbox() {
  static Sandbox s;
  return s;
}

const char* fakeEnv(const char* name) {
  if (std::strcmp(name, "FLUSH") == 0) return "2";
  if (std::strcmp(name, "KEY") == 0) return "env-secret-value";
  return nullptr;
}

PluginKind kindOfSection(std::string_view kind, bool& ok) {
  ok = true;
  if (kind == "input") return PluginKind::Input;
  if (kind == "filter") return PluginKind::Filter;
  if (kind == "output") return PluginKind::Output;
  ok = false;
  return PluginKind::Input;
}

// Builds the pipeline again with every secret option's value replaced by a canary that no message
// text could contain by chance; neither the error nor a warning may then show a canary.
void checkSecretsHidden(config::Document doc, const Registry& registry) {
  int canaries = 0;
  for (auto& s : doc.sections) {
    bool plugin = false;
    PluginKind kind = kindOfSection(s.kind, plugin);
    const config::Entry* name = s.find("Name");
    if (!plugin || !name) continue;
    const PluginInfo* info = registry.find(kind, name->value);
    if (!info) continue;
    for (const auto& spec : registry.allOptions(*info)) {
      if (!spec.secret) continue;
      for (auto& e : s.entries) {
        if (!config::iequals(e.key, spec.name) || e.value.empty()) continue;
        // Two words, so that 'user password' style values stay well-formed.
        e.value = "fuzzcanary" + std::to_string(canaries++) + " fuzzcanary";
      }
    }
  }
  if (canaries == 0) return;
  auto pipeline = buildPipeline(doc, registry);
  std::string shown = pipeline ? std::string() : pipeline.message();
  if (pipeline)
    for (const auto& w : pipeline->warnings) shown += w + "\n";
  if (shown.find("fuzzcanary") != std::string::npos) __builtin_trap();  // a secret was printed
}

}  // namespace

int configOneInput(const uint8_t* data, size_t size) {
  Sandbox& box = sandbox();
  if (box.dir.path().empty()) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Without '/' every @INCLUDE, Parsers_File or Upstream path stays inside the sandbox (or the
  // working folder): the fuzzer must not read /dev/zero, /proc/kmsg or the whole file system.
  if (text.find('/') != std::string_view::npos || size > 64 * 1024) return 0;
  config::ParseOptions po;
  po.getenv = fakeEnv;
  auto doc = config::parseString(text, "fuzz.conf", box.dir.path(), po);
  if (!doc) {
    if (doc.message().empty()) __builtin_trap();  // every failure says what is wrong
    return 0;
  }
  for (const auto& s : doc->sections) {
    if (s.kind.empty() || s.line <= 0) __builtin_trap();
    for (const auto& e : s.entries)
      if (e.key.empty() || e.line <= 0) __builtin_trap();
  }
  auto pipeline = buildPipeline(*doc, box.registry);
  if (!pipeline && pipeline.message().empty()) __builtin_trap();
  // (An input that spells the canary itself, as libFuzzer learns to, proves nothing.)
  if (text.find("fuzzcanary") == std::string_view::npos) checkSecretsHidden(std::move(*doc), box.registry);
  return 0;
}

}  // namespace firelane::fuzz

FIRELANE_FUZZ_ENTRY(firelane::fuzz::configOneInput)
