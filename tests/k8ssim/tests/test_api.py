# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""REST behaviour seen through the real kubernetes client: discovery, patches, conflicts,
errors with Status bodies, selectors, configmaps and daemonsets."""

from __future__ import absolute_import, division, print_function

import json

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from simhelpers import base_description, clients, raw

NODES = [{'name': 'n1', 'labels': {'pool': 'gpu', 'zone': 'a'}}, {'name': 'n2', 'labels': {'pool': 'gpu', 'zone': 'b'}},
         {'name': 'cpu1', 'labels': {'pool': 'cpu'}}]
WORKLOADS = [{'name': 'web', 'namespace': 'apps', 'replicas': 2, 'labels': {'app': 'web', 'tier': 'front'}, 'node': 'cpu1'},
             {'name': 'db', 'namespace': 'apps', 'replicas': 1, 'labels': {'app': 'db', 'tier': 'back'}, 'node': 'n2'}]


@pytest.fixture(name='sim')
def sim_fixture(cluster):
    return cluster(base_description(NODES, workloads=WORKLOADS, device_plugin=None))


def _status(exc):
    body = json.loads(exc.body)
    assert body['kind'] == 'Status' and body['apiVersion'] == 'v1' and body['status'] == 'Failure'
    assert body['code'] == exc.status
    return body


def test_discovery(sim):
    api = sim.api_client()
    assert client.VersionApi(api).get_code().git_version.startswith('v1.')
    core = client.CoreV1Api(api).get_api_resources()
    names = dict((r.name, r) for r in core.resources)
    assert names['pods/eviction'].kind == 'Eviction' and names['pods/eviction'].group == 'policy'
    assert 'nodes/status' in names and names['nodes'].namespaced is False and names['pods'].namespaced is True
    groups = dict((g.name, g) for g in client.ApisApi(api).get_api_versions().groups)
    assert groups['apps'].preferred_version.group_version == 'apps/v1'
    assert groups['policy'].preferred_version.group_version == 'policy/v1'
    assert 'daemonsets' in [r.name for r in client.AppsV1Api(api).get_api_resources().resources]
    assert 'poddisruptionbudgets' in [r.name for r in client.PolicyV1Api(api).get_api_resources().resources]


def test_node_get_list_and_patches(sim):
    core = clients(sim)[0]
    assert [n.metadata.name for n in core.list_node(label_selector='pool=gpu').items] == ['n1', 'n2']
    assert [n.metadata.name for n in core.list_node(field_selector='metadata.name=n2').items] == ['n2']
    before = core.read_node('n1')
    # strategic merge patch (the client's default for a dict body): cordon
    node = core.patch_node('n1', {'spec': {'unschedulable': True}})
    assert node.spec.unschedulable is True
    assert int(node.metadata.resource_version) > int(before.metadata.resource_version)
    # merge patch: add and remove labels (null deletes)
    node = core.patch_node('n1', {'metadata': {'labels': {'nvidia.com/mig.config': 'all-1g.5gb', 'zone': None}}},
                           _content_type='application/merge-patch+json')
    assert node.metadata.labels['nvidia.com/mig.config'] == 'all-1g.5gb' and 'zone' not in node.metadata.labels
    # json patch with an escaped key and a passing test
    node = core.patch_node('n1', [{'op': 'test', 'path': '/metadata/labels/nvidia.com~1mig.config', 'value': 'all-1g.5gb'},
                                  {'op': 'replace', 'path': '/metadata/labels/nvidia.com~1mig.config', 'value': 'all-balanced'},
                                  {'op': 'remove', 'path': '/metadata/labels/pool'}], _content_type='application/json-patch+json')
    assert node.metadata.labels['nvidia.com/mig.config'] == 'all-balanced' and 'pool' not in node.metadata.labels
    # the node lifecycle controller adds the unschedulable taint; uncordon removes it
    sim.wait_for(lambda d: any(t['key'] == 'node.kubernetes.io/unschedulable' for t in
                               [n for n in d['objects']['nodes'] if n['metadata']['name'] == 'n1'][0]['spec'].get('taints', [])))
    node = core.patch_node('n1', {'spec': {'unschedulable': False}})
    assert not node.spec.unschedulable
    sim.wait_for(lambda d: not [n for n in d['objects']['nodes'] if n['metadata']['name'] == 'n1'][0]['spec'].get('taints'))
    # status subresource
    status = core.patch_node_status('n1', {'status': {'capacity': {'example.com/foo': '3'}}, 'spec': {'unschedulable': True}})
    assert status.status.capacity['example.com/foo'] == '3' and not status.spec.unschedulable
    assert core.read_node_status('n1').status.capacity['example.com/foo'] == '3'


def test_failing_json_patch_test_is_422_and_changes_nothing(sim):
    core = clients(sim)[0]
    rv = core.read_node('n2').metadata.resource_version
    with pytest.raises(ApiException) as err:
        core.patch_node('n2', [{'op': 'test', 'path': '/metadata/labels/zone', 'value': 'z'},
                               {'op': 'add', 'path': '/metadata/labels/x', 'value': 'y'}], _content_type='application/json-patch+json')
    assert err.value.status == 422 and _status(err.value)['reason'] == 'Invalid'
    assert core.read_node('n2').metadata.resource_version == rv
    with pytest.raises(ApiException) as err:
        core.patch_node('n2', [{'op': 'remove', 'path': '/metadata/labels/absent'}], _content_type='application/json-patch+json')
    assert err.value.status == 422
    with pytest.raises(ApiException) as err:
        core.patch_node('n2', {'metadata': {'labels': {'bad': 5}}}, _content_type='application/merge-patch+json')
    assert err.value.status == 422


def test_malformed_bodies_are_400(sim):
    for ctype in ('application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json'):
        code, body = raw(sim, 'PATCH', '/api/v1/nodes/n1', b'{not json', ctype)
        assert code == 400 and body['reason'] == 'BadRequest' and body['kind'] == 'Status'
    code, body = raw(sim, 'POST', '/api/v1/namespaces/apps/configmaps', b'[1, 2', 'application/json')
    assert code == 400
    code, body = raw(sim, 'PATCH', '/api/v1/nodes/n1', b'{}', 'text/plain')
    assert code == 415 and body['reason'] == 'UnsupportedMediaType'


def test_stale_update_is_409(sim):
    core = clients(sim)[0]
    node = core.read_node('n1')
    core.patch_node('n1', {'metadata': {'labels': {'touched': 'yes'}}})
    node.metadata.labels['other'] = 'x'
    with pytest.raises(ApiException) as err:
        core.replace_node('n1', node)
    body = _status(err.value)
    assert err.value.status == 409 and body['reason'] == 'Conflict' and 'the object has been modified' in body['message']
    fresh = core.read_node('n1')
    fresh.metadata.labels['other'] = 'x'
    assert core.replace_node('n1', fresh).metadata.labels['other'] == 'x'


def test_wrong_token_is_401(sim, tmp_path):
    kubeconfig = open(sim.kubeconfig, encoding='utf-8').read().replace(sim.token, 'wrong-token')
    path = tmp_path / 'bad-kubeconfig'
    path.write_text(kubeconfig)
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=cfg)
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(client.ApiClient(cfg)).list_node()
    assert err.value.status == 401 and _status(err.value)['reason'] == 'Unauthorized'
    no_token = client.Configuration(host=sim.url)
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(client.ApiClient(no_token)).list_node()
    assert err.value.status == 401
    assert raw(sim, 'GET', '/api/v1/nodes', token='wrong')[0] == 401
    assert raw(sim, 'GET', '/_sim/state', token='wrong')[0] == 401
    assert [e['user'] for e in sim.audit()][-3:] == [None, None, None]


def test_not_found_has_status_body(sim):
    api = sim.api_client()
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod('nope', 'apps')
    body = _status(err.value)
    assert err.value.status == 404 and body['reason'] == 'NotFound' and body['message'] == 'pods "nope" not found'
    assert body['details'] == {'name': 'nope', 'kind': 'pods'}
    for path in ('/api/v1/widgets', '/apis/apps/v1/namespaces/apps/widgets/x', '/apis/nope/v1'):
        code, body = raw(sim, 'GET', path)
        assert code == 404 and body['kind'] == 'Status' and body['message'] == 'the server could not find the requested resource'
    with pytest.raises(ApiException) as err:
        client.AppsV1Api(api).read_namespaced_daemon_set('nope', 'apps')
    assert _status(err.value)['details']['group'] == 'apps'


def test_pods_by_field_and_label_selector(sim):
    core = clients(sim)[0]
    assert sorted(p.metadata.labels['app'] for p in core.list_pod_for_all_namespaces(field_selector='spec.nodeName=cpu1').items) == ['web', 'web']
    assert [p.spec.node_name for p in core.list_namespaced_pod('apps', label_selector='app=db').items] == ['n2']
    assert len(core.list_namespaced_pod('apps', label_selector='tier in (front,back)').items) == 3
    assert len(core.list_namespaced_pod('apps', label_selector='tier!=front').items) == 1
    assert len(core.list_namespaced_pod('apps', label_selector='tier,!missing').items) == 3
    assert len(core.list_namespaced_pod('apps', field_selector='spec.nodeName=n2,status.phase=Running').items) == 1
    pods = core.list_namespaced_pod('apps', label_selector='app=web').items
    assert all(p.status.phase == 'Running' and p.metadata.owner_references[0].kind == 'ReplicaSet' for p in pods)
    with pytest.raises(ApiException) as err:
        core.list_pod_for_all_namespaces(field_selector='spec.bogus=1')
    assert err.value.status == 400


def test_configmap_and_daemonset_crud(sim):
    core, apps = clients(sim)[:2]
    cm = core.create_namespaced_config_map('apps', client.V1ConfigMap(metadata=client.V1ObjectMeta(name='cfg'), data={'a': '1'}))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map('apps', client.V1ConfigMap(metadata=client.V1ObjectMeta(name='cfg'), data={}))
    assert err.value.status == 409 and _status(err.value)['reason'] == 'AlreadyExists'
    cm.data['b'] = '2'
    updated = core.replace_namespaced_config_map('cfg', 'apps', cm)
    assert updated.data == {'a': '1', 'b': '2'}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map('cfg', 'apps', cm)  # cm still carries the old resourceVersion
    assert err.value.status == 409
    patched = core.patch_namespaced_config_map('cfg', 'apps', {'data': {'a': None}}, _content_type='application/merge-patch+json')
    assert patched.data == {'b': '2'}
    ds = client.V1DaemonSet(metadata=client.V1ObjectMeta(name='agent'), spec=client.V1DaemonSetSpec(
        selector=client.V1LabelSelector(match_labels={'app': 'agent'}),
        template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={'app': 'agent'}),
                                          spec=client.V1PodSpec(containers=[client.V1Container(name='a', image='agent:1')]))))
    created = apps.create_namespaced_daemon_set('apps', ds)
    assert created.metadata.generation == 1
    patched = apps.patch_namespaced_daemon_set('agent', 'apps', {'spec': {'template': {'metadata': {'annotations': {
        'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z'}}}}})
    assert patched.metadata.generation == 2
    stale = created
    stale.metadata.labels = {'x': 'y'}
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_daemon_set('agent', 'apps', stale)
    assert err.value.status == 409
    # the DaemonSet controller runs one pod per node
    sim.wait_for(lambda d: len([p for p in d['objects']['pods'] if p['metadata']['name'].startswith('agent-')
                                and p['status'].get('phase') == 'Running']) == 3, message='agent pods')
    assert apps.read_namespaced_daemon_set('agent', 'apps').status.desired_number_scheduled == 3


def test_delete_with_grace_period_and_replacement(sim):
    core = clients(sim)[0]
    pod = core.list_namespaced_pod('apps', label_selector='app=db').items[0]
    deleted = core.delete_namespaced_pod(pod.metadata.name, 'apps', grace_period_seconds=3)  # 3 s * time_scale 0.1
    assert deleted.metadata.deletion_timestamp is not None and deleted.metadata.deletion_grace_period_seconds == 3
    still = core.read_namespaced_pod(pod.metadata.name, 'apps')
    assert still.metadata.deletion_timestamp is not None
    sim.wait_for(lambda d: pod.metadata.name not in [p['metadata']['name'] for p in d['objects']['pods']], timeout=3, message='pod gone')
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod(pod.metadata.name, 'apps')
    assert err.value.status == 404
    # the ReplicaSet made a new pod (new name and uid)
    new = sim.wait_for(lambda d: [p for p in d['objects']['pods'] if p['metadata']['labels'].get('app') == 'db'
                                  and p['status'].get('phase') == 'Running'], message='replacement')
    assert new[0]['metadata']['name'] != pod.metadata.name and new[0]['metadata']['uid'] != pod.metadata.uid
    # grace 0: gone at once
    core.delete_namespaced_pod(new[0]['metadata']['name'], 'apps', body=client.V1DeleteOptions(grace_period_seconds=0))
    with pytest.raises(ApiException):
        core.read_namespaced_pod(new[0]['metadata']['name'], 'apps')
