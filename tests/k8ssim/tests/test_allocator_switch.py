# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Moving a node between NVIDIA's device plugin and NVIDIA's DRA driver by its labels, and KEP-5004 (extended
resources served by DRA), in k8ssim.

Each plugin DaemonSet runs on the GPU nodes its nodeSelector matches: the GPU Operator's device plugin on
``nvidia.com/gpu.deploy.device-plugin=true``, the DRA kubelet plugin on ``nvidia.com/gpu.deploy.dra-driver=true``.
Expected names and counts come from the fake NVML's own view and from the Kubernetes API types
(resource.k8s.io/v1 ExtendedResourceClaimAnnotation, core/v1 PodExtendedResourceClaimStatus), not from the simulator."""

from __future__ import absolute_import, division, print_function

import json
import time

import pytest
from kubernetes import client

import k8ssim
from simhelpers import base_description, clients, simnode, wait_until

DP_NS = 'gpu-operator'
DRA_NS = 'dra-driver-nvidia-gpu'
DP_LABEL = 'nvidia.com/gpu.deploy.device-plugin'
DRA_LABEL = 'nvidia.com/gpu.deploy.dra-driver'
DRIVER = 'gpu.nvidia.com'
ANNOTATION = 'resource.kubernetes.io/extended-resource-claim'
MIG_1G = 'nvidia.com/mig-1g.5gb'


def _profile_class(profile):
    """A DeviceClass per MIG profile that backs the device plugin's resource name (KEP-5004; NVIDIA's demo
    specs/extended-resources/mig-1g-12gb.yaml has the same shape)."""
    expression = "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].profile == '%s'" % profile
    return {'metadata': {'name': 'mig-%s.gpu.nvidia.com' % profile.replace('.', '-')},
            'spec': {'selectors': [{'cel': {'expression': expression}}], 'extendedResourceName': 'nvidia.com/mig-%s' % profile}}


def _mig_names(state):
    show = json.loads(simnode('show', state, '--json'))
    return sorted('gpu-0-mig-%s-%d-%d' % (gi['profile'].replace('.', ''), gi['profile_id'], gi['start'])
                  for gi in show['gpus'][0]['gpu_instances'])


def _pods(core, namespace, node):
    return [p for p in core.list_namespaced_pod(namespace, field_selector='spec.nodeName=%s' % node).items
            if p.metadata.deletion_timestamp is None]


def _running(core, namespace, node):
    return [p for p in _pods(core, namespace, node) if p.status.phase == 'Running' and all(c.ready for c in p.status.container_statuses or [])]


def _gpu(core, node):
    """(capacity, allocatable) of the node's nvidia.com/* resources, from one read."""
    status = core.read_node(node).status
    return tuple(dict((k, v) for k, v in (found or {}).items() if k.startswith('nvidia.com/')) for found in (status.capacity, status.allocatable))


def _devices(api, node):
    return [d.name for s in api.list_resource_slice(field_selector='spec.nodeName=%s,spec.driver=%s' % (node, DRIVER)).items
            for d in s.spec.devices or []]


def _pod(name, containers):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': 'ml'},
            'spec': {'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': c, 'image': 'pause', 'resources': {'limits': limits}} for c, limits in containers]}}


def _unschedulable(core, name):
    pod = core.read_namespaced_pod(name, 'ml')
    return next((c.message for c in pod.status.conditions or [] if c.type == 'PodScheduled' and c.status == 'False'), None)


