#!/usr/bin/env python3
"""Compare what Chromium read from a `kstat report` page (browser.py's JSON) with the truth.

    check_report.py BROWSER.json --records CALLS.ndjson --stats STATS.ndjson --map MAP.json [--top N]

  map        the DOM's map (nodes and edges of the SVG) == `kstat map --format json` (same --top-edges)
  failing    every row of the failing-endpoints table == the `kstat --json` group with its key
             (calls, errors, client_errors, unanswered, p50/p99/max), and the rows are the groups
             with errors, most errors first, at most N
  slowest    == computed here from the records: the N largest elapsed_time of answered calls
             (not connection or flow summaries)
  dns        == computed here: failed DNS queries (an answer with rcode != 0, or none) per
             (first question, its type, rcode name), counts and order
  tcp        == computed here from tcp_conn records: refused/reset/timeout/retransmissions/zero
             windows per source -> destination
Prints one line per difference; exit 1 when there is any."""
import argparse
import collections
import json
import sys


def load_ndjson(p):
    with open(p) as f:
        return [json.loads(l) for l in f if l.strip()]


def side_id(r, side):
    e = r.get(side) or {}
    pod = e.get('pod') or {}
    svc = e.get('service') or {}
    owner = (pod.get('owner') or {}).get('name', '')
    podns = pod.get('namespace', '')
    if owner:
        return '%s/%s' % (podns, owner)
    if svc.get('name'):
        return '%s/%s' % (svc.get('namespace') or podns, svc['name'])
    if pod.get('name'):
        return '%s/%s' % (podns, pod['name'])
    return e.get('dns') or e.get('ip') or '?'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('browser')
    ap.add_argument('--records', required=True)
    ap.add_argument('--stats', required=True)
    ap.add_argument('--map', required=True)
    ap.add_argument('--top', type=int, default=15)
    a = ap.parse_args()
    page = json.load(open(a.browser))
    dom = page['dom']
    recs = load_ndjson(a.records)
    stats = load_ndjson(a.stats)
    kmap = json.load(open(a.map))
    bad = []

    # --- map
    want_nodes = sorted((n['id'], n['kind']) for n in kmap['nodes'])
    got_nodes = sorted((n['id'], n['kind']) for n in dom['map']['nodes'])
    if want_nodes != got_nodes:
        bad.append('map nodes: page %s, kstat map %s' % (got_nodes, want_nodes))
    want_edges = sorted((e['src'], e['dst'], e['protocol'], e['calls'], e['errors'], e['p99_us']) for e in kmap['edges'])
    got_edges = sorted((e['src'], e['dst'], e['protocol'], e['calls'], e['errors'], e['p99_us']) for e in dom['map']['edges'])
    if want_edges != got_edges:
        bad.append('map edges: page %s, kstat map %s' % (got_edges, want_edges))
    if dom['map']['more'] != kmap.get('more_edges', 0):
        bad.append('more edges: page %s, kstat map %s' % (dom['map']['more'], kmap.get('more_edges')))

    # --- failing endpoints
    by_key = {(s['key']['protocol'], s['key']['src'], s['key']['dst'], s['key']['endpoint']): s for s in stats}
    failing = dom['tables'].get('failing', [])
    want = sorted((s for s in stats if s['errors'] > 0), key=lambda s: (-s['errors'], -s['calls']))[:a.top]
    if [s['errors'] for s in want] != [r['errors'] for r in failing]:
        bad.append('failing: errors column %s, kstat %s' % ([r['errors'] for r in failing], [s['errors'] for s in want]))
    if sorted(tuple(s['key'].values()) for s in want) != sorted((r['protocol'], r['src'], r['dst'], r['endpoint']) for r in failing):
        bad.append('failing: rows %s, kstat groups with errors %s' % (
            [(r['protocol'], r['src'], r['dst'], r['endpoint']) for r in failing], [tuple(s['key'].values()) for s in want]))
    for r in failing:
        s = by_key.get((r['protocol'], r['src'], r['dst'], r['endpoint']))
        if not s:
            bad.append('failing: row %r is no kstat group' % r)
            continue
        for k in ('calls', 'errors', 'client_errors', 'unanswered', 'p50_us', 'p99_us', 'max_us'):
            if r[k] != s[k]:
                bad.append('failing %s: %s page %s kstat %s' % (r['endpoint'], k, r[k], s[k]))
        if abs(r['error_ratio'] - s['error_ratio']) > 1e-4:
            bad.append('failing %s: error_ratio page %s kstat %s' % (r['endpoint'], r['error_ratio'], s['error_ratio']))

    # --- slowest calls
    calls = [r for r in recs if not r.get('conn') and not r.get('flow') and not r.get('unanswered')
             and r.get('elapsed_time', 0) > 0]
    calls.sort(key=lambda r: (-r['elapsed_time'], r['id']))
    want = calls[:a.top]
    slow = dom['tables'].get('slowest', [])
    if [r['elapsed_time'] for r in want] != [r['elapsed_us'] for r in slow]:
        bad.append('slowest: latencies page %s, records %s' % ([r['elapsed_us'] for r in slow], [r['elapsed_time'] for r in want]))
    if [r['id'] for r in want] != [r['id'] for r in slow]:
        bad.append('slowest: ids page %s, records %s' % ([r['id'] for r in slow], [r['id'] for r in want]))
    for r, w in zip(slow, want):
        want_path = '%s \u2192 %s' % (side_id(w, 'src'), side_id(w, 'dst'))
        if r['path'] != want_path:
            bad.append('slowest %s: %r, records say %r' % (r['id'], r['path'], want_path))

    # --- DNS failures
    d = collections.Counter()
    for r in recs:
        if not r.get('dns') or r.get('conn') or r.get('flow'):
            continue
        q = (r.get('dns_questions') or [''])[0]
        t = (r.get('dns_question_types') or [''])[0]
        if r.get('unanswered'):
            d[(q, t, 'no answer')] += 1
        elif r.get('dns_response') and r.get('status_code', 0) != 0:
            d[(q, t, r.get('dns_rcode') or 'rcode %d' % r['status_code'])] += 1
    want = sorted(d.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][2], kv[0][1]))[:a.top]
    got = [((r['name'], r['qtype'], r['rcode']), r['queries']) for r in dom['tables'].get('dnsfail', [])]
    if got != want:
        bad.append('dns: page %s, records %s' % (got, want))

    # --- TCP trouble
    t = collections.defaultdict(lambda: collections.Counter())
    for r in recs:
        if not (r.get('conn') and r.get('tcp')):
            continue
        e = t[(side_id(r, 'src'), side_id(r, 'dst'))]
        m = r.get('tcp_metrics') or {}
        et = r.get('tcp_error_type', '')
        e['conns'] += 1
        for k in ('refused', 'reset', 'timeout'):
            e[k] += et == k
        e['retransmissions'] += m.get('retransmissions', 0)
        e['zero_window'] += m.get('zero_window_events', 0)
        e['trouble'] += bool(et or m.get('retransmissions', 0) or m.get('zero_window_events', 0))
    want = {k: v for k, v in t.items() if v['trouble']}
    got = {(r['src'], r['dst']): r for r in dom['tables'].get('tcptrouble', [])}
    if len(got) != min(len(want), a.top):
        bad.append('tcp: %d rows, records have %d edges with trouble' % (len(got), len(want)))
    for k, r in got.items():
        w = want.get(k)
        if not w:
            bad.append('tcp: row %s has no trouble in the records' % (k,))
            continue
        for f in ('conns', 'refused', 'reset', 'timeout', 'retransmissions', 'zero_window'):
            if r[f] != w[f]:
                bad.append('tcp %s: %s page %s records %s' % (k, f, r[f], w[f]))

    for b in bad:
        print('check_report: ' + b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
