# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile module arguments for the node-side modules, through their real entry points and the real pynvml.

mig_layout, mig_mode, driver_check and gpu_info run against a simulated node (GPU 0 an A100 with a busy 3g
instance, GPU 1 an H100, GPU 2 an L40S, GPU 3 an A30 with MIG off). For every input the module prints one JSON
result and no traceback escapes. When it fails, the message names every planted poison and NOTHING changed on
the node: no mutating NVML call in the call log, the state file byte for byte as before, no checkpoint. In check
mode nothing changes either way. A module that accepts a planted poison fails the property.
"""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import hostile_strategies as hs
from hostile_modules import Escaped, SimNode, argument_poison, module_spec, run_module
from hostile_tally import budget, record

MODELS = ['A100-SXM4-40GB', 'H100-SXM5-80GB', 'L40S', 'A30']
MIG_GPUS = (0, 1)

# Valid layouts for this node (GPU 0 keeps its busy 3g.20gb instance), for the poisons that are not in the layout.
GOOD_LAYOUTS = (
    [{'devices': [1], 'mig-enabled': True, 'mig-devices': {'1g.10gb': 2}}],
    [{'devices': [0], 'mig-enabled': True, 'placements': [{'profile': '3g.20gb'}, {'profile': '2g.10gb'}]}],
    {'devices': [1], 'mig-enabled': True, 'mig-devices': {}},
)


@pytest.fixture(scope='module', name='sim')
def sim_fixture(tmp_path_factory):
    if not os.environ.get('SIM_BUILD') or 'LD_LIBRARY_PATH' not in os.environ:
        pytest.fail('SIM_BUILD and LD_LIBRARY_PATH are not set: run the unit tests through `make units`')
    node = SimNode(str(tmp_path_factory.mktemp('hostile')), 'hostile', MODELS, '0,1')
    node.nvidia_smi('mig', '-cgi', '9', '-C', '-i', '0')        # a 3g.20gb instance with its compute instance on GPU 0
    gi = node.show()['gpus'][0]['gpu_instances'][0]
    from hostile_modules import simnode
    simnode('process', 'add', node.state, '--gpu', 0, '--gi', gi['id'], '--ci', 0, '--pid', 4242)
    node.freeze()
    return node


def check_run(prop, sim, module, args, poisons, check_mode):
    """Run the module on the restored node and check the outcome against the poisons."""
    try:
        with sim.session() as changes:
            result = run_module(module, args)
    except Escaped:
        record(prop, 'traceback')
        raise
    if result.get('failed') and any(isinstance(g, dict) and g.get('status') in ('restored', 'failed') for g in result.get('gpus') or ()):
        # Validation passed and NVML refused a step (force on a busy instance): the rollback contract, tested in
        # test__apply.py, not a refusal of the input.
        assert not poisons, '%s accepted %s: %r' % (module, poisons, result)
        record(prop, 'accepted')
        return result
    if result.get('failed'):
        msg = result.get('msg')
        assert isinstance(msg, str) and msg, result
        texts = [msg] + [p for p in result.get('problems') or () if isinstance(p, str)]
        for poison in poisons:
            assert hs.problem_names(texts, poison), 'poison %s (%s, hint %s) not named in %r' % (poison.kind, poison.tokens, poison.hints, msg)
        if changes:
            record(prop, 'change')
        assert not changes, '%s failed but changed the node: %s (%s)' % (module, changes, msg)
        record(prop, 'rejected')
        return result
    assert not poisons, '%s accepted %s: %r' % (module, poisons, result)
    if check_mode and changes:
        record(prop, 'change')
    assert not (check_mode and changes), 'check mode changed the node: %s' % changes
    record(prop, 'accepted')
    return result


def with_poison(draw, spec, args, poisons):
    """Maybe replace the planned poisons with one argument-level mistake (Ansible reports only that one)."""
    if draw(st.integers(0, 4)) == 0:
        name, value, tokens, hints = draw(argument_poison(spec))
        args[name] = value
        return [hs.Poison('args', 'argument', tokens, hints)]
    return poisons


MIG_LAYOUT_SPEC = module_spec('mig_layout')


@st.composite
def mig_layout_args(draw, checkpoint):
    args = {'checkpoint': checkpoint}
    kind = draw(st.sampled_from(['good', 'inline', 'inline', 'config', 'gpus', 'junk', 'conflict']))
    poisons = []
    if kind == 'good':
        args['layout'] = draw(st.sampled_from(GOOD_LAYOUTS))
        if draw(st.booleans()):
            args['gpus'] = draw(st.lists(st.sampled_from(MIG_GPUS), max_size=2))
    elif kind == 'inline':
        case = draw(hs.inline_case(MODELS, json_safe=True))
        args['layout'] = case.value
        poisons = list(case.poisons)
    elif kind == 'config':
        case = draw(hs.mig_parted_case(MODELS, json_safe=True))
        args['config'] = case.value
        if draw(st.booleans()):
            import yaml
            args['config'] = yaml.safe_dump(case.value)
        if case.label is not None:
            args['label'] = case.label
        poisons = list(case.poisons)
    elif kind == 'gpus':
        args['layout'] = draw(st.sampled_from(GOOD_LAYOUTS))
        bad = draw(st.integers(len(MODELS), 2 ** 62) | st.integers(max_value=-1))
        args['gpus'] = draw(st.lists(st.sampled_from(MIG_GPUS), max_size=1)) + [bad]
        poisons = [hs.Poison('module', 'gpus', ('GPU index %d' % bad,), ('valid',))]
    elif kind == 'junk':
        args[draw(st.sampled_from(['layout', 'config']))] = draw(hs.anything)
    else:
        which = draw(st.sampled_from(['both', 'neither', 'label-without-config']))
        if which == 'both':
            args['layout'] = draw(st.sampled_from(GOOD_LAYOUTS))
            args['config'] = {'version': 'v1', 'mig-configs': {'a': [{'devices': 'all', 'mig-enabled': False}]}}
            poisons = [hs.Poison('args', which, ('layout|config',), ('mutually exclusive',))]
        elif which == 'neither':
            poisons = [hs.Poison('args', which, ('layout, config',), ('one of the following is required',))]
        else:
            args['layout'] = draw(st.sampled_from(GOOD_LAYOUTS))
            args['label'] = draw(st.text(max_size=5))
            poisons = [hs.Poison('args', which, ("'label'",), ('required by',))]
    if draw(st.booleans()):
        args['force'] = draw(st.booleans())
    if draw(st.booleans()):
        args['write_checkpoint'] = draw(st.booleans())
    if kind in ('good', 'inline', 'config', 'junk'):
        poisons = with_poison(draw, MIG_LAYOUT_SPEC, args, poisons)
    check_mode = draw(st.booleans())
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = draw(st.booleans())
    return args, poisons, check_mode


@settings(max_examples=budget(150))
@given(st.data())
def test_mig_layout_with_hostile_arguments(sim, data):
    args, poisons, check_mode = data.draw(mig_layout_args(sim.checkpoint))
    check_run('mig_layout module', sim, 'mig_layout', args, poisons, check_mode)


MIG_MODE_SPEC = module_spec('mig_mode')


@st.composite
def mig_mode_args(draw, nvidia_smi):
    args = {'nvidia_smi': nvidia_smi, 'mig_enabled': draw(st.booleans())}
    if draw(st.booleans()):
        args['reset'] = draw(st.booleans())
    poisons = []
    kind = draw(st.sampled_from(['plain', 'missing-gpu', 'not-mig', 'missing-mode', 'argument']))
    if kind == 'plain':
        if draw(st.booleans()):
            args['gpus'] = draw(st.lists(st.sampled_from([0, 1, 3]), max_size=3))
    elif kind == 'missing-gpu':
        bad = draw(st.integers(len(MODELS), 2 ** 62) | st.integers(max_value=-1))
        args['gpus'] = [bad] + draw(st.lists(st.sampled_from([0, 1]), max_size=2))
        poisons = [hs.Poison('module', kind, ('GPU index %d' % bad,), ('valid',))]
    elif kind == 'not-mig':
        args['mig_enabled'] = True
        args['gpus'] = [2]
        poisons = [hs.Poison('module', kind, ('GPU 2',), ('does not support MIG',))]
    elif kind == 'missing-mode':
        del args['mig_enabled']
        poisons = [hs.Poison('args', kind, ('mig_enabled',), ('missing required',))]
    else:
        name, value, tokens, hints = draw(argument_poison(MIG_MODE_SPEC))
        args[name] = value
        poisons = [hs.Poison('args', 'argument', tokens, hints)]
    check_mode = draw(st.booleans())
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = draw(st.booleans())
    return args, poisons, check_mode


@settings(max_examples=budget(60))
@given(st.data())
def test_mig_mode_with_hostile_arguments(sim, data):
    # nvidia_smi is always the simulator's: the module runs it to reset a GPU.
    args, poisons, check_mode = data.draw(mig_mode_args(os.path.join(os.environ['SIM_BUILD'], 'bin', 'nvidia-smi')))
    check_run('mig_mode module', sim, 'mig_mode', args, poisons, check_mode)


DRIVER_CHECK_SPEC = module_spec('driver_check')
BAD_VERSIONS = ('', 'latest', '550.54.15.1.2', 'R', 'R550.1', '550..54', '-550', 'v550', '550.x', '５５０')


@st.composite
def driver_check_args(draw):
    args = {}
    poisons = []
    kind = draw(st.sampled_from(['plain', 'minimum_version', 'pinned_version', 'allowed_branches', 'profiles', 'gpus', 'argument']))
    if kind == 'plain':
        for name in ('minimum_version', 'pinned_version'):
            if draw(st.booleans()):
                args[name] = draw(st.sampled_from(['470', 'R550', '595.58.03', '600.1']))
        if draw(st.booleans()):
            args['allowed_branches'] = draw(st.lists(st.sampled_from(['R550', '595', '470']), max_size=2))
        if draw(st.booleans()):
            args['profiles'] = draw(st.lists(st.sampled_from(hs.gi_names('A100-SXM4-40GB') + hs.gi_names('A30')), max_size=2))
    elif kind in ('minimum_version', 'pinned_version', 'allowed_branches'):
        bad = draw(st.sampled_from(BAD_VERSIONS) | st.text(string.ascii_letters + ' ', min_size=1, max_size=8))
        if kind == 'allowed_branches':
            bad = draw(st.just(bad) | st.sampled_from(['550.54', '550.54.15']))
            args[kind] = ['R550', bad]
        else:
            args[kind] = bad
        poisons = [hs.Poison('module', kind, (repr(bad),), ('expected', 'major number'))]
    elif kind == 'profiles':
        bad = draw(hs.bad_names.filter(lambda n: isinstance(n, str) and n != ''))
        args['profiles'] = [bad]
        poisons = [hs.Poison('module', kind, (repr(bad),), hs.NAME_HINTS)]
    elif kind == 'gpus':
        bad = draw(st.integers(len(MODELS), 2 ** 62) | st.integers(max_value=-1))
        args['gpus'] = [bad]
        poisons = [hs.Poison('module', kind, ('GPU index %d' % bad,), ('valid',))]
    else:
        name, value, tokens, hints = draw(argument_poison(DRIVER_CHECK_SPEC))
        args[name] = value
        poisons = [hs.Poison('args', 'argument', tokens, hints)]
    args['_ansible_check_mode'] = draw(st.booleans())
    return args, poisons


@settings(max_examples=budget(50))
@given(driver_check_args())
def test_driver_check_with_hostile_arguments(sim, case):
    args, poisons = case
    check_run('driver_check module', sim, 'driver_check', args, poisons, True)     # read-only: nothing may change, ever


GPU_INFO_SPEC = module_spec('gpu_info')


@st.composite
def gpu_info_args(draw):
    args = {}
    poisons = []
    kind = draw(st.sampled_from(['plain', 'gpus', 'label', 'argument']))
    if kind == 'plain':
        if draw(st.booleans()):
            args['gpus'] = draw(st.lists(st.integers(0, len(MODELS) - 1), max_size=4))
        if draw(st.booleans()):
            args['export_label'] = draw(st.text(min_size=1, max_size=30))
    elif kind == 'gpus':
        bad = draw(st.integers(len(MODELS), 2 ** 62) | st.integers(max_value=-1))
        args['gpus'] = [bad]
        poisons = [hs.Poison('module', kind, ('GPU index %d' % bad,), ('valid',))]
    elif kind == 'label':
        args['export_label'] = ''
        poisons = [hs.Poison('module', kind, ('export_label',), ('non-empty',))]
    else:
        name, value, tokens, hints = draw(argument_poison(GPU_INFO_SPEC))
        args[name] = value
        poisons = [hs.Poison('args', 'argument', tokens, hints)]
    args['_ansible_check_mode'] = draw(st.booleans())
    return args, poisons


@settings(max_examples=budget(40))
@given(gpu_info_args())
def test_gpu_info_with_hostile_arguments(sim, case):
    args, poisons = case
    check_run('gpu_info module', sim, 'gpu_info', args, poisons, True)     # read-only


# The same contract through the real command line (`python -m <module> args.json`, what AnsiballZ runs): a few
# poisoned inputs, because every run is a new Python process.
@settings(max_examples=budget(12))
@given(st.data())
def test_mig_layout_command_line_with_poisoned_layouts(sim, tmp_path_factory, data):
    case = data.draw(hs.inline_case(MODELS, mode=data.draw(st.sampled_from(['parse', 'target'])), json_safe=True))
    assume(case.poisons)
    args_file = os.path.join(str(tmp_path_factory.getbasetemp()), 'hostile-args.json')
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': {'layout': case.value, 'checkpoint': sim.checkpoint}}, handle)
    prop = 'mig_layout command line'
    with sim.session() as changes:
        proc = subprocess.run([sys.executable, '-m', 'ansible_collections.gpufleet.mig.plugins.modules.mig_layout', args_file],
                              capture_output=True, text=True, check=False, env=dict(os.environ), timeout=120)
    if 'Traceback (most recent call last)' in proc.stdout + proc.stderr:
        record(prop, 'traceback')
        raise AssertionError('traceback from mig_layout: %s' % (proc.stdout + proc.stderr)[-3000:])
    result = json.loads(proc.stdout)
    assert result.get('failed') is True and proc.returncode == 1, result
    texts = [result['msg']] + list(result.get('problems') or ())
    for poison in case.poisons:
        assert hs.problem_names(texts, poison), (poison, result['msg'])
    if changes:
        record(prop, 'change')
    assert not changes, changes
    record(prop, 'rejected')
