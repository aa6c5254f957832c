# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node harness gives a program the host view of one simulated node, and only that program."""

from __future__ import annotations

import os
import subprocess

import yaml


def simnode(sim_build, *args):
    return subprocess.run([os.path.join(sim_build, 'bin', 'simnode')] + [str(a) for a in args],
                          capture_output=True, text=True, check=True).stdout


def test_view_follows_the_node_state(sim_build, node_factory, tmp_path, nvidia_tools):
    state = tmp_path / 'n1.state'
    simnode(sim_build, 'create', state, '--name', 'n1', '--gpu', 'A100-SXM4-40GB:2', '--gpu', 'H100-SXM5-80GB',
            '--driver', '550.54.15', '--mig-enabled', '0')
    node = node_factory(state)
    proc = node.run(['sh', '-c', 'cat /proc/modules; ls /sys/bus/pci/devices; cat /sys/bus/pci/devices/*/device; '
                     'readlink -f /sys/bus/pci/devices/0000:47:00.0/driver; cat /proc/self/comm; nvidia-smi -L'])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[0] == 'nvidia'
    assert lines[2:5] == ['0000:07:00.0', '0000:0f:00.0', '0000:47:00.0']
    assert lines[5:8] == ['0x20b0', '0x20b0', '0x2330']
    assert lines[8] == '/sys/bus/pci/drivers/nvidia'
    assert lines[9] == 'cat'   # /proc/self still resolves to the reading process
    assert 'GPU 2: NVIDIA H100 80GB HBM3' in proc.stdout
    # Nothing leaks out of the namespace.
    assert not os.path.exists('/proc/driver/nvidia-caps/mig-minors')

    # mig-parted (NVIDIA's code) enumerates the same GPUs through sysfs and NVML.
    proc = node.run([os.path.join(nvidia_tools, 'nvidia-mig-parted'), 'export'])
    assert proc.returncode == 0, proc.stderr
    exported = yaml.safe_load(proc.stdout)['mig-configs']['current']
    devices = sorted(d for entry in exported for d in entry['devices'])
    assert devices == [0, 1, 2]

    # The capability files appear for instances that exist when the program starts.
    env = dict(os.environ, FAKE_NVML_STATE=str(state), FAKE_NVML_EUID='0')
    subprocess.run([os.path.join(sim_build, 'bin', 'nvidia-smi'), 'mig', '-cgi', '9', '-C', '-i', '0'], env=env,
                   check=True, capture_output=True)
    proc = node.run(['sh', '-c', 'ls /proc/driver/nvidia/capabilities/gpu0/mig/; '
                     'cat /proc/driver/nvidia/capabilities/gpu0/mig/gi*/ci0/access'])
    assert proc.returncode == 0, proc.stderr
    gi_dir = proc.stdout.split()[0]
    minors = dict(line.rsplit(' ', 1) for line in node_files_minors(node))
    assert 'DeviceFileMinor: %s' % minors['gpu0/%s/ci0/access' % gi_dir] in proc.stdout


def node_files_minors(node):
    proc = node.run(['cat', '/proc/driver/nvidia-caps/mig-minors'])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_refresh_shows_a_running_program_the_instances_that_exist_now(sim_build, node_factory, tmp_path):
    state = tmp_path / 'n1.state'
    simnode(sim_build, 'create', state, '--name', 'n1', '--gpu', 'A100-SXM4-40GB:1', '--driver', '550.54.15', '--mig-enabled', 'all')
    node = node_factory(state)
    script = 'ls /proc/driver/nvidia/capabilities; read line; ls /proc/driver/nvidia/capabilities/gpu0/mig'
    proc = node.popen(['sh', '-c', script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'mig'   # no GPU instance yet: only the global mig/ capabilities
    env = dict(os.environ, FAKE_NVML_STATE=str(state), FAKE_NVML_EUID='0')
    subprocess.run([os.path.join(sim_build, 'bin', 'nvidia-smi'), 'mig', '-cgi', '9', '-C', '-i', '0'], env=env,
                   check=True, capture_output=True)
    node.refresh(proc.pid)
    out = proc.communicate('go\n', timeout=10)[0]
    assert proc.returncode == 0
    gi_dirs = out.split()
    assert len(gi_dirs) == 1 and gi_dirs[0].startswith('gi'), out
    assert not os.path.exists('/proc/driver/nvidia/capabilities/gpu0')
