// Fluent Bit routing rules: `Match` (case-sensitive, '*' matches any run of characters including
// dots) and `Match_Regex` (re2, anchored at the start of the tag; wins over Match).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace re2 {
class RE2;
}

namespace firelane {

class TagMatcher {
 public:
  // An empty matcher matches nothing (Fluent Bit warns about a plugin with no Match rule).
  TagMatcher() = default;
  // Fails with re2's message when matchRegex does not compile.
  static Result<TagMatcher> create(std::string_view match, std::string_view matchRegex);

  bool matches(std::string_view tag) const;
  bool empty() const { return pattern_.empty() && !regex_; }
  std::string describe() const;  // "Match app-*" or "Match_Regex ^app" for logs

 private:
  std::string pattern_;
  std::shared_ptr<const re2::RE2> regex_;  // immutable; shared by every worker's copy
};

// Glob with '*' only, case-sensitive. Exposed for tests.
bool globMatch(std::string_view pattern, std::string_view text);

}  // namespace firelane
