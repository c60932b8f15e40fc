// firelane's entry point.
#include <string>
#include <vector>

#include "core/app/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return firelane::app::runMain(args);
}
