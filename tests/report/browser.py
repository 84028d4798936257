#!/usr/bin/env python3
"""Open an HTML page in headless Chromium (Debian's `chromium`) and say what a reader would get.

    browser.py PAGE.html [--screenshot OUT.png] [--width 1280] [--timeout 60]

Talks the DevTools protocol over --remote-debugging-pipe (file descriptors 3 and 4, messages
ending in a NUL byte), so nothing but python3's standard library and the browser is needed: no
websocket module, no puppeteer. Prints one JSON object on stdout:
  console      console messages of level error/warning, uncaught exceptions, log entries of level
               error (a Content-Security-Policy violation is one), dialogs (alert/confirm/prompt)
  requests     every URL the page asked for other than the page itself (must be empty offline)
  load_ms      navigation start -> load event end (the browser's own timing)
  wall_ms      navigate command -> load event seen here
  dom          what the page shows, read from its DOM (see EXTRACT below)
Exit status 0 when the page loaded, 2 on usage, 3 when the browser failed or timed out.
"""
import argparse
import base64
import json
import os
import select
import shutil
import sys
import tempfile
import time

# Read from the DOM after load: the map's nodes and edges (data attributes kstat report puts on
# Graphviz's <g> elements), every table row's cells by data-k (data-v when the cell has a number,
# else its full text from title, else its text), and signs that something was injected.
EXTRACT = r"""
(() => {
  const cell = (td) => td.dataset.v !== undefined ? Number(td.dataset.v)
                     : (td.getAttribute('title') !== null ? td.getAttribute('title') : td.textContent);
  const tables = {};
  document.querySelectorAll('table[id]').forEach((t) => {
    const rows = Array.from(t.tBodies[0] ? t.tBodies[0].rows : []).filter((r) => !r.classList.contains('cmdrow'));
    tables[t.id] = rows.map((r) => {
      const o = {};
      Array.from(r.cells).forEach((td) => { if (td.dataset.k) o[td.dataset.k] = cell(td); });
      const next = r.nextElementSibling;   // the row's command is the row under it
      const cmd = next && next.classList.contains('cmdrow') ? next.querySelector('td.cmd code') : null;
      if (cmd) o.command = cmd.textContent;
      if (r.dataset.id) o.id = r.dataset.id;
      return o;
    });
  });
  const svg = document.querySelector('#map .map svg');
  const nodes = svg ? Array.from(svg.querySelectorAll('g.node[data-id]')).map((g) => ({
      id: g.dataset.id, kind: g.dataset.kind, label: g.querySelector('text') ? g.querySelector('text').textContent : null })) : [];
  const edges = svg ? Array.from(svg.querySelectorAll('g.edge[data-src]')).map((g) => ({
      src: g.dataset.src, dst: g.dataset.dst, protocol: g.dataset.protocol,
      calls: Number(g.dataset.calls), errors: Number(g.dataset.errors), p99_us: Number(g.dataset.p99),
      color: (g.querySelector('path') || {getAttribute: () => null}).getAttribute('stroke') })) : [];
  const more = document.getElementById('more-edges');
  const on = Array.from(document.querySelectorAll('*')).filter((e) =>
      Array.from(e.attributes).some((a) => /^on/i.test(a.name))).length;
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    title: document.title,
    h1: (document.querySelector('h1') || {}).textContent,
    window: (document.getElementById('window') || {}).textContent || null,
    sections: Array.from(document.querySelectorAll('section[id]')).map((s) => s.id),
    empty_notes: Array.from(document.querySelectorAll('.empty')).map((e) => e.textContent),
    map: { svg: !!svg, nodes, edges, more: more ? Number(more.dataset.more) : 0 },
    charts: Array.from(document.querySelectorAll('svg.chart')).map((c) => ({
      label: c.getAttribute('aria-label'), series: c.querySelectorAll('g.series').length,
      points: c.querySelectorAll('circle').length })),
    tables,
    scripts: document.scripts.length,
    elements_with_on_attributes: on,
    foreign_elements: document.querySelectorAll('img,iframe,object,embed,link,video,audio,form,base,meta[http-equiv=refresh]').length,
    pwned: typeof window.__pwned !== 'undefined' ? String(window.__pwned) : null,
    body_chars: document.body ? document.body.textContent.length : 0,
    elements: document.getElementsByTagName('*').length,
    page_height: document.documentElement.scrollHeight,
    load_ms: nav ? nav.loadEventEnd - nav.startTime : null,
  };
})()
"""


