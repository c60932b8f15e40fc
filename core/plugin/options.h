// Declarative option tables: one OptionSpec per key drives parsing, validation, error messages
// ("unknown key ... did you mean ...") and `firelane -o NAME --help`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/config/document.h"

namespace firelane {

enum class OptionType {
  String,   // any text
  Int,      // signed decimal integer
  Size,     // bytes: "25MB", "5M", "1k", "1024" (Fluent Bit's rules)
  Bool,     // on/off/true/false/yes/no, case-insensitive
  Seconds,  // decimal seconds, e.g. "1", "0.25"
  Enum,     // one of `choices`, case-insensitive
};

struct OptionSpec {
  std::string name;          // canonical spelling shown in help, e.g. "Port"
  OptionType type = OptionType::String;
  std::string defaultValue;  // empty = no default
  std::string help;          // one line
  bool multiple = false;     // key may repeat (Regex, Record, header); all values kept in order
  bool required = false;
  bool secret = false;       // value never printed (help shows no default, errors hide the value)
  std::vector<std::string> choices;  // for Enum
};

// The validated options of one section. Every value was checked against its spec, so the typed
// getters cannot fail; a name not in the spec table is a programming error (asserts in debug).
class OptionValues {
 public:
  struct Value {
    std::string text;
    std::string file;  // empty for defaults
    int line = 0;
  };

  OptionValues() = default;
  OptionValues(std::vector<OptionSpec> specs, std::vector<std::vector<Value>> values, std::string label);

  bool isSet(std::string_view name) const;          // given by the user (not only the default)
  std::string_view str(std::string_view name) const;  // last value, or default, or ""
  int64_t integer(std::string_view name) const;
  uint64_t size(std::string_view name) const;
  bool boolean(std::string_view name) const;
  double seconds(std::string_view name) const;
  std::vector<std::string_view> all(std::string_view name) const;  // every value in order
  // "file:line" of the (last) value, or the section's label if defaulted: for factory errors.
  std::string where(std::string_view name) const;
  // "file:line" of the index-th value of a repeatable key (as all() orders them).
  std::string where(std::string_view name, size_t index) const;
  const std::string& label() const { return label_; }  // e.g. "[INPUT] forward"

 private:
  const std::vector<Value>* find(std::string_view name) const;
  std::vector<OptionSpec> specs_;
  std::vector<std::vector<Value>> values_;  // parallel to specs_
  std::string label_;
};

// Validates a section's entries against `specs`. `label` names the section in messages, e.g.
// "[INPUT] forward". Errors stop at the first problem and read like
//   conf/x.conf:12: unknown key 'Prot' in [INPUT] forward (did you mean 'Port'?)
//   conf/x.conf:13: invalid value 'abc' for 'Port' in [INPUT] forward: expected an integer
//   conf/x.conf:4: missing required key 'apikey' in [OUTPUT] datadog     (line of the section header)
//   conf/x.conf:5: required key 'apikey' in [OUTPUT] datadog has an empty value
// Secret values are left out: "invalid value for 'apikey' in ...". As in Fluent Bit, a repeated
// single-value key is no error: the last value wins. Defaults are checked too (a bad one asserts).
// `skip` lists keys handled elsewhere (e.g. "Name"), accepted without a spec.
Result<OptionValues> validateOptions(const config::Section& section, std::span<const OptionSpec> specs,
                                     std::string_view label, std::span<const std::string_view> skip = {});

// Closest spec name to `key` by edit distance (case-insensitive) if close enough to suggest, else "".
std::string suggestOption(std::string_view key, std::span<const OptionSpec> specs);
// Closest of `names` to `word`, or "" when nothing is close.
std::string suggestName(std::string_view word, std::span<const std::string> names);

// Human-readable table of options for --help.
std::string formatOptionHelp(std::span<const OptionSpec> specs);

}  // namespace firelane
