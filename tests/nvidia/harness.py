#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run any program "on" a simulated GPU node: the node harness.

NVIDIA's tools look at the host before they use NVML (facts and upstream source lines in
../shared/nvidia/README.md): mig-parted reads ``/proc/modules`` and enumerates GPUs from PCI sysfs,
the device plugin reads ``/proc/driver/nvidia-caps/mig-minors`` and the MIG capability files, and both
talk to kubelet under ``/var/lib/kubelet``.  This harness gives a program exactly that view of one
simulated node, generated from the node's fake-NVML state, inside a private mount namespace
(``unshare -m``), so nothing outside the program sees it:

- ``/proc`` is a tmpfs that holds the node's ``modules`` and ``driver/`` files and links every other
  entry back to a private mount of the real procfs (``/proc/self`` keeps working);
- ``/sys/bus/pci`` is a tmpfs with one device directory per simulated GPU (vendor, class, device,
  subsystem ids, numa_node, resource, config, a ``driver`` link to ``nvidia``);
- ``/var/lib/kubelet`` is the node's own kubelet directory (optional);
- ``FAKE_NVML_STATE``, ``LD_LIBRARY_PATH`` (the fake libnvidia-ml.so.1) and a ``PATH`` that starts with
  the fake ``nvidia-smi`` are set.

The files reflect the node's state when the program starts, as the driver's files would for a program
that reads them once at start (the device plugin does; a plugin restart sees the new layout).  Only the
tests use this; production code never does.

    harness.py run --state NODE.state [--kubelet-dir DIR] -- nvidia-mig-parted export
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SIM_DIR = os.path.join(os.path.dirname(HERE), 'simulator')

# The real driver's mig-minors file enumerates every GPU minor, GI id and CI id the driver could create,
# whether or not they exist: "config 1", "monitor 2", then per GPU per GI an access line and eight CI
# lines.  The order and the numbering follow the MIG user guide's example [inferred: its rule beyond the
# example is not documented]; consumers (the device plugin) only parse the lines, they compute nothing.
MIG_MINOR_GPUS = 32
MIG_MINOR_GIS = 15
MIG_MINOR_CIS = 8

# What the driver writes in a capability file; DeviceFileMode 0444 (292) for access files [inferred from
# real hosts' files as quoted in NVIDIA's issue threads; the device plugin reads only DeviceFileMinor].
CAP_FILE = 'DeviceFileMinor: %d\nDeviceFileMode: %d\nDeviceFileModify: 1\n'

MOUNT_SCRIPT = r'''
set -eu
work=$1; kubelet=$2; shift 2
mkdir -p "$work/realproc"
mount --bind /proc "$work/realproc"
mount -t tmpfs -o mode=0555 gpufleet-proc /proc
cp -a "$work/proc/." /proc/
for entry in "$work"/realproc/*; do
  name=${entry##*/}
  [ -e "/proc/$name" ] || [ -L "/proc/$name" ] || ln -s "$entry" "/proc/$name"
done
mount -t tmpfs -o mode=0755 gpufleet-pci /sys/bus/pci
cp -a "$work/sys/bus/pci/." /sys/bus/pci/
if [ -n "$kubelet" ]; then
  mkdir -p /var/lib/kubelet
  mount --bind "$kubelet" /var/lib/kubelet
fi
exec "$@"
'''


def sysfs_bus_id(bus_id):
    """NVML's 8-digit-domain bus id (00000000:07:00.0) as sysfs names the device (0000:07:00.0)."""
    domain, dummy, rest = bus_id.partition(':')
    return ('%04x:%s' % (int(domain, 16), rest)).lower()


def model_field(model, field):
    """One field of a simulator model file (tests/simulator/models/MODEL.model)."""
    with open(os.path.join(SIM_DIR, 'models', model + '.model')) as handle:
        for line in handle:
            words = line.split('#', 1)[0].split()
            if len(words) >= 2 and words[0] == field:
                return words[1]
    return None


