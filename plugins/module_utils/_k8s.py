# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The Kubernetes client: the only code in the collection that imports ``kubernetes``.

Connection options follow kubernetes.core's names and environment variables (``K8S_AUTH_*``,
which AWX's Kubernetes bearer-token credential injects), documented once in the
``gpufleet.mig.k8s_auth`` doc fragment and defined once here in :data:`AUTH_ARG_SPEC`.

Requests go through the client's ``ApiClient`` with plain JSON bodies and answers, so objects are the
dicts the API server sent.  Reads and idempotent writes are retried on transient failures (connection
errors, 502/503/504) with bounded exponential backoff.  409 Conflicts are retried by :meth:`Kube.update_node`, which
re-reads the node and re-applies the change.  Error messages carry the API's own message and
never the token.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
import traceback
from urllib.parse import quote

from ansible.module_utils.basic import env_fallback

# Only the client's plumbing: the configuration, the kubeconfig and in-cluster loaders, ApiClient and its REST layer.
# The generated API classes (CoreV1Api & co.) and their pydantic models are never used: with kubernetes 37, loading
# them and deserialising answers into them took about 0.6 s of CPU per module run, twice all the rest (issue 8).
try:
    from kubernetes.client.api_client import ApiClient
    from kubernetes.client.configuration import Configuration
    from kubernetes.client.rest import ApiException
    from kubernetes.config import ConfigException, load_incluster_config, load_kube_config
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

    class ApiException(Exception):
        """Stand-in so that except clauses stay valid when the library is missing."""

    class Urllib3Error(Exception):
        """Stand-in so that except clauses stay valid when the library is missing."""
else:
    KUBERNETES_IMPORT_ERROR = None

__all__ = (
    'AUTH_ARG_SPEC',
    'config_key_problem',
    'label_value_problem',
    'merge_patched',
    'metadata_patch',
    'metadata_problems',
    'name_problem',
    'pod_state',
    'KUBERNETES_IMPORT_ERROR',
    'Kube',
    'KubeError',
)

AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type='path', fallback=(env_fallback, ['K8S_AUTH_KUBECONFIG'])),
    context=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_CONTEXT'])),
    host=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_HOST'])),
    api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['K8S_AUTH_API_KEY'])),
    validate_certs=dict(type='bool', aliases=['verify_ssl'], fallback=(env_fallback, ['K8S_AUTH_VERIFY_SSL'])),
    ca_cert=dict(type='path', aliases=['ssl_ca_cert'], fallback=(env_fallback, ['K8S_AUTH_SSL_CA_CERT'])),
)

TRANSIENT_STATUS = (502, 503, 504)


def pod_state(pod, message=True):
    """A pod's state in a few words, for a message about a plugin pod: a waiting container's reason (CrashLoopBackOff)
    and, with ``message``, its message; else the pod's phase."""
    status = pod.get('status') or {}
    for container in status.get('containerStatuses') or []:
        waiting = (container.get('state') or {}).get('waiting')
        if waiting and waiting.get('reason'):
            return '%s: %s' % (waiting['reason'], waiting.get('message') or '') if message else waiting['reason']
    return status.get('phase') or 'unknown'


# Seconds to connect and to wait for an answer, per request: without them an API server that accepts the
# connection but never answers (stopped, overloaded, a dead load balancer) would hang the task forever.
REQUEST_TIMEOUT = (10, 60)

# Kubernetes object-metadata rules (apimachinery validation): a key is an optional DNS-subdomain prefix and a
# name of at most 63 characters; a label value is empty or a name-like string of at most 63 characters.
# \Z, not $: '$' also matches before a trailing newline, which Kubernetes refuses.
_NAME = re.compile(r'^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z')
_PREFIX = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z')
# Object names: nodes and ConfigMaps are DNS subdomains (at most 253), namespaces DNS labels (at most 63).
_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z')
# A ConfigMap data key (IsConfigMapKey).
_CONFIG_KEY = re.compile(r'^[-._a-zA-Z0-9]+\Z')


