# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated fleets and clusters for the benchmarks, under .build/bench/ (never .build/demo).

A fleet of N nodes cycles through three node kinds (8x A100 40GB, 8x H100 80GB, 4x A30). Each node is built with
tests/integration/simfleet.py (a fake-NVML state file and an interpreter wrapper used as ansible_python_interpreter),
put into its starting layout by prepare_nodes.py, and registered in a tests/k8ssim cluster whose node labels and device
plugin ConfigMap say what a finished rollout leaves. ``converged`` fleets start at their target (the rollout must
change nothing); ``changing`` fleets start at another layout, so the rollout repartitions every node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'k8ssim'))
# pylint: disable=wrong-import-position
from simfleet import build_fleet, write_inventory, write_root_shim  # noqa: E402

DRIVER = '550.54.15'
CUDA = '12040'

# The text the collection's device_plugin_config module writes for these configs (yaml.safe_dump, sorted keys), so a
# converged node's ConfigMap is up to date.
PLUGIN_CONFIGS = {
    'none': {'version': 'v1', 'flags': {'migStrategy': 'none'}},
    'mixed': {'version': 'v1', 'flags': {'migStrategy': 'mixed'}},
}
PLUGIN_CONFIG_TEXT = {
    'none': 'flags:\n  migStrategy: none\nversion: v1\n',
    'mixed': 'flags:\n  migStrategy: mixed\nversion: v1\n',
}


def _entry(devices):
    return [{'devices': 'all', 'mig-enabled': True, 'mig-devices': devices}]


