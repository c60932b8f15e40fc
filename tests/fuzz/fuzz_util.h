// Shared pieces of the libFuzzer targets: the entry-point macro (LLVMFuzzerTestOneInput exists only
// in the fuzz executables; the normal test build calls each target's named function) and a scratch
// folder that lives as long as the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

// FIRELANE_FUZZ_MAIN is defined for exactly one target per fuzz executable (CMakeLists.txt).
#ifdef FIRELANE_FUZZ_MAIN
#define FIRELANE_FUZZ_ENTRY(fn) \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return fn(data, size); }
#else
#define FIRELANE_FUZZ_ENTRY(fn)
#endif

namespace firelane::fuzz {

// Entry functions of the targets (the corpus replay test calls them in the normal build).
int configOneInput(const uint8_t* data, size_t size);
int httpOneInput(const uint8_t* data, size_t size);
int parserOneInput(const uint8_t* data, size_t size);
int spoolOneInput(const uint8_t* data, size_t size);

// What the HTTP target's requests completed with, in completion order (the replay test checks that
// the seeds really reach the response parsers).
struct HttpOutcome {
  int status = 0;
  std::string error;
  std::string body;
  std::string retryAfter;
  bool http2 = false;
};
std::vector<HttpOutcome> httpExchange(const uint8_t* data, size_t size);

// A mkdtemp folder removed (recursively) at process exit.
class ScratchDir {
 public:
  explicit ScratchDir(const char* prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
    if (char* p = ::mkdtemp(pattern.data())) path_ = p;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace firelane::fuzz
