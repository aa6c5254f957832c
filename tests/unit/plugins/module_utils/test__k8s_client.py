# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes client (_k8s.Kube) with the real, unmodified kubernetes client against the simulated API server.

Kube sends plain JSON through ApiClient.call_api (issue 8); these tests pin what goes over the wire (paths, verbs,
query parameters, content types, bodies, timeouts, the bearer token), what comes back (the API's own dicts), and the
error semantics: KubeError with the status and the API's message, 404s, 409 retries, transient retries with
backoff, eviction refusals returned as answers, and no token in any message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from kubernetes.client import rest

from ansible_collections.gpufleet.mig.plugins.module_utils import _k8s
from ansible_collections.gpufleet.mig.plugins.module_utils._drain import Drainer
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import REQUEST_TIMEOUT, Kube, KubeError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'k8ssim'))
import k8ssim  # noqa: E402  pylint: disable=wrong-import-position

DESCRIPTION = {
    'nodes': [{'name': 'gpu-1'}, {'name': 'gpu-2'}],
    'workloads': [{'name': 'web', 'namespace': 'ml', 'replicas': 1, 'node': 'gpu-1', 'termination_grace': 0.1},
                  {'name': 'solo', 'namespace': 'ml', 'replicas': 1, 'node': 'gpu-1'}],
    'pdbs': [{'name': 'solo-pdb', 'namespace': 'ml', 'selector': {'matchLabels': {'app': 'solo'}}, 'minAvailable': 1}],
}


@pytest.fixture(scope='module', name='sim')
def sim_fixture(tmp_path_factory):
    with k8ssim.Cluster(DESCRIPTION, tmp_path_factory.mktemp('k8s')) as cluster:
        cluster.wait_for(lambda state: len(state['objects'].get('pods') or []) == 2, timeout=20, message='both pods')
        yield cluster


@pytest.fixture(name='sim_clean')
def sim_clean_fixture(sim):
    sim.clear_faults()
    sim.clear_audit()
    yield sim
    sim.clear_faults()


@pytest.fixture(name='wire')
def wire_fixture(monkeypatch):
    """Every request the real REST layer sends: method, path with query, headers, body, timeout; then sent for real."""
    sent = []
    original = rest.RESTClientObject.request

    def spy(self, method, url, *args, **kwargs):
        entry = {'method': method, 'path': '/' + url.split('//', 1)[1].split('/', 1)[1], 'headers': dict(kwargs.get('headers') or {}),
                 'body': kwargs.get('body'), 'timeout': kwargs.get('_request_timeout'), 'status': None}
        sent.append(entry)
        response = original(self, method, url, *args, **kwargs)
        entry['status'] = getattr(response, 'status', None)
        return response

    monkeypatch.setattr(rest.RESTClientObject, 'request', spy)
    return sent


def kube(sim, **kwargs):
    sleeps = []
    client = Kube({'kubeconfig': sim.kubeconfig}, sleep=sleeps.append, **kwargs)
    client.sleeps = sleeps
    return client


def raw_get(sim, path):
    request = urllib.request.Request(sim.url + path, headers={'Authorization': 'Bearer %s' % sim.token})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def pod_of(sim, app):
    return next(p for p in raw_get(sim, '/api/v1/namespaces/ml/pods?labelSelector=app%3D' + app)['items']
                if not p['metadata'].get('deletionTimestamp'))


