# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The boot-time restore through the real pynvml against the simulator, and its systemd unit.

A layout is applied with the planner and executor the modules use, checkpointed with
mig_layout's own writer, the node is rebooted with ``simnode reboot``, and the restore runs as
systemd runs it (``python -m ...`` in a child process) or in-process.  The layout must come back
with the same placements and compute instances; what does not come back must fail clearly.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time

import jinja2
import pytest
import yaml

from ansible_collections.gpufleet.mig.plugins.module_utils import _checkpoint, _restore
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import apply_with_rollback, canonical_gpu
from ansible_collections.gpufleet.mig.plugins.module_utils._catalog import model_by_key
from ansible_collections.gpufleet.mig.plugins.module_utils._checkpoint import write_checkpoint
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import GpuState
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import parse_inline_layout
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import plan_gpu

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
ROLE = os.path.join(COLLECTION, 'roles', 'mig_restore')
MODULE_UTILS = os.path.join(COLLECTION, 'plugins', 'module_utils')
DRIVER = '550.54.15'

# Two GPUs per node: a mixed layout, and one with compute instances split inside a GI (pinned placements).
LAYOUTS = {
    'A100-SXM4-40GB': [
        {'devices': [0], 'mig-enabled': True, 'mig-devices': {'1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1}},
        {'devices': [1], 'mig-enabled': True, 'placements': [
            {'profile': '4g.20gb', 'start': 0, 'compute_instances': ['2c.4g.20gb', '2c.4g.20gb']},
            {'profile': '1g.5gb', 'start': 6}]},
    ],
    'H100-SXM5-80GB': [
        {'devices': [0], 'mig-enabled': True, 'mig-devices': {'1g.10gb': 2, '2g.20gb': 1, '1c.3g.40gb': 3}},
        {'devices': [1], 'mig-enabled': True, 'placements': [
            {'profile': '4g.40gb', 'start': 0, 'compute_instances': ['2c.4g.40gb', '2c.4g.40gb']},
            {'profile': '3g.40gb', 'start': 4}]},
    ],
    'A30': [
        {'devices': [0], 'mig-enabled': True, 'mig-devices': {'2g.12gb': 1, '1c.2g.12gb': 2}},
        {'devices': [1], 'mig-enabled': True, 'mig-devices': {'1g.6gb': 4}},
    ],
}


class Node(object):
    """One simulated node in a temporary directory, and the restore's files beside it."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.state = str(tmp_path / 'node.state')
        self.checkpoint = str(tmp_path / 'checkpoint.json')
        self.status_path = str(tmp_path / 'run' / 'restore.json')

    def sim(self, *args, **kwargs):
        tool = kwargs.get('tool', 'simnode')
        proc = subprocess.run([os.path.join(os.environ['SIM_BUILD'], 'bin', tool)] + [str(a) for a in args],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def create(self, model_key, count=2, name='node1', mig='all', state=None):
        self.sim('create', state or self.state, '--name', name, '--gpu', '%s:%d' % (model_key, count), '--driver', DRIVER,
                 '--mig-enabled', mig, '--force')

    def show(self):
        return json.loads(self.sim('show', self.state, '--json'))

    def layouts(self):
        """Per GPU UUID: MIG mode and instances with placements and compute instances, without ids."""
        return {gpu['uuid']: (gpu['mig_mode_current'], sorted(
            (gi['profile'], gi['start'], gi['size'], sorted((ci['profile'], ci['start'], ci['size']) for ci in gi['compute_instances']))
            for gi in gpu['gpu_instances'])) for gpu in self.show()['gpus']}

    def mutating(self):
        return json.loads(self.sim('calls', self.state, '--json'))['mutating']

    def calls(self):
        """(function, gpu, mut) per logged NVML call."""
        try:
            with open(self.state + '.calls') as handle:
                return [(f[2], f[3], f[5]) for f in (line.split() for line in handle) if len(f) >= 6]
        except IOError:
            return []

    def apply(self, entries, state=None):
        """Apply an inline layout with the modules' planner and executor."""
        os.environ['FAKE_NVML_STATE'] = state or self.state
        try:
            with Nvml() as nvml:
                node = nvml.read_host()
                for index, target in sorted(targets_for_gpus(parse_inline_layout(entries), node.gpus, DRIVER).items()):
                    model = model_by_key(target.model)
                    gpu = canonical_gpu(node.gpus[index], model)
                    plan = plan_gpu(model, gpu, target.layout)
                    apply_with_rollback(nvml, model, gpu, plan.after)
        finally:
            os.environ['FAKE_NVML_STATE'] = self.state

    def write_checkpoint(self, state=None, path=None):
        """Checkpoint with the writer mig_layout uses; return its content."""
        os.environ['FAKE_NVML_STATE'] = state or self.state
        try:
            with Nvml() as nvml:
                write_checkpoint(nvml.read_host(), path or self.checkpoint)
        finally:
            os.environ['FAKE_NVML_STATE'] = self.state
        with open(path or self.checkpoint) as handle:
            return json.load(handle)

    def save(self, data):
        with open(self.checkpoint, 'w') as handle:
            json.dump(data, handle)

    def run(self, *extra, **kwargs):
        """The restore as systemd runs it; return (rc, stdout, status, seconds)."""
        env = dict(os.environ, PYTHONPATH=os.environ.get('PYTHONPATH', ''))
        args = [sys.executable, '-m', _restore.MODULE, '--checkpoint', kwargs.get('checkpoint', self.checkpoint),
                '--status', self.status_path, '--timeout', str(kwargs.get('timeout', 60))] + list(extra)
        began = time.monotonic()
        proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=120)
        took = time.monotonic() - began
        assert 'Traceback' not in proc.stderr, proc.stderr
        return proc.returncode, proc.stdout, self.status(), took

    def status(self):
        with open(self.status_path) as handle:
            return json.load(handle)


@pytest.fixture(name='node')
def node_fixture(tmp_path, monkeypatch):
    if not os.environ.get('SIM_BUILD') or 'LD_LIBRARY_PATH' not in os.environ:
        pytest.fail('SIM_BUILD and LD_LIBRARY_PATH are not set: run the unit tests through `make units`')
    node = Node(tmp_path)
    monkeypatch.setenv('FAKE_NVML_STATE', node.state)
    monkeypatch.delenv('FAKE_NVML_EUID', raising=False)
    return node


def results(status):
    return [(gpu['uuid'], gpu['result']) for gpu in status['gpus']]


def prepared(node, model_key, count=2):
    """A node with LAYOUTS[model_key] applied and checkpointed; return (layouts before reboot, checkpoint)."""
    node.create(model_key, count)
    node.apply(LAYOUTS[model_key])
    return node.layouts(), node.write_checkpoint()


# -- restore after a reboot --------------------------------------------------------------------

@pytest.mark.parametrize('model_key', sorted(LAYOUTS))
def test_reboot_then_restore_gives_the_identical_layout(node, model_key):
    before, checkpoint = prepared(node, model_key)
    assert all(gi['compute_instances'] for gpu in checkpoint['gpus'] for gi in gpu['gpu_instances'])
    node.sim('reboot', node.state)
    rebooted = node.layouts()
    mode_kept = model_by_key(model_key).mode_persistent
    assert [mode for mode, instances in rebooted.values()] == [1 if mode_kept else 0] * 2
    assert [instances for mode, instances in rebooted.values()] == [[], []]
    logged = len(node.calls())

    rc, out, status, dummy = node.run()

    assert rc == 0, out
    assert node.layouts() == before
    assert status['result'] == 'ok'
    assert results(status) == [(gpu['uuid'], 'restored') for gpu in checkpoint['gpus']]
    for gpu in status['gpus']:
        # Hopper lost MIG mode and gets it back; Ampere kept it and no mode change is made.
        assert (gpu['actions'][0] == 'enable MIG mode') is (not mode_kept)
        assert 'GPU %d (%s): restored: ' % (gpu['index'], gpu['uuid']) in out
    if mode_kept:
        assert not [c for c in node.calls()[logged:] if c[0] == 'nvmlDeviceSetMigMode']

    # The second run finds everything in place and changes nothing.
    mutating = node.mutating()
    rc, out, status, dummy = node.run()
    assert rc == 0, out
    assert node.mutating() == mutating
    assert results(status) == [(gpu['uuid'], 'already-matching') for gpu in checkpoint['gpus']]
    assert node.layouts() == before


def test_in_process_restore_and_main(node):
    """restore_gpus in an NVML session, and main() with the same checkpoint (it still uses a worker process)."""
    before, checkpoint = prepared(node, 'A30')
    node.sim('reboot', node.state)
    driver, saved = _checkpoint.load_checkpoint(node.checkpoint)
    events = []
    with Nvml() as nvml:
        found = _restore.restore_gpus(nvml, saved, events.append)
    assert driver == DRIVER
    assert [r['result'] for r in found] == ['restored', 'restored']
    assert [e['event'] for e in events] == ['gpu-start', 'gpu', 'gpu-start', 'gpu']
    assert node.layouts() == before
    assert _restore.main(['--checkpoint', node.checkpoint, '--status', node.status_path, '--timeout', '60']) == 0
    assert results(node.status()) == [(gpu['uuid'], 'already-matching') for gpu in checkpoint['gpus']]


def test_leftover_instances_are_replaced_by_the_checkpointed_layout(node):
    before, checkpoint = prepared(node, 'A100-SXM4-40GB')
    node.apply([{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'7g.40gb': 1}}])
    rc, out, status, dummy = node.run()
    assert rc == 0, out
    assert node.layouts() == before
    assert all(any(a.startswith('destroy GPU instance 7g.40gb') for a in gpu['actions']) for gpu in status['gpus'])
    assert results(status) == [(gpu['uuid'], 'restored') for gpu in checkpoint['gpus']]


