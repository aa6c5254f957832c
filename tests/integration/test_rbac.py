# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Least privilege: the preflight, rollout, report and migrate_allocator (to DRA and back) run with a token bound to the shipped RBAC
(docs/rbac/rbac.yml, loaded by the simulated API server itself), and no secret leaks.

- Every request of that identity is allowed by those rules (the simulator answers 403 otherwise).
- Nothing else is granted: for every (role, API group, resource, verb) the rules grant, taking that one
  grant away would have denied at least one of the requests the runs made.
- Taking a rule away bites: a module call with a token bound to the rules minus the nodes rule fails with
  the API server's 403 message naming the request.
- The three ways the collection takes credentials are used, each with its own token bound to the same
  ServiceAccount: gpufleet_k8s_host and gpufleet_k8s_api_key (the rollout, which runs the preflight first),
  K8S_AUTH_HOST and K8S_AUTH_API_KEY as AWX's credential injects them (the report), and a kubeconfig
  (the extra module calls).
- No token appears in the output of any run (-v, --diff), the Ansible log, the reports, the cluster's final
  state (labels, annotations, everything) or the simulator's logs.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import subprocess
import sys

import pytest
import yaml

from simfleet import build_fleet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'k8ssim'))
from k8ssim import Cluster  # noqa: E402  pylint: disable=wrong-import-position
from sim_rbac import Authorizer, load_manifests, user_for_subject  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RBAC_FILE = os.path.join(ROOT, 'docs', 'rbac', 'rbac.yml')
SA = {'kind': 'ServiceAccount', 'namespace': 'gpufleet-mig', 'name': 'gpufleet-mig'}
SA_USER = 'system:serviceaccount:gpufleet-mig:gpufleet-mig'
MINUS_SA = {'kind': 'ServiceAccount', 'namespace': 'gpufleet-mig', 'name': 'gpufleet-mig-minus'}
CONFIGMAP = 'nvidia-device-plugin-configs'
# One token per way of passing credentials, all bound to the same ServiceAccount, so the audit shows which one each run used.
TOKEN_NAMES = ('gpufleet-inventory', 'gpufleet-env', 'gpufleet-kubeconfig')
MIXED = {'version': 'v1', 'flags': {'migStrategy': 'mixed'}}
NONE = {'version': 'v1', 'flags': {'migStrategy': 'none'}}

# sim-a100 is reconfigured (MIG on, two 3g.20gb per GPU); sim-spare takes the evicted GPU pods; sim-dra hands its GPU
# to Kubernetes through NVIDIA's DRA driver and is reconfigured by the same rollout (one 3g.20gb).
FLEET = {
    'sim-a100': {'gpus': ['A100-SXM4-40GB:2'], 'driver': '550.54.15', 'cuda': '12040'},
    'sim-spare': {'gpus': ['L40S:2'], 'driver': '550.54.15', 'cuda': '12040'},
    'sim-dra': {'gpus': ['A100-SXM4-40GB:1'], 'driver': '550.54.15', 'cuda': '12040'},
}
ALLOCATORS = {'sim-dra': 'dra'}


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail('%s is not set: run the integration tests through `make integration`' % name)
    return value


def _minus_nodes_manifest(path):
    """The shipped ClusterRole without its nodes rule, bound to another ServiceAccount."""
    with open(RBAC_FILE, encoding='utf-8') as handle:
        documents = [d for d in yaml.safe_load_all(handle) if d]
    documents = [item for d in documents for item in (d['items'] if d['kind'] == 'List' else [d])]
    role = copy.deepcopy(next(d for d in documents if d['kind'] == 'ClusterRole'))
    kept = [rule for rule in role['rules'] if rule['resources'] != ['nodes']]
    assert len(kept) == len(role['rules']) - 1, 'the shipped ClusterRole has no rule for exactly [nodes]'
    role['metadata']['name'] = 'gpufleet-mig-minus'
    role['rules'] = kept
    binding = {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding', 'metadata': {'name': 'gpufleet-mig-minus'},
               'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'gpufleet-mig-minus'},
               'subjects': [dict(MINUS_SA)]}
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump_all([role, binding], handle)
    return path


