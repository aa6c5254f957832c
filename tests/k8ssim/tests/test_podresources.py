# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated kubelet's pod-resources API (sim_podresources.py): each GPU node with NVIDIA's device plugin serves
``v1.PodResourcesLister/List`` on its kubelet folder, listing the node's pods with the device ids the device manager
allocated to them from what the plugin advertised (MIG device UUIDs here), read through the collection's own client."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._podresources import list_pod_devices, pods_to_gpus
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
    pod_gpus, unknown = pods_to_gpus(answer, gpus)
    assert unknown == {} and sorted(pod_gpus) == train

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
