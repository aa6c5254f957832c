# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The device plugin pods of k8ssim, with NVIDIA's plugin and with the Python model: resources per MIG strategy
(k8s.md 1.5), restart after a MIG change (1.6), stale resources at "0" (section 6), crash loop under single.

NVIDIA's plugin talks to the simulated kubelet, which behaves as the real one where the model simplifies: while a
plugin is stopped or crash-looping its devices stay in capacity but leave allocatable, and a resource that no
plugin registers again is shown with "0" once the endpoint's stop grace period ends."""

from __future__ import absolute_import, division, print_function

import datetime

import pytest

from simhelpers import base_description, clients, nvidia_smi, wait_until

NS = 'gpu-operator'
DS = 'nvidia-device-plugin-daemonset'


def _both(core, node):
    # One read: the plugin may restart between two reads, so capacity and allocatable must come from one snapshot.
    status = core.read_node(node).status
    return tuple(dict((k, v) for k, v in (found or {}).items() if k.startswith('nvidia.com/')) for found in (status.capacity, status.allocatable))


def _gpu_resources(core, node):
    """The node's GPU resources once capacity and allocatable agree (None while they differ: a plugin restarts)."""
    capacity, allocatable = _both(core, node)
    return capacity if capacity == allocatable else None


def _settles_at(core, node, expected, timeout=15):
    wait_until(lambda: _gpu_resources(core, node) == expected, timeout=timeout, message='%s resources %s' % (node, expected))


def _labels(core, node):
    return core.read_node(node).metadata.labels or {}


def _plugin_pod(core, node):
    pods = core.list_namespaced_pod(NS, label_selector='app=%s' % DS, field_selector='spec.nodeName=%s' % node).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def _restart(apps):
    stamp = datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    apps.patch_namespaced_daemon_set(DS, NS, {'spec': {'template': {'metadata': {'annotations': {
        'kubectl.kubernetes.io/restartedAt': stamp}}}}})


def _ready(pod):
    return any(c.type == 'Ready' and c.status == 'True' for c in pod.status.conditions or [])


def _relayout(state, profiles):
    nvidia_smi(state, 'mig', '-i', '0', '-dci', check=False)  # fails (Not Found) when there is nothing to destroy
    nvidia_smi(state, 'mig', '-i', '0', '-dgi', check=False)
    if profiles:
        nvidia_smi(state, 'mig', '-i', '0', '-cgi', profiles, '-C')