# -- after boot: does a failed restore still hold? (gpu_info's boot_restore) -------------------------

def live_gpus(node):
    with Nvml() as nvml:
        return nvml.read_host().gpus


def test_a_failed_restore_holds_until_the_gpus_match_the_checkpoint_again(node):
    before, checkpoint = prepared(node, 'A100-SXM4-40GB')
    node.sim('reboot', node.state)
    node.sim('process', 'add', node.state, '--gpu', 1, '--pid', 4242)
    rc = node.run()[0]
    assert rc == 1

    state = _restore.boot_restore_state(node.status_path, live_gpus(node))
    assert state['result'] == 'failed'
    assert state['outstanding'] is True
    assert [gpu['result'] for gpu in state['gpus']] == ['busy']
    assert len(state['mismatches']) == 1
    assert state['mismatches'][0].startswith('GPU 1 (%s): its 0 GPU instance(s) differ' % checkpoint['gpus'][1]['uuid'])
    assert 'the boot-time restore at %s ended failed: 1 of 2 checkpointed GPU(s)' % node.status()['time'] in state['reason']
    assert 'processes 4242' not in state['reason']   # the status keeps the details; the reason says what is wrong now

    # Only GPU 0 read (gpu_info's gpus option): GPU 1's failure is out of view, so nothing holds for what was read.
    gpu0 = [gpu for gpu in live_gpus(node) if gpu.index == 0]
    assert _restore.boot_restore_state(node.status_path, gpu0, complete=False)['outstanding'] is False
    assert _restore.boot_restore_state(node.status_path, gpu0)['outstanding'] is True

    # The process goes and the layout is applied again, which rewrites the checkpoint: the failure is history.
    node.sim('process', 'remove', node.state, '--pid', 4242)
    node.apply(LAYOUTS['A100-SXM4-40GB'])
    node.write_checkpoint()
    state = _restore.boot_restore_state(node.status_path, live_gpus(node))
    assert (state['result'], state['outstanding'], state['mismatches'], state['reason']) == ('failed', False, [], None)
    assert node.layouts() == before


