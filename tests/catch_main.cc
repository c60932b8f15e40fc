// The one Catch2 (v2) main for the firelane_tests binary.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