class Browser:
    def __init__(self, timeout):
        exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
        if not exe:
            raise SystemExit('browser.py: chromium not found (Debian package chromium)')
        self.profile = tempfile.mkdtemp(prefix='kf-chromium-')
        to_r, self.to_w = os.pipe()        # we write commands, the browser reads fd 3
        self.from_r, from_w = os.pipe()    # the browser writes fd 4, we read
        args = [exe, '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu',
                '--no-first-run', '--no-default-browser-check', '--disable-extensions',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--disable-default-apps', '--mute-audio', '--hide-scrollbars',
                '--user-data-dir=' + self.profile, 'about:blank']
        env = dict(os.environ)
        env.setdefault('HOME', self.profile)
        self.pid = os.posix_spawn(exe, args, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, to_r, 3), (os.POSIX_SPAWN_DUP2, from_w, 4),
            (os.POSIX_SPAWN_OPEN, 1, '/dev/null', os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, '/dev/null', os.O_WRONLY, 0)])
        os.close(to_r)
        os.close(from_w)
        self.buf = b''
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + timeout

    def _read_message(self):
        while b'\0' not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('browser did not answer in time')
            r, _, _ = select.select([self.from_r], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise EOFError('browser closed the pipe')
            self.buf += chunk
        msg, self.buf = self.buf.split(b'\0', 1)
        msg = json.loads(msg)
        if msg.get('method') == 'Page.javascriptDialogOpening':
            # an injected alert() would stop the page: note it (as an event) and dismiss it
            self.next_id += 1
            os.write(self.to_w, json.dumps({'id': self.next_id, 'method': 'Page.handleJavaScriptDialog',
                                            'params': {'accept': False}, 'sessionId': msg.get('sessionId')}).encode() + b'\0')
        return msg

    def send(self, method, params=None, session=None):
        self.next_id += 1
        my_id = self.next_id
        m = {'id': my_id, 'method': method, 'params': params or {}}
        if session:
            m['sessionId'] = session
        data = json.dumps(m).encode() + b'\0'
        while data:
            data = data[os.write(self.to_w, data):]
        while True:
            msg = self._read_message()
            if msg.get('id') == my_id:
                if 'error' in msg:
                    raise RuntimeError('%s: %s' % (method, msg['error']))
                return msg.get('result', {})
            self.events.append(msg)

    def wait_event(self, method, session=None):
        for i, e in enumerate(self.events):
            if e.get('method') == method and (session is None or e.get('sessionId') == session):
                return self.events.pop(i)
        while True:
            msg = self._read_message()
            if msg.get('method') == method and (session is None or msg.get('sessionId') == session):
                return msg
            self.events.append(msg)

    def close(self):
        try:
            self.next_id += 1
            os.write(self.to_w, json.dumps({'id': self.next_id, 'method': 'Browser.close'}).encode() + b'\0')
        except OSError:
            pass
        for _ in range(50):
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('page')
    ap.add_argument('--screenshot')
    ap.add_argument('--width', type=int, default=1280)
    ap.add_argument('--timeout', type=float, default=60)
    ap.add_argument('--clip', help='Y:HEIGHT of the page to screenshot (default: all of it)')
    a = ap.parse_args()
    url = 'file://' + os.path.abspath(a.page)
    b = Browser(a.timeout)
    try:
        target = b.send('Target.createTarget', {'url': 'about:blank'})['targetId']
        s = b.send('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        for d in ('Page', 'Runtime', 'Log', 'Network'):
            b.send(d + '.enable', session=s)
        b.send('Emulation.setDeviceMetricsOverride',
               {'width': a.width, 'height': 900, 'deviceScaleFactor': 1, 'mobile': False}, session=s)
        b.events.clear()
        t0 = time.monotonic()
        b.send('Page.navigate', {'url': url}, session=s)
        b.wait_event('Page.loadEventFired', s)
        wall_ms = (time.monotonic() - t0) * 1000
        dom = b.send('Runtime.evaluate', {'expression': EXTRACT, 'returnByValue': True}, session=s)
        if 'exceptionDetails' in dom:
            raise RuntimeError('extracting the DOM failed: %s' % dom['exceptionDetails'])
        dom = dom['result']['value']
        if a.screenshot:
            h = b.send('Page.getLayoutMetrics', session=s)['cssContentSize']['height']
            y, ch = 0, min(h, 16000)
            if a.clip:
                y, ch = (float(v) for v in a.clip.split(':'))
                ch = max(1, min(ch, h - y))
            shot = b.send('Page.captureScreenshot', {
                'format': 'png', 'captureBeyondViewport': True,
                'clip': {'x': 0, 'y': y, 'width': a.width, 'height': ch, 'scale': 1}}, session=s)
            with open(a.screenshot, 'wb') as f:
                f.write(base64.b64decode(shot['data']))
        console, requests = [], []
        for e in b.events:
            m, p = e.get('method'), e.get('params', {})
            if e.get('sessionId') != s:
                continue
            if m == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'warning', 'assert'):
                console.append('console.%s: %s' % (p['type'], ' '.join(str(x.get('value', x.get('description'))) for x in p.get('args', []))))
            elif m == 'Runtime.exceptionThrown':
                console.append('exception: %s' % p.get('exceptionDetails', {}).get('exception', {}).get('description', p))
            elif m == 'Log.entryAdded' and p.get('entry', {}).get('level') in ('error', 'warning'):
                console.append('log %s: %s' % (p['entry'].get('source'), p['entry'].get('text')))
            elif m == 'Page.javascriptDialogOpening':
                console.append('dialog: %s' % p.get('message'))
            elif m == 'Network.requestWillBeSent':
                u = p.get('request', {}).get('url', '')
                if u != url:
                    requests.append(u)
        json.dump({'url': url, 'console': console, 'requests': requests, 'wall_ms': round(wall_ms, 1),
                   'load_ms': dom.get('load_ms'), 'dom': dom}, sys.stdout)
        sys.stdout.write('\n')
    except (TimeoutError, EOFError, RuntimeError, KeyError) as e:
        print('browser.py: %s: %s' % (a.page, e), file=sys.stderr)
        return 3
    finally:
        b.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
