// The grep filter: Regex / Exclude rules on record accessor values (re2, unanchored), combined the
// way Fluent Bit does (legacy first-decisive-rule, or Logical_Op and/or). Kept records are never
// copied: dropped events are erased from the batch and the rest keep their views.
#include "filters/grep/grep.h"

#include <algorithm>

#include "core/record/option_text.h"
#include "core/record/record_accessor.h"
#include "core/record/regex.h"

namespace firelane::filters::grep {
namespace {

enum class Op { Legacy, And, Or };

struct Rule {
  bool exclude = false;
  record::RecordAccessor key;
  std::shared_ptr<const RE2> regex;
};

struct GrepConfig {
  Op op = Op::Legacy;
  std::vector<Rule> rules;
};

// Fluent Bit's flb_ra_regex_match: only string values can match (bin too here: old msgpack writers
// send strings as raw bytes); missing keys and numbers never match.
bool matches(const Rule& r, std::span<const uint8_t> record) {
  std::string_view s;
  if (!record::stringValue(r.key.find(record), s)) return false;
  return RE2::PartialMatch(s, *r.regex);
}

bool keep(const GrepConfig& c, std::span<const uint8_t> record) {
  if (c.op == Op::Legacy) {
    // Fluent Bit's historical rule: the first rule that decides wins; a matching Regex keeps the
    // record without looking at later rules, an Exclude that does not match passes to the next.
    for (const Rule& r : c.rules) {
      bool m = matches(r, record);
      if (!m && !r.exclude) return false;
      if (m) return !r.exclude;
    }
    return true;
  }
  // and/or: all rules are of one kind (checked at start-up).
  bool found = false;
  for (const Rule& r : c.rules) {
    found = matches(r, record);
    if (c.op == Op::Or && found) break;
    if (c.op == Op::And && !found) break;
  }
  return c.rules.front().exclude ? !found : found;
}

class GrepFilter final : public Filter {
 public:
  explicit GrepFilter(const GrepConfig& cfg) : cfg_(cfg) {}

  FilterResult apply(EventBatch& batch) override {
    if (cfg_.rules.empty()) return FilterResult::Unchanged;
    size_t out = 0;
    size_t dropBytes = 0;
    auto& ev = batch.events;
    for (size_t i = 0; i < ev.size(); ++i) {
      if (keep(cfg_, ev[i].record)) {
        if (out != i) ev[out] = ev[i];
        ++out;
      } else {
        dropBytes += ev[i].record.size();
      }
    }
    if (out == ev.size()) return FilterResult::Unchanged;
    ev.resize(out);
    batch.bytes -= std::min(batch.bytes, dropBytes);
    return out == 0 ? FilterResult::DropAll : FilterResult::Modified;
  }

 private:
  const GrepConfig& cfg_;
};

class GrepFactory final : public FilterFactory {
 public:
  explicit GrepFactory(GrepConfig cfg) : cfg_(std::move(cfg)) {}
  FilterPtr create(unsigned) const override { return std::make_unique<GrepFilter>(cfg_); }

 private:
  GrepConfig cfg_;
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Filter;
  info.name = "grep";
  info.description = "keeps or drops records whose fields match regular expressions";
  info.options = {
      {"Regex", OptionType::String, "", "KEY REGEX: keep records whose KEY matches REGEX", true},
      {"Exclude", OptionType::String, "", "KEY REGEX: drop records whose KEY matches REGEX", true},
      {"Logical_Op", OptionType::Enum, "legacy", "how rules combine: legacy, and, or", false, false, false,
       {"legacy", "and", "or"}},
  };
  info.makeFilter = [](const OptionValues& v, const PluginEnv&) -> Result<std::shared_ptr<FilterFactory>> {
    GrepConfig c;
    std::string_view op = v.str("Logical_Op");
    c.op = config::iequals(op, "and") ? Op::And : config::iequals(op, "or") ? Op::Or : Op::Legacy;
    // Rule order matters in legacy mode (see orderedValues for how it is recovered).
    static constexpr std::string_view kKeys[] = {"Regex", "Exclude"};
    const std::string label = v.label();
    for (const auto& ov : record::orderedValues(v, kKeys)) {
      std::string_view text = ov.text;
      std::string key(ov.key);
      size_t sp = text.find_first_of(" \t");
      std::string_view field = text.substr(0, sp);
      std::string_view pattern;
      if (sp != std::string_view::npos) {
        pattern = text.substr(sp);
        pattern.remove_prefix(std::min(pattern.find_first_not_of(" \t"), pattern.size()));
      }
      if (field.empty() || pattern.empty()) {
        return Status::error(ov.where + ": invalid value '" + std::string(text) + "' for '" + key + "' in " + label +
                             ": expected KEY REGEX");
      }
      // Like Fluent Bit, a key without '$' is a record accessor all the same ("log" -> "$log").
      auto ra = record::RecordAccessor::parse(field[0] == '$' ? std::string(field) : "$" + std::string(field));
      if (!ra) {
        return Status::error(ov.where + ": invalid " + key + " '" + std::string(text) + "' in " + label + ": " +
                             ra.message());
      }
      auto re = record::compileRegex(pattern);
      if (!re) {
        return Status::error(ov.where + ": invalid " + key + " '" + std::string(text) + "' in " + label + ": " +
                             re.message());
      }
      c.rules.push_back(Rule{ov.key == "Exclude", std::move(*ra), std::move(*re)});
    }
    if (c.op != Op::Legacy && v.isSet("Regex") && v.isSet("Exclude")) {
      return Status::error(v.where("Logical_Op") + ": Regex and Exclude cannot be combined with Logical_Op " +
                           std::string(v.str("Logical_Op")) + " in " + label + " (use two grep filters)");
    }
    return std::shared_ptr<FilterFactory>(std::make_shared<GrepFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::filters::grep
