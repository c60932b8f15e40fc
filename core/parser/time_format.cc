// strptime-like parsing of log timestamps (own implementation: glibc's strptime has no %L or %z with
// colons, depends on the locale and is slow).
#include "core/parser/time_format.h"

#include <cctype>
#include <cstring>

namespace firelane::parser {
namespace {

constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kMonthsLong[] = {"january", "february", "march",     "april",   "may",      "june",
                                       "july",    "august",   "september", "october", "november", "december"};
constexpr const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr const char* kDaysLong[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool startsWithI(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != word[i]) return false;
  }
  return true;
}

// Reads 1..maxDigits digits (leading blanks allowed, as strptime does).
bool readNum(std::string_view s, size_t& i, int maxDigits, int64_t& out) {
  while (i < s.size() && s[i] == ' ') ++i;
  size_t start = i;
  int64_t v = 0;
  while (i < s.size() && i - start < static_cast<size_t>(maxDigits) && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (i == start) return false;
  out = v;
  return true;
}

// A name from `shortNames` (3 letters), or its long form.
bool readName(std::string_view s, size_t& i, const char* const* shortNames, const char* const* longNames, int n,
              int& out) {
  std::string_view rest = s.substr(i);
  for (int k = 0; k < n; ++k) {
    size_t len = std::strlen(longNames[k]);
    if (startsWithI(rest, std::string_view(longNames[k], len))) {
      i += len;
      out = k;
      return true;
    }
  }
  for (int k = 0; k < n; ++k) {
    if (startsWithI(rest, shortNames[k])) {
      i += 3;
      out = k;
      return true;
    }
  }
  return false;
}

bool readZone(std::string_view s, size_t& i, int& offset) {
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
    offset = 0;
    return true;
  }
  if (startsWithI(s.substr(i), "utc") || startsWithI(s.substr(i), "gmt")) {
    i += 3;
    offset = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) return readZone(s, i, offset);
    return true;
  }
  if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
  int sign = s[i] == '-' ? -1 : 1;
  ++i;
  int digits[4];
  int n = 0;
  while (n < 4 && i < s.size()) {
    if (s[i] == ':' && n == 2) {
      ++i;
      continue;
    }
    if (s[i] < '0' || s[i] > '9') break;
    digits[n++] = s[i++] - '0';
  }
  if (n != 4 && n != 2) return false;
  int h = digits[0] * 10 + digits[1];
  int m = n == 4 ? digits[2] * 10 + digits[3] : 0;
  if (h > 23 || m > 59) return false;
  offset = sign * (h * 3600 + m * 60);
  return true;
}

}  // namespace

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool parseUtcOffset(std::string_view text, int& seconds) {
  size_t i = 0;
  return readZone(text, i, seconds) && i == text.size();
}

Result<TimeFormat> TimeFormat::parse(std::string_view fmt) {
  TimeFormat tf;
  tf.text_ = std::string(fmt);
  auto expand = [&](std::string_view sub) {
    for (size_t k = 0; k < sub.size(); ++k) {
      if (sub[k] == '%') {
        tf.items_.push_back({sub[++k], 0});
      } else {
        tf.items_.push_back({0, sub[k]});
      }
    }
  };
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c != '%') {
      tf.items_.push_back({0, c});
      continue;
    }
    if (i + 1 >= fmt.size()) return Status::error("'%' at the end of the format");
    char d = fmt[++i];
    // Modifiers of glibc (%Ey, %Od, %-d): the plain directive.
    if ((d == 'E' || d == 'O' || d == '-') && i + 1 < fmt.size()) d = fmt[++i];
    switch (d) {
      case 'T': expand("%H:%M:%S"); break;
      case 'D': expand("%m/%d/%y"); tf.hasYear_ = true; break;
      case 'F': expand("%Y-%m-%d"); tf.hasYear_ = true; break;
      case 'R': expand("%H:%M"); break;
      case 'Y': case 'y': case 's':
        tf.hasYear_ = true;
        tf.items_.push_back({d, 0});
        break;
      case 'f': tf.items_.push_back({'L', 0}); break;
      case 'h': tf.items_.push_back({'b', 0}); break;
      case 'B': tf.items_.push_back({'b', 0}); break;
      case 'A': tf.items_.push_back({'a', 0}); break;
      case 'k': tf.items_.push_back({'H', 0}); break;
      case 'l': tf.items_.push_back({'I', 0}); break;
      case 'e': tf.items_.push_back({'d', 0}); break;
      case 'm': case 'd': case 'j': case 'H': case 'I': case 'M': case 'S': case 'L': case 'z': case 'Z':
      case 'b': case 'a': case 'p': case 'n': case 't': case '%':
        tf.items_.push_back({d, 0});
        break;
      default:
        return Status::error(std::string("unsupported directive '%") + d + "'");
    }
  }
  return tf;
}

