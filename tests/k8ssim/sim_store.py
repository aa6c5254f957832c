# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Object store of the simulated API server: the resource table, one global
resourceVersion counter, Status errors and small helpers (timestamps, quantities)."""

from __future__ import absolute_import, division, print_function

import copy
import datetime
import json
import re
import threading
import uuid


class Resource(object):
    """One REST resource the simulator serves."""

    def __init__(self, group, version, plural, kind, namespaced, short_names=(), status=False, generation=False,
                 verbs=('create', 'delete', 'get', 'list', 'patch', 'update')):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.status = status
        self.generation = generation
        self.verbs = list(verbs)

    @property
    def api_version(self):
        return '%s/%s' % (self.group, self.version) if self.group else self.version

    @property
    def singular(self):
        return self.kind.lower()


RESOURCES = [
    Resource('', 'v1', 'namespaces', 'Namespace', False, ('ns',), status=True, verbs=('create', 'delete', 'get', 'list', 'patch', 'update')),
    Resource('', 'v1', 'nodes', 'Node', False, ('no',), status=True),
    Resource('', 'v1', 'pods', 'Pod', True, ('po',), status=True),
    Resource('', 'v1', 'configmaps', 'ConfigMap', True, ('cm',)),
    # Stored as written: the capacity check reads spec.hard (the server keeps no status.used).
    Resource('', 'v1', 'resourcequotas', 'ResourceQuota', True, ('quota',), status=True),
    Resource('apps', 'v1', 'daemonsets', 'DaemonSet', True, ('ds',), status=True, generation=True),
    Resource('apps', 'v1', 'replicasets', 'ReplicaSet', True, ('rs',), status=True, generation=True),
    Resource('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', True, ('pdb',), status=True, generation=True),
    # The rollout's lock (and what leader election uses); the server keeps whatever spec a client writes, as the real one.
    Resource('coordination.k8s.io', 'v1', 'leases', 'Lease', True),
    # Dynamic Resource Allocation (GA in 1.34): NVIDIA's DRA kubelet plugins publish slices, the scheduler allocates claims.
    Resource('resource.k8s.io', 'v1', 'deviceclasses', 'DeviceClass', False, generation=True),
    Resource('resource.k8s.io', 'v1', 'resourceslices', 'ResourceSlice', False, generation=True),
    Resource('resource.k8s.io', 'v1', 'resourceclaims', 'ResourceClaim', True, status=True, generation=True),
    Resource('resource.k8s.io', 'v1', 'resourceclaimtemplates', 'ResourceClaimTemplate', True, generation=True),
]
BY_PLURAL = dict((r.plural, r) for r in RESOURCES)
GROUPS = {'apps': 'v1', 'policy': 'v1', 'coordination.k8s.io': 'v1', 'resource.k8s.io': 'v1'}
# A DRA device name (resource.k8s.io/v1 validation: a DNS label).
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')


def find_resource(group, version, plural):
    res = BY_PLURAL.get(plural)
    if res is None or res.group != group or res.version != version:
        return None
    return res


def now_iso(when=None):
    stamp = datetime.datetime.utcfromtimestamp(when) if when is not None else datetime.datetime.utcnow()
    return stamp.strftime('%Y-%m-%dT%H:%M:%SZ')


_SUFFIX = {'': 1, 'm': 0.001, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18,
           'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60}


def parse_quantity(value):
    """Kubernetes resource.Quantity (decimal, binary and milli suffixes) as a float."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = re.match(r'^\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$', str(value))
    if not match or match.group(2) not in _SUFFIX:
        raise ValueError('quantities must match the regular expression '
                         '\'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'')
    return float(match.group(1)) * _SUFFIX[match.group(2)]


class ApiError(Exception):
    """An error the API answers with a metav1.Status body."""

    def __init__(self, code, reason, message, details=None):
        super(ApiError, self).__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                'message': self.message, 'reason': self.reason, 'code': self.code}
        if self.details is not None:
            body['details'] = self.details
        return body


