# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mig_plan: the cluster's nodes, pods and quotas plus gpu_info facts in, per-node layouts with slot diagrams out.

The cluster is answered at the wire (``Kube.send``, the one place a request leaves), so every request is recorded:
the module only lists, never writes.
"""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes.client.rest import ApiException

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube
from ansible_collections.gpufleet.mig.plugins.modules import mig_config_info, mig_plan
from modrun import run_module  # tests/unit/plugins/modules/modrun.py

AUTH = {'host': 'http://127.0.0.1:9', 'api_key': 'token'}
MODEL = {'model': 'A100-SXM4-80GB', 'name': 'NVIDIA A100-SXM4-80GB', 'mig_capable': True, 'mig_mode': {'current': True, 'pending': True}}


def gpu(index, instances=(), processes=()):
    """A gpu_info GPU entry with ``instances`` as (GI id, profile, start, size)."""
    return dict(MODEL, index=index, uuid='GPU-%d' % index, processes=[{'pid': 100 + gi, 'gpu_instance_id': gi} for gi in processes],
                gpu_instances=[{'id': gi, 'profile': profile, 'placement': {'start': start, 'size': size},
                                'compute_instances': [{'uuid': mig_uuid(index, gi)}]}
                               for gi, profile, start, size in instances])


def mig_uuid(index, gi):
    return 'MIG-%d-%d' % (index, gi)


def kubelet(pods):
    """A gpufleet.mig.pod_resources result listing ``pods`` ({pod: {resource: device ids}})."""
    return {'changed': False, 'available': True, 'reason': None, 'socket': '/k.sock', 'pods': pods}


SEVEN = [(i + 1, '1g.10gb', i, 1) for i in range(7)]


def node(name, labels=None):
    return {'metadata': {'name': name, 'resourceVersion': '1', 'labels': dict({'kubernetes.io/hostname': name}, **(labels or {}))}, 'spec': {},
            'status': {'allocatable': {}}}


def pod(name, requests, node_name=None, namespace='ml', selector=None, phase=None):
    spec = {'containers': [{'name': 'main', 'resources': {'limits': requests}}]}
    if node_name:
        spec['nodeName'] = node_name
    if selector:
        spec['nodeSelector'] = selector
    return {'metadata': {'name': name, 'namespace': namespace}, 'spec': spec,
            'status': {'phase': phase or ('Running' if node_name else 'Pending')}}


def quota(namespace, hard):
    return {'metadata': {'name': 'gpus', 'namespace': namespace}, 'spec': {'hard': hard}}


@pytest.fixture(name='cluster')
def cluster_fixture(monkeypatch):
    """The cluster's objects, answered by path; ``cluster['sent']`` records every request."""
    cluster = {'nodes': [node('gpu-1'), node('gpu-2')], 'pods': [], 'resourcequotas': [], 'configmaps': {}, 'sent': []}

    def send(self, method, path, query=None, body=None, content_type=None):
        cluster['sent'].append('%s %s' % (method, path))
        parts = path.split('/')
        if parts[-1] in ('nodes', 'pods', 'resourcequotas'):
            return json.dumps({'items': cluster[parts[-1]]})
        if parts[-2] == 'nodes':
            found = next(node for node in cluster['nodes'] if node['metadata']['name'] == parts[-1])
            if method == 'PATCH':
                found['metadata']['labels'].update(body['metadata']['labels'])
            return json.dumps(found)
        if parts[-1] == 'configmaps' and method == 'POST':
            cluster['configmaps'][body['metadata']['name']] = dict(body, metadata=dict(body['metadata'], resourceVersion='1'))
            return json.dumps(body)
        if parts[-2] == 'configmaps':
            if parts[-1] not in cluster['configmaps']:
                raise ApiException(status=404, reason='Not Found')
            if method == 'PATCH':
                cluster['configmaps'][parts[-1]]['data'].update(body['data'])
            return json.dumps(cluster['configmaps'][parts[-1]])
        raise AssertionError('unexpected request %s %s' % (method, path))

    monkeypatch.setattr(Kube, 'send', send)
    return cluster


def run(args, check=False, diff=False):
    return run_module(mig_plan.main, dict(AUTH, **args), check=check, diff=diff)


