// Leveled stderr logger: "[2026/11/21 14:07:15] [ info] message", like Fluent Bit's format.
#include "core/common/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <strings.h>
#include <sys/time.h>

namespace firelane::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_mutex;
const char* label(Level l) {
  switch (l) {
    case Level::Error: return "error";
    case Level::Warn: return " warn";
    case Level::Info: return " info";
    case Level::Debug: return "debug";
    case Level::Trace: return "trace";
    default: return "     ";
  }
}
}  // namespace

void setLevel(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool parseLevel(std::string_view t, Level& out) {
  static constexpr std::pair<const char*, Level> kNames[] = {
      {"off", Level::Off},     {"error", Level::Error}, {"warn", Level::Warn},   {"warning", Level::Warn},
      {"info", Level::Info},   {"debug", Level::Debug}, {"trace", Level::Trace}};
  for (const auto& [name, l] : kNames) {
    if (t.size() == std::string_view(name).size() && strncasecmp(t.data(), name, t.size()) == 0) {
      out = l;
      return true;
    }
  }
  return false;
}

void write(Level l, const char* fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm tmv;
  localtime_r(&tv.tv_sec, &tmv);
  char ts[32];
  strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", &tmv);
  std::lock_guard<std::mutex> lock(g_mutex);
  fprintf(stderr, "[%s] [%s] %s\n", ts, label(l), msg);
}

}  // namespace firelane::log
