// The raw, parsed form of a classic-format config: sections of key/value entries with their origin.
// Only config code reads this; the runtime gets typed objects built from it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace firelane::config {

struct Entry {
  std::string key;    // as written (case preserved); compare case-insensitively
  std::string value;  // ${VAR} already expanded, surrounding blanks trimmed
  std::string file;   // path as given/resolved, for messages
  int line = 0;
};

struct Section {
  std::string kind;  // lower-cased section name: "service", "input", "filter", "output", "parser", ...
  std::string file;
  int line = 0;  // line of the [HEADER]
  std::vector<Entry> entries;

  // Last entry whose key equals `key` case-insensitively, or nullptr.
  const Entry* find(std::string_view key) const;
  // "file:line" of the section header.
  std::string where() const { return file + ":" + std::to_string(line); }
};

struct Document {
  std::vector<Section> sections;      // in file order, includes expanded in place
  std::vector<std::string> warnings;  // e.g. "conf/a.conf:3: environment variable 'X' is not set"
};

bool iequals(std::string_view a, std::string_view b);

}  // namespace firelane::config