def test_pending_pods_for_a_profile_no_node_offers_get_it_on_one_node(cluster):
    cluster['pods'] = [pod('infer-0', {'nvidia.com/mig-3g.40gb': 1}), pod('infer-1', {'nvidia.com/mig-3g.40gb': 1})]
    facts = {'gpu-1': [gpu(0, SEVEN)], 'gpu-2': [gpu(0, SEVEN)]}
    result = run({'gpu_facts': facts})
    assert not result['changed'], result
    assert result['demand'] == {'3g.40gb': 2} and result['served'] == {'3g.40gb': 2} and result['served_before'] == {'3g.40gb': 0}
    assert result['nodes_changed'] == ['gpu-1'] and result['gpus_changed'] == 1 and result['unmet'] == []
    planned = result['nodes']['gpu-1']
    assert planned['changed'] and planned['new'] == {'nvidia.com/mig-3g.40gb': 2}
    assert planned['gpus'][0]['target']['mig-devices'] == {'3g.40gb': 2}
    assert [(p['profile'], p['start']) for p in planned['gpus'][0]['target']['placements']] == [('3g.40gb', 0), ('3g.40gb', 4)]
    assert planned['diagrams'][0].startswith('GPU 0 A100-SXM4-80GB [0:1g.10gb') and planned['diagrams'][0].endswith(' now')
    assert planned['diagrams'][1].startswith('GPU 0 A100-SXM4-80GB [0-3:3g.40gb') and planned['diagrams'][1].endswith(' planned')
    assert not result['nodes']['gpu-2']['changed'] and result['nodes']['gpu-2']['diagrams'][0].endswith(' unchanged')
    assert 'gpu-1: changes, offering 2 x nvidia.com/mig-3g.40gb more' in result['summary']
    assert result['summary'][0] == '3g.40gb: 2 of 2 served (0 before)'
    assert cluster['sent'] == ['GET /api/v1/nodes', 'GET /api/v1/pods', 'GET /api/v1/resourcequotas']
    assert run({'gpu_facts': facts}, check=True) == result


def test_busy_instances_stay_where_their_pods_run(cluster):
    # Two pods hold 1g.10gb devices on gpu-1; the instance with processes (GI 7, slice 6) counts as busy first.
    cluster['pods'] = [pod('train-0', {'nvidia.com/mig-1g.10gb': 1}, node_name='gpu-1'),
                       pod('done', {'nvidia.com/mig-1g.10gb': 1}, node_name='gpu-1', phase='Succeeded'),
                       pod('infer-0', {'nvidia.com/mig-3g.40gb': 1})]
    result = run({'gpu_facts': {'gpu-1': [gpu(0, SEVEN, processes=[7])]}})
    target = result['nodes']['gpu-1']['gpus'][0]['target']
    assert ('1g.10gb', 6) in [(p['profile'], p['start']) for p in target['placements']]
    assert ('3g.40gb', 0) in [(p['profile'], p['start']) for p in target['placements']]
    assert result['busy_destroyed'] == 0 and result['evicted_pods'] == [] and result['served'] == {'3g.40gb': 1}


def test_the_kubelets_answer_marks_the_instance_a_pod_holds_and_others_are_guessed(cluster):
    # train-0 holds the 1g.10gb at slice 4 (GI 5), which the kubelet says; spread, it would be given slice 0.
    cluster['pods'] = [pod('train-0', {'nvidia.com/mig-1g.10gb': 1}, node_name='gpu-1'), pod('infer-0', {'nvidia.com/mig-3g.40gb': 1})]
    facts = {'gpu-1': [gpu(0, SEVEN)]}
    held = {'ml/train-0': {'nvidia.com/mig-1g.10gb': [mig_uuid(0, 5)]}, 'kube-system/dns': {}}

    def placements(result):
        return [(p['profile'], p['start']) for p in result['nodes']['gpu-1']['gpus'][0]['target']['placements']]

    known = run({'gpu_facts': facts, 'pod_resources': {'gpu-1': kubelet(held)}})
    assert ('1g.10gb', 4) in placements(known) and ('3g.40gb', 0) in placements(known) and known['busy_destroyed'] == 0
    assert known['nodes']['gpu-1']['busy'] == {'known': True, 'reason': None, 'guessed': [],
                                               'instances': [{'gpu': 0, 'start': 4, 'profile': '1g.10gb', 'pods': ['ml/train-0']}]}
    guessed = run({'gpu_facts': facts})
    assert ('1g.10gb', 0) in placements(guessed) and ('3g.40gb', 4) in placements(guessed)
    assert guessed['nodes']['gpu-1']['busy'] == {'known': False, 'reason': 'no pod_resources answer for this node', 'guessed': ['ml/train-0'],
                                                 'instances': [{'gpu': 0, 'start': 0, 'profile': '1g.10gb', 'pods': ['ml/train-0']}]}
    assert '  busy instances guessed for ml/train-0: no pod_resources answer for this node' in guessed['summary']
    for answer, reason in (({'skipped': True, 'changed': False}, 'the pod-resources API was not read'),
                           ({'available': False, 'reason': 'no socket here'}, 'no socket here'),
                           (kubelet({'ml/train-0': {'nvidia.com/mig-1g.10gb': ['MIG-gone']}}), 'the kubelet places no known GPU instance for ml/train-0')):
        result = run({'gpu_facts': facts, 'pod_resources': {'gpu-1': answer}})
        assert result['nodes']['gpu-1']['busy']['reason'] == reason and ('1g.10gb', 0) in placements(result), result