bool TimeFormat::apply(std::string_view s, int64_t& ns, int defaultYear, int offsetSec) const {
  int64_t year = defaultYear, month = 1, day = 1, yday = -1, hour = 0, minute = 0, second = 0, frac = 0;
  int64_t epoch = 0;
  bool haveEpoch = false, pm = false, havePm = false;
  int zone = 0;
  bool haveZone = false;
  size_t i = 0;
  for (const Item& it : items_) {
    if (it.directive == 0) {
      if (isBlank(it.literal)) {
        while (i < s.size() && isBlank(s[i])) ++i;
        continue;
      }
      if (i >= s.size() || s[i] != it.literal) return false;
      ++i;
      continue;
    }
    int64_t v = 0;
    int name = 0;
    switch (it.directive) {
      case 'Y':
        if (i < s.size() && s[i] == '-') return false;
        if (!readNum(s, i, 4, year)) return false;
        break;
      case 'y':
        if (!readNum(s, i, 2, v)) return false;
        year = v < 69 ? 2000 + v : 1900 + v;
        break;
      case 'm':
        if (!readNum(s, i, 2, month) || month < 1 || month > 12) return false;
        break;
      case 'd':
        if (!readNum(s, i, 2, day) || day < 1 || day > 31) return false;
        break;
      case 'j':
        if (!readNum(s, i, 3, yday) || yday < 1 || yday > 366) return false;
        break;
      case 'H':
        if (!readNum(s, i, 2, hour) || hour > 23) return false;
        break;
      case 'I':
        if (!readNum(s, i, 2, hour) || hour < 1 || hour > 12) return false;
        break;
      case 'M':
        if (!readNum(s, i, 2, minute) || minute > 59) return false;
        break;
      case 'S':
        if (!readNum(s, i, 2, second) || second > 61) return false;
        break;
      case 'L': {
        // Any number of digits; nanosecond precision kept.
        size_t start = i;
        int64_t scale = 100000000;
        frac = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          frac += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
        if (i == start) return false;
        break;
      }
      case 's': {
        bool neg = i < s.size() && s[i] == '-';
        if (neg) ++i;
        // 18 digits cannot overflow readNum; whether the time fits int64 nanoseconds is checked below.
        if (!readNum(s, i, 18, epoch)) return false;
        if (neg) epoch = -epoch;
        haveEpoch = true;
        break;
      }
      case 'z':
      case 'Z':
        if (!readZone(s, i, zone)) return false;
        haveZone = true;
        break;
      case 'b':
        if (!readName(s, i, kMonths, kMonthsLong, 12, name)) return false;
        month = name + 1;
        break;
      case 'a':
        if (!readName(s, i, kDays, kDaysLong, 7, name)) return false;
        break;
      case 'p':
        if (startsWithI(s.substr(i), "am") || startsWithI(s.substr(i), "pm")) {
          pm = std::tolower(static_cast<unsigned char>(s[i])) == 'p';
          havePm = true;
          i += 2;
        } else {
          return false;
        }
        break;
      case 'n':
      case 't':
        while (i < s.size() && isBlank(s[i])) ++i;
        break;
      case '%':
        if (i >= s.size() || s[i] != '%') return false;
        ++i;
        break;
      default:
        return false;
    }
  }
  // Times outside int64 nanoseconds (before 1677 or after 2262) do not fit: the text does not match.
  auto toNs = [&](int64_t secs) {
    int64_t out = 0;
    if (__builtin_mul_overflow(secs, int64_t{1000000000}, &out) || __builtin_add_overflow(out, frac, &out))
      return false;
    ns = out;
    return true;
  };
  if (haveEpoch) return toNs(epoch);
  if (havePm) hour = (hour % 12) + (pm ? 12 : 0);
  int64_t days = yday > 0 ? daysFromCivil(year, 1, 1) + yday - 1
                          : daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second;
  secs -= haveZone ? zone : offsetSec;
  return toNs(secs);
}

}  // namespace firelane::parser
