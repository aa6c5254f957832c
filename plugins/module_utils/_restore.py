# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Boot-time restore of the MIG layouts that ``mig_layout`` checkpointed.

GPU instances and compute instances never survive a reboot or a GPU reset, and Hopper and later
GPUs also lose MIG mode (reference mig.md 5.2).  This runs on the node at boot, without Ansible,
as ``python3 -m ansible_collections.gpufleet.mig.plugins.module_utils._restore`` from the systemd
unit of the ``gpufleet.mig.mig_restore`` role, and brings every checkpointed GPU back to its
exact layout with the same NVML adapter and executor the modules use.  The checkpoint's format, its
reading and its comparison with live GPUs are ``_checkpoint``'s, beside its writer; this module
has the boot program and its status file, which it writes and ``gpu_info`` reads back
(:func:`boot_restore_state`).

GPUs are matched by UUID only.  Each GPU is handled on its own; the exit status is non-zero
when any checkpointed GPU does not match its checkpoint at the end, so systemd marks the unit
failed.  The NVML work runs in a child process that the parent kills at ``--timeout``: a hung
NVML call blocks in C, where no signal handler of the same process would run, and must not hang
the boot (mig.md 6, row 8).

Exit status: 0 every checkpointed GPU matches (or nothing to restore), 1 some GPU does not
match or NVML failed, 2 the checkpoint is missing or invalid (or bad arguments), 3 timeout.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import ApplyError, apply_with_rollback, canonical_gpu
from ansible_collections.gpufleet.mig.plugins.module_utils._checkpoint import (
    DEFAULT_CHECKPOINT,
    CheckpointError,
    checkpoint_mismatches,
    load_checkpoint,
)
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml, NvmlError, activation_status_text

__all__ = (
    'DEFAULT_STATUS',
    'boot_restore_state',
    'main',
    'restore_gpus',
)

MODULE = 'ansible_collections.gpufleet.mig.plugins.module_utils._restore'
STATUS_VERSION = 'gpufleet.mig/restore-status/v1'
DEFAULT_STATUS = '/run/gpufleet-mig/restore.json'
DEFAULT_TIMEOUT = 300.0
TAG = 'gpufleet-mig-restore'

EXIT_OK, EXIT_FAILED, EXIT_CHECKPOINT, EXIT_TIMEOUT = 0, 1, 2, 3

# Per-GPU results; only these two mean "matches the checkpoint".
RESTORED = 'restored'
MATCHING = 'already-matching'
REPLACED = 'replaced-or-missing'
BUSY = 'busy'
MODE_PENDING = 'mode-pending'
FAILED = 'failed'
UNKNOWN = 'not-in-checkpoint'    # on the node but not in the checkpoint: reported, left alone, not a failure
GOOD = (RESTORED, MATCHING, UNKNOWN)


# -- this boot's status file, read back after the boot (gpu_info) ---------------------------------------

def boot_restore_state(status_path, gpus, complete=True):
    """What this boot's restore did (its status file) and whether a failure of it still holds.

    A failed restore still holds while the GPUs differ from the checkpoint it read; once a layout has been applied
    again (which rewrites the checkpoint) or the GPUs were put right by other means, it is history. Never raises:
    a status file that cannot be read is reported as such. ``complete`` is False when ``gpus`` is not every GPU of
    the node; checkpointed GPUs that were not read are then left out of the comparison.
    """
    state = {'status_file': status_path, 'result': None, 'time': None, 'message': None, 'gpus': [],
             'outstanding': False, 'mismatches': [], 'reason': None}
    try:
        with open(status_path) as handle:
            status = json.load(handle)
    except (IOError, OSError) as exc:
        if exc.errno != errno.ENOENT:
            state.update(result='unreadable', message='cannot read %s: %s' % (status_path, exc.strerror or exc))
        return state
    except ValueError as exc:
        state.update(result='unreadable', message='%s is not valid JSON: %s' % (status_path, exc))
        return state
    if not isinstance(status, dict) or status.get('version') != STATUS_VERSION:
        state.update(result='unreadable', message='%s is not a %s status file' % (status_path, STATUS_VERSION))
        return state
    state.update(result=status.get('result'), time=status.get('time'), message=status.get('message'),
                 gpus=[gpu for gpu in status.get('gpus') or [] if isinstance(gpu, dict) and gpu.get('result') not in GOOD])
    if state['result'] == 'ok':
        return state
    try:
        checkpointed = load_checkpoint(status.get('checkpoint') or DEFAULT_CHECKPOINT)[1]
    except CheckpointError as exc:
        state['mismatches'] = [str(exc)]
    else:
        if not complete:
            read = set(gpu.uuid for gpu in gpus)
            checkpointed = [saved for saved in checkpointed if saved.uuid in read]
        state['mismatches'] = checkpoint_mismatches(gpus, checkpointed)
    state['outstanding'] = bool(state['mismatches'])
    if state['outstanding']:
        state['reason'] = ('the boot-time restore at %s ended %s: %s. Now: %s'
                           % (state['time'], state['result'], state['message'], '; '.join(state['mismatches'])))
    return state