def test_a_failed_restore_put_right_by_hand_no_longer_holds(node):
    prepared(node, 'H100-SXM5-80GB')
    node.sim('reboot', node.state)
    node.sim('process', 'add', node.state, '--gpu', 0, '--pid', 5151)
    assert node.run()[0] == 1
    node.sim('process', 'remove', node.state, '--pid', 5151)
    assert _restore.boot_restore_state(node.status_path, live_gpus(node))['outstanding'] is True
    # Someone runs the restore again by hand (systemctl restart): it now succeeds and the status says ok.
    assert node.run()[0] == 0
    state = _restore.boot_restore_state(node.status_path, live_gpus(node))
    assert (state['result'], state['outstanding'], state['gpus']) == ('ok', False, [])


def test_checkpoint_mismatches_names_each_difference(node):
    before, checkpoint = prepared(node, 'A30', count=3)
    driver, saved = _checkpoint.load_checkpoint(node.checkpoint)
    assert _checkpoint.checkpoint_mismatches(live_gpus(node), saved) == []
    uuids = [gpu['uuid'] for gpu in checkpoint['gpus']]
    node.sim('reboot', node.state)          # Ampere keeps MIG mode; the instances are gone
    node.apply([{'devices': [2], 'mig-enabled': True, 'mig-devices': {'1g.6gb': 4}}])
    gpus = [gpu for gpu in live_gpus(node) if gpu.index != 1]   # GPU 1 is gone from the node
    problems = _checkpoint.checkpoint_mismatches(gpus, saved)
    assert problems[0] == ("GPU 0 (%s): its 0 GPU instance(s) differ from the checkpoint's 2 GPU instance(s), "
                           "3 compute instance(s) (5 step(s) away)" % uuids[0])
    assert problems[1] == 'GPU %s (index 1 in the checkpoint) is not on the node' % uuids[1]
    assert problems[2].startswith('GPU 2 (%s): its 4 GPU instance(s) differ' % uuids[2])
    assert len(problems) == 3


