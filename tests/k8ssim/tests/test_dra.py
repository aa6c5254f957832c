# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dynamic Resource Allocation in k8ssim: resource.k8s.io/v1 served to the real kubernetes client and kubectl, the
ResourceSlices NVIDIA's DRA kubelet plugin (gpu.nvidia.com) publishes from a node's fake NVML (whole GPUs, static MIG
devices named by placement, stranded GPUs, stale until the plugin pod restarts), claims allocated and released, RBAC.

Expected values come from the fake NVML's own view (``simnode show --json``) and from NVIDIA's MIG user guide tables
(SMs, copy engines and decoders per A100 profile), not from the simulator's code."""

from __future__ import absolute_import, division, print_function

import json
import shutil
import subprocess
import time

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

import k8ssim
from simhelpers import base_description, clients, nvidia_smi, simnode, wait_until

DRA_NS = 'dra-driver-nvidia-gpu'
PLUGIN_SELECTOR = 'dra-driver-nvidia-gpu-component=kubelet-plugin'
DRIVER = 'gpu.nvidia.com'
MIG_1G = {'cel': {'expression': 'device.attributes["gpu.nvidia.com"].profile == "1g.5gb"'}}


def _state(tmp_path, name, gpus, mig, profiles=None, gpu_index='0'):
    state = str(tmp_path / ('%s.state' % name))
    simnode('create', state, '--name', name, '--gpu', gpus, '--driver', '550.54.15', '--mig-enabled', mig)
    if profiles:
        nvidia_smi(state, 'mig', '-i', gpu_index, '-cgi', profiles, '-C')
    return state


def _show(state):
    return json.loads(simnode('show', state, '--json'))


def _description(nodes, **extra):
    return base_description(nodes, implementation='model', **extra)


def _resource_api(sim):
    return client.ResourceV1Api(sim.api_client())


def _slices(api, node):
    return api.list_resource_slice(field_selector='spec.nodeName=%s,spec.driver=%s' % (node, DRIVER)).items


def _device_names(api, node):
    found = _slices(api, node)
    return [d.name for s in found for d in s.spec.devices or []]


def _plugin_pods(core, node):
    pods = core.list_namespaced_pod(DRA_NS, label_selector=PLUGIN_SELECTOR, field_selector='spec.nodeName=%s' % node).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def _mig_names(state, gpu=0):
    """The names NVIDIA's driver gives the GPU's MIG devices, from the fake NVML's own view (profile, GI profile ID and
    placement start of each GPU instance), in name order."""
    return sorted('gpu-%d-mig-%s-%d-%d' % (gpu, gi['profile'].replace('.', '').replace('+', '-'), gi['profile_id'], gi['start'])
                  for gi in _show(state)['gpus'][gpu]['gpu_instances'])


def _relayout(state, gpu, profiles):
    nvidia_smi(state, 'mig', '-i', gpu, '-dci', check=False)
    nvidia_smi(state, 'mig', '-i', gpu, '-dgi', check=False)
    nvidia_smi(state, 'mig', '-i', gpu, '-cgi', profiles, '-C')