# -- the NVML work (runs in the worker process) -------------------------------------------------------

def _result(saved, index, result, message, actions=()):
    return {'uuid': saved.uuid, 'index': index, 'result': result, 'actions': list(actions), 'message': message}


def _read_gpus(nvml):
    """Read every GPU the driver shows, each on its own; return ``(gpus by uuid, problems)``."""
    by_uuid, problems = {}, []
    for index in range(nvml.call('nvmlDeviceGetCount')):
        try:
            gpu = nvml.read_gpu(index)
        except NvmlError as exc:
            # An unreadable GPU must not hide the others; its UUID is then reported missing.
            problems.append('GPU index %d cannot be read: %s' % (index, exc))
            continue
        by_uuid[gpu.uuid] = gpu
    return by_uuid, problems


def _enable_mode(nvml, gpu, saved, actions):
    """Enable MIG mode, which Hopper and later lose at every reboot; return a mode-pending result or None."""
    status = nvml.set_mig_mode(gpu.index, True)
    actions.append('enable MIG mode')
    current, pending = nvml.mig_mode(gpu.index)
    if current:
        return None
    return _result(saved, gpu.index, MODE_PENDING,
                   'MIG mode was enabled but the change is pending (pending=%s): %s; a GPU reset or a reboot is needed, then '
                   'restart the restore' % (pending, activation_status_text(status)), actions)


def _restore_gpu(nvml, gpu, saved):
    """Bring one present GPU to its checkpoint; return its result."""
    if not saved.mig_enabled:
        if gpu.mig_current:
            # Mode changes are the operator's (gpufleet.mig.mig_mode); the restore only re-enables what it recorded.
            return _result(saved, gpu.index, FAILED,
                           'MIG mode is enabled but the checkpoint recorded it disabled; left as it is. Disable it with '
                           'gpufleet.mig.mig_mode, or apply a layout with gpufleet.mig.mig_layout to update the checkpoint')
        return _result(saved, gpu.index, MATCHING, 'MIG disabled, as checkpointed')
    if not gpu.mig_capable:
        return _result(saved, gpu.index, FAILED, 'the GPU does not support MIG (%s)' % gpu.name)
    if gpu.model is None:
        return _result(saved, gpu.index, FAILED, 'GPU model %s (PCI id 0x%08X) is not in the catalog of this gpufleet.mig version'
                       % (gpu.name, gpu.pci_device_id))
    model = _catalog.model_by_key(gpu.model)
    saved.check_fits(model)
    if saved.mismatch(gpu) is None:
        return _result(saved, gpu.index, MATCHING, 'MIG enabled, %s' % saved.describe())
    gpu = canonical_gpu(gpu, model)
    if gpu.busy:
        return _result(saved, gpu.index, BUSY, 'processes %s use the GPU; not touched. Stop them, then restart the restore'
                       % ', '.join(str(p.pid) for p in gpu.processes))
    actions = []
    if not gpu.mig_current:
        pending = _enable_mode(nvml, gpu, saved, actions)
        if pending is not None:
            return pending
    before = canonical_gpu(nvml.read_gpu(gpu.index), model)
    try:
        done = apply_with_rollback(nvml, model, before, saved.layout)
    except ApplyError as exc:
        return _result(saved, gpu.index, FAILED, str(exc), actions + [str(step) for step in exc.done])
    actions.extend(str(step) for step in done)
    return _result(saved, gpu.index, RESTORED, 'MIG enabled, %s' % saved.describe(), actions)


