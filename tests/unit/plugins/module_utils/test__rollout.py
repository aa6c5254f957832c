# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rollout's decision about a node (node_needs) over every branch, the preflight's for a whole play (preflight_decisions),
and the node result record (node_result)."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._rollout import (
    NO_LAYOUT, RESULT_KEYS, drain_outcome, node_needs, node_result, preflight_decisions)

LAYOUT = {'mig-enabled': True, 'mig-devices': {'3g.20gb': 2},
          'placements': [{'profile': '3g.20gb', 'start': 0, 'compute_instances': ['3g.20gb']},
                         {'profile': '3g.20gb', 'start': 4, 'compute_instances': ['3g.20gb']}]}


def gpu(index, mig, capable=True):
    return {'index': index, 'mig_capable': capable, 'mig_mode': {'current': mig, 'pending': mig, 'change_pending': False},
            'layout': (LAYOUT if mig else {'mig-enabled': False, 'mig-devices': {}, 'placements': []}) if capable else None}


def plan(planned=((0, True, False), (1, True, False)), read=None, **extra):
    """A mig_layout check-mode result: planned is (index, mig_enabled, changed) per GPU; read the GPUs (both MIG on by default)."""
    result = {'changed': False, 'checkpoint': '/c.json', 'checkpoint_stale': False,
              'gpus': [{'index': i, 'mig_enabled': on, 'changed': changed, 'actions': ['x'] if changed else []} for i, on, changed in planned],
              'node': {'gpus': read if read is not None else [gpu(0, True), gpu(1, True)]}}
    result.update(extra)
    return result


def plugin(**extra):
    """A device_plugin_config check-mode result for one node, with the node as a finished rollout leaves it."""
    result = {'changed': False, 'written': [], 'restarted': False, 'expected': {}, 'advertised': {}, 'unschedulable': False,
              'labels': {'nvidia.com/mig.config': 'all-3g', 'nvidia.com/mig.config.state': 'success',
                         'nvidia.com/device-plugin.config': 'mixed'},
              'annotations': {}}
    result.update(extra)
    return result


def needs(plan_result=None, plugin_result='default', **kwargs):
    return node_needs(plan() if plan_result is None else plan_result, plugin() if plugin_result == 'default' else plugin_result,
                      kwargs.pop('config', 'all-3g'), kwargs.pop('plugin_config', 'mixed'), **kwargs)


def test_a_converged_node_needs_nothing():
    result = needs()
    assert result == {'todo': 'nothing', 'drain': False, 'change': [], 'upkeep': [], 'enable': [], 'disable': [], 'drain_gpus': [],
                      'problems': [], 'previous': [dict(LAYOUT, devices=[0]), dict(LAYOUT, devices=[1])], 'allocator': 'device-plugin'}


@pytest.mark.parametrize('plan_result, plugin_result, kwargs, change, drain_gpus', [
    (plan(planned=((0, True, True), (1, True, False))), None, {}, ['GPU 0: its layout changes'], [0]),
    (plan(read=[gpu(0, False), gpu(1, True)]), None, {}, ['GPU 0: MIG mode goes on'], [0]),
    (plan(planned=((0, True, False), (1, False, False))), None, {}, ['GPU 1: MIG mode goes off'], [1]),
    (None, plugin(restarted=True), {}, ['the device plugin restarts (its config label or the resources it advertises differ)'], []),
    (None, plugin(written=['mixed']), {}, ['the device plugin config mixed is missing or differs in the ConfigMap'], []),
    (None, None, {'config': 'all-1g'}, ["label nvidia.com/mig.config is 'all-3g', not 'all-1g'"], []),
    (None, plugin(labels={'nvidia.com/mig.config': 'all-3g', 'nvidia.com/mig.config.state': 'pending'}), {},
     ["label nvidia.com/mig.config.state is 'pending', not 'success'"], []),
    (None, plugin(labels={}), {}, ["label nvidia.com/mig.config is None, not 'all-3g'", "label nvidia.com/mig.config.state is None, not 'success'"], []),
    (None, plugin(annotations={'gpufleet.mig/failure-reason': 'Apply the layout: boom'}), {}, ['annotation gpufleet.mig/failure-reason is set'], []),
])
def test_each_reason_for_a_change(plan_result, plugin_result, kwargs, change, drain_gpus):
    result = needs(plan_result, plugin_result or plugin(), **kwargs)
    assert (result['todo'], result['drain'], result['change'], result['drain_gpus'], result['problems']) == ('change', True, change, drain_gpus, [])


