# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes-side modules refuse bad arguments before their first API request (issue 7, found by tests/unit/property).

Each module runs in this process through ``main()`` with its arguments passed as Ansible passes them; every HTTP
request of the kubernetes client is recorded and answered with an error instead of reaching a server.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json

import pytest
from ansible.module_utils.testing import patch_module_args

AUTH = {'host': 'http://127.0.0.1:9', 'api_key': 'token'}
DRA_GPUS = [{'index': 0, 'minor_number': 0, 'mig_mode': {'current': False}}]


@pytest.fixture(name='run')
def run_fixture(monkeypatch):
    from kubernetes.client import rest

    requests = []

    def request(self, method, url, *args, **kwargs):
        requests.append('%s %s' % (method, url))
        raise rest.ApiException(status=599, reason='no API server in this test')

    monkeypatch.setattr(rest.RESTClientObject, 'request', request)
    for key in ('K8S_AUTH_HOST', 'K8S_AUTH_API_KEY', 'K8S_AUTH_KUBECONFIG', 'K8S_AUTH_CONTEXT'):
        monkeypatch.delenv(key, raising=False)

    def run(name, args):
        module = importlib.import_module('ansible_collections.gpufleet.mig.plugins.modules.' + name)
        del requests[:]
        out = io.StringIO()
        with patch_module_args(dict(AUTH, **args)), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            module.main()
        return json.loads(out.getvalue()), list(requests)
    return run


def test_a_valid_request_reaches_the_recorder(run):
    result, requests = run('node_labels', {'node': 'gpu-1', 'labels': {'a': 'b'}})
    assert requests == ['GET http://127.0.0.1:9/api/v1/nodes/gpu-1'] and 'no API server in this test' in result['msg']


@pytest.mark.parametrize('module, args', [
    ('node_labels', {'labels': {'a': 'b'}}),
    ('node_drain', {'state': 'cordon'}),
    ('device_plugin_config', {'configmap': 'cm', 'config_name': 'mixed', 'wait': False}),
])
@pytest.mark.parametrize('node', ['', 'Node-1', 'node_1', 'node\n', '../x'])
def test_a_bad_node_name_is_refused_before_any_request(run, module, args, node):
    # An empty name used to turn "GET node" into "GET /api/v1/nodes/", a list of every node.
    result, requests = run(module, dict(args, node=node))
    assert requests == [] and result['failed']
    assert 'node: %r is not a valid Kubernetes object name: it must be a lower-case DNS subdomain' % node in result['msg']


@pytest.mark.parametrize('delay', ['nan', 'inf', float('nan'), float('inf')])
def test_node_drain_refuses_a_retry_delay_that_is_not_finite(run, delay):
    # nan and inf passed the "at least 1" check and then failed in time.sleep, after the node was cordoned.
    result, requests = run('node_drain', {'node': 'gpu-1', 'retry_delay': delay})
    assert requests == [] and result['msg'].startswith('retry_delay must be a finite number of seconds, at least 1, got ')


@pytest.mark.parametrize('args, message', [
    # A valid ConfigMap key but not a label value: the ConfigMap used to be written before the label patch failed.
    ({'node': 'gpu-1', 'config_name': '-mixed', 'configs': {'-mixed': {'version': 'v1'}}, 'wait': False},
     "config_name: '-mixed' must be 1-63 characters of letters, digits"),
    ({'configs': {'has space': {'version': 'v1'}}}, "configs: 'has space' is not a valid ConfigMap key"),
    ({'namespace': 'GPU-Operator'}, "namespace: 'GPU-Operator' is not a valid namespace name"),
    ({'configmap': 'my_configs'}, "configmap: 'my_configs' is not a valid Kubernetes object name"),
    # A negative timeout used to write the config, restart the plugin and then fail at once.
    ({'node': 'gpu-1', 'config_name': 'mixed', 'gpus': [], 'timeout': -1}, 'timeout must be at least 0, got -1'),
    # Malformed entries used to raise KeyError or TypeError, or were found only after reading the ConfigMap.
    ({'node': 'gpu-1', 'config_name': 'mixed', 'gpus': [], 'planned_layouts': [{'gpu': 0}]},
     'planned_layouts: planned_layouts entry 0 must be a GPU result of mig_layout'),
    ({'node': 'gpu-1', 'config_name': 'mixed', 'gpus': [{'index': [0]}]}, 'gpus: GPU entry 0: index must be a non-negative integer'),
    # The preflight's check of a cluster's DRA nodes (option dra): refused before the plugin pods are listed.
    ({'node': 'gpu-1', 'config_name': 'mixed', 'wait': False, 'dra': {}}, 'dra is for nodes: with node, the node is a device plugin node'),
    ({'nodes': [{'node': 'gpu-1', 'config_name': 'mixed', 'gpus': DRA_GPUS, 'allocator': 'dra'}]}, 'nodes[1].allocator needs the option dra'),
    ({'nodes': [{'node': 'gpu-1', 'config_name': 'mixed', 'gpus': DRA_GPUS}], 'dra': {'namespace': 'DRA'}},
     "dra.namespace: 'DRA' is not a valid namespace name"),
    ({'nodes': [{'node': 'gpu-1', 'config_name': 'mixed', 'gpus': DRA_GPUS}], 'dra': {'selector': ' '}}, 'dra.selector must not be empty'),
    # GPUs as gpu_info gives them (node.gpus), which both checks read.
    ({'nodes': [{'node': 'gpu-1', 'config_name': 'mixed', 'allocator': 'nvidia',
                 'gpus': [dict(DRA_GPUS[0], mig_capable=True, layout=None)]}], 'dra': {}},
     "nodes[1] (gpu-1): allocator 'nvidia' is not one of auto, device-plugin, dra"),
    ({'nodes': [{'node': 'gpu-1', 'config_name': 'mixed', 'allocator': 'dra',
                 'gpus': [{'index': 0, 'minor_number': 0, 'mig_capable': True, 'mig_mode': {'current': True}, 'layout': None,
                           'gpu_instances': []}]}], 'dra': {}},
     'MIG is enabled but the GPU has no MIG devices'),
])
def test_device_plugin_config_refuses_bad_arguments_before_any_request(run, args, message):
    result, requests = run('device_plugin_config', dict({'configmap': 'nvidia-device-plugin-configs'}, **args))
    assert requests == [] and result['failed'] and message in result['msg'], result['msg']


