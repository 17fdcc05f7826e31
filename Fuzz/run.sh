#!/usr/bin/env bash
# Coverage-guided fuzzing of Pastry's decoders with SharpFuzz + AFL++ (see Fuzz/README.md).
# Usage: Fuzz/run.sh <client-frames|md-link|values> [seconds]     (default 600 s)
set -euo pipefail
target="${1:?usage: Fuzz/run.sh <client-frames|md-link|values> [seconds]}"
seconds="${2:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/Fuzz/bin/fuzz-run"

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install -y afl++" >&2; exit 2; }
command -v sharpfuzz >/dev/null || export PATH="$PATH:$HOME/.dotnet/tools"
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0

# A Release build in its own folder, then Pastry.Core.dll instrumented in place (SharpFuzz rewrites its IL to report
# branch coverage to AFL). Only Core is instrumented: every target's decoder lives there.
dotnet publish "$root/Fuzz/Pastry.Fuzz.csproj" -c Release -o "$out" --nologo -v quiet
sharpfuzz "$out/Pastry.Core.dll"

findings="$root/Fuzz/findings/$target"
mkdir -p "$findings"
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
# -t: a .NET start-up takes a while the first time; -m none: the CLR reserves far more virtual memory than AFL's default.
timeout --preserve-status "$seconds" afl-fuzz -i "$root/Fuzz/corpus/$target" -o "$findings" -t 10000 -m none \
  dotnet "$out/Pastry.Fuzz.dll" "$target" || true
echo "findings in $findings (crashes/ and hangs/); copy each crash into Fuzz/corpus/$target/ and run the tests"
grep -E "run_time|execs_done|execs_per_sec|saved_crashes|saved_hangs|corpus_count|bitmap_cvg" "$findings/default/fuzzer_stats" || true
