// Word splitting and config-order merging for filter option values.
#include "core/record/option_text.h"

#include <algorithm>

namespace firelane::record {

Result<std::vector<std::string>> splitWords(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    std::string word;
    if (text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '\\' && i < text.size() && (text[i] == '"' || text[i] == '\\')) {
          word.push_back(text[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          word.push_back(c);
        }
      }
      if (!closed) return Status::error("unterminated quote");
    } else {
      while (i < text.size() && text[i] != ' ' && text[i] != '\t') word.push_back(text[i++]);
    }
    out.push_back(std::move(word));
  }
  return out;
}

namespace {
int lineOf(const std::string& where) {
  size_t colon = where.rfind(':');
  if (colon == std::string::npos) return 0;
  int n = 0;
  for (size_t i = colon + 1; i < where.size(); ++i) {
    if (where[i] < '0' || where[i] > '9') return 0;
    n = n * 10 + (where[i] - '0');
  }
  return n;
}
}  // namespace

std::vector<OrderedValue> orderedValues(const OptionValues& v, std::span<const std::string_view> keys) {
  struct KeyBlock {
    std::string_view key;
    std::string where;
    int line;
    size_t index;
  };
  std::vector<KeyBlock> blocks;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!v.isSet(keys[i])) continue;
    std::string w = v.where(keys[i]);
    blocks.push_back({keys[i], w, lineOf(w), i});
  }
  std::stable_sort(blocks.begin(), blocks.end(), [](const KeyBlock& a, const KeyBlock& b) { return a.line < b.line; });
  std::vector<OrderedValue> out;
  for (const auto& b : blocks)
    for (std::string_view t : v.all(b.key)) out.push_back({b.key, t, b.where});
  return out;
}

}  // namespace firelane::record
