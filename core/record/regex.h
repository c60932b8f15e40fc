// re2 with Fluent Bit's (Onigmo's) pattern conventions: "/.../" delimiters, (?<name>...) groups, and
// start-up errors that quote re2's own message. re2 has no backreferences, lookaround, possessive
// quantifiers or \G: such patterns fail here, at config time, never at run time.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace firelane::record {

// The pattern re2 is given: surrounding '/' removed, "(?<name>" rewritten to "(?P<name>" (lookbehind
// "(?<=" / "(?<!" are left alone so re2 reports them).
std::string toRe2Syntax(std::string_view pattern);

// Compiles `pattern`; on failure the Status holds re2's message only (e.g. "missing ): (") so callers
// can wrap it with file:line, the key and the pattern. Case-sensitive, UTF-8, unanchored search
// (use RE2::PartialMatch / Match with UNANCHORED).
Result<std::shared_ptr<const RE2>> compileRegex(std::string_view pattern);

}  // namespace firelane::record
