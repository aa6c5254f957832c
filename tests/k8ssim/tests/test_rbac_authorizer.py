# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBAC for tokens bound to a subject: rule matching, scopes, the 403 Status body the real client
sees, the audit record of each decision, and manifests the API server would refuse."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

import k8ssim
from simhelpers import K8SSIM_DIR, base_description, raw

SA_USER = 'system:serviceaccount:ops:mig'
NODES = [{'name': 'n1'}, {'name': 'n2'}]
WORKLOADS = [{'name': 'web', 'namespace': 'apps', 'replicas': 1, 'node': 'n2'},
             {'name': 'db', 'namespace': 'other', 'replicas': 1, 'node': 'n2'}]
TOKENS = {'mig': 'mig-token', 'alice': 'alice-token', 'bob': 'bob-token', 'dangling': 'dangling-token'}

MANIFESTS = [
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'nodes-and-evictions'},
     'rules': [{'apiGroups': [''], 'resources': ['nodes'], 'verbs': ['get', 'list']},
               {'apiGroups': [''], 'resources': ['pods/eviction'], 'verbs': ['create']},
               {'apiGroups': [''], 'resources': ['*/status'], 'verbs': ['get']},
               {'apiGroups': ['apps'], 'resources': ['daemonsets'], 'verbs': ['*']}]},
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding', 'metadata': {'name': 'mig'},
     'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'nodes-and-evictions'},
     'subjects': [{'kind': 'ServiceAccount', 'name': 'mig', 'namespace': 'ops'}]},
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'Role', 'metadata': {'name': 'apps-pods', 'namespace': 'apps'},
     'rules': [{'apiGroups': [''], 'resources': ['pods'], 'verbs': ['list', 'get']},
               {'apiGroups': [''], 'resources': ['configmaps'], 'resourceNames': ['plugin-configs'], 'verbs': ['get', 'list']}]},
    # A ServiceAccount subject without a namespace is the RoleBinding's own namespace: not the mig account in ops.
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'RoleBinding', 'metadata': {'name': 'apps-pods', 'namespace': 'apps'},
     'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'Role', 'name': 'apps-pods'},
     'subjects': [{'kind': 'ServiceAccount', 'name': 'mig', 'namespace': 'ops'}, {'kind': 'ServiceAccount', 'name': 'alice'}]},
    # A ClusterRole through a RoleBinding grants only in the binding's namespace.
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'everything'},
     'rules': [{'apiGroups': ['*'], 'resources': ['*'], 'verbs': ['*']}, {'nonResourceURLs': ['*'], 'verbs': ['*']}]},
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'RoleBinding', 'metadata': {'name': 'ops-admins', 'namespace': 'other'},
     'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'everything'},
     'subjects': [{'kind': 'Group', 'name': 'ops-admins'}]},
    {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding', 'metadata': {'name': 'dangling'},
     'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'gone'},
     'subjects': [{'kind': 'User', 'name': 'dangling'}]},
    # Not RBAC: skipped.
    {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {'name': 'mig', 'namespace': 'ops'}},
]
SUBJECTS = {'mig': {'kind': 'ServiceAccount', 'namespace': 'ops', 'name': 'mig'},
            'alice': {'kind': 'User', 'name': 'alice'},
            'bob': {'kind': 'User', 'name': 'bob', 'groups': ['ops-admins']},
            'dangling': {'kind': 'User', 'name': 'dangling'}}


def _description(tmp_path, manifests=None, **extra):
    path = tmp_path / 'rbac.yml'
    if manifests is None:
        # The first objects as a v1 List (as docs/rbac ships them), the others as documents of their own.
        manifests = [{'apiVersion': 'v1', 'kind': 'List', 'items': MANIFESTS[:4]}] + MANIFESTS[4:]
    path.write_text(yaml.safe_dump_all(manifests))
    desc = base_description(NODES, workloads=WORKLOADS, namespaces=['ops'],
                            tokens=dict(TOKENS), rbac={'files': [str(path)], 'subjects': dict(SUBJECTS)})
    desc['device_plugin']['namespace'] = 'apps'
    desc['device_plugin']['configmap'] = 'plugin-configs'
    desc.update(extra)
    return desc


@pytest.fixture(name='sim')
def sim_fixture(cluster, tmp_path):
    return cluster(_description(tmp_path))


