# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pod-resources client against real gRPC servers on temporary unix sockets (the simulated kubelet's, whose
messages declare every field of podresources/v1), the device id -> GPU mapping, and the drain's selection."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import socket as socketlib
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._drain import classify_pods, pods_on_gpus, spare_untouched_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._podresources import (
    PodResourcesUnavailable, list_pod_devices, list_pod_resources, pods_to_gpus, pods_to_instances)

sys.path.insert(0, os.path.join(os.environ.get('GPUFLEET_ROOT', os.getcwd()), 'tests', 'k8ssim'))
import sim_podresources  # noqa: E402  pylint: disable=wrong-import-position

GPU0, GPU1 = 'GPU-00000000-0000-0000-0000-000000000000', 'GPU-11111111-1111-1111-1111-111111111111'
MIG0A, MIG1A, MIG1B = 'MIG-0a', 'MIG-1a', 'MIG-1b'
GPUS = [
    {'index': 0, 'uuid': GPU0, 'gpu_instances': [{'compute_instances': [{'uuid': MIG0A}]}]},
    {'index': 1, 'uuid': GPU1, 'gpu_instances': [{'compute_instances': [{'uuid': MIG1A}]}, {'compute_instances': [{'uuid': MIG1B}]}]},
]


@pytest.fixture(name='folder')
def folder_fixture():
    # Unix socket paths are limited to 107 bytes: a short folder, not pytest's tmp_path.
    path = tempfile.mkdtemp(prefix='podres-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _serve(path, handler):
    """A gRPC server on unix socket ``path`` answering v1.PodResourcesLister/List with ``handler(request, context)``."""
    messages = sim_podresources.MESSAGES
    generic = grpc.method_handlers_generic_handler('v1.PodResourcesLister', {'List': grpc.unary_unary_rpc_method_handler(
        handler, request_deserializer=messages['ListPodResourcesRequest'].FromString,
        response_serializer=messages['ListPodResourcesResponse'].SerializeToString)})
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((generic,))
    server.add_insecure_port('unix:' + path)
    server.start()
    return server


def test_list_reads_every_pod_and_merges_containers_skipping_fields_it_does_not_declare(folder):
    path = os.path.join(folder, 'kubelet.sock')

    def answer(request, context):
        del request, context
        response = sim_podresources.MESSAGES['ListPodResourcesResponse']()
        pod = response.pod_resources.add(namespace='research', name='train-0')
        main = pod.containers.add(name='main', cpu_ids=[2, 3])
        main.devices.add(resource_name='nvidia.com/mig-1g.5gb', device_ids=[MIG1A]).topology.nodes.add(ID=1)
        main.memory.add(memory_type='memory', size=1 << 30)
        side = pod.containers.add(name='side')
        side.devices.add(resource_name='nvidia.com/mig-1g.5gb', device_ids=[MIG1B, MIG1A])
        response.pod_resources.add(namespace='web', name='nginx').containers.add(name='nginx')
        return response

    server = _serve(path, answer)
    try:
        assert list_pod_devices(path, timeout=5) == {
            'research/train-0': {'nvidia.com/mig-1g.5gb': [MIG1A, MIG1B]},
            'web/nginx': {},
        }
    finally:
        server.stop(0)


def test_dra_devices_are_read_per_pod_once_with_their_claims(folder):
    """dynamic_resources as a 1.34 kubelet sends it (the simulator's full messages: CDI ids too), read by the client's
    own declaration; a claim two containers share is one entry per device."""
    whole = ('gpu.nvidia.com', 'n1', 'gpu-0', ['k8s.gpu.nvidia.com/claim=u1-gpu-0'])
    mig = ('gpu.nvidia.com', 'n1', 'gpu-1-mig-1g10gb-me-20-0', ['k8s.gpu.nvidia.com/claim=u2-gpu-1-mig-1g10gb-me-20-0'])
    nic = ('nic.example.com', 'n1', 'eth1', [])
    server = sim_podresources.PodResourcesServer('n1', folder, lambda: [
        ('ml', 'a', [('main', {}, [('ml', 'a-gpu-x1', [whole])]), ('side', {}, [('ml', 'a-gpu-x1', [whole])])]),
        ('ml', 'b', [('main', {'nvidia.com/gpu': [GPU1]}, [('ml', 'shared', [mig, nic])])]),
        ('ml', 'c', [('main', {})])]).start()
    try:
        devices, claims = list_pod_resources(server.socket, timeout=5)
    finally:
        server.stop()
    assert devices == {'ml/a': {}, 'ml/b': {'nvidia.com/gpu': [GPU1]}, 'ml/c': {}}
    assert claims == {
        'ml/a': [{'claim': 'ml/a-gpu-x1', 'driver': 'gpu.nvidia.com', 'pool': 'n1', 'device': 'gpu-0'}],
        'ml/b': [{'claim': 'ml/shared', 'driver': 'gpu.nvidia.com', 'pool': 'n1', 'device': 'gpu-1-mig-1g10gb-me-20-0'},
                 {'claim': 'ml/shared', 'driver': 'nic.example.com', 'pool': 'n1', 'device': 'eth1'}]}


def test_the_simulated_kubelets_server_answers_the_client(folder):
    server = sim_podresources.PodResourcesServer('n1', folder, lambda: [
        ('ml', 'a', [('main', {'nvidia.com/gpu': [GPU0]})]), ('ml', 'b', [('main', {})])]).start()
    try:
        assert list_pod_devices(server.socket, timeout=5) == {'ml/a': {'nvidia.com/gpu': [GPU0]}, 'ml/b': {}}
    finally:
        server.stop()
    assert not os.path.exists(server.socket)


def test_a_missing_socket_is_a_reason_not_a_traceback(folder):
    with pytest.raises(PodResourcesUnavailable, match=r'pod-resources socket .*/kubelet.sock does not exist'):
        list_pod_devices(os.path.join(folder, 'kubelet.sock'), timeout=1)


def test_a_socket_nobody_listens_on_is_unavailable(folder):
    path = os.path.join(folder, 'kubelet.sock')
    stale = socketlib.socket(socketlib.AF_UNIX)
    stale.bind(path)  # bound, never listening: what a dead kubelet leaves behind
    try:
        with pytest.raises(PodResourcesUnavailable, match=r'did not answer List \(UNAVAILABLE\)'):
            list_pod_devices(path, timeout=2)
    finally:
        stale.close()


def test_a_kubelet_that_does_not_answer_in_time_times_out(folder):
    path = os.path.join(folder, 'kubelet.sock')

    def slow(request, context):
        del request, context
        time.sleep(2)
        return sim_podresources.MESSAGES['ListPodResourcesResponse']()

    server = _serve(path, slow)
    try:
        started = time.monotonic()
        with pytest.raises(PodResourcesUnavailable, match=r'DEADLINE_EXCEEDED'):
            list_pod_devices(path, timeout=0.3)
        assert time.monotonic() - started < 1.5
    finally:
        server.stop(0)


def test_a_kubelet_without_the_service_is_unavailable(folder):
    path = os.path.join(folder, 'kubelet.sock')
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    server.add_insecure_port('unix:' + path)
    server.start()
    try:
        with pytest.raises(PodResourcesUnavailable, match=r'UNIMPLEMENTED'):
            list_pod_devices(path, timeout=2)
    finally:
        server.stop(0)


def test_without_grpc_the_reason_names_the_packages(folder):
    script = ('import sys\nsys.modules["grpc"] = None\n'
              'from ansible_collections.gpufleet.mig.plugins.module_utils._podresources import list_pod_devices, PodResourcesUnavailable\n'
              'try:\n    list_pod_devices(%r)\nexcept PodResourcesUnavailable as exc:\n    print(exc)\n' % os.path.join(folder, 'x.sock'))
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, check=True).stdout
    assert 'cannot read the pod-resources API' in out and 'grpcio and protobuf are needed on the node' in out


