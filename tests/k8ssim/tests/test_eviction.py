# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""policy/v1 Eviction with PodDisruptionBudgets (k8s.md section 5)."""

from __future__ import absolute_import, division, print_function

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from simhelpers import base_description, clients, wait_until


def _eviction(name, namespace):
    return client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))


@pytest.fixture(name='sim')
def sim_fixture(cluster, gpu_node):
    nodes = [{'name': n, 'nvml_state': gpu_node(n, profiles='19,19,19,19'), 'labels': {'nvidia.com/device-plugin.config': 'mixed'}}
             for n in ('n1', 'n2')]
    workloads = [{'name': 'infer', 'namespace': 'ml', 'replicas': 2, 'labels': {'app': 'infer'},
                  'resources': {'nvidia.com/mig-1g.5gb': 1}, 'node': 'n1', 'start_delay': 0.6, 'termination_grace': 0.3},
                 {'name': 'free', 'namespace': 'ml', 'replicas': 1, 'labels': {'app': 'free'}, 'node': 'n1'}]
    pdbs = [{'name': 'infer-pdb', 'namespace': 'ml', 'selector': {'matchLabels': {'app': 'infer'}}, 'maxUnavailable': 1}]
    return cluster(base_description(nodes, workloads=workloads, pdbs=pdbs))


def test_pdb_status(sim):
    policy = clients(sim)[2]
    pdb = policy.read_namespaced_pod_disruption_budget('infer-pdb', 'ml')
    assert (pdb.status.current_healthy, pdb.status.desired_healthy, pdb.status.disruptions_allowed, pdb.status.expected_pods) == (2, 1, 1, 2)
    assert pdb.status.observed_generation == pdb.metadata.generation


def test_eviction_blocked_then_allowed_after_replacement_is_ready(sim):
    core, dummy, policy = clients(sim)
    core.patch_node('n1', {'spec': {'unschedulable': True}})
    first, second = sorted(p.metadata.name for p in core.list_namespaced_pod('ml', label_selector='app=infer').items)
    result = core.create_namespaced_pod_eviction(first, 'ml', _eviction(first, 'ml'))
    assert result.kind == 'Status'
    assert core.read_namespaced_pod(first, 'ml').metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_eviction(second, 'ml', _eviction(second, 'ml'))
    body = json.loads(err.value.body)
    assert err.value.status == 429 and body['reason'] == 'TooManyRequests'
    assert body['message'] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body['details']['causes'][0] == {'reason': 'DisruptionBudget',
                                            'message': 'The disruption budget infer-pdb needs 1 healthy pods and has 1 currently'}
    assert policy.read_namespaced_pod_disruption_budget('infer-pdb', 'ml').status.disruptions_allowed == 0
    # the ReplicaSet replacement lands on n2 (n1 is cordoned) and becomes Ready after its start delay

    def replacement_ready():
        pods = core.list_namespaced_pod('ml', label_selector='app=infer', field_selector='spec.nodeName=n2').items
        return [p for p in pods if any(c.type == 'Ready' and c.status == 'True' for c in p.status.conditions or [])]
    wait_until(replacement_ready, message='replacement Ready on n2')
    core.create_namespaced_pod_eviction(second, 'ml', _eviction(second, 'ml'))
    wait_until(lambda: not core.list_namespaced_pod('ml', label_selector='app=infer', field_selector='spec.nodeName=n1').items,
               message='n1 drained')
    audit = [(e['verb'], e['code']) for e in sim.audit() if e['subresource'] == 'eviction']
    assert audit == [('evict', 201), ('evict', 429), ('evict', 201)]


def test_two_pdbs_is_500_and_unknown_pod_is_404(sim):
    core, dummy, policy = clients(sim)
    policy.create_namespaced_pod_disruption_budget('ml', client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name='second'),
        spec=client.V1PodDisruptionBudgetSpec(min_available=0, selector=client.V1LabelSelector(match_labels={'app': 'infer'}))))
    name = core.list_namespaced_pod('ml', label_selector='app=infer').items[0].metadata.name
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_eviction(name, 'ml', _eviction(name, 'ml'))
    body = json.loads(err.value.body)
    assert err.value.status == 500 and body['reason'] == 'InternalError'
    assert 'more than one PodDisruptionBudget' in body['message']
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_eviction('ghost', 'ml', _eviction('ghost', 'ml'))
    assert err.value.status == 404 and json.loads(err.value.body)['message'] == 'pods "ghost" not found'


def test_pod_without_pdb_is_evicted(sim):
    core = clients(sim)[0]
    name = core.list_namespaced_pod('ml', label_selector='app=free').items[0].metadata.name
    core.create_namespaced_pod_eviction(name, 'ml', _eviction(name, 'ml'))
    assert core.read_namespaced_pod(name, 'ml').metadata.deletion_timestamp is not None
