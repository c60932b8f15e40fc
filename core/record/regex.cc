// Onigmo-style pattern text to re2, compiled once at config time.
#include "core/record/regex.h"

namespace firelane::record {

std::string toRe2Syntax(std::string_view p) {
  if (p.size() >= 2 && p.front() == '/' && p.back() == '/') p = p.substr(1, p.size() - 2);
  std::string out;
  out.reserve(p.size() + 8);
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {  // escaped characters never start a group
      out.push_back(c);
      out.push_back(p[++i]);
      continue;
    }
    if (c == '(' && i + 3 < p.size() && p[i + 1] == '?' && p[i + 2] == '<' && p[i + 3] != '=' && p[i + 3] != '!') {
      out.append("(?P<");
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

Result<std::shared_ptr<const RE2>> compileRegex(std::string_view pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(64 << 20);
  auto re = std::make_shared<const RE2>(toRe2Syntax(pattern), opts);
  if (!re->ok()) return Status::error(re->error());
  return std::shared_ptr<const RE2>(re);
}

}  // namespace firelane::record