def test_devices_map_to_their_gpus():
    pods = {
        'a/full': {'nvidia.com/gpu': [GPU0]},
        'a/mig': {'nvidia.com/mig-1g.5gb': [MIG1A, MIG1B]},
        'a/both': {'nvidia.com/gpu': [GPU0], 'nvidia.com/mig-1g.5gb': [MIG1B]},
        'a/replica': {'nvidia.com/gpu.shared': [GPU1 + '::3']},
        'a/old-driver': {'nvidia.com/mig-1g.5gb': ['MIG-%s/7/0' % GPU1]},
        'a/stranger': {'nvidia.com/gpu': [GPU0, 'GPU-unknown']},
        'a/nic': {'example.com/nic': ['eth9']},
        'a/none': {},
    }
    pod_gpus, unknown, unmapped = pods_to_gpus(pods, GPUS)
    assert pod_gpus == {'a/full': [0], 'a/mig': [1], 'a/both': [0, 1], 'a/replica': [1], 'a/old-driver': [1]}
    assert unknown == {'a/stranger': ['GPU-unknown']} and unmapped == []


# GPU instances with ids and placements, as gpu_info returns them: GPU 1 has GI 1 at slice 0 and GI 2 at slice 4, two
# compute instances on GI 2.
PLACED = [
    {'index': 0, 'uuid': GPU0, 'gpu_instances': []},
    {'index': 1, 'uuid': GPU1, 'gpu_instances': [
        {'id': 1, 'placement': {'start': 0, 'size': 4}, 'compute_instances': [{'uuid': MIG1A}]},
        {'id': 2, 'placement': {'start': 4, 'size': 4}, 'compute_instances': [{'uuid': MIG1B}, {'uuid': 'MIG-1c'}]}]},
]


