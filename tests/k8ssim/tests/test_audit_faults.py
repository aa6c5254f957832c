# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Audit log, fault injection and the k8ssim CLI."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import time

import pytest
import urllib3
from kubernetes.client.rest import ApiException

import k8ssim
from simhelpers import K8SSIM_DIR, base_description, clients

NODES = [{'name': 'n1'}, {'name': 'n2'}]


@pytest.fixture(name='sim')
def sim_fixture(cluster):
    return cluster(base_description(NODES, device_plugin=None))


def test_audit_log(sim):
    core = clients(sim)[0]
    sim.clear_audit()
    core.list_node()
    core.read_node('n1')
    core.patch_node('n1', {'metadata': {'labels': {'a': 'b'}}})
    with pytest.raises(ApiException):
        core.read_namespaced_pod('ghost', 'default')
    entries = sim.audit()
    assert [(e['verb'], e['resource'], e['name'], e['code'], e['user']) for e in entries] == [
        ('list', 'nodes', None, 200, 'admin'), ('get', 'nodes', 'n1', 200, 'admin'), ('patch', 'nodes', 'n1', 200, 'admin'),
        ('get', 'pods', 'ghost', 404, 'admin')]
    assert entries[3]['namespace'] == 'default'
    with open(os.path.join(sim.state_dir, 'audit.log'), encoding='utf-8') as handle:
        lines = [json.loads(line) for line in handle]
    assert [e['seq'] for e in lines] == [e['seq'] for e in entries]
    summary = k8ssim.summarize(k8ssim.read_audit(sim.state_dir))
    assert summary['writes'] == 1 and summary['by_verb_resource']['get nodes'] == 1 and summary['errors'] == 1


def test_fault_status_code_on_nth_request(sim):
    core = clients(sim)[0]
    sim.add_fault(verb='list', resource='nodes', nth=2, code=500)
    core.list_node()
    with pytest.raises(ApiException) as err:
        core.list_node()
    body = json.loads(err.value.body)
    assert err.value.status == 500 and body['kind'] == 'Status' and body['reason'] == 'InternalError'
    core.list_node()
    rule = sim.add_fault(verb='patch', resource='nodes', code=409, repeat=True)
    for dummy in range(2):
        with pytest.raises(ApiException) as err:
            core.patch_node('n1', {'metadata': {'labels': {'a': 'b'}}})
        assert err.value.status == 409
    faults = sim.control('GET', '/_sim/faults')['faults']
    assert [f['fired'] for f in faults] == [1, 2] and faults[1]['id'] == rule['id']
    sim.clear_faults()
    core.patch_node('n1', {'metadata': {'labels': {'a': 'b'}}})
    assert [e['code'] for e in sim.audit() if e['verb'] == 'list'] == [200, 500, 200]


def test_fault_matches_a_query_substring(sim):
    # The list of the pods on one node fails; the same list for another node, and every list before the Nth, do not.
    core = clients(sim)[0]
    rule = sim.add_fault(verb='list', resource='pods', query='spec.nodeName=n2', nth=2, code=500)
    core.list_pod_for_all_namespaces(field_selector='spec.nodeName=n2')
    core.list_pod_for_all_namespaces(field_selector='spec.nodeName=n1')
    core.list_pod_for_all_namespaces()
    with pytest.raises(ApiException) as err:
        core.list_pod_for_all_namespaces(field_selector='spec.nodeName=n2')
    assert err.value.status == 500
    faults = sim.control('GET', '/_sim/faults')['faults']
    assert [(f['id'], f['seen'], f['fired'], f['query']) for f in faults] == [(rule['id'], 2, 1, 'spec.nodeName=n2')]
    with pytest.raises(k8ssim.K8sSimError, match='unknown fault rule fields: querry'):
        sim.add_fault(verb='list', resource='pods', querry='x', code=500)


def test_fault_delay_and_dropped_connection(sim):
    core = clients(sim)[0]
    sim.add_fault(verb='get', resource='nodes', delay_ms=300)
    started = time.time()
    core.read_node('n1')
    assert time.time() - started >= 0.3
    # a dropped GET is retried by urllib3 (idempotent); the audit log shows both attempts
    sim.clear_faults()
    sim.clear_audit()
    sim.add_fault(verb='get', resource='nodes', name='n2', drop=True)
    assert core.read_node('n2').metadata.name == 'n2'
    assert [(e['code'], e.get('dropped', False)) for e in sim.audit()] == [(0, True), (200, False)]
    # a dropped PATCH is not retried: the client sees the broken connection
    sim.add_fault(verb='patch', resource='nodes', drop=True, repeat=True)
    with pytest.raises((urllib3.exceptions.HTTPError, ConnectionError)):
        core.patch_node('n2', {'metadata': {'labels': {'a': 'b'}}})
    assert 'a' not in (core.read_node('n2').metadata.labels or {})


def test_cli(tmp_path):
    desc = tmp_path / 'cluster.yaml'
    desc.write_text('nodes:\n  - name: a\n  - name: b\n')
    state = str(tmp_path / 'state')
    cli = [sys.executable, os.path.join(K8SSIM_DIR, 'k8ssim.py')]

    def run(*args, **kwargs):
        return subprocess.run(cli + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              check=kwargs.get('check', True))

    info = json.loads(run('start', '--description', str(desc), '--state-dir', state, '--token', 'secret').stdout)
    try:
        assert info['url'].startswith('http://127.0.0.1:') and info['token'] == 'secret'
        assert 'running: True' in run('status', '--state-dir', state).stdout
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel
        cfg = client.Configuration()
        config.load_kube_config(config_file=os.path.join(state, 'kubeconfig'), client_configuration=cfg)
        core = client.CoreV1Api(client.ApiClient(cfg))
        run('fault', 'add', '--state-dir', state, '--verb', 'list', '--resource', 'nodes', '--code', '503')
        assert len(json.loads(run('fault', 'list', '--state-dir', state).stdout)) == 1
        with pytest.raises(ApiException) as err:
            core.list_node()
        assert err.value.status == 503
        assert [n.metadata.name for n in core.list_node().items] == ['a', 'b']
        run('fault', 'clear', '--state-dir', state)
        audit = json.loads(run('audit', '--state-dir', state, '--json').stdout)
        assert audit['by_verb_resource']['list nodes'] == 2 and audit['errors'] == 1 and audit['writes'] == 0
        assert 'list nodes' in run('audit', '--state-dir', state).stdout
        dump = json.loads(run('dump', '--state-dir', state).stdout)
        assert [n['metadata']['name'] for n in dump['objects']['nodes']] == ['a', 'b']
    finally:
        run('stop', '--state-dir', state)
    assert run('status', '--state-dir', state, check=False).returncode == 3
    assert not k8ssim._alive(info['pid'])  # pylint: disable=protected-access
