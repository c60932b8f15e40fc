// The modify filter with Fluent Bit's semantics: when every Condition holds for the incoming record,
// the rules run in config order, each on the result of the previous one. Keys compare byte-exactly
// with str or bin keys; new keys and values are encoded once at start-up, so a rewritten record is
// only raw ranges of the old record and of the config.
#include "filters/modify/modify.h"

#include <algorithm>

#include "core/codec/msgpack_writer.h"
#include "core/proto/msgpack_cursor.h"
#include "core/record/option_text.h"
#include "core/record/record_builder.h"
#include "core/record/regex.h"

namespace firelane::filters::modify {
namespace {

using record::Bytes;

enum class RuleType { Set, Add, Remove, RemoveWildcard, RemoveRegex, Rename, HardRename, Copy, HardCopy, MoveToStart, MoveToEnd };
enum class CondType {
  KeyExists,
  KeyDoesNotExist,
  AKeyMatches,
  NoKeyMatches,
  KeyValueEquals,
  KeyValueDoesNotEqual,
  KeyValueMatches,
  KeyValueDoesNotMatch,
  MatchingKeysHaveMatchingValues,
  MatchingKeysDoNotHaveMatchingValues,
};

// A msgpack str encoded once; views into it are valid as long as the config lives.
struct Encoded {
  std::string text;
  std::vector<uint8_t> bytes;
  explicit Encoded(std::string t = {}) : text(std::move(t)) {
    codec::MsgpackWriter w(bytes);
    w.str(text);
  }
  Bytes span() const { return bytes; }
};

struct Rule {
  RuleType type;
  Encoded key;
  Encoded value;  // the value (Set/Add) or the new key (Rename/Copy)
  std::shared_ptr<const RE2> regex;
};

struct Condition {
  CondType type;
  record::RecordAccessor key;  // Key_* conditions
  std::string value;
  std::shared_ptr<const RE2> keyRegex;
  std::shared_ptr<const RE2> valueRegex;
};

struct ModifyConfig {
  std::vector<Condition> conditions;
  std::vector<Rule> rules;
};

// Fluent Bit matches regexes against str values, and booleans as "true"/"false"; nothing else.
bool valueMatches(Bytes v, const RE2& re) {
  proto::MsgpackCursor c(v);
  proto::MsgpackHeader h;
  if (c.peek(h) != proto::MsgpackStatus::Ok) return false;
  if (h.type == proto::MsgpackType::Bool) return RE2::PartialMatch(h.boolValue() ? "true" : "false", re);
  if (h.type != proto::MsgpackType::Str) return false;
  std::string_view s;
  return c.readStr(s) == proto::MsgpackStatus::Ok && RE2::PartialMatch(s, re);
}

bool keyMatchesRegex(const record::Entry& e, const RE2& re) {
  if (!e.keyIsString) {
    return valueMatches(e.keyRaw, re);  // a bool key still matches as true/false
  }
  return e.keyRaw[0] != 0xc4 && e.keyRaw[0] != 0xc5 && e.keyRaw[0] != 0xc6 && RE2::PartialMatch(e.key, re);
}

bool keyIs(const record::Entry& e, std::string_view k) { return e.keyIsString && e.key == k; }

size_t countKey(const std::vector<record::Entry>& es, std::string_view k) {
  size_t n = 0;
  for (const auto& e : es) n += keyIs(e, k);
  return n;
}

template <typename Pred>
bool eraseIf(std::vector<record::Entry>& es, Pred pred) {
  size_t before = es.size();
  std::erase_if(es, pred);
  return es.size() != before;
}

record::Entry newEntry(const Encoded& key, Bytes value) {
  record::Entry e;
  e.keyRaw = key.span();
  e.value = value;
  e.key = key.text;
  e.keyIsString = true;
  return e;
}

bool evaluate(const Condition& c, Bytes record, const std::vector<record::Entry>& es) {
  switch (c.type) {
    case CondType::KeyExists:
      return !c.key.find(record).empty();
    case CondType::KeyDoesNotExist:
      return c.key.find(record).empty();
    case CondType::AKeyMatches:
    case CondType::NoKeyMatches: {
      bool any = false;
      for (const auto& e : es) any = any || keyMatchesRegex(e, *c.keyRegex);
      return c.type == CondType::AKeyMatches ? any : !any;
    }
    case CondType::KeyValueEquals:
    case CondType::KeyValueDoesNotEqual: {
      Bytes v = c.key.find(record);
      if (v.empty()) return false;
      std::string_view s;
      bool eq = record::stringValue(v, s) && s == c.value;
      return c.type == CondType::KeyValueEquals ? eq : !eq;
    }
    case CondType::KeyValueMatches:
    case CondType::KeyValueDoesNotMatch: {
      Bytes v = c.key.find(record);
      if (v.empty()) return false;
      bool m = valueMatches(v, *c.valueRegex);
      return c.type == CondType::KeyValueMatches ? m : !m;
    }
    case CondType::MatchingKeysHaveMatchingValues:
    case CondType::MatchingKeysDoNotHaveMatchingValues: {
      bool all = true;
      for (const auto& e : es) {
        if (keyMatchesRegex(e, *c.keyRegex) && !valueMatches(e.value, *c.valueRegex)) {
          all = false;
          break;
        }
      }
      return c.type == CondType::MatchingKeysHaveMatchingValues ? all : !all;
    }
  }
  return false;
}

// Applies one rule to the working entries; true when it changed them.
bool applyRule(const Rule& r, std::vector<record::Entry>& es) {
  const std::string_view k = r.key.text;
  switch (r.type) {
    case RuleType::Set:
      eraseIf(es, [&](const record::Entry& e) { return keyIs(e, k); });
      es.push_back(newEntry(r.key, r.value.span()));
      return true;
    case RuleType::Add:
      if (countKey(es, k) > 0) return false;
      es.push_back(newEntry(r.key, r.value.span()));
      return true;
    case RuleType::Remove:
      return eraseIf(es, [&](const record::Entry& e) { return keyIs(e, k); });
    case RuleType::RemoveWildcard:
      return eraseIf(es, [&](const record::Entry& e) { return e.keyIsString && e.key.starts_with(k); });
    case RuleType::RemoveRegex:
      return eraseIf(es, [&](const record::Entry& e) { return keyMatchesRegex(e, *r.regex); });
    case RuleType::Rename:
    case RuleType::HardRename: {
      const std::string_view to = r.value.text;
      if (k == to || countKey(es, k) == 0) return false;  // to itself: nothing to do (never a removal)
      if (countKey(es, to) > 0) {
        if (r.type == RuleType::Rename) return false;
        eraseIf(es, [&](const record::Entry& e) { return keyIs(e, to); });
      }
      for (auto& e : es)
        if (keyIs(e, k)) e = newEntry(r.value, e.value);
      return true;
    }
    case RuleType::Copy:
    case RuleType::HardCopy: {
      const std::string_view to = r.value.text;
      if (k == to || countKey(es, k) != 1) return false;
      size_t conflicts = countKey(es, to);
      if (conflicts > 0 && (r.type == RuleType::Copy || conflicts > 1)) return false;
      if (conflicts == 1) eraseIf(es, [&](const record::Entry& e) { return keyIs(e, to); });
      for (size_t i = 0; i < es.size(); ++i) {
        if (keyIs(es[i], k)) {
          es.insert(es.begin() + static_cast<std::ptrdiff_t>(i) + 1, newEntry(r.value, es[i].value));
          return true;
        }
      }
      return conflicts == 1;
    }
    case RuleType::MoveToStart:
    case RuleType::MoveToEnd: {
      auto matches = [&](const record::Entry& e) { return e.keyIsString && e.key.starts_with(k); };
      bool any = false;
      for (const auto& e : es) any = any || matches(e);
      if (!any) return false;
      if (r.type == RuleType::MoveToStart)
        std::stable_partition(es.begin(), es.end(), matches);
      else
        std::stable_partition(es.begin(), es.end(), [&](const record::Entry& e) { return !matches(e); });
      return true;
    }
  }
  return false;
}

class ModifyFilter final : public Filter {
 public:
  explicit ModifyFilter(const ModifyConfig& cfg) : cfg_(cfg) {}