def test_slice_has_whole_gpus_and_static_mig_devices_named_by_placement(cluster, tmp_path):
    """A100-40GB: GPU 0 MIG-enabled with 1g.5gb, 2g.10gb and 3g.20gb; GPU 1 MIG off."""
    state = _state(tmp_path, 'a100', 'A100-SXM4-40GB:2', '0', '1g.5gb,2g.10gb,3g.20gb')
    show = _show(state)
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}, {'name': 'cpu-1'}]))
    api = _resource_api(sim)
    found = _slices(api, 'gpu-1')
    assert len(found) == 1
    one = found[0]
    node = clients(sim)[0].read_node('gpu-1')
    assert one.metadata.name.startswith('0-gpu.nvidia.com-gpu-1-')
    assert [(o.kind, o.name, o.uid, o.controller) for o in one.metadata.owner_references] == [('Node', 'gpu-1', node.metadata.uid, True)]
    assert (one.spec.driver, one.spec.node_name, one.spec.pool.name, one.spec.pool.generation, one.spec.pool.resource_slice_count) == (
        DRIVER, 'gpu-1', 'gpu-1', 1, 1)
    gpu0, gpu1 = show['gpus']
    expected = {}
    for gi in gpu0['gpu_instances']:
        expected['gpu-0-mig-%s-%d-%d' % (gi['profile'].replace('.', ''), gi['profile_id'], gi['start'])] = gi
    assert sorted(expected) == ['gpu-0-mig-1g5gb-19-6', 'gpu-0-mig-2g10gb-14-4', 'gpu-0-mig-3g20gb-9-0']
    devices = dict((d.name, d) for d in one.spec.devices)
    assert sorted(devices) == sorted(expected) + ['gpu-1']

    whole = devices['gpu-1']
    attrs = dict((k, v.to_dict()) for k, v in whole.attributes.items())
    assert attrs['type']['string'] == 'gpu' and attrs['uuid']['string'] == gpu1['uuid']
    assert attrs['productName']['string'] == gpu1['name'] == 'NVIDIA A100-SXM4-40GB'
    assert attrs['architecture']['string'] == 'Ampere'
    assert attrs['cudaComputeCapability']['version'] == '8.0.0'
    assert attrs['driverVersion']['version'] == '550.54.15'
    assert attrs['cudaDriverVersion']['version'] == '%d.%d.0' % (show['cuda_version'] // 1000, show['cuda_version'] % 1000 // 10)
    assert attrs['resource.kubernetes.io/pciBusID']['string'] == gpu1['pci_bus_id'][4:].lower()
    assert 'brand' not in attrs  # the fake NVML has no nvmlDeviceGetBrand (README: uncertain)
    assert gpu1['memory_total_mib'] == 40 * 1024 and whole.capacity['memory'].value == '40Gi'

    # NVIDIA's MIG user guide, A100-40GB: SMs, copy engines, decoders, JPEG and OFA per profile.
    guide = {'1g.5gb': (14, 1, 0, 0, 0), '2g.10gb': (28, 2, 1, 0, 0), '3g.20gb': (42, 3, 2, 0, 0)}
    for name, gi in expected.items():
        device = devices[name]
        attrs = dict((k, v.to_dict()) for k, v in device.attributes.items())
        ci = gi['compute_instances'][0]
        assert attrs['type']['string'] == 'mig' and attrs['profile']['string'] == gi['profile']
        assert attrs['uuid']['string'] == ci['uuid'] and attrs['parentUUID']['string'] == gpu0['uuid']
        assert attrs['productName']['string'] == gpu0['name'] and attrs['architecture']['string'] == 'Ampere'
        assert attrs['resource.kubernetes.io/pciBusID']['string'] == gpu0['pci_bus_id'][4:].lower()
        capacity = dict((k, v.value) for k, v in device.capacity.items())
        sms, copy, dec, jpeg, ofa = guide[gi['profile']]
        slices = ['memorySlice%d' % i for i in range(gi['start'], gi['start'] + gi['size'])]
        assert capacity == dict({'multiprocessors': str(sms), 'copyEngines': str(copy), 'decoders': str(dec), 'encoders': '0',
                                 'jpegEngines': str(jpeg), 'ofaEngines': str(ofa), 'memory': '%dMi' % gi['memory_mib']},
                                **dict((s, '1') for s in slices))


@pytest.mark.parametrize('model, profiles, names', [
    ('H100-SXM5-80GB', '1g.10gb:0,1g.10gb:2,3g.40gb', ['gpu-0-mig-1g10gb-19-0', 'gpu-0-mig-1g10gb-19-2', 'gpu-0-mig-3g40gb-9-4']),
    ('A30', '2g.12gb,1g.6gb,1g.6gb', ['gpu-0-mig-1g6gb-14-2', 'gpu-0-mig-1g6gb-14-3', 'gpu-0-mig-2g12gb-5-0']),
    ('H100-SXM5-80GB', '1g.10gb+me,7g.80gb', None),
])
def test_names_encode_profile_id_and_placement_on_several_models(cluster, tmp_path, model, profiles, names):
    if names is None:
        # 7g.80gb does not fit beside another instance: the +me profile alone.
        profiles = '1g.10gb+me'
    state = _state(tmp_path, 'n', '%s:1' % model, '0', profiles)
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}]))
    found = _device_names(_resource_api(sim), 'gpu-1')
    assert found == _mig_names(state)
    if names is not None:
        assert found == names
    else:
        assert len(found) == 1 and found[0].startswith('gpu-0-mig-1g10gb-me-')  # toRFC1123Compliant: '+' becomes '-'