def test_a_lost_mig_mode_is_a_mismatch(node):
    prepared(node, 'H100-SXM5-80GB')
    driver, saved = _checkpoint.load_checkpoint(node.checkpoint)
    node.sim('reboot', node.state)          # Hopper loses MIG mode
    problems = _checkpoint.checkpoint_mismatches(live_gpus(node), saved)
    assert [p.split(': ', 1)[1] for p in problems] == [
        'MIG mode is disabled, the checkpoint has it enabled with 4 GPU instance(s), 6 compute instance(s)',
        'MIG mode is disabled, the checkpoint has it enabled with 2 GPU instance(s), 3 compute instance(s)']


@pytest.mark.parametrize('content, result', [
    (None, None),
    ('{"half', 'unreadable'),
    ('{"version": "something/else"}', 'unreadable'),
])
def test_no_or_bad_status_file_never_holds(node, content, result):
    node.create('A30')
    if content is not None:
        os.makedirs(os.path.dirname(node.status_path))
        with open(node.status_path, 'w') as handle:
            handle.write(content)
    state = _restore.boot_restore_state(node.status_path, live_gpus(node))
    assert (state['result'], state['outstanding'], state['reason']) == (result, False, None)
    assert (state['message'] is None) == (content is None)


def test_a_failed_restore_whose_checkpoint_is_gone_holds(node):
    prepared(node, 'A30')
    os.unlink(node.checkpoint)
    assert node.run()[0] == 2
    state = _restore.boot_restore_state(node.status_path, live_gpus(node))
    assert state['outstanding'] is True
    assert 'cannot read the checkpoint' in state['mismatches'][0]


# -- what cannot be restored fails clearly, and the other GPUs are restored ---------------------------

def test_replaced_gpu_is_reported_and_the_new_board_left_alone(node):
    before, checkpoint = prepared(node, 'H100-SXM5-80GB')
    other_state = str(node.dir / 'other.state')
    node.create('H100-SXM5-80GB', name='other-node', state=other_state)
    node.apply(LAYOUTS['H100-SXM5-80GB'], state=other_state)
    other = node.write_checkpoint(state=other_state, path=str(node.dir / 'other.json'))
    # GPU 1 of this node was swapped for another board: the checkpoint knows the old board's UUID only.
    checkpoint['gpus'][1] = other['gpus'][1]
    node.save(checkpoint)
    node.sim('reboot', node.state)
    logged = len(node.calls())

    rc, out, status, dummy = node.run()

    gpu0 = checkpoint['gpus'][0]['uuid']
    new_board = [uuid for uuid in node.layouts() if uuid != gpu0][0]
    assert rc == 1
    assert status['result'] == 'failed'
    assert results(status) == [(gpu0, 'restored'), (other['gpus'][1]['uuid'], 'replaced-or-missing'), (new_board, 'not-in-checkpoint')]
    assert 'its PCI slot now holds GPU %s, probably a replacement' % new_board in status['gpus'][1]['message']
    assert node.layouts()[gpu0] == before[gpu0]
    assert node.layouts()[new_board] == (0, [])
    assert not [call for call in node.calls()[logged:] if call[1] == '1' and call[2] == 'mut']


