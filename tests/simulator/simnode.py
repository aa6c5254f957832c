#!/usr/bin/env python
"""Control a simulated GPU node of the fake NVML library (tests/simulator).

A node is one state file (the path the fake libnvidia-ml.so.1 reads from the
FAKE_NVML_STATE environment variable).  This tool creates and inspects nodes and
simulates what NVML cannot do: processes, GPU reset, reboot, driver load/unload,
passthrough (reset-blocked) GPUs, node options and fault injection.

All semantics live in the C library (fakeNvmlSimCommand); this file only parses
arguments and prints results.  Run it through $BUILD/bin/simnode, which sets
LD_LIBRARY_PATH, or set FAKE_NVML_LIB to the library path.

Examples::

    simnode create /tmp/n1.state --name node1 --gpu A100-SXM4-40GB:2 --gpu L40S \\
        --driver 550.54.15 --cuda 12040 --mig-enabled 0
    simnode process add /tmp/n1.state --gpu 0 --pid 4242 --used-mib 1024
    simnode reset /tmp/n1.state --gpu 0           # fails while GPU 0 is busy
    simnode fault add /tmp/n1.state --function nvmlDeviceCreateGpuInstance --nth 2 --error IN_USE
    simnode show /tmp/n1.state --json
    simnode calls /tmp/n1.state
"""

from __future__ import absolute_import, division, print_function

import argparse
import collections
import ctypes
import json
import os
import sys

OUT_SIZE = 1 << 20


class SimError(Exception):
    """A failed simulator command (message from the C library)."""

    def __init__(self, code, message):
        super(SimError, self).__init__(message)
        self.code = code
        self.message = message


def load_library():
    """Load the fake NVML library (FAKE_NVML_LIB, else libnvidia-ml.so.1 via LD_LIBRARY_PATH)."""
    path = os.environ.get('FAKE_NVML_LIB') or 'libnvidia-ml.so.1'
    try:
        lib = ctypes.CDLL(path)
        func = lib.fakeNvmlSimCommand
    except (OSError, AttributeError) as exc:
        raise SimError(-1, 'cannot load the fake NVML library (%s): %s; run this tool through '
                       '$BUILD/bin/simnode or set FAKE_NVML_LIB' % (path, exc))
    func.restype = ctypes.c_int
    func.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_char_p, ctypes.c_uint]
    return lib


def sim_command(state, *args):
    """Run one fakeNvmlSimCommand; return its output text or raise SimError."""
    lib = load_library()
    argv = (ctypes.c_char_p * len(args))(*[str(a).encode() for a in args])
    out = ctypes.create_string_buffer(OUT_SIZE)
    path = state.encode() if state else None
    ret = lib.fakeNvmlSimCommand(path, len(args), argv, out, OUT_SIZE)
    text = out.value.decode('utf-8', 'replace')
    if ret != 0:
        raise SimError(ret, text or 'command failed with code %d' % ret)
    return text


def parse_gpu_specs(specs):
    """Expand ['A100-SXM4-40GB:2', 'L40S'] into a list of model keys."""
    models = []
    for spec in specs:
        key, sep, count = spec.partition(':')
        number = 1
        if sep:
            try:
                number = int(count)
            except ValueError:
                raise SimError(-1, 'invalid --gpu %r: COUNT must be an integer' % spec)
            if number < 1:
                raise SimError(-1, 'invalid --gpu %r: COUNT must be >= 1' % spec)
        models.extend([key] * number)
    return models


def cmd_create(args):
    models = parse_gpu_specs(args.gpu or [])
    if not models:
        raise SimError(-1, 'at least one --gpu MODEL[:COUNT] is required')
    print(sim_command(args.state, 'create', args.name, args.driver, args.cuda, args.mig_enabled,
                      '1' if args.force else '0', *models))