def test_stranded_gpu_publishes_nothing_and_a_split_gpu_instance_stops_the_plugin(cluster, tmp_path):
    stranded = _state(tmp_path, 'stranded', 'A100-SXM4-40GB:2', 'all', '1g.5gb', gpu_index='1')
    split = _state(tmp_path, 'split', 'A100-SXM4-40GB:1', 'all')
    nvidia_smi(split, 'mig', '-i', '0', '-cgi', '3g.20gb')
    gi_id = _show(split)['gpus'][0]['gpu_instances'][0]['id']
    nvidia_smi(split, 'mig', '-i', '0', '-cci', '0,0,0', '-gi', str(gi_id))  # three 1c.3g.20gb compute instances
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': stranded, 'allocator': 'dra'},
                                {'name': 'gpu-2', 'nvml_state': split, 'allocator': 'dra'}]))
    api = _resource_api(sim)
    # GPU 0 is MIG-enabled without instances: neither the whole GPU nor any MIG device.
    assert _device_names(api, 'gpu-1') == ['gpu-1-mig-1g5gb-19-6']
    core = clients(sim)[0]
    pod = _plugin_pods(core, 'gpu-2')[0]
    status = pod.status.container_statuses[0]
    assert status.state.waiting.reason == 'CrashLoopBackOff'
    assert 'error getting profile info for MIG device: MIG-' in status.last_state.terminated.message
    assert _slices(api, 'gpu-2') == []


def test_slices_stay_stale_until_the_plugin_pod_restarts(cluster, tmp_path):
    state = _state(tmp_path, 'n', 'A100-SXM4-40GB:1', 'all', '1g.5gb,1g.5gb')
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}]))
    api = _resource_api(sim)
    core = clients(sim)[0]
    before = _slices(api, 'gpu-1')[0]
    assert [d.name for d in before.spec.devices] == _mig_names(state)
    assert len(before.spec.devices) == 2
    _relayout(state, '0', '3g.20gb,2g.10gb')
    relaid = _mig_names(state)
    assert [n.split('-')[3] for n in relaid] == ['2g10gb', '3g20gb']
    time.sleep(0.5)  # ten ticks
    assert _slices(api, 'gpu-1')[0].metadata.resource_version == before.metadata.resource_version
    old = _plugin_pods(core, 'gpu-1')[0]
    core.delete_namespaced_pod(old.metadata.name, DRA_NS)
    wait_until(lambda: _device_names(api, 'gpu-1') == relaid, message='republished slice')
    after = _slices(api, 'gpu-1')[0]
    # The slice controller updates its one slice in place; one changed slice keeps the pool generation.
    assert after.metadata.name == before.metadata.name and after.spec.pool.generation == 1
    new = _plugin_pods(core, 'gpu-1')[0]
    assert new.metadata.name != old.metadata.name and new.status.phase == 'Running'
    # A restart that finds the same devices writes nothing.
    version = after.metadata.resource_version
    core.delete_namespaced_pod(new.metadata.name, DRA_NS)
    wait_until(lambda: [p for p in _plugin_pods(core, 'gpu-1') if p.metadata.name != new.metadata.name and p.status.phase == 'Running'],
               message='third plugin pod running')
    assert _slices(api, 'gpu-1')[0].metadata.resource_version == version


