#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8ssim API server: a Kubernetes API server on 127.0.0.1 for what gpufleet.mig touches.

Run it through ``k8ssim.py start`` (which daemonises it) or directly:
``server.py --description FILE --state-dir DIR [--token T] [--port 0]``.  It writes
DIR/server.json, DIR/kubeconfig and DIR/audit.log, and serves until SIGTERM or
POST /_sim/shutdown.  See README.md."""

from __future__ import absolute_import, division, print_function

import argparse
import base64
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlsplit

import yaml

from sim_controllers import Simulation
from sim_patches import PatchError, json_patch, merge_patch, strategic_merge_patch
from sim_rbac import Authorizer, forbidden, request_attributes
from sim_selectors import SelectorError, match_fields, match_requirements, parse_field_selector, parse_label_selector
from sim_tls import make_pki, peer_user, server_context
from sim_store import (BY_PLURAL, GROUPS, RESOURCES, ApiError, Store, already_exists, bad_request, conflict, find_resource,
                       invalid, not_found, now_iso)

VERSION = {'major': '1', 'minor': '31', 'gitVersion': 'v1.31.0', 'gitCommit': '6911225c3f747e1cd9d109c305436d08b668f086',
           'gitTreeState': 'clean', 'buildDate': '2024-08-13T07:28:49Z', 'goVersion': 'go1.22.5', 'compiler': 'gc',
           'platform': 'linux/amd64'}
PUBLIC_PATHS = ('/version', '/healthz', '/livez', '/readyz')
WRITE_VERBS = ('create', 'update', 'patch', 'delete', 'evict')
REASONS = {400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
           410: 'Expired', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError',
           503: 'ServiceUnavailable', 504: 'Timeout'}
NOT_FOUND_PATH = ApiError(404, 'NotFound', 'the server could not find the requested resource', {})
PATCH_TYPES = ('application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json')


class DropConnection(Exception):
    """A fault that closes the connection without an answer."""


class Audit(object):
    """One JSON line per API request, in memory and in STATE_DIR/audit.log."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.entries = []
        self.seq = 0

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry['seq'] = self.seq
            self.entries.append(entry)
            if self.path:
                with open(self.path, 'a') as handle:
                    handle.write(json.dumps(entry, sort_keys=True) + '\n')

    def clear(self):
        with self.lock:
            self.entries = []
            if self.path:
                open(self.path, 'w').close()