def test_requests_keep_the_paths_verbs_queries_content_types_and_timeout(sim_clean, wire):
    client = kube(sim_clean)
    client.read_node('gpu-2')
    before = client.update_node('gpu-2', lambda node: {'metadata': {'labels': {'a': 'b'}}})[0]
    client.pods_on_node('gpu-2')
    client.read_pod('ml', 'ghost')
    client.read_config_map('ml', 'cm')
    client.write_config_map_data('ml', 'cm', {'k': 'v'}, None)
    client.write_config_map_data('ml', 'cm', {'k': 'w'}, client.read_config_map('ml', 'cm'))
    client.pods('ml', 'app=web', 'gpu-1')
    client.delete_pod('ml', 'ghost')
    client.evict('ml', 'ghost', grace_period=3)
    assert [(r['method'], r['path'], r['headers'].get('Content-Type')) for r in wire] == [
        ('GET', '/api/v1/nodes/gpu-2', None),
        ('GET', '/api/v1/nodes/gpu-2', None),
        ('PATCH', '/api/v1/nodes/gpu-2', 'application/merge-patch+json'),
        ('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dgpu-2', None),
        ('GET', '/api/v1/namespaces/ml/pods/ghost', None),
        ('GET', '/api/v1/namespaces/ml/configmaps/cm', None),
        ('POST', '/api/v1/namespaces/ml/configmaps', 'application/json'),
        ('GET', '/api/v1/namespaces/ml/configmaps/cm', None),
        ('PATCH', '/api/v1/namespaces/ml/configmaps/cm', 'application/merge-patch+json'),
        ('GET', '/api/v1/namespaces/ml/pods?fieldSelector=spec.nodeName%3Dgpu-1&labelSelector=app%3Dweb', None),
        ('DELETE', '/api/v1/namespaces/ml/pods/ghost', None),
        ('POST', '/api/v1/namespaces/ml/pods/ghost/eviction', 'application/json'),
    ]
    for request in wire:
        assert request['timeout'] == REQUEST_TIMEOUT
        assert request['headers']['Accept'] == 'application/json'
        assert request['headers']['authorization'] == 'Bearer %s' % sim_clean.token
    # The node patch carries the resourceVersion it was computed from; the eviction is a policy/v1 Eviction.
    assert wire[2]['body'] == {'metadata': {'labels': {'a': 'b'}, 'resourceVersion': before['metadata']['resourceVersion']}}
    assert wire[-1]['body'] == {'apiVersion': 'policy/v1', 'kind': 'Eviction', 'metadata': {'name': 'ghost', 'namespace': 'ml'},
                                'deleteOptions': {'gracePeriodSeconds': 3}}
    client.evict('ml', 'ghost')
    assert 'deleteOptions' not in wire[-1]['body']


def test_objects_come_back_as_the_api_server_sent_them(sim_clean):
    client = kube(sim_clean)
    assert client.read_node('gpu-1') == raw_get(sim_clean, '/api/v1/nodes/gpu-1')
    assert client.pods_on_node('gpu-1') == raw_get(sim_clean, '/api/v1/pods?fieldSelector=spec.nodeName%3Dgpu-1')['items']
    before, after, patched = client.update_node('gpu-1', lambda node: {'metadata': {'annotations': {'x': 'y'}}})
    assert patched and after == raw_get(sim_clean, '/api/v1/nodes/gpu-1') and after['metadata']['annotations']['x'] == 'y'
    assert client.update_node('gpu-1', lambda node: {'metadata': {'annotations': {'x': None}}})[1]['metadata'].get('annotations', {}).get('x') is None


def test_a_node_update_in_check_mode_reads_and_predicts_without_writing(sim_clean, wire):
    client = kube(sim_clean)
    stored = raw_get(sim_clean, '/api/v1/nodes/gpu-2')
    before, after, patched = client.update_node('gpu-2', lambda node: {'spec': {'unschedulable': True}}, check_mode=True)
    assert patched and before == stored and after['spec']['unschedulable'] and after['metadata'] == stored['metadata']

    def relabel(node):
        labels = node['metadata'].get('labels') or {}
        return None if labels.get('check-mode') == 'predicted' else {'metadata': {'labels': {'check-mode': 'predicted'}}}

    predicted = client.update_node('gpu-2', relabel, check_mode=True)[1]
    assert [r['method'] for r in wire] == ['GET', 'GET'] and raw_get(sim_clean, '/api/v1/nodes/gpu-2') == stored
    # What the write then stores is what check mode predicted.
    try:
        written = client.update_node('gpu-2', relabel)[1]
        assert written['metadata']['labels'] == predicted['metadata']['labels'] and written['spec'] == predicted['spec']
        before, after, patched = client.update_node('gpu-2', relabel, check_mode=True)
        assert not patched and before is after
    finally:
        client.update_node('gpu-2', lambda node: {'metadata': {'labels': {'check-mode': None}}})