def test_plugin_faults_crash_loop_and_slow_restart_until_cleared(cluster, tmp_path):
    """/_sim/dra-plugin/<node>: a plugin that fails to start crash-loops and publishes nothing new; one that starts late
    keeps the old slice meanwhile; clearing the fault lets the next start publish the node's devices."""
    state = _state(tmp_path, 'n', 'A100-SXM4-40GB:1', 'all', '1g.5gb,1g.5gb')
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}]))
    api, core = _resource_api(sim), clients(sim)[0]
    with pytest.raises(k8ssim.K8sSimError, match='start_error'):
        sim.control('PUT', '/_sim/dra-plugin/gpu-1', {'restart_delay': -1})
    with pytest.raises(k8ssim.K8sSimError, match='no node nope'):
        sim.control('PUT', '/_sim/dra-plugin/nope', {'start_error': 'x'})
    old_names = _mig_names(state)
    _relayout(state, '0', '3g.20gb')
    sim.control('PUT', '/_sim/dra-plugin/gpu-1', {'start_error': 'error creating driver: injected'})
    assert sim.control('GET', '/_sim/dra-plugin')['faults'] == {'gpu-1': {'start_error': 'error creating driver: injected'}}
    core.delete_namespaced_pod(_plugin_pods(core, 'gpu-1')[0].metadata.name, DRA_NS)

    def crashing():
        pods = _plugin_pods(core, 'gpu-1')
        statuses = (pods[0].status.container_statuses or []) if pods else []
        return statuses and statuses[0].state.waiting and statuses[0].state.waiting.reason == 'CrashLoopBackOff'
    wait_until(crashing, message='the plugin crash-looping')
    assert 'error creating driver: injected' in _plugin_pods(core, 'gpu-1')[0].status.container_statuses[0].last_state.terminated.message
    assert _device_names(api, 'gpu-1') == old_names  # stale until the kubelet wipes it (slice_wipe_delay)
    # A slow restart: the next pod starts 2 s after it is created; the old slice stays until then.
    sim.control('PUT', '/_sim/dra-plugin/gpu-1', {'restart_delay': 2})
    core.delete_namespaced_pod(_plugin_pods(core, 'gpu-1')[0].metadata.name, DRA_NS)
    began = time.monotonic()
    wait_until(lambda: _device_names(api, 'gpu-1') == _mig_names(state), timeout=10, message='the slow plugin to publish')
    assert time.monotonic() - began >= 1.5
    sim.control('DELETE', '/_sim/dra-plugin')
    assert sim.control('GET', '/_sim/dra-plugin')['faults'] == {}


def test_plugin_pods_mixed_fleet_and_dynamic_mig_flag(cluster, tmp_path):
    dp_state = _state(tmp_path, 'dp', 'A100-SXM4-40GB:1', 'all', '1g.5gb,1g.5gb')
    dra_state = _state(tmp_path, 'dra', 'A100-SXM4-40GB:1', 'all', '1g.5gb,1g.5gb')
    dyn_state = _state(tmp_path, 'dyn', 'H100-SXM5-80GB:1', 'all', '1g.10gb')
    sim = cluster(_description([{'name': 'gpu-dp', 'nvml_state': dp_state, 'labels': {'nvidia.com/device-plugin.config': 'mixed'}},
                                {'name': 'gpu-dra', 'nvml_state': dra_state, 'allocator': 'dra', 'dra': {'mig': 'static'}},
                                {'name': 'gpu-dyn', 'nvml_state': dyn_state, 'allocator': 'dra', 'dra': {'mig': 'dynamic'}}]))
    core, apps, dummy = clients(sim)
    api = _resource_api(sim)
    # The device plugin runs only on the device-plugin node; the DRA kubelet plugin on the two DRA nodes.
    dp_pods = core.list_namespaced_pod('gpu-operator').items
    assert [p.spec.node_name for p in dp_pods] == ['gpu-dp']
    assert core.read_node('gpu-dp').status.allocatable.get('nvidia.com/mig-1g.5gb') == '2'
    assert not [k for k in core.read_node('gpu-dra').status.allocatable if k.startswith('nvidia.com/')]
    ds = apps.read_namespaced_daemon_set('dra-driver-nvidia-gpu-kubelet-plugin', DRA_NS)
    assert ds.spec.selector.match_labels == {'dra-driver-nvidia-gpu-component': 'kubelet-plugin'}
    assert ds.status.desired_number_scheduled == 2
    static, dynamic = _plugin_pods(core, 'gpu-dra')[0], _plugin_pods(core, 'gpu-dyn')[0]
    assert static.metadata.labels['app.kubernetes.io/name'] == 'dra-driver-nvidia-gpu'
    env = dict((e.name, e.value) for e in dynamic.spec.containers[0].env if e.value is not None)
    assert env.get('FEATURE_GATES') == 'DynamicMIG=true'
    assert 'FEATURE_GATES' not in [e.name for e in static.spec.containers[0].env]
    assert dynamic.status.phase == 'Running'
    assert _device_names(api, 'gpu-dra') == _mig_names(dra_state) and len(_mig_names(dra_state)) == 2
    assert _slices(api, 'gpu-dyn') == []  # dynamic MIG is a flag only (README)
    assert sorted(c.metadata.name for c in api.list_device_class().items) == ['gpu.nvidia.com', 'mig.nvidia.com']
    assert api.read_device_class('gpu.nvidia.com').spec.extended_resource_name == 'nvidia.com/gpu'


