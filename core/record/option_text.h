// Helpers for the text of filter options: Fluent Bit's quoted word splitting ("Set k \"a b\"") and
// the config order of repeatable options of several keys (rules apply in the order they are written).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/plugin/options.h"

namespace firelane::record {

// Splits on blanks; a word may be "double quoted" (\" and \\ escapes inside) to hold blanks. Fails
// on an unterminated quote.
Result<std::vector<std::string>> splitWords(std::string_view text);

struct OrderedValue {
  std::string_view key;  // canonical option name, as given in `keys`
  std::string_view text;
  std::string where;     // "file:line" (see below)
};

// Every value of the repeatable options `keys`, merged into config order. OptionValues keeps each
// key's values in order but records only the line of the last one, so keys are ordered by the line
// of their last value and each key's values are kept together: exact whenever each key's lines form
// one block. `where` is that last line for every value of a key.
std::vector<OrderedValue> orderedValues(const OptionValues& v, std::span<const std::string_view> keys);

}  // namespace firelane::record