def test_mig_devices_map_to_their_gpu_instances():
    pods = {
        'a/one': {'nvidia.com/mig-4g.40gb': [MIG1B]},
        'a/two': {'nvidia.com/mig-4g.40gb': [MIG1A], 'nvidia.com/mig-1c.4g.40gb': ['MIG-1c::2']},
        'a/old-driver': {'nvidia.com/mig-4g.40gb': ['MIG-%s/1/0' % GPU1]},
        # GI 9 is not in gpu_info's answer: its GPU is known, where on it is not.
        'a/old-unknown-gi': {'nvidia.com/mig-4g.40gb': ['MIG-%s/9/0' % GPU1]},
        'a/stranger': {'nvidia.com/mig-4g.40gb': [MIG1A, 'MIG-gone']},
        # A full GPU is no GPU instance; other resources are not counted.
        'a/full': {'nvidia.com/gpu': [GPU0]},
        'a/nic': {'example.com/nic': ['eth9']},
    }
    pod_instances, unknown = pods_to_instances(pods, PLACED)
    assert pod_instances == {'a/one': [(1, 4)], 'a/two': [(1, 0), (1, 4)], 'a/old-driver': [(1, 0)]}
    assert unknown == {'a/old-unknown-gi': ['MIG-%s/9/0' % GPU1], 'a/stranger': ['MIG-gone']}
    # The same devices through pods_to_gpus: one parser, the GPU of each.
    pod_gpus, unknown, dummy = pods_to_gpus(pods, PLACED)
    assert pod_gpus['a/old-unknown-gi'] == [1] and pod_gpus['a/two'] == [1] and unknown == {'a/stranger': ['MIG-gone']}
    assert pods_to_instances(pods, PLACED, prefixes=('nvidia.com/gpu',))[1] == {'a/full': [GPU0]}


def _pod(name, gpu=True, node='n1'):
    resources = {'limits': {'nvidia.com/mig-1g.5gb': '1'}} if gpu else {}
    return {'metadata': {'namespace': 'a', 'name': name, 'uid': name}, 'spec': {'nodeName': node, 'containers': [{'resources': resources}]},
            'status': {'phase': 'Running'}}


def test_only_pods_on_changing_gpus_are_evicted_and_uncovered_ones_are_evicted_too():
    pods = [_pod('on0'), _pod('on1'), _pod('on0and1'), _pod('uncovered'), _pod('cpu', gpu=False)]
    to_evict, skipped = classify_pods(pods)
    evict, skipped = spare_untouched_gpus(to_evict, skipped, [1], {'a/on0': [0], 'a/on1': [1], 'a/on0and1': [0, 1], 'a/cpu': [0]})
    assert [p['metadata']['name'] for p in evict] == ['on0and1', 'on1', 'uncovered']
    assert skipped == {'a/on0': 'holds only GPUs that do not change (0)', 'a/cpu': 'uses no GPU'}
    # No GPU changes: every covered GPU pod stays.
    evict, dummy = spare_untouched_gpus(to_evict, {}, [], {'a/on0': [0], 'a/on1': [1], 'a/on0and1': [0, 1]})
    assert [p['metadata']['name'] for p in evict] == ['uncovered']