def test_missing_gpu_is_reported(node):
    before, checkpoint = prepared(node, 'A100-SXM4-40GB', count=3)
    node.create('A100-SXM4-40GB', count=2)   # the same node with one GPU gone (same UUIDs for the others)
    rc, out, status, dummy = node.run()
    assert rc == 1, out
    uuids = [gpu['uuid'] for gpu in checkpoint['gpus']]
    assert results(status) == [(uuids[0], 'restored'), (uuids[1], 'restored'), (uuids[2], 'replaced-or-missing')]
    assert 'is not on this node' in status['gpus'][2]['message'] and 'it was removed' in status['gpus'][2]['message']
    assert node.layouts() == dict((uuid, before[uuid]) for uuid in uuids[:2])
    assert 'replaced-or-missing' in out


@pytest.mark.parametrize('model_key', ['A100-SXM4-40GB', 'H100-SXM5-80GB'])
def test_busy_gpu_is_not_touched(node, model_key):
    before, checkpoint = prepared(node, model_key)
    node.sim('reboot', node.state)
    node.sim('process', 'add', node.state, '--gpu', 1, '--pid', 4242)
    logged = len(node.calls())

    rc, out, status, dummy = node.run()

    uuids = [gpu['uuid'] for gpu in checkpoint['gpus']]
    assert rc == 1, out
    assert results(status) == [(uuids[0], 'restored'), (uuids[1], 'busy')]
    assert 'processes 4242 use the GPU' in status['gpus'][1]['message']
    assert status['gpus'][1]['actions'] == []
    assert node.layouts()[uuids[0]] == before[uuids[0]]
    assert not [c for c in node.calls()[logged:] if c[1] == '1' and c[2] == 'mut']


def test_mode_change_that_stays_pending_is_reported(node):
    before, checkpoint = prepared(node, 'A100-SXM4-40GB')
    node.create('A100-SXM4-40GB', mig='none')   # MIG got disabled (same UUIDs); GPU 0 cannot be reset here
    node.sim('gpu', node.state, '--gpu', 0, '--reset-blocked', 'yes')
    rc, out, status, dummy = node.run()
    uuids = [gpu['uuid'] for gpu in checkpoint['gpus']]
    assert rc == 1, out
    assert results(status) == [(uuids[0], 'mode-pending'), (uuids[1], 'restored')]
    assert status['gpus'][0]['actions'] == ['enable MIG mode']
    assert 'pending' in status['gpus'][0]['message'] and 'reboot' in status['gpus'][0]['message']
    assert node.layouts()[uuids[1]] == before[uuids[1]]


def test_mig_enabled_against_the_checkpoint_is_reported_not_toggled(node):
    before, checkpoint = prepared(node, 'A100-SXM4-40GB')
    checkpoint['gpus'][0].update(mig_enabled=False, gpu_instances=[])
    node.save(checkpoint)
    node.sim('reboot', node.state)
    logged = len(node.calls())
    rc, out, status, dummy = node.run()
    assert rc == 1, out
    assert [r for u, r in results(status)] == ['failed', 'restored']
    assert 'checkpoint recorded it disabled' in status['gpus'][0]['message']
    assert not [c for c in node.calls()[logged:] if c[0] == 'nvmlDeviceSetMigMode']
    assert node.layouts()[checkpoint['gpus'][1]['uuid']] == before[checkpoint['gpus'][1]['uuid']]


def test_nvml_failure_on_one_gpu_rolls_it_back_and_the_other_is_restored(node):
    before, checkpoint = prepared(node, 'H100-SXM5-80GB')
    node.sim('reboot', node.state)
    node.sim('fault', 'add', node.state, '--function', 'nvmlDeviceCreateGpuInstanceWithPlacement', '--nth', 2, '--error', 'UNKNOWN',
             '--gpu', 0)
    rc, out, status, dummy = node.run()
    uuids = [gpu['uuid'] for gpu in checkpoint['gpus']]
    assert rc == 1, out
    assert results(status) == [(uuids[0], 'failed'), (uuids[1], 'restored')]
    assert 'nvmlDeviceCreateGpuInstanceWithPlacement' in status['gpus'][0]['message']
    assert 'the previous layout was restored' in status['gpus'][0]['message']
    # MIG mode is back (the checkpoint has it), the partial layout was rolled back to the empty one.
    assert node.layouts()[uuids[0]] == (1, [])
    assert node.layouts()[uuids[1]] == before[uuids[1]]


def test_driver_not_loaded_fails_every_gpu(node):
    dummy, checkpoint = prepared(node, 'A30')
    node.sim('driver', node.state, '--unload')
    rc, out, status, dummy = node.run()
    assert rc == 1
    assert status['result'] == 'failed'
    assert 'driver not loaded' in status['message'].lower()
    assert results(status) == [(gpu['uuid'], 'failed') for gpu in checkpoint['gpus']]
    assert 'driver not loaded' in out.lower()


