// Replays tests/fuzz/corpus through the forward fuzz target in the normal build (no clang needed):
// every seed (valid frames of each mode, handshake messages, hostile bytes) must run cleanly.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

TEST_CASE("forward fuzz corpus replays through the decoder and handshake parsers", "[fuzz][forward]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(FIRELANE_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  REQUIRE(fs::is_directory(dir));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    INFO(entry.path().filename().string());
    CHECK(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == 0);
    // Every prefix too: truncated frames are the common hostile case.
    for (size_t n = 0; n < bytes.size() && n < 512; ++n)
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), n);
    ++files;
  }
  CHECK(files >= 8);
}
