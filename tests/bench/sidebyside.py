# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""make bench part 7: mig_layout side by side with NVIDIA's nvidia-mig-parted, on the same simulated nodes and transitions.

For each model of :data:`CHAINS`, a chain of the GPU Operator's default labels. For each transition (from, to), the
node is put into ``from`` by mig-parted (the state a node that mig-parted manages is in), that state file is kept, and
then, interleaved, each tool applies ``to`` starting from that same file: ``nvidia-mig-parted apply -f CONFIG -c to`` and
the ``mig_layout`` module (``python -m``, as Ansible runs it, with the same config and label), both inside the node
harness and timed there. Counted from the fake NVML's call log: mutating calls (``mut``), GPU instances destroyed. Also
whether an instance could have stayed (``planning._minimal_change_exists``: the target still fits with one current
instance pinned where it is) and whether both tools end with the same profiles on every GPU. The no-op is the same with
``to`` equal to the label already applied.
"""

from __future__ import annotations

import json
import os
import sys
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'nvidia'))

# pylint: disable=wrong-import-position
import migparted as mp  # noqa: E402  (tests/nvidia/migparted.py)
import planning  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import parse_mig_parted_config  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml  # noqa: E402

CHAINS = {
    'A100-SXM4-40GB': ['all-1g.5gb', 'all-balanced', 'all-3g.20gb', 'all-2g.10gb', 'all-balanced', 'all-7g.40gb', 'all-1g.5gb'],
    'H100-SXM5-80GB': ['all-1g.10gb', 'all-balanced', 'all-3g.40gb', 'all-2g.20gb', 'all-balanced', 'all-7g.80gb', 'all-1g.10gb'],
}
GPUS = 2
TOOLS = ('mig_layout', 'mig-parted')


def unavailable():
    """Why the side-by-side cannot run here, or None."""
    tools = os.environ.get('NVIDIA_TOOLS', '')
    binary = os.path.join(tools, 'nvidia-mig-parted')
    if not os.access(binary, os.X_OK):
        return ("NVIDIA's mig-parted is not built (%s missing): ../shared/nvidia with NVIDIA's sources is not beside this checkout, "
                'or make nvidia-tools (run by make nvidia-tests) has not built it yet' % (binary if tools else 'NVIDIA_TOOLS/nvidia-mig-parted'))
    if os.geteuid() != 0:
        return 'the node harness needs root for unshare --mount (private mount namespaces)'
    if not os.path.exists(os.path.join(os.environ.get('NVIDIA_SRC', ''), mp.CONFIGMAP)):
        return 'the GPU Operator\'s default mig-parted config (%s) is not in NVIDIA_SRC' % mp.CONFIGMAP
    return None


def _median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2] if values else None


def _profiles(snap):
    return dict((index, (current, sorted(gi[0] for gi in instances))) for index, (current, dummy, instances) in snap.items())


class Bench(object):
    """One model's node and its two tools."""

    def __init__(self, model, directory, config, config_path, sim_build, tools):
        self.model = model
        self.directory = directory
        self.config = config
        self.sim_build = sim_build
        self.side = mp.Side('sbs', model, GPUS, directory, sim_build, tools, config_path)
        with open(self.side.state, 'rb') as handle:
            self.fresh = handle.read()
        self.args = os.path.join(self.side.workdir, 'mig_layout-args.json')

    def restore(self, data):
        with open(self.side.state, 'wb') as handle:
            handle.write(data)
        self.side.log.take()

    def state(self):
        with open(self.side.state, 'rb') as handle:
            return handle.read()

    def prepared(self, label):
        """The state file after mig-parted applied ``label`` to a fresh node."""
        self.restore(self.fresh)
        ran = self.side.migparted.run([('apply', self.side.migparted.argv('apply', label))])
        if ran['apply']['rc'] != 0:
            raise RuntimeError('mig-parted could not apply %s on %s: %s' % (label, self.model, mp.last_error(ran['apply']['err'])))
        return self.state()

    def run(self, tool, label):
        """One tool applies ``label`` from the current state; its costs and the node's profiles after."""
        if tool == 'mig-parted':
            argv = self.side.migparted.argv('apply', label)
        else:
            with open(self.args, 'w') as handle:
                handle.write(json.dumps({'ANSIBLE_MODULE_ARGS': {'config': self.config, 'label': label, 'checkpoint': self.side.checkpoint}}))
            argv = [sys.executable, '-m', mp.MODULES + 'mig_layout', self.args]
        ran = self.side.migparted.run([('tool', argv)])['tool']
        calls = self.side.log.take()
        failed = ran['rc'] != 0
        if tool == 'mig_layout' and not failed:
            failed = bool(json.loads(ran['out']).get('failed'))
        return {'rc': ran['rc'], 'failed': failed, 'error': mp.last_error(ran['err'] or ran['out']) if failed else None,
                'wall_s': ran['wall_s'], 'calls': len(calls), 'mutations': mp.mutations(calls),
                'mutations_failed': sum(1 for call in calls if call[3] and call[2] != 0),
                'destroyed': mp.destroyed_gpu_instances(calls), 'created': mp.created_gpu_instances(calls),
                'profiles': _profiles(mp.snapshot(self.side.state, self.sim_build))}

    def can_stay(self, label):
        """GPU indices of the current state where an instance of the current layout can stay under ``label``."""
        # The fake NVML reads its node from the environment at init; patch.dict puts it back afterwards.
        with mock.patch.dict(os.environ, {'FAKE_NVML_STATE': self.side.state, 'FAKE_NVML_EUID': '0'}), Nvml() as nvml:
            gpus = nvml.read_host().gpus
        targets = targets_for_gpus(parse_mig_parted_config(self.config, label), gpus, planning.DRIVER)
        return [gpu.index for gpu in gpus if gpu.index in targets
                and planning._minimal_change_exists(_catalog.model_by_key(targets[gpu.index].model), gpu, targets[gpu.index].layout)]

    def measure(self, start, label, runs, warm=False):
        """Interleaved runs of both tools from the same state file; {'tools': {tool: [runs]}, 'can_stay': [...]}."""
        self.restore(start)
        stay = self.can_stay(label)
        if warm:
            # The no-op: mig_layout writes its checkpoint on its first run on a node; a converged node already has one.
            self.restore(start)
            self.run('mig_layout', label)
        found = dict((tool, []) for tool in TOOLS)
        for number in range(runs):
            for tool in (TOOLS if number % 2 == 0 else TOOLS[::-1]):
                self.restore(start)
                found[tool].append(self.run(tool, label))
        return {'tools': found, 'can_stay': stay}

    def close(self):
        self.side.close()


