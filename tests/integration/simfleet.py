# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build a simulated fleet of GPU nodes for integration tests.

Each node is a fake-NVML state file made with the simulator's ``simnode`` CLI, plus a small
interpreter wrapper that sets the node's environment (FAKE_NVML_STATE, LD_LIBRARY_PATH and a
PATH with the fake nvidia-smi) before it starts Python.  The wrapper becomes the host's
``ansible_python_interpreter``, so Ansible runs the unmodified modules with the real pynvml
against that node, and production code needs no hook at all.  A node without a driver gets a
wrapper without the fake library, exactly like a host where libnvidia-ml.so.1 is absent.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess


def simnode(sim_build, *args):
    """Run the simulator CLI and return its stdout; raise with its stderr on failure."""
    cmd = [os.path.join(sim_build, 'bin', 'simnode')] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s failed (rc=%d): %s%s' % (' '.join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


def write_root_shim(path, python):
    """A Python launcher for simulated nodes that the fake NVML treats as root (it checks the effective uid), whoever
    runs the tests; give it as a node's ``python`` to build_fleet."""
    with open(path, 'w') as handle:
        handle.write('#!/bin/sh\n# the fake NVML checks the effective uid; the simulated nodes run as "root"\n')
        handle.write('export FAKE_NVML_EUID=0\nexec %s "$@"\n' % shlex.quote(python))
    os.chmod(path, 0o755)
    return path


def build_fleet(directory, nodes, sim_build, python):
    """Create the nodes described by ``nodes`` (name -> spec) in ``directory``; return inventory hosts.

    A spec has ``gpus`` (list of ``MODEL[:COUNT]``), ``driver`` (a version, or None for a node
    without a driver library), optional ``cuda``, ``unloaded`` (driver installed, module not loaded)
    and ``python`` (the node's interpreter, when it is not ``python``).
    """
    os.makedirs(directory, exist_ok=True)
    hosts = {}
    for name, spec in nodes.items():
        state = os.path.join(directory, name + '.state')
        env = {'PATH': '%s:%s' % (os.path.join(sim_build, 'bin'), os.environ.get('PATH', '/usr/bin:/bin'))}
        if spec.get('driver'):
            args = ['create', state, '--name', name, '--driver', spec['driver'], '--force']
            if spec.get('cuda'):
                args += ['--cuda', spec['cuda']]
            for gpu in spec['gpus']:
                args += ['--gpu', gpu]
            simnode(sim_build, *args)
            if spec.get('unloaded'):
                simnode(sim_build, 'driver', state, '--unload')
            env['FAKE_NVML_STATE'] = state
            env['LD_LIBRARY_PATH'] = os.path.join(sim_build, 'lib')
        wrapper = os.path.join(directory, name + '-python')
        with open(wrapper, 'w') as handle:
            handle.write('#!/bin/sh\n# simulated GPU node %s\n' % name)
            # A node without a driver must not inherit the controller's view of the fake library.
            handle.write('unset FAKE_NVML_STATE LD_LIBRARY_PATH\n')
            for key, value in sorted(env.items()):
                handle.write('export %s=%s\n' % (key, shlex.quote(value)))
            handle.write('exec %s "$@"\n' % shlex.quote(spec.get('python') or python))
        os.chmod(wrapper, 0o755)
        hosts[name] = {
            'ansible_connection': 'local',
            'ansible_python_interpreter': wrapper,
            'sim_state': state if spec.get('driver') else None,
        }
    return hosts


def write_inventory(path, hosts, controller_python, extra_vars=None):
    """Write an inventory with ``localhost`` (the controller) and the simulated nodes in group ``simulated``."""
    inventory = {
        'all': {
            'vars': dict(extra_vars or {}),
            'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': controller_python}},
            'children': {'simulated': {'hosts': hosts}},
        }
    }
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path