def test_pods_the_kubelet_does_not_place_are_spread_over_the_other_instances(cluster):
    # train-0 holds slice 0 (the kubelet says); train-1 is not in its answer, so it is given the next free 1g.10gb.
    cluster['pods'] = [pod('train-%d' % i, {'nvidia.com/mig-1g.10gb': 1}, node_name='gpu-1') for i in range(2)]
    result = run({'gpu_facts': {'gpu-1': [gpu(0, SEVEN)]},
                  'pod_resources': {'gpu-1': kubelet({'ml/train-0': {'nvidia.com/mig-1g.10gb': [mig_uuid(0, 1)]}})}})
    busy = result['nodes']['gpu-1']['busy']
    assert busy['known'] is False and busy['guessed'] == ['ml/train-1']
    assert [(i['start'], i['pods']) for i in busy['instances']] == [(0, ['ml/train-0']), (1, ['ml/train-1'])]


def test_pending_pods_go_only_where_affinity_and_tolerations_let_them(cluster):
    taint = {'key': 'dedicated', 'value': 'research', 'effect': 'NoSchedule'}
    cluster['nodes'] = [node('gpu-1'), node('gpu-2', {'zone': 'b'})]
    cluster['nodes'][0]['spec']['taints'] = [taint]
    facts = {'gpu-1': [gpu(0)], 'gpu-2': [gpu(0)]}
    affinity = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'zone', 'operator': 'NotIn', 'values': ['b']}]}]}}}
    # Tolerates the taint but its affinity keeps it off gpu-2: only gpu-1.
    tolerant = pod('research-0', {'nvidia.com/mig-7g.80gb': 1})
    tolerant['spec'].update(affinity=affinity, tolerations=[{'key': 'dedicated', 'operator': 'Exists'}])
    cluster['pods'] = [tolerant]
    assert run({'gpu_facts': facts})['nodes_changed'] == ['gpu-1']
    # Without the toleration no planned node admits it: unmet, and said why.
    plain = pod('research-0', {'nvidia.com/mig-7g.80gb': 1})
    plain['spec']['affinity'] = affinity
    cluster['pods'] = [plain]
    result = run({'gpu_facts': facts})
    assert result['nodes_changed'] == [] and result['unmet'][0]['reason'].endswith(
        'no node matches any node, on the nodes their node affinity and tolerations allow (none)'), result
    # Nothing but the taint: the pod goes to gpu-2, which the planner would not pick otherwise (gpu-1 sorts first).
    cluster['pods'] = [pod('infer-0', {'nvidia.com/mig-7g.80gb': 1})]
    assert run({'gpu_facts': facts})['nodes_changed'] == ['gpu-2']
    cluster['nodes'][0]['spec']['taints'] = []
    assert run({'gpu_facts': facts})['nodes_changed'] == ['gpu-1']


