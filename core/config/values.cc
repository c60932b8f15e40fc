// Scalar config values read the way Fluent Bit reads them, but strict: where Fluent Bit's atoll()
// silently turns "12abc" into 12, these reject the text so the user gets an error naming the line.
#include "core/config/values.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/config/document.h"

namespace firelane::config {

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Decimal multiples, as flb_utils_size_to_bytes (and the Fluent Bit "Unit Sizes" docs: 32k = 32000).
constexpr uint64_t kKilo = 1000;
// Binary multiples for the "KiB" spellings, as flb_utils_size_to_binary_bytes.
constexpr uint64_t kKibi = 1024;

// Multiplier for a size suffix, or 0 when the suffix is not one we accept.
uint64_t sizeMultiplier(std::string_view suffix) {
  if (suffix.empty()) return 1;
  int power = 0;
  switch (suffix[0]) {
    case 'k':
    case 'K':
      power = 1;
      break;
    case 'm':
    case 'M':
      power = 2;
      break;
    case 'g':
    case 'G':
      power = 3;
      break;
    default:
      return 0;
  }
  std::string_view rest = suffix.substr(1);
  uint64_t base = 0;
  if (rest.empty() || iequals(rest, "b")) {
    base = kKilo;
  } else if (iequals(rest, "ib")) {
    base = kKibi;
  } else {
    return 0;
  }
  uint64_t m = 1;
  for (int i = 0; i < power; ++i) m *= base;
  return m;
}

// Splits "12.5" into digit runs; false unless the text is digits with at most one '.', and at
// least one digit somewhere ("5", "5.", ".5" are fine; ".", "" and "5.5.5" are not).
bool splitDecimal(std::string_view text, std::string_view& whole, std::string_view& frac) {
  size_t i = 0;
  while (i < text.size() && isDigit(text[i])) ++i;
  whole = text.substr(0, i);
  frac = {};
  if (i < text.size()) {
    if (text[i] != '.') return false;
    size_t start = ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i != text.size()) return false;
    frac = text.substr(start);
  }
  return !whole.empty() || !frac.empty();
}

}  // namespace

std::optional<uint64_t> parseSize(std::string_view text) {
  // Fluent Bit accepts "false" for sizes such as Mem_Buf_Limit and reads it as 0 (no limit).
  if (iequals(text, "false")) return 0;
  size_t numberEnd = 0;
  while (numberEnd < text.size() && (isDigit(text[numberEnd]) || text[numberEnd] == '.')) ++numberEnd;
  std::string_view whole, frac;
  if (!splitDecimal(text.substr(0, numberEnd), whole, frac)) return std::nullopt;
  uint64_t mult = sizeMultiplier(text.substr(numberEnd));
  if (mult == 0) return std::nullopt;

  // 128-bit so that "9999999999G" is detected as overflow instead of wrapping around.
  constexpr unsigned __int128 kMax = std::numeric_limits<int64_t>::max();  // Fluent Bit sizes are int64
  unsigned __int128 wholeValue = 0;
  for (char c : whole) {
    wholeValue = wholeValue * 10 + static_cast<unsigned>(c - '0');
    if (wholeValue > kMax) return std::nullopt;
  }
  unsigned __int128 result = wholeValue * mult;
  // Fractions are truncated to whole bytes like Fluent Bit's (int64_t)(val * MB); digits past the
  // 18th cannot change the result for multipliers below 10^18.
  unsigned __int128 fracValue = 0, fracScale = 1;
  for (size_t i = 0; i < frac.size() && i < 18; ++i) {
    fracValue = fracValue * 10 + static_cast<unsigned>(frac[i] - '0');
    fracScale *= 10;
  }
  result += fracValue * mult / fracScale;
  if (result > kMax) return std::nullopt;
  return static_cast<uint64_t>(result);
}

std::optional<bool> parseBool(std::string_view text) {
  if (iequals(text, "on") || iequals(text, "true") || iequals(text, "yes") || text == "1") return true;
  if (iequals(text, "off") || iequals(text, "false") || iequals(text, "no") || text == "0") return false;
  return std::nullopt;
}

std::optional<int64_t> parseInt(std::string_view text) {
  // from_chars takes '-' but not '+'; a second sign after '+' must still be rejected.
  if (!text.empty() && text[0] == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text[0] == '-') return std::nullopt;
  }
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parseSeconds(std::string_view text) {
  // Checked by hand first: from_chars would also take "-1", "1e3", "inf" and "nan".
  std::string_view whole, frac;
  if (!splitDecimal(text, whole, frac)) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace firelane::config