def _pod(name, claims, namespace='ml'):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': namespace},
            'spec': {'resourceClaims': claims, 'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': 'main', 'image': 'pause', 'resources': {'claims': [{'name': c['name']} for c in claims]}}]}}


def _claim(name, selectors=None, device_class='mig.nvidia.com', count=1):
    exactly = {'deviceClassName': device_class, 'count': count}
    if selectors:
        exactly['selectors'] = selectors
    return {'apiVersion': 'resource.k8s.io/v1', 'kind': 'ResourceClaim', 'metadata': {'name': name},
            'spec': {'devices': {'requests': [{'name': 'gpu', 'exactly': exactly}]}}}


def _unschedulable(core, name):
    pod = core.read_namespaced_pod(name, 'ml')
    return next((c.message for c in pod.status.conditions or [] if c.type == 'PodScheduled' and c.status == 'False'), None)


def test_claims_are_allocated_reserved_and_released(cluster, tmp_path):
    state = _state(tmp_path, 'n', 'A100-SXM4-40GB:2', '0', '1g.5gb,2g.10gb')
    request = {'name': 'mig', 'exactly': {'deviceClassName': 'mig.nvidia.com', 'selectors': [MIG_1G]}}
    template = {'name': 'one-1g', 'namespace': 'ml', 'spec': {'spec': {'devices': {'requests': [request]}}}}
    sim = cluster(_description([{'name': 'cpu-1'}, {'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}],
                               resource_claim_templates=[template],
                               workloads=[{'name': 'infer', 'namespace': 'ml', 'replicas': 1,
                                           'resource_claims': [{'name': 'gpu', 'resourceClaimTemplateName': 'one-1g'}]}]))
    core = clients(sim)[0]
    api = _resource_api(sim)
    pod = core.list_namespaced_pod('ml', label_selector='app=infer').items[0]
    assert pod.spec.node_name == 'gpu-1' and pod.status.phase == 'Running'
    generated = pod.status.resource_claim_statuses[0].resource_claim_name
    claim = api.read_namespaced_resource_claim(generated, 'ml')
    assert claim.metadata.annotations['resource.kubernetes.io/pod-claim-name'] == 'gpu'
    assert [(o.kind, o.name, o.uid) for o in claim.metadata.owner_references] == [('Pod', pod.metadata.name, pod.metadata.uid)]
    assert [(r.driver, r.pool, r.device, r.request) for r in claim.status.allocation.devices.results] == [
        (DRIVER, 'gpu-1', 'gpu-0-mig-1g5gb-19-6', 'mig')]
    assert claim.status.allocation.node_selector.node_selector_terms[0].match_fields[0].values == ['gpu-1']
    assert [(r.resource, r.name, r.uid) for r in claim.status.reserved_for] == [('pods', pod.metadata.name, pod.metadata.uid)]

    # A claim of its own for the whole GPU (device class gpu.nvidia.com), created with the client's models.
    api.create_namespaced_resource_claim('ml', _claim('whole', device_class='gpu.nvidia.com'))
    core.create_namespaced_pod('ml', _pod('trainer', [{'name': 'gpu', 'resourceClaimName': 'whole'}]))
    wait_until(lambda: core.read_namespaced_pod('trainer', 'ml').status.phase == 'Running', message='trainer running')
    whole = api.read_namespaced_resource_claim('whole', 'ml')
    assert [r.device for r in whole.status.allocation.devices.results] == ['gpu-1']
    assert whole.status.reserved_for[0].name == 'trainer'

    # The only 1g.5gb is taken: a second claim for one stays pending with the scheduler's reason.
    api.create_namespaced_resource_claim('ml', _claim('another-1g', [MIG_1G]))
    core.create_namespaced_pod('ml', _pod('waiting', [{'name': 'gpu', 'resourceClaimName': 'another-1g'}]))
    wait_until(lambda: _unschedulable(core, 'waiting'), message='waiting unschedulable')
    assert _unschedulable(core, 'waiting') == '0/2 nodes are available: 2 cannot allocate all claims.'
    assert api.read_namespaced_resource_claim('another-1g', 'ml').status is None or \
        api.read_namespaced_resource_claim('another-1g', 'ml').status.allocation is None

    # Deleting the trainer releases its claim (reservation dropped, then deallocated); the claim itself stays.
    core.delete_namespaced_pod('trainer', 'ml')
    wait_until(lambda: (api.read_namespaced_resource_claim('whole', 'ml').status or client.V1ResourceClaimStatus()).allocation is None,
               message='whole deallocated')
    assert not api.read_namespaced_resource_claim('whole', 'ml').status.reserved_for
    # The replica's pod goes (its ReplicaSet replaces it): its generated claim goes with it, the new pod gets a new one,
    # and the freed 1g.5gb goes to one of the two pods that want it.
    core.delete_namespaced_pod(pod.metadata.name, 'ml')
    wait_until(lambda: generated not in [c.metadata.name for c in api.list_namespaced_resource_claim('ml').items],
               message='generated claim deleted')
    holders = wait_until(lambda: [c for c in api.list_namespaced_resource_claim('ml').items
                                  if c.status and c.status.allocation and c.status.reserved_for], message='1g.5gb allocated again')
    assert len(holders) == 1 and holders[0].status.allocation.devices.results[0].device == 'gpu-0-mig-1g5gb-19-6'


def test_selectors_outside_the_cel_subset_are_refused_clearly(cluster, tmp_path):
    state = _state(tmp_path, 'n', 'A100-SXM4-40GB:1', 'all', '1g.5gb')
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}], namespaces=['ml']))
    core = clients(sim)[0]
    api = _resource_api(sim)
    api.create_namespaced_resource_claim('ml', _claim('big', [{'cel': {'expression':
                                                                       'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("10Gi")) >= 0'}}]))
    core.create_namespaced_pod('ml', _pod('p', [{'name': 'gpu', 'resourceClaimName': 'big'}]))
    message = wait_until(lambda: _unschedulable(core, 'p'), message='p unschedulable')
    assert 'k8ssim: the simulated allocator does not evaluate the CEL expression' in message
    assert 'device.capacity' in message
    # A missing claim, and an unknown device class.
    core.create_namespaced_pod('ml', _pod('q', [{'name': 'gpu', 'resourceClaimName': 'absent'}]))
    assert 'resourceclaim "absent" not found' in wait_until(lambda: _unschedulable(core, 'q'), message='q unschedulable')
    api.create_namespaced_resource_claim('ml', _claim('odd', device_class='nope'))
    core.create_namespaced_pod('ml', _pod('r', [{'name': 'gpu', 'resourceClaimName': 'odd'}]))
    assert 'device class nope does not exist' in wait_until(lambda: _unschedulable(core, 'r'), message='r unschedulable')


