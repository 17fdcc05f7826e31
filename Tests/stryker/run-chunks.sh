#!/usr/bin/env bash
# Mutation testing by chunks: one Stryker run per folder of the code under test, each in its own `git archive`
# copy of HEAD (Stryker builds in place and swaps the mutated assembly into Tests/bin, so never in a checkout),
# each with the narrow filter of the in-process tests that can kill its mutants. Every chunk writes its own JSON
# report into $OUT/<chunk>.json, so a stopped run loses one chunk, not everything; `sum-scores.py $OUT` adds them up.
#
#   Tests/stryker/run-chunks.sh                 # every chunk, one after the other
#   Tests/stryker/run-chunks.sh core-schema     # only the chunks named
#   OUT=/tmp/stryker-out CONCURRENCY=2 Tests/stryker/run-chunks.sh
#   REPO=/path/to/checkout /elsewhere/run-chunks.sh   # run a copy of this script (so a checkout that moves under a
#                                                     # long run does not change the script bash is reading)
#
# ADDITIONAL_TIMEOUT (ms, default 30000) is added to each test run's timeout. Stryker's default (5000) is too tight
# on a shared box: a run that is slow only because of load is reported "Timeout" and counted as killed. On the
# 2026-11-30 loaded run, 104 of core-schema's 387 scored mutants (string mutations among them) "timed out" that way.
#
# DISABLE_BAIL=1 runs every covering test of a mutant instead of stopping at its first failure: slower, but each
# mutant's killedBy then lists every test that kills it, so a "before" score (killed by tests older than a change)
# can be read from the same report.
#
# MUTATE='**/Wire/FrameOutbox.cs' narrows the chunk(s) named to those globs (comma-separated), to check quickly that new
# tests kill one file's survivors before a whole chunk is run again; its report is then <chunk>.partial.json.
#
# TEST_WAIT_CAP (seconds, default 5) becomes PASTRY_TEST_WAIT_CAP for the test hosts: the tests' generous waits for a
# message (10-15 s) are cut to it (Tests/TestWaits.cs). A mutant that silences a message is then caught in seconds,
# and the Otp chunks, which wait rather than compute, run about twice as fast. In-process deliveries take
# milliseconds, so 5 s is still far above what a passing test needs; 0 turns the cap off.
#
# Needs dotnet-stryker (dotnet tool install -g dotnet-stryker; 5.1.0 was used) and python3 for the sum.
set -euo pipefail
export PATH="$PATH:$HOME/.dotnet/tools"
repo=${REPO:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)}
out=${OUT:-$repo/../stryker-out}
concurrency=${CONCURRENCY:-1}
additional_timeout=${ADDITIONAL_TIMEOUT:-30000}
export PASTRY_TEST_WAIT_CAP=${TEST_WAIT_CAP:-5}
disable_bail=$([[ "${DISABLE_BAIL:-0}" == 1 ]] && echo true || echo false)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The in-process tests only: tests that start `pastry` processes load unmutated assemblies and cannot kill a
# mutant; PostgreSQL and TLS-file tests need set-up the copy does not have.
# (Not `Name!~Serve`: `~` ignores case, so it would also drop every test named "...Observe..." or "...Server...".)
noprocess='ClassName!~ProcessTests&Name!~Process&ClassName!~OlderClientsTests&ClassName!~ResumeTests&ClassName!~Postgres&Name!~Sigkill&Name!~PastryMigrate&ClassName!~ClientAgentTlsTests'
fq() { local IFS='|'; local parts=(); for p in "$@"; do parts+=("FullyQualifiedName~$p"); done; echo "${parts[*]}"; }

# The Client Agent's tests: in-process servers over loopback TCP and WebSocket.
cafilter="($(fq Pastry.Tests.Otp. Pastry.Tests.EndToEnd.ClientAgent Pastry.Tests.EndToEnd.AiAndClientBehaviourTests Pastry.Tests.EndToEnd.AiAndClientLibraryTests Pastry.Tests.Schema.SessionSchemaTests Pastry.Tests.Schema.OlderClientsOnOneServerTests Pastry.Tests.EndToEnd.ResumeOnOneServerTests))&$noprocess"

