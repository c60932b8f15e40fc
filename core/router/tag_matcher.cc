// Tag matching for routing.
#include "core/router/tag_matcher.h"

#include <re2/re2.h>

namespace firelane {

bool globMatch(std::string_view p, std::string_view t) {
  // Iterative wildcard match with single backtrack point: O(len(p) * len(t)) worst case.
  size_t pi = 0, ti = 0, starP = std::string_view::npos, starT = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      starP = pi++;
      starT = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (starP != std::string_view::npos) {
      pi = starP + 1;
      ti = ++starT;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Result<TagMatcher> TagMatcher::create(std::string_view match, std::string_view matchRegex) {
  TagMatcher m;
  if (!matchRegex.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<RE2>(re2::StringPiece(matchRegex.data(), matchRegex.size()), opts);
    if (!re->ok()) return Status::error("invalid Match_Regex '" + std::string(matchRegex) + "': " + re->error());
    m.regex_ = std::move(re);
  }
  m.pattern_ = std::string(match);
  return m;
}

bool TagMatcher::matches(std::string_view tag) const {
  if (regex_) {
    re2::StringPiece input(tag.data(), tag.size());
    return regex_->Match(input, 0, input.size(), RE2::ANCHOR_START, nullptr, 0);
  }
  if (pattern_.empty()) return false;
  return globMatch(pattern_, tag);
}

std::string TagMatcher::describe() const {
  if (regex_) return "Match_Regex " + regex_->pattern();
  if (pattern_.empty()) return "no Match";
  return "Match " + pattern_;
}

}  // namespace firelane