def test_no_api_or_model_class_is_loaded(sim):
    """The generated API and model classes cost most of a module's CPU; Kube must work without loading any of them.

    (kubernetes 37 loads none of them on import; older clients load them all in ``import kubernetes``, which no
    import of any part of the package avoids.)
    """
    script = ('import sys\n'
              'import kubernetes\n'
              'loaded = set(sys.modules)\n'
              'from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube\n'
              'kube = Kube({"kubeconfig": sys.argv[1]})\n'
              'kube.update_node("gpu-2", lambda node: {"metadata": {"labels": {"loaded": "check"}}})\n'
              'kube.pods_on_node("gpu-1")\n'
              'print(sorted(m for m in set(sys.modules) - loaded if m.startswith(("kubernetes.client.api.", "kubernetes.client.models."))))\n')
    proc = subprocess.run([sys.executable, '-c', script, sim.kubeconfig], capture_output=True, text=True, check=False, env=os.environ)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'


def test_not_found_is_a_kube_error_with_the_api_message_or_none(sim_clean):
    client = kube(sim_clean)
    with pytest.raises(KubeError) as info:
        client.read_node('ghost')
    assert info.value.status == 404
    assert str(info.value) == 'reading node ghost failed: nodes "ghost" not found (HTTP 404)'
    assert client.read_pod('ml', 'ghost') is None
    assert client.read_config_map('ml', 'ghost') is None
    client.delete_pod('ml', 'ghost')
    assert client.sleeps == []


def test_update_node_reads_again_after_a_conflict(sim_clean):
    client = kube(sim_clean)
    sim_clean.add_fault(verb='patch', resource='nodes', name='gpu-2', nth=1, code=409, message='the object has been modified')
    seen = []

    def change(node):
        seen.append(node['metadata']['resourceVersion'])
        return {'metadata': {'labels': {'conflict': 'retried'}}}
    before, after, patched = client.update_node('gpu-2', change)
    assert patched and after['metadata']['labels']['conflict'] == 'retried'
    assert [(e['verb'], e['code']) for e in sim_clean.audit()] == [('get', 200), ('patch', 409), ('get', 200), ('patch', 200)]
    assert len(seen) == 2 and client.sleeps == []


def test_update_node_gives_up_after_conflicts_in_a_row(sim_clean):
    client = kube(sim_clean)
    sim_clean.add_fault(verb='patch', resource='nodes', name='gpu-2', nth=1, repeat=True, code=409)
    with pytest.raises(KubeError) as info:
        client.update_node('gpu-2', lambda node: {'metadata': {'labels': {'conflict': 'forever'}}}, conflicts=3)
    assert info.value.status == 409 and '3 conflicts in a row' in str(info.value)


@pytest.mark.parametrize('code', [502, 503, 504])
def test_transient_errors_are_retried_with_backoff(sim_clean, code):
    client = kube(sim_clean)
    sim_clean.add_fault(verb='get', resource='nodes', name='gpu-1', nth=1, code=code)
    assert client.read_node('gpu-1')['metadata']['name'] == 'gpu-1'
    assert client.sleeps == [0.5]
    sim_clean.add_fault(verb='get', resource='nodes', name='gpu-2', nth=1, repeat=True, code=code, message='still down')
    with pytest.raises(KubeError) as info:
        client.read_node('gpu-2')
    assert info.value.status == code and str(info.value) == 'reading node gpu-2 failed: still down (HTTP %d)' % code
    assert client.sleeps == [0.5, 0.5, 1.0, 2.0, 4.0]


def test_other_errors_are_not_retried(sim_clean):
    client = kube(sim_clean)
    sim_clean.add_fault(verb='patch', resource='nodes', name='gpu-2', nth=1, code=500, message='etcd is unhappy')
    with pytest.raises(KubeError) as info:
        client.update_node('gpu-2', lambda node: {'metadata': {'labels': {'x': 'y'}}})
    assert info.value.status == 500 and str(info.value) == 'patching node gpu-2 failed: etcd is unhappy (HTTP 500)'
    assert client.sleeps == []


def test_a_dropped_connection_is_retried(sim_clean):
    client = kube(sim_clean)
    sim_clean.add_fault(verb='patch', resource='nodes', name='gpu-2', nth=1, drop=True)
    assert client.update_node('gpu-2', lambda node: {'metadata': {'labels': {'dropped': 'once'}}})[2]
    assert client.sleeps == [0.5]