# Minor numbers that are not the indexes, as on a node whose GPUs the driver numbered in another order.
MINORS = [dict(GPUS[0], minor_number=3), dict(GPUS[1], minor_number=1)]


def _held(claim, device, driver='gpu.nvidia.com'):
    return {'claim': claim, 'driver': driver, 'pool': 'n1', 'device': device}


def test_dra_devices_map_to_their_gpus_by_the_minor_in_their_names():
    claims = {
        'a/whole': [_held('a/c1', 'gpu-3')],
        'a/mig': [_held('a/c2', 'gpu-1-mig-1g10gb-me-20-0'), _held('a/c2', 'gpu-1-mig-3g40gb-9-4')],
        'a/both': [_held('a/c3', 'gpu-3')],
        # Other drivers' devices are no GPUs: a pod holding only those holds no GPU.
        'a/nic': [_held('a/c4', 'gpu-1', driver='nic.example.com')],
        'a/vfio': [_held('a/c5', 'gpu-3'), _held('a/c5', 'gpu-vfio-0')],
        'a/gone': [_held('a/c6', 'gpu-7-mig-1g5gb-19-0')],
    }
    pods = {'a/both': {'nvidia.com/gpu': [GPU1]}, 'a/web': {}}
    pod_gpus, unknown, unmapped = pods_to_gpus(pods, MINORS, claims=claims)
    assert pod_gpus == {'a/whole': [0], 'a/mig': [1], 'a/both': [0, 1]}
    assert unknown == {'a/vfio': ['gpu.nvidia.com/n1/gpu-vfio-0'], 'a/gone': ['gpu.nvidia.com/n1/gpu-7-mig-1g5gb-19-0']}
    assert unmapped == [
        'pod a/gone, claim a/c6: device gpu.nvidia.com/n1/gpu-7-mig-1g5gb-19-0: minor number 7 is the minor number of no GPU '
        'of gpus (GPU 1: 1, GPU 0: 3)',
        'pod a/vfio, claim a/c5: device gpu.nvidia.com/n1/gpu-vfio-0: the name is neither gpu-<minor> nor '
        'gpu-<minor>-mig-<profile>-<GI profile id>-<placement start>, so it names no GPU']
    # Without minor numbers (an older gpu_info answer) no DRA device can be placed.
    assert pods_to_gpus({}, GPUS, claims={'a/whole': [_held('a/c1', 'gpu-0')]})[2] == [
        'pod a/whole, claim a/c1: device gpu.nvidia.com/n1/gpu-0: minor number 0 is the minor number of no GPU of gpus (none has one)']


def test_dra_mig_devices_map_to_their_gpu_instances_by_placement_start():
    gpus = [dict(PLACED[0], minor_number=0), dict(PLACED[1], minor_number=1)]
    claims = {'a/one': [_held('a/c', 'gpu-1-mig-4g40gb-5-4')], 'a/whole': [_held('a/w', 'gpu-0')]}
    assert pods_to_instances({}, gpus, claims=claims) == ({'a/one': [(1, 4)]}, {'a/whole': ['gpu.nvidia.com/n1/gpu-0']})


def test_a_dra_device_that_names_no_gpu_makes_the_drain_node_wide_and_says_why():
    answer = {'available': True, 'reason': None, 'pod_gpus': {'a/x': [0]},
              'unmapped_dra_devices': ['pod a/v, claim a/c: device gpu.nvidia.com/n1/gpu-vfio-0: the name is neither ...']}
    pod_gpus, why = pods_on_gpus(answer)
    assert pod_gpus is None
    assert why == ('the kubelet lists DRA devices that name no GPU of gpus: pod a/v, claim a/c: device '
                   'gpu.nvidia.com/n1/gpu-vfio-0: the name is neither ...')
    assert pods_on_gpus(dict(answer, unmapped_dra_devices=[])) == ({'a/x': [0]}, None)
    with pytest.raises(ValueError, match=r'unmapped_dra_devices: a list of sentences\); got unmapped_dra_devices=.gpu-9.'):
        pods_on_gpus(dict(answer, unmapped_dra_devices='gpu-9'))
