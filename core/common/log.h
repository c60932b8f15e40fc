// Process-wide leveled logging to stderr. Thread-safe; one line per call.
// Never pass secrets (API keys, tokens) to these functions.
#pragma once

#include <cstdarg>
#include <string_view>

namespace firelane::log {

enum class Level { Off = 0, Error = 1, Warn = 2, Info = 3, Debug = 4, Trace = 5 };

void setLevel(Level level);
Level level();
bool parseLevel(std::string_view text, Level& out);
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace firelane::log

#define FL_LOG(lvl, ...)                                                              \
  do {                                                                                \
    if (::firelane::log::enabled(::firelane::log::Level::lvl))                        \
      ::firelane::log::write(::firelane::log::Level::lvl, __VA_ARGS__);               \
  } while (0)
#define FL_ERROR(...) FL_LOG(Error, __VA_ARGS__)
#define FL_WARN(...) FL_LOG(Warn, __VA_ARGS__)
#define FL_INFO(...) FL_LOG(Info, __VA_ARGS__)
#define FL_DEBUG(...) FL_LOG(Debug, __VA_ARGS__)
#define FL_TRACE(...) FL_LOG(Trace, __VA_ARGS__)
