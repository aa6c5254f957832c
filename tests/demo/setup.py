#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start and stop the simulated fleet of ``make demo``.

  setup.py start   create the five GPU nodes of inventories/simulated in .build/demo/fleet/ (fake-NVML state
                   files in their starting state, interpreter wrappers) and start the simulated Kubernetes
                   cluster of tests/demo/cluster.yml with state dir .build/demo/k8s/
  setup.py stop    stop that cluster (a no-op when it is not running)

The starting state differs from the inventory's target on purpose: gpu-a100-1 and gpu-a30-1 have MIG off,
gpu-a100-2 and gpu-a100-dra-1 (served by NVIDIA's DRA driver) run an old all-1g.5gb partition (7 x 1g.5gb per GPU),
and gpu-h100-1 is already at its target (two 3g.40gb per GPU, boot checkpoint written, node labels as a finished
rollout leaves them), so the rollout has to change four nodes and skip one.  Needs the simulator build (``make simulator``, SIM_BUILD) and the
collection on PYTHONPATH (``make collection``); ``make demo-setup`` provides both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'k8ssim'))
import k8ssim  # noqa: E402  pylint: disable=wrong-import-position
from simfleet import build_fleet, simnode, write_root_shim  # noqa: E402  pylint: disable=wrong-import-position

DESCRIPTION = os.path.join(ROOT, 'tests', 'demo', 'cluster.yml')
DEMO = os.path.join(ROOT, '.build', 'demo')
FLEET = os.path.join(DEMO, 'fleet')
K8S = os.path.join(DEMO, 'k8s')
REPORT = os.path.join(DEMO, 'report')
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
DRIVER = '550.54.15'
CUDA = '12040'

# The nodes of inventories/simulated/hosts.yml, with their starting layout: None = MIG off, else the GPU
# instance profiles that `nvidia-smi mig -cgi ... -C` creates on every GPU.
NODES = {
    'gpu-a100-1': {'gpus': ['A100-SXM4-40GB:8'], 'start': None},
    'gpu-a100-2': {'gpus': ['A100-SXM4-40GB:8'], 'start': ['1g.5gb'] * 7},
    'gpu-h100-1': {'gpus': ['H100-SXM5-80GB:8'], 'start': ['3g.40gb'] * 2, 'checkpoint': True},
    'gpu-a30-1': {'gpus': ['A30:4'], 'start': None},
    # Four GPUs (an HGX A100 4-GPU board) rather than eight: the demo's fifth node costs less time that way.
    'gpu-a100-dra-1': {'gpus': ['A100-SXM4-40GB:4'], 'start': ['1g.5gb'] * 7},
}

# Written with the collection's own code, exactly as mig_layout writes it after a change.
CHECKPOINT_SCRIPT = '''
import sys
from ansible_collections.gpufleet.mig.plugins.module_utils._checkpoint import write_checkpoint
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
with Nvml() as nvml:
    node = nvml.read_host()
write_checkpoint(node, sys.argv[1])
'''


class DemoError(Exception):
    """An expected failure, reported without a traceback."""


def sim_build():
    path = os.environ.get('SIM_BUILD') or os.path.join(ROOT, '.build', 'sim')
    if not os.path.exists(os.path.join(path, 'bin', 'simnode')) or not os.path.exists(os.path.join(path, 'lib', 'libnvidia-ml.so.1')):
        raise DemoError('the GPU simulator is not built in %s: run `make simulator` (or `make demo-setup`)' % path)
    return path


def node_python():
    """The Python the simulated nodes run: the project's virtual environment (VENV_PYTHON), else this one."""
    return os.environ.get('VENV_PYTHON') or sys.executable