def test_mig_mode_changes_and_layout_changes_all_drain_their_gpus():
    read = [gpu(0, False), gpu(1, True), gpu(2, True), gpu(3, False)]
    result = needs(plan(planned=((0, True, True), (1, False, False), (2, True, True), (3, False, False)), read=read))
    assert (result['enable'], result['disable'], result['drain_gpus']) == ([0], [1], [0, 1, 2])
    # Back as read: GPUs 1 and 2 with their layouts, GPU 0 (enabled by the rollout) with MIG off again.
    assert result['previous'] == [dict(LAYOUT, devices=[1]), dict(LAYOUT, devices=[2]), {'devices': [0], 'mig-enabled': False}]


def test_the_gpus_read_by_the_batch_take_precedence_over_the_plans():
    result = needs(gpus=[gpu(0, False), gpu(1, True)])
    assert (result['enable'], result['drain_gpus']) == ([0], [0])


def test_a_gpu_the_read_does_not_show_changes_no_mode():
    result = needs(plan(planned=((0, True, False), (5, True, False))))
    assert (result['todo'], result['enable'], result['disable']) == ('nothing', [], [])


def test_gpus_without_mig_are_not_put_back():
    result = needs(plan(planned=((0, True, False),), read=[gpu(0, True), gpu(1, False, capable=False)]))
    assert result['previous'] == [dict(LAYOUT, devices=[0])]


@pytest.mark.parametrize('plan_result, plugin_result, upkeep', [
    (plan(checkpoint_stale=True), plugin(), ['the checkpoint is stale or missing']),
    (plan(restore_installed=False), plugin(), ['the boot-time restore is not installed']),
    (plan(restore_installed=True), plugin(), []),
    (plan(planned=((0, False, False), (1, False, False)), read=[gpu(0, False), gpu(1, False)], restore_installed=False), plugin(), []),
    (plan(), plugin(written=['none', 'single']), ['the device plugin configs none, single are missing or differ in the ConfigMap']),
])
def test_each_reason_for_upkeep(plan_result, plugin_result, upkeep):
    result = needs(plan_result, plugin_result)
    assert (result['todo'], result['upkeep'], result['change']) == ('upkeep' if upkeep else 'nothing', upkeep, [])


def test_upkeep_comes_with_a_change_when_both_are_due():
    result = needs(plan(checkpoint_stale=True, planned=((0, True, True), (1, True, False))), plugin(written=['mixed', 'single']))
    assert result['todo'] == 'change'
    assert result['upkeep'] == ['the checkpoint is stale or missing', 'the device plugin configs single are missing or differ in the ConfigMap']


def test_the_upkeep_found_earlier_stays_due_once():
    earlier = needs(plan(checkpoint_stale=True, restore_installed=False))
    result = needs(plan(checkpoint_stale=True), earlier=earlier)
    assert result['todo'] == 'upkeep'
    assert result['upkeep'] == ['the checkpoint is stale or missing', 'the boot-time restore is not installed']


@pytest.mark.parametrize('plan_result, problems', [
    ({'failed': True, 'msg': 'GPU 0: unknown profile 3g.99gb'}, ['GPU 0: unknown profile 3g.99gb']),
    ({'failed': True}, ['the layout could not be planned']),
    ({'skipped': True, 'changed': False}, []),
    ({}, []),
    (None, []),
])
def test_a_node_whose_layout_was_not_planned_needs_a_change_and_is_not_asked_about_its_plugin(plan_result, problems):
    result = node_needs(plan_result, {'failed': True, 'msg': 'not this'}, 'all-3g', 'mixed')
    assert (result['todo'], result['change'], result['problems'], result['upkeep']) == ('change', ['the layout was not planned'], problems, [])