def test_relabelling_moves_a_node_to_the_dra_driver_and_back(cluster, gpu_node, implementation):
    state = gpu_node('gpu-1', profiles='19,19')
    desc = base_description([{'name': 'gpu-1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'mixed'}},
                             {'name': 'cpu-1'}], implementation, namespaces=['ml'], feature_gates={'DRAExtendedResource': True},
                            dra_driver={'slice_wipe_delay': 2.0, 'device_classes': [_profile_class('1g.5gb')]})
    sim = cluster(desc)
    core, apps = clients(sim)[:2]
    api = client.ResourceV1Api(sim.api_client())
    # The DaemonSets' selectors, and the labels the description's allocator (device-plugin by default) stands for.
    assert apps.read_namespaced_daemon_set('nvidia-device-plugin-daemonset', DP_NS).spec.template.spec.node_selector == {DP_LABEL: 'true'}
    assert apps.read_namespaced_daemon_set('dra-driver-nvidia-gpu-kubelet-plugin', DRA_NS).spec.template.spec.node_selector == {DRA_LABEL: 'true'}
    labels = core.read_node('gpu-1').metadata.labels
    assert labels[DP_LABEL] == 'true' and DRA_LABEL not in labels
    assert DP_LABEL not in core.read_node('cpu-1').metadata.labels
    assert len(_running(core, DP_NS, 'gpu-1')) == 1 and _pods(core, DRA_NS, 'gpu-1') == []
    wait_until(lambda: _gpu(core, 'gpu-1') == ({MIG_1G: '2'}, {MIG_1G: '2'}), timeout=15, message='device plugin resources')
    assert _devices(api, 'gpu-1') == []

    # To DRA: the device plugin pod stops, the kubelet drops its devices (allocatable at once, capacity after the
    # endpoint's stop grace), and the DRA kubelet plugin publishes the node's MIG devices.
    core.patch_node('gpu-1', {'metadata': {'labels': {DP_LABEL: 'false', DRA_LABEL: 'true'}}})
    wait_until(lambda: _pods(core, DP_NS, 'gpu-1') == [] and _running(core, DRA_NS, 'gpu-1'), timeout=15, message='plugins switched')
    wait_until(lambda: _gpu(core, 'gpu-1')[1] == {MIG_1G: '0'}, timeout=15, message='allocatable dropped')
    wait_until(lambda: _devices(api, 'gpu-1') == _mig_names(state), message='slice published')
    wait_until(lambda: _gpu(core, 'gpu-1') == ({MIG_1G: '0'}, {MIG_1G: '0'}), timeout=15, message='capacity dropped')
    # An unchanged pod spec now gets its MIG device from the slice (KEP-5004), and gives it back when it goes.
    core.create_namespaced_pod('ml', _pod('same-spec', [('main', {MIG_1G: '1'})]))
    wait_until(lambda: core.read_namespaced_pod('same-spec', 'ml').status.phase == 'Running', message='same-spec running')
    status = core.read_namespaced_pod('same-spec', 'ml').status.extended_resource_claim_status
    claim = api.read_namespaced_resource_claim(status.resource_claim_name, 'ml')
    assert [(r.pool, r.device) for r in claim.status.allocation.devices.results] == [('gpu-1', _mig_names(state)[0])]
    core.delete_namespaced_pod('same-spec', 'ml')
    wait_until(lambda: api.list_namespaced_resource_claim('ml').items == [], message='special claim deleted')

    # And back: the DRA kubelet plugin stops, its slice stays until the kubelet's wiping delay, the device plugin returns.
    core.patch_node('gpu-1', {'metadata': {'labels': {DP_LABEL: 'true', DRA_LABEL: None}}})
    wait_until(lambda: _pods(core, DRA_NS, 'gpu-1') == [], message='DRA plugin pod stopped')
    assert _devices(api, 'gpu-1') == _mig_names(state)  # within slice_wipe_delay (2 s) of the stop
    wait_until(lambda: _devices(api, 'gpu-1') == [], timeout=15, message='slice wiped')
    wait_until(lambda: _gpu(core, 'gpu-1') == ({MIG_1G: '2'}, {MIG_1G: '2'}), timeout=15, message='device plugin resources again')
    assert len(_running(core, DP_NS, 'gpu-1')) == 1


def test_an_existing_allocator_dra_node_starts_with_the_labels_and_a_restart_keeps_its_slice(cluster, gpu_node):
    state = gpu_node('gpu-1', profiles='19,19')
    sim = cluster(base_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}], 'model',
                                   dra_driver={'slice_wipe_delay': 2.0}))
    core = clients(sim)[0]
    api = client.ResourceV1Api(sim.api_client())
    labels = core.read_node('gpu-1').metadata.labels
    assert (labels[DP_LABEL], labels[DRA_LABEL]) == ('false', 'true')
    assert _pods(core, DP_NS, 'gpu-1') == []
    names = _devices(api, 'gpu-1')
    assert names == _mig_names(state)
    # A plugin pod that comes back within the wiping delay keeps the slice (the kubelet cancels the wipe).
    old = _pods(core, DRA_NS, 'gpu-1')[0].metadata.name
    core.delete_namespaced_pod(old, DRA_NS)
    wait_until(lambda: [p for p in _running(core, DRA_NS, 'gpu-1') if p.metadata.name != old], message='new DRA plugin pod')
    slice_name = api.list_resource_slice().items[0].metadata.name
    time.sleep(2.5)
    assert [s.metadata.name for s in api.list_resource_slice().items] == [slice_name]