# -- the checkpoint --------------------------------------------------------------------------

@pytest.mark.parametrize('content, message', [
    (None, 'cannot read the checkpoint'),
    ('{"version": "gpufleet.mig/checkpoint/v1", "gpus": [', 'is not valid JSON'),
    ('{"version": "something/else", "gpus": []}', "is not a gpufleet.mig/checkpoint/v1 checkpoint"),
    ('[]', 'is not a gpufleet.mig/checkpoint/v1 checkpoint'),
    ('{"version": "gpufleet.mig/checkpoint/v1"}', "'gpus' must be list"),
    ('{"version": "gpufleet.mig/checkpoint/v1", "gpus": [{"uuid": "GPU-1", "mig_enabled": "yes", "gpu_instances": []}]}',
     "gpus[0]: 'mig_enabled' must be bool"),
    ('{"version": "gpufleet.mig/checkpoint/v1", "gpus": [{"uuid": "GPU-1", "mig_enabled": true, "gpu_instances": '
     '[{"profile": "1g.5gb", "start": true, "size": 1, "compute_instances": []}]}]}', "gpu_instances[0]: 'start' must be int"),
    ('{"version": "gpufleet.mig/checkpoint/v1", "gpus": [{"uuid": "GPU-1", "mig_enabled": false, "gpu_instances": '
     '[{"profile": "1g.5gb", "start": 0, "size": 1, "compute_instances": []}]}]}', 'has GPU instances but mig_enabled is false'),
    ('{"version": "gpufleet.mig/checkpoint/v1", "gpus": [{"uuid": "GPU-1", "mig_enabled": true, "gpu_instances": []},'
     ' {"uuid": "GPU-1", "mig_enabled": true, "gpu_instances": []}]}', 'GPU GPU-1 appears twice'),
])
def test_missing_or_corrupt_checkpoint_fails_without_touching_nvml(node, content, message):
    node.create('A30')
    if content is not None:
        with open(node.checkpoint, 'w') as handle:
            handle.write(content)
    rc, out, status, dummy = node.run()
    assert rc == 2
    assert status['result'] == 'failed'
    assert message in status['message']
    assert node.checkpoint in status['message']
    assert status['message'] in out
    assert node.calls() == []


def test_checkpoint_layout_that_does_not_fit_the_gpu_fails_that_gpu(node):
    before, checkpoint = prepared(node, 'A100-SXM4-40GB')
    checkpoint['gpus'][0]['gpu_instances'][0]['start'] = 5   # no 1g/2g/3g instance can start at slice 5 of its size
    checkpoint['gpus'][0]['gpu_instances'][0]['size'] = 2
    checkpoint['gpus'][0]['gpu_instances'][0]['profile'] = '2g.10gb'
    node.save(checkpoint)
    node.sim('reboot', node.state)
    rc, out, status, dummy = node.run()
    assert rc == 1, out
    assert [r for u, r in results(status)] == ['failed', 'restored']
    assert 'is not a valid placement on A100-SXM4-40GB' in status['gpus'][0]['message']
    assert node.layouts()[checkpoint['gpus'][1]['uuid']] == before[checkpoint['gpus'][1]['uuid']]


def test_nothing_to_restore_when_no_gpu_has_mig(node):
    node.create('A30', mig='none')
    checkpoint = node.write_checkpoint()
    assert [gpu['mig_enabled'] for gpu in checkpoint['gpus']] == [False, False]
    calls = len(node.calls())
    rc, out, status, dummy = node.run()
    assert rc == 0
    assert status['result'] == 'ok' and status['gpus'] == []
    assert 'nothing to restore' in status['message'] and 'nothing to restore' in out
    assert len(node.calls()) == calls


# -- the time limit ------------------------------------------------------------------------------