def _key_problem(kind, key):
    prefix, slash, name = key.rpartition('/')
    if slash and (not prefix or len(prefix) > 253 or not _PREFIX.match(prefix)):
        return '%s key %r: the prefix %r must be a lower-case DNS subdomain of at most 253 characters' % (kind, key, prefix)
    if not name or len(name) > 63 or not _NAME.match(name):
        return ('%s key %r: the name %r must be 1-63 characters of letters, digits, "-", "_" or ".", starting and ending '
                'with a letter or digit' % (kind, key, name))
    return None


def name_problem(option, value, kind='subdomain'):
    """The problem with an object name given in ``option`` (``kind`` 'subdomain' or 'label'), or None.

    Checked before any request: an empty node name would turn a GET of one node into a list of all of them.
    """
    if kind == 'label':
        if isinstance(value, str) and len(value) <= 63 and _LABEL.match(value):
            return None
        return ('%s: %r is not a valid namespace name: it must be 1-63 lower-case letters, digits or "-", starting and ending '
                'with a letter or digit' % (option, value))
    if isinstance(value, str) and len(value) <= 253 and _PREFIX.match(value):
        return None
    return ('%s: %r is not a valid Kubernetes object name: it must be a lower-case DNS subdomain of at most 253 characters '
            '(letters, digits, "-" and ".", starting and ending with a letter or digit)' % (option, value))


def config_key_problem(option, value):
    """The problem with a ConfigMap data key, or None."""
    if isinstance(value, str) and len(value) <= 253 and _CONFIG_KEY.match(value) and value not in ('.', '..') and not value.startswith('..'):
        return None
    return ('%s: %r is not a valid ConfigMap key: it must be 1-253 characters of letters, digits, "-", "_" or ".", and not '
            'start with ".."' % (option, value))


def label_value_problem(option, value):
    """The problem with a non-empty label value, or None."""
    if isinstance(value, str) and 0 < len(value) <= 63 and _NAME.match(value):
        return None
    return ('%s: %r must be 1-63 characters of letters, digits, "-", "_" or ".", starting and ending with a letter or digit '
            '(it becomes the value of a node label)' % (option, value))


def metadata_problems(labels, annotations):
    """Every problem with the requested labels and annotations (value None means: remove the key)."""
    problems = []
    for kind, items in (('label', labels or {}), ('annotation', annotations or {})):
        for key, value in sorted(items.items()):
            problem = _key_problem(kind, key)
            if problem:
                problems.append(problem)
            if value is None:
                continue
            if not isinstance(value, str):
                problems.append('%s %s: the value %r is a %s; Kubernetes needs a string (quote it)' % (kind, key, value, type(value).__name__))
            elif kind == 'label' and value and (len(value) > 63 or not _NAME.match(value)):
                problems.append('label %s: the value %r must be empty or 1-63 characters of letters, digits, "-", "_" or ".", '
                                'starting and ending with a letter or digit' % (key, value))
    return problems


def metadata_patch(metadata, labels, annotations):
    """The merge-patch fragment of ``metadata`` that sets ``labels`` and ``annotations`` (None removes a key); {} when all hold."""
    patch = {}
    for field, wanted in (('labels', labels), ('annotations', annotations)):
        current = metadata.get(field) or {}
        changes = dict((key, value) for key, value in (wanted or {}).items() if current.get(key) != value)
        if changes:
            patch[field] = changes
    return patch


def merge_patched(document, patch):
    """What ``document`` becomes under the merge ``patch`` (RFC 7386), as the API server would store it; a new object."""
    if not isinstance(patch, dict):
        return patch
    result = dict(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patched(result.get(key), value)
    return result


def tls_failure(exc):
    """The ssl.SSLError behind a failed request (urllib3 wraps it in SSLError and MaxRetryError), or None."""
    pending, seen = [exc], set()
    while pending:
        exc = pending.pop(0)
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLError):
            return exc
        # MaxRetryError keeps the cause in .reason, urllib3's SSLError the ssl.SSLError in its arguments.
        pending.extend([getattr(exc, 'reason', None), exc.__cause__, exc.__context__]
                       + [arg for arg in getattr(exc, 'args', ()) if isinstance(arg, BaseException)])
    return None


class KubeError(Exception):
    """A Kubernetes API call failed; ``status`` is the HTTP status (None for a connection error)."""

    def __init__(self, message, status=None, reason=None):
        super(KubeError, self).__init__(message)
        self.status = status
        self.reason = reason