def test_a_node_whose_plugin_was_not_checked_needs_a_change_but_keeps_its_upkeep():
    result = needs(plan(checkpoint_stale=True), None)
    assert (result['todo'], result['change'], result['upkeep'], result['problems']) == (
        'change', ['the device plugin was not checked'], ['the checkpoint is stale or missing'], [])


def cluster(**nodes):
    return {'changed': False, 'written': ['single'], 'nodes': nodes}


def test_the_findings_of_a_check_of_several_nodes_are_this_nodes():
    result = needs(plugin_result=cluster(other=plugin(restarted=True), node7=plugin()), node='node7')
    assert (result['todo'], result['upkeep']) == ('upkeep', ['the device plugin configs single are missing or differ in the ConfigMap'])
    assert needs(plugin_result=cluster(other=plugin(restarted=True), node7=plugin()), node='other')['todo'] == 'change'


@pytest.mark.parametrize('plugin_result, problem', [
    # The check failed for this node (other nodes' findings still count for them).
    (dict(cluster(node7={'failed': True, 'msg': 'the device plugin would not start on node7'}), failed=True, msg='1 of 1 nodes'),
     'the device plugin would not start on node7'),
    # The check failed before it came to any node (a bad config, the API server).
    ({'failed': True, 'msg': 'config mixed: unknown key', 'written': ['mixed']}, 'config mixed: unknown key'),
    ({'failed': True}, 'the device plugin check did not run'),
    # The check did not list this node.
    (cluster(other=plugin()), 'the device plugin check did not run'),
])
def test_a_failed_device_plugin_check_is_a_problem(plugin_result, problem):
    result = needs(plugin_result=plugin_result, node='node7')
    assert (result['todo'], result['problems']) == ('change', [problem])
    assert 'the device plugin was not checked' in result['change']


def test_the_configmap_upkeep_of_a_failed_check_still_counts():
    result = needs(plugin_result={'failed': True, 'msg': 'node7: 404', 'written': ['single']}, node='node7')
    assert result['upkeep'] == ['the device plugin configs single are missing or differ in the ConfigMap']


@pytest.mark.parametrize('args, message', [
    (('not a result', None), 'plan must be a registered module result (a mapping), got str'),
    ((plan(), ['x']), 'plugin must be a registered module result (a mapping), got list'),
])
def test_refuses_what_is_not_a_module_result(args, message):
    with pytest.raises(ValueError, match=r'^%s$' % message.replace('(', r'\(').replace(')', r'\)')):
        node_needs(*args, config='c', plugin_config='mixed')


def test_result_records_have_the_eleven_keys_with_their_defaults():
    assert node_result('unchanged', 1, '2.5') == {'status': 'unchanged', 'started': 1.0, 'finished': 2.5, 'actions': [], 'gpus_changed': [],
                                                  'layout': 'new', 'labelled': True, 'reason': None,
                                                  'drain': None, 'evicted': [], 'drain_fallback': None}
    changed = node_result('changed', 1, 2, actions=iter(['create GPU instance 3g.20gb at 0:4']), gpus_changed=(x for x in [0, 1]))
    assert list(changed) == list(RESULT_KEYS)
    assert (changed['actions'], changed['gpus_changed'], changed['labelled']) == (['create GPU instance 3g.20gb at 0:4'], [0, 1], True)
    failed = node_result('failed', 1, 2, layout='unknown', reason='Apply the layout: boom')
    assert (failed['labelled'], failed['layout'], failed['reason']) == (False, 'unknown', 'Apply the layout: boom')
    assert node_result('failed', 1, 2, labelled=True, reason='x')['labelled'] is True


