#!/usr/bin/env python3
# Every long option a tool accepts (its getopt table in the source) appears in its --help.
# Usage: options_in_help.py REPO_ROOT BIN_DIR; prints each one missing, exits 1 if any.
import re,subprocess,sys,os
root=sys.argv[1]; binp=sys.argv[2]
# file -> commands, one per option table in the file, in order
M={'tools/ksnap/capture.c':[['ksnap','capture']],'tools/ksnap/ls.c':[['ksnap','ls']],'tools/ksnap/prune.c':[['ksnap','prune']],
   'tools/ksnap/freeze.c':[['ksnap','freeze']],'tools/ksnap/meta.c':[['ksnap','meta','record'],['ksnap','meta','import']],
   'tools/ksnap/snapcmds.c':[['ksnap','info'],['ksnap','verify'],['ksnap','merge']],
   'tools/kexport/main.c':[['kexport']],'tools/kdissect/main.c':[['kdissect']],'tools/kfl/main.c':[['kfl']],
   'tools/kresolve/main.c':[['kresolve','workloads']],'tools/kstat/main.c':[['kstat']],'tools/kstat/map.c':[['kstat','map']],
   'tools/kstat/report.c':[['kstat','report']],'tools/kmcp/main.c':[['kmcp']]}
bad=0
for f,cmds in M.items():
    p=os.path.join(root,f)
    if not os.path.exists(p): continue
    src=open(p).read()
    tables=re.findall(r'struct option [a-z_]+\[\]\s*=\s*\{(.*?)\{\s*0', src, re.S)
    if len(tables)!=len(cmds):
        print(f"{f}: {len(tables)} option tables, expected {len(cmds)}"); bad+=1; continue
    for t,cmd in zip(tables,cmds):
        names=re.findall(r'\{\s*"([a-z0-9-]+)"',t)
        exe=[os.path.join(binp,cmd[0])]+cmd[1:]
        if not os.access(exe[0], os.X_OK):
            print(f"{exe[0]}: not built"); bad+=1; break
        h=subprocess.run(exe+['--help'],capture_output=True,text=True)
        txt=h.stdout+h.stderr
        for n in names:
            if n in ('help',): continue
            if '--'+n not in txt:
                print(f"{' '.join(cmd)}: --{n} is accepted but not in --help"); bad+=1
sys.exit(1 if bad else 0)