def test_an_api_server_that_does_not_answer_times_out(sim_clean, monkeypatch):
    monkeypatch.setattr(_k8s, 'REQUEST_TIMEOUT', (1, 0.2))
    client = kube(sim_clean, retries=1)
    sim_clean.add_fault(verb='get', resource='nodes', name='gpu-1', nth=1, repeat=True, delay_ms=3000)
    started = time.monotonic()
    with pytest.raises(KubeError) as info:
        client.read_node('gpu-1')
    assert 'cannot reach the Kubernetes API server' in str(info.value) and info.value.status is None
    # Without the read timeout each attempt would wait out the 3 s delay (urllib3 retries a GET three times by itself).
    assert time.monotonic() - started < 3 * 2


def test_eviction_refusals_are_answers_not_retried(sim_clean):
    client = kube(sim_clean)
    solo = pod_of(sim_clean, 'solo')['metadata']['name']
    status, message = client.evict('ml', solo)
    assert status == 429 and message == "Cannot evict pod as it would violate the pod's disruption budget."
    web = pod_of(sim_clean, 'web')['metadata']['name']
    sim_clean.add_fault(verb='evict', resource='pods', nth=1, code=500, message='This pod has more than one PodDisruptionBudget')
    assert client.evict('ml', web) == (500, 'This pod has more than one PodDisruptionBudget')
    sim_clean.add_fault(verb='evict', resource='pods', nth=1, drop=True)
    status, message = client.evict('ml', web)
    assert status is None and message.startswith('cannot reach the Kubernetes API server (')
    assert [e['code'] for e in sim_clean.audit() if e['verb'] == 'evict'] == [429, 500, 0]
    assert client.evict('ml', 'ghost') is None
    assert client.evict('ml', web) is None
    assert client.sleeps == []


def test_error_messages_never_carry_the_token(sim_clean):
    secret = 'sEcReT-t0ken-%d' % os.getpid()
    messages = []
    for host in (sim_clean.url, 'http://127.0.0.1:1'):
        client = Kube({'host': host, 'api_key': secret}, sleep=lambda seconds: None)
        with pytest.raises(KubeError) as info:
            client.read_node('gpu-1')
        messages.append(str(info.value))
        assert secret not in str(info.value) and secret not in repr(info.value.__dict__)
        assert client.evict('ml', 'x')[1] and secret not in client.evict('ml', 'x')[1]
    assert messages[0].endswith('(HTTP 401)')
    assert messages[1] == 'reading node gpu-1 failed: cannot reach the Kubernetes API server (MaxRetryError)'


def test_drain_labels_go_in_the_same_patch_as_the_cordon_and_the_uncordon(sim_clean, wire):
    client = kube(sim_clean)
    drainer = Drainer(client, 'gpu-2', labels={'nvidia.com/mig.config.state': 'pending'}, annotations={'example.com/why': 'mig'})
    assert drainer.cordon()[0]
    # Only the patches the server took: the simulated node lifecycle controller also writes the node (the unschedulable
    # taint), so a patch can meet a 409 and be computed and sent again, as it must be.
    patches = [r['body'] for r in wire if r['method'] == 'PATCH' and r['status'] == 200]
    assert len(patches) == 1
    assert all(r['status'] in (200, 409) for r in wire if r['method'] == 'PATCH')
    assert patches[0]['spec'] == {'unschedulable': True}
    assert patches[0]['metadata']['labels'] == {'nvidia.com/mig.config.state': 'pending'}
    assert patches[0]['metadata']['annotations'] == {'example.com/why': 'mig', 'gpufleet.mig/cordoned': 'true'}
    assert not drainer.cordon()[0]
    del wire[:]
    drainer = Drainer(client, 'gpu-2', labels={'nvidia.com/mig.config.state': 'success'}, annotations={'example.com/why': None})
    changed, admin, node = drainer.uncordon()
    assert changed and not admin and not node['spec'].get('unschedulable')
    patches = [r['body'] for r in wire if r['method'] == 'PATCH' and r['status'] == 200]
    assert len(patches) == 1
    assert patches[0]['spec'] == {'unschedulable': False}
    assert patches[0]['metadata']['labels'] == {'nvidia.com/mig.config.state': 'success'}
    assert patches[0]['metadata']['annotations'] == {'example.com/why': None, 'gpufleet.mig/cordoned': None}
    assert node['metadata']['labels']['nvidia.com/mig.config.state'] == 'success'
    assert 'example.com/why' not in node['metadata'].get('annotations', {})
    assert not drainer.uncordon()[0]