def summarise(transition, data):
    ours, theirs = data['tools']['mig_layout'], data['tools']['mig-parted']
    problems = []
    for tool, runs in data['tools'].items():
        for run in runs:
            if run['failed']:
                problems.append('%s failed: %s' % (tool, run['error']))
        for key in ('mutations', 'destroyed', 'created'):
            if len({run[key] for run in runs}) > 1:
                problems.append('%s: %s differs between runs (%s)' % (tool, key, [run[key] for run in runs]))
    same = ours[0]['profiles'] == theirs[0]['profiles']
    if not same:
        problems.append('different results: mig_layout %s, mig-parted %s' % (ours[0]['profiles'], theirs[0]['profiles']))
    return {
        'transition': transition, 'can_stay': data['can_stay'], 'same_result': same, 'problems': problems,
        'mutations': {'mig_layout': ours[0]['mutations'], 'mig-parted': theirs[0]['mutations']},
        'mutations_failed': {'mig_layout': ours[0]['mutations_failed'], 'mig-parted': theirs[0]['mutations_failed']},
        'destroyed': {'mig_layout': ours[0]['destroyed'], 'mig-parted': theirs[0]['destroyed']},
        'created': {'mig_layout': ours[0]['created'], 'mig-parted': theirs[0]['created']},
        'calls': {'mig_layout': ours[0]['calls'], 'mig-parted': theirs[0]['calls']},
        'wall_s': {'mig_layout': _median([r['wall_s'] for r in ours]), 'mig-parted': _median([r['wall_s'] for r in theirs])},
        'walls_s': {'mig_layout': [r['wall_s'] for r in ours], 'mig-parted': [r['wall_s'] for r in theirs]},
    }


def run(directory, runs, say):
    """Every chain of CHAINS: {'models': {model: {'transitions': [...], 'noop': {...}}}, 'gpus', 'runs'}."""
    text, config = mp.operator_config(os.environ['NVIDIA_SRC'])
    os.makedirs(directory, exist_ok=True)
    config_path = os.path.join(directory, 'config.yaml')
    with open(config_path, 'w') as handle:
        handle.write(text)
    results = {'gpus': GPUS, 'runs': runs, 'models': {}}
    for model, chain in CHAINS.items():
        bench = Bench(model, os.path.join(directory, model), config, config_path, os.environ['SIM_BUILD'], os.environ['NVIDIA_TOOLS'])
        try:
            transitions = []
            for frm, to in zip(chain, chain[1:]):
                say('mig-parted side by side: %s, %s -> %s (%d interleaved runs of each tool)' % (model, frm, to, runs))
                transitions.append(summarise('%s -> %s' % (frm, to), bench.measure(bench.prepared(frm), to, runs)))
            say('mig-parted side by side: %s, no-op (%s again)' % (model, chain[0]))
            noop = summarise('%s -> %s' % (chain[0], chain[0]), bench.measure(bench.prepared(chain[0]), chain[0], runs, warm=True))
        finally:
            bench.close()
        results['models'][model] = {'chain': chain, 'transitions': transitions, 'noop': noop}
    return results
