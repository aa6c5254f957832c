# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of the Kubernetes side: metadata rules and patches, pod classification, plugin config validation."""

from __future__ import annotations

import ssl

import pytest
from urllib3.exceptions import MaxRetryError, NewConnectionError, SSLError

from ansible_collections.gpufleet.mig.plugins.module_utils._drain import Drainer, classify_pods, uses_gpu
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube, merge_patched, metadata_patch, metadata_problems, tls_failure
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


def test_metadata_patch_sets_and_removes_only_what_differs():
    metadata = {'labels': {'keep': 'a', 'state': 'pending', 'gone': 'x'}, 'annotations': {'note': 'n'}}
    assert metadata_patch(metadata, {'state': 'success', 'keep': 'a', 'gone': None, 'absent': None}, {'note': None, 'new': 'v'}) == {
        'labels': {'state': 'success', 'gone': None}, 'annotations': {'note': None, 'new': 'v'}}
    assert metadata_patch(metadata, {'state': 'pending', 'absent': None}, {}) == {}
    assert metadata_patch({}, {'a': ''}, None) == {'labels': {'a': ''}}


def test_merge_patched_is_what_the_api_server_stores():
    node = {'metadata': {'name': 'n', 'labels': {'a': '1', 'b': '2'}}, 'spec': {'unschedulable': True, 'taints': [{'key': 'k'}]}}
    after = merge_patched(node, {'metadata': {'labels': {'a': None, 'c': '3'}, 'annotations': {'x': 'y'}}, 'spec': {'unschedulable': False}})
    assert after == {'metadata': {'name': 'n', 'labels': {'b': '2', 'c': '3'}, 'annotations': {'x': 'y'}},
                     'spec': {'unschedulable': False, 'taints': [{'key': 'k'}]}}
    assert node['metadata']['labels'] == {'a': '1', 'b': '2'} and node['spec']['unschedulable'] is True


def node(unschedulable=False, labels=None, annotations=None):
    return {'metadata': {'name': 'n', 'labels': dict(labels or {}), 'annotations': dict(annotations or {})},
            'spec': {'unschedulable': True} if unschedulable else {}}


OURS = {'gpufleet.mig/cordoned': 'true'}
PENDING = {'nvidia.com/mig.config.state': 'pending'}
SUCCESS = {'nvidia.com/mig.config.state': 'success'}


@pytest.mark.parametrize('current, labels, annotations, patch', [
    # The cordon and the labels in one patch.
    (node(), PENDING, {}, {'spec': {'unschedulable': True},
                           'metadata': {'labels': PENDING, 'annotations': {'gpufleet.mig/cordoned': 'true'}}}),
    (node(), {}, {'why': 'mig', 'old': None}, {'spec': {'unschedulable': True},
                                               'metadata': {'annotations': {'why': 'mig', 'gpufleet.mig/cordoned': 'true'}}}),
    (node(), {}, {}, {'spec': {'unschedulable': True}, 'metadata': {'annotations': {'gpufleet.mig/cordoned': 'true'}}}),
    # Already cordoned (by us or by an administrator): only the labels, and the cordon is not claimed.
    (node(True, annotations=OURS), PENDING, {}, {'metadata': {'labels': PENDING}}),
    (node(True), PENDING, {}, {'metadata': {'labels': PENDING}}),
    # Nothing to do: a second run changes nothing.
    (node(True, labels=PENDING, annotations=OURS), PENDING, {}, None),
    (node(True), {'absent': None}, {}, None),
])
def test_cordon_patch(current, labels, annotations, patch):
    assert Drainer(None, 'n', labels=labels, annotations=annotations).cordon_patch(current) == patch