def test_api_shapes_field_selectors_and_extended_resource_name(cluster, tmp_path):
    state = _state(tmp_path, 'n', 'A100-SXM4-40GB:1', 'all', '1g.5gb')
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}, {'name': 'gpu-2', 'nvml_state': state}],
                               namespaces=['ml']))
    api = _resource_api(sim)
    assert [s.spec.node_name for s in api.list_resource_slice().items] == ['gpu-1']
    assert api.list_resource_slice(field_selector='spec.nodeName=gpu-2').items == []
    assert api.list_resource_slice(field_selector='spec.driver=other.example.com').items == []
    with pytest.raises(ApiException) as err:
        api.list_resource_slice(field_selector='spec.pool.name=gpu-1')
    assert err.value.status == 400 and 'field label not supported: spec.pool.name' in err.value.body
    # KEP-5004: a DeviceClass per MIG profile that backs the device plugin's resource name, stored as written.
    expression = "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].profile == '1g.5gb'"
    api.create_device_class({'apiVersion': 'resource.k8s.io/v1', 'kind': 'DeviceClass', 'metadata': {'name': 'mig-1g-5gb.gpu.nvidia.com'},
                             'spec': {'selectors': [{'cel': {'expression': expression}}], 'extendedResourceName': 'nvidia.com/mig-1g.5gb'}})
    stored = api.read_device_class('mig-1g-5gb.gpu.nvidia.com')
    assert stored.spec.extended_resource_name == 'nvidia.com/mig-1g.5gb' and stored.metadata.generation == 1
    api.create_namespaced_resource_claim_template('ml', {'apiVersion': 'resource.k8s.io/v1', 'kind': 'ResourceClaimTemplate',
                                                         'metadata': {'name': 't'}, 'spec': {'spec': _claim('x')['spec']}})
    assert api.read_namespaced_resource_claim_template('t', 'ml').spec.spec.devices.requests[0].exactly.device_class_name == 'mig.nvidia.com'
    # Validation the publisher and clients can get wrong.
    with pytest.raises(ApiException) as err:
        api.create_resource_slice({'apiVersion': 'resource.k8s.io/v1', 'kind': 'ResourceSlice', 'metadata': {'name': 'bad'},
                                   'spec': {'driver': DRIVER, 'nodeName': 'gpu-1', 'pool': {'name': 'gpu-1', 'generation': 1, 'resourceSliceCount': 1},
                                            'devices': [{'name': 'gpu-0-mig-1g.5gb-19-0'}]}})
    assert err.value.status == 422 and 'spec.devices[0].name' in err.value.body
    with pytest.raises(ApiException) as err:
        api.create_namespaced_resource_claim('ml', {'apiVersion': 'resource.k8s.io/v1', 'kind': 'ResourceClaim', 'metadata': {'name': 'c'},
                                                    'spec': {'devices': {'requests': [{'name': 'gpu'}]}}})
    assert err.value.status == 422 and 'exactly one of `exactly` or `firstAvailable` is required' in err.value.body
    # Discovery: the group, its version and the four resources with the status subresource of claims.
    resources = dict((r.name, r) for r in client.ApisApi(sim.api_client()).get_api_versions().groups if r.name == 'resource.k8s.io')
    assert resources['resource.k8s.io'].preferred_version.group_version == 'resource.k8s.io/v1'
    listed = sim.control('GET', '/apis/resource.k8s.io/v1')
    names = dict((r['name'], r['namespaced']) for r in listed['resources'])
    assert names == {'deviceclasses': False, 'resourceslices': False, 'resourceclaims': True, 'resourceclaims/status': True,
                     'resourceclaimtemplates': True}