@pytest.mark.parametrize('args, kwargs, message', [
    (('done', 1, 2), {}, "status must be one of changed, unchanged, failed, got 'done'"),
    (('changed', 1, 2), {'layout': 'old'}, "layout must be one of new, previous, unknown, got 'old'"),
    (('failed', 1, 2), {}, 'a failed node needs a reason, and only a failed one has one (status failed, reason None)'),
    (('changed', 1, 2), {'reason': 'x'}, "a failed node needs a reason, and only a failed one has one (status changed, reason 'x')"),
    (('unchanged', 1, 2), {'actions': ['write the checkpoint']}, 'an unchanged node has no actions and no changed GPUs'),
    (('unchanged', 1, 2), {'gpus_changed': [0]}, 'an unchanged node has no actions and no changed GPUs'),
    (('unchanged', 'now', 2), {}, "started must be a Unix time, got 'now'"),
    (('unchanged', 1, None), {}, 'finished must be a Unix time, got None'),
    (('unchanged', 1, 2), {'drains': [{'changed': True, 'evicted': ['ml/a']}]},
     'an unchanged node is not drained, but a drain ran (evicted: ml/a)'),
    (('changed', 1, 2), {'drains': {'evicted': []}}, 'drains must be a list of registered node_drain results, got dict'),
])
def test_result_records_refuse_what_cannot_be_one(args, kwargs, message):
    with pytest.raises(ValueError) as err:
        node_result(*args, **kwargs)
    assert str(err.value) == message


def seen(**extra):
    """What the preflight notes on a node that was read and checked (cluster 'c')."""
    noted = {'node_problem': None, 'node': 'gpu-node-1', 'config': 'all-3g', 'plugin_config': 'mixed', 'layout_given': True, 'cluster': 'c'}
    noted.update(extra)
    return noted


def test_the_preflight_decides_each_node_with_its_clusters_check():
    # Two clusters: node a converged, node b's plugin restarts; each decision is node_needs' over its own cluster's check.
    restarting = {'nodes': {'gpu-node-2': plugin(restarted=True, expected={'nvidia.com/mig-3g.40gb': 2})}, 'written': []}
    decided = preflight_decisions({'a': seen(), 'b': seen(node='gpu-node-2', cluster='d')}, {'a': plan(), 'b': plan()},
                                  {'c': {'nodes': {'gpu-node-1': plugin()}, 'written': []}, 'd': restarting})
    assert decided['a'] == {'problems': [], 'needs': needs(), 'converged': True, 'upkeep': False, 'cluster': 'c', 'capacity': None}
    assert decided['b']['needs'] == node_needs(plan(), restarting, 'all-3g', 'mixed', node='gpu-node-2')
    assert (decided['b']['converged'], decided['b']['upkeep'], decided['b']['problems']) == (False, False, [])
    # A drained node tells the capacity check what it offers after the change.
    assert (decided['b']['cluster'], decided['b']['capacity']) == ('d', {'node': 'gpu-node-2', 'resources': {'nvidia.com/mig-3g.40gb': 2}})


def test_with_precise_drains_a_drained_node_names_the_gpus_that_change_for_the_capacity_check():
    restarting = {'nodes': {'gpu-node-1': plugin(restarted=True, expected={'nvidia.com/mig-3g.40gb': 2})}, 'written': []}
    decided = preflight_decisions({'a': seen()}, {'a': plan()}, {'c': restarting}, precise=True)['a']
    assert decided['capacity'] == {'node': 'gpu-node-1', 'resources': {'nvidia.com/mig-3g.40gb': 2}, 'gpus': decided['needs']['drain_gpus']}
    # A converged node has no entry, precise or not.
    assert preflight_decisions({'a': seen()}, {'a': plan()}, {'c': {'nodes': {'gpu-node-1': plugin()}, 'written': []}},
                               precise=True)['a']['capacity'] is None


