// Parser for Fluent Bit's classic config format: [SECTION]s of "Key Value" lines, full-line
// comments, @INCLUDE (relative to the including file, globs), @SET K=V and ${VAR} expansion.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/common/status.h"
#include "core/config/document.h"

namespace firelane::config {

struct ParseOptions {
  // Environment lookup; returns nullptr when unset. Tests inject their own.
  std::function<const char*(const char*)> getenv;
  int maxIncludeDepth = 16;
};

// Parses `path` and everything it includes. Errors name file:line and the problem, e.g.
//   conf/a.conf:7: include cycle: conf/a.conf -> conf/b.conf -> conf/a.conf
//   conf/a.conf:3: entry outside of a section: 'Name'  (values are never echoed: they may be secrets)
//   conf/a.conf:9: @INCLUDE 'missing.conf': no such file
Result<Document> parseFile(const std::string& path, const ParseOptions& options = {});

// Parses text as if it were the file `name` living in folder `baseDir` (for @INCLUDE).
Result<Document> parseString(std::string_view text, const std::string& name, const std::string& baseDir,
                             const ParseOptions& options = {});

}  // namespace firelane::config
