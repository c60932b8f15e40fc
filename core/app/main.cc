// firelane's entry point.
#include <malloc.h>

#include <string>
#include <vector>

#include "core/app/cli.h"

int main(int argc, char** argv) {
  // Receive slabs are released in bursts, when a flush drops the batches that view them (megabytes per
  // Flush interval on a busy input). With glibc's defaults each burst trims the arena's top (128 KiB
  // threshold) and the next reads fault the same pages in again: ~13k page faults per million
  // Docker-style events, ~10% of the CPU. Keep up to 16 MiB free at each arena's top and serve blocks
  // below 4 MiB (every slab) from the arenas. Peak RSS is unchanged: only memory already used is kept.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  std::vector<std::string> args(argv + 1, argv + argc);
  return firelane::app::runMain(args);
}