@pytest.mark.parametrize('current, force, labels, patch', [
    # Our cordon is lifted and its record removed in the same patch as the labels.
    (node(True, labels=PENDING, annotations=OURS), False, SUCCESS,
     {'spec': {'unschedulable': False}, 'metadata': {'labels': SUCCESS, 'annotations': {'gpufleet.mig/cordoned': None}}}),
    (node(True, annotations=dict(OURS, **{'gpufleet.mig/drain-failed': 'x'})), False, {},
     {'spec': {'unschedulable': False}, 'metadata': {'annotations': {'gpufleet.mig/cordoned': None, 'gpufleet.mig/drain-failed': None}}}),
    # An administrator's cordon stays; the labels are still set.
    (node(True, labels=PENDING), False, SUCCESS, {'metadata': {'labels': SUCCESS}}),
    (node(True, labels=PENDING), True, SUCCESS, {'spec': {'unschedulable': False}, 'metadata': {'labels': SUCCESS}}),
    # Not cordoned: the labels, and a stale record of ours goes.
    (node(labels=PENDING), False, SUCCESS, {'metadata': {'labels': SUCCESS}}),
    (node(annotations=OURS), False, {}, {'metadata': {'annotations': {'gpufleet.mig/cordoned': None}}}),
    # Nothing to do.
    (node(labels=SUCCESS), False, SUCCESS, None),
    (node(True, labels=SUCCESS), False, SUCCESS, None),
])
def test_uncordon_patch(current, force, labels, patch):
    assert Drainer(None, 'n', labels=labels).uncordon_patch(current, force) == patch


class ReadOnly(Kube):
    """A Kube over one node that only reads (check mode must not write): any request fails the test."""

    def __init__(self, current):  # pylint: disable=super-init-not-called
        self.current = current

    def read_node(self, name):
        return self.current

    def send(self, method, path, query=None, body=None, content_type=None):
        raise AssertionError('check mode sent %s %s' % (method, path))


def test_check_mode_predicts_the_node_after_the_patch_without_writing():
    drainer = Drainer(ReadOnly(node(True, labels=PENDING, annotations=OURS)), 'n', labels=SUCCESS)
    changed, admin, after = drainer.uncordon(check_mode=True)
    assert changed and not admin and not after['spec']['unschedulable']
    assert after['metadata']['labels'] == SUCCESS and 'gpufleet.mig/cordoned' not in after['metadata']['annotations']
    changed, admin, after = Drainer(ReadOnly(node(True)), 'n', labels=SUCCESS).uncordon(check_mode=True)
    assert changed and admin and after['spec']['unschedulable'] and after['metadata']['labels'] == SUCCESS
    changed, after = Drainer(ReadOnly(node(True, labels=PENDING)), 'n', labels=PENDING).cordon(check_mode=True)
    assert not changed and after['spec']['unschedulable']


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


# --------------------------------------------------------------------------------------------------
# Hostile input found by tests/unit/property (issue 7)
# --------------------------------------------------------------------------------------------------

def _shared(extra=None, **item):
    item = dict({'name': 'nvidia.com/gpu', 'replicas': 2}, **item)
    item.update(extra or {})
    return {'sharing': {'timeSlicing': {'resources': [item]}}}


@pytest.mark.parametrize('config, problem', [
    # Keys of several types (YAML allows it) used to make sorted() raise TypeError.
    (_shared({'b': 1, 1: 'x'}), 'sharing.timeSlicing.resources[0].1: unknown key; valid keys: devices, name, rename, replicas'),
    # Wrong types that the plugin fails to unmarshal, so it would crash-loop; they used to pass.
    ({'resources': {'gpus': [{'pattern': 5, 'name': 'gpu'}]}}, 'resources.gpus[0].pattern: 5 must be a string'),
    ({'resources': {'mig': [{'pattern': '*', 'name': ['x']}]}}, "resources.mig[0].name: ['x'] must be a string"),
    ({'resources': {'gpus': [{'pattern': '*', 'name': 'gpu', 'rename': 'x'}]}}, 'resources.gpus[0].rename: unknown key; valid keys: name, pattern'),
    (_shared(name=7), 'sharing.timeSlicing.resources[0].name: 7 must be a string, a resource name such as nvidia.com/gpu'),
    (_shared(rename=['a']), "sharing.timeSlicing.resources[0].rename: ['a'] must be a string, a resource name"),
    (_shared(devices=0), "sharing.timeSlicing.resources[0].devices: 0 must be 'all', a positive integer, or a list of GPU indices"),
    (_shared(devices=[True]), "sharing.timeSlicing.resources[0].devices: [True] must be 'all', a positive integer"),
    # Messages that did not say what would be valid.
    (_shared(name=''), 'sharing.timeSlicing.resources[0].name: no resource name specified; give the resource to share, e.g. nvidia.com/gpu'),
    ({'sharing': {'mps': {'resources': [{'name': 'nvidia.com/gpu'}]}}}, 'sharing.mps.resources[0].replicas: no replicas specified; give an integer >= 2'),
])
def test_config_problems_hostile(config, problem):
    assert any(p.startswith(problem) for p in config_problems(config)), config_problems(config)


