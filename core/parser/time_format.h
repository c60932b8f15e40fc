// Fluent Bit's Time_Format: strptime-style directives plus %L (fractional seconds), parsed once at
// config time and applied to record values without allocating.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace firelane::parser {

class TimeFormat {
 public:
  // Supported: %Y %y %m %d %e %j %H %k %I %l %M %S %L (or %f) %z %Z %b %h %B %a %A %p %s %T %D %F %R %n
  // %t %% ; a blank in the format matches any run of blanks. Unknown directives are an error.
  static Result<TimeFormat> parse(std::string_view fmt);

  // Nanoseconds since the epoch of `text`. Without %z, `offsetSec` (Time_Offset) is subtracted; without a
  // year, `defaultYear` is used (syslog). False when `text` does not fit the format. Trailing text after
  // the format is accepted (as strptime does).
  bool apply(std::string_view text, int64_t& ns, int defaultYear, int offsetSec = 0) const;

  const std::string& text() const { return text_; }
  bool hasYear() const { return hasYear_; }

 private:
  struct Item {
    char directive = 0;  // 0 = literal
    char literal = 0;
  };
  std::string text_;
  std::vector<Item> items_;
  bool hasYear_ = false;
};

// Parses "+0900", "-05:30", "Z"/"UTC" into seconds east of UTC. False for other text.
bool parseUtcOffset(std::string_view text, int& seconds);

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace firelane::parser
