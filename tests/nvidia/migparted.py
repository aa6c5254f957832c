# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA's mig-parted as the judge of mig_layout and gpu_info, label by label, on simulated nodes (issue 13, 5a and 5b).

For one GPU model and a list of labels of the GPU Operator's default mig-parted config, two simulated nodes of that model
go through the labels in turn (a chain: each label starts from the layout the previous one left):

- *ours*: the collection's modules, run as Ansible runs them (``python -m <module> ARGS.json`` with the real pynvml
  against the fake NVML of the node), in the rollout's order: ``mig_layout`` in check mode (the plan), ``mig_mode``
  for GPUs whose mode must be enabled, ``mig_layout``, ``mig_mode`` for GPUs whose mode must be disabled. Then
  NVIDIA's ``nvidia-mig-parted assert`` (same config file, same label) must pass on the node, and ``nvidia-mig-parted
  export`` must give every GPU the layout ``gpu_info``'s export gives it. A label the module refuses must have been
  refused before any NVML call that changes the node (the fake's call log marks them ``mut``).
- *theirs*: ``nvidia-mig-parted apply`` with the same config file and label; where it applied the label (its own
  ``assert`` passes), ``gpu_info`` must read back what ``export`` reads, and ``mig_layout`` in check mode must find
  every GPU converged (nothing to change).

Each (model, label) pair then gets one verdict (:func:`verdict`): applied and asserted; refused by us, with what
mig-parted did with the label (it may report success and leave the GPUs empty); pending on issue 18 (item 9: profile
names of another board resolved by slice class instead of refused; item 10: a label that selects none of the node's
GPUs accepted as a no-op instead of refused); or a disagreement, with what differs.

NVIDIA's binary runs through the node harness (``harness.py``). Only the tests and ``make bench`` use this file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import Node  # noqa: E402  pylint: disable=wrong-import-position

MODULES = 'ansible_collections.gpufleet.mig.plugins.modules.'
CONFIGMAP = 'gpu-operator-v26.7.0-mig-parted-config.yaml'
# New enough for every profile of every simulated model (GB300 needs R595, mig.md 5.1).
DRIVER = '595.58.03'
PENDING = {
    'item9': 'issue 18 item 9: mig_layout resolves profile names of another board by slice class (with a warning) instead of '
             'refusing the label before any change',
    'item10': 'issue 18 item 10: mig_layout accepts a label that selects none of the node\'s GPUs as a no-op instead of refusing it',
}


# The count lines of the suites that ran, printed at the end of the pytest output (tests/nvidia/tests/conftest.py).
SUMMARY = []


class CrossCheckError(Exception):
    """The cross-check itself could not run a step (not a verdict about either side)."""


# -- inputs -----------------------------------------------------------------------------------------------------------

def operator_config(nvidia_src):
    """(text, parsed config) of the config in the GPU Operator's default ConfigMap (its ``data``)."""
    path = os.path.join(nvidia_src, CONFIGMAP)
    with open(path) as handle:
        configmap = yaml.safe_load(handle)
    text = configmap['data']['config.yaml']
    return text, yaml.safe_load(text)


def simnode(sim_build, *args):
    proc = subprocess.run([os.path.join(sim_build, 'bin', 'simnode')] + [str(a) for a in args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise CrossCheckError('simnode %s failed: %s' % (' '.join(str(a) for a in args), proc.stdout + proc.stderr))
    return proc.stdout


def mig_models(sim_build):
    """The simulator's MIG-capable catalog model keys (``simnode models``), in its order.

    Boards the catalog does not know (model files with an ``uncatalogued`` line, such as the RTX PRO 5000 72GB) have no
    profiles: every label is refused on them, which the collection's own tests check; they are left out of the cross-check.
    """
    keys = []
    for line in simnode(sim_build, 'models').splitlines():
        words = line.split()
        if words and words[-1] == 'MIG' and words[-2:] != ['no', 'MIG'] and not _uncatalogued(words[0]):
            keys.append(words[0])
    return keys


def _uncatalogued(model):
    with open(os.path.join(os.path.dirname(HERE), 'simulator', 'models', model + '.model')) as handle:
        return any(line.split('#', 1)[0].split() == ['uncatalogued'] for line in handle)


_MODEL_FILES = {}


def model_file(model):
    """(PCI device id, set of GPU-instance profile names) of a GPU model as the fake NVML presents it: what mig-parted
    will see (the model text tests/simulator/gen_models.py builds into the library, not the collection's lookups)."""
    if model not in _MODEL_FILES:
        simulator = os.path.join(os.path.dirname(HERE), 'simulator')
        text = subprocess.run([sys.executable, os.path.join(simulator, 'gen_models.py'), '--text',
                               os.path.join(simulator, 'models', model + '.model')],
                              capture_output=True, text=True, check=True).stdout
        device, names = None, set()
        for line in text.splitlines():
            words = line.split('#', 1)[0].split()
            if len(words) >= 2 and words[0] == 'pci_device_id':
                device = int(words[1], 16)
            elif len(words) >= 4 and words[0] == 'profile':
                names.add(words[3])
        _MODEL_FILES[model] = (device, names)
    return _MODEL_FILES[model]


def _filters(entry):
    found = entry.get('device-filter')
    if found is None:
        return None
    return [found] if isinstance(found, str) else list(found)


def label_kind(config, label, model_info):
    """How a label meets a model, from the label and the simulator's model file alone (never from the collection's catalog).

    ``fits``: the entry that selects the model (the last one, as in mig-parted) names only profiles the model has, or
    disables MIG; ``other-names``: it names a profile the model does not have; ``selects-none``: no entry selects it.
    Used only to choose the subset that ``make nvidia-tests`` runs; every verdict comes from running both sides.
    """
    device, names = model_info
    chosen = None
    for entry in config['mig-configs'][label]:
        filters = _filters(entry)
        if filters is None or any(int(f.split(':')[0], 16) >> 16 == device for f in filters):
            chosen = entry
    if chosen is None:
        return 'selects-none'
    if not chosen.get('mig-enabled'):
        return 'fits'
    return 'fits' if all(name in names for name in (chosen.get('mig-devices') or {})) else 'other-names'


_NAME_RE = re.compile(r'^(\d+)g\.(\d+)gb(.*)$')


def _is_drift(names, model_names):
    """Every name has a profile of the model with the same slices and attributes whose GB figure is within 2 GB."""
    figures = {}
    for name in model_names:
        match = _NAME_RE.match(name)
        if match:
            figures.setdefault((match.group(1), match.group(3)), []).append(int(match.group(2)))
    for name in names:
        match = _NAME_RE.match(name)
        if not match or not any(abs(int(match.group(2)) - gb) <= 2 for gb in figures.get((match.group(1), match.group(3)), ())):
            return False
    return bool(names)


def subset(config, models):
    """``{model: [labels]}``: every label on at least one model, every model with labels that fit and with refusals.

    Each label goes to a model it fits (the one with the fewest labels so far), or, fitting none, to the model with the
    fewest labels; a model left without a label that fits gets one (all-enabled or all-disabled). Then every model gets,
    unless it has one already, a label of another board's names whose GB figures
    are within 2 GB of its own (a drifted name, issue 18 item 9; else any label of another board's names), and every
    other model a label that selects none of its GPUs (item 10).
    """
    infos = dict((model, model_file(model)) for model in models)
    labels = list(config['mig-configs'])
    kinds = dict(((label, model), label_kind(config, label, infos[model])) for label in labels for model in models)
    chosen = dict((model, set()) for model in models)

    def lightest(candidates):
        return min(candidates, key=lambda model: (len(chosen[model]), models.index(model)))
    for label in labels:
        fits = [model for model in models if kinds[label, model] == 'fits']
        chosen[lightest(fits or models)].add(label)
    # A model no board-specific label fits (the RTX PRO 4500: no label of the config names its profiles) still gets a
    # label that fits it, one that enables or disables MIG on every GPU.
    for position, model in enumerate(models):
        fits = [label for label in labels if kinds[label, model] == 'fits']
        if fits and not chosen[model] & set(fits):
            chosen[model].add(fits[position % len(fits)])
    for position, model in enumerate(models):
        others = [label for label in labels if kinds[label, model] == 'other-names']
        drifts = [label for label in others if _is_drift(profile_names(config, label), infos[model][1])]
        nones = [label for label in labels if kinds[label, model] == 'selects-none']
        for candidates in (drifts or others, nones if position % 2 == 0 else ()):
            if candidates and not chosen[model] & set(candidates):
                chosen[model].add(candidates[(position * 7) % len(candidates)])
    return dict((model, [label for label in labels if label in chosen[model]]) for model in models)


def drifted(config, label, model):
    """Whether every profile name of the label is within 2 GB of a name of the model's with the same slices (a drift)."""
    return _is_drift(profile_names(config, label), model_file(model)[1])


def profile_names(config, label):
    """Every profile name the label's entries use."""
    names = set()
    for entry in config['mig-configs'][label]:
        names.update(entry.get('mig-devices') or {})
    return names


# -- running things on a node ---------------------------------------------------------------------------------------

def node_env(state, sim_build):
    """The environment of a program on the node: the fake NVML of ``state``, root, the fake nvidia-smi on PATH."""
    env = dict(os.environ)
    env.update({'FAKE_NVML_STATE': os.path.abspath(state), 'FAKE_NVML_EUID': '0', 'LD_LIBRARY_PATH': os.path.join(sim_build, 'lib'),
                'PATH': os.path.join(sim_build, 'bin') + os.pathsep + env.get('PATH', '/usr/bin:/bin')})
    return env


def run_module(name, args, state, sim_build, workdir, check=False, timeout=300):
    """Run a collection module as Ansible runs it on a node (``python -m <module> ARGS.json``); its result dict.

    The result carries ``_rc`` (the exit status) and ``_wall_s``. A module that prints no JSON is a CrossCheckError
    (Ansible would show MODULE FAILURE).
    """
    args = dict(args)
    if check:
        args['_ansible_check_mode'] = True
    path = os.path.join(workdir, 'args-%s.json' % name)
    with open(path, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, '-m', MODULES + name, path], capture_output=True, text=True, check=False,
                          env=node_env(state, sim_build), timeout=timeout)
    wall = time.monotonic() - started
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise CrossCheckError('%s printed no JSON result (rc %d): %s' % (name, proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
    result['_rc'] = proc.returncode
    result['_wall_s'] = wall
    return result


class CallLog(object):
    """The fake NVML's call log of one node (``STATE.calls``: TIMESTAMP PID FUNCTION GPU|- RC mut|ro), read in pieces."""

    def __init__(self, state):
        self.path = state + '.calls'
        self.offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def take(self):
        """The calls since the last take: [(function, gpu or None, rc, mutating)]."""
        if not os.path.exists(self.path):
            return []
        with open(self.path) as handle:
            handle.seek(self.offset)
            text = handle.read()
        # Only whole lines; a line being written stays for the next take.
        whole = text[:text.rfind('\n') + 1]
        self.offset += len(whole.encode())
        calls = []
        for line in whole.splitlines():
            words = line.split()
            if len(words) == 6:
                calls.append((words[2], None if words[3] == '-' else int(words[3]), int(words[4]), words[5] == 'mut'))
        return calls


def mutations(calls):
    return sum(1 for call in calls if call[3])


def destroyed_gpu_instances(calls):
    return sum(1 for function, gpu, rc, mut in calls if function == 'nvmlGpuInstanceDestroy' and rc == 0)


def created_gpu_instances(calls):
    return sum(1 for function, gpu, rc, mut in calls if function.startswith('nvmlDeviceCreateGpuInstance') and rc == 0)


def snapshot(state, sim_build):
    """Per GPU: MIG mode (current, pending) and the sorted GPU instances (profile, start, compute instances)."""
    node = json.loads(simnode(sim_build, 'show', state, '--json'))
    return dict((gpu['index'], (gpu['mig_mode_current'], gpu['mig_mode_pending'],
                                tuple(sorted((gi['profile'], gi['start'], tuple(sorted((ci['profile'], ci['start'])
                                                                                       for ci in gi['compute_instances'])))
                                             for gi in gpu['gpu_instances']))))
                for gpu in node['gpus'])


def describe_snapshot(snap):
    parts = []
    for index in sorted(snap):
        current, dummy, instances = snap[index]
        if not current:
            parts.append('GPU %d MIG off' % index)
        elif not instances:
            parts.append('GPU %d empty' % index)
        else:
            counts = {}
            for gi in instances:
                counts[gi[0]] = counts.get(gi[0], 0) + 1
            parts.append('GPU %d %s' % (index, ' '.join('%dx%s' % (n, p) for p, n in sorted(counts.items()))))
    return ', '.join(parts)


class MigParted(object):
    """NVIDIA's nvidia-mig-parted on one simulated node, through the node harness, several commands per harness run."""

    def __init__(self, tools, state, sim_build, workdir, config_path):
        self.binary = os.path.join(tools, 'nvidia-mig-parted')
        self.state = state
        self.sim_build = sim_build
        self.node = Node(state, sim_build)
        self.workdir = workdir
        self.config_path = config_path

    def argv(self, command, label=None):
        if command == 'export':
            return [self.binary, 'export']
        return [self.binary, command, '-f', self.config_path, '-c', label]

    def run(self, commands, timeout=300):
        """Run ``[(name, argv)]`` one after another on the node; ``{name: {'rc', 'out', 'err', 'wall_s'}}``."""
        out = os.path.join(self.workdir, 'migparted-out')
        os.makedirs(out, exist_ok=True)
        lines = ['#!/bin/sh', 'out=$1']
        for name, argv in commands:
            # The tool's own wall time, without the harness around it (date +%s%N: nanoseconds).
            lines.append('s=$(date +%%s%%N); %s >"$out/%s.out" 2>"$out/%s.err"; echo $? >"$out/%s.rc"; e=$(date +%%s%%N); '
                         'echo $((e - s)) >"$out/%s.ns"' % (' '.join(shlex.quote(a) for a in argv), name, name, name, name))
        script = os.path.join(self.workdir, 'migparted.sh')
        with open(script, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        env = dict(os.environ, FAKE_NVML_EUID='0')
        proc = self.node.run(['/bin/sh', script, out], timeout=timeout, env=env)
        if proc.returncode != 0:
            raise CrossCheckError('the node harness failed (rc %d): %s' % (proc.returncode, proc.stderr[-2000:]))
        results = {}
        for name, dummy in commands:
            def read(suffix, name=name):
                with open(os.path.join(out, '%s.%s' % (name, suffix))) as handle:
                    return handle.read()
            results[name] = {'rc': int(read('rc')), 'out': read('out'), 'err': read('err'), 'wall_s': int(read('ns')) / 1e9}
        return results

    def close(self):
        self.node.close()


def last_error(text):
    """The last line of mig-parted's stderr that says something (not go-nvlib's IOMMU warnings)."""
    lines = [line for line in text.splitlines() if line.strip() and 'IOMMU FD' not in line]
    return lines[-1][-300:] if lines else ''


# -- exports ----------------------------------------------------------------------------------------------------------

def per_device(config, gpus):
    """``{index: {'mig-enabled', 'mig-devices'}}`` of a one-label mig-parted config for the node's GPUs (gpu_info dicts).

    ``devices: all`` means every GPU the entry's device-filter matches; zero counts are dropped. A GPU covered by two
    entries or by none is reported in the second value.
    """
    problems = []
    configs = (config or {}).get('mig-configs') or {}
    if len(configs) != 1:
        return {}, ['the export has %d labels, not 1' % len(configs)]
    entries = list(configs.values())[0] or []
    layouts = {}
    for entry in entries:
        filters = _filters(entry)
        for gpu in gpus:
            if filters is not None and int(gpu['pci_device_id'], 16) not in [int(f.split(':')[0], 16) for f in filters]:
                continue
            devices = entry.get('devices')
            if devices != 'all' and gpu['index'] not in (devices or []):
                continue
            if gpu['index'] in layouts:
                problems.append('GPU %d is in two entries' % gpu['index'])
            layouts[gpu['index']] = {'mig-enabled': bool(entry.get('mig-enabled')),
                                     'mig-devices': dict((k, v) for k, v in sorted((entry.get('mig-devices') or {}).items()) if v)}
    for gpu in gpus:
        if gpu['index'] not in layouts:
            problems.append('GPU %d is in no entry' % gpu['index'])
    return layouts, problems


def compare_exports(migparted_text, info):
    """Problems (empty when equal) between ``nvidia-mig-parted export`` and gpu_info's ``mig_config``, per GPU."""
    gpus = info['node']['gpus']
    try:
        theirs, problems = per_device(yaml.safe_load(migparted_text), gpus)
    except yaml.YAMLError as exc:
        return ['mig-parted export is not YAML: %s' % exc]
    ours, our_problems = per_device(info['mig_config'], [g for g in gpus if g['mig_capable']])
    problems = ['mig-parted export: ' + p for p in problems] + ['gpu_info export: ' + p for p in our_problems]
    for index in sorted(set(theirs) | set(ours)):
        if theirs.get(index) != ours.get(index):
            problems.append('GPU %d: mig-parted export %s, gpu_info %s' % (index, theirs.get(index), ours.get(index)))
    return problems


# -- the two sides ----------------------------------------------------------------------------------------------------

class Side(object):
    """One simulated node of a chain: its state, call log, harness and working directory."""

    def __init__(self, name, model, gpus, workdir, sim_build, tools, config_path):
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir, exist_ok=True)
        self.state = os.path.join(self.workdir, 'node.state')
        self.sim_build = sim_build
        simnode(sim_build, 'create', self.state, '--name', name, '--gpu', '%s:%d' % (model, gpus), '--driver', DRIVER,
                '--mig-enabled', 'all', '--force')
        self.log = CallLog(self.state)
        self.migparted = MigParted(tools, self.state, sim_build, self.workdir, config_path)
        self.checkpoint = os.path.join(self.workdir, 'checkpoint.json')
        self.restore_status = os.path.join(self.workdir, 'restore.json')
        self.last = None   # the snapshot taken after the last step

    def module(self, name, args, check=False):
        return run_module(name, args, self.state, self.sim_build, self.workdir, check=check)

    def gpu_info(self):
        info = self.module('gpu_info', {'set_facts': False, 'restore_status': self.restore_status})
        if info['_rc'] != 0:
            raise CrossCheckError('gpu_info failed: %s' % info.get('msg'))
        return info

    def snapshot(self):
        return snapshot(self.state, self.sim_build)

    def close(self):
        self.migparted.close()


def describe_info(info):
    """The node's layout as gpu_info read it, in the words of :func:`describe_snapshot`."""
    return describe_snapshot(dict((gpu['index'], (gpu['mig_mode']['current'], None, tuple((gi['profile'],) for gi in gpu['gpu_instances'])))
                                  for gpu in info['node']['gpus']))


def ours_step(side, config, label):
    """mig_layout (with mig_mode where the mode changes, in the rollout's order) applies ``label``; then mig-parted judges.

    As the rollout does, a node with a GPU whose MIG mode is off is planned first (mig_layout in check mode) to learn
    which GPUs mig_mode must enable; otherwise mig_layout runs at once. A label mig_layout refuses must be refused by
    the real run, before any mutating NVML call.
    """
    base = {'config': config, 'label': label, 'checkpoint': side.checkpoint}
    before = side.snapshot()
    side.log.take()
    record = {'outcome': 'applied', 'errors': [], 'refused_again': True, 'plan_msg': None}
    enable = []
    if any(not current for current, dummy, instances in before.values()):
        plan = side.module('mig_layout', base, check=True)
        if plan.get('failed'):
            record['plan_msg'] = plan.get('msg')
        else:
            modes = dict((g['index'], g['mig_mode']['current']) for g in plan['node']['gpus'])
            enable = [g['index'] for g in plan['gpus'] if g['mig_enabled'] and not modes.get(g['index'])]
    if enable:
        result = side.module('mig_mode', {'mig_enabled': True, 'gpus': enable})
        if result.get('failed') or result.get('reboot_required'):
            record['errors'].append('mig_mode failed to enable MIG on GPUs %s: %s' % (enable, result.get('msg') or 'a reboot is required'))
    applied = side.module('mig_layout', base)
    if applied.get('failed') and 'gpus' not in applied:
        # Refused (the layout or the plan is invalid): nothing may have changed.
        calls = side.log.take()
        record.update({'outcome': 'refused', 'msg': applied.get('msg'), 'mutations': mutations(calls), 'unchanged': side.snapshot() == before})
        return record
    if record['plan_msg'] is not None:
        record['refused_again'] = False
    if applied.get('failed'):
        record['errors'].append('mig_layout failed: %s' % applied.get('msg'))
    record['selected'] = [g['index'] for g in applied.get('gpus') or ()]
    record['warnings'] = [w for g in applied.get('gpus') or () for w in g['warnings']]
    disable = [g['index'] for g in applied.get('gpus') or () if not g['mig_enabled'] and before[g['index']][0]]
    if disable and not applied.get('failed'):
        result = side.module('mig_mode', {'mig_enabled': False, 'gpus': disable})
        if result.get('failed') or result.get('reboot_required'):
            record['errors'].append('mig_mode failed to disable MIG on GPUs %s: %s' % (disable, result.get('msg') or 'a reboot is required'))
    side.log.take()
    record['info'] = side.gpu_info()
    judged = side.migparted.run([('assert', side.migparted.argv('assert', label)), ('export', side.migparted.argv('export'))])
    record['assert_rc'] = judged['assert']['rc']
    record['assert_err'] = last_error(judged['assert']['err'])
    record['export_problems'] = compare_exports(judged['export']['out'], record['info']) if judged['export']['rc'] == 0 \
        else ['mig-parted export failed: %s' % last_error(judged['export']['err'])]
    record['layout'] = describe_info(record['info'])
    reads = side.log.take()
    if mutations(reads):
        record['errors'].append('gpu_info, assert or export made %d mutating NVML calls' % mutations(reads))
    return record


def theirs_step(side, config, label):
    """mig-parted applies ``label``; where its assert then passes, gpu_info and mig_layout in check mode read the result back."""
    before = side.last if side.last is not None else side.snapshot()
    side.log.take()
    ran = side.migparted.run([('apply', side.migparted.argv('apply', label)), ('assert', side.migparted.argv('assert', label)),
                              ('export', side.migparted.argv('export'))])
    calls = side.log.take()
    after = side.last = side.snapshot()
    record = {
        'apply_rc': ran['apply']['rc'], 'apply_err': last_error(ran['apply']['err']), 'assert_rc': ran['assert']['rc'],
        'before': before, 'after': after, 'layout': describe_snapshot(after),
        'apply_mutations': mutations(calls), 'apply_destroyed': destroyed_gpu_instances(calls), 'apply_created': created_gpu_instances(calls),
        'export_problems': [], 'check_failed': None, 'check_msg': None, 'check_changed': [], 'read_mutations': 0,
    }
    record['applied'] = record['apply_rc'] == 0 and record['assert_rc'] == 0
    if not record['applied']:
        # Nothing of mig-parted's to read back (5b): the pair is judged by what we did with the label.
        return record
    info = side.gpu_info()
    check = side.module('mig_layout', {'config': config, 'label': label, 'write_checkpoint': False}, check=True)
    reads = side.log.take()
    record.update({
        'export_problems': compare_exports(ran['export']['out'], info) if ran['export']['rc'] == 0
        else ['mig-parted export failed: %s' % last_error(ran['export']['err'])],
        'check_failed': bool(check.get('failed')), 'check_msg': check.get('msg'),
        'check_changed': sorted(g['index'] for g in check.get('gpus') or () if g['changed']), 'read_mutations': mutations(reads),
    })
    return record


def migparted_behaviour(theirs):
    """What mig-parted did with a label, in words (the side-by-side column of a label we refuse)."""
    what = 'apply failed (%s)' % theirs['apply_err'] if theirs['apply_rc'] != 0 else 'apply reported success'
    empty = all(current and not instances for current, dummy, instances in theirs['after'].values())
    if not theirs['apply_mutations']:
        what += ' without any NVML change'
    elif empty and not theirs['apply_created']:
        what += ' after destroying every GPU instance and creating none (GPUs left empty)'
    else:
        what += ' after destroying %d and creating %d GPU instances (left %s)' % (
            theirs['apply_destroyed'], theirs['apply_created'], theirs['layout'])
    if theirs['apply_rc'] == 0:
        what += '; its assert fails' if theirs['assert_rc'] != 0 else '; its assert passes'
    return what


def verdict(ours, theirs):
    """(kind, detail, problems of 5(a), problems of 5(b)) of one pair.

    kind: ``applied`` (our result passes mig-parted's assert and export; mig-parted's result reads back converged),
    ``refused`` (we refused before any change, mig-parted did not apply the label either; detail: what it did),
    ``item9`` / ``item10`` (pending on issue 18, see PENDING), or ``disagreement`` (detail: every problem).
    """
    a, b = [], []
    if theirs['applied']:
        b += ['after mig-parted apply: ' + p for p in theirs['export_problems']]
        if theirs['check_failed']:
            b.append('mig_layout check mode fails on mig-parted\'s result: %s' % theirs['check_msg'])
        elif theirs['check_changed']:
            b.append('mig_layout check mode would change GPUs %s of mig-parted\'s result (%s)' % (theirs['check_changed'], theirs['layout']))
    if theirs['read_mutations']:
        b.append('gpu_info or mig_layout check mode made %d mutating NVML calls' % theirs['read_mutations'])
    kind, detail = 'applied', ours.get('layout')
    if ours['outcome'] == 'refused':
        kind, detail = 'refused', migparted_behaviour(theirs)
        if ours['mutations'] or not ours['unchanged']:
            a.append('mig_layout refused (%s) after changing the node (%d mutating NVML calls)' % (ours['msg'], ours['mutations']))
        if theirs['applied']:
            a.append('mig_layout refused (%s) a label that mig-parted applies and asserts' % ours['msg'])
    elif ours['errors'] or not ours['refused_again']:
        a += ours['errors']
        if not ours['refused_again']:
            a.append('mig_layout refused in check mode (%s) but not in the real run' % ours['plan_msg'])
    elif not ours['selected']:
        kind, detail = 'item10', migparted_behaviour(theirs)
        if theirs['apply_mutations'] or theirs['applied']:
            a.append('mig_layout selected no GPU, mig-parted: %s' % detail)
    elif ours['warnings']:
        kind, detail = 'item9', migparted_behaviour(theirs)
        if theirs['applied']:
            a.append('mig_layout resolved names by slice class (%s) but mig-parted applied the label as written' % ours['warnings'][0])
    else:
        if ours['assert_rc'] != 0:
            a.append('nvidia-mig-parted assert fails after mig_layout (%s; node: %s)' % (ours['assert_err'], ours['layout']))
        a += ['after mig_layout: ' + p for p in ours['export_problems']]
        if not theirs['applied']:
            a.append('mig_layout applied the label (%s) but mig-parted did not: %s' % (ours['layout'], migparted_behaviour(theirs)))
    if a or b:
        return 'disagreement', '; '.join(a + b), a, b
    return kind, detail, a, b


def run_chain(model, labels, config, config_path, workdir, sim_build, tools, gpus=2):
    """Both sides of one model through ``labels``; [{'model', 'label', 'kind', 'detail', 'ours', 'theirs'}]."""
    ours = Side('ours', model, gpus, os.path.join(workdir, model), sim_build, tools, config_path)
    theirs = Side('theirs', model, gpus, os.path.join(workdir, model), sim_build, tools, config_path)
    results = []
    try:
        for label in labels:
            our_record = ours_step(ours, config, label)
            their_record = theirs_step(theirs, config, label)
            kind, detail, problems_a, problems_b = verdict(our_record, their_record)
            results.append({'model': model, 'label': label, 'kind': kind, 'detail': detail, 'problems_a': problems_a,
                            'problems_b': problems_b, 'ours': our_record, 'theirs': their_record})
    finally:
        ours.close()
        theirs.close()
    return results


def summary(title, results, labels, models):
    """The count line of a suite, and the lines of every pair that is not applied-and-asserted, grouped."""
    counts = {}
    for result in results:
        counts[result['kind']] = counts.get(result['kind'], 0) + 1
    refused = {}
    for result in results:
        if result['kind'] == 'refused':
            refused[result['detail']] = refused.get(result['detail'], 0) + 1
    head = ('%s: %d labels x %d models, %d pairs: %d applied and asserted (export equal both ways, mig-parted\'s result read back '
            'converged), %d refused by us before any change (mig-parted: %s), pending issue 18 item 9: %d, item 10: %d, disagreements %d'
            % (title, len(labels), len(models), len(results), counts.get('applied', 0), counts.get('refused', 0),
               '; '.join('%d x %s' % (n, what) for what, n in sorted(refused.items(), key=lambda item: -item[1])) or 'none',
               counts.get('item9', 0), counts.get('item10', 0), counts.get('disagreement', 0)))
    lines = [head]
    for kind, title_line in (('disagreement', 'DISAGREEMENT'), ('item9', 'pending issue 18 item 9'), ('item10', 'pending issue 18 item 10')):
        for result in results:
            if result['kind'] == kind:
                lines.append('  %s: %s on %s: %s' % (title_line, result['label'], result['model'], result['detail']))
    return lines
