// Option tables at work: validation of a section against its specs, typed access afterwards, "did
// you mean" suggestions and the --help table. One table drives all of them so they never disagree.
#include "core/plugin/options.h"

#include <algorithm>
#include <cassert>

#include "core/config/values.h"

namespace firelane {

namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Optimal string alignment distance: Levenshtein plus adjacent swaps, because "Prot" for "Port" is
// the most common typo and plain Levenshtein counts it as two edits.
size_t editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = lowerAscii(a[i - 1]) == lowerAscii(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lowerAscii(a[i - 1]) == lowerAscii(b[j - 2]) &&
          lowerAscii(a[i - 2]) == lowerAscii(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

// Empty when `text` is acceptable for `spec`, else what was expected ("expected an integer").
std::string checkValue(const OptionSpec& spec, std::string_view text) {
  switch (spec.type) {
    case OptionType::String:
      return {};
    case OptionType::Int:
      return config::parseInt(text) ? std::string() : "expected an integer";
    case OptionType::Size:
      return config::parseSize(text) ? std::string() : "expected a size such as 1024, 64K, 5M or 1G";
    case OptionType::Bool:
      return config::parseBool(text) ? std::string() : "expected on/off, true/false or yes/no";
    case OptionType::Seconds:
      return config::parseSeconds(text) ? std::string() : "expected a non-negative number of seconds";
    case OptionType::Enum:
      for (const auto& c : spec.choices) {
        if (config::iequals(c, text)) return {};
      }
      return "expected one of: " + join(spec.choices, ", ");
  }
  return "unknown option type";
}

const char* typeName(OptionType t) {
  switch (t) {
    case OptionType::String:
      return "string";
    case OptionType::Int:
      return "int";
    case OptionType::Size:
      return "size";
    case OptionType::Bool:
      return "bool";
    case OptionType::Seconds:
      return "seconds";
    case OptionType::Enum:
      return "enum";
  }
  return "?";
}

// "invalid value 'abc' for 'Port' in [INPUT] forward: expected an integer"; secrets never show.
std::string invalidValue(std::string_view what, const OptionSpec& spec, std::string_view text,
                         std::string_view label, const std::string& expected) {
  std::string msg = std::string(what) + " ";
  if (!spec.secret) msg += "'" + std::string(text) + "' ";
  return msg + "for '" + spec.name + "' in " + std::string(label) + ": " + expected;
}

}  // namespace

OptionValues::OptionValues(std::vector<OptionSpec> specs, std::vector<std::vector<Value>> values,
                           std::string label)
    : specs_(std::move(specs)), values_(std::move(values)), label_(std::move(label)) {
  values_.resize(specs_.size());
}

const std::vector<OptionValues::Value>* OptionValues::find(std::string_view name) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (config::iequals(specs_[i].name, name)) return &values_[i];
  }
  assert(false && "option name not in the spec table");
  return nullptr;
}

bool OptionValues::isSet(std::string_view name) const {
  const auto* v = find(name);
  return v && !v->empty();
}

std::string_view OptionValues::str(std::string_view name) const {
  const auto* v = find(name);
  if (!v) return {};
  if (!v->empty()) return v->back().text;
  return specs_[static_cast<size_t>(v - values_.data())].defaultValue;
}

int64_t OptionValues::integer(std::string_view name) const { return config::parseInt(str(name)).value_or(0); }

uint64_t OptionValues::size(std::string_view name) const { return config::parseSize(str(name)).value_or(0); }

bool OptionValues::boolean(std::string_view name) const {
  return config::parseBool(str(name)).value_or(false);
}

double OptionValues::seconds(std::string_view name) const {
  return config::parseSeconds(str(name)).value_or(0.0);
}

std::vector<std::string_view> OptionValues::all(std::string_view name) const {
  std::vector<std::string_view> out;
  const auto* v = find(name);
  if (!v) return out;
  for (const auto& value : *v) out.emplace_back(value.text);
  if (out.empty()) {
    std::string_view def = specs_[static_cast<size_t>(v - values_.data())].defaultValue;
    if (!def.empty()) out.push_back(def);
  }
  return out;
}

std::string OptionValues::where(std::string_view name) const {
  const auto* v = find(name);
  if (!v || v->empty() || v->back().file.empty()) return label_;
  return v->back().file + ":" + std::to_string(v->back().line);
}

std::string OptionValues::where(std::string_view name, size_t index) const {
  const auto* v = find(name);
  if (!v || index >= v->size() || (*v)[index].file.empty()) return label_;
  return (*v)[index].file + ":" + std::to_string((*v)[index].line);
}

