# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of the Kubernetes side: metadata rules, pod classification, plugin config validation."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._drain import classify_pods, uses_gpu
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import metadata_problems
from ansible_collections.gpufleet.mig.plugins.module_utils._plugin_config import config_problems, mig_strategy, resource_differences


@pytest.mark.parametrize('labels, annotations, problem', [
    ({'nvidia.com/mig.config.state': 'pending'}, {}, None),
    ({'a': ''}, {'gpufleet.mig/failure-reason': 'anything: goes, even spaces'}, None),
    ({'nvidia.com/mig.config': None}, {}, None),
    ({'Bad_Prefix.com/x': 'v'}, {}, "label key 'Bad_Prefix.com/x': the prefix 'Bad_Prefix.com' must be a lower-case DNS subdomain"),
    ({'x' * 64: 'v'}, {}, 'must be 1-63 characters'),
    ({'ok': 'has space'}, {}, "label ok: the value 'has space' must be empty or 1-63 characters"),
    ({'ok': 3}, {}, 'label ok: the value 3 is a int; Kubernetes needs a string (quote it)'),
    ({}, {'/x': 'v'}, "annotation key '/x': the prefix '' must be"),
])
def test_metadata_problems(labels, annotations, problem):
    problems = metadata_problems(labels, annotations)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def pod(name, resources=None, owner=None, phase='Running', mirror=False, init=False):
    container = {'name': 'c', 'resources': {'limits': resources} if resources else {}}
    spec = {'containers': [{'name': 'main'}]}
    spec['initContainers' if init else 'containers'] = [container] if init else [container]
    metadata = {'name': name, 'namespace': 'ns', 'uid': name + '-uid', 'ownerReferences': [{'kind': owner}] if owner else []}
    if mirror:
        metadata['annotations'] = {'kubernetes.io/config.mirror': 'x'}
    return {'metadata': metadata, 'spec': spec, 'status': {'phase': phase}}


def test_uses_gpu_covers_gpu_mig_shared_and_init_containers():
    assert uses_gpu(pod('a', {'nvidia.com/gpu': '1'}))
    assert uses_gpu(pod('b', {'nvidia.com/mig-1g.5gb': '1'}))
    assert uses_gpu(pod('c', {'nvidia.com/gpu.shared': '1'}))
    assert uses_gpu(pod('d', {'nvidia.com/gpu': '1'}, init=True))
    assert not uses_gpu(pod('e', {'cpu': '1'}))
    assert not uses_gpu(pod('f'))


def test_classify_pods_gpu_only_and_all():
    pods = [pod('train', {'nvidia.com/mig-3g.20gb': '1'}, owner='ReplicaSet'), pod('web', {'cpu': '1'}, owner='ReplicaSet'),
            pod('plugin', {'nvidia.com/gpu': '1'}, owner='DaemonSet'), pod('static', {'nvidia.com/gpu': '1'}, mirror=True),
            pod('done', {'nvidia.com/gpu': '1'}, phase='Succeeded')]
    evict, skipped = classify_pods(pods)
    assert [p['metadata']['name'] for p in evict] == ['train']
    assert skipped == {'ns/web': 'uses no GPU', 'ns/plugin': 'DaemonSet pod (its controller would recreate it at once)',
                       'ns/static': 'static (mirror) pod, managed by the kubelet', 'ns/done': 'already finished (Succeeded)'}
    evict, skipped = classify_pods(pods, gpu_only=False)
    assert [p['metadata']['name'] for p in evict] == ['train', 'web']


@pytest.mark.parametrize('config, problem', [
    ({'version': 'v1', 'flags': {'migStrategy': 'mixed'}}, None),
    ({'version': 'v1', 'flags': {'migStrategy': 'mixed'}, 'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 4}]}}}, None),
    ({'version': 'v2'}, "version: unknown version 'v2'; valid: v1"),
    ({'flags': {'migStrategy': 'auto'}}, "flags.migStrategy: 'auto' is not valid; valid values: none, single, mixed"),
    ({'flags': {'renameByDefault': True}}, 'flags.renameByDefault: unknown key; valid keys under flags: deviceDiscoveryStrategy'),
    ({'flags': {'failOnInitError': 'yes please'}}, "flags.failOnInitError: 'yes please' must be a boolean"),
    ({'sharing': {'timeSlicing': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 1}]}}},
     'sharing.timeSlicing.resources[0].replicas: 1 must be an integer >= 2'),
    ({'sharing': {'timeSlicing': {}}}, 'sharing.timeSlicing.resources: no resources specified'),
    ({'sharing': {'timeSlicing': {'resources': []}}}, 'sharing.timeSlicing.resources: no resources specified'),
    ({'flags': {'plugin': {'deviceListStrategy': ['envvar', 'bogus']}}},
     "flags.plugin.deviceListStrategy: 'bogus' is not valid; valid values: envvar, volume-mounts, cdi-annotations, cdi-cri"),
    ({'flags': {'migStrategy': 'mixed'}, 'sharing': {'mps': {'resources': [{'name': 'nvidia.com/gpu', 'replicas': 2}]}}},
     'sharing.mps: MPS sharing is not supported with migStrategy mixed'),
    ({'imex': {'channelIDs': [1]}}, 'imex.channelIDs: must be [] or [0], got [1]'),
])
def test_config_problems(config, problem):
    problems = config_problems(config)
    if problem is None:
        assert problems == []
    else:
        assert any(p.startswith(problem) for p in problems), problems


def test_mig_strategy_default_is_none():
    assert mig_strategy({}) == 'none'
    assert mig_strategy({'flags': {'migStrategy': 'single'}}) == 'single'


def test_resource_differences_allows_stale_zero_only():
    advertised = {'cpu': '8', 'nvidia.com/mig-1g.5gb': '4', 'nvidia.com/mig-2g.10gb': '0', 'nvidia.com/gpu': '1'}
    assert resource_differences(advertised, {'nvidia.com/mig-1g.5gb': 4}) == ({}, ['nvidia.com/gpu'])
    assert resource_differences(advertised, {'nvidia.com/mig-1g.5gb': 4, 'nvidia.com/gpu': 1}) == ({}, [])
    assert resource_differences(advertised, {'nvidia.com/mig-1g.5gb': 7, 'nvidia.com/gpu': 1}) == ({'nvidia.com/mig-1g.5gb': (4, 7)}, [])


def test_with_planned_layouts_replaces_only_planned_gpus():
    from ansible_collections.gpufleet.mig.plugins.module_utils._resources import expected_resources, with_planned_layouts
    off = {'mig-enabled': False, 'mig-devices': {}, 'placements': []}
    gpus = [{'index': 0, 'mig_capable': True, 'layout': off}, {'index': 1, 'mig_capable': True, 'layout': off},
            {'index': 2, 'mig_capable': False, 'layout': None}]
    planned = [{'index': 0, 'mig_enabled': True, 'after': {'mig-enabled': False, 'mig-devices': {'3g.20gb': 2}, 'placements': []}},
               {'index': 1, 'mig_enabled': False, 'after': off}]
    merged = with_planned_layouts(gpus, planned)
    assert merged[0]['layout'] == {'mig-enabled': True, 'mig-devices': {'3g.20gb': 2}, 'placements': []}
    assert merged[1]['layout'] == off
    assert merged[2] is gpus[2]
    assert expected_resources(merged, 'mixed') == {'nvidia.com/gpu': 2, 'nvidia.com/mig-3g.20gb': 2}
