# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mig_layout and gpu_info judged by NVIDIA's mig-parted, label by label of the GPU Operator's default config (issue 13, 5a, 5b).

``make nvidia-tests`` runs a subset that puts every label on at least one simulated MIG model and gives every model
labels that fit it, a label of another board's names and a label that selects none of its GPUs. ``make nvidia-matrix``
(GPUFLEET_MIG_MATRIX=full) runs every label on every model. How each pair is judged: ``tests/nvidia/migparted.py``.
"""

from __future__ import annotations

import concurrent.futures
import os

import pytest

import migparted

FULL = os.environ.get('GPUFLEET_MIG_MATRIX') == 'full'
# Chains of different models are independent (their own nodes and files); two run at a time unless told otherwise.
JOBS = int(os.environ.get('GPUFLEET_MIG_JOBS') or 2)
# GPUs of each simulated node: 2 in the subset (multi-GPU nodes, merged exports); 1 in the whole matrix, where every
# mig-parted run costs half as much.
GPUS = int(os.environ.get('GPUFLEET_MIG_GPUS') or (1 if FULL else 2))


@pytest.fixture(scope='session')
def operator_config(nvidia_tools):
    """(path of the config file, parsed config) of the GPU Operator's default mig-parted config, from ../shared/nvidia."""
    source = os.environ.get('NVIDIA_SRC', '')
    if not os.path.exists(os.path.join(source, migparted.CONFIGMAP)):
        reason = 'the GPU Operator\'s default mig-parted config (%s) is not in %s' % (migparted.CONFIGMAP, source or 'NVIDIA_SRC')
        if os.environ.get('CI') == 'true':
            pytest.fail('CI must run the mig-parted cross-check, but ' + reason)
        pytest.skip(reason)
    return migparted.operator_config(source)


@pytest.fixture(scope='session')
def plan(operator_config, sim_build):
    """{model: [labels]}: the subset, or every label on every model under GPUFLEET_MIG_MATRIX=full."""
    config = operator_config[1]
    models = migparted.mig_models(sim_build)
    if FULL:
        return dict((model, list(config['mig-configs'])) for model in models)
    return migparted.subset(config, models)


@pytest.fixture(scope='session')
def crosscheck(operator_config, plan, sim_build, nvidia_tools, tmp_path_factory):
    """Every (model, label) pair of the plan, judged; the counts go to the end of the pytest output."""
    text, config = operator_config
    workdir = str(tmp_path_factory.mktemp('migparted'))
    config_path = os.path.join(workdir, 'config.yaml')
    with open(config_path, 'w') as handle:
        handle.write(text)

    progress = os.path.join(workdir, 'progress.txt')

    def chain(model):
        found = migparted.run_chain(model, plan[model], config, config_path, workdir, sim_build, nvidia_tools, gpus=GPUS)
        # One line per finished model, to follow a long run (the matrix) from outside.
        with open(progress, 'a') as handle:
            handle.write(migparted.summary(model, found, plan[model], [model])[0] + '\n')
        return found
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as pool:
        results = [result for chained in pool.map(chain, sorted(plan)) for result in chained]
    labels = sorted({label for labels in plan.values() for label in labels})
    title = 'mig-parted cross-check (%s, %d GPUs a node)' % ('every label x every model' if FULL else 'subset', GPUS)
    migparted.SUMMARY.extend(migparted.summary(title, results, labels, sorted(plan)))
    return results


def test_the_plan_covers_every_label_and_model(operator_config, plan):
    config = operator_config[1]
    assert sorted({label for labels in plan.values() for label in labels}) == sorted(config['mig-configs'])
    assert len(plan) >= 11, sorted(plan)   # every MIG model of the simulator (simnode models)
    unselected = 0
    for model, labels in plan.items():
        kinds = {migparted.label_kind(config, label, migparted.model_file(model)) for label in labels}
        assert {'fits', 'other-names'} <= kinds, (model, labels, kinds)
        unselected += 'selects-none' in kinds
    assert unselected >= len(plan) // 2


def test_mig_layout_results_pass_mig_parted_assert_and_export(crosscheck):
    """5(a): what mig_layout applies passes nvidia-mig-parted assert, and mig-parted's export equals gpu_info's."""
    problems = ['%s on %s: %s' % (r['label'], r['model'], '; '.join(r['problems_a'])) for r in crosscheck if r['problems_a']]
    assert not problems, '\n'.join(problems)
    applied = {r['model'] for r in crosscheck if r['kind'] == 'applied'}
    refused = {r['model'] for r in crosscheck if r['kind'] == 'refused'}
    # Not vacuous: every model had labels applied and asserted, and labels refused by both sides.
    assert applied == refused == {r['model'] for r in crosscheck}, (applied, refused)


def test_mig_parted_results_read_back_converged(crosscheck):
    """5(b): what mig-parted applies, gpu_info reads as mig-parted exports it and mig_layout check mode finds converged."""
    problems = ['%s on %s: %s' % (r['label'], r['model'], '; '.join(r['problems_b'])) for r in crosscheck if r['problems_b']]
    assert not problems, '\n'.join(problems)
    converged = [r for r in crosscheck if r['theirs']['applied']]
    assert {r['model'] for r in converged} == {r['model'] for r in crosscheck}


def test_refusals_name_the_profile(operator_config, crosscheck):
    """A label of another board's names is refused with a message that names one of them.

    Drifted names (within 2 GB of the model's own) are left to the test of issue 18 item 9: until then mig_layout
    resolves them first and may refuse with the resolved name (all-1g.23gb on GH200: "7 instances of 1g.24gb").
    """
    config = operator_config[1]
    refused = [r for r in crosscheck if r['kind'] == 'refused' and not migparted.drifted(config, r['label'], r['model'])
               and migparted.label_kind(config, r['label'], migparted.model_file(r['model'])) == 'other-names']
    assert refused
    for result in refused:
        names = migparted.profile_names(config, result['label'])
        assert any(name in result['ours']['msg'] for name in names), (result['label'], result['model'], result['ours']['msg'])


def test_profile_names_of_another_board_are_refused(operator_config, crosscheck):
    """Issue 18 item 9: a drifted name (all-3g.72gb on an H200) is refused before any change, not resolved by slice class.

    mig-parted reports success and leaves such GPUs empty; mig_layout must refuse. Pairs of this kind in the plan must
    all end as ``refused``.
    """
    config = operator_config[1]
    drifted = [r for r in crosscheck if migparted.label_kind(config, r['label'], migparted.model_file(r['model'])) == 'other-names']
    assert drifted
    pending = ['%s on %s' % (r['label'], r['model']) for r in drifted if r['kind'] != 'refused'
               or not any(name in r['ours']['msg'] for name in migparted.profile_names(config, r['label']))]
    assert not pending, 'not refused, or refused without naming the label\'s profile: %s' % ', '.join(pending)


def test_a_label_that_selects_no_gpu_is_refused(operator_config, crosscheck):
    """Issue 18 item 10: a label none of whose entries selects a GPU of the node is refused, not a silent no-op.

    mig-parted's apply reports success without any change and its assert then fails.
    """
    config = operator_config[1]
    unselected = [r for r in crosscheck if migparted.label_kind(config, r['label'], migparted.model_file(r['model'])) == 'selects-none']
    assert unselected
    pending = ['%s on %s' % (r['label'], r['model']) for r in unselected if r['kind'] != 'refused']
    assert not pending, 'not refused: %s' % ', '.join(pending)