Result<OptionValues> validateOptions(const config::Section& section, std::span<const OptionSpec> specs,
                                     std::string_view label, std::span<const std::string_view> skip) {
  for (const auto& spec : specs) {
    if (spec.defaultValue.empty()) continue;
    std::string expected = checkValue(spec, spec.defaultValue);
    if (!expected.empty()) {
      // A broken table is a bug in firelane, not in the user's file; release builds still refuse it.
      assert(false && "invalid default in an option table");
      return Status::error("internal error: " +
                           invalidValue("invalid default", spec, spec.defaultValue, label, expected));
    }
  }

  std::vector<std::vector<OptionValues::Value>> values(specs.size());
  for (const auto& entry : section.entries) {
    std::string where = entry.file + ":" + std::to_string(entry.line) + ": ";
    if (std::any_of(skip.begin(), skip.end(),
                    [&](std::string_view s) { return config::iequals(s, entry.key); })) {
      continue;
    }
    auto it = std::find_if(specs.begin(), specs.end(),
                           [&](const OptionSpec& s) { return config::iequals(s.name, entry.key); });
    if (it == specs.end()) {
      std::vector<std::string> names;
      for (const auto& s : specs) names.push_back(s.name);
      for (auto s : skip) names.emplace_back(s);
      std::string msg = where + "unknown key '" + entry.key + "' in " + std::string(label);
      std::string suggestion = suggestName(entry.key, names);
      if (!suggestion.empty()) msg += " (did you mean '" + suggestion + "'?)";
      return Status::error(msg);
    }
    const OptionSpec& spec = *it;
    std::string expected = checkValue(spec, entry.value);
    if (!expected.empty())
      return Status::error(where + invalidValue("invalid value", spec, entry.value, label, expected));
    if (spec.required && entry.value.empty()) {
      // Usually "apikey ${DD_API_KEY}" with the variable unset: say so here rather than fail later.
      return Status::error(where + "required key '" + spec.name + "' in " + std::string(label) +
                           " has an empty value");
    }
    auto& slot = values[static_cast<size_t>(it - specs.begin())];
    // A repeated single-value key replaces the earlier one, as in Fluent Bit.
    if (!spec.multiple) slot.clear();
    slot.push_back({entry.value, entry.file, entry.line});
  }

  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].required && values[i].empty()) {
      return Status::error(section.where() + ": missing required key '" + specs[i].name + "' in " +
                           std::string(label));
    }
  }
  return OptionValues(std::vector<OptionSpec>(specs.begin(), specs.end()), std::move(values),
                      std::string(label));
}

std::string suggestName(std::string_view word, std::span<const std::string> names) {
  // One edit per three characters: close enough to be a typo, far enough to avoid silly guesses.
  size_t limit = std::max<size_t>(1, word.size() / 3);
  std::string best;
  size_t bestDistance = limit + 1;
  for (const auto& name : names) {
    size_t d = editDistance(word, name);
    if (d < bestDistance) {
      bestDistance = d;
      best = name;
    }
  }
  return best;
}

std::string suggestOption(std::string_view key, std::span<const OptionSpec> specs) {
  std::vector<std::string> names;
  names.reserve(specs.size());
  for (const auto& s : specs) names.push_back(s.name);
  return suggestName(key, names);
}

std::string formatOptionHelp(std::span<const OptionSpec> specs) {
  struct Row {
    std::string name, type, def, help;
  };
  std::vector<Row> rows;
  rows.push_back({"KEY", "TYPE", "DEFAULT", "DESCRIPTION"});
  for (const auto& s : specs) {
    Row r{s.name, typeName(s.type), s.defaultValue.empty() ? "-" : s.defaultValue, s.help};
    if (s.secret && !s.defaultValue.empty()) r.def = "(hidden)";
    if (s.type == OptionType::Enum) r.help += (r.help.empty() ? "[" : " [") + join(s.choices, "|") + "]";
    if (s.required) r.help += " (required)";
    if (s.multiple) r.help += " (repeatable)";
    if (s.secret) r.help += " (secret)";
    rows.push_back(std::move(r));
  }
  size_t wName = 0, wType = 0, wDef = 0;
  for (const auto& r : rows) {
    wName = std::max(wName, r.name.size());
    wType = std::max(wType, r.type.size());
    wDef = std::max(wDef, r.def.size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line = "  " + r.name + std::string(wName - r.name.size() + 2, ' ') + r.type +
                       std::string(wType - r.type.size() + 2, ' ') + r.def +
                       std::string(wDef - r.def.size() + 2, ' ') + r.help;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace firelane