def _description(tmp_path, fleet_dir, tokens):
    return {
        'tick': 0.1, 'time_scale': 0.1, 'pod_start_delay': 0.2,
        'simnode': os.path.join(_env('SIM_BUILD'), 'bin', 'simnode'),
        'tokens': tokens,
        # The shipped file itself, not a copy: what users apply is what is enforced here.
        'rbac': {'files': [RBAC_FILE, _minus_nodes_manifest(str(tmp_path / 'minus.yml'))],
                 'subjects': dict([(name, dict(SA)) for name in TOKEN_NAMES] + [('minus', dict(MINUS_SA))])},
        'nodes': [{'name': name, 'nvml_state': os.path.join(fleet_dir, name + '.state'), 'allocator': ALLOCATORS.get(name, 'device-plugin')}
                  for name in FLEET],
        'device_plugin': {'namespace': 'gpu-operator', 'daemonset': 'nvidia-device-plugin-daemonset', 'configmap': CONFIGMAP,
                          'default_config': 'none', 'configs': {'none': yaml.safe_dump(NONE)}, 'restart_delay': 0.3},
        # Two GPU pods on sim-a100 under a budget that lets one go at a time: the drain meets a 429 and retries.
        'workloads': [{'name': 'infer', 'namespace': 'ml', 'replicas': 2, 'resources': {'nvidia.com/gpu': 1}, 'node': 'sim-a100',
                       'start_delay': 1, 'termination_grace': 0.3}],
        'pdbs': [{'name': 'infer-pdb', 'namespace': 'ml', 'selector': {'matchLabels': {'app': 'infer'}}, 'minAvailable': 1}],
    }


def _inventory(path, hosts, report_dir, auth):
    """The nested runs' inventory: sim-a100 and the DRA node sim-dra, with the rollout settings of the simulated fleet and
    ``auth``."""
    nodes = {}
    for name, count in (('sim-a100', 2), ('sim-dra', 1)):
        nodes[name] = {'ansible_connection': 'local', 'ansible_python_interpreter': hosts[name]['ansible_python_interpreter'],
                       'gpufleet_mig_checkpoint': hosts[name]['sim_state'] + '.checkpoint.json',
                       'gpufleet_mig_restore_status': hosts[name]['sim_state'] + '.restore.json',
                       'gpufleet_mig_config_name': 'all-3g.20gb',
                       'gpufleet_mig_layout': [{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'3g.20gb': count}}]}
    group_vars = {'gpufleet_mig_become': False, 'gpufleet_mig_install_restore': False, 'gpufleet_mig_drain_retry_delay': 1,
                  'gpufleet_mig_drain_timeout': 60, 'gpufleet_mig_report_dir': report_dir,
                  'gpufleet_mig_device_plugin_configs': {'none': NONE, 'mixed': MIXED}}
    group_vars.update(auth)
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump({'all': {'children': {'gpu_nodes': {'hosts': nodes, 'vars': group_vars}}}}, handle)
    return path


def _kubeconfig(path, url, token):
    config = {'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'gpufleet-mig',
              'clusters': [{'name': 'sim', 'cluster': {'server': url}}],
              'users': [{'name': 'gpufleet-mig', 'user': {'token': token}}],
              'contexts': [{'name': 'gpufleet-mig', 'context': {'cluster': 'sim', 'user': 'gpufleet-mig'}}]}
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(config, handle)
    os.chmod(path, 0o600)
    return path