@pytest.mark.parametrize('args, message', [
    ({'labels': {'nvidia.com/mig.config.state': 'has space'}}, "label nvidia.com/mig.config.state: the value 'has space' must be empty"),
    ({'labels': {'Bad_Prefix.com/x': 'v'}}, "label key 'Bad_Prefix.com/x': the prefix 'Bad_Prefix.com' must be a lower-case DNS subdomain"),
    ({'annotations': {'gpufleet.mig/why': 3}}, 'annotation gpufleet.mig/why: the value 3 is a int; Kubernetes needs a string'),
    # The module's own records: set by hand, they would make uncordon lift a cordon it did not make, or keep its own.
    ({'annotations': {'gpufleet.mig/cordoned': 'true'}}, 'annotation gpufleet.mig/cordoned: node_drain manages it itself'),
    ({'annotations': {'gpufleet.mig/drain-failed': None}}, 'annotation gpufleet.mig/drain-failed: node_drain manages it itself'),
])
@pytest.mark.parametrize('state', ['drain', 'cordon', 'uncordon'])
def test_node_drain_refuses_bad_labels_and_annotations_before_any_request(run, args, message, state):
    result, requests = run('node_drain', dict(args, node='gpu-1', state=state))
    assert requests == [] and result['failed'] and message in result['msg'], result['msg']
    assert message in ' '.join(result['problems'])


def test_node_drain_with_valid_labels_reaches_the_recorder(run):
    result, requests = run('node_drain', {'node': 'gpu-1', 'state': 'cordon', 'labels': {'nvidia.com/mig.config.state': 'pending'},
                                          'annotations': {'gpufleet.mig/failure-reason': None}})
    assert requests == ['GET http://127.0.0.1:9/api/v1/nodes/gpu-1'] and 'no API server in this test' in result['msg']


@pytest.mark.parametrize('args, message', [
    ({'gpus': [-1]}, 'gpus must be GPU indexes (0 or more), got [-1]'),
    ({'gpus': [0], 'pod_resources': {'available': True}}, 'pod_resources must be the result of gpufleet.mig.pod_resources run with gpus'),
    ({'gpus': [0], 'pod_resources': {'available': True, 'pod_gpus': {'ml/a': ['GPU-0']}}},
     'pod_resources must be the result of gpufleet.mig.pod_resources run with gpus'),
    ({'gpus': [0], 'pod_resources': {'available': True, 'pod_gpus': {}, 'unmapped_dra_devices': 'gpu-9'}},
     "pod_resources must be the result of gpufleet.mig.pod_resources (unmapped_dra_devices: a list of sentences); "
     "got unmapped_dra_devices='gpu-9'"),
])
def test_node_drain_refuses_a_bad_precise_drain_before_any_request(run, args, message):
    result, requests = run('node_drain', dict(args, node='gpu-1'))
    assert result['failed'] and message in result['msg']
    assert requests == []