def api_message(exc):
    """The ``message`` of the API's Status body, or the HTTP reason."""
    body = getattr(exc, 'body', None)
    if body:
        try:
            return json.loads(body).get('message') or exc.reason
        except (ValueError, AttributeError):
            pass
    return getattr(exc, 'reason', None) or str(exc)


def _path(template, *names):
    """An API path with each name quoted as the generated client quotes path parameters (nothing is safe)."""
    return template % tuple(quote(str(name), safe='') for name in names)


JSON = 'application/json'
# RFC 7386: a null removes a key; one document for nodes and ConfigMaps alike, whatever their schema.
MERGE_PATCH = 'application/merge-patch+json'


class Kube(object):
    """A connection to one cluster, made from the module's auth options.

    Requests go through the client's ApiClient (its configuration, bearer token, TLS and connection pool) with
    plain JSON bodies and answers: objects come back as the dicts the API server sent.
    """

    def __init__(self, params, retries=4, backoff=0.5, sleep=time.sleep):
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.api_client = self._client(params)

    @staticmethod
    def _client(params):
        configuration = Configuration()
        try:
            if params.get('host') and params.get('api_key'):
                configuration.host = params['host']
                configuration.api_key = {'authorization': params['api_key']}
                configuration.api_key_prefix = {'authorization': 'Bearer'}
            elif params.get('kubeconfig') or params.get('context') or not os.environ.get('KUBERNETES_SERVICE_HOST'):
                load_kube_config(config_file=params.get('kubeconfig'), context=params.get('context'), client_configuration=configuration)
                if params.get('host'):
                    configuration.host = params['host']
            else:
                load_incluster_config(client_configuration=configuration)
        except (ConfigException, IOError, OSError) as exc:
            raise KubeError('cannot configure the Kubernetes client: %s. Give kubeconfig (or K8S_AUTH_KUBECONFIG), or host and '
                            'api_key (or K8S_AUTH_HOST and K8S_AUTH_API_KEY).' % exc)
        if params.get('validate_certs') is not None:
            configuration.verify_ssl = params['validate_certs']
        if params.get('ca_cert'):
            configuration.ssl_ca_cert = params['ca_cert']
        return ApiClient(configuration)

    def send(self, method, path, query=None, body=None, content_type=JSON):
        """One request; the raw answer body when the status is 2xx, else ApiException (urllib3 errors pass through)."""
        configuration = self.api_client.configuration
        headers = dict(self.api_client.default_headers, Accept=JSON)
        if body is not None:
            headers['Content-Type'] = content_type
        # The bearer token, as the generated API classes add it: auth_settings() runs the refresh hook that a
        # kubeconfig (exec, OIDC) or the in-cluster loader installed, so an expiring token is renewed.
        for setting in configuration.auth_settings().values():
            if setting['in'] == 'header' and setting['value']:
                headers[setting['key']] = setting['value']
        url = configuration.host + path
        if query:
            url += '?' + '&'.join('%s=%s' % (key, quote(value)) for key, value in query)
        if hasattr(self.api_client, 'param_serialize'):
            # kubernetes 37 and later: call_api sends the request as given and leaves the status to the caller.
            response = self.api_client.call_api(method, url, header_params=headers, body=body, _request_timeout=REQUEST_TIMEOUT)
            data = response.read()
            if not 200 <= response.status <= 299:
                raise ApiException(http_resp=response)
            return data
        # Older clients (the python-legacy generator): ApiClient.request raises ApiException itself for a status that is not 2xx.
        return self.api_client.request(method, url, headers=headers, body=body, _request_timeout=REQUEST_TIMEOUT).data

    def unreachable(self, exc):
        """Why a request got no answer: a TLS failure names the server and what to give; anything else, the error's type."""
        tls = tls_failure(exc)
        server = self.api_client.configuration.host
        if isinstance(tls, ssl.SSLCertVerificationError):
            return ('the TLS certificate of the Kubernetes API server %s is not trusted (%s): give the cluster CA with ca_cert '
                    '(K8S_AUTH_SSL_CA_CERT) or the kubeconfig\'s certificate-authority-data' % (server, tls.verify_message or tls.reason))
        if tls is not None:
            return ('the TLS handshake with the Kubernetes API server %s failed (%s): does the server require a client certificate '
                    '(client-certificate-data and client-key-data in the kubeconfig)?' % (server, getattr(tls, 'reason', None) or tls))
        return 'cannot reach the Kubernetes API server (%s)' % type(exc).__name__

    def call(self, what, method, path, query=None, body=None, content_type=JSON):
        """Send a request and return the answer as plain data; retry transient failures; raise KubeError naming ``what``."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                data = self.send(method, path, query, body, content_type)
            except ApiException as exc:
                if exc.status in TRANSIENT_STATUS and attempt < self.retries:
                    self.sleep(delay)
                    delay *= 2
                    continue
                raise KubeError('%s failed: %s (HTTP %s)' % (what, api_message(exc), exc.status), exc.status, exc.reason)
            except (Urllib3Error, IOError, OSError) as exc:
                # A certificate the client cannot trust (or a handshake the server refuses) fails the same way every time.
                if attempt < self.retries and tls_failure(exc) is None:
                    self.sleep(delay)
                    delay *= 2
                    continue
                raise KubeError('%s failed: %s' % (what, self.unreachable(exc)))
            try:
                return json.loads(data) if data else {}
            except ValueError:
                raise KubeError('%s failed: the answer of the API server is not JSON' % what)
        raise KubeError('%s failed after %d attempts' % (what, self.retries + 1))

    def read(self, what, path):
        """GET ``path`` as plain data, or None when it does not exist (404)."""
        try:
            return self.call(what, 'GET', path)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    # -- nodes --------------------------------------------------------------------------------

    def read_node(self, name):
        """The node as a plain dict; KubeError (404) when it does not exist."""
        return self.call('reading node %s' % name, 'GET', _path('/api/v1/nodes/%s', name))

    def update_node(self, name, change, conflicts=5, check_mode=False):
        """Apply ``change(node_dict) -> merge patch or None`` with optimistic concurrency.

        The patch carries the resourceVersion it was computed from, so a concurrent writer makes
        the server answer 409; the node is then read again and the change recomputed.
        In ``check_mode`` nothing is written: ``after`` is the node as the patch would leave it.
        Returns (before, after, patched).
        """
        for dummy in range(conflicts):
            before = self.read_node(name)
            patch = change(before)
            if not patch:
                return before, before, False
            if check_mode:
                return before, merge_patched(before, patch), True
            patch.setdefault('metadata', {})['resourceVersion'] = before['metadata']['resourceVersion']
            try:
                after = self.call('patching node %s' % name, 'PATCH', _path('/api/v1/nodes/%s', name), body=patch, content_type=MERGE_PATCH)
            except KubeError as exc:
                if exc.status == 409:
                    continue
                raise
            return before, after, True
        raise KubeError('patching node %s failed: it kept changing under us (%d conflicts in a row)' % (name, conflicts), 409)

    # -- the whole cluster ----------------------------------------------------------------------

    def read_cluster(self):
        """Every Node, Pod and ResourceQuota (lists of plain dicts), one list request each: what the capacity check and
        the fleet plan weigh."""
        return [self.call('listing %s' % what, 'GET', path).get('items') or []
                for what, path in (('nodes', '/api/v1/nodes'), ('pods', '/api/v1/pods'), ('resourcequotas', '/api/v1/resourcequotas'))]

    # -- pods ---------------------------------------------------------------------------------

    def pods_on_node(self, name):
        """Every pod bound to the node, as plain dicts."""
        pods = self.call('listing pods on node %s' % name, 'GET', '/api/v1/pods', query=[('fieldSelector', 'spec.nodeName=%s' % name)])
        return pods.get('items') or []

    def read_pod(self, namespace, name):
        """The pod as a plain dict, or None when it is gone."""
        return self.read('reading pod %s/%s' % (namespace, name), _path('/api/v1/namespaces/%s/pods/%s', namespace, name))

    def evict(self, namespace, name, grace_period=None):
        """Ask the Eviction API to evict a pod. Returns None when done, else (status, message) of the refusal.

        429 (a PodDisruptionBudget forbids it now) and 500 (several budgets select the pod) are
        answers, not transient failures, so they are returned to the caller, never retried here.
        """
        body = {'apiVersion': 'policy/v1', 'kind': 'Eviction', 'metadata': {'name': name, 'namespace': namespace}}
        if grace_period is not None:
            body['deleteOptions'] = {'gracePeriodSeconds': grace_period}
        try:
            self.send('POST', _path('/api/v1/namespaces/%s/pods/%s/eviction', namespace, name), body=body)
        except ApiException as exc:
            if exc.status == 404:
                return None
            return exc.status, api_message(exc)
        except (Urllib3Error, IOError, OSError) as exc:
            return None, self.unreachable(exc)
        return None

    # -- config maps and plugin pods ----------------------------------------------------------

    def read_config_map(self, namespace, name):
        """The ConfigMap as a plain dict, or None when it does not exist."""
        return self.read('reading configmap %s/%s' % (namespace, name), _path('/api/v1/namespaces/%s/configmaps/%s', namespace, name))

    def write_config_map_data(self, namespace, name, data, existing):
        """Create the ConfigMap with ``data``, or merge ``data`` into ``existing`` (409 when someone changed it since)."""
        if existing is None:
            body = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name, 'namespace': namespace}, 'data': data}
            return self.call('creating configmap %s/%s' % (namespace, name), 'POST', _path('/api/v1/namespaces/%s/configmaps', namespace), body=body)
        patch = {'metadata': {'resourceVersion': existing['metadata']['resourceVersion']}, 'data': data}
        return self.call('patching configmap %s/%s' % (namespace, name), 'PATCH', _path('/api/v1/namespaces/%s/configmaps/%s', namespace, name),
                         body=patch, content_type=MERGE_PATCH)

    def pods(self, namespace, label_selector, node=None):
        """Pods in ``namespace`` matching ``label_selector`` (and on ``node``), as plain dicts."""
        query = [('fieldSelector', 'spec.nodeName=%s' % node)] if node else []
        query.append(('labelSelector', label_selector))
        pods = self.call('listing pods %s in %s' % (label_selector, namespace), 'GET', _path('/api/v1/namespaces/%s/pods', namespace), query=query)
        return pods.get('items') or []

    def delete_pod(self, namespace, name):
        """Delete a pod (its DaemonSet recreates it); a pod already gone is fine."""
        try:
            self.call('deleting pod %s/%s' % (namespace, name), 'DELETE', _path('/api/v1/namespaces/%s/pods/%s', namespace, name))
        except KubeError as exc:
            if exc.status != 404:
                raise

    # -- Dynamic Resource Allocation (resource.k8s.io/v1) ------------------------------------

    def resource_slices(self, node):
        """The ResourceSlices of ``node`` (every driver's), as plain dicts; the field selector the kubelet uses."""
        slices = self.call('listing resourceslices of node %s' % node, 'GET', '/apis/resource.k8s.io/v1/resourceslices',
                           query=[('fieldSelector', 'spec.nodeName=%s' % node)])
        return slices.get('items') or []

    def resource_claims(self):
        """Every ResourceClaim, as plain dicts: the API has no field selector on a claim's allocation."""
        claims = self.call('listing resourceclaims', 'GET', '/apis/resource.k8s.io/v1/resourceclaims')
        return claims.get('items') or []

    def driver_resource_slices(self, driver):
        """The cluster's ResourceSlices of ``driver``, every node's, as plain dicts: one request for a whole fleet."""
        slices = self.call('listing resourceslices of driver %s' % driver, 'GET', '/apis/resource.k8s.io/v1/resourceslices',
                           query=[('fieldSelector', 'spec.driver=%s' % driver)])
        return slices.get('items') or []

    def device_classes(self):
        """Every DeviceClass (cluster-scoped), as plain dicts."""
        classes = self.call('listing deviceclasses', 'GET', '/apis/resource.k8s.io/v1/deviceclasses')
        return classes.get('items') or []

    def create_device_class(self, body):
        """Create a DeviceClass (409 when one of that name exists)."""
        return self.call('creating deviceclass %s' % body['metadata']['name'], 'POST', '/apis/resource.k8s.io/v1/deviceclasses', body=body)