def _core(sim, token):
    cfg = client.Configuration()
    cfg.host = sim.url
    cfg.api_key = {'authorization': token}
    cfg.api_key_prefix = {'authorization': 'Bearer'}
    return client.CoreV1Api(client.ApiClient(cfg)), client.AppsV1Api(client.ApiClient(cfg))


def _forbidden(call, *args, **kwargs):
    with pytest.raises(ApiException) as err:
        call(*args, **kwargs)
    assert err.value.status == 403
    body = json.loads(err.value.body)
    assert body['kind'] == 'Status' and body['status'] == 'Failure' and body['reason'] == 'Forbidden' and body['code'] == 403
    return body


def _last(sim, user):
    return [e for e in sim.audit() if e['user'] == user][-1]


def test_cluster_rule_allows_and_denies_with_the_real_message(sim):
    core = _core(sim, 'mig-token')[0]
    assert core.read_node('n1').metadata.name == 'n1'
    assert [n.metadata.name for n in core.list_node().items] == ['n1', 'n2']
    allowed = _last(sim, 'mig')
    assert allowed['username'] == SA_USER and allowed['code'] == 200
    assert allowed['authz']['decision'] == 'allow' and allowed['authz']['verb'] == 'list'
    assert allowed['authz']['reason'] == ('RBAC: allowed by ClusterRoleBinding "mig" of ClusterRole "nodes-and-evictions" '
                                          'to ServiceAccount "mig/ops"')
    assert allowed['authz']['grant'] == {'kind': 'ClusterRole', 'name': 'nodes-and-evictions', 'namespace': None, 'rule': 0,
                                         'binding': 'ClusterRoleBinding/mig'}
    body = _forbidden(core.patch_node, 'n1', {'metadata': {'labels': {'a': 'b'}}})
    assert body['message'] == ('nodes "n1" is forbidden: User "%s" cannot patch resource "nodes" in API group "" '
                               'at the cluster scope' % SA_USER)
    assert body['details'] == {'name': 'n1', 'kind': 'nodes'}
    denied = _last(sim, 'mig')
    assert denied['code'] == 403 and denied['verb'] == 'patch' and denied['authz']['decision'] == 'forbid'
    assert denied['authz']['grant'] is None
    # Nothing changed: a denied request never reaches the store.
    assert 'a' not in (client.CoreV1Api(sim.api_client()).read_node('n1').metadata.labels or {})


def test_subresources_match_exactly_or_by_star(sim):
    core = _core(sim, 'mig-token')[0]
    pods = client.CoreV1Api(sim.api_client()).list_namespaced_pod('apps').items
    # pods/eviction is granted, pods itself is not: evict works, a plain delete does not.
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=pods[0].metadata.name, namespace='apps'))
    core.create_namespaced_pod_eviction(pods[0].metadata.name, 'apps', eviction)
    entry = _last(sim, 'mig')
    assert entry['verb'] == 'evict' and entry['authz']['verb'] == 'create' and entry['authz']['resource'] == 'pods/eviction'
    body = _forbidden(core.delete_namespaced_pod, pods[0].metadata.name, 'other')
    assert body['message'].endswith('cannot delete resource "pods" in API group "" in the namespace "other"')
    # */status matches the status subresource of any resource, and only that.
    assert core.read_node_status('n1').metadata.name == 'n1'
    assert _last(sim, 'mig')['authz']['grant']['rule'] == 2
    _forbidden(core.patch_node_status, 'n1', {'status': {}})
    # pods/status is granted by */status, pods is not.
    body = _forbidden(core.read_namespaced_pod, 'nope', 'other')
    assert body['message'].startswith('pods "nope" is forbidden: ')


def test_status_rule_allows_reads_of_any_status(sim):
    core = _core(sim, 'mig-token')[0]
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_status('nope', 'apps')
    # Authorized by */status in every namespace (a ClusterRoleBinding), then the store answers: authorization comes first.
    assert err.value.status == 404