def test_quota_caps_the_demand_served_and_says_so(cluster):
    cluster['pods'] = [pod('infer-%d' % i, {'nvidia.com/mig-3g.40gb': 1}) for i in range(2)]
    # The lowest hard limit of a namespace binds, as Kubernetes enforces every quota.
    cluster['resourcequotas'] = [quota('ml', {'requests.nvidia.com/mig-3g.40gb': '3', 'requests.cpu': '8'}),
                                 quota('ml', {'requests.nvidia.com/mig-3g.40gb': 1})]
    result = run({'gpu_facts': {'gpu-1': [gpu(0)]}})
    assert result['served'] == {'3g.40gb': 1}
    assert [u['reason'] for u in result['unmet']] == ['namespace ml is over its ResourceQuota requests.nvidia.com/mig-3g.40gb (0 used by running pods)']


def test_pools_targets_and_frozen_nodes(cluster):
    cluster['nodes'] = [node('gpu-1', {'pool': 'a'}), node('gpu-2', {'pool': 'b'})]
    facts = {'gpu-1': [gpu(0)], 'gpu-2': [gpu(0)]}
    result = run({'gpu_facts': facts, 'pools': [{'name': 'a', 'selector': {'pool': 'a'}}, {'name': 'b', 'selector': {'pool': 'b'}}],
                  'targets': [{'pool': 'b', 'profile': '7g.80gb', 'count': 1}]})
    assert result['nodes_changed'] == ['gpu-2'] and result['served'] == {'7g.80gb': 1}
    frozen = run({'gpu_facts': facts, 'pools': [{'name': 'b', 'selector': {'pool': 'b'}}], 'frozen_nodes': ['gpu-2'],
                  'targets': [{'pool': 'b', 'profile': '7g.80gb', 'count': 1}]})
    assert frozen['nodes_changed'] == [] and frozen['unmet'][0]['count'] == 1 and frozen['unmet'][0]['message'].startswith('1 x 7g.80gb cannot be placed: ')


@pytest.mark.parametrize('args, pods, message', [
    ({'targets': [{'pool': 'a', 'profile': '5g.50gb', 'count': 1}], 'pools': [{'name': 'a', 'selector': {}}]}, [],
     "unknown MIG profile or resource '5g.50gb'"),
    ({}, [pod('big', {'nvidia.com/mig-3g.20gb': 1})], 'nvidia.com/mig-3g.20gb is demand no GPU model of the fleet can serve'),
    ({'pools': [{'name': 'a', 'selector': {}}, {'name': 'b', 'selector': {}}]}, [], "node 'gpu-1' matches pools a and b"),
    ({'frozen_gpus': [{'node': 'gpu-1', 'index': 3}]}, [], "frozen GPU ('gpu-1', 3) is not in the fleet"),
    ({'gpu_facts': {'gpu-9': [gpu(0)]}}, [], 'gpu_facts name nodes the cluster does not have: gpu-9'),
    ({'gpu_facts': {'gpu-1': [dict(gpu(0), model=None)]}}, [], "the collection's GPU catalog does not know this model"),
    ({'time_limit': 0}, [], 'time_limit must be more than 0 seconds'),
    ({'pod_resources': {'gpu-2': {'available': False}}}, [], 'pod_resources name nodes that gpu_facts does not plan: gpu-2; planned: gpu-1'),
    ({'pod_resources': {'gpu-1': 'yes'}}, [], "pod_resources of node gpu-1 must be the result of gpufleet.mig.pod_resources, got 'yes'"),
    ({'pod_resources': {'gpu-1': {'available': True, 'pods': {'ml/a': ['MIG-1']}}}}, [],
     "pod_resources of node gpu-1 must be the result of gpufleet.mig.pod_resources (pods: pod -> resource -> device ids); got pods="),
])
def test_bad_input_fails_naming_the_value_and_writes_nothing(cluster, args, pods, message):
    cluster['pods'] = pods
    result = run(dict({'gpu_facts': {'gpu-1': [gpu(0)]}}, **args))
    assert result.get('failed') and message in result['msg'], result
    assert all(sent.startswith('GET ') for sent in cluster['sent'])


def test_a_gpu_without_mig_is_left_out(cluster):
    facts = {'gpu-1': [gpu(0), {'index': 1, 'model': None, 'name': 'NVIDIA L40S', 'mig_capable': False}]}
    result = run({'gpu_facts': facts})
    assert [g['index'] for g in result['nodes']['gpu-1']['gpus']] == [0] and result['nodes_changed'] == []