def test_none_and_mixed_and_restart_after_mig_change(cluster, gpu_node, implementation):
    # gpu 0: MIG with 3g + 2g + 2x1g; gpu 1: MIG disabled
    state = gpu_node('g1', gpus='A100-SXM4-40GB:2', mig='0', profiles='9,19,14,19')
    nodes = [{'name': 'g1', 'nvml_state': state}, {'name': 'g2', 'nvml_state': gpu_node('g2', gpus='L40S:2', mig='none')},
             {'name': 'cpu'}]
    sim = cluster(base_description(nodes, implementation))
    core, apps = clients(sim)[:2]
    # default config "none": every GPU is nvidia.com/gpu, MIG devices are not advertised
    assert _gpu_resources(core, 'g1') == {'nvidia.com/gpu': '2'}
    assert _gpu_resources(core, 'g2') == {'nvidia.com/gpu': '2'}
    assert _gpu_resources(core, 'cpu') == {}
    assert apps.read_namespaced_daemon_set(DS, NS).status.desired_number_scheduled == 2
    if implementation == 'nvidia':
        # GPU feature discovery ran with the plugin: its labels are on the node (no mig.strategy label under none)
        wait_until(lambda: _labels(core, 'g1').get('nvidia.com/gpu.count') == '2', message='feature labels')
        assert 'nvidia.com/mig.strategy' not in _labels(core, 'g1') and _labels(core, 'g2')['nvidia.com/gpu.product'] == 'NVIDIA-L40S'
    # switching the node's config label makes config-manager reload the plugin (SIGHUP)
    core.patch_node('g1', {'metadata': {'labels': {'nvidia.com/device-plugin.config': 'mixed'}}})
    _settles_at(core, 'g1', {'nvidia.com/gpu': '1', 'nvidia.com/mig-1g.5gb': '2', 'nvidia.com/mig-2g.10gb': '1',
                             'nvidia.com/mig-3g.20gb': '1'})
    if implementation == 'nvidia':
        # the reload (SIGHUP) ran feature discovery again, with the new config
        wait_until(lambda: _labels(core, 'g1').get('nvidia.com/mig.strategy') == 'mixed', message='mixed feature labels')
        assert _labels(core, 'g1')['nvidia.com/mig-2g.10gb.count'] == '1' and _labels(core, 'g1')['nvidia.com/mig-1g.5gb.count'] == '2'
    # repartition in the fake NVML: nothing changes until the plugin restarts
    _relayout(state, '19,19,19,19,19,19,19')
    old_pod = _plugin_pod(core, 'g1')[0].metadata.name
    assert _gpu_resources(core, 'g1')['nvidia.com/mig-3g.20gb'] == '1'
    _restart(apps)
    wait_until(lambda: [p for p in _plugin_pod(core, 'g1') if p.metadata.name != old_pod and _ready(p)], message='new plugin pod')
    if implementation == 'nvidia':
        # the kubelet keeps the devices of a resource no plugin registers again in capacity, not in allocatable ...
        wait_until(lambda: _both(core, 'g1')[1].get('nvidia.com/mig-1g.5gb') == '7', message='new plugin registered')
        capacity, allocatable = _both(core, 'g1')
        if allocatable.get('nvidia.com/mig-2g.10gb') == '0' and capacity.get('nvidia.com/mig-2g.10gb') != '0':
            assert capacity['nvidia.com/mig-2g.10gb'] == '1' and capacity['nvidia.com/mig-3g.20gb'] == '1'
    # ... and vanished resource names end up with "0", as the kubelet leaves them
    _settles_at(core, 'g1', {'nvidia.com/gpu': '1', 'nvidia.com/mig-1g.5gb': '7', 'nvidia.com/mig-2g.10gb': '0', 'nvidia.com/mig-3g.20gb': '0'})
    if implementation == 'nvidia':
        # labels of profiles that are gone are removed, as Node Feature Discovery does
        wait_until(lambda: _labels(core, 'g1').get('nvidia.com/mig-1g.5gb.count') == '7', message='new feature labels')
        assert not [k for k in _labels(core, 'g1') if k.startswith(('nvidia.com/mig-2g', 'nvidia.com/mig-3g'))]
    # deleting the plugin pod also restarts it (the DaemonSet recreates it)
    _relayout(state, '9,9')
    pod = _plugin_pod(core, 'g1')[0].metadata.name
    core.delete_namespaced_pod(pod, NS)
    _settles_at(core, 'g1', {'nvidia.com/gpu': '1', 'nvidia.com/mig-1g.5gb': '0', 'nvidia.com/mig-2g.10gb': '0', 'nvidia.com/mig-3g.20gb': '2'})
    assert [s['strategy'] for s in sim.control('GET', '/_sim/plugin')['starts'] if s['node'] == 'g1'] == ['none', 'mixed', 'mixed', 'mixed']


def _crashing(core, node):
    pods = _plugin_pod(core, node)
    statuses = pods[0].status.container_statuses or [] if pods else []
    return [s for s in statuses if s.state.waiting is not None and s.state.waiting.reason == 'CrashLoopBackOff']


