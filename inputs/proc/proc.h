// The proc input's registration: checks that processes are alive (by name or command line) from /proc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/plugin/registry.h"

namespace firelane::inputs::proc {

void registerPlugin(Registry& registry);

// One process found in /proc (exposed for tests).
struct ProcessInfo {
  int pid = 0;
  std::string comm;     // /proc/<pid>/comm (the kernel's 15-character name)
  std::string cmdline;  // argv joined with spaces
};

// Whether `p` is a process that `name` designates: exact -> its name (comm, or the base name of
// argv[0], which is not cut at 15 characters) equals `name`; otherwise `name` occurs anywhere in its
// command line.
bool matches(const ProcessInfo& p, std::string_view name, bool exact);

// Every process of `procRoot` ("/proc") except `selfPid`, in pid order; unreadable ones are skipped
// (they may exit while we read).
std::vector<ProcessInfo> listProcesses(const std::string& procRoot, int selfPid);

}  // namespace firelane::inputs::proc
