#!/usr/bin/env python3
"""Estimate per-file statuses of an unfinished Stryker.NET run from its -L log: a mutant in a run that passed survived;
a mutant whose last run failed is counted killed (Stryker attributes a failed group's kill by the failing tests'
coverage, and re-runs the mutants it cannot attribute: a few of these may still have been waiting for that re-run).

  python3 Tests/stryker/estimate.py /tmp/stryker-<chunk>.*/Tests/StrykerOutput/*/logs/log-*.txt StateServer/

run-chunks.sh passes -L, so the log is there while the chunk runs."""
import re,sys,collections
lines=open(sys.argv[1],encoding='utf-8',errors='replace').read().splitlines()
folder=sys.argv[2]
file_of={};cur=None;status={}
for line in lines:
    m=re.search(r'Mutating "([^"]+)"',line)
    if m: cur=m.group(1).split('/Pastry.')[-1]; continue
    m=re.search(r'\] Mutant (\d+) created',line)
    if m: file_of[int(m.group(1))]=cur; continue
    m=re.search(r'Mutant (\d+) is not covered',line)
    if m: status[int(m.group(1))]='NoCoverage'; continue
    m=re.search(r'Test run for "(.*)" is "?(\w+)"?',line)
    if m:
        ids=[int(x) for x in re.findall(r'(\d+): ',m.group(1))]
        for i in ids:
            if status.get(i)=='Survived': continue
            status[i]='Survived' if m.group(2)=='success' else 'Killed' if m.group(2)=='failed' else 'Timeout'
per=collections.defaultdict(collections.Counter)
for i,s in status.items():
    f=file_of.get(i,'?')
    if folder in f: per[f.split(folder)[-1]][s]+=1
tot=collections.Counter()
print(f"{'file':34s} {'killed':>6s} {'timeout':>7s} {'surv':>5s} {'nocov':>5s}  score-so-far")
for f in sorted(per):
    c=per[f]; tot.update(c)
    k=c['Killed']+c['Timeout']; d=k+c['Survived']+c['NoCoverage']
    print(f"{f:34s} {c['Killed']:6d} {c['Timeout']:7d} {c['Survived']:5d} {c['NoCoverage']:5d}  {100*k/d if d else 0:5.1f}%")
k=tot['Killed']+tot['Timeout']; d=k+tot['Survived']+tot['NoCoverage']
print(f"TOTAL killed {tot['Killed']} timeout {tot['Timeout']} survived {tot['Survived']} nocov {tot['NoCoverage']}: {100*k/d:.1f}% of {d} resolved")