def describe(state):
    """Human-readable summary of a node."""
    lines = ['node %s  driver %s  CUDA %d.%d  driver %s' % (
        state['node'], state['driver_version'], state['cuda_version'] // 1000, (state['cuda_version'] % 1000) // 10,
        'loaded' if state['driver_loaded'] else 'NOT loaded')]
    for key, value in sorted(state['options'].items()):
        lines.append('option %s = %s' % (key, value))
    for gpu in state['gpus']:
        mig = 'n/a'
        if gpu['mig_capable']:
            mig = '%s/%s' % ('on' if gpu['mig_mode_current'] else 'off', 'on' if gpu['mig_mode_pending'] else 'off')
        lines.append('GPU %d: %s %s %s MIG(current/pending)=%s%s' % (
            gpu['index'], gpu['model'], gpu['uuid'], gpu['pci_bus_id'], mig,
            ' reset-blocked' if gpu['reset_blocked'] else '') + (' vBIOS %s' % gpu['vbios_version'] if gpu['vbios_version'] else ''))
        for gi in gpu['gpu_instances']:
            lines.append('  GI %d: %s (profile %d) at %d:%d' % (gi['id'], gi['profile'], gi['profile_id'], gi['start'], gi['size']))
            for ci in gi['compute_instances']:
                lines.append('    CI %d: %s (profile %d) at %d:%d %s' % (
                    ci['id'], ci['profile'], ci['profile_id'], ci['start'], ci['size'], ci['uuid']))
    for proc in state['processes']:
        where = ''
        if proc['gpu_instance_id'] is not None:
            where = ' GI %d CI %d' % (proc['gpu_instance_id'], proc['compute_instance_id'])
        lines.append('process %d on GPU %d%s (%d MiB)' % (proc['pid'], proc['gpu'], where, proc['used_mib']))
    for fault in state['faults']:
        lines.append('fault %s' % json.dumps(fault, sort_keys=True))
    return '\n'.join(lines)


def cmd_show(args):
    state = json.loads(sim_command(args.state, 'show'))
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
    else:
        print(describe(state))


def cmd_process(args):
    if args.process_cmd == 'add':
        if (args.gi is None) != (args.ci is None):
            raise SimError(-1, '--gi and --ci must be given together')
        gi = '-' if args.gi is None else args.gi
        ci = '-' if args.ci is None else args.ci
        print(sim_command(args.state, 'process-add', args.gpu, gi, ci, args.pid, args.used_mib))
    elif args.process_cmd == 'remove':
        print(sim_command(args.state, 'process-remove', args.pid))
    else:
        sim_command(args.state, 'process-clear')


def cmd_reset(args):
    print(sim_command(args.state, 'reset', args.gpu))


def cmd_reboot(args):
    print(sim_command(args.state, 'reboot'))


def cmd_driver(args):
    if args.load:
        sim_command(args.state, 'driver-load')
    elif args.unload:
        sim_command(args.state, 'driver-unload')
    else:
        sim_command(args.state, 'driver-version', args.version, '-' if args.cuda is None else args.cuda)


def cmd_gpu(args):
    if args.reset_blocked is None and args.vbios is None:
        sys.exit('simnode gpu: give --reset-blocked and/or --vbios')
    if args.reset_blocked is not None:
        sim_command(args.state, 'reset-blocked', args.gpu, args.reset_blocked)
    if args.vbios is not None:
        sim_command(args.state, 'vbios', args.gpu, args.vbios)


def cmd_option(args):
    sim_command(args.state, 'option', args.key, args.value)


def cmd_fault(args):
    if args.fault_cmd == 'add':
        sim_command(args.state, 'fault-add', args.function, args.nth, '1' if args.repeat else '0',
                    '-' if args.gpu is None else args.gpu, args.error or '-', args.stall_ms)
    elif args.fault_cmd == 'clear':
        sim_command(args.state, 'fault-clear')
    else:
        print(json.dumps(json.loads(sim_command(args.state, 'show'))['faults'], indent=2, sort_keys=True))


def read_calls(state):
    """Parse <state>.calls: one line per NVML call (time pid function gpu rc mut|ro)."""
    calls = []
    try:
        with open(state + '.calls') as handle:
            for line in handle:
                fields = line.split()
                if len(fields) != 6:
                    continue
                calls.append({'time': float(fields[0]), 'pid': int(fields[1]), 'function': fields[2],
                              'gpu': None if fields[3] == '-' else int(fields[3]), 'rc': int(fields[4]),
                              'mutating': fields[5] == 'mut'})
    except IOError:
        pass
    return calls


def summarize_calls(calls):
    per_function = collections.Counter(call['function'] for call in calls)
    failed = collections.Counter(call['function'] for call in calls if call['rc'] != 0)
    return {
        'total': len(calls),
        'mutating': sum(1 for call in calls if call['mutating']),
        'read_only': sum(1 for call in calls if not call['mutating']),
        'failed': sum(failed.values()),
        'processes': len(set(call['pid'] for call in calls)),
        'per_function': dict(per_function),
        'failed_per_function': dict(failed),
    }


def cmd_calls(args):
    summary = summarize_calls(read_calls(args.state))
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return
    print('%d NVML calls (%d mutating, %d read-only, %d failed) from %d process(es)' % (
        summary['total'], summary['mutating'], summary['read_only'], summary['failed'], summary['processes']))
    for name, count in sorted(summary['per_function'].items()):
        print('  %6d  %s' % (count, name))