def _missing(saved, unknown):
    """The result of a checkpointed GPU whose UUID is not on the node, with a hint about a replacement."""
    message = 'GPU %s (index %s, PCI %s in the checkpoint) is not on this node' % (saved.uuid, saved.index, saved.pci_bus_id)
    same_slot = [gpu for gpu in unknown if saved.pci_bus_id and gpu.pci_bus_id.lower() == str(saved.pci_bus_id).lower()]
    if same_slot:
        message += ('; its PCI slot now holds GPU %s, probably a replacement, which is left alone: apply the layout with '
                    'gpufleet.mig.mig_layout to partition it and update the checkpoint' % same_slot[0].uuid)
    else:
        message += '; it was removed, failed or is hidden (nvidia-smi -L lists what the driver sees)'
    return _result(saved, saved.index, REPLACED, message)


def restore_gpus(nvml, checkpointed, emit=None):
    """Restore every checkpointed GPU through ``nvml`` (an open :class:`Nvml`); return the per-GPU results.

    ``emit(event)`` is called with ``{'event': 'gpu-start', ...}`` before and ``{'event': 'gpu', ...}``
    after each GPU, so a caller that loses this process (timeout) still knows how far it got.
    """
    emit = emit or (lambda event: None)
    present, problems = _read_gpus(nvml)
    wanted = {saved.uuid for saved in checkpointed}
    unknown = [gpu for uuid, gpu in sorted(present.items(), key=lambda item: item[1].index) if uuid not in wanted]
    results = []
    for saved in checkpointed:
        gpu = present.get(saved.uuid)
        emit({'event': 'gpu-start', 'uuid': saved.uuid, 'index': None if gpu is None else gpu.index})
        if gpu is None:
            result = _missing(saved, unknown)
            if problems:
                result['message'] += '; ' + '; '.join(problems)
        else:
            try:
                result = _restore_gpu(nvml, gpu, saved)
            except (NvmlError, ValueError, LookupError) as exc:
                # One GPU's failure must not stop the others (NVML, catalog and checkpoint-layout errors alike).
                result = _result(saved, gpu.index, FAILED, str(exc))
        results.append(result)
        emit(dict(result, event='gpu'))
    for gpu in unknown:
        result = {'uuid': gpu.uuid, 'index': gpu.index, 'result': UNKNOWN, 'actions': [],
                  'message': 'not in the checkpoint (%s); left alone' % ('MIG capable' if gpu.mig_capable else 'no MIG')}
        results.append(result)
        emit(dict(result, event='gpu'))
    return results


# -- processes, output ------------------------------------------------------------------------------

def _say(text):
    # stdout goes to the journal under systemd; flush so lines survive a kill of this process.
    sys.stdout.write('%s: %s\n' % (TAG, text))
    sys.stdout.flush()


def _line(result):
    where = 'GPU %s' % result['uuid'] if result['index'] is None else 'GPU %d (%s)' % (result['index'], result['uuid'])
    text = '%s: %s: %s' % (where, result['result'], result['message'])
    if result['actions']:
        text += ' [%d action(s): %s]' % (len(result['actions']), '; '.join(result['actions']))
    return text


