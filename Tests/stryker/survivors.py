#!/usr/bin/env python3
"""Lists the mutants a Stryker JSON report left alive (Survived, NoCoverage), per file, with line, mutator, the source
line and the replacement: the reading list for the next tests.

    python3 Tests/stryker/survivors.py OUT_DIR/<chunk>.json
"""
import collections, json, sys

report = json.load(open(sys.argv[1]))
for path, f in sorted(report["files"].items()):
    source = f["source"].split("\n")
    alive = [m for m in f["mutants"] if m["status"] in ("Survived", "NoCoverage")]
    if not alive:
        continue
    c = collections.Counter(m["status"] for m in alive)
    print(f"### {path.split('/Pastry.')[-1]}  survived={c['Survived']} nocoverage={c['NoCoverage']}")
    for m in sorted(alive, key=lambda m: m["location"]["start"]["line"]):
        line = m["location"]["start"]["line"]
        print(f"  L{line} [{m['status']}] {m['mutatorName']}: {source[line - 1].strip()[:110]}  => {m.get('replacement', '')[:80]!r}")