def test_resource_names_and_field_selector(sim):
    core = _core(sim, 'mig-token')[0]
    assert core.read_namespaced_config_map('plugin-configs', 'apps').metadata.name == 'plugin-configs'
    body = _forbidden(core.read_namespaced_config_map, 'other-configs', 'apps')
    assert body['message'] == ('configmaps "other-configs" is forbidden: User "%s" cannot get resource "configmaps" in API group "" '
                               'in the namespace "apps"' % SA_USER)
    # A list has no name, so a rule with resourceNames does not grant it; unless the field selector names the object.
    body = _forbidden(core.list_namespaced_config_map, 'apps')
    assert body['message'].startswith('configmaps is forbidden: User ') and 'name' not in body['details']
    assert [c.metadata.name for c in core.list_namespaced_config_map('apps', field_selector='metadata.name=plugin-configs').items] \
        == ['plugin-configs']
    assert _last(sim, 'mig')['authz']['name'] == 'plugin-configs'
    _forbidden(core.list_namespaced_config_map, 'apps', field_selector='metadata.name=other-configs')


def test_namespace_scoping(sim):
    core = _core(sim, 'mig-token')[0]
    assert len(core.list_namespaced_pod('apps').items) == 1
    assert _last(sim, 'mig')['authz']['reason'] == ('RBAC: allowed by RoleBinding "apps-pods/apps" of Role "apps-pods" '
                                                    'to ServiceAccount "mig/ops"')
    body = _forbidden(core.list_namespaced_pod, 'other')
    assert body['message'] == ('pods is forbidden: User "%s" cannot list resource "pods" in API group "" in the namespace "other"'
                               % SA_USER)
    body = _forbidden(core.list_pod_for_all_namespaces)
    assert body['message'].endswith('cannot list resource "pods" in API group "" at the cluster scope')
    # A ClusterRole bound by a RoleBinding (a Group subject here) grants everything, but only in that namespace.
    bob, bob_apps = _core(sim, 'bob-token')
    assert len(bob.list_namespaced_pod('other').items) == 1
    bob.delete_namespaced_pod(bob.list_namespaced_pod('other').items[0].metadata.name, 'other')
    assert _last(sim, 'bob')['authz']['grant'] == {'kind': 'ClusterRole', 'name': 'everything', 'namespace': None, 'rule': 0,
                                                   'binding': 'RoleBinding/other/ops-admins'}
    _forbidden(bob.list_namespaced_pod, 'apps')
    _forbidden(bob.read_node, 'n1')
    body = _forbidden(bob_apps.list_namespaced_daemon_set, 'apps')
    assert body['message'] == ('daemonsets.apps is forbidden: User "bob" cannot list resource "daemonsets" in API group "apps" '
                               'in the namespace "apps"')
    assert body['details'] == {'group': 'apps', 'kind': 'daemonsets'}
    # A ServiceAccount subject without a namespace means the binding's namespace: alice is a User, so no match.
    _forbidden(_core(sim, 'alice-token')[0].list_namespaced_pod, 'apps')


def test_star_verbs_and_groups(sim):
    apps = _core(sim, 'mig-token')[1]
    template = {'metadata': {'labels': {'app': 'agent'}}, 'spec': {'containers': [{'name': 'agent', 'image': 'agent:1'}]}}
    apps.create_namespaced_daemon_set('apps', {'metadata': {'name': 'agent'}, 'spec': {'selector': {'matchLabels': {'app': 'agent'}},
                                                                                       'template': template}})
    assert [d.metadata.name for d in apps.list_namespaced_daemon_set('apps').items] == ['agent']
    apps.patch_namespaced_daemon_set('agent', 'apps', {'metadata': {'labels': {'x': 'y'}}})
    assert _last(sim, 'mig')['authz']['grant']['rule'] == 3
    # watch is a verb of its own: '*' grants it (the simulator then refuses the watch itself).
    code, body = raw(sim, 'GET', '/apis/apps/v1/namespaces/apps/daemonsets?watch=true', token='mig-token')
    assert code == 405 and _last(sim, 'mig')['authz']['verb'] == 'watch'
    code, body = raw(sim, 'GET', '/api/v1/nodes?watch=true', token='mig-token')
    assert code == 403 and 'cannot watch resource "nodes"' in body['message']
    code, body = raw(sim, 'DELETE', '/api/v1/namespaces/apps/pods', token='mig-token')
    assert code == 403 and 'cannot deletecollection resource "pods"' in body['message']