def _worker(checkpoint, events_path):
    """The child: the NVML work; one JSON event per line to ``events_path``. Returns the exit status."""
    with open(events_path, 'a') as events:
        def emit(event):
            events.write(json.dumps(event, sort_keys=True) + '\n')
            events.flush()
            if event['event'] == 'gpu':
                _say(_line(event))
        try:
            checkpointed = load_checkpoint(checkpoint)[1]
        except CheckpointError as exc:
            emit({'event': 'error', 'message': str(exc), 'exit': EXIT_CHECKPOINT})
            return EXIT_CHECKPOINT
        emit({'event': 'phase', 'phase': 'initialising NVML and reading the GPUs'})
        try:
            with Nvml() as nvml:
                results = restore_gpus(nvml, checkpointed, emit)
        except NvmlError as exc:
            emit({'event': 'error', 'message': str(exc), 'exit': EXIT_FAILED})
            return EXIT_FAILED
        emit({'event': 'done'})
    return EXIT_OK if all(r['result'] in GOOD for r in results) else EXIT_FAILED


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _status_dir(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    return directory


def write_status(path, status):
    """Write the status JSON atomically (a reader never sees half a file)."""
    directory = _status_dir(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.restore.')
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(status, handle, indent=2, sort_keys=True)
            handle.write('\n')
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _read_events(path):
    events = []
    try:
        with open(path) as handle:
            for line in handle:
                try:
                    events.append(json.loads(line))
                except ValueError:
                    # The child was killed while writing this line.
                    continue
    except (IOError, OSError):
        pass
    return events


class _Terminated(Exception):
    """SIGTERM (systemd's TimeoutStartSec, or a stop) reached the parent."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _python_path():
    """PYTHONPATH for the child: the root this module was imported from first, so the child runs the same code."""
    root = os.path.abspath(__file__)
    for dummy in range(6):
        root = os.path.dirname(root)
    paths = [root] if os.path.isdir(os.path.join(root, 'ansible_collections', 'gpufleet', 'mig')) else []
    if os.environ.get('PYTHONPATH'):
        paths.append(os.environ['PYTHONPATH'])
    return os.pathsep.join(paths)


def _run_worker(args, events_path):
    """Start the worker; return ``(exit status or None on timeout, why it stopped)``."""
    env = dict(os.environ, PYTHONPATH=_python_path())
    child = subprocess.Popen([sys.executable, '-m', MODULE, '--worker', events_path, '--checkpoint', args.checkpoint],
                             env=env)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return child.wait(timeout=args.timeout), None
    except subprocess.TimeoutExpired:
        why = 'timed out after %g s' % args.timeout
    except _Terminated:
        why = 'was stopped by SIGTERM (systemd stop or TimeoutStartSec)'
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.kill()
            try:
                # A process stuck in the kernel (D state) cannot die; do not wait for it forever either.
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _say('the NVML worker (pid %d) did not exit after SIGKILL; it is stuck in the driver' % child.pid)
    return None, why


def _summarise(checkpointed, rc, why, events):
    """Turn the worker's events and exit into ``(status fields, exit status)``; GPUs it never reached are failed."""
    results = [dict((k, v) for k, v in e.items() if k != 'event') for e in events if e.get('event') == 'gpu']
    errors = [e for e in events if e.get('event') == 'error']
    if rc is None:
        overall = 'timeout'
        current = [e for e in events if e.get('event') in ('gpu-start', 'phase')]
        if not current:
            doing = 'before NVML was initialised'
        elif current[-1]['event'] == 'phase':
            doing = 'while ' + current[-1]['phase']
        else:
            doing = 'while restoring GPU %s' % current[-1]['uuid']
        message = 'the restore %s %s; the NVML worker was killed' % (why, doing)
    elif errors:
        overall, message = 'failed', errors[-1]['message']
    elif not any(e.get('event') == 'done' for e in events):
        overall = 'failed'
        message = 'the NVML worker ended unexpectedly with exit status %s (its traceback is in the journal)' % rc
    else:
        bad = [r for r in results if r['result'] not in GOOD]
        overall = 'failed' if bad else 'ok'
        message = ('%d of %d checkpointed GPU(s) do not match the checkpoint' % (len(bad), len(checkpointed)) if bad
                   else 'all %d checkpointed GPU(s) match the checkpoint' % len(checkpointed))
    reached = {r['uuid'] for r in results}
    started = {e['uuid']: e['index'] for e in events if e.get('event') == 'gpu-start'}
    for saved in checkpointed:
        if saved.uuid not in reached:
            result = _result(saved, started.get(saved.uuid), FAILED, 'not restored: %s' % message)
            results.append(result)
            _say(_line(result))
    code = {'ok': EXIT_OK, 'timeout': EXIT_TIMEOUT}.get(overall, EXIT_FAILED)
    if errors and errors[-1].get('exit') == EXIT_CHECKPOINT:
        code = EXIT_CHECKPOINT
    return {'result': overall, 'message': message, 'gpus': results}, code


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python3 -m %s' % MODULE,
        description='Restore the MIG layout that gpufleet.mig.mig_layout checkpointed (run at boot, before kubelet).',
        epilog='Exit status: 0 all checkpointed GPUs match (or nothing to restore), 1 a GPU does not match or NVML failed, '
               '2 the checkpoint is missing or invalid, 3 timeout.')
    parser.add_argument('--checkpoint', default=DEFAULT_CHECKPOINT, help='checkpoint to restore (default: %(default)s)')
    parser.add_argument('--status', default=DEFAULT_STATUS, help='JSON status file to write (default: %(default)s)')
    parser.add_argument('--timeout', type=float, default=DEFAULT_TIMEOUT,
                        help='seconds after which the NVML work is killed and the restore fails (default: %(default)s)')
    parser.add_argument('--worker', metavar='EVENTS', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        parser.error('--timeout must be positive')
    return args


def _restore(args):
    """Check the checkpoint, run the worker under the time limit; return ``(status fields, exit status, driver version)``."""
    try:
        driver_version, checkpointed = load_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        return {'result': 'failed', 'message': str(exc), 'gpus': []}, EXIT_CHECKPOINT, None
    if not any(saved.mig_enabled for saved in checkpointed):
        # Without a MIG GPU to restore, NVML is not even loaded: a node without MIG never fails its boot here.
        return ({'result': 'ok', 'gpus': [],
                 'message': 'nothing to restore: the checkpoint records no GPU with MIG enabled (%d GPU(s))' % len(checkpointed)},
                EXIT_OK, driver_version)
    _say('restoring %d GPU(s) from %s (checkpoint written under driver %s), time limit %g s'
         % (len(checkpointed), args.checkpoint, driver_version, args.timeout))
    # The events go next to the status file: that directory must be writable anyway, and /run exists early at boot.
    directory = _status_dir(args.status)
    fd, events_path = tempfile.mkstemp(dir=directory, prefix='.restore-events.')
    os.close(fd)
    try:
        rc, why = _run_worker(args, events_path)
        status, code = _summarise(checkpointed, rc, why, _read_events(events_path))
    finally:
        os.unlink(events_path)
    return status, code, driver_version


def main(argv=None):
    """The command line; returns the exit status."""
    args = _parse_args(argv)
    if args.worker:
        return _worker(args.checkpoint, args.worker)
    clock = time.monotonic()
    started = _now()
    try:
        status, code, driver_version = _restore(args)
    except (IOError, OSError) as exc:
        # Only the status directory can fail here; the status file below will say the same.
        status, code, driver_version = {'result': 'failed', 'message': 'cannot run the restore: %s' % exc, 'gpus': []}, EXIT_FAILED, None
    status.update(version=STATUS_VERSION, time=_now(), started=started, duration_s=round(time.monotonic() - clock, 3),
                  checkpoint=args.checkpoint, checkpoint_driver_version=driver_version, timeout_s=args.timeout)
    _say('%s: %s' % (status['result'], status['message']))
    try:
        write_status(args.status, status)
    except (IOError, OSError) as exc:
        _say('cannot write the status file %s: %s' % (args.status, exc))
        code = code or EXIT_FAILED
    return code


if __name__ == '__main__':
    # A command that systemd runs, not an Ansible module: its exit status is how the unit fails.
    sys.exit(main())  # pylint: disable=ansible-bad-function