  FilterResult apply(EventBatch& batch) override {
    if (cfg_.rules.empty()) return FilterResult::Unchanged;
    record::BatchEditor ed(batch, builder_);
    for (const Event& ev : batch.events) {
      if (!record::readEntries(ev.record, entries_)) {
        ed.keep();
        continue;
      }
      bool ok = true;
      for (const auto& c : cfg_.conditions) ok = ok && evaluate(c, ev.record, entries_);
      bool changed = false;
      if (ok)
        for (const auto& r : cfg_.rules) changed = applyRule(r, entries_) || changed;
      if (!changed) {
        ed.keep();
        continue;
      }
      builder_.begin();
      for (const auto& e : entries_) builder_.copyPair(e.keyRaw, e.value);
      ed.replace(builder_.end());
    }
    return ed.finish();
  }

 private:
  const ModifyConfig& cfg_;
  record::RecordBuilder builder_;
  std::vector<record::Entry> entries_;
};

class ModifyFactory final : public FilterFactory {
 public:
  explicit ModifyFactory(std::shared_ptr<const ModifyConfig> cfg) : cfg_(std::move(cfg)) {}
  FilterPtr create(unsigned) const override { return std::make_unique<ModifyFilter>(*cfg_); }

 private:
  std::shared_ptr<const ModifyConfig> cfg_;  // shared: rules hold views into their own strings
};

struct RuleName {
  std::string_view option;
  RuleType type;
  int words;  // 1: KEY, 2: KEY VALUE
};
constexpr RuleName kRules[] = {
    {"Set", RuleType::Set, 2},
    {"Add", RuleType::Add, 2},
    {"Add_if_not_present", RuleType::Add, 2},
    {"Remove", RuleType::Remove, 1},
    {"Remove_wildcard", RuleType::RemoveWildcard, 1},
    {"Remove_regex", RuleType::RemoveRegex, 1},
    {"Rename", RuleType::Rename, 2},
    {"Hard_rename", RuleType::HardRename, 2},
    {"Copy", RuleType::Copy, 2},
    {"Hard_copy", RuleType::HardCopy, 2},
    {"Move_to_start", RuleType::MoveToStart, 1},
    {"Move_to_end", RuleType::MoveToEnd, 1},
};

struct CondName {
  std::string_view name;
  CondType type;
  int args;           // words after the condition name
  bool keyIsRegex;
  bool valueIsRegex;
};
constexpr CondName kConds[] = {
    {"Key_exists", CondType::KeyExists, 1, false, false},
    {"Key_does_not_exist", CondType::KeyDoesNotExist, 1, false, false},
    {"A_key_matches", CondType::AKeyMatches, 1, true, false},
    {"No_key_matches", CondType::NoKeyMatches, 1, true, false},
    {"Key_value_equals", CondType::KeyValueEquals, 2, false, false},
    {"Key_value_does_not_equal", CondType::KeyValueDoesNotEqual, 2, false, false},
    {"Key_value_matches", CondType::KeyValueMatches, 2, false, true},
    {"Key_value_does_not_match", CondType::KeyValueDoesNotMatch, 2, false, true},
    {"Matching_keys_have_matching_values", CondType::MatchingKeysHaveMatchingValues, 2, true, true},
    {"Matching_keys_do_not_have_matching_values", CondType::MatchingKeysDoNotHaveMatchingValues, 2, true, true},
};

Result<std::shared_ptr<FilterFactory>> make(const OptionValues& v) {
  auto c = std::make_shared<ModifyConfig>();
  const std::string label = v.label();
  auto bad = [&](const std::string& where, std::string_view key, std::string_view text, const std::string& why) {
    return Status::error(where + ": invalid " + std::string(key) + " '" + std::string(text) + "' in " + label + ": " +
                         why);
  };
  // Conditions.
  for (std::string_view text : v.all("Condition")) {
    auto words = record::splitWords(text);
    if (!words) return bad(v.where("Condition"), "Condition", text, words.message());
    if (words->empty()) return bad(v.where("Condition"), "Condition", text, "expected CONDITION KEY [VALUE]");
    const CondName* cn = nullptr;
    for (const auto& n : kConds)
      if (config::iequals(n.name, (*words)[0])) cn = &n;
    if (!cn) {
      std::string names;
      for (const auto& n : kConds) names += (names.empty() ? "" : ", ") + std::string(n.name);
      return bad(v.where("Condition"), "Condition", text, "unknown condition '" + (*words)[0] + "'; one of " + names);
    }
    if (static_cast<int>(words->size()) - 1 != cn->args) {
      return bad(v.where("Condition"), "Condition", text,
                 std::string(cn->name) + (cn->args == 1 ? " expects KEY" : " expects KEY VALUE") +
                     " (quote words that contain blanks)");
    }
    Condition cond;
    cond.type = cn->type;
    const std::string& a = (*words)[1];
    if (cn->keyIsRegex) {
      auto re = record::compileRegex(a);
      if (!re) return bad(v.where("Condition"), "Condition", text, "regex '" + a + "': " + re.message());
      cond.keyRegex = *re;
    } else {
      auto ra = record::RecordAccessor::parse(a);
      if (!ra) return bad(v.where("Condition"), "Condition", text, ra.message());
      cond.key = std::move(*ra);
    }
    if (cn->args == 2) {
      cond.value = (*words)[2];
      if (cn->valueIsRegex) {
        auto re = record::compileRegex(cond.value);
        if (!re) return bad(v.where("Condition"), "Condition", text, "regex '" + cond.value + "': " + re.message());
        cond.valueRegex = *re;
      }
    }
    c->conditions.push_back(std::move(cond));
  }
  // Rules, in config order.
  std::vector<std::string_view> keys;
  for (const auto& r : kRules) keys.push_back(r.option);
  for (const auto& ov : record::orderedValues(v, keys)) {
    const RuleName* rn = nullptr;
    for (const auto& r : kRules)
      if (r.option == ov.key) rn = &r;
    auto words = record::splitWords(ov.text);
    if (!words) return bad(ov.where, ov.key, ov.text, words.message());
    if (static_cast<int>(words->size()) != rn->words || (*words)[0].empty()) {
      return bad(ov.where, ov.key, ov.text,
                 rn->words == 1 ? "expected KEY" : "expected KEY VALUE (quote words that contain blanks)");
    }
    Rule rule{rn->type, Encoded((*words)[0]), Encoded(rn->words == 2 ? (*words)[1] : std::string()), nullptr};
    if (rule.type == RuleType::RemoveWildcard || rule.type == RuleType::MoveToStart ||
        rule.type == RuleType::MoveToEnd) {
      // A wildcard is a key prefix; a trailing '*' is accepted and means the same.
      std::string prefix = rule.key.text;
      if (!prefix.empty() && prefix.back() == '*') prefix.pop_back();
      rule.key = Encoded(prefix);
    }
    if (rule.type == RuleType::RemoveRegex) {
      auto re = record::compileRegex(rule.key.text);
      if (!re) return bad(ov.where, ov.key, ov.text, re.message());
      rule.regex = *re;
    }
    c->rules.push_back(std::move(rule));
  }
  return std::shared_ptr<FilterFactory>(std::make_shared<ModifyFactory>(std::move(c)));
}

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Filter;
  info.name = "modify";
  info.description = "changes records with rules (Set, Add, Remove, Rename, Copy, ...) under conditions";
  info.options = {
      {"Set", OptionType::String, "", "KEY VALUE: set KEY (existing pairs removed, the new one appended)", true},
      {"Add", OptionType::String, "", "KEY VALUE: add KEY unless it exists", true},
      {"Add_if_not_present", OptionType::String, "", "old name of Add", true},
      {"Remove", OptionType::String, "", "KEY: remove KEY", true},
      {"Remove_wildcard", OptionType::String, "", "PREFIX: remove keys starting with PREFIX", true},
      {"Remove_regex", OptionType::String, "", "REGEX: remove keys matching REGEX", true},
      {"Rename", OptionType::String, "", "KEY NEW: rename KEY unless NEW exists", true},
      {"Hard_rename", OptionType::String, "", "KEY NEW: rename KEY, replacing NEW", true},
      {"Copy", OptionType::String, "", "KEY NEW: copy KEY's value to NEW unless NEW exists", true},
      {"Hard_copy", OptionType::String, "", "KEY NEW: copy KEY's value to NEW, replacing it", true},
      {"Move_to_start", OptionType::String, "", "PREFIX: move matching keys first", true},
      {"Move_to_end", OptionType::String, "", "PREFIX: move matching keys last", true},
      {"Condition", OptionType::String, "", "CONDITION KEY [VALUE]: rules apply only when all conditions hold",
       true},
  };
  info.makeFilter = [](const OptionValues& v, const PluginEnv&) { return make(v); };
  registry.add(std::move(info));
}

}  // namespace firelane::filters::modify