def _details(res, name):
    details = {'name': name, 'kind': res.plural}
    if res.group:
        details['group'] = res.group
    return details


def _qualified(res):
    return '%s.%s' % (res.plural, res.group) if res.group else res.plural


def not_found(res, name):
    return ApiError(404, 'NotFound', '%s "%s" not found' % (_qualified(res), name), _details(res, name))


def conflict(res, name):
    return ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your '
                    'changes to the latest version and try again' % (_qualified(res), name), _details(res, name))


def already_exists(res, name):
    return ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (_qualified(res), name), _details(res, name))


def invalid(res, name, field, value, detail):
    details = _details(res, name)
    details['kind'] = res.kind
    details['causes'] = [{'reason': 'FieldValueInvalid', 'message': 'Invalid value: %s: %s' % (json.dumps(value), detail), 'field': field}]
    return ApiError(422, 'Invalid', '%s "%s" is invalid: %s: Invalid value: %s: %s' % (res.kind, name, field, json.dumps(value), detail),
                    details)


def bad_request(message):
    return ApiError(400, 'BadRequest', message)


_LABEL_VALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
_LABEL_NAME = re.compile(r'^([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')


class Store(object):
    """All objects, by plural then (namespace, name).  Callers hold ``lock``."""

    def __init__(self):
        self.lock = threading.RLock()
        self.rv = 1
        self.objects = dict((r.plural, {}) for r in RESOURCES)

    def bump(self):
        self.rv += 1
        return str(self.rv)

    def get(self, plural, namespace, name):
        return self.objects[plural].get((namespace or '', name))

    def items(self, plural, namespace=None):
        found = [obj for (ns, dummy), obj in self.objects[plural].items() if namespace is None or ns == namespace]
        return sorted(found, key=lambda o: (o['metadata'].get('namespace', ''), o['metadata']['name']))

    def add(self, plural, obj, when=None):
        """Insert a new object (metadata completed here); returns it."""
        res = BY_PLURAL[plural]
        meta = obj.setdefault('metadata', {})
        if res.namespaced:
            meta.setdefault('namespace', 'default')
        else:
            meta.pop('namespace', None)
        meta['uid'] = str(uuid.uuid4())
        meta['creationTimestamp'] = now_iso(when)
        for key in ('deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'):
            meta.pop(key, None)
        if res.generation:
            meta['generation'] = 1
        obj['apiVersion'] = res.api_version
        obj['kind'] = res.kind
        meta['resourceVersion'] = self.bump()
        self.objects[plural][(meta.get('namespace', ''), meta['name'])] = obj
        return obj

    def put(self, plural, obj, old=None):
        """Store a changed object (new resourceVersion; generation +1 when spec changed)."""
        res = BY_PLURAL[plural]
        meta = obj['metadata']
        if old is None:
            old = self.get(plural, meta.get('namespace'), meta['name'])
        if res.generation and old is not None:
            meta['generation'] = old['metadata'].get('generation', 1) + (1 if old.get('spec') != obj.get('spec') else 0)
        meta['resourceVersion'] = self.bump()
        self.objects[plural][(meta.get('namespace', ''), meta['name'])] = obj
        return obj

    def remove(self, plural, namespace, name):
        self.bump()
        return self.objects[plural].pop((namespace or '', name), None)

    @staticmethod
    def copy(obj):
        return copy.deepcopy(obj)

    @staticmethod
    def _validate_slice(res, obj, name):
        """The parts of ResourceSlice validation a publisher can get wrong: driver, pool, node, unique DNS-label devices."""
        spec = obj.get('spec') or {}
        if not spec.get('driver'):
            raise invalid(res, name, 'spec.driver', '', 'Required value')
        pool = spec.get('pool') or {}
        if not pool.get('name'):
            raise invalid(res, name, 'spec.pool.name', '', 'Required value')
        if not isinstance(pool.get('resourceSliceCount'), int) or pool['resourceSliceCount'] < 1:
            raise invalid(res, name, 'spec.pool.resourceSliceCount', pool.get('resourceSliceCount'), 'must be greater than zero')
        if sum(1 for key in ('nodeName', 'nodeSelector', 'allNodes', 'perDeviceNodeSelection') if spec.get(key)) != 1:
            raise invalid(res, name, 'spec', '', 'exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required')
        seen = set()
        for index, device in enumerate(spec.get('devices') or []):
            device_name = (device or {}).get('name') or ''
            if not _DNS_LABEL.match(device_name) or len(device_name) > 63:
                raise invalid(res, name, 'spec.devices[%d].name' % index, device_name, "a lowercase RFC 1123 label must consist of lower "
                              "case alphanumeric characters or '-', and must start and end with an alphanumeric character")
            if device_name in seen:
                raise ApiError(422, 'Invalid', '%s "%s" is invalid: spec.devices[%d].name: Duplicate value: %s'
                               % (res.kind, name, index, json.dumps(device_name)), {'name': name, 'kind': res.kind})
            seen.add(device_name)

    def validate(self, res, obj, name):
        """The subset of API validation the simulator does (raises ApiError 422)."""
        meta = obj.get('metadata')
        if not isinstance(meta, dict):
            raise invalid(res, name, 'metadata', meta, 'must be an object')
        for field in ('labels', 'annotations'):
            values = meta.get(field)
            if values is None:
                continue
            if not isinstance(values, dict):
                raise invalid(res, name, 'metadata.%s' % field, values, 'must be a map of strings')
            for key, value in values.items():
                if not isinstance(value, str):
                    raise invalid(res, name, 'metadata.%s' % field, value, 'must be a string')
                if not _LABEL_NAME.match(key):
                    raise invalid(res, name, 'metadata.%s' % field, key, 'name part must consist of alphanumeric characters, '
                                  '\'-\', \'_\' or \'.\', and must start and end with an alphanumeric character')
                if field == 'labels' and (len(value) > 63 or not _LABEL_VALUE.match(value)):
                    raise invalid(res, name, 'metadata.labels', value, 'a valid label must be an empty string or consist of '
                                  'alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character')
        if res.plural == 'nodes':
            spec = obj.get('spec') or {}
            if 'unschedulable' in spec and not isinstance(spec['unschedulable'], bool):
                raise invalid(res, name, 'spec.unschedulable', spec['unschedulable'], 'must be a boolean')
            for taint in spec.get('taints') or []:
                if not isinstance(taint, dict) or taint.get('effect') not in ('NoSchedule', 'PreferNoSchedule', 'NoExecute'):
                    raise invalid(res, name, 'spec.taints[0].effect', taint, 'Unsupported value')
        if res.plural == 'configmaps':
            for key, value in (obj.get('data') or {}).items():
                if not isinstance(value, str):
                    raise invalid(res, name, 'data[%s]' % key, value, 'must be a string')
        if res.plural == 'resourceslices':
            self._validate_slice(res, obj, name)
        if res.plural in ('resourceclaims', 'resourceclaimtemplates'):
            spec = (obj.get('spec') or {}) if res.plural == 'resourceclaims' else ((obj.get('spec') or {}).get('spec') or {})
            field = 'spec.devices.requests' if res.plural == 'resourceclaims' else 'spec.spec.devices.requests'
            for index, request in enumerate(((spec.get('devices') or {}).get('requests')) or []):
                if not isinstance(request, dict) or not request.get('name'):
                    raise invalid(res, name, '%s[%d].name' % (field, index), None, 'Required value')
                if ('exactly' in request) == ('firstAvailable' in request):
                    raise invalid(res, name, '%s[%d]' % (field, index), request.get('name'), 'exactly one of `exactly` or `firstAvailable` is required')
                if 'exactly' in request and not (request['exactly'] or {}).get('deviceClassName'):
                    raise invalid(res, name, '%s[%d].exactly.deviceClassName' % (field, index), '', 'Required value')
        if res.plural in ('daemonsets', 'replicasets'):
            replicas = (obj.get('spec') or {}).get('replicas')
            if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
                raise invalid(res, name, 'spec.replicas', replicas, 'must be greater than or equal to 0')