@pytest.mark.parametrize('args, message', [
    ({'changes': [{'node': 'gpu-1', 'resources': {}, 'gpus': [-2]}]}, 'changes: node gpu-1: gpus must be GPU indexes (0 or more), got [-2]'),
    ({'changes': [{'node': 'gpu-1', 'resources': {}, 'gpus': [0]}], 'pod_resources': {'gpu-1': {'available': True}}},
     'changes: node gpu-1: pod_resources must be the result of gpufleet.mig.pod_resources run with gpus'),
    ({'changes': [{'node': 'gpu-1', 'resources': {}, 'gpus': [0]}], 'pod_resources': {'gpu-1': 'yes'}},
     "changes: node gpu-1: pod_resources must be the result of gpufleet.mig.pod_resources, got 'yes'"),
])
def test_capacity_check_refuses_a_bad_precise_drain_before_any_request(run, args, message):
    result, requests = run('capacity_check', args)
    assert result['failed'] and message in result['msg'], result['msg']
    assert requests == []


@pytest.mark.parametrize('args, message', [
    ({'node': 'Node-1'}, "node: 'Node-1' is not a valid Kubernetes object name"),
    ({'namespace': 'DRA'}, "namespace: 'DRA' is not a valid namespace name"),
    ({'daemonset': 'kubelet_plugin'}, "daemonset: 'kubelet_plugin' is not a valid Kubernetes object name"),
    ({'selector': ' '}, 'selector must not be empty'),
    ({'timeout': -1}, 'timeout must be at least 0, got -1'),
    ({'gpus': [{'index': 0, 'mig_mode': {'current': False}}]}, 'gpus[0] (GPU 0): minor_number must be'),
    ({'gpus': [{'index': 0, 'minor_number': 0, 'mig_mode': {'current': True}, 'gpu_instances': []}]},
     'MIG is enabled but the GPU has no MIG devices'),
    ({'gpus': [{'index': 0, 'minor_number': 0, 'mig_mode': {'current': True}, 'gpu_instances': [
        {'profile': '3g.20gb', 'profile_id': 9, 'placement': {'start': 0, 'size': 4}, 'compute_slices': 3,
         'compute_instances': [{'placement': {'start': 0, 'size': 1}}]}]}]}, 'is split into smaller compute instances'),
])
def test_dra_plugin_refuses_bad_arguments_before_any_request(run, args, message):
    result, requests = run('dra_plugin', dict({'node': 'gpu-1', 'gpus': DRA_GPUS}, **args))
    assert requests == [] and result['failed'] and message in result['msg'], result['msg']
    assert message in ' '.join(result['problems'])


def test_dra_plugin_with_valid_arguments_reaches_the_recorder(run):
    result, requests = run('dra_plugin', {'node': 'gpu-1', 'gpus': DRA_GPUS})
    assert requests == ['GET http://127.0.0.1:9/api/v1/namespaces/dra-driver-nvidia-gpu/pods?fieldSelector=spec.nodeName%3Dgpu-1&'
                        'labelSelector=dra-driver-nvidia-gpu-component%3Dkubelet-plugin']
    assert 'no API server in this test' in result['msg']


@pytest.mark.parametrize('args, message', [
    ({'to': 'gpu-operator'}, "to: 'gpu-operator' is not an allocator gpufleet.mig can move a node to (valid: dra, device-plugin)"),
    ({'node': 'Node-1'}, "node: 'Node-1' is not a valid Kubernetes object name"),
    ({'dra_namespace': 'DRA'}, "dra_namespace: 'DRA' is not a valid namespace name"),
    ({'dra_label': 'nvidia.com/gpu.deploy.device-plugin'}, 'each plugin needs a label of its own'),
    ({'device_plugin_label': 'nvidia.com/bad label'}, "label key 'nvidia.com/bad label'"),
    ({'device_plugin_selector': ''}, 'device_plugin_selector must not be empty'),
    ({'timeout': -1}, 'timeout must be at least 0, got -1'),
    ({'gpus': [{'index': 0, 'minor_number': 0, 'mig_mode': {'current': True}, 'gpu_instances': []}]},
     'MIG is enabled but the GPU has no MIG devices'),
])
def test_allocator_switch_refuses_bad_arguments_before_any_request(run, args, message):
    result, requests = run('allocator_switch', dict({'node': 'gpu-1', 'to': 'dra', 'gpus': DRA_GPUS}, **args))
    assert requests == [] and result['failed'] and message in result['msg'], result['msg']


def test_allocator_switch_back_does_not_need_gpus_the_dra_driver_could_serve(run):
    # A stranded GPU is no reason to refuse the way back to the device plugin.
    stranded = [{'index': 0, 'minor_number': 0, 'mig_mode': {'current': True}, 'gpu_instances': []}]
    result, requests = run('allocator_switch', {'node': 'gpu-1', 'to': 'device-plugin', 'gpus': stranded})
    assert requests and 'no API server in this test' in result['msg']