def test_a_hanging_nvml_call_is_killed_at_the_timeout(node):
    dummy, checkpoint = prepared(node, 'H100-SXM5-80GB')
    node.sim('reboot', node.state)
    # pynvml's nvmlDeviceGetCount calls the _v2 symbol; it is the restore's first call after init.
    node.sim('fault', 'add', node.state, '--function', 'nvmlDeviceGetCount_v2', '--nth', 1, '--stall-ms', 5000)
    rc, out, status, took = node.run(timeout=1)
    assert rc == 3, out
    assert took < 2.5
    assert status['result'] == 'timeout'
    assert 'timed out after 1 s while initialising NVML and reading the GPUs' in status['message']
    assert results(status) == [(gpu['uuid'], 'failed') for gpu in checkpoint['gpus']]
    assert 'timeout: ' in out


def test_sigterm_from_systemd_kills_the_worker_and_writes_the_status(node):
    prepared(node, 'A30')
    node.sim('reboot', node.state)
    node.sim('fault', 'add', node.state, '--function', 'nvmlDeviceGetCount_v2', '--nth', 1, '--stall-ms', 5000)
    proc = subprocess.Popen([sys.executable, '-m', _restore.MODULE, '--checkpoint', node.checkpoint, '--status', node.status_path,
                             '--timeout', '60'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    proc.terminate()
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 3, out + err
    assert 'was stopped by SIGTERM' in node.status()['message']
    assert node.status()['result'] == 'timeout'


def test_timeout_during_a_gpu_reports_the_gpus_done_before(node):
    dummy, checkpoint = prepared(node, 'A100-SXM4-40GB')
    node.sim('reboot', node.state)
    node.sim('fault', 'add', node.state, '--function', 'nvmlDeviceCreateGpuInstanceWithPlacement', '--nth', 1, '--stall-ms', 5000,
             '--gpu', 1)
    rc, out, status, took = node.run(timeout=2)
    uuids = [gpu['uuid'] for gpu in checkpoint['gpus']]
    assert rc == 3, out
    assert took < 3.5
    assert results(status) == [(uuids[0], 'restored'), (uuids[1], 'failed')]
    assert status['gpus'][1]['index'] == 1
    assert 'while restoring GPU %s' % uuids[1] in status['message']
    # A later run converges from whatever the killed one left.
    node.sim('fault', 'clear', node.state)
    rc, out, status, took = node.run()
    assert rc == 0, out


# -- the installed file set and the unit --------------------------------------------------------------

def _imports(name):
    with open(os.path.join(MODULE_UTILS, name)) as handle:
        tree = ast.parse(handle.read())
    prefix = 'ansible_collections.gpufleet.mig.plugins.module_utils'
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix):
            if node.module == prefix:
                found.update('%s.py' % alias.name for alias in node.names)
            else:
                found.add(node.module.rsplit('.', 1)[1] + '.py')
        assert not (isinstance(node, (ast.Import, ast.ImportFrom)) and (node.module if isinstance(node, ast.ImportFrom) else '')
                    .startswith('ansible.')), 'the restore must not need Ansible on the node (%s)' % name
    return found


def test_the_role_installs_exactly_what_the_restore_imports():
    needed, todo = set(), ['_restore.py']
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(_imports(name))
    with open(os.path.join(ROLE, 'vars', 'main.yml')) as handle:
        installed = yaml.safe_load(handle)['mig_restore__files']
    assert sorted(installed) == sorted(needed)


def test_the_copied_files_run_on_their_own(node, tmp_path):
    """Only the role's files under a lib dir, no collection on the path: the restore still runs."""
    dummy, checkpoint = prepared(node, 'A30')
    with open(os.path.join(ROLE, 'vars', 'main.yml')) as handle:
        files = yaml.safe_load(handle)['mig_restore__files']
    lib = tmp_path / 'lib'
    target = lib / 'ansible_collections' / 'gpufleet' / 'mig' / 'plugins' / 'module_utils'
    target.mkdir(parents=True)
    for name in files:
        shutil.copy(os.path.join(MODULE_UTILS, name), str(target / name))
    node.sim('reboot', node.state)
    env = dict(os.environ, PYTHONPATH=str(lib))
    proc = subprocess.run([sys.executable, '-m', _restore.MODULE, '--checkpoint', node.checkpoint, '--status', node.status_path,
                           '--timeout', '60'], capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results(node.status()) == [(gpu['uuid'], 'restored') for gpu in checkpoint['gpus']]


def _defaults():
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        return yaml.safe_load(handle)


def render_unit(**overrides):
    variables = _defaults()
    variables.update(mig_restore_python=sys.executable)
    variables.update(overrides)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, 'templates')), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    return env.get_template('gpufleet-mig-restore.service.j2').render(**variables)


