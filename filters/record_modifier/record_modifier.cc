// The record_modifier filter, byte-compatible with Fluent Bit's: kept pairs are copied as raw bytes in
// their order, then every `Record KEY VALUE` is appended as msgpack str/str in config order (FireLens'
// ECS metadata), then `Uuid_key`. Remove_key / Allowlist_key compare keys case-insensitively, a
// trailing '*' matching any key with that prefix, exactly as Fluent Bit does.
#include "filters/record_modifier/record_modifier.h"

#include <strings.h>

#include <random>

#include "core/record/record_builder.h"

namespace firelane::filters::record_modifier {
namespace {

struct KeyPattern {
  std::string text;
  bool prefix = false;  // written with a trailing '*'
  bool matches(std::string_view key) const {
    if (prefix ? key.size() < text.size() : key.size() != text.size()) return false;
    return strncasecmp(key.data(), text.data(), text.size()) == 0;
  }
};

struct ModifierConfig {
  std::vector<std::pair<std::string, std::string>> records;
  std::vector<KeyPattern> removeKeys;
  std::vector<KeyPattern> allowKeys;
  std::string uuidKey;
};

bool anyMatch(const std::vector<KeyPattern>& ps, const record::Entry& e) {
  if (!e.keyIsString) return false;
  for (const auto& p : ps)
    if (p.matches(e.key)) return true;
  return false;
}

class RecordModifier final : public Filter {
 public:
  explicit RecordModifier(const ModifierConfig& cfg) : cfg_(cfg), rng_(std::random_device{}()) {}

  FilterResult apply(EventBatch& batch) override {
    const bool filterKeys = !cfg_.removeKeys.empty() || !cfg_.allowKeys.empty();
    if (!filterKeys && cfg_.records.empty() && cfg_.uuidKey.empty()) return FilterResult::Unchanged;
    record::BatchEditor ed(batch, builder_);
    for (const Event& ev : batch.events) {
      if (!record::readEntries(ev.record, entries_)) {
        ed.keep();  // not a map (or malformed): nothing to modify, pass it on untouched
        continue;
      }
      builder_.begin();
      size_t kept = 0;
      for (const auto& e : entries_) {
        bool keepIt = !filterKeys ||
                      (!cfg_.removeKeys.empty() ? !anyMatch(cfg_.removeKeys, e) : anyMatch(cfg_.allowKeys, e));
        if (keepIt) {
          builder_.copyPair(e.pair());
          ++kept;
        }
      }
      if (!filterKeys || kept == entries_.size()) {
        if (cfg_.records.empty() && cfg_.uuidKey.empty()) {  // nothing removed, nothing added
          builder_.end();
          ed.keep();
          continue;
        }
      }
      // Fluent Bit drops a record left without any key (every key removed, nothing appended).
      if (kept == 0 && cfg_.records.empty() && cfg_.uuidKey.empty()) {
        builder_.end();
        ed.drop();
        continue;
      }
      for (const auto& [k, v] : cfg_.records) builder_.addStrRef(k, v);
      if (!cfg_.uuidKey.empty()) {
        char uuid[37];
        makeUuid(uuid);
        builder_.addStr(cfg_.uuidKey, std::string_view(uuid, 36));
      }
      ed.replace(builder_.end());
    }
    return ed.finish();
  }

 private:
  // Random (version 4) UUID text.
  void makeUuid(char* out) {
    uint64_t a = rng_(), b = rng_();
    a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
             static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
             static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  }

  const ModifierConfig& cfg_;
  record::RecordBuilder builder_;
  std::vector<record::Entry> entries_;
  std::mt19937_64 rng_;
};

class ModifierFactory final : public FilterFactory {
 public:
  explicit ModifierFactory(ModifierConfig cfg) : cfg_(std::move(cfg)) {}
  FilterPtr create(unsigned) const override { return std::make_unique<RecordModifier>(cfg_); }

 private:
  ModifierConfig cfg_;
};

KeyPattern keyPattern(std::string_view text) {
  KeyPattern p;
  p.prefix = !text.empty() && text.back() == '*';
  p.text = std::string(p.prefix ? text.substr(0, text.size() - 1) : text);
  return p;
}

}  // namespace

// "KEY VALUE": the key runs to the first blank (or is "double quoted"); the value is the rest, with
// surrounding double quotes removed when it is one quoted token.
bool splitKeyValue(std::string_view text, std::string& key, std::string& value) {
  size_t i = 0;
  if (!text.empty() && text[0] == '"') {
    size_t close = text.find('"', 1);
    if (close == std::string_view::npos) return false;
    key = std::string(text.substr(1, close - 1));
    i = close + 1;
    if (i < text.size() && text[i] != ' ' && text[i] != '\t') return false;
  } else {
    i = text.find_first_of(" \t");
    if (i == std::string_view::npos) return false;
    key = std::string(text.substr(0, i));
  }
  std::string_view rest = text.substr(std::min(i, text.size()));
  size_t start = rest.find_first_not_of(" \t");
  if (start == std::string_view::npos || key.empty()) return false;
  rest = rest.substr(start);
  if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"' &&
      rest.substr(1, rest.size() - 2).find('"') == std::string_view::npos) {
    rest = rest.substr(1, rest.size() - 2);
  }
  value = std::string(rest);
  return true;
}

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Filter;
  info.name = "record_modifier";
  info.description = "appends fields to records and removes or allowlists keys";
  info.options = {
      {"Record", OptionType::String, "", "KEY VALUE: appended to every record as a string", true},
      {"Remove_key", OptionType::String, "", "key to remove (case-insensitive; 'prefix*' allowed)", true},
      {"Allowlist_key", OptionType::String, "", "keep only these keys (case-insensitive; 'prefix*' allowed)", true},
      {"Whitelist_key", OptionType::String, "", "old name of Allowlist_key", true},
      {"Uuid_key", OptionType::String, "", "key of a random UUID v4 appended to every record"},
  };
  info.makeFilter = [](const OptionValues& v, const PluginEnv&) -> Result<std::shared_ptr<FilterFactory>> {
    ModifierConfig c;
    for (std::string_view r : v.all("Record")) {
      std::string k, val;
      if (!splitKeyValue(r, k, val)) {
        return Status::error(v.where("Record") + ": invalid value '" + std::string(r) + "' for 'Record' in " +
                             v.label() + ": expected KEY VALUE");
      }
      c.records.emplace_back(std::move(k), std::move(val));
    }
    for (std::string_view k : v.all("Remove_key"))
      if (!k.empty()) c.removeKeys.push_back(keyPattern(k));
    for (std::string_view name : {"Allowlist_key", "Whitelist_key"})
      for (std::string_view k : v.all(name))
        if (!k.empty()) c.allowKeys.push_back(keyPattern(k));
    if (!c.removeKeys.empty() && !c.allowKeys.empty()) {
      std::string allowKey = v.isSet("Allowlist_key") ? "Allowlist_key" : "Whitelist_key";
      return Status::error(v.where(allowKey) + ": Remove_key and " + allowKey + " cannot be used together in " +
                           v.label());
    }
    c.uuidKey = std::string(v.str("Uuid_key"));
    return std::shared_ptr<FilterFactory>(std::make_shared<ModifierFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::filters::record_modifier