def test_discovery_admin_control_api_and_dangling_binding(sim):
    core = _core(sim, 'mig-token')[0]
    assert 'pods/eviction' in [r.name for r in core.get_api_resources().resources]
    entry = _last(sim, 'mig')
    assert entry['authz']['decision'] == 'allow' and 'system:discovery' in entry['authz']['reason']
    code, dummy = raw(sim, 'GET', '/version', token='mig-token')
    assert code == 200
    # The control API is not Kubernetes: a bound token never reaches it.
    code, body = raw(sim, 'GET', '/_sim/state', token='mig-token')
    assert code == 403 and body['message'] == 'forbidden: User "%s" cannot get path "/_sim/state"' % SA_USER
    # The admin token and unbound tokens keep full access, and their audit entries carry no decision.
    admin = client.CoreV1Api(sim.api_client())
    admin.patch_node('n1', {'metadata': {'labels': {'a': 'b'}}})
    assert 'authz' not in _last(sim, 'admin') and 'username' not in _last(sim, 'admin')
    # A binding to a role that does not exist grants nothing, and the reason says why.
    body = _forbidden(_core(sim, 'dangling-token')[0].read_node, 'n1')
    assert body['message'] == ('nodes "n1" is forbidden: User "dangling" cannot get resource "nodes" in API group "" at the '
                               'cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')


def test_audit_cli_counts_denials(sim):
    _forbidden(_core(sim, 'mig-token')[0].patch_node, 'n2', {'metadata': {'labels': {'a': 'b'}}})
    summary = k8ssim.summarize(k8ssim.read_audit(sim.state_dir))
    assert summary['errors'] >= 1 and any(w.endswith('-> 403') for w in summary['write_requests'])


BINDING_REF = {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'x'}
POD_RULE = {'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get']}


@pytest.mark.parametrize('broken, message', [
    ({'kind': 'Role', 'metadata': {'name': 'r'}, 'rules': []}, 'needs metadata.namespace'),
    ({'kind': 'ClusterRole', 'metadata': {'name': 'r'}, 'rules': [{'resources': ['pods'], 'verbs': ['get']}]},
     'resource rules must supply at least one api group'),
    ({'kind': 'ClusterRole', 'metadata': {'name': 'r'}, 'rules': [{'apiGroups': [''], 'resources': ['pods']}]},
     'verbs must contain at least one value'),
    ({'kind': 'ClusterRole', 'metadata': {'name': 'r'}, 'rules': [dict(POD_RULE, resourceName=['x'])]}, 'unknown fields resourceName'),
    ({'kind': 'ClusterRoleBinding', 'metadata': {'name': 'b'}, 'roleRef': BINDING_REF, 'subjects': [{'kind': 'ServiceAccount', 'name': 'mig'}]},
     'namespace: Required value'),
    ({'kind': 'ClusterRoleBinding', 'metadata': {'name': 'b'}, 'roleRef': dict(BINDING_REF, kind='Role'), 'subjects': []},
     'roleRef.kind: Unsupported value'),
])
def test_manifests_the_api_server_would_refuse(tmp_path, broken, message):
    broken = dict(broken, apiVersion='rbac.authorization.k8s.io/v1')
    with pytest.raises(k8ssim.K8sSimError) as err:
        with k8ssim.Cluster(_description(tmp_path, [broken]), tmp_path / 'sim'):
            pass
    assert message in str(err.value)


def test_shipped_manifests_load(tmp_path):
    """docs/rbac: every object is valid, and the rollout's subject gets exactly its ClusterRole and Roles (device plugin, DRA plugin)."""
    from sim_rbac import Authorizer  # pylint: disable=import-outside-toplevel
    shipped = os.path.join(K8SSIM_DIR, '..', '..', 'docs', 'rbac')
    authorizer = Authorizer.from_description(
        {'files': [os.path.join(shipped, 'rbac.yml'), os.path.join(shipped, 'awx-serviceaccount.yml')],
         'subjects': {'awx': {'kind': 'ServiceAccount', 'namespace': 'gpufleet-mig', 'name': 'gpufleet-mig'}}}, str(tmp_path), {'awx'})
    assert sorted(authorizer.cluster_roles) == ['gpufleet-mig']
    assert sorted(authorizer.roles) == [('dra-driver-nvidia-gpu', 'gpufleet-mig-dra-plugin'), ('gpu-operator', 'gpufleet-mig-device-plugin')]
    user = authorizer.bound('awx')
    attrs = {'resource_request': True, 'verb': 'patch', 'path': '', 'api_group': '', 'resource': 'nodes', 'subresource': None,
             'namespace': None, 'name': 'n1'}
    assert authorizer.authorize(user, attrs)[0]
    assert not authorizer.authorize(user, dict(attrs, verb='delete'))[0]