class Faults(object):
    """Fault rules: the Nth request matching (verb, resource[, subresource, namespace, name, query])
    gets a status code, a delay or a dropped connection; once or from the Nth on. ``query`` is a substring of the
    decoded query string, e.g. ``spec.nodeName=n1``: a list of the pods on one node, not on every node."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.next_id = 1

    def add(self, rule):
        if not isinstance(rule, dict):
            raise bad_request('fault rule must be a JSON object')
        known = ('verb', 'resource', 'subresource', 'namespace', 'name', 'query', 'nth', 'repeat', 'code', 'message', 'delay_ms',
                 'drop')
        unknown = sorted(set(rule) - set(known))
        if unknown:
            raise bad_request('unknown fault rule fields: %s' % ', '.join(unknown))
        if not rule.get('code') and not rule.get('delay_ms') and not rule.get('drop'):
            raise bad_request('a fault rule needs code, delay_ms or drop')
        with self.lock:
            entry = {'id': self.next_id, 'verb': rule.get('verb', '*'), 'resource': rule.get('resource', '*'),
                     'subresource': rule.get('subresource'), 'namespace': rule.get('namespace'), 'name': rule.get('name'),
                     'query': rule.get('query'), 'nth': int(rule.get('nth', 1)), 'repeat': bool(rule.get('repeat', False)), 'code': rule.get('code'),
                     'message': rule.get('message'), 'delay_ms': int(rule.get('delay_ms') or 0), 'drop': bool(rule.get('drop')),
                     'seen': 0, 'fired': 0}
            self.next_id += 1
            self.rules.append(entry)
            return dict(entry)

    def match(self, request):
        fired = []
        with self.lock:
            for rule in self.rules:
                if rule['verb'] not in ('*', request['verb']) or rule['resource'] not in ('*', request['resource']):
                    continue
                if any(rule[k] is not None and rule[k] != request.get(k) for k in ('subresource', 'namespace', 'name')):
                    continue
                if rule['query'] is not None and rule['query'] not in unquote_plus(request.get('query') or ''):
                    continue
                rule['seen'] += 1
                if rule['seen'] == rule['nth'] or (rule['repeat'] and rule['seen'] > rule['nth']):
                    rule['fired'] += 1
                    fired.append(dict(rule))
        return fired

    def clear(self, rule_id=None):
        with self.lock:
            self.rules = [r for r in self.rules if rule_id is not None and r['id'] != rule_id]

    def list(self):
        with self.lock:
            return [dict(r) for r in self.rules]


def _public(obj, with_type=True):
    out = json.loads(json.dumps(obj))
    if not with_type:
        out.pop('apiVersion', None)
        out.pop('kind', None)
    return out


def _success(details=None, code=None):
    body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success'}
    if details is not None:
        body['details'] = details
    if code is not None:
        body['code'] = code
    return body


class SimServer(object):
    """The API server, its simulation and its tick thread."""

    def __init__(self, description, state_dir, tokens, port=0, base_dir='.'):
        self.description = description or {}
        self.state_dir = state_dir
        self.tokens = dict((token, name) for name, token in tokens.items())
        # kubectl (client-go) does not send a bearer token over plain http: allow it without one when asked
        self.anonymous = bool(self.description.get('anonymous', False))
        # Tokens bound to a subject by `rbac` are authorized by the RBAC rules of its manifests; the others keep full access.
        self.rbac = Authorizer.from_description(self.description['rbac'], base_dir, set(tokens)) if self.description.get('rbac') else None
        self.store = Store()
        self.sim = Simulation(self.description, self.store, base_dir, state_dir)
        self.audit = Audit(os.path.join(state_dir, 'audit.log') if state_dir else None)
        self.faults = Faults()
        # tls: HTTPS with a CA of the server's own (sim_tls); client_certs says whether a client certificate is required.
        tls = self.description.get('tls')
        self.pki = None
        if tls:
            tls = tls if isinstance(tls, dict) else {}
            self.pki = make_pki(os.path.join(state_dir, 'pki'), sorted(tokens))
            self.httpd = _TlsServer(('127.0.0.1', port), Handler)
            self.httpd.context = server_context(self.pki, tls.get('client_certs', 'optional'))
        else:
            self.httpd = ThreadingHTTPServer(('127.0.0.1', port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.sim = self
        self.port = self.httpd.server_address[1]
        self.url = '%s://127.0.0.1:%d' % ('https' if tls else 'http', self.port)
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        """Bootstrap the cluster and serve in background threads."""
        self.sim.bootstrap()
        ticker = threading.Thread(target=self._tick_loop, name='k8ssim-tick')
        ticker.daemon = True
        ticker.start()
        server = threading.Thread(target=self.httpd.serve_forever, name='k8ssim-http', kwargs={'poll_interval': 0.1})
        server.daemon = True
        server.start()
        self.threads = [ticker, server]

    def _tick_loop(self):
        while not self.stopping.wait(self.sim.tick_s):
            try:
                self.sim.tick()
            except Exception:  # pylint: disable=broad-except
                traceback.print_exc()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self.threads[:1]:
            thread.join(5)  # the tick thread: no plugin starts after the shutdown below
        self.sim.shutdown()

    # ------------------------------------------------------------------ routing
    def route(self, method, path, query):
        """Map a request to (verb, resource, subresource, namespace, name) or a discovery handler."""
        parts = [p for p in path.split('/') if p]
        info = {'verb': 'get', 'resource': '', 'subresource': None, 'namespace': None, 'name': None, 'res': None, 'discovery': None}
        if not parts or parts[0] not in ('api', 'apis') or (len(parts) <= 3 and parts[0] == 'apis') or len(parts) <= 2:
            if method != 'GET':
                raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
            info['discovery'] = '/' + '/'.join(parts)
            return info
        if parts[0] == 'api':
            if parts[1] != 'v1':
                raise NOT_FOUND_PATH
            group, version, rest = '', 'v1', parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        namespace = None
        if rest[0] == 'namespaces' and len(rest) >= 3 and rest[2] not in ('status', 'finalize'):
            namespace = rest[1]
            rest = rest[2:]
        res = find_resource(group, version, rest[0])
        if res is None or len(rest) > 3 or (namespace is not None and not res.namespaced):
            raise NOT_FOUND_PATH
        info['res'] = res
        info['resource'] = res.plural
        info['namespace'] = namespace
        if len(rest) >= 2:
            info['name'] = rest[1]
        if len(rest) == 3:
            info['subresource'] = rest[2]
            allowed = {'status': res.status, 'eviction': res.plural == 'pods'}
            if not allowed.get(rest[2]):
                raise NOT_FOUND_PATH
        if res.namespaced and info['name'] is not None and namespace is None:
            raise NOT_FOUND_PATH
        collection = info['name'] is None
        if method == 'GET':
            info['verb'] = 'list' if collection else 'get'
            if collection and query.get('watch', [''])[0] in ('true', '1'):
                info['verb'] = 'watch'
        elif method == 'POST':
            info['verb'] = 'evict' if info['subresource'] == 'eviction' else 'create'
            if not collection and info['subresource'] != 'eviction':
                raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
        elif method == 'PUT':
            info['verb'] = 'update'
        elif method == 'PATCH':
            info['verb'] = 'patch'
        elif method == 'DELETE':
            info['verb'] = 'deletecollection' if collection else 'delete'
        if collection and method in ('PUT', 'PATCH'):
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
        if info['subresource'] == 'eviction' and method != 'POST':
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
        if info['subresource'] == 'status' and method not in ('GET', 'PUT', 'PATCH'):
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
        return info

    # ------------------------------------------------------------------ discovery
    def discovery(self, path):
        if path in ('/healthz', '/livez', '/readyz'):
            return 200, 'ok'
        if path == '/version':
            return 200, VERSION
        if path == '/api':
            return 200, {'kind': 'APIVersions', 'versions': ['v1'],
                         'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '127.0.0.1:%d' % self.port}]}
        if path == '/api/v1':
            return 200, self._resource_list('', 'v1')
        if path == '/apis':
            return 200, {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': [self._group(g) for g in sorted(GROUPS)]}
        parts = [p for p in path.split('/') if p]
        if len(parts) == 2 and parts[0] == 'apis' and parts[1] in GROUPS:
            body = self._group(parts[1])
            body.update({'kind': 'APIGroup', 'apiVersion': 'v1'})
            return 200, body
        if len(parts) == 3 and parts[0] == 'apis' and GROUPS.get(parts[1]) == parts[2]:
            return 200, self._resource_list(parts[1], parts[2])
        raise NOT_FOUND_PATH

    @staticmethod
    def _group(group):
        version = {'groupVersion': '%s/%s' % (group, GROUPS[group]), 'version': GROUPS[group]}
        return {'name': group, 'versions': [version], 'preferredVersion': version}

    @staticmethod
    def _resource_list(group, version):
        resources = []
        for res in RESOURCES:
            if res.group != group or res.version != version:
                continue
            resources.append({'name': res.plural, 'singularName': res.singular, 'namespaced': res.namespaced, 'kind': res.kind,
                              'verbs': sorted(res.verbs), 'shortNames': res.short_names})
            if res.status:
                resources.append({'name': res.plural + '/status', 'singularName': '', 'namespaced': res.namespaced, 'kind': res.kind,
                                  'verbs': ['get', 'patch', 'update']})
            if res.plural == 'pods':
                resources.append({'name': 'pods/eviction', 'singularName': '', 'namespaced': True, 'group': 'policy', 'version': 'v1',
                                  'kind': 'Eviction', 'verbs': ['create']})
        return {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': '%s/%s' % (group, version) if group else version,
                'resources': resources}

    # ------------------------------------------------------------------ REST verbs
    def execute(self, info, query, body, content_type):
        res = info['res']
        verb = info['verb']
        dry_run = bool(query.get('dryRun'))
        with self.store.lock:
            if verb == 'list':
                return 200, self._list(res, info['namespace'], query)
            if verb == 'get':
                return 200, _public(self._existing(res, info['namespace'], info['name']))
            if verb == 'create':
                return self._create(res, info['namespace'], self._json(body), dry_run)
            if verb == 'update':
                return self._update(res, info, self._json(body), dry_run)
            if verb == 'patch':
                return self._patch(res, info, body, content_type, dry_run)
            if verb == 'delete':
                return self._delete(res, info, query, body, dry_run)
            if verb == 'evict':
                return self._evict(info, self._json(body), dry_run)
        raise ApiError(405, 'MethodNotAllowed', '%s is not supported by the k8ssim API server' % verb, {})

    @staticmethod
    def _json(body):
        if not body:
            raise bad_request('the body of the request was empty')
        try:
            return json.loads(body.decode('utf-8'))
        except ValueError as exc:
            raise bad_request("couldn't get version/kind; json parse error: %s" % exc)

    def _existing(self, res, namespace, name):
        obj = self.store.get(res.plural, namespace, name)
        if obj is None:
            raise not_found(res, name)
        return obj

    def _list(self, res, namespace, query):
        try:
            labels = parse_label_selector(query.get('labelSelector', [''])[0])
            fields = parse_field_selector(query.get('fieldSelector', [''])[0], res.plural)
        except SelectorError as exc:
            raise bad_request(str(exc))
        items = [_public(o, with_type=False) for o in self.store.items(res.plural, namespace)
                 if match_requirements(labels, o['metadata'].get('labels')) and match_fields(fields, o)]
        return {'kind': res.kind + 'List', 'apiVersion': res.api_version, 'metadata': {'resourceVersion': str(self.store.rv)}, 'items': items}

    def _check_namespace(self, res, namespace, obj):
        if not res.namespaced:
            return
        meta = obj.setdefault('metadata', {})
        if meta.get('namespace') and meta['namespace'] != namespace:
            raise bad_request('the namespace of the provided object does not match the namespace sent on the request')
        meta['namespace'] = namespace
        if self.store.get('namespaces', None, namespace) is None:
            raise not_found(BY_PLURAL['namespaces'], namespace)

    @staticmethod
    def _check_type(res, obj):
        if not isinstance(obj, dict):
            raise bad_request('json: cannot unmarshal %s into Go value of type %s' % (type(obj).__name__, res.kind))
        if obj.get('apiVersion') not in (None, res.api_version) or obj.get('kind') not in (None, res.kind):
            raise bad_request('the API version in the data (%s) does not match the expected API version (%s)'
                              % (obj.get('apiVersion'), res.api_version))

    def _create(self, res, namespace, obj, dry_run):
        self._check_type(res, obj)
        meta = obj.setdefault('metadata', {})
        if not meta.get('name'):
            if not meta.get('generateName'):
                raise invalid(res, '', 'metadata.name', '', 'name or generateName is required')
            meta['name'] = meta['generateName'] + secrets.token_hex(3)[:5]
        self._check_namespace(res, namespace, obj)
        if self.store.get(res.plural, namespace, meta['name']) is not None:
            raise already_exists(res, meta['name'])
        self.store.validate(res, obj, meta['name'])
        if res.plural == 'pods':
            self.sim.complete_pod(obj)
        elif res.plural == 'poddisruptionbudgets':
            obj['status'] = {'currentHealthy': 0, 'desiredHealthy': 0, 'disruptionsAllowed': 0, 'expectedPods': 0}
        elif res.plural == 'daemonsets':
            obj['status'] = {'currentNumberScheduled': 0, 'desiredNumberScheduled': 0, 'numberMisscheduled': 0, 'numberReady': 0}
        elif res.plural == 'replicasets':
            obj['status'] = {'replicas': 0}
        elif res.plural == 'namespaces':
            obj['status'] = {'phase': 'Active'}
        if dry_run:
            return 201, _public(obj)
        self.store.add(res.plural, obj)
        if res.plural == 'pods':
            self.sim.register_pod(obj, 'bare')
        return 201, _public(obj)

    def _store_update(self, res, info, current, new, dry_run, subresource):
        """Shared tail of PUT and PATCH: conflict check, status handling, validation, write."""
        name = info['name']
        meta = new.get('metadata')
        if not isinstance(meta, dict):
            raise invalid(res, name, 'metadata', meta, 'must be an object')
        if meta.get('name') not in (None, name):
            raise bad_request('the name of the object (%s) does not match the name on the URL (%s)' % (meta.get('name'), name))
        if res.namespaced and meta.get('namespace') not in (None, '', info['namespace']):
            raise bad_request('the namespace of the provided object does not match the namespace sent on the request')
        if meta.get('resourceVersion') and meta['resourceVersion'] != current['metadata']['resourceVersion']:
            raise conflict(res, name)
        if meta.get('uid') and meta['uid'] != current['metadata']['uid']:
            raise conflict(res, name)
        if subresource == 'status':
            merged = json.loads(json.dumps(current))
            if 'status' in new:
                merged['status'] = new['status']
            new = merged
        else:
            for key in ('uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'):
                if key in current['metadata']:
                    meta[key] = current['metadata'][key]
                else:
                    meta.pop(key, None)
            meta['name'] = name
            if res.namespaced:
                meta['namespace'] = info['namespace']
            if res.status:
                new['status'] = json.loads(json.dumps(current.get('status')))
        new['apiVersion'] = res.api_version
        new['kind'] = res.kind
        if res.plural == 'nodes':
            spec = new.setdefault('spec', {})
            if spec.get('unschedulable') is False:
                del spec['unschedulable']
        self.store.validate(res, new, name)
        if dry_run:
            return 200, _public(new)
        self.store.put(res.plural, new, current)
        return 200, _public(new)

    def _update(self, res, info, obj, dry_run):
        self._check_type(res, obj)
        current = self._existing(res, info['namespace'], info['name'])
        return self._store_update(res, info, current, obj, dry_run, info['subresource'])

    def _patch(self, res, info, body, content_type, dry_run):
        current = self._existing(res, info['namespace'], info['name'])
        if content_type not in PATCH_TYPES:
            raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: '
                           'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, '
                           'application/strategic-merge-patch+json', {})
        try:
            patch = json.loads(body.decode('utf-8')) if body else None
        except ValueError as exc:
            raise bad_request('error decoding patch: %s' % exc)
        base = _public(current)
        try:
            if content_type == 'application/json-patch+json':
                new = json_patch(base, patch)
            elif content_type == 'application/merge-patch+json':
                if not isinstance(patch, dict):
                    raise PatchError('json: cannot unmarshal %s into Go value of type map[string]interface {}' % type(patch).__name__, 400)
                new = merge_patch(base, patch)
            else:
                new = strategic_merge_patch(base, patch)
        except PatchError as exc:
            if exc.code == 400:
                raise bad_request(str(exc))
            raise ApiError(422, 'Invalid', str(exc), {})
        if not isinstance(new, dict):
            raise ApiError(422, 'Invalid', 'the patch result is not an object', {})
        if new.get('metadata', {}).get('name') != info['name']:
            raise invalid(res, info['name'], 'metadata.name', new.get('metadata', {}).get('name'), 'field is immutable')
        return self._store_update(res, info, current, new, dry_run, info['subresource'])

    def _delete(self, res, info, query, body, dry_run):
        current = self._existing(res, info['namespace'], info['name'])
        options = {}
        if body:
            try:
                options = json.loads(body.decode('utf-8')) or {}
            except ValueError as exc:
                raise bad_request('error decoding DeleteOptions: %s' % exc)
        grace = options.get('gracePeriodSeconds')
        if query.get('gracePeriodSeconds'):
            try:
                grace = int(query['gracePeriodSeconds'][0])
            except ValueError:
                raise bad_request('invalid gracePeriodSeconds')
        pre = options.get('preconditions') or {}
        if pre.get('uid') and pre['uid'] != current['metadata']['uid']:
            raise ApiError(409, 'Conflict', 'Precondition failed: UID in precondition: %s, UID in object meta: %s'
                           % (pre['uid'], current['metadata']['uid']), {'name': info['name'], 'kind': res.plural})
        if pre.get('resourceVersion') and pre['resourceVersion'] != current['metadata']['resourceVersion']:
            raise ApiError(409, 'Conflict', 'Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s'
                           % (pre['resourceVersion'], current['metadata']['resourceVersion']), {'name': info['name'], 'kind': res.plural})
        details = {'name': info['name'], 'kind': res.plural, 'uid': current['metadata']['uid']}
        if res.group:
            details['group'] = res.group
        if res.plural == 'pods':
            gone = self.sim.delete_pod(current, grace, dry_run)
            if gone or dry_run:
                return 200, _public(current)
            return 200, _public(self.store.get('pods', info['namespace'], info['name']))
        if dry_run:
            return 200, _success(details)
        self.store.remove(res.plural, info['namespace'], info['name'])
        propagation = options.get('propagationPolicy') or (query.get('propagationPolicy') or ['Background'])[0]
        if res.plural in ('replicasets', 'daemonsets') and propagation != 'Orphan':
            for pod in self.store.items('pods', info['namespace']):
                if any(r.get('uid') == current['metadata']['uid'] for r in pod['metadata'].get('ownerReferences') or []):
                    self.sim.delete_pod(pod)
        return 200, _success(details)

    def _evict(self, info, body, dry_run):
        if not isinstance(body, dict):
            raise bad_request('json: cannot unmarshal into Go value of type policy.Eviction')
        if body.get('kind') not in (None, 'Eviction') or body.get('apiVersion') not in (None, 'policy/v1', 'policy/v1beta1', 'v1'):
            raise bad_request('the API version in the data (%s) does not match the expected API version (policy/v1)' % body.get('apiVersion'))
        meta = body.get('metadata') or {}
        if meta.get('name') and meta['name'] != info['name']:
            raise bad_request('name in URL does not match name in Eviction object')
        if meta.get('namespace') and meta['namespace'] != info['namespace']:
            raise bad_request('the namespace of the provided object does not match the namespace sent on the request')
        options = body.get('deleteOptions') or {}
        dry_run = dry_run or bool(options.get('dryRun'))
        self.sim.evict(info['namespace'], info['name'], options.get('gracePeriodSeconds'), dry_run)
        return 201, _success(code=201)

    # ------------------------------------------------------------------ control API
    def control(self, method, path, query, body):
        parts = [p for p in path.split('/') if p][1:]
        if parts == ['state'] and method == 'GET':
            with self.store.lock:
                objects = dict((r.plural, [_public(o) for o in self.store.items(r.plural)]) for r in RESOURCES)
                internal = json.loads(json.dumps(self.sim.internal))
                return 200, {'resourceVersion': str(self.store.rv), 'objects': objects, 'pods_internal': internal,
                             'plugin_log': list(self.sim.plugin_log), 'faults': self.faults.list(), 'url': self.url,
                             'pdb_low_water': json.loads(json.dumps(self.sim.pdb_low_water)),
                             'pod_resources_sockets': dict((n, srv.socket) for n, srv in self.sim.pod_resources.items())}
        if parts == ['pdb-low-water'] and method == 'DELETE':
            with self.store.lock:
                self.sim.pdb_low_water.clear()
            return 200, {}
        if parts == ['audit'] and method == 'GET':
            since = int(query.get('since', ['0'])[0])
            with self.audit.lock:
                return 200, {'entries': [e for e in self.audit.entries if e['seq'] > since]}
        if parts == ['audit'] and method == 'DELETE':
            self.audit.clear()
            return 200, {'cleared': True}
        if parts == ['plugin'] and method == 'GET':
            with self.store.lock:
                return 200, {'starts': list(self.sim.plugin_log)}
        if parts == ['faults'] and method == 'GET':
            return 200, {'faults': self.faults.list()}
        if parts == ['faults'] and method == 'POST':
            return 201, self.faults.add(self._json(body))
        if parts == ['faults'] and method == 'DELETE':
            self.faults.clear()
            return 200, {'cleared': True}
        if len(parts) == 2 and parts[0] == 'faults' and method == 'DELETE':
            self.faults.clear(int(parts[1]))
            return 200, {'cleared': int(parts[1])}
        if parts[:1] == ['dra-plugin'] and len(parts) <= 2:
            return self._dra_plugin_fault(method, parts[1] if len(parts) == 2 else None, body)
        if parts == ['shutdown'] and method == 'POST':
            threading.Timer(0.1, self.stopping.set).start()  # after this answer went out
            return 200, {'stopping': True}
        raise ApiError(404, 'NotFound', 'unknown k8ssim control path %s %s' % (method, path), {})

    def _dra_plugin_fault(self, method, node, body):
        """A node's DRA kubelet plugin fails: PUT sets {start_error, restart_delay}, DELETE clears (all nodes without one)."""
        faults = self.sim.dra_plugin_faults
        if method == 'GET' and node is None:
            with self.store.lock:
                return 200, {'faults': json.loads(json.dumps(faults))}
        if method == 'DELETE':
            with self.store.lock:
                if node is None:
                    faults.clear()
                else:
                    faults.pop(node, None)
            return 200, {'cleared': node or 'all'}
        if method == 'PUT' and node is not None:
            rule = self._json(body)
            unknown = sorted(set(rule) - set(('start_error', 'restart_delay')))
            delay = rule.get('restart_delay')
            if unknown or (rule.get('start_error') is not None and not isinstance(rule['start_error'], str)) or (
                    delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0)):
                raise ApiError(400, 'BadRequest', 'a DRA plugin fault is {start_error: message, restart_delay: seconds >= 0}, got %r'
                               % (rule,), {})
            if node not in self.sim.nodes_cfg:
                raise ApiError(404, 'NotFound', 'no node %s in the description' % node, {})
            with self.store.lock:
                faults[node] = dict((k, v) for k, v in rule.items() if v is not None)
            return 200, {'node': node, 'fault': faults[node]}
        raise ApiError(405, 'MethodNotAllowed', 'k8ssim control path /_sim/dra-plugin: GET, PUT /<node> or DELETE [/<node>]', {})