@pytest.mark.parametrize('devices', ['all', 3, [0, '0:1', 'GPU-8a6c', 'MIG-1b2c']])
def test_shared_devices_that_the_plugin_accepts(devices):
    assert config_problems(_shared(devices=devices)) == []


@pytest.mark.parametrize('text, message', [
    ('0', 'a device plugin config must be a mapping at the top level'),      # used to come back as 0, then crash mig_strategy
    ('[]', 'a device plugin config must be a mapping at the top level'),
    ('[' * 100000, 'the config is nested too deeply to read; a device plugin config is a mapping a few levels deep'),
    ('a: ' + '[' * 3000 + ']' * 3000, 'the config is nested too deeply to read; a device plugin config is a mapping a few levels deep'),
])
def test_load_config_refuses_text_that_is_not_a_mapping(text, message):
    from ansible_collections.gpufleet.mig.plugins.module_utils._plugin_config import load_config
    with pytest.raises(ValueError) as info:
        load_config(text)
    assert str(info.value) == message


@pytest.mark.parametrize('labels, problem', [
    ({'ok': 'value\n'}, "label ok: the value 'value\\n' must be empty or 1-63 characters"),
    ({'key\n': 'v'}, "label key 'key\\n': the name 'key\\n' must be 1-63 characters"),
    ({'example.com\n/key': 'v'}, "label key 'example.com\\n/key': the prefix 'example.com\\n' must be a lower-case DNS subdomain"),
])
def test_metadata_problems_refuse_a_trailing_newline(labels, problem):
    # '$' matched before a final newline, so these went to the API server, which refuses them.
    problems = metadata_problems(labels, {})
    assert len(problems) == 1 and problems[0].startswith(problem)


@pytest.mark.parametrize('value, kind, ok', [
    ('gpu-node-1', 'subdomain', True), ('node.example.com', 'subdomain', True), ('a' * 253, 'subdomain', True),
    ('', 'subdomain', False), ('Node1', 'subdomain', False), ('node_1', 'subdomain', False), ('a' * 254, 'subdomain', False),
    ('node\n', 'subdomain', False), ('../x', 'subdomain', False),
    ('gpu-operator', 'label', True), ('gpu.operator', 'label', False), ('a' * 64, 'label', False),
])
def test_name_problem(value, kind, ok):
    from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import name_problem
    problem = name_problem('node', value, kind)
    assert (problem is None) == ok
    if not ok:
        assert problem.startswith('node: %r is not a valid ' % value) and 'must be' in problem


def test_with_planned_layouts_refuses_what_is_not_a_mig_layout_result():
    from ansible_collections.gpufleet.mig.plugins.module_utils._resources import with_planned_layouts
    with pytest.raises(ValueError) as info:
        with_planned_layouts([{'index': 0, 'mig_capable': True, 'layout': None}], [{'index': 'zero', 'mig_enabled': True, 'after': 5}])
    assert str(info.value).startswith('planned_layouts entry 0 must be a GPU result of mig_layout')
    # A GPU entry whose index cannot be looked up is left for expected_resources to name (it used to raise TypeError).
    assert with_planned_layouts([{'index': [0]}], [])[0] == {'index': [0]}


def test_a_tls_failure_is_found_behind_urllib3s_wrappers():
    verify = ssl.SSLCertVerificationError(1, 'certificate verify failed')
    assert tls_failure(MaxRetryError(None, '/api', SSLError(verify))) is verify
    assert tls_failure(SSLError(verify)) is verify
    refused = MaxRetryError(None, '/api', NewConnectionError(None, 'Connection refused'))
    assert tls_failure(refused) is None and tls_failure(ConnectionRefusedError()) is None
