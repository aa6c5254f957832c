# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated kubelet's pod-resources API (sim_podresources.py): each GPU node with NVIDIA's device plugin serves
``v1.PodResourcesLister/List`` on its kubelet folder, listing the node's pods with the device ids the device manager
allocated to them from what the plugin advertised (MIG device UUIDs here), read through the collection's own client.
Each DRA node serves it too, listing the devices of the ResourceClaims each container uses (``dynamic_resources``)."""

from __future__ import absolute_import, division, print_function

import json
import os

import grpc
import pytest
from kubernetes import client

import sim_podresources
from ansible_collections.gpufleet.mig.plugins.module_utils._podresources import list_pod_devices, list_pod_resources, pods_to_gpus
from simhelpers import base_description, clients, nvidia_smi, nvidia_unavailable, simnode, wait_until


@pytest.fixture(name='nvidia')
def nvidia_fixture():
    reason = nvidia_unavailable()
    if reason:
        if os.environ.get('CI') == 'true':
            pytest.fail("CI must test the pod-resources API with NVIDIA's plugin, but: %s" % reason)
        pytest.skip(reason)


def _gpus(state):
    """The GPUs in gpu_info's shape (index, uuid, gpu_instances[].compute_instances[].uuid) from the fake NVML."""
    return json.loads(simnode('show', state, '--json'))['gpus']


def _settled(socket, pods):
    """The answer once every pod in ``pods`` is listed with its one MIG device (None before)."""
    answer = list_pod_devices(socket, timeout=5)
    done = all(len(answer.get(pod, {}).get('nvidia.com/mig-1g.5gb', [])) == 1 for pod in pods)
    return answer if done else None