def test_a_drained_node_whose_plugin_check_failed_gives_the_capacity_check_nothing():
    decided = preflight_decisions({'a': seen()}, {'a': plan()}, {'c': {'nodes': {'gpu-node-1': {'failed': True, 'msg': 'boom'}}}})
    assert decided['a']['needs']['drain'] and decided['a']['capacity'] is None
    assert preflight_decisions({'a': seen(cluster=None)}, {'a': plan()}, {})['a']['capacity'] is None


def test_upkeep_alone_leaves_a_node_converged():
    decided = preflight_decisions({'a': seen()}, {'a': plan(checkpoint_stale=True)}, {'c': {'nodes': {'gpu-node-1': plugin()}}})
    assert (decided['a']['converged'], decided['a']['upkeep'], decided['a']['needs']['todo']) == (True, True, 'upkeep')


def test_a_node_not_checked_has_the_plans_problem_and_is_not_converged():
    failed = {'failed': True, 'msg': 'GPU 0: unknown profile 3g.99gb', 'changed': False}
    decided = preflight_decisions({'a': seen(cluster=None)}, {'a': failed}, {})
    assert decided['a']['problems'] == needs(failed, None)['problems'] and decided['a']['problems']
    assert decided['a']['converged'] is False


def test_a_node_that_could_not_be_read_comes_first_among_the_problems():
    skipped = {'skipped': True, 'changed': False}
    decided = preflight_decisions({'a': seen(node_problem='nodes "gpu-node-1" not found', config='', layout_given=False, cluster=None)},
                                  {'a': skipped}, {})
    assert decided['a']['problems'][0] == 'nodes "gpu-node-1" not found'
    assert decided['a']['problems'][-1] == NO_LAYOUT


def test_a_node_without_a_layout_is_refused():
    decided = preflight_decisions({'a': seen(config='', layout_given=False, cluster=None)}, {'a': {'skipped': True, 'changed': False}}, {})
    assert NO_LAYOUT in decided['a']['problems'] and 'mig_rollout_layout' in NO_LAYOUT


@pytest.mark.parametrize('nodes, plans, plugins, message', [
    ([], {}, {}, '^nodes must be a mapping, got list$'),
    ({}, None, {}, '^plans must be a mapping, got NoneType$'),
    ({'a': seen()}, {'a': plan()}, {'d': {}}, '^node a: no device plugin check ran for its cluster$'),
    ({'a': seen()}, {}, {'c': {}}, '^node a: no plan was registered$'),
    ({'a': {'node': 'x', 'config': ''}}, {'a': plan()}, {}, '^node a: the preflight did not note node_problem, plugin_config, layout_given, cluster$'),
    ({'a': 'gpu-node-1'}, {'a': plan()}, {}, '^node a: the preflight did not note node_problem, node, config'),
])
def test_the_preflight_decision_refuses_notes_it_does_not_know(nodes, plans, plugins, message):
    with pytest.raises(ValueError, match=message):
        preflight_decisions(nodes, plans, plugins)


SKIPPED = {'changed': False, 'skipped': True, 'skip_reason': 'Conditional result was False'}


@pytest.mark.parametrize('drains, expected', [
    # Nothing ran: no drain.
    ([], (None, [], None)),
    ([None, SKIPPED], (None, [], None)),
    # Asked GPU-precise, and it was: only its pods.
    ([{'changed': True, 'evicted': ['ml/a'], 'fallback': None}, SKIPPED], ('gpus', ['ml/a'], None)),
    # Asked GPU-precise, but the kubelet could not say which pod holds which GPU.
    ([{'changed': True, 'evicted': ['ml/a', 'ml/b'], 'fallback': 'the socket does not exist'}], ('node', ['ml/a', 'ml/b'], 'the socket does not exist')),
    # Not asked (mig_rollout_drain_precise off): node-level, and nothing to explain.
    ([{'changed': True, 'evicted': ['ml/a']}], ('node', ['ml/a'], None)),
    # Precise, then the rest before a reboot: every GPU pod went after all, each pod once.
    ([{'evicted': ['ml/a'], 'fallback': None}, {'evicted': ['ml/b', 'ml/a']}],
     ('node', ['ml/a', 'ml/b'], 'the node rebooted to change the MIG mode, which stops the work on every GPU')),
    # A drain that failed still says what it evicted before it stopped.
    ([{'failed': True, 'msg': 'draining node n did not finish', 'evicted': ['ml/a'], 'blocked': {'ml/b': 'PDB'}, 'fallback': None}],
     ('gpus', ['ml/a'], None)),
])
def test_the_record_says_how_the_node_was_drained_and_which_pods_went(drains, expected):
    assert drain_outcome(drains) == expected
    record = node_result('changed', 1, 2, drains=drains)
    assert (record['drain'], record['evicted'], record['drain_fallback']) == expected


