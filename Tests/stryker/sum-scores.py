#!/usr/bin/env python3
"""Sums Stryker JSON reports (one per chunk, from run-chunks.sh) into per-chunk, per-project and per-file scores.

    python3 Tests/stryker/sum-scores.py OUT_DIR [--files]

Score = (killed + timeout) / (killed + timeout + survived + no coverage), as Stryker counts it; compile errors and
ignored mutants do not count. A file mutated by two chunks is counted once (the chunks' mutate globs do not overlap).
"""
import json, os, sys, collections

DETECTED = {"Killed", "Timeout"}
UNDETECTED = {"Survived", "NoCoverage"}

def counts(mutants):
    c = collections.Counter(m["status"] for m in mutants)
    det = sum(c[s] for s in DETECTED)
    und = sum(c[s] for s in UNDETECTED)
    return det, und, c

def fmt(det, und):
    total = det + und
    return f"{100.0 * det / total:5.1f}% ({det}/{total})" if total else "   n/a"

def main():
    out = sys.argv[1]
    show_files = "--files" in sys.argv
    projects = collections.defaultdict(lambda: [0, 0])
    files_seen = {}
    for name in sorted(os.listdir(out)):
        if not name.endswith(".json"):
            continue
        chunk = name[:-5]
        report = json.load(open(os.path.join(out, name)))
        project = "Pastry.Core" if chunk.startswith("core") else "Pastry.Otp"
        det = und = 0
        status = collections.Counter()
        for path, f in report["files"].items():
            d, u, c = counts(f["mutants"])
            status.update(c)
            if path in files_seen:
                continue
            files_seen[path] = (d, u)
            det += d; und += u
        projects[project][0] += det; projects[project][1] += und
        print(f"{chunk:18} {fmt(det, und)}  " + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))
    for project, (det, und) in sorted(projects.items()):
        print(f"{project + ' (chunks run)':30} {fmt(det, und)}")
    if show_files:
        for path, (d, u) in sorted(files_seen.items()):
            print(f"  {fmt(d, u)}  {path}")

if __name__ == "__main__":
    main()
