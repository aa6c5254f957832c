#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive headless Chromium through the DevTools protocol, with the standard library only.

Chromium's ``--remote-debugging-pipe`` speaks the DevTools protocol over two pipes, file descriptors 3 (commands in)
and 4 (responses and events out), each message JSON ended by a NUL byte: no websocket, no port, no Python package.

  cdp.py screenshot URL OUT.png [--width W] [--height H] [--hide SELECTOR]...
                                        a screenshot of the page's top W x H pixels (without the elements that match
                                        SELECTOR, to bring what matters to the top; the README's picture is made so)

As a library: ``with Browser() as browser: page = browser.open(url)``, then ``page.evaluate(js)``,
``page.screenshot()``, and ``page.events`` for what the page logged (console, exceptions, network requests).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

CANDIDATES = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')


class CdpError(Exception):
    """Chromium is missing, did not answer in time, or refused a command."""


def find_chromium():
    """The Chromium executable: $CHROMIUM, else the first of CANDIDATES on PATH; None when there is none."""
    if os.environ.get('CHROMIUM'):
        return shutil.which(os.environ['CHROMIUM'])
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


_TRAMPOLINE = 'import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execvp(sys.argv[3], sys.argv[3:])'


def _above(fd, lowest):
    """``fd`` moved to a number >= ``lowest``."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved


class Browser:
    """One headless Chromium with its own throw-away profile, driven over --remote-debugging-pipe."""

    def __init__(self, chromium=None, width=1400, height=1000, timeout=30.0):
        self.chromium = chromium or find_chromium()
        if not self.chromium:
            raise CdpError('no Chromium found (tried $CHROMIUM and %s); `make browser-tests` installs Debian\'s chromium' % ', '.join(CANDIDATES))
        self.width, self.height, self.timeout = width, height, timeout
        self.profile = None
        self.proc = None
        self._buffer = b''
        self._next_id = 0
        self._events = {}   # session id -> list of events

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        self.profile = tempfile.mkdtemp(prefix='gpufleet-chromium-')
        args = [self.chromium, '--headless', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
                '--disable-extensions', '--disable-background-networking', '--disable-sync', '--hide-scrollbars',
                '--remote-debugging-pipe', '--user-data-dir=' + self.profile, '--window-size=%d,%d' % (self.width, self.height)]
        if os.geteuid() == 0:
            # Chromium's sandbox refuses to run as root, which is how CI runs the tests.
            args.append('--no-sandbox')
        args.append('about:blank')
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # Above 9, so that putting one end on fd 3 or 4 cannot overwrite the other (a pipe may get fd 3 or 4 itself).
        commands_read, answers_write = [_above(fd, 10) for fd in (commands_read, answers_write)]
        # A small Python puts the two pipe ends where Chromium looks for them (fd 3 and 4) and then becomes Chromium.
        self.proc = subprocess.Popen([sys.executable, '-c', _TRAMPOLINE, str(commands_read), str(answers_write)] + args,
                                     pass_fds=(commands_read, answers_write), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(answers_write)

    def close(self):
        if self.proc is not None:
            try:
                if self.proc.poll() is None:
                    self._send('Browser.close', {}, None)
                    self.proc.wait(timeout=10)
            except (OSError, CdpError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
            for fd in (self._commands, self._answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.proc = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def _send(self, method, params, session):
        self._next_id += 1
        message = {'id': self._next_id, 'method': method, 'params': params or {}}
        if session:
            message['sessionId'] = session
        os.write(self._commands, json.dumps(message).encode('utf-8') + b'\0')
        return self._next_id

    def _receive(self, deadline):
        while b'\0' not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise CdpError('Chromium did not answer within %.0f s' % self.timeout)
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise CdpError('Chromium closed the DevTools pipe (exit status %s)' % self.proc.poll())
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b'\0', 1)
        message = json.loads(raw.decode('utf-8'))
        if 'method' in message:
            self._events.setdefault(message.get('sessionId'), []).append(message)
        return message

    def call(self, method, params=None, session=None):
        """Send a command and return its result; events that arrive meanwhile are kept."""
        ident = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get('id') == ident:
                if 'error' in message:
                    raise CdpError('%s: %s' % (method, message['error'].get('message')))
                return message.get('result', {})

    def wait_for(self, session, method, since=0):
        """The first event ``method`` of ``session`` at or after position ``since`` of its events."""
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self._events.get(session, [])[since:]:
                if event['method'] == method:
                    return event
            self._receive(deadline)

    def open(self, url):
        """A new tab with console, exception, log and network events recorded, navigated to ``url`` and loaded."""
        target = self.call('Target.createTarget', {'url': 'about:blank'})['targetId']
        session = self.call('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        page = Page(self, session)
        for domain in ('Runtime', 'Log', 'Network', 'Page'):
            page.call(domain + '.enable')
        page.call('Emulation.setDeviceMetricsOverride', {'width': self.width, 'height': self.height, 'deviceScaleFactor': 1,
                                                         'mobile': False})
        page.navigate(url)
        return page


class Page:
    """One tab of a Browser."""

    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    @property
    def events(self):
        return self.browser._events.get(self.session, [])  # pylint: disable=protected-access

    def call(self, method, params=None):
        return self.browser.call(method, params, self.session)

    def navigate(self, url):
        since = len(self.events)
        result = self.call('Page.navigate', {'url': url})
        if result.get('errorText'):
            raise CdpError('loading %s failed: %s' % (url, result['errorText']))
        self.browser.wait_for(self.session, 'Page.loadEventFired', since)

    def evaluate(self, expression):
        """The JSON value of a JavaScript expression in the page (promises awaited); CdpError for an exception."""
        result = self.call('Runtime.evaluate', {'expression': expression, 'returnByValue': True, 'awaitPromise': True})
        if 'exceptionDetails' in result:
            details = result['exceptionDetails']
            raise CdpError('the page script failed: %s' % (details.get('exception', {}).get('description') or details.get('text')))
        return result['result'].get('value')

    def insert_text(self, text):
        """Type ``text`` into the focused element, as a keyboard would (the page gets its input events)."""
        self.call('Input.insertText', {'text': text})

    def click(self, selector):
        """A real mouse click at the middle of the first element matching ``selector``."""
        box = self.evaluate('(function () { var e = document.querySelector(%s); e.scrollIntoView({block: "center"});'
                            ' var r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }())'
                            % json.dumps(selector))
        for kind in ('mousePressed', 'mouseReleased'):
            self.call('Input.dispatchMouseEvent', {'type': kind, 'x': box[0], 'y': box[1], 'button': 'left', 'clickCount': 1})

    def screenshot(self, path, full_page=False):
        """Write a PNG of the viewport (or of the whole page) to ``path``."""
        params = {'format': 'png'}
        if full_page:
            size = self.evaluate('[document.documentElement.scrollWidth, document.documentElement.scrollHeight]')
            params.update(captureBeyondViewport=True, clip={'x': 0, 'y': 0, 'width': size[0], 'height': size[1], 'scale': 1})
        else:
            self.evaluate('window.scrollTo(0, 0)')
        data = base64.b64decode(self.call('Page.captureScreenshot', params)['data'])
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def problems(self):
        """What went wrong while the page ran: console errors and assertions, uncaught exceptions, error log entries."""
        found = []
        for event in self.events:
            method, params = event['method'], event.get('params', {})
            if method == 'Runtime.consoleAPICalled' and params.get('type') in ('error', 'assert'):
                found.append('console.%s: %s' % (params['type'], ' '.join(str(a.get('value', a.get('description'))) for a in params.get('args', []))))
            elif method == 'Runtime.exceptionThrown':
                details = params.get('exceptionDetails', {})
                found.append('exception: %s' % (details.get('exception', {}).get('description') or details.get('text')))
            elif method == 'Log.entryAdded' and params.get('entry', {}).get('level') == 'error':
                found.append('log (%s): %s' % (params['entry'].get('source'), params['entry'].get('text')))
        return found

    def requests(self):
        """The URL of every request the page made, the page itself included."""
        return [e['params']['request']['url'] for e in self.events if e['method'] == 'Network.requestWillBeSent']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command', required=True)
    shot = sub.add_parser('screenshot', help='a screenshot of the top of a page')
    shot.add_argument('url')
    shot.add_argument('out')
    shot.add_argument('--width', type=int, default=1280)
    shot.add_argument('--height', type=int, default=800)
    shot.add_argument('--hide', action='append', default=[], metavar='SELECTOR', help='hide what matches this CSS selector first')
    args = parser.parse_args(argv)
    url = args.url if '://' in args.url else 'file://' + os.path.abspath(args.url)
    try:
        with Browser(width=args.width, height=args.height) as browser:
            page = browser.open(url)
            for selector in args.hide:
                page.evaluate('document.querySelectorAll(%s).forEach(function (e) { e.hidden = true; })' % json.dumps(selector))
            page.screenshot(args.out)
            for problem in page.problems():
                print('cdp: the page reported: %s' % problem, file=sys.stderr)
    except CdpError as exc:
        print('cdp: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