def parse_unit(text):
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('['):
            current = sections.setdefault(line.strip('[]'), {})
            continue
        key, value = line.split('=', 1)
        current.setdefault(key, []).append(value)
    return sections


def test_unit_ordering_and_limits():
    unit = parse_unit(render_unit())
    after = ' '.join(unit['Unit']['After']).split()
    before = ' '.join(unit['Unit']['Before']).split()
    assert {'nvidia-persistenced.service', 'nvidia-fabricmanager.service', 'systemd-modules-load.service'} <= set(after)
    assert 'kubelet.service' in before
    assert not set(after) & set(before)
    # Ordering only: nothing this unit could pull in or wait on synchronously (mig.md 6, rows 8-9).
    assert not {'Requires', 'Wants', 'BindsTo', 'Requisite', 'PartOf'} & set(unit['Unit'])
    assert 'DefaultDependencies' not in unit['Unit']
    assert unit['Install']['WantedBy'] == ['multi-user.target']
    service = unit['Service']
    assert service['Type'] == ['oneshot'] and service['RemainAfterExit'] == ['yes']
    assert 'PYTHONPATH=/usr/local/lib/gpufleet-mig' in service['Environment']
    command = service['ExecStart'][0].split()
    assert command[:3] == [sys.executable, '-m', _restore.MODULE]
    options = dict(zip(command[3::2], command[4::2]))
    assert options == {'--checkpoint': '/var/lib/gpufleet-mig/checkpoint.json', '--status': '/run/gpufleet-mig/restore.json',
                       '--timeout': '300'}
    assert int(service['TimeoutStartSec'][0]) > int(options['--timeout'])
    assert int(parse_unit(render_unit(mig_restore_timeout=45))['Service']['TimeoutStartSec'][0]) == 75


def test_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which('systemd-analyze')
    if analyze is None:
        pytest.skip('systemd-analyze is not installed on this machine')
    unit_path = tmp_path / 'gpufleet-mig-restore.service'
    unit_path.write_text(render_unit())
    env = dict(os.environ, SYSTEMD_LOG_LEVEL='notice')
    proc = subprocess.run([analyze, 'verify', '--man=no', str(unit_path)], capture_output=True, text=True, env=env, check=False)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 and re.search(r'Failed to (initialize manager|connect|create bus|setup working directory)|'
                                          r'Operation not permitted|No such file or directory.*(/run/systemd|/proc)', output):
        pytest.skip('systemd-analyze verify cannot run in this container: %s' % output.strip())
    own = [line for line in output.splitlines() if 'gpufleet-mig-restore' in line]
    assert proc.returncode == 0 and not own, output
    # The same check rejects a broken unit here, so the pass above means something.
    unit_path.write_text(render_unit(mig_restore_python=str(tmp_path / 'no-such-python')))
    proc = subprocess.run([analyze, 'verify', '--man=no', str(unit_path)], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode != 0 and 'no-such-python' in proc.stdout + proc.stderr


def test_argument_specs_match_the_defaults():
    with open(os.path.join(ROLE, 'meta', 'argument_specs.yml')) as handle:
        options = yaml.safe_load(handle)['argument_specs']['main']['options']
    defaults = _defaults()
    assert sorted(options) == sorted(defaults)
    for name, spec in options.items():
        assert name.startswith('mig_restore_')
        assert spec['description'] and spec['type']
        assert ' '.join(str(spec['default']).split()) == ' '.join(str(defaults[name]).split()), name


def test_a_gpu_the_catalog_lacks_is_named_with_its_pci_id():
    """A GPU NVML reports but the catalog lacks: the mismatch names it and its PCI id (issue 18 item 8)."""
    gpu = GpuState(index=0, uuid='GPU-x', name='NVIDIA PG506-96GB', pci_bus_id='00000000:01:00.0', pci_device_id=0x20B610DE,
                   pci_subsystem_id=0, memory_total_mib=1, architecture=9, compute_capability=(9, 0), mig_capable=True,
                   mig_current=True, mig_pending=True)
    saved = _checkpoint.GpuCheckpoint('GPU-x', 0, None, '00000000:01:00.0', True, ())
    assert _checkpoint.checkpoint_mismatches([gpu], [saved]) == [
        'GPU 0 (GPU-x): GPU model NVIDIA PG506-96GB (PCI id 0x20B610DE) is not in the catalog of this gpufleet.mig version']