def read_node(state, sim_build):
    """The node as ``simnode show --json`` reports it."""
    out = subprocess.run([os.path.join(sim_build, 'bin', 'simnode'), 'show', state, '--json'],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def mig_minors():
    lines = ['config 1', 'monitor 2']
    minor = 3
    for gpu in range(MIG_MINOR_GPUS):
        for gi in range(MIG_MINOR_GIS):
            lines.append('gpu%d/gi%d/access %d' % (gpu, gi, minor))
            minor += 1
            for ci in range(MIG_MINOR_CIS):
                lines.append('gpu%d/gi%d/ci%d/access %d' % (gpu, gi, ci, minor))
                minor += 1
    return lines


def node_files(node):
    """path (relative to the namespace's root) -> bytes, for /proc and /sys/bus/pci of one node."""
    files = {}
    driver = node.get('driver_version', '')
    loaded = node.get('driver_loaded', True)
    modules = 'nvidia_uvm 1531904 0 - Live 0x0000000000000000 (POE)\n'
    if loaded:
        modules = ('nvidia 56807424 1 nvidia_uvm, Live 0x0000000000000000 (POE)\n' + modules)
    files['proc/modules'] = modules.encode()
    if not loaded:
        return files
    files['proc/driver/nvidia/version'] = (
        'NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  (simulated)\nGCC version:  gcc\n' % driver).encode()
    minors = mig_minors()
    files['proc/driver/nvidia-caps/mig-minors'] = ('\n'.join(minors) + '\n').encode()
    minor_of = dict(line.rsplit(' ', 1) for line in minors)
    files['proc/driver/nvidia/capabilities/mig/config'] = (CAP_FILE % (1, 256)).encode()
    files['proc/driver/nvidia/capabilities/mig/monitor'] = (CAP_FILE % (2, 292)).encode()
    for gpu in node.get('gpus', []):
        # The device minor is the GPU's index on the simulated nodes (the fake reports the same through
        # nvmlDeviceGetMinorNumber); real hosts usually agree, but nothing guarantees it.
        index = gpu['index']
        bus = sysfs_bus_id(gpu['pci_bus_id'])
        files['proc/driver/nvidia/gpus/%s/information' % bus] = (
            'Model: \t\t %s\nIRQ:   \t\t 0\nGPU UUID: \t %s\nVideo BIOS: \t ??.??.??.??.??\nBus Type: \t PCIe\n'
            'DMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t %s\nDevice Minor: \t %d\n'
            'GPU Excluded:\t No\n' % (gpu['name'], gpu['uuid'], bus, index)).encode()
        for gi in gpu.get('gpu_instances', []):
            key = 'gpu%d/gi%d/access' % (index, gi['id'])
            files['proc/driver/nvidia/capabilities/gpu%d/mig/gi%d/access' % (index, gi['id'])] = (
                CAP_FILE % (int(minor_of[key]), 292)).encode()
            for ci in gi.get('compute_instances', []):
                key = 'gpu%d/gi%d/ci%d/access' % (index, gi['id'], ci['id'])
                files['proc/driver/nvidia/capabilities/gpu%d/mig/gi%d/ci%d/access' % (index, gi['id'], ci['id'])] = (
                    CAP_FILE % (int(minor_of[key]), 292)).encode()
        base = 'sys/bus/pci/devices/%s/' % bus
        device_id = int(gpu['pci_device_id'])
        subsystem = int(model_field(gpu['model'], 'pci_subsystem_id') or '0', 16)
        files[base + 'vendor'] = b'0x10de\n'
        # 0x030200 is a 3D controller (data-centre boards); mig-parted and go-nvlib look for it.
        files[base + 'class'] = b'0x030200\n'
        files[base + 'device'] = ('0x%04x\n' % device_id).encode()
        files[base + 'subsystem_vendor'] = ('0x%04x\n' % (subsystem & 0xFFFF)).encode()
        files[base + 'subsystem_device'] = ('0x%04x\n' % (subsystem >> 16)).encode()
        files[base + 'numa_node'] = b'-1\n'
        bar1 = 0x20000000000 + index * 0x1000000000
        bar0 = 0xd0000000 + index * 0x1000000
        resource = ['0x%016x 0x%016x 0x0000000000040200' % (bar0, bar0 + 0xffffff),
                    '0x%016x 0x%016x 0x000000000014220c' % (bar1, bar1 + 0xfffffffff)]
        resource += ['0x0000000000000000 0x0000000000000000 0x0000000000000000'] * 11
        files[base + 'resource'] = ('\n'.join(resource) + '\n').encode()
        config = bytearray(256)
        config[0:2] = (0x10de).to_bytes(2, 'little')
        config[2:4] = device_id.to_bytes(2, 'little')
        files[base + 'config'] = bytes(config)
    return files


def prepare(work, node):
    """Write the node's files under ``work`` (proc/, sys/); return nothing."""
    for relpath, data in node_files(node).items():
        path = os.path.join(work, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as handle:
            handle.write(data)
    pci = os.path.join(work, 'sys', 'bus', 'pci')
    os.makedirs(os.path.join(pci, 'devices'), exist_ok=True)
    os.makedirs(os.path.join(pci, 'drivers', 'nvidia'), exist_ok=True)
    for bus in os.listdir(os.path.join(pci, 'devices')):
        os.symlink('../../drivers/nvidia', os.path.join(pci, 'devices', bus, 'driver'))


def environment(state, sim_build, base=None):
    env = dict(os.environ if base is None else base)
    env['FAKE_NVML_STATE'] = os.path.abspath(state)
    env['LD_LIBRARY_PATH'] = os.path.join(sim_build, 'lib')
    env['PATH'] = os.path.join(sim_build, 'bin') + os.pathsep + env.get('PATH', '/usr/bin:/bin')
    return env


class Node:
    """One simulated node's view, ready to run programs in; ``close()`` removes its files."""

    def __init__(self, state, sim_build, kubelet_dir=None):
        self.state = os.path.abspath(state)
        self.sim_build = sim_build
        self.kubelet_dir = os.path.abspath(kubelet_dir) if kubelet_dir else ''
        self.work = tempfile.mkdtemp(prefix='gpufleet-node-')

    def command(self, argv):
        """The argv that runs ``argv`` on the node, with the node's files as they are now."""
        for name in ('proc', 'sys'):
            shutil.rmtree(os.path.join(self.work, name), ignore_errors=True)
        prepare(self.work, read_node(self.state, self.sim_build))
        script = os.path.join(self.work, 'enter.sh')
        with open(script, 'w') as handle:
            handle.write(MOUNT_SCRIPT)
        return ['unshare', '--mount', '--propagation', 'private', '/bin/sh', script, self.work, self.kubelet_dir] + list(argv)

    def run(self, argv, timeout=120, env=None, **kwargs):
        """Run ``argv`` on the node and wait; a CompletedProcess with text output."""
        return subprocess.run(self.command(argv), env=environment(self.state, self.sim_build, env), timeout=timeout,
                              capture_output=True, text=True, check=False, **kwargs)

    def popen(self, argv, env=None, **kwargs):
        """Start ``argv`` on the node (a long-running program such as the device plugin)."""
        return subprocess.Popen(self.command(argv), env=environment(self.state, self.sim_build, env), **kwargs)

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Run a program on a simulated GPU node.')
    sub = parser.add_subparsers(dest='cmd', required=True)
    run = sub.add_parser('run', help='run a program on the node')
    run.add_argument('--state', required=True)
    run.add_argument('--sim-build', default=os.environ.get('SIM_BUILD'), help='the simulator build (SIM_BUILD)')
    run.add_argument('--kubelet-dir')
    run.add_argument('argv', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if not args.sim_build:
        parser.error('--sim-build or SIM_BUILD is required')
    command = args.argv[1:] if args.argv[:1] == ['--'] else args.argv
    if not command:
        parser.error('no program given')
    with Node(args.state, args.sim_build, args.kubelet_dir) as node:
        proc = subprocess.run(node.command(command), env=environment(args.state, args.sim_build), check=False)
    return proc.returncode


if __name__ == '__main__':
    sys.exit(main())
