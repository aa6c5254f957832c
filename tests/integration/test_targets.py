# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every integration target through ansible-playbook against a fresh simulated fleet.

A target is a role under ``targets/``; it runs on the controller (localhost) and delegates the
module tasks to the simulated nodes, asserting on what the modules return.  Each target gets its
own fleet, so targets cannot disturb one another.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from simfleet import build_fleet, write_inventory

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'k8ssim'))
from k8ssim import Cluster  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = sorted(
    name for name in os.listdir(os.path.join(HERE, 'targets'))
    if os.path.isfile(os.path.join(HERE, 'targets', name, 'tasks', 'main.yml'))
)

# The standard simulated fleet: one node per GPU family, plus the broken ones.
FLEET = {
    'sim-a100': {'gpus': ['A100-SXM4-40GB:2'], 'driver': '550.54.15', 'cuda': '12040'},
    'sim-h100': {'gpus': ['H100-SXM5-80GB:2'], 'driver': '550.54.15', 'cuda': '12040'},
    'sim-a30': {'gpus': ['A30:2'], 'driver': '550.54.15', 'cuda': '12040'},
    'sim-l40s': {'gpus': ['L40S:1'], 'driver': '550.54.15', 'cuda': '12040'},
    'sim-mixed-old': {'gpus': ['A100-SXM4-40GB:1', 'H100-SXM5-80GB:1'], 'driver': '470.82.01', 'cuda': '11040'},
    'sim-unloaded': {'gpus': ['A100-SXM4-40GB:1'], 'driver': '550.54.15', 'unloaded': True},
    'sim-nodriver': {'driver': None},
    # A node whose Python lacks nvidia-ml-py; its interpreter is set by the test.
    'sim-nopynvml': {'gpus': ['A30:1'], 'driver': '550.54.15'},
}


@pytest.fixture(name='bare_python', scope='session')
def bare_python_fixture(tmp_path_factory):
    """A Python with no third-party packages, like a node where nvidia-ml-py was never installed."""
    venv = tmp_path_factory.mktemp('bare-venv')
    subprocess.run([_require_env('VENV_PYTHON'), '-m', 'venv', '--without-pip', str(venv)], check=True)
    return str(venv / 'bin' / 'python')


def _require_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail('%s is not set: run the integration tests through `make integration`' % name)
    return value


@pytest.mark.parametrize('target', TARGETS)
def test_target(target, tmp_path, bare_python):
    sim_build = _require_env('SIM_BUILD')
    python = _require_env('VENV_PYTHON')
    fleet = dict(FLEET)
    fleet['sim-nopynvml'] = dict(FLEET['sim-nopynvml'], python=bare_python)
    hosts = build_fleet(str(tmp_path / 'fleet'), fleet, sim_build, python)
    extra = {'simnode': os.path.join(sim_build, 'bin', 'simnode')}
    # A target whose aliases say gpufleet/k8s gets a simulated Kubernetes cluster whose nodes are the fleet's.
    with open(os.path.join(HERE, 'targets', target, 'aliases')) as handle:
        needs_k8s = 'gpufleet/k8s' in handle.read().split()
    description = os.path.join(HERE, 'targets', target, 'cluster.yml')
    if not os.path.exists(description):
        description = os.path.join(HERE, 'cluster.yml')
    if not needs_k8s:
        _run_playbook(target, tmp_path, hosts, python, extra)
        return
    with open(description) as handle:
        cluster_yaml = handle.read().replace('@FLEET@', str(tmp_path / 'fleet')).replace('@SIMNODE@', extra['simnode'])
    (tmp_path / 'cluster.yml').write_text(cluster_yaml)
    with Cluster(str(tmp_path / 'cluster.yml'), str(tmp_path / 'k8s')) as cluster:
        extra.update(kubeconfig=cluster.kubeconfig, k8s_url=cluster.url, k8s_token=cluster.token,
                     k8ssim=os.path.join(HERE, '..', 'k8ssim', 'k8ssim.py'), k8s_state_dir=str(tmp_path / 'k8s'))
        _run_playbook(target, tmp_path, hosts, python, extra)


def _run_playbook(target, tmp_path, hosts, python, extra):
    inventory = write_inventory(str(tmp_path / 'inventory.json'), hosts, python, extra)
    playbook = tmp_path / 'play.yml'
    playbook.write_text(
        '- name: Integration target %s\n'
        '  hosts: localhost\n'
        '  gather_facts: false\n'
        '  roles:\n'
        '    - role: %s\n' % (target, os.path.join(HERE, 'targets', target))
    )
    env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_HOME=str(tmp_path / 'ansible-home'))
    playbook_cmd = os.path.join(os.path.dirname(python), 'ansible-playbook')
    proc = subprocess.run([playbook_cmd, '-i', inventory, str(playbook), '--diff'],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, 'target %s failed:\n%s\n%s' % (target, proc.stdout[-20000:], proc.stderr[-5000:])