class _TlsServer(ThreadingHTTPServer):
    """HTTPS: the handshake happens in the request's own thread (Handler.setup), so a stalled client holds up no other."""

    context = None

    def get_request(self):
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as the kubernetes client's urllib3 pool expects."""

    protocol_version = 'HTTP/1.1'
    # The headers and the body go out in two writes: with Nagle's algorithm the body waits for the client's delayed ACK
    # (40 ms on Linux) on a kept-alive connection. The real API server (Go) sets TCP_NODELAY too.
    disable_nagle_algorithm = True

    def setup(self):
        # A client that does not trust the server's CA, or has no certificate where one is required, fails here, as
        # against a real API server: the connection closes during the handshake, with nothing logged as an error.
        self.tls_failed = False
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.tls_failed = True
            self.request.settimeout(None)
        super().setup()

    def handle(self):
        if not self.tls_failed:
            super().handle()

    def version_string(self):
        return 'k8ssim'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        del format, args

    def do_GET(self):
        self._handle('GET')

    def do_POST(self):
        self._handle('POST')

    def do_PUT(self):
        self._handle('PUT')

    def do_PATCH(self):
        self._handle('PATCH')

    def do_DELETE(self):
        self._handle('DELETE')

    def _send(self, code, body, extra_headers=None):
        if isinstance(body, (dict, list)):
            data = json.dumps(body, separators=(',', ':')).encode('utf-8')
            ctype = 'application/json'
        else:
            data = str(body).encode('utf-8')
            ctype = 'text/plain; charset=utf-8'
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Cache-Control', 'no-cache, private')
        self.send_header('Audit-Id', str(uuid.uuid4()))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        sim = self.server.sim
        started = time.time()
        split = urlsplit(self.path)
        path = split.path.rstrip('/') or '/'
        query = parse_qs(split.query)
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        content_type = (self.headers.get('Content-Type') or '').split(';')[0].strip().lower()
        auth = self.headers.get('Authorization') or ''
        token = auth[7:].strip() if auth.startswith('Bearer ') else None
        user = sim.tokens.get(token) if token else None
        # A verified client certificate names its user (CN), and is taken before a token, as the real server's x509
        # authenticator comes before its token authenticators (only the server's CA signs, and only for its users).
        cert_user = peer_user(self.connection) if sim.pki else None
        if cert_user is not None:
            token, user = None, cert_user
        entry = {'time': now_iso(started), 'ts': started, 'method': method, 'path': path, 'query': split.query, 'user': user,
                 'verb': None, 'resource': None, 'subresource': None, 'namespace': None, 'name': None}
        # Requests over one keep-alive connection, so from one client process, share the client's port.
        entry['client_port'] = self.client_address[1]
        headers = {}
        try:
            if user is None and token is None and sim.anonymous:
                user = entry['user'] = 'system:anonymous'
            if (token is not None and user is None) or (token is None and user is None and path not in PUBLIC_PATHS):
                raise ApiError(401, 'Unauthorized', 'Unauthorized')
            bound = sim.rbac.bound(user) if sim.rbac and user else None
            if bound is not None:
                entry['username'] = bound.name
            if path.startswith('/_sim'):
                if bound is not None:
                    # The control API is not Kubernetes: no RBAC rule can grant it.
                    raise forbidden(bound, request_attributes(method, path, query, None))
                code, payload = sim.control(method, path, query, body)
                self._send(code, payload)
                return
            info = sim.route(method, path, query)
            for key in ('verb', 'resource', 'subresource', 'namespace', 'name'):
                entry[key] = info[key]
            if info['discovery'] is not None:
                entry['verb'] = 'get'
                entry['resource'] = ''
            if bound is not None:
                self._authorize(sim, bound, entry, request_attributes(method, path, query, info))
            for rule in sim.faults.match(entry) if info['discovery'] is None else []:
                entry['fault'] = rule['id']
                if rule['delay_ms']:
                    time.sleep(rule['delay_ms'] / 1000.0)
                if rule['drop']:
                    raise DropConnection()
                if rule['code']:
                    code = int(rule['code'])
                    message = rule['message'] or ('Too many requests, please try again later.' if code == 429 else
                                                  'Internal error occurred: injected fault (k8ssim)' if code == 500 else
                                                  'injected fault (k8ssim)')
                    if code == 429:
                        headers['Retry-After'] = '1'
                    raise ApiError(code, REASONS.get(code, 'Unknown'), message, {})
            if info['discovery'] is not None:
                code, payload = sim.discovery(info['discovery'])
            elif info['verb'] in ('watch', 'deletecollection'):
                raise ApiError(405, 'MethodNotAllowed', '%s is not supported by the k8ssim API server' % info['verb'], {})
            else:
                code, payload = sim.execute(info, query, body, content_type)
        except DropConnection:
            entry['code'] = 0
            entry['dropped'] = True
            self._audit(sim, entry, path, started)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        except ApiError as exc:
            code, payload = exc.code, exc.status()
        except Exception as exc:  # pylint: disable=broad-except
            traceback.print_exc()
            code, payload = 500, ApiError(500, 'InternalError', 'Internal error occurred: %s' % exc, {}).status()
        entry['code'] = code
        self._audit(sim, entry, path, started)
        self._send(code, payload, headers)

    @staticmethod
    def _authorize(sim, user, entry, attrs):
        """RBAC decision for a bound token, recorded in the audit entry; raises the 403 of a denial."""
        allowed, reason, grant = sim.rbac.authorize(user, attrs)
        resource = attrs['resource'] + ('/' + attrs['subresource'] if attrs['subresource'] else '')
        entry['authz'] = {'decision': 'allow' if allowed else 'forbid', 'reason': reason, 'verb': attrs['verb'],
                          'apiGroup': attrs['api_group'], 'resource': resource, 'namespace': attrs['namespace'],
                          'name': attrs['name'], 'path': None if attrs['resource_request'] else attrs['path'], 'grant': grant}
        if not allowed:
            raise forbidden(user, attrs, reason)

    @staticmethod
    def _audit(sim, entry, path, started):
        if path.startswith('/_sim'):
            return
        entry['latency_ms'] = round((time.time() - started) * 1000, 3)
        sim.audit.record(entry)