def test_both_plugins_on_one_node_and_the_classic_path_wins(cluster, gpu_node, implementation):
    """A node labelled for both runs both plugin pods (a misconfiguration the collection must detect): it advertises
    nvidia.com/mig-1g.5gb through the device plugin and the same MIG devices in a ResourceSlice. A pod asking for the
    resource there is served the classic way, because the node advertises it (kube-scheduler: allocatable > 0)."""
    state = gpu_node('gpu-1', profiles='19,19')
    desc = base_description([{'name': 'gpu-1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'mixed', DRA_LABEL: 'true'}}],
                            implementation, namespaces=['ml'], feature_gates={'DRAExtendedResource': True})
    desc['dra_driver'] = {'device_classes': [_profile_class('1g.5gb')]}
    sim = cluster(desc)
    core = clients(sim)[0]
    api = client.ResourceV1Api(sim.api_client())
    assert len(_running(core, DP_NS, 'gpu-1')) == 1 and len(_running(core, DRA_NS, 'gpu-1')) == 1
    wait_until(lambda: _gpu(core, 'gpu-1')[1] == {MIG_1G: '2'}, timeout=15, message='device plugin resources')
    assert _devices(api, 'gpu-1') == _mig_names(state)
    core.create_namespaced_pod('ml', _pod('classic', [('main', {MIG_1G: '1'})]))
    wait_until(lambda: core.read_namespaced_pod('classic', 'ml').status.phase == 'Running', message='classic running')
    pod = core.read_namespaced_pod('classic', 'ml')
    assert pod.spec.node_name == 'gpu-1' and pod.status.extended_resource_claim_status is None
    assert api.list_namespaced_resource_claim('ml').items == []


def test_extended_resources_are_served_by_dra_and_released(cluster, gpu_node):
    state = gpu_node('gpu-dra', profiles='19,19,14')
    desc = base_description([{'name': 'cpu-1'}, {'name': 'gpu-dra', 'nvml_state': state, 'allocator': 'dra'}], 'model', namespaces=['ml'],
                            feature_gates={'DRAExtendedResource': True})
    desc['dra_driver'] = {'device_classes': [_profile_class('1g.5gb'), _profile_class('2g.10gb')]}
    sim = cluster(desc)
    core = clients(sim)[0]
    api = client.ResourceV1Api(sim.api_client())
    ones = [n for n in _mig_names(state) if '-1g5gb-' in n]
    assert len(ones) == 2 and MIG_1G not in (core.read_node('gpu-dra').status.allocatable or {})

    # An unchanged pod spec: the scheduler creates the special claim and allocates it from the node's slice.
    core.create_namespaced_pod('ml', _pod('p1', [('main', {MIG_1G: '1'})]))
    wait_until(lambda: core.read_namespaced_pod('p1', 'ml').status.phase == 'Running', message='p1 running')
    p1 = core.read_namespaced_pod('p1', 'ml')
    assert p1.spec.node_name == 'gpu-dra'
    status = p1.status.extended_resource_claim_status
    claim = api.read_namespaced_resource_claim(status.resource_claim_name, 'ml')
    assert claim.metadata.name.startswith('p1-extended-resources-') and claim.metadata.generate_name == 'p1-extended-resources-'
    assert claim.metadata.annotations == {ANNOTATION: 'true'}
    assert [(o.kind, o.name, o.uid, o.controller, o.block_owner_deletion) for o in claim.metadata.owner_references] == [
        ('Pod', 'p1', p1.metadata.uid, True, True)]
    request = claim.spec.devices.requests[0]
    assert (request.name, request.exactly.device_class_name, request.exactly.allocation_mode, request.exactly.count) == (
        'container-0-request-0', 'mig-1g-5gb.gpu.nvidia.com', 'ExactCount', 1)
    assert [(r.request, r.driver, r.pool, r.device) for r in claim.status.allocation.devices.results] == [
        ('container-0-request-0', DRIVER, 'gpu-dra', ones[0])]
    assert [(r.name, r.uid) for r in claim.status.reserved_for] == [('p1', p1.metadata.uid)]
    assert [(m.container_name, m.resource_name, m.request_name) for m in status.request_mappings] == [
        ('main', MIG_1G, 'container-0-request-0')]

    # Request names: the container's index, then the resource's among its sorted request names (cpu comes first).
    core.create_namespaced_pod('ml', _pod('p2', [('side', {}), ('main', {'cpu': '1', 'nvidia.com/mig-2g.10gb': '1', MIG_1G: '1'})]))
    wait_until(lambda: core.read_namespaced_pod('p2', 'ml').status.phase == 'Running', message='p2 running')
    status = core.read_namespaced_pod('p2', 'ml').status.extended_resource_claim_status
    assert [(m.container_name, m.resource_name, m.request_name) for m in status.request_mappings] == [
        ('main', MIG_1G, 'container-1-request-1'), ('main', 'nvidia.com/mig-2g.10gb', 'container-1-request-2')]
    claim = api.read_namespaced_resource_claim(status.resource_claim_name, 'ml')
    assert sorted((r.request, r.device) for r in claim.status.allocation.devices.results) == [
        ('container-1-request-1', ones[1]), ('container-1-request-2', [n for n in _mig_names(state) if '-2g10gb-' in n][0])]

    # Nothing left: the DRA plugin of the scheduler cannot allocate; a resource no class maps is plainly insufficient.
    core.create_namespaced_pod('ml', _pod('p3', [('main', {MIG_1G: '1'})]))
    assert wait_until(lambda: _unschedulable(core, 'p3'), message='p3 pending') == '0/2 nodes are available: 2 cannot allocate all claims.'
    core.create_namespaced_pod('ml', _pod('p4', [('main', {'nvidia.com/mig-3g.20gb': '1'})]))
    assert wait_until(lambda: _unschedulable(core, 'p4'), message='p4 pending') == (
        '0/2 nodes are available: 2 Insufficient nvidia.com/mig-3g.20gb.')

    # Release: p1's claim goes with p1 (owned by it), and p3 gets the freed device.
    first = p1.status.extended_resource_claim_status.resource_claim_name
    core.delete_namespaced_pod('p1', 'ml')
    wait_until(lambda: first not in [c.metadata.name for c in api.list_namespaced_resource_claim('ml').items], message='claim of p1 deleted')
    wait_until(lambda: core.read_namespaced_pod('p3', 'ml').status.phase == 'Running', message='p3 running')
    claim = api.read_namespaced_resource_claim(core.read_namespaced_pod('p3', 'ml').status.extended_resource_claim_status.resource_claim_name, 'ml')
    assert [r.device for r in claim.status.allocation.devices.results] == [ones[0]]


def test_without_the_feature_gate_extended_resources_stay_with_the_device_plugin(cluster, gpu_node):
    """The gate is off by default (alpha before 1.36): the class's extendedResourceName is only stored."""
    state = gpu_node('gpu-dra', profiles='19,19')
    desc = base_description([{'name': 'gpu-dra', 'nvml_state': state, 'allocator': 'dra'}], 'model', namespaces=['ml'])
    desc['dra_driver'] = {'device_classes': [_profile_class('1g.5gb')]}
    sim = cluster(desc)
    core = clients(sim)[0]
    core.create_namespaced_pod('ml', _pod('p', [('main', {MIG_1G: '1'})]))
    assert wait_until(lambda: _unschedulable(core, 'p'), message='p pending') == '0/1 nodes are available: 1 Insufficient nvidia.com/mig-1g.5gb.'
    assert client.ResourceV1Api(sim.api_client()).list_namespaced_resource_claim('ml').items == []


@pytest.mark.parametrize('extra, message', [
    ({'feature_gates': {'DRAExtendedResources': True}}, 'feature_gates: DRAExtendedResources: True is not valid; valid: DRAExtendedResource'),
    ({'feature_gates': {'DRAExtendedResource': 'yes'}}, "feature_gates: DRAExtendedResource: 'yes' is not valid"),
    ({'dra_driver': {'node_selector': {}}}, 'dra_driver.node_selector must be a non-empty map of label to string value, got {}'),
])
def test_descriptions_the_simulator_refuses(tmp_path, extra, message):
    with pytest.raises(k8ssim.K8sSimError) as err:
        with k8ssim.Cluster(base_description([{'name': 'cpu-1'}], 'model', **extra), tmp_path / 'sim'):
            pass
    assert message in str(err.value)
