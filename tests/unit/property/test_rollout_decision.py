# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rollout's preflight and its batch can never disagree about a node.

Each example is one node as the modules would find it: its GPUs (MIG mode as read and as planned, layout changing or
not), its checkpoint and boot-time restore, the device plugin check (configs missing from the ConfigMap, plugin restart,
labels, annotation, the node's own check failing) and other nodes of its cluster. The expressions of the role itself
(tasks/preflight.yml and tasks/main.yml, read from the files) are rendered with Ansible's templating over the results
each side registers: the preflight's cluster-wide device plugin check and the GPUs of its plan, the batch's own
single-node check and its gpu_info read. The facts the preflight sets, the decision the batch makes for a node the
preflight sends to it, and the playbook's sorting of the nodes must all say the same.
"""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader, init_plugin_loader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

from hostile_tally import budget, record

# Imported before the collection loader is installed (see templating), so that the filters find it already imported.
from ansible_collections.gpufleet.mig.plugins.module_utils import _rollout  # noqa: F401 pylint: disable=unused-import

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


@pytest.fixture(scope='module', autouse=True)
def templating():
    """Ansible's plugin loader, for the builtin filters and tests of the role's expressions, for these tests only.

    The other unit tests import the collection as a plain package, which the collection loader cannot resolve names
    in afterwards: the role's filters are found by their short names in their directory instead (see render), and the
    loader goes when these tests are done, so that it does not stand in the way of the tests that run after them.
    """
    init_plugin_loader([])
    filter_loader.add_directory(os.path.join(_ROOT, 'plugins', 'filter'))
    yield
    _AnsibleCollectionFinder._remove()


CONFIG, PLUGIN_CONFIG, NODE = 'all-balanced', 'mixed', 'gpu-node-7'


def _task(path, name):
    """The task called ``name`` in a tasks file, at any depth of blocks and rescues."""
    with open(os.path.join(_ROOT, path)) as handle:
        pending = list(yaml.safe_load(handle))
    while pending:
        task = pending.pop(0)
        if task.get('name') == name:
            return task
        pending.extend(task.get('block', []) + task.get('rescue', []) + task.get('always', []))
    raise AssertionError('no task %r in %s' % (name, path))


# The preflight's three steps: each node notes what it found, one task decides for all, one sets each node's facts.
NOTE = _task('roles/mig_rollout/tasks/preflight.yml', 'Note what the device plugin check and the decision need from this node')
DECIDE = _task('roles/mig_rollout/tasks/preflight.yml', 'Decide what every node needs')
RECORD = _task('roles/mig_rollout/tasks/preflight.yml', "Record each node's problems and what it needs")
BATCH = _task('roles/mig_rollout/tasks/main.yml', 'Work out what the node needs')
BATCH_READS = _task('roles/mig_rollout/tasks/main.yml', 'Read the node and work out what it needs (nothing changes here but a failed-restore label)')
with open(os.path.join(_ROOT, 'playbooks', 'preflight.yml')) as _handle:
    SORT = [t for t in yaml.safe_load(_handle)[0]['tasks'] if t['name'] == 'Sort the nodes by what the rollout must do'][0]


def _trusted(value):
    """``value`` with every string in it a template, as Ansible takes a task's own YAML."""
    if isinstance(value, str):
        return trust_as_template(value.replace('gpufleet.mig.', ''))
    if isinstance(value, dict):
        return dict((key, _trusted(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def render(expression, variables):
    """``expression`` rendered as Ansible would, with the string ``variables`` templates too (task vars)."""
    templar = Templar(loader=DataLoader(), variables=dict((k, _trusted(v) if isinstance(v, str) else v) for k, v in variables.items()))
    return templar.template(_trusted(expression))


def gpu_read(index, mig):
    layout = {'mig-enabled': True, 'mig-devices': {'3g.20gb': 2}, 'placements': []} if mig else {'mig-enabled': False, 'mig-devices': {}, 'placements': []}
    return {'index': index, 'mig_capable': True, 'mig_mode': {'current': mig, 'pending': mig, 'change_pending': False}, 'layout': layout}


@st.composite
def worlds(draw):
    # Converged nodes, nodes with one kind of thing wrong and nodes with anything wrong, about as often each.
    wrong = draw(st.sampled_from([None, 'gpus', 'labels', 'plugin', 'any']))

    def drawn(kind, good, bad):
        return draw(bad) if wrong in (kind, 'any') else good

    gpus = [drawn('gpus', (on, on, False), st.tuples(st.booleans(), st.booleans(), st.booleans()))
            for on in draw(st.lists(st.booleans(), min_size=1, max_size=4))]
    labels = {}
    for key, good, bad in (('nvidia.com/mig.config', CONFIG, ['all-1g.5gb', '']), ('nvidia.com/mig.config.state', 'success', ['pending', 'failed'])):
        value = drawn('labels', good, st.sampled_from([good] + bad + [None]))
        if value is not None:
            labels[key] = value
    return {
        'gpus': gpus,  # (MIG on as read, MIG on as planned, layout changes)
        'stale': draw(st.booleans()),
        'restore_installed': draw(st.booleans()),
        'written': sorted(draw(st.sets(st.sampled_from(['single', 'none']))) | drawn('plugin', set(), st.sets(st.just(PLUGIN_CONFIG)))),
        'restarted': drawn('plugin', False, st.booleans()),
        'labels': labels,
        'annotated': drawn('labels', False, st.booleans()),
        'node_check_fails': draw(st.sampled_from([False] * 9 + [True])),
        'plan_fails': draw(st.sampled_from([False] * 9 + [True])),
        'others': draw(st.lists(st.sampled_from(['gpu-node-1', 'gpu-node-9']), unique=True)),
        # What hands the node's GPUs to Kubernetes: the device plugin, or NVIDIA's DRA driver (then the DRA check covers
        # the node, and the device plugin check, for the other nodes, does not).
        'allocator': draw(st.sampled_from(['device-plugin', 'dra'])),
    }


def registered(world):
    """What each side registers: the preflight's plan and cluster check, the batch's plan, gpu_info read and node check."""
    read = [gpu_read(i, on) for i, (on, dummy, dummy2) in enumerate(world['gpus'])]
    planned = [{'index': i, 'mig_enabled': wanted, 'changed': changes, 'actions': []} for i, (dummy, wanted, changes) in enumerate(world['gpus'])]
    if world['plan_fails']:
        plan = {'failed': True, 'msg': 'GPU 0: unknown profile 3g.99gb', 'changed': False}
    else:
        plan = {'changed': False, 'gpus': planned, 'checkpoint': '/var/lib/gpufleet-mig/checkpoint.json', 'checkpoint_stale': world['stale'],
                'node': {'driver_version': '550.54.15', 'gpus': read}}
    annotations = {'gpufleet.mig/failure-reason': 'Apply the layout: boom'} if world['annotated'] else {}
    findings = {'expected': {}, 'advertised': {}, 'restarted': world['restarted'], 'labels': world['labels'], 'annotations': annotations,
                'unschedulable': False}
    dra = world['allocator'] == 'dra'
    if dra:
        findings = {'allocator': 'dra', 'restarted': world['restarted'], 'expected': ['gpu-0'], 'published': ['gpu-0'] if not world['restarted'] else [],
                    'missing': ['gpu-0'] if world['restarted'] else [], 'unexpected': [], 'pods': ['plugin-x'], 'claims': [],
                    'labels': world['labels'], 'annotations': annotations}
    # The cluster's one check: the other nodes are device plugin nodes, this one is either.
    nodes = dict((other, dict(findings, restarted=True, allocator='device-plugin')) for other in world['others'] if not dra)
    cluster = {'changed': False, 'written': world['written'], 'nodes': nodes}
    if world['node_check_fails']:
        nodes[NODE] = {'failed': True, 'msg': 'config %s is neither in configs nor in configmap' % PLUGIN_CONFIG}
        nodes[NODE]['allocator'] = 'dra' if dra else 'device-plugin'
        cluster.update(failed=True, msg='1 of %d nodes: ...' % len(nodes))
    else:
        nodes[NODE] = findings if dra else dict(findings, allocator='device-plugin')
    preflight_plan = dict(plan, restore_installed=world['restore_installed']) if not world['plan_fails'] else plan
    single = dict(findings, changed=False) if dra else dict(findings, changed=False, written=world['written'])
    return preflight_plan, cluster, plan, read, single


def preflight_facts(plan, cluster):
    """The facts the preflight sets on the node, through the role's own three tasks."""
    # What the node notes, with the role's defaults for the variables that only make up the cluster's key.
    variables = dict(NOTE['vars'], mig_rollout_plan=plan, mig_rollout__node={'skipped': True, 'changed': False}, mig_rollout_node_name=NODE,
                     mig_rollout__name=CONFIG, mig_rollout_device_plugin_config=PLUGIN_CONFIG, mig_rollout_layout=[],
                     mig_rollout_k8s_kubeconfig='', mig_rollout_k8s_context='', mig_rollout_k8s_host='', mig_rollout_k8s_api_key='',
                     mig_rollout_device_plugin_namespace='gpu-operator', mig_rollout_device_plugin_configmap='plugin-configs',
                     mig_rollout_device_plugin_configs={}, mig_rollout_allocator='auto', mig_rollout_dra_namespace='dra',
                     mig_rollout_dra_daemonset='dra-plugin', mig_rollout_dra_selector='app=dra-plugin')
    seen = render(NOTE['ansible.builtin.set_fact']['mig_rollout__seen'], variables)
    # The device plugin check ran on the cluster's first node, which is another one when there are others.
    key = seen['cluster']
    clusters = {key: [[key, 'first'], [key, NODE]]} if key is not None else {}
    hostvars = {'localhost': {'mig_rollout__plugin_clusters': clusters}, 'first': {'mig_rollout__plugins': cluster},
                NODE: {'mig_rollout__seen': seen, 'mig_rollout_plan': plan}}
    # GPU-precise drains, the role's default: they change only what the capacity check is given.
    decided = render(DECIDE['ansible.builtin.set_fact']['mig_rollout__decided'],
                     dict(DECIDE['vars'], hostvars=hostvars, ansible_play_hosts=[NODE], mig_rollout_drain_precise=True))
    hostvars['localhost']['mig_rollout__decided'] = decided
    return dict((name, render(value, dict(RECORD['vars'], hostvars=hostvars, item=NODE)))
                for name, value in RECORD['ansible.builtin.set_fact'].items())


def batch_needs(plan, read, single, preflight):
    # The batch runs one of its two checks, as the preflight's allocator says; the other is skipped.
    skipped = {'changed': False, 'skipped': True}
    dra = single.get('allocator') == 'dra'
    variables = {'mig_rollout__plan': plan, 'mig_rollout__plugin_plan': skipped if dra else single,
                 'mig_rollout__dra_plan': single if dra else skipped, 'mig_rollout__before': {'node': {'gpus': read}},
                 'mig_rollout_config': CONFIG, 'mig_rollout_device_plugin_config': PLUGIN_CONFIG, 'mig_rollout__needs': preflight}
    return render(BATCH['ansible.builtin.set_fact']['mig_rollout__needs'], variables)


def sorted_by_playbook(facts):
    variables = {'ansible_play_hosts_all': [NODE], 'hostvars': {NODE: dict(facts, inventory_hostname=NODE)}}
    converged = render(SORT['vars']['converged'], variables)
    return 'recorded unchanged' if converged == [NODE] else 'batch'


@settings(max_examples=budget(200))
@given(worlds())
def test_preflight_and_batch_never_disagree(world):
    preflight_plan, cluster, plan, read, single = registered(world)
    facts = preflight_facts(preflight_plan, cluster)
    needs = facts['mig_rollout__needs']
    assert facts['mig_rollout_converged'] == (needs['todo'] != 'change')
    assert facts['mig_rollout_upkeep'] == bool(needs['upkeep'])
    if world['plan_fails'] or world['node_check_fails']:
        # The preflight stops the rollout: the batch never sees the node (its own plan or check would fail the same way).
        assert facts['mig_rollout_problems'] and not facts['mig_rollout_converged'], facts
        record('rollout decision', 'rejected')
        return
    assert facts['mig_rollout_problems'] == []
    where = sorted_by_playbook(facts)
    assert (where == 'recorded unchanged') == (needs['todo'] == 'nothing'), (where, needs)
    # The batch reads the node again unless the preflight found it converged; when it does, it decides the same.
    reads_again = render('{{ %s }}' % BATCH_READS['when'], {'mig_rollout_converged': facts['mig_rollout_converged']})
    assert reads_again == (needs['todo'] == 'change')
    batch = batch_needs(plan, read, single, needs)
    assert needs['allocator'] == world['allocator']
    for key in ('todo', 'drain', 'change', 'enable', 'disable', 'drain_gpus', 'previous', 'problems', 'allocator'):
        assert batch[key] == needs[key], (key, batch[key], needs[key])
    assert set(batch['upkeep']) == set(needs['upkeep'])
    record('rollout decision', 'change' if needs['todo'] == 'change' else 'accepted')


@settings(max_examples=budget(100))
@given(worlds())
def test_a_drain_is_needed_exactly_when_something_but_upkeep_differs(world):
    if world['plan_fails'] or world['node_check_fails']:
        return
    preflight_plan, cluster, dummy, dummy2, dummy3 = registered(world)
    needs = preflight_facts(preflight_plan, cluster)['mig_rollout__needs']
    mode_changes = [i for i, (on, wanted, dummy4) in enumerate(world['gpus']) if on != wanted]
    layout_changes = [i for i, (dummy5, dummy6, changes) in enumerate(world['gpus']) if changes]
    labels_wrong = (world['labels'].get('nvidia.com/mig.config') != CONFIG or world['labels'].get('nvidia.com/mig.config.state') != 'success'
                    or world['annotated'])
    # The device plugin ConfigMap is a device plugin node's business only.
    written = world['written'] if world['allocator'] == 'device-plugin' else []
    drain = bool(mode_changes or layout_changes or world['restarted'] or PLUGIN_CONFIG in written or labels_wrong)
    assert needs['drain'] == drain
    assert needs['drain_gpus'] == sorted(set(mode_changes) | set(layout_changes))
    assert set(needs['enable']) | set(needs['disable']) == set(mode_changes)
    assert not set(needs['enable']) & set(needs['disable'])
    upkeep = bool(world['stale'] or set(written) - {PLUGIN_CONFIG}
                  or not world['restore_installed'] and any(wanted for dummy7, wanted, dummy8 in world['gpus']))
    assert needs['todo'] == ('change' if drain else 'upkeep' if upkeep else 'nothing')