# kind -> GPUs, target layout (name, entries), starting layout of a changing fleet (name, entries), the MIG resource a
# workload of that kind uses in both layouts.
KINDS = {
    'a100': {'gpus': ['A100-SXM4-40GB:8'], 'gpu_count': 8,
             'target': ('all-balanced', _entry({'1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1})),
             'start': ('all-1g.5gb', _entry({'1g.5gb': 7})),
             'resource': 'nvidia.com/mig-1g.5gb'},
    'h100': {'gpus': ['H100-SXM5-80GB:8'], 'gpu_count': 8,
             'target': ('all-3g.40gb', _entry({'3g.40gb': 2})),
             'start': ('3g.40gb-and-1g.10gb', _entry({'3g.40gb': 1, '1g.10gb': 4})),
             'resource': 'nvidia.com/mig-3g.40gb'},
    'a30': {'gpus': ['A30:4'], 'gpu_count': 4,
            'target': ('all-2g.12gb', _entry({'2g.12gb': 2})),
            'start': ('2g.12gb-and-1g.6gb', _entry({'2g.12gb': 1, '1g.6gb': 2})),
            'resource': 'nvidia.com/mig-2g.12gb'},
}
KIND_ORDER = ('a100', 'h100', 'a30')


def sim_build():
    return os.environ.get('SIM_BUILD') or os.path.join(ROOT, '.build', 'sim')


def node_python():
    return os.environ.get('VENV_PYTHON') or sys.executable


class Fleet(object):
    """A built fleet: its directory, hosts (inventory entries), kinds and GPU counts."""

    def __init__(self, directory, hosts, kinds):
        self.directory = directory
        self.hosts = hosts
        self.kinds = kinds

    @property
    def names(self):
        return sorted(self.hosts)

    @property
    def gpu_count(self):
        return sum(KINDS[kind]['gpu_count'] for kind in self.kinds.values())

    def states(self):
        return [self.hosts[name]['sim_state'] for name in self.names]


def build(directory, count, converged, prefix='node'):
    """Create ``count`` nodes in ``directory`` (emptied first), each in its target (converged) or starting layout."""
    directory = os.path.abspath(directory)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    shim = write_root_shim(os.path.join(directory, 'node-python'), node_python())
    spec, kinds = {}, {}
    for number in range(count):
        kind = KIND_ORDER[number % len(KIND_ORDER)]
        name = '%s-%s-%03d' % (prefix, kind, number)
        kinds[name] = kind
        spec[name] = {'gpus': KINDS[kind]['gpus'], 'driver': DRIVER, 'cuda': CUDA, 'python': shim}
    hosts = build_fleet(directory, spec, sim_build(), shim)
    jobs = [{'state': hosts[name]['sim_state'], 'layout': KINDS[kind]['target' if converged else 'start'][1],
             'checkpoint': hosts[name]['sim_state'] + '.checkpoint.json'}
            for name, kind in sorted(kinds.items())]
    jobs_path = os.path.join(directory, 'prepare.json')
    with open(jobs_path, 'w') as handle:
        json.dump(jobs, handle)
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(sim_build(), 'lib'))
    proc = subprocess.run([node_python(), os.path.join(HERE, 'prepare_nodes.py'), jobs_path], env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError('preparing the simulated nodes failed: %s%s' % (proc.stdout, proc.stderr[-4000:]))
    # A fresh call log per node: the measurements count only the calls the measured runs make.
    for host in hosts.values():
        open(host['sim_state'] + '.calls', 'w').close()
    return Fleet(directory, hosts, kinds)


def cluster_description(fleet, converged, tick=0.2, plugin_restart_delay=0.3, pod_termination_grace=0.3, workloads=False):
    """A k8ssim description whose nodes are the fleet's, labelled as a finished rollout leaves them.

    With ``workloads``, every node runs one pod that uses a MIG device of both of its layouts and has no disruption
    budget, pinned to its node by a node selector: its drain waits exactly the pod's termination grace, and its
    replacement stays Pending until the node is uncordoned, so it never lands on a node that is drained later.
    """
    nodes = []
    for name in fleet.names:
        kind = fleet.kinds[name]
        config_name = KINDS[kind]['target' if converged else 'start'][0]
        nodes.append({
            'name': name,
            'labels': {'nvidia.com/gpu.present': 'true', 'bench/node': name, 'nvidia.com/device-plugin.config': 'mixed',
                       'nvidia.com/mig.config': config_name, 'nvidia.com/mig.config.state': 'success'},
            'cpu': '96', 'memory': '1024Gi',
            'nvml_state': fleet.hosts[name]['sim_state'],
        })
    description = {
        'tick': tick,
        'time_scale': 0.1,
        'pod_start_delay': 0.2,
        'simnode': os.path.join(sim_build(), 'bin', 'simnode'),
        'nodes': nodes,
        'device_plugin': {
            'namespace': 'gpu-operator',
            'daemonset': 'nvidia-device-plugin-daemonset',
            'configmap': 'nvidia-device-plugin-configs',
            'default_config': 'none',
            'configs': dict(PLUGIN_CONFIG_TEXT),
            'restart_delay': plugin_restart_delay,
            'termination_grace': 0.1,
        },
    }
    if workloads:
        description['workloads'] = []
        for name in fleet.names:
            resource = KINDS[fleet.kinds[name]]['resource']
            if resource:
                description['workloads'].append({
                    'name': 'infer-%s' % name, 'namespace': 'ml', 'replicas': 1, 'resources': {resource: 1}, 'node': name,
                    'node_selector': {'bench/node': name}, 'start_delay': 0.2, 'termination_grace': pod_termination_grace,
                })
    return description


def inventory(path, fleet, kubeconfig, report_dir, extra=None):
    """An inventory with the fleet in group ``simulated`` and every rollout variable the benchmarks need."""
    hosts = {}
    for name in fleet.names:
        kind = fleet.kinds[name]
        host = dict(fleet.hosts[name])
        host.update(gpufleet_mig_config_name=KINDS[kind]['target'][0], gpufleet_mig_layout=KINDS[kind]['target'][1],
                    gpufleet_mig_checkpoint=host['sim_state'] + '.checkpoint.json')
        hosts[name] = host
    variables = {
        'gpufleet_k8s_kubeconfig': kubeconfig,
        'gpufleet_mig_become': False,
        'gpufleet_mig_install_restore': False,
        'gpufleet_mig_drain_timeout': 120,
        # The bench's GPU pods are pinned to their nodes, whose resources change: the capacity check would refuse.
        'gpufleet_mig_allow_capacity_loss': True,
        'gpufleet_mig_drain_retry_delay': 1,
        'gpufleet_mig_device_plugin_namespace': 'gpu-operator',
        'gpufleet_mig_device_plugin_configmap': 'nvidia-device-plugin-configs',
        'gpufleet_mig_device_plugin_config': 'mixed',
        'gpufleet_mig_device_plugin_configs': dict(PLUGIN_CONFIGS),
        'gpufleet_mig_report_dir': report_dir,
    }
    variables.update(extra or {})
    return write_inventory(path, hosts, node_python(), variables)