RBAC_MANIFESTS = [
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'nodes-only'},
     'rules': [{'apiGroups': [''], 'resources': ['nodes', 'pods'], 'verbs': ['get', 'list']}]},
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'dra-reader'},
     'rules': [{'apiGroups': ['resource.k8s.io'], 'resources': ['resourceslices', 'resourceclaims', 'deviceclasses'], 'verbs': ['get', 'list']}]},
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding', 'metadata': {'name': 'nodes-only'},
     'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'nodes-only'},
     'subjects': [{'kind': 'User', 'name': 'plain'}, {'kind': 'User', 'name': 'reader'}]},
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding', 'metadata': {'name': 'dra-reader'},
     'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'dra-reader'},
     'subjects': [{'kind': 'User', 'name': 'reader'}]},
]


def _as(sim, token):
    cfg = client.Configuration()
    cfg.host = sim.url
    cfg.api_key = {'authorization': token}
    cfg.api_key_prefix = {'authorization': 'Bearer'}
    return client.ResourceV1Api(client.ApiClient(cfg))


def test_rbac_refuses_dra_resources_without_the_verbs(cluster, tmp_path):
    state = _state(tmp_path, 'n', 'A100-SXM4-40GB:1', 'all', '1g.5gb')
    path = tmp_path / 'rbac.yml'
    path.write_text(yaml.safe_dump_all(RBAC_MANIFESTS))
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}], namespaces=['ml'],
                               tokens={'plain': 'plain-token', 'reader': 'reader-token'},
                               rbac={'files': [str(path)], 'subjects': {'plain': {'kind': 'User', 'name': 'plain'},
                                                                        'reader': {'kind': 'User', 'name': 'reader'}}}))
    with pytest.raises(ApiException) as err:
        _as(sim, 'plain-token').list_resource_slice(field_selector='spec.nodeName=gpu-1')
    assert err.value.status == 403
    assert json.loads(err.value.body)['message'] == (
        'resourceslices.resource.k8s.io is forbidden: User "plain" cannot list resource "resourceslices" in API group '
        '"resource.k8s.io" at the cluster scope')
    reader = _as(sim, 'reader-token')
    assert [s.spec.node_name for s in reader.list_resource_slice(field_selector='spec.nodeName=gpu-1').items] == ['gpu-1']
    assert reader.list_namespaced_resource_claim('ml').items == []
    with pytest.raises(ApiException) as err:
        reader.create_namespaced_resource_claim('ml', _claim('c'))
    assert err.value.status == 403 and json.loads(err.value.body)['message'].endswith(
        'User "reader" cannot create resource "resourceclaims" in API group "resource.k8s.io" in the namespace "ml"')
    with pytest.raises(ApiException) as err:
        reader.delete_resource_slice(reader.list_resource_slice().items[0].metadata.name)
    assert err.value.status == 403