def _run(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise DemoError('%s failed (rc=%d): %s%s' % (' '.join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


def _nvidia_smi(build, state, *args):
    env = dict(os.environ, FAKE_NVML_STATE=state, FAKE_NVML_EUID='0', LD_LIBRARY_PATH=os.path.join(build, 'lib'))
    return _run([os.path.join(build, 'bin', 'nvidia-smi')] + list(args), env=env)


def create_fleet(build):
    """State files in their starting state, interpreter wrappers and checkpoints; returns build_fleet's hosts."""
    os.makedirs(FLEET)
    shim = write_root_shim(os.path.join(FLEET, 'node-python'), node_python())
    spec = dict((name, {'gpus': node['gpus'], 'driver': DRIVER, 'cuda': CUDA, 'python': shim}) for name, node in NODES.items())
    hosts = build_fleet(FLEET, spec, build, shim)
    for name, node in NODES.items():
        state = hosts[name]['sim_state']
        if node['start']:
            # What an operator did by hand earlier: MIG on (idle GPUs, so it takes effect at once), then partition.
            _nvidia_smi(build, state, '-mig', '1')
            _nvidia_smi(build, state, 'mig', '-cgi', ','.join(node['start']), '-C')
        if node.get('checkpoint'):
            env = dict(os.environ, PYTHONPATH=COLLECTIONS)
            _run([hosts[name]['ansible_python_interpreter'], '-c', CHECKPOINT_SCRIPT, os.path.join(FLEET, name + '.checkpoint.json')], env=env)
    return hosts


def cluster_description(build):
    """cluster.yml with absolute state file paths and the simulator's simnode filled in."""
    with open(DESCRIPTION) as handle:
        description = yaml.safe_load(handle)
    base = os.path.dirname(DESCRIPTION)
    for node in description.get('nodes') or []:
        if node.get('nvml_state'):
            node['nvml_state'] = os.path.normpath(os.path.join(base, node['nvml_state']))
            if not os.path.exists(node['nvml_state']):
                raise DemoError('cluster.yml node %s: no state file %s (is it one of %s?)' % (node['name'], node['nvml_state'], ', '.join(NODES)))
    description.setdefault('simnode', os.path.join(build, 'bin', 'simnode'))
    return description


def _server_info():
    path = os.path.join(K8S, 'server.json')
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def cluster_state():
    """The simulated cluster's full state (control API, which the audit log does not record)."""
    info = _server_info()
    if info is None:
        raise DemoError('the simulated cluster is not running (no %s): run `make demo-setup`' % os.path.join(K8S, 'server.json'))
    request = urllib.request.Request(info['url'] + '/_sim/state', headers={'Authorization': 'Bearer %s' % info['token']})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DemoError('the simulated cluster at %s does not answer (%s): run `make demo-setup`' % (info['url'], exc)) from exc


def _settled(state):
    pods = state['objects'].get('pods') or []
    return bool(pods) and all((pod.get('status') or {}).get('phase') == 'Running' for pod in pods)


def start_cluster(build, timeout=30):
    info = k8ssim.start(cluster_description(build), K8S)
    deadline = time.time() + timeout
    while not _settled(cluster_state()):
        if time.time() > deadline:
            raise DemoError('the simulated cluster did not settle within %ss; see %s' % (timeout, os.path.join(K8S, 'server.log')))
        time.sleep(0.2)
    return info


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def stop_cluster(quiet=False):
    info = _server_info()
    if info is None or not _pid_alive(info['pid']):
        if not quiet:
            print('demo: the simulated cluster is not running')
        return False
    k8ssim.stop(K8S)
    os.unlink(os.path.join(K8S, 'server.json'))
    print('demo: stopped the simulated cluster (pid %s)' % info['pid'])
    return True


def start():
    build = sim_build()
    stop_cluster(quiet=True)
    for path in (FLEET, K8S, REPORT):
        shutil.rmtree(path, ignore_errors=True)
    os.makedirs(REPORT)
    create_fleet(build)
    info = start_cluster(build)
    for name in NODES:
        gpus = json.loads(simnode(build, 'show', os.path.join(FLEET, name + '.state'), '--json'))['gpus']
        mig = 'on' if any(gpu['mig_mode_current'] for gpu in gpus) else 'off'
        print('demo: node %-14s %d GPU(s), MIG %s' % (name, len(gpus), mig))
    print('demo: simulated cluster at %s (kubeconfig %s)' % (info['url'], info['kubeconfig']))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('command', choices=('start', 'stop'))
    args = parser.parse_args(argv)
    try:
        if args.command == 'start':
            start()
        else:
            stop_cluster()
    except (DemoError, k8ssim.K8sSimError, RuntimeError, OSError) as exc:
        print('demo: %s failed: %s' % (args.command, exc), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