# A single play of module calls that the playbooks do not make: creating the ConfigMap when it is missing
# (needs the create grant), a token bound to the rules minus the nodes rule, and a ConfigMap name that is
# not in the shipped resourceNames. Credentials come from the kubeconfig in K8S_AUTH_KUBECONFIG unless given.
EXTRA_PLAY = '''
- name: Module calls outside the playbooks
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create the missing device plugin ConfigMap
      gpufleet.mig.device_plugin_config:
        configmap: %(configmap)s
        configs: {mixed: {version: v1, flags: {migStrategy: mixed}}}
      register: created
    - name: Label a node with the token whose ClusterRole lacks the nodes rule
      gpufleet.mig.node_labels:
        node: sim-a100
        labels: {example.com/x: "y"}
        host: "{{ k8s_url }}"
        api_key: "{{ minus_token }}"
      register: minus
      ignore_errors: true
    - name: Read a ConfigMap the resourceNames do not name
      gpufleet.mig.device_plugin_config:
        configmap: other-configs
        configs: {}
      check_mode: true
      register: renamed
      ignore_errors: true
    # The plan playbook's Kubernetes side (mig_plan records, the rollout reads with mig_config_info): a first plan
    # creates its ConfigMap and labels the node, a second one (MIG now on) patches it.
    - name: Record a plan, then another
      gpufleet.mig.mig_plan:
        gpu_facts:
          sim-a100: [{index: 0, model: A100-SXM4-40GB, mig_capable: true, mig_mode: {current: "{{ item }}"}, gpu_instances: []}]
        configmap: gpufleet-mig-plan
      loop: [false, true]
      register: recorded
    - name: Read the recorded plan
      gpufleet.mig.mig_config_info:
        configmap: gpufleet-mig-plan
      register: read_plan
    - name: Keep the results
      ansible.builtin.copy:
        dest: "{{ results_file }}"
        content: >-
          {{ {'created': created, 'minus': minus, 'renamed': renamed, 'recorded': recorded, 'read_plan': read_plan}
             | to_nice_json }}
        mode: "0600"
'''