def cmd_models(args):
    del args
    for model in json.loads(sim_command(None, 'models')):
        print('%-16s %-24s %s' % (model['key'], model['name'], 'MIG' if model['mig'] else 'no MIG'))


def build_parser():
    parser = argparse.ArgumentParser(prog='simnode', description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command')
    sub.required = True

    p = sub.add_parser('create', help='create a node state file')
    p.add_argument('state')
    p.add_argument('--name', required=True, help='node name (also seeds the GPU UUIDs)')
    p.add_argument('--gpu', action='append', metavar='MODEL[:COUNT]', help='GPU model key; repeatable, in order')
    p.add_argument('--driver', required=True, help='driver version, e.g. 550.54.15')
    p.add_argument('--cuda', default='12040', help='CUDA driver version as an integer (default 12040 = 12.4)')
    p.add_argument('--mig-enabled', default='none', help='all, none, or a comma list of GPU indices (default none)')
    p.add_argument('--force', action='store_true', help='overwrite an existing state file')
    p.set_defaults(func=cmd_create)

    p = sub.add_parser('show', help='print the node state')
    p.add_argument('state')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_show)

    p = sub.add_parser('process', help='add or remove simulated GPU processes')
    psub = p.add_subparsers(dest='process_cmd')
    psub.required = True
    q = psub.add_parser('add')
    q.add_argument('state')
    q.add_argument('--gpu', type=int, required=True)
    q.add_argument('--gi', type=int)
    q.add_argument('--ci', type=int)
    q.add_argument('--pid', type=int, required=True)
    q.add_argument('--used-mib', type=int, default=256)
    q = psub.add_parser('remove')
    q.add_argument('state')
    q.add_argument('--pid', type=int, required=True)
    q = psub.add_parser('clear')
    q.add_argument('state')
    p.set_defaults(func=cmd_process)

    p = sub.add_parser('reset', help='GPU reset (fails while busy)')
    p.add_argument('state')
    p.add_argument('--gpu', type=int, required=True)
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser('reboot', help='reboot the node')
    p.add_argument('state')
    p.set_defaults(func=cmd_reboot)

    p = sub.add_parser('driver', help='load/unload the driver or change its version')
    p.add_argument('state')
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument('--load', action='store_true')
    group.add_argument('--unload', action='store_true')
    group.add_argument('--version')
    p.add_argument('--cuda', type=int, help='with --version: the new CUDA driver version')
    p.set_defaults(func=cmd_driver)

    p = sub.add_parser('gpu', help='per-GPU flags')
    p.add_argument('state')
    p.add_argument('--gpu', type=int, required=True)
    p.add_argument('--reset-blocked', choices=['yes', 'no'],
                   help='yes: the GPU cannot be reset (passthrough VM)')
    p.add_argument('--vbios', help='the vBIOS version NVML reports (98.02.6A.00.00); -: none (NOT_SUPPORTED, the default)')
    p.set_defaults(func=cmd_gpu)

    p = sub.add_parser('option', help='set a node option (disable_with_instances, ampere_auto_reset)')
    p.add_argument('state')
    p.add_argument('key')
    p.add_argument('value')
    p.set_defaults(func=cmd_option)

    p = sub.add_parser('fault', help='fault injection rules')
    fsub = p.add_subparsers(dest='fault_cmd')
    fsub.required = True
    q = fsub.add_parser('add')
    q.add_argument('state')
    q.add_argument('--function', required=True, help='exact NVML symbol name, e.g. nvmlDeviceCreateGpuInstance')
    q.add_argument('--nth', type=int, required=True, help='the Nth call (counted across processes) fails/stalls')
    q.add_argument('--error', help='NVML error name (IN_USE, NVML_ERROR_GPU_IS_LOST) or number')
    q.add_argument('--stall-ms', type=int, default=0)
    q.add_argument('--gpu', type=int, help='only count calls on this GPU index')
    q.add_argument('--repeat', action='store_true', help='every call from the Nth on')
    q = fsub.add_parser('list')
    q.add_argument('state')
    q = fsub.add_parser('clear')
    q.add_argument('state')
    p.set_defaults(func=cmd_fault)

    p = sub.add_parser('calls', help='summary of the NVML call log')
    p.add_argument('state')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_calls)

    p = sub.add_parser('models', help='list the GPU model keys')
    p.set_defaults(func=cmd_models)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SimError as exc:
        sys.stderr.write('simnode: error: %s\n' % exc.message)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