def test_list_names_each_pods_mig_devices_and_frees_them_with_the_pod(cluster, gpu_node, nvidia):
    del nvidia
    state = gpu_node('g1', gpus='A100-SXM4-40GB:2')
    for index in ('0', '1'):
        nvidia_smi(state, 'mig', '-i', index, '-cgi', '1g.5gb,1g.5gb', '-C')
    desc = base_description([{'name': 'g1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'mixed'}}], 'nvidia',
                            workloads=[{'name': 'train', 'replicas': 3, 'resources': {'nvidia.com/mig-1g.5gb': 1}},
                                       {'name': 'web', 'replicas': 1}])
    sim = cluster(desc)
    core = clients(sim)[0]
    socket = sim.dump()['pod_resources_sockets']['g1']
    assert socket.endswith('/kubelet/pod-resources/kubelet.sock')
    wait_until(lambda: core.read_node('g1').status.allocatable.get('nvidia.com/mig-1g.5gb') == '4', timeout=20, message='4 MIG devices')
    train = sorted('default/' + p.metadata.name for p in core.list_namespaced_pod('default', label_selector='app=train').items)
    assert len(train) == 3
    answer = wait_until(lambda: _settled(socket, train), timeout=10, message='devices allocated')

    gpus = _gpus(state)
    mig_uuids = set(ci['uuid'] for gpu in gpus for gi in gpu['gpu_instances'] for ci in gi['compute_instances'])
    held = [answer[pod]['nvidia.com/mig-1g.5gb'][0] for pod in train]
    assert len(set(held)) == 3 and set(held) <= mig_uuids
    web = [pod for pod in answer if pod.startswith('default/web-')]
    assert len(web) == 1 and answer[web[0]] == {}
    # The device plugin pod is listed too, holding nothing.
    assert any(pod.startswith('gpu-operator/nvidia-device-plugin-daemonset-') for pod in answer)
    pod_gpus, unknown, unmapped = pods_to_gpus(answer, gpus)
    assert unknown == {} and unmapped == [] and sorted(pod_gpus) == train

    # A deleted pod's device goes back: its replacement may get it, and no two pods ever share one.
    gone = train[0]
    core.delete_namespaced_pod(gone.split('/')[1], 'default', grace_period_seconds=0)

    def live():
        return sorted('default/' + p.metadata.name for p in core.list_namespaced_pod('default', label_selector='app=train').items
                      if p.metadata.deletion_timestamp is None)

    wait_until(lambda: gone not in live() and len(live()) == 3 and _settled(socket, live()), timeout=10, message='replacement allocated')
    after = live()
    answer = list_pod_devices(socket, timeout=5)
    assert gone not in answer
    devices = [answer[pod]['nvidia.com/mig-1g.5gb'][0] for pod in after]
    assert len(set(devices)) == 3 and set(devices) <= mig_uuids


def test_socket_gone_with_the_simulation(cluster, gpu_node, nvidia):
    del nvidia
    state = gpu_node('g1', gpus='A100-SXM4-40GB:1', mig='none')
    sim = cluster(base_description([{'name': 'g1', 'nvml_state': state}], 'nvidia'))
    socket = sim.dump()['pod_resources_sockets']['g1']
    assert list_pod_devices(socket, timeout=5) is not None
    sim.stop()
    assert not os.path.exists(socket)


def _raw_list(socket):
    """The List answer decoded with the simulator's full declaration of the messages (CDI ids included)."""
    messages = sim_podresources.MESSAGES
    with grpc.insecure_channel('unix:' + socket) as channel:
        call = channel.unary_unary('/v1.PodResourcesLister/List', request_serializer=messages['ListPodResourcesRequest'].SerializeToString,
                                   response_deserializer=messages['ListPodResourcesResponse'].FromString)
        return call(messages['ListPodResourcesRequest'](), timeout=5)


def test_a_dra_node_lists_the_devices_of_each_containers_claims(cluster, gpu_node):
    """A100-40GB x2 under NVIDIA's DRA driver: GPU 0 MIG-enabled with 1g.5gb and 2g.10gb, GPU 1 whole. One pod holds
    the 1g.5gb through a claim made from a template, one the whole GPU through a claim of its own, one pod uses no
    claim; a CPU pod's claim-less container is listed with nothing."""
    state = gpu_node('g1', gpus='A100-SXM4-40GB:2', mig='0', profiles='1g.5gb,2g.10gb')
    one_1g = {'name': 'mig', 'exactly': {'deviceClassName': 'mig.nvidia.com', 'selectors': [
        {'cel': {'expression': 'device.attributes["gpu.nvidia.com"].profile == "1g.5gb"'}}]}}
    desc = base_description([{'name': 'g1', 'nvml_state': state, 'allocator': 'dra'}], 'model',
                            resource_claim_templates=[{'name': 'one-1g', 'namespace': 'ml', 'spec': {'spec': {'devices': {'requests': [one_1g]}}}}],
                            workloads=[{'name': 'infer', 'namespace': 'ml', 'replicas': 1,
                                        'resource_claims': [{'name': 'gpu', 'resourceClaimTemplateName': 'one-1g'}]},
                                       {'name': 'web', 'namespace': 'ml', 'replicas': 1}])
    sim = cluster(desc)
    core = clients(sim)[0]
    resource = client.ResourceV1Api(sim.api_client())
    socket = sim.dump()['pod_resources_sockets']['g1']
    resource.create_namespaced_resource_claim('ml', {
        'apiVersion': 'resource.k8s.io/v1', 'kind': 'ResourceClaim', 'metadata': {'name': 'whole'},
        'spec': {'devices': {'requests': [{'name': 'gpu', 'exactly': {'deviceClassName': 'gpu.nvidia.com'}}]}}})
    core.create_namespaced_pod('ml', {
        'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'trainer'},
        'spec': {'resourceClaims': [{'name': 'gpu', 'resourceClaimName': 'whole'}], 'terminationGracePeriodSeconds': 0,
                 'containers': [{'name': 'main', 'image': 'pause', 'resources': {'claims': [{'name': 'gpu'}]}},
                                {'name': 'side', 'image': 'pause'}]}})
    wait_until(lambda: core.read_namespaced_pod('trainer', 'ml').status.phase == 'Running', timeout=10, message='trainer running')

    infer = core.list_namespaced_pod('ml', label_selector='app=infer').items[0]
    generated = infer.status.resource_claim_statuses[0].resource_claim_name
    claims = dict((c.metadata.name, c) for c in resource.list_namespaced_resource_claim('ml').items)
    expected = {}
    for pod, claim in (('ml/' + infer.metadata.name, generated), ('ml/trainer', 'whole')):
        results = claims[claim].status.allocation.devices.results
        expected[pod] = [{'claim': 'ml/' + claim, 'driver': r.driver, 'pool': r.pool, 'device': r.device} for r in results]
    # What the API says was allocated, and what NVIDIA's plugin names the devices (gpu-<minor>...) on pool g1.
    assert [e['device'] for e in expected['ml/' + infer.metadata.name]] == ['gpu-0-mig-1g5gb-19-6']
    assert [(e['driver'], e['pool'], e['device']) for e in expected['ml/trainer']] == [('gpu.nvidia.com', 'g1', 'gpu-1')]

    wait_until(lambda: len(list_pod_resources(socket, timeout=5)[1]) == 2, timeout=10, message='both claims listed')
    devices, held = list_pod_resources(socket, timeout=5)
    assert held == expected
    # No device plugin on a DRA node: every pod is listed, none with device-plugin devices.
    assert all(value == {} for value in devices.values())
    assert sorted(pod for pod in devices if pod.startswith('ml/')) == sorted(['ml/' + infer.metadata.name, 'ml/trainer'] + [
        'ml/' + p.metadata.name for p in core.list_namespaced_pod('ml', label_selector='app=web').items])

    # As a kubelet lists it: per container, only the claims it uses, with the CDI device NVIDIA's plugin prepares.
    raw = dict(('%s/%s' % (p.namespace, p.name), p) for p in _raw_list(socket).pod_resources)
    trainer = dict((c.name, c) for c in raw['ml/trainer'].containers)
    assert len(trainer['side'].dynamic_resources) == 0
    (dynamic,) = trainer['main'].dynamic_resources
    assert (dynamic.claim_namespace, dynamic.claim_name) == ('ml', 'whole')
    (device,) = dynamic.claim_resources
    uid = claims['whole'].metadata.uid
    assert [c.name for c in device.cdi_devices] == ['k8s.gpu.nvidia.com/claim=%s-gpu-1' % uid]

    # The pod goes: the kubelet no longer lists it, and its claim is released.
    core.delete_namespaced_pod('trainer', 'ml', grace_period_seconds=0)
    wait_until(lambda: 'ml/trainer' not in list_pod_resources(socket, timeout=5)[1], timeout=10, message='trainer gone from the answer')
