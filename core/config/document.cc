// Lookups on the parsed classic-config Document. Keys are case-insensitive in Fluent Bit, so every
// comparison here is too.
#include "core/config/document.h"

namespace firelane::config {

namespace {

// ASCII-only on purpose: config keys are ASCII, and locale-dependent tolower() would make a key
// match or not depending on the environment firelane starts in.
char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

const Entry* Section::find(std::string_view key) const {
  // Scans backwards: for a repeated single-value key Fluent Bit keeps the last one.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (iequals(it->key, key)) return &*it;
  }
  return nullptr;
}

}  // namespace firelane::config