# chunk name | project | mutate globs (comma-separated; a leading ! excludes) | test-case filter
chunks=(
  "core-schema|Pastry.Core.csproj|**/Schema/**/*.cs|($(fq Pastry.Tests.Schema. Pastry.Tests.Core.SchemaTests))&$noprocess"
  "core-wire|Pastry.Core.csproj|**/Wire/**/*.cs|($(fq Pastry.Tests.Core. Pastry.Tests.Client. Pastry.Tests.EndToEnd.ClientAgentWebSocketTests Pastry.Tests.EndToEnd.ClientAgentFrameEdgeTests))&$noprocess"
  "core-registry|Pastry.Core.csproj|**/Registry/**/*.cs,**/Models/**/*.cs,**/Rpc/**/*.cs|($(fq Pastry.Tests.Core. Pastry.Tests.Generators.GeneratedAccessorTests Pastry.Tests.Database.IndexTests Pastry.Tests.Database.QueryTests Pastry.Tests.Schema.SchemaLockTests))&$noprocess"
  "core-messaging|Pastry.Core.csproj|**/Messaging/**/*.cs,**/Objects/**/*.cs,**/Identity/**/*.cs,**/Grid/**/*.cs,**/UberDogs/**/*.cs,**/Hosting/**/*.cs|($(fq Pastry.Tests.Core. Pastry.Tests.Otp. Pastry.Tests.Database.QueryTests Pastry.Tests.Database.DatabaseRoleTests))&$noprocess"
  "otp-stateserver|Pastry.Otp.csproj|**/StateServer/**/*.cs|($(fq Pastry.Tests.Otp.))&$noprocess"
  "otp-clientagent|Pastry.Otp.csproj|**/ClientAgent/**/*.cs|$cafilter"
  # The same folder in two halves, each with its own report (run these or the whole chunk above, not both: the sum
  # would count the folder twice). A whole-folder run takes about 2.5 h on the 2-core box; each half fits a session.
  "otp-clientagent-session|Pastry.Otp.csproj|**/ClientAgent/ClientSession*.cs|$cafilter"
  "otp-clientagent-rest|Pastry.Otp.csproj|**/ClientAgent/**/*.cs,!**/ClientAgent/ClientSession*.cs|$cafilter"
  # The session half in two pieces (run both, or the session half, not both): its 714 mutants took more than one
  # session's spare time. -core is the session's life (connect, send, shutdown, eject; 185 mutants to test), -io what
  # a client sends and sees (Inbound, View, Resume; about 530).
  "otp-clientagent-session-core|Pastry.Otp.csproj|**/ClientAgent/ClientSession.cs,**/ClientAgent/ClientSession.Admin.cs|$cafilter"
  "otp-clientagent-session-io|Pastry.Otp.csproj|**/ClientAgent/ClientSession.Inbound.cs,**/ClientAgent/ClientSession.View.cs,**/ClientAgent/ClientSession.Resume.cs|$cafilter"
)

want=("$@")
for entry in "${chunks[@]}"; do
  IFS='|' read -r name project mutate filter <<<"$entry"
  if ((${#want[@]})) && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  if ((${#want[@]} == 0)) && [[ $name == otp-clientagent-* ]]; then continue; fi  # the halves only when named
  report_name=$name
  if [[ -n "${MUTATE:-}" ]]; then mutate=$MUTATE; report_name=$name.partial; fi
  copy=$(mktemp -d "/tmp/stryker-$name.XXXX")
  git -C "$repo" archive HEAD | tar -x -C "$copy"
  mutate_json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split(",")))' "$mutate")
  cat >"$copy/Tests/stryker-config.json" <<JSON
{ "stryker-config": {
  "project": "$project", "test-projects": ["Tests.csproj"], "concurrency": $concurrency, "additional-timeout": $additional_timeout, "disable-bail": $disable_bail,
  "mutate": $mutate_json,
  "coverage-analysis": "perTest", "mutation-level": "Standard",
  "reporters": ["json", "html", "progress"],
  "test-case-filter": "$filter"
} }
JSON
  echo "== $report_name: $(date -u +%H:%M:%S) in $copy (commit $(git -C "$repo" rev-parse --short HEAD)); $(uptime)" | tee -a "$out/runs.log"
  start=$(date +%s)
  (cd "$copy/Tests" && nice -n 10 dotnet-stryker --skip-version-check -L >"$out/$report_name.console.log" 2>&1) || true
  report=$(ls -t "$copy"/Tests/StrykerOutput/*/reports/mutation-report.json 2>/dev/null | head -1 || true)
  if [[ -n "$report" ]]; then
    cp "$report" "$out/$report_name.json"
    echo "== $report_name: done in $(( ($(date +%s) - start) / 60 )) min; $(uptime)" | tee -a "$out/runs.log"
    rm -rf "$copy"
  else
    echo "== $report_name: no report (see $out/$report_name.console.log; copy kept in $copy)" | tee -a "$out/runs.log"
  fi
done
python3 "$repo/Tests/stryker/sum-scores.py" "$out"