# -- nodes that NVIDIA's DRA driver serves ---------------------------------------------------------------------------

def dra_entry(**extra):
    """A converged DRA node's entry in a device_plugin_config run with nodes and dra (as the module returns it)."""
    entry = {'allocator': 'dra', 'restarted': False, 'expected': ['gpu-0-mig-3g40gb-2-0'], 'published': ['gpu-0-mig-3g40gb-2-0'],
             'missing': [], 'unexpected': [], 'pods': ['plugin-x'], 'claims': [],
             'labels': {'nvidia.com/mig.config': 'all-3g', 'nvidia.com/mig.config.state': 'success'}, 'annotations': {}}
    entry.update(extra)
    return entry


def test_a_dra_node_is_decided_from_its_dra_check_not_the_device_plugin_check():
    # The cluster's one check: gpu-node-1 has its DRA check as its entry, and the ConfigMap's configs are not its upkeep.
    plugins = {'c': {'nodes': {'gpu-node-1': dra_entry(), 'gpu-node-2': plugin(allocator='device-plugin')}, 'written': ['other']}}
    decided = preflight_decisions({'a': seen(), 'b': seen(node='gpu-node-2')}, {'a': plan(), 'b': plan()}, plugins)
    assert decided['a']['converged'] and decided['a']['needs']['allocator'] == 'dra' and decided['a']['problems'] == []
    assert decided['b']['converged'] and decided['b']['needs']['allocator'] == 'device-plugin'
    assert not decided['a']['upkeep'] and decided['b']['upkeep']


def test_stale_slices_change_a_dra_node_and_give_the_capacity_check_nothing():
    stale = dra_entry(restarted=True, missing=['gpu-0-mig-3g40gb-2-0'], unexpected=['gpu-0'])
    decided = preflight_decisions({'a': seen()}, {'a': plan()}, {'c': {'nodes': {'gpu-node-1': stale}, 'written': []}})['a']
    assert decided['needs']['change'] == ["the DRA kubelet plugin restarts (the node's ResourceSlices do not list the planned devices: "
                                          'missing gpu-0-mig-3g40gb-2-0; not planned gpu-0)']
    assert decided['needs']['drain'] and decided['capacity'] is None


def test_a_refused_dra_node_and_a_failed_dra_check_are_problems():
    refused = {'allocator': 'dra', 'failed': True, 'msg': 'node gpu-node-1: ... DynamicMIG=true ...'}
    decided = preflight_decisions({'a': seen(), 'b': seen(node='gpu-node-2')}, {'a': plan(), 'b': plan()},
                                  {'c': {'failed': True, 'msg': '1 of 1 nodes: ...', 'nodes': {'gpu-node-1': refused}}})
    assert decided['a']['problems'] == [refused['msg']]
    assert decided['a']['needs']['change'] == ['the DRA kubelet plugin was not checked']
    # A node the failed run did not come to has the run's message.
    assert decided['b']['problems'] == ['1 of 1 nodes: ...']


def test_the_batch_keeps_the_preflights_allocator_when_it_does_not_check_again():
    earlier = node_needs(plan(), dra_entry(), 'all-3g', 'mixed')
    assert earlier['allocator'] == 'dra'
    assert needs(plugin_result=None, earlier=earlier)['allocator'] == 'dra'
    assert needs(plugin_result=dra_entry(), earlier=None)['todo'] == 'nothing'