def write_client_files(state_dir, url, token, pid, pki=None, client_certs=None):
    """server.json and a kubeconfig for the admin: its token, and over HTTPS the CA (and its certificate where required)."""
    info = {'url': url, 'pid': pid, 'token': token, 'kubeconfig': os.path.join(state_dir, 'kubeconfig')}
    cluster, user = {'server': url}, {'token': token}
    if pki:
        info.update(ca_cert=pki['ca'], pki=os.path.dirname(pki['ca']), client_certs=client_certs)
        cluster['certificate-authority-data'] = _base64_file(pki['ca'])
        if client_certs == 'required':
            user.update(_client_cert_data(info['pki'], 'admin'))
    kubeconfig = {'apiVersion': 'v1', 'kind': 'Config', 'preferences': {},
                  'clusters': [{'name': 'k8ssim', 'cluster': cluster}],
                  'users': [{'name': 'k8ssim-admin', 'user': user}],
                  'contexts': [{'name': 'k8ssim', 'context': {'cluster': 'k8ssim', 'user': 'k8ssim-admin', 'namespace': 'default'}}],
                  'current-context': 'k8ssim'}
    for name, content in (('kubeconfig', yaml.safe_dump(kubeconfig, default_flow_style=False)), ('server.json', json.dumps(info, indent=2))):
        tmp = os.path.join(state_dir, name + '.tmp')
        with open(tmp, 'w') as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(state_dir, name))
    return info


