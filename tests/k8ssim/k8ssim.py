#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8ssim command line and test helpers.

  k8ssim.py start --description FILE --state-dir DIR [--token T] [--port 0]
  k8ssim.py stop --state-dir DIR
  k8ssim.py status --state-dir DIR
  k8ssim.py audit --state-dir DIR [--json] [--clear]
  k8ssim.py fault add --state-dir DIR --verb V --resource R [--subresource S] [--name N] [--namespace NS]
                      [--query Q] [--nth N] [--repeat] (--code C [--message M] | --delay-ms MS | --drop)
  k8ssim.py fault list|clear --state-dir DIR
  k8ssim.py dump --state-dir DIR

For tests: ``with Cluster(description_dict_or_path, state_dir) as cluster:`` starts a
server process and stops it on exit; ``cluster.kubeconfig``, ``cluster.api_client()``,
``cluster.audit()``, ``cluster.add_fault(...)``, ``cluster.dump()``."""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, 'server.py')
WRITE_VERBS = ('create', 'update', 'patch', 'delete', 'evict')


class K8sSimError(Exception):
    """A CLI or helper failure."""


def _read_info(state_dir):
    path = os.path.join(state_dir, 'server.json')
    if not os.path.exists(path):
        raise K8sSimError('no server.json in %s (not started?)' % state_dir)
    with open(path) as handle:
        return json.load(handle)


def _request(info, method, path, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(info['url'] + path, data=data, method=method,
                                 headers={'Authorization': 'Bearer %s' % info['token'], 'Content-Type': 'application/json'})
    context = None
    if info.get('ca_cert'):
        # Over HTTPS: the server's CA, and the admin's client certificate, which a server requiring one needs.
        context = ssl.create_default_context(cafile=info['ca_cert'])
        context.load_cert_chain(os.path.join(info['pki'], 'admin.crt'), os.path.join(info['pki'], 'admin.key'))
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return json.loads(resp.read().decode() or 'null')
    except urllib.error.HTTPError as exc:
        raise K8sSimError('%s %s: %s %s' % (method, path, exc.code, exc.read().decode()))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().split()[2] != 'Z'
    except (IOError, IndexError):
        return True


def start(description, state_dir, token=None, port=0, timeout=30, python=None):
    """Start a daemonised server; returns the server.json contents once /version answers."""
    state_dir = os.path.abspath(state_dir)
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir)
    if isinstance(description, dict):
        path = os.path.join(state_dir, 'description.yaml')
        with open(path, 'w') as handle:
            yaml.safe_dump(description, handle, default_flow_style=False)
        description = path
    for name in ('server.json', 'kubeconfig'):
        if os.path.exists(os.path.join(state_dir, name)):
            os.unlink(os.path.join(state_dir, name))
    cmd = [python or sys.executable, SERVER, '--description', os.path.abspath(description), '--state-dir', state_dir, '--port', str(port)]
    if token:
        cmd += ['--token', token]
    with open(os.path.join(state_dir, 'server.log'), 'ab') as log, open(os.devnull, 'rb') as devnull:
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=log, start_new_session=True, close_fds=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            with open(os.path.join(state_dir, 'server.log')) as handle:
                raise K8sSimError('k8ssim server exited with %s:\n%s' % (proc.returncode, handle.read()[-4000:]))
        try:
            info = _read_info(state_dir)
            _request(info, 'GET', '/version', timeout=2)
            info['process'] = proc
            return info
        except (K8sSimError, OSError, ValueError):
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise K8sSimError('k8ssim server did not answer within %ss' % timeout)


def stop(state_dir, timeout=10):
    """Stop the server of a state dir (control API, then SIGTERM, then SIGKILL)."""
    info = _read_info(state_dir)
    pid = info['pid']
    try:
        _request(info, 'POST', '/_sim/shutdown', timeout=2)
    except Exception:  # pylint: disable=broad-except
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return pid


def read_audit(state_dir):
    path = os.path.join(state_dir, 'audit.log')
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def summarize(entries):
    counts = {}
    for entry in entries:
        key = '%s %s%s' % (entry.get('verb'), entry.get('resource') or '-', '/' + entry['subresource'] if entry.get('subresource') else '')
        counts[key] = counts.get(key, 0) + 1
    writes = [e for e in entries if e.get('verb') in WRITE_VERBS]
    return {'total': len(entries), 'by_verb_resource': counts, 'writes': len(writes),
            'errors': sum(1 for e in entries if not 200 <= (e.get('code') or 0) < 300),
            'write_requests': ['%s %s %s %s -> %s' % (e['verb'], e.get('resource'), e.get('namespace') or '', e.get('name') or '', e.get('code'))
                               for e in writes]}


class Cluster(object):
    """A simulated cluster for a test: ``with Cluster(desc, tmp_dir) as c: ...``."""

    def __init__(self, description, state_dir, token='k8ssim-test-token'):
        self.description = description
        self.state_dir = os.path.abspath(str(state_dir))
        self.token = token
        self.info = None

    def __enter__(self):
        self.info = start(self.description, self.state_dir, token=self.token)
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.info is not None:
            stop(self.state_dir)
            self.info['process'].wait()
            self.info = None

    @property
    def url(self):
        return self.info['url']

    @property
    def kubeconfig(self):
        return os.path.join(self.state_dir, 'kubeconfig')

    def api_client(self):
        """A kubernetes.client.ApiClient configured from the kubeconfig."""
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
        return client.ApiClient(cfg)

    def control(self, method, path, body=None):
        return _request(self.info, method, path, body)

    def audit(self, since=0):
        return self.control('GET', '/_sim/audit?since=%d' % since)['entries']

    def clear_audit(self):
        self.control('DELETE', '/_sim/audit')

    def add_fault(self, **rule):
        return self.control('POST', '/_sim/faults', rule)

    def clear_faults(self):
        self.control('DELETE', '/_sim/faults')

    def dump(self):
        return self.control('GET', '/_sim/state')

    def wait_for(self, predicate, timeout=10, interval=0.05, message='condition'):
        """Poll ``predicate(dump)`` on the full state until it returns a true value."""
        deadline = time.time() + timeout
        while True:
            value = predicate(self.dump())
            if value:
                return value
            if time.time() > deadline:
                raise AssertionError('timed out after %ss waiting for %s' % (timeout, message))
            time.sleep(interval)


def _print(value, as_json):
    if as_json:
        print(json.dumps(value, indent=2, sort_keys=True))
    elif isinstance(value, dict):
        for key, item in sorted(value.items()):
            print('%s: %s' % (key, json.dumps(item, sort_keys=True) if isinstance(item, (dict, list)) else item))
    else:
        print(value)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='k8ssim', description='Simulated Kubernetes API server for gpufleet.mig tests')
    sub = parser.add_subparsers(dest='command')
    p_start = sub.add_parser('start', help='start a server in the background')
    p_start.add_argument('--description', required=True)
    p_start.add_argument('--state-dir', required=True)
    p_start.add_argument('--token')
    p_start.add_argument('--port', type=int, default=0)
    for name, text in (('stop', 'stop the server'), ('status', 'is it running, where'), ('dump', 'full state as JSON')):
        sub.add_parser(name, help=text).add_argument('--state-dir', required=True)
    p_audit = sub.add_parser('audit', help='request counts from the audit log')
    p_audit.add_argument('--state-dir', required=True)
    p_audit.add_argument('--json', action='store_true')
    p_audit.add_argument('--clear', action='store_true', help='empty the audit log after reading it (server must run)')
    p_fault = sub.add_parser('fault', help='fault injection')
    p_fault.add_argument('action', choices=('add', 'list', 'clear'))
    p_fault.add_argument('--state-dir', required=True)
    p_fault.add_argument('--verb', default='*')
    p_fault.add_argument('--resource', default='*')
    p_fault.add_argument('--subresource')
    p_fault.add_argument('--namespace')
    p_fault.add_argument('--name')
    p_fault.add_argument('--query', help='a substring of the decoded query string, e.g. spec.nodeName=n1')
    p_fault.add_argument('--nth', type=int, default=1)
    p_fault.add_argument('--repeat', action='store_true')
    p_fault.add_argument('--code', type=int)
    p_fault.add_argument('--message')
    p_fault.add_argument('--delay-ms', type=int)
    p_fault.add_argument('--drop', action='store_true')
    args = parser.parse_args(argv)
    try:
        if args.command == 'start':
            info = start(args.description, args.state_dir, args.token, args.port)
            info.pop('process')
            _print(info, True)
        elif args.command == 'stop':
            print('stopped pid %d' % stop(args.state_dir))
        elif args.command == 'status':
            info = _read_info(args.state_dir)
            running = _alive(info['pid'])
            _print({'url': info['url'], 'pid': info['pid'], 'running': running, 'kubeconfig': info['kubeconfig']}, False)
            return 0 if running else 3
        elif args.command == 'dump':
            _print(_request(_read_info(args.state_dir), 'GET', '/_sim/state'), True)
        elif args.command == 'audit':
            # Read first, then clear: a caller counting requests per step gets each step's requests once.
            summary = summarize(read_audit(args.state_dir))
            if args.clear:
                _request(_read_info(args.state_dir), 'DELETE', '/_sim/audit')
            if args.json:
                _print(summary, True)
            else:
                print('requests: %d  writes: %d  errors: %d' % (summary['total'], summary['writes'], summary['errors']))
                for key, count in sorted(summary['by_verb_resource'].items()):
                    print('  %-40s %d' % (key, count))
        elif args.command == 'fault':
            info = _read_info(args.state_dir)
            if args.action == 'add':
                rule = {'verb': args.verb, 'resource': args.resource, 'nth': args.nth, 'repeat': args.repeat}
                for key in ('subresource', 'namespace', 'name', 'query', 'code', 'message', 'delay_ms'):
                    if getattr(args, key) is not None:
                        rule[key] = getattr(args, key)
                if args.drop:
                    rule['drop'] = True
                _print(_request(info, 'POST', '/_sim/faults', rule), True)
            elif args.action == 'list':
                _print(_request(info, 'GET', '/_sim/faults')['faults'], True)
            else:
                _request(info, 'DELETE', '/_sim/faults')
        else:
            parser.print_help()
            return 2
    except K8sSimError as exc:
        print('k8ssim: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
