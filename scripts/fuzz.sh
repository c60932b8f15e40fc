#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz_target.cc) with clang in build-fuzz/ and runs each
# for SECONDS (default 60) starting from its seed corpus tests/fuzz/corpus/<target>/.
#   scripts/fuzz.sh [seconds] [target...]     targets: forward config http parser spool (default: all)
# New interesting inputs go to build-fuzz/corpus/<target>/ (not committed); a crash leaves its input in
# build-fuzz/crashes/<target>/ and makes the script exit 1. Add such an input to the seed corpus: the
# normal test suite replays every seed (tests/fuzz/corpus_replay_test.cc). Run longer, e.g. an hour
# per target: scripts/fuzz.sh 3600
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

secs="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(forward config http parser spool)
case "$secs" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [seconds] [target...]" >&2; exit 2 ;; esac

start=$(date +%s)
scripts/firelane.sh deps
# clang and its runtime libraries (libFuzzer, ASan/UBSan) only when missing.
missing=()
for p in clang libclang-rt-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

dir=build-fuzz
if [ ! -f "$dir/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIRELANE_FUZZ=ON \
    -DFIRELANE_TESTS=OFF -DFIRELANE_BENCH=OFF "${launcher[@]}" >&2
fi
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]/#/firelane_fuzz_}" >&2
built=$(date +%s)

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t" "$dir/run/$t"
  echo "== fuzzing $t for ${secs}s" >&2
  # Each target runs in its own scratch folder: relative paths an input names resolve there.
  if ! (cd "$dir/run/$t" &&
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$root/$dir/firelane_fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
          -print_final_stats=1 -artifact_prefix="$root/$dir/crashes/$t/" \
          "$root/$dir/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$root/$dir/run/$t.log" 2>&1); then
    failed+=("$t")
    echo "!! $t failed; see $dir/run/$t.log and $dir/crashes/$t/" >&2
    tail -40 "$dir/run/$t.log" >&2
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$dir/run/$t.log" | sed "s/^/   $t /" >&2 || true
  fi
done
end=$(date +%s)
echo "fuzz: ${#targets[@]} target(s), ${secs}s each; build $((built - start))s, total $((end - start))s" >&2
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crashes" >&2