def _base64_file(path):
    with open(path, 'rb') as handle:
        return base64.b64encode(handle.read()).decode('ascii')


def _client_cert_data(pki_dir, name):
    """A kubeconfig user's client certificate and key, inline, for the user ``name``."""
    return {'client-certificate-data': _base64_file(os.path.join(pki_dir, name + '.crt')),
            'client-key-data': _base64_file(os.path.join(pki_dir, name + '.key'))}


def load_description(path):
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


def main(argv=None):
    parser = argparse.ArgumentParser(description='k8ssim API server (foreground)')
    parser.add_argument('--description', required=True)
    parser.add_argument('--state-dir', required=True)
    parser.add_argument('--token', default=None)
    parser.add_argument('--port', type=int, default=0)
    args = parser.parse_args(argv)
    state_dir = os.path.abspath(args.state_dir)
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir)
    description = load_description(args.description)
    token = args.token or secrets.token_hex(16)
    tokens = {'admin': token}
    tokens.update(description.get('tokens') or {})
    server = SimServer(description, state_dir, tokens, args.port, os.path.dirname(os.path.abspath(args.description)))
    try:
        server.start()
    except BaseException:
        server.sim.shutdown()  # plugin processes and kubelet sockets of a half-started cluster
        raise
    tls = description.get('tls')
    write_client_files(state_dir, server.url, token, os.getpid(), server.pki,
                       ((tls if isinstance(tls, dict) else {}).get('client_certs', 'optional')) if tls else None)

    def _terminate(signum, frame):
        del signum, frame
        server.stopping.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    while not server.stopping.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
