#!/usr/bin/env python3
"""Differential test of KFL's matches() (lib/kfl/regex.c, a Thompson NFA) against Python's re
as the oracle, over random patterns from the RE2 subset both read the same way and random
strings without newlines (RE2's '.' skips '\\n', our byte engine's does not), and a timing check
on patterns that make backtracking engines take exponential or quadratic time.
usage: regex_oracle.py KFL_BINARY [count]"""
import json, random, re, subprocess, sys, tempfile, time

kfl = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
rng = random.Random(21)
ALPHA = 'abc'


def atom(d):
    r = rng.random()
    if d < 2 and r < 0.25:
        return '(' + alt(d + 1) + ')'
    if r < 0.35:
        return '[' + rng.choice(['', '^']) + ''.join(rng.sample('abcx-', 2)).strip('-') + ']'
    if r < 0.42:
        return '.'
    if r < 0.47:
        return rng.choice([r'\d', r'\w', r'\s', r'\b'])
    return rng.choice(ALPHA)


def rep(d):
    a = atom(d)
    if a == r'\b':
        return a
    q = rng.random()
    if q < 0.15: return a + '*'
    if q < 0.3: return a + '+'
    if q < 0.4: return a + '?'
    if q < 0.47: return a + '{%d,%d}' % (lambda x: (x, x + rng.randint(0, 2)))(rng.randint(0, 2))
    return a


def concat(d):
    return ''.join(rep(d) for _ in range(rng.randint(1, 4)))


def alt(d):
    s = concat(d)
    while rng.random() < 0.25:
        s += '|' + concat(d)
    return s


def pattern():
    p = alt(0)
    if rng.random() < 0.2: p = '^' + p
    if rng.random() < 0.2: p = p + '$'
    if rng.random() < 0.1: p = '(?i)' + p
    return p


strings = [''.join(rng.choice('abcAB1 x-') for _ in range(rng.randint(0, 12))) for _ in range(60)]
fails = 0
with tempfile.NamedTemporaryFile('w', suffix='.ndjson', delete=False) as f:
    for s in strings:
        f.write(json.dumps({'url': s}) + '\n')
    path = f.name
for _ in range(count):
    p = pattern()
    try:
        want = [s for s in strings if re.search(p, s, re.ASCII)]
    except re.error:
        continue
    out = subprocess.run([kfl, 'url.matches(%s)' % json.dumps(p), path], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        print('kfl failed on %r: %s' % (p, out.stderr.strip())); fails += 1; continue
    got = [json.loads(l)['url'] for l in out.stdout.splitlines()]
    if got != want:
        print('pattern %r: kfl %r, python %r' % (p, got, want)); fails += 1
# linear time: each of these took seconds to minutes with a backtracking engine
long = 'a' * 100000 + '!'
with open(path, 'w') as f:
    f.write(json.dumps({'url': long}) + '\n')
# (the answers are given: Python's own backtracking engine would not finish on some of these)
for p, want in [('[a-z]+$', False), ('(a+)+$', False), ('(a|aa)*$', True), ('(a*)*b', False), ('(.*a){20}', True), ('^(a|a?)+!$', True)]:
    t = time.time()
    out = subprocess.run([kfl, 'url.matches(%s)' % json.dumps(p), path], capture_output=True, text=True)
    dt = time.time() - t
    got = bool(out.stdout.strip())
    if got != want or dt > 2:
        print('long input, %r: %s in %.2f s (want %s, at most 2 s)' % (p, got, dt, want)); fails += 1
print('%d patterns, %d failures' % (count, fails))
sys.exit(1 if fails else 0)