@pytest.mark.parametrize('node, message', [
    ({'name': 'n', 'allocator': 'dra'}, 'node n: allocator dra needs an nvml_state (a GPU node)'),
    ({'name': 'n', 'nvml_state': 'x.state', 'allocator': 'kubelet'}, "node n: allocator must be one of device-plugin, dra, got 'kubelet'"),
    ({'name': 'n', 'nvml_state': 'x.state', 'allocator': 'dra', 'dra': {'mig': 'auto'}}, "node n: dra.mig must be one of static, dynamic"),
    ({'name': 'n', 'nvml_state': 'x.state', 'dra': {'mig': 'static'}}, 'node n: dra takes only mig, and only with allocator dra'),
])
def test_descriptions_the_simulator_refuses(tmp_path, node, message):
    with pytest.raises(k8ssim.K8sSimError) as err:
        with k8ssim.Cluster(_description([node]), tmp_path / 'sim'):
            pass
    assert message in str(err.value)


@pytest.mark.skipif(shutil.which('kubectl') is None, reason='kubectl is not on PATH')
def test_kubectl_round_trip(cluster, tmp_path):
    state = _state(tmp_path, 'n', 'A100-SXM4-40GB:1', 'all', '1g.5gb,2g.10gb')
    sim = cluster(_description([{'name': 'gpu-1', 'nvml_state': state, 'allocator': 'dra'}], namespaces=['ml'], anonymous=True))

    def kubectl(*args, **kwargs):
        return subprocess.run(['kubectl', '--kubeconfig', sim.kubeconfig, '--cache-dir', str(tmp_path / 'kcache')] + list(args),
                              check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, **kwargs).stdout

    listed = json.loads(kubectl('get', 'resourceslices', '--field-selector', 'spec.nodeName=gpu-1', '-o', 'json'))
    assert [d['name'] for d in listed['items'][0]['spec']['devices']] == ['gpu-0-mig-1g5gb-19-6', 'gpu-0-mig-2g10gb-14-4']
    assert 'mig.nvidia.com' in kubectl('get', 'deviceclasses', '-o', 'name')
    kubectl('create', '--validate=false', '-n', 'ml', '-f', '-', input=json.dumps(_claim('from-kubectl', [MIG_1G])))
    got = json.loads(kubectl('get', 'resourceclaim', 'from-kubectl', '-n', 'ml', '-o', 'json'))
    assert got['spec']['devices']['requests'][0]['exactly']['selectors'] == [MIG_1G]
    kubectl('delete', 'resourceclaim', 'from-kubectl', '-n', 'ml')
    assert 'from-kubectl' not in kubectl('get', 'resourceclaims', '-n', 'ml', '-o', 'name')