def test_records_the_plan_as_labels_naming_configs_of_a_configmap(cluster):
    cluster['pods'] = [pod('infer-0', {'nvidia.com/mig-3g.40gb': 1}), pod('infer-1', {'nvidia.com/mig-3g.40gb': 1})]
    cluster['nodes'][1]['metadata']['labels']['nvidia.com/mig.config'] = 'gpufleet-plan-0123456789ab'   # an earlier plan's
    earlier = {'gpufleet-plan-0123456789ab': [{'devices': 'all', 'mig-enabled': False}], 'gpufleet-plan-ffffffffffff': []}
    cluster['configmaps']['plan'] = {'metadata': {'name': 'plan', 'resourceVersion': '7'},
                                     'data': {'config.yaml': yaml.safe_dump({'version': 'v1', 'mig-configs': earlier})}}
    args = {'gpu_facts': {'gpu-1': [gpu(0, SEVEN), gpu(1, SEVEN)]}, 'configmap': 'plan'}
    checked = run(args, check=True, diff=True)
    assert checked['changed'] and all(sent.startswith('GET ') for sent in cluster['sent'])
    name = checked['recorded']['labels']['gpu-1']
    assert checked['diff']['before']['labels'] == {'gpu-1': None} and checked['diff']['after']['labels'] == {'gpu-1': name}
    del cluster['sent'][:]
    result = run(args)
    assert result['changed'] and result['recorded'] == checked['recorded'] and 'diff' not in result
    writes = [sent for sent in cluster['sent'] if not sent.startswith('GET ')]
    assert writes == ['PATCH /api/v1/namespaces/gpu-operator/configmaps/plan', 'PATCH /api/v1/nodes/gpu-1']
    assert cluster['sent'].index('PATCH /api/v1/namespaces/gpu-operator/configmaps/plan') < cluster['sent'].index('PATCH /api/v1/nodes/gpu-1')
    assert cluster['nodes'][0]['metadata']['labels']['nvidia.com/mig.config'] == name
    config = yaml.safe_load(cluster['configmaps']['plan']['data']['config.yaml'])
    # The new config, and the earlier plan's that gpu-2 (not planned now) still names; the unused one is gone.
    assert sorted(config['mig-configs']) == sorted(['gpufleet-plan-0123456789ab', name])
    assert config['mig-configs'][name] == [{'devices': [0], 'mig-enabled': True, 'mig-devices': {'3g.40gb': 2}},
                                           {'devices': [1], 'mig-enabled': True, 'mig-devices': {'1g.10gb': 7}}]
    del cluster['sent'][:]
    again = run(args)
    assert not again['changed'] and all(sent.startswith('GET ') for sent in cluster['sent'])


def test_a_recording_target_that_is_not_a_mig_parted_config_is_left_alone(cluster):
    cluster['configmaps']['plan'] = {'metadata': {'name': 'plan', 'resourceVersion': '7'}, 'data': {'config.yaml': 'flags: {}'}}
    result = run({'gpu_facts': {'gpu-1': [gpu(0)]}, 'configmap': 'plan'})
    assert result['failed'] and 'is not a mig-parted config' in result['msg'] and all(sent.startswith('GET ') for sent in cluster['sent'])


def test_mig_config_info_reads_back_what_the_plan_recorded(cluster):
    cluster['pods'] = [pod('infer-0', {'nvidia.com/mig-3g.40gb': 1})]
    recorded = run({'gpu_facts': {'gpu-1': [gpu(0)]}, 'configmap': 'plan'})
    read = run_module(mig_config_info.main, dict(AUTH, configmap='plan'))
    assert not read['changed'] and list(read['config']['mig-configs']) == [recorded['recorded']['labels']['gpu-1']]


@pytest.mark.parametrize('data, message', [
    (None, 'configmap gpu-operator/plan does not exist'),
    ({'other.yaml': 'x'}, 'configmap gpu-operator/plan has no key config.yaml; its keys: other.yaml'),
    ({'config.yaml': '[1'}, 'configmap gpu-operator/plan key config.yaml is not YAML'),
    ({'config.yaml': 'version: v1'}, 'key config.yaml is not a mig-parted config'),
])
def test_mig_config_info_names_what_is_missing(cluster, data, message):
    if data is not None:
        cluster['configmaps']['plan'] = {'metadata': {'name': 'plan', 'resourceVersion': '1'}, 'data': data}
    result = run_module(mig_config_info.main, dict(AUTH, configmap='plan'))
    assert result['failed'] and message in result['msg'], result