def _run(tmp_path, name, args, extra_env=None):
    """ansible-playbook ARGS; its stdout and stderr are kept as name.out / name.err for the scan."""
    env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_HOME=str(tmp_path / 'ansible-home'),
               ANSIBLE_LOG_PATH=str(tmp_path / 'ansible.log'))
    for key in [k for k in env if k.startswith('K8S_AUTH_') or k == 'KUBECONFIG']:
        del env[key]
    env.update(extra_env or {})
    command = os.path.join(os.path.dirname(_env('VENV_PYTHON')), 'ansible-playbook')
    proc = subprocess.run([command] + args, capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    (tmp_path / 'out').mkdir(exist_ok=True)
    (tmp_path / 'out' / (name + '.out')).write_text(proc.stdout)
    (tmp_path / 'out' / (name + '.err')).write_text(proc.stderr)
    return proc


def _atomic_objects(objects):
    """The RBAC objects with every rule split into one rule per (API group, resource, verb)."""
    atomic = copy.deepcopy(objects)
    for kind in ('ClusterRole', 'Role'):
        for role in atomic[kind]:
            role['rules'] = [dict(rule, apiGroups=[group], resources=[resource], verbs=[verb])
                             for rule in role['rules'] for group in rule['apiGroups'] for resource in rule['resources']
                             for verb in rule['verbs']]
    return atomic


def _attrs(authz):
    resource, dummy, subresource = (authz['resource'] or '').partition('/')
    return {'resource_request': authz['path'] is None, 'verb': authz['verb'], 'path': authz['path'] or '',
            'api_group': authz['apiGroup'], 'resource': resource, 'subresource': subresource or None,
            'namespace': authz['namespace'], 'name': authz['name']}


def test_least_privilege_and_no_secret_leaks(tmp_path):
    python = _env('VENV_PYTHON')
    fleet_dir = str(tmp_path / 'fleet')
    hosts = build_fleet(fleet_dir, FLEET, _env('SIM_BUILD'), python)
    tokens = dict((name, 'gfm-%s' % secrets.token_hex(20)) for name in TOKEN_NAMES + ('minus',))
    admin_token = 'adm-%s' % secrets.token_hex(20)
    description = tmp_path / 'cluster.yml'
    description.write_text(yaml.safe_dump(_description(tmp_path, fleet_dir, tokens)))
    report_dir = str(tmp_path / 'report')

    with Cluster(str(description), str(tmp_path / 'k8s'), token=admin_token) as cluster:
        url = cluster.url
        kubeconfig = _kubeconfig(str(tmp_path / 'gpufleet-kubeconfig'), url, tokens['gpufleet-kubeconfig'])
        inventory_plain = _inventory(str(tmp_path / 'inv-plain.yml'), hosts, report_dir, {})
        runs = {}
        marks = {}

        def run(name, args, extra_env=None):
            marks[name] = cluster.audit()[-1]['seq'] if cluster.audit() else 0
            proc = _run(tmp_path, name, args, extra_env)
            runs[name] = proc
            assert proc.returncode == 0, '%s failed:\n%s\n%s' % (name, proc.stdout[-15000:], proc.stderr[-5000:])
            return proc

        # The rollout (its preflight first) with the token in inventory variables, as a vaulted inventory gives it.
        inventory_token = _inventory(str(tmp_path / 'inv-token.yml'), hosts, report_dir,
                                     {'gpufleet_k8s_host': url, 'gpufleet_k8s_api_key': tokens['gpufleet-inventory']})
        run('rollout', [os.path.join(ROOT, 'playbooks', 'rollout.yml'), '-vvv', '--diff', '-i', inventory_token])
        # The report with nothing in the inventory: K8S_AUTH_HOST and K8S_AUTH_API_KEY, as AWX's credential injects them.
        run('report', [os.path.join(ROOT, 'playbooks', 'report.yml'), '-vvv', '--diff', '-i', inventory_plain],
            {'K8S_AUTH_HOST': url, 'K8S_AUTH_API_KEY': tokens['gpufleet-env']})

        # The move of sim-a100 (now partitioned, on the device plugin) to NVIDIA's DRA driver, creating the DeviceClass of
        # its MIG profile, and back: with the token in inventory variables, as the rollout.
        migrate = [os.path.join(ROOT, 'playbooks', 'migrate_allocator.yml'), '--diff', '-i', inventory_token, '-e', 'gpufleet_mig_targets=sim-a100',
                   '-e', 'gpufleet_mig_migrate_timeout=60', '-e', 'gpufleet_mig_device_plugin_config=mixed']
        run('migrate', migrate + ['-e', 'gpufleet_mig_allocator_to=dra', '-e', 'gpufleet_mig_create_device_classes=true'])
        moved = cluster.dump()
        run('migrate-back', migrate + ['-e', 'gpufleet_mig_allocator_to=device-plugin'])

        # The create path: the ConfigMap is gone (deleted as admin), the module makes it again.
        admin = cluster.api_client()
        from kubernetes import client  # pylint: disable=import-outside-toplevel
        client.CoreV1Api(admin).delete_namespaced_config_map(CONFIGMAP, 'gpu-operator')
        play = tmp_path / 'extra.yml'
        play.write_text(EXTRA_PLAY % {'configmap': CONFIGMAP})
        results_file = str(tmp_path / 'report' / 'extra-results.json')
        run('extra', [str(play), '-vvv', '--diff', '-i', inventory_plain,
                      '-e', json.dumps({'results_file': results_file, 'minus_token': tokens['minus'], 'k8s_url': url})],
            {'K8S_AUTH_KUBECONFIG': kubeconfig})
        audit = cluster.audit()
        state = cluster.dump()

    # -- the runs did what they should --------------------------------------------------------------------------
    node = next(n for n in state['objects']['nodes'] if n['metadata']['name'] == 'sim-a100')
    assert node['metadata']['labels']['nvidia.com/mig.config.state'] == 'success'
    assert node['metadata']['labels']['nvidia.com/device-plugin.config'] == 'mixed'
    assert node['status']['allocatable'].get('nvidia.com/mig-3g.20gb') == '4'
    assert not node['spec'].get('unschedulable')
    with open(os.path.join(report_dir, 'rollout.json'), encoding='utf-8') as handle:
        assert json.load(handle)['nodes']['sim-a100']['status'] == 'changed'
    with open(results_file, encoding='utf-8') as handle:
        results = json.load(handle)
    assert results['created']['changed'] and results['created']['written'] == ['mixed']
    assert [r['changed'] for r in results['recorded']['results']] == [True, True], results['recorded']
    assert list(results['read_plan']['config']['mig-configs']) == [results['recorded']['results'][1]['recorded']['labels']['sim-a100']]
    # The DRA node: reconfigured by the same rollout, its kubelet plugin restarted, its slice lists the new MIG device.
    dra_node = next(n for n in state['objects']['nodes'] if n['metadata']['name'] == 'sim-dra')
    assert dra_node['metadata']['labels']['nvidia.com/mig.config.state'] == 'success'
    dra_devices = [d['name'] for s in state['objects']['resourceslices'] if s['spec']['nodeName'] == 'sim-dra' for d in s['spec']['devices']]
    assert [name.rsplit('-', 2)[0] for name in dra_devices] == ['gpu-0-mig-3g20gb'], dra_devices

    # The move to DRA: sim-a100's MIG devices were published under the DeviceClass the run created, then it came back.
    moved_node = next(n for n in moved['objects']['nodes'] if n['metadata']['name'] == 'sim-a100')
    assert moved_node['metadata']['labels']['nvidia.com/gpu.deploy.dra-driver'] == 'true', moved_node['metadata']['labels']
    assert 'mig-3g.20gb.nvidia.com' in [c['metadata']['name'] for c in moved['objects']['deviceclasses']]
    assert sorted(d['name'].rsplit('-', 2)[0] for s in moved['objects']['resourceslices'] if s['spec']['nodeName'] == 'sim-a100'
                  for d in s['spec']['devices']) == ['gpu-0-mig-3g20gb'] * 2 + ['gpu-1-mig-3g20gb'] * 2
    assert node['metadata']['labels']['nvidia.com/gpu.deploy.device-plugin'] == 'true'

    # -- each run used the credential it was given ------------------------------------------------------------
    def slice_of(name, following):
        end = marks[following] if following else float('inf')
        # The test's own admin requests (deleting the ConfigMap) are not the run's.
        return [e for e in audit if marks[name] < e['seq'] <= end and e['user'] != 'admin']
    order = ['rollout', 'report', 'migrate', 'migrate-back', 'extra', None]
    per_run = dict((name, slice_of(name, order[i + 1])) for i, name in enumerate(order[:-1]))
    assert set(e['user'] for e in per_run['rollout']) == {'gpufleet-inventory'}
    assert set(e['user'] for e in per_run['report']) == {'gpufleet-env'}
    assert set(e['user'] for e in per_run['migrate'] + per_run['migrate-back']) == {'gpufleet-inventory'}
    # The report reads the DRA devices and the claims on them of the whole cluster once (sim-dra uses the DRA driver).
    assert [(e['verb'], e['resource']) for e in per_run['report'] if e['resource'] in ('resourceslices', 'resourceclaims')] == \
        [('list', 'resourceslices'), ('list', 'resourceclaims')]
    with open(os.path.join(report_dir, 'report.json'), encoding='utf-8') as handle:
        reported = json.load(handle)
    assert [name.rsplit('-', 2)[0] for name in reported['sim-dra']['dra']['published']] == ['gpu-0-mig-3g20gb'], reported
    assert reported['sim-a100']['dra'] is None, reported
    assert set(e['user'] for e in per_run['extra']) == {'gpufleet-kubeconfig', 'minus'}

    # -- every request of the shipped identity was allowed by the shipped rules --------------------------------
    # The one request of this identity meant to be denied is the probe of a ConfigMap outside resourceNames.
    probe = [e for e in per_run['extra'] if e.get('name') == 'other-configs']
    assert [(e['verb'], e['code'], e['username']) for e in probe] == [('get', 403, SA_USER)]
    mine = [e for e in audit if e.get('username') == SA_USER and e not in probe]
    assert mine and all(e['authz']['decision'] == 'allow' and e['code'] != 403 for e in mine), \
        [e for e in mine if e['code'] == 403 or e['authz']['decision'] != 'allow']
    seen = set((e['authz']['verb'], e['authz']['resource']) for e in mine)
    # The paths the checks below rely on were taken: drain (list, evict with a 429, wait), plugin restart, create.
    assert {('list', 'pods'), ('create', 'pods/eviction'), ('get', 'pods'), ('delete', 'pods'), ('patch', 'nodes'),
            ('create', 'configmaps'), ('patch', 'configmaps'), ('list', 'resourceslices'), ('list', 'resourceclaims'),
            ('list', 'deviceclasses'), ('create', 'deviceclasses')} <= seen, seen
    assert any(e['verb'] == 'evict' and e['code'] == 429 for e in mine), 'the drain never met the PodDisruptionBudget'

    # -- nothing else is granted: each grant, taken away alone, would have denied one of those requests ---------
    objects = load_manifests([RBAC_FILE])
    user = user_for_subject(SA)
    atomic = _atomic_objects(objects)
    unused = []
    for kind in ('ClusterRole', 'Role'):
        for role_index, role in enumerate(atomic[kind]):
            for rule_index, rule in enumerate(role['rules']):
                reduced = copy.deepcopy(atomic)
                del reduced[kind][role_index]['rules'][rule_index]
                authorizer = Authorizer(reduced, {})
                if all(authorizer.authorize(user, _attrs(e['authz']))[0] for e in mine):
                    unused.append('%s %s%s: %s %s %s%s' % (
                        kind, role['namespace'] + '/' if role['namespace'] else '', role['name'], rule['verbs'][0],
                        rule['apiGroups'][0] or 'core', rule['resources'][0],
                        ' %s' % rule['resourceNames'] if rule['resourceNames'] else ''))
    assert not unused, 'granted but never needed by the runs: %s' % unused
    # And the rules really are the ones the server enforced (the same objects, the same decisions).
    full = Authorizer(objects, {})
    assert all(full.authorize(user, _attrs(e['authz']))[0] for e in mine)

    # -- taking a rule away bites, with a message that names the request --------------------------------------
    forbidden = 'nodes "sim-a100" is forbidden: User "system:serviceaccount:gpufleet-mig:gpufleet-mig-minus" cannot get resource ' \
                '"nodes" in API group "" at the cluster scope'
    assert results['minus']['failed'] and forbidden in results['minus']['msg'] and results['minus']['status'] == 403, results['minus']
    assert [(e['verb'], e['code']) for e in audit if e['user'] == 'minus'] == [('get', 403)]
    assert results['renamed']['failed'] and 'configmaps "other-configs" is forbidden' in results['renamed']['msg'], results['renamed']

    # -- no secret anywhere but where the test put it ----------------------------------------------------------
    secrets_ = dict(tokens, admin=admin_token)
    needles = {}
    for name, token in secrets_.items():
        needles[token] = name
        needles[base64.b64encode(token.encode()).decode()] = name + ' (base64)'
    # Files that hold a credential on purpose: the test's inputs and the simulator's client files.
    inputs = {str(description), kubeconfig, str(tmp_path / 'inv-token.yml'), os.path.join(str(tmp_path / 'k8s'), 'kubeconfig'),
              os.path.join(str(tmp_path / 'k8s'), 'server.json')}
    (tmp_path / 'final-state.json').write_text(json.dumps(state, sort_keys=True))
    scanned, leaks = [], []
    for directory, dummy, files in os.walk(str(tmp_path)):
        for filename in files:
            path = os.path.join(directory, filename)
            if path in inputs or os.path.islink(path):
                continue
            with open(path, 'rb') as handle:
                data = handle.read().decode('utf-8', 'replace')
            scanned.append(os.path.relpath(path, str(tmp_path)))
            leaks.extend('%s in %s' % (what, os.path.relpath(path, str(tmp_path))) for needle, what in needles.items() if needle in data)
    # The scan saw what it is meant to see.
    for expected in ('out/rollout.out', 'out/report.out', 'out/extra.out', 'inv-plain.yml', 'ansible.log', 'report/rollout.json',
                     'report/report.json', 'report/report.md', 'report/nodes/sim-a100.json', 'k8s/server.log', 'k8s/audit.log',
                     'final-state.json'):
        assert expected in scanned, (expected, sorted(scanned))
    assert 'TASK [gpufleet.mig.mig_rollout : Label the node pending, cordon it and drain its GPU work]' in runs['rollout'].stdout
    assert 'PLAY [Preflight every targeted node]' in runs['rollout'].stdout
    assert not leaks, leaks