def test_mixed_refuses_split_gpu_instances(cluster, gpu_node, implementation):
    # Device plugin v0.20.0 registers mixed resource patterns only for C == G profiles (internal/rm/rm.go:140-146) and
    # exits on the first MIG device that matches none (internal/rm/device_map.go:144-150): it crash-loops.
    state = gpu_node('g1', profiles='9,9')
    sim = cluster(base_description([{'name': 'g1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'mixed'}}],
                                   implementation))
    core, apps = clients(sim)[:2]
    assert _gpu_resources(core, 'g1') == {'nvidia.com/mig-3g.20gb': '2'}
    # split one 3g GPU instance into three 1c compute instances; the other keeps its whole compute instance
    gi = str(_gpu_instance_ids(state)[-1])
    nvidia_smi(state, 'mig', '-i', '0', '-dci', '-gi', gi)
    nvidia_smi(state, 'mig', '-i', '0', '-cci', '0,0,0', '-gi', gi)
    _restart(apps)
    status = wait_until(lambda: _crashing(core, 'g1'), message='CrashLoopBackOff')[0]
    assert "MIG profile '1c.3g.20gb' does not match any resource patterns" in status.last_state.terminated.message
    # the crash-looping plugin advertises nothing new
    if implementation == 'nvidia':
        # the stopped plugin's devices: in capacity, not allocatable, until the stop grace period ends
        assert _both(core, 'g1')[1] == {'nvidia.com/mig-3g.20gb': '0'}
    else:
        assert _gpu_resources(core, 'g1') == {'nvidia.com/mig-3g.20gb': '2'}
    assert apps.read_namespaced_daemon_set(DS, NS).status.number_ready == 0
    # single accepts the split GPU instance (pattern '*'), but not next to a whole one: one type per node
    core.patch_node('g1', {'metadata': {'labels': {'nvidia.com/device-plugin.config': 'single'}}})
    wait_until(lambda: [s for s in sim.control('GET', '/_sim/plugin')['starts'] if s['strategy'] == 'single'
                        and 'more than one MIG device type present on node' in (s['error'] or '')], message='single error')
    # with only split GPU instances, single advertises each compute instance as one nvidia.com/gpu (restarted once the
    # layout is complete: the retrying plugin may have started on a valid part of it)
    _relayout(state, '')
    nvidia_smi(state, 'mig', '-i', '0', '-cgi', '9,9')
    for gi in _gpu_instance_ids(state):
        nvidia_smi(state, 'mig', '-i', '0', '-cci', '0,0,0', '-gi', str(gi))
    _restart(apps)
    wait_until(lambda: _gpu_resources(core, 'g1').get('nvidia.com/gpu') == '6', timeout=20, message='single with split GPU instances')


def _gpu_instance_ids(state):
    import json  # pylint: disable=import-outside-toplevel
    from simhelpers import simnode  # pylint: disable=import-outside-toplevel
    return [gi['id'] for gi in json.loads(simnode('show', state, '--json'))['gpus'][0]['gpu_instances']]


def test_single_valid_then_crash_loop_keeps_resources(cluster, gpu_node, implementation):
    state = gpu_node('g1', profiles='19,19,19,19,19,19,19')
    sim = cluster(base_description([{'name': 'g1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'single'}}],
                                   implementation))
    core, apps = clients(sim)[:2]
    assert _gpu_resources(core, 'g1') == {'nvidia.com/gpu': '7'}
    # a mixed geometry is invalid under single: the restarted plugin crash-loops, resources stay
    _relayout(state, '9,14,19')
    _restart(apps)
    status = wait_until(lambda: _crashing(core, 'g1'), message='CrashLoopBackOff')[0]
    assert 'more than one MIG device type present on node' in status.last_state.terminated.message
    assert status.restart_count >= 1 and not status.ready
    if implementation == 'nvidia':
        # the stopped plugin's devices: in capacity, not allocatable, until the stop grace period ends
        assert _both(core, 'g1') in (({'nvidia.com/gpu': '7'}, {'nvidia.com/gpu': '0'}), ({'nvidia.com/gpu': '0'}, {'nvidia.com/gpu': '0'}))
    else:
        assert _gpu_resources(core, 'g1') == {'nvidia.com/gpu': '7'}
    wait_until(lambda: apps.read_namespaced_daemon_set(DS, NS).status.number_ready == 0, message='no ready plugin')
    # an empty MIG GPU is also invalid under single
    _relayout(state, '')
    wait_until(lambda: [s for s in sim.control('GET', '/_sim/plugin')['starts'] if 'has no MIG devices' in (s['error'] or '')],
               message='empty GPU error')
    # fixing the geometry lets the crash-looping plugin come up on its next restart
    _relayout(state, '14,14,14')
    _settles_at(core, 'g1', {'nvidia.com/gpu': '3'})
    assert _ready(_plugin_pod(core, 'g1')[0])


def test_config_errors(cluster, gpu_node, implementation):
    state = gpu_node('g1', profiles='19,19')
    desc = base_description([{'name': 'g1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'typo'}}], implementation)
    desc['device_plugin']['configs']['bad'] = 'version: v1\nflags:\n  migStrategy: weird\n'
    sim = cluster(desc)
    core = clients(sim)[0]
    pod = _plugin_pod(core, 'g1')[0]
    init = pod.status.init_container_statuses[0]
    assert init.state.waiting.reason == 'CrashLoopBackOff' and 'specified config typo does not exist' in init.last_state.terminated.message
    assert _gpu_resources(core, 'g1') == {}
    core.patch_node('g1', {'metadata': {'labels': {'nvidia.com/device-plugin.config': 'bad'}}})
    wait_until(lambda: [s for s in sim.control('GET', '/_sim/plugin')['starts'] if 'unknown MIG strategy: weird' in (s['error'] or '')],
               message='bad strategy')
    core.patch_node('g1', {'metadata': {'labels': {'nvidia.com/device-plugin.config': 'mixed'}}})
    _settles_at(core, 'g1', {'nvidia.com/mig-1g.5gb': '2'})


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().split()[2] != 'Z'
    except OSError:
        return False


def test_nvidia_plugin_processes_end_with_their_pod_and_the_simulation(cluster, gpu_node):
    from simhelpers import nvidia_unavailable  # pylint: disable=import-outside-toplevel
    reason = nvidia_unavailable()
    if reason:
        pytest.skip(reason)
    state = gpu_node('g1', profiles='9,9')
    sim = cluster(base_description([{'name': 'g1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'mixed'}}], 'nvidia'))
    core = clients(sim)[0]
    assert _gpu_resources(core, 'g1') == {'nvidia.com/mig-3g.20gb': '2'}
    first = sim.control('GET', '/_sim/plugin')['starts'][0]
    assert first['implementation'] == 'nvidia' and first['strategy'] == 'mixed' and _alive(first['pid'])
    with open('/proc/%d/cmdline' % first['pid'], 'rb') as handle:
        assert handle.read().split(b'\0')[0].endswith(b'/nvidia-device-plugin')
    core.delete_namespaced_pod(_plugin_pod(core, 'g1')[0].metadata.name, NS)
    wait_until(lambda: not _alive(first['pid']), message='the deleted pod\'s plugin process ends')
    second = wait_until(lambda: [s for s in sim.control('GET', '/_sim/plugin')['starts'] if s['pid'] != first['pid'] and s['resources_after_s'] is not None],
                        message='the new pod\'s plugin')[0]
    assert second['resources'] == {'nvidia.com/mig-3g.20gb': 2} and 0 < second['resources_after_s'] < 10
    assert _alive(second['pid'])
    sim.stop()
    assert not _alive(second['pid'])


def test_model_is_the_fallback_where_nvidia_binaries_are_absent(cluster, gpu_node, tmp_path):
    import k8ssim  # pylint: disable=import-outside-toplevel
    state = gpu_node('g1', profiles='9,9')
    desc = base_description([{'name': 'g1', 'nvml_state': state, 'labels': {'nvidia.com/device-plugin.config': 'mixed'}}])
    desc['device_plugin']['nvidia_tools'] = str(tmp_path / 'no-tools')
    sim = cluster(desc)
    assert _gpu_resources(clients(sim)[0], 'g1') == {'nvidia.com/mig-3g.20gb': '2'}
    assert [s['implementation'] for s in sim.control('GET', '/_sim/plugin')['starts']] == ['model']
    with open(tmp_path / 'sim' / 'server.log') as handle:
        lines = [line for line in handle if 'device plugin:' in line]
    assert len(lines) == 1 and "the Python model (sim_deviceplugin), because NVIDIA's binaries are not built" in lines[0]
    # Asking for NVIDIA's plugin where it cannot run is a start-up error, not a silent fallback.
    desc['device_plugin']['implementation'] = 'nvidia'
    with pytest.raises(k8ssim.K8sSimError) as error:
        cluster(desc, name='sim2')
    assert "device_plugin.implementation is nvidia, but NVIDIA's binaries are not built" in str(error.value)
