# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated fleet and cluster for the reliability tests, and the checks of what a rollout must never lose.

A :class:`World` is a set of simulated GPU nodes (fake-NVML state files reached through interpreter wrappers,
tests/integration/simfleet.py) in a simulated Kubernetes cluster (tests/k8ssim) with GPU workloads under
PodDisruptionBudgets and a spare GPU node that takes the evicted pods. It writes the rollout's inventory for a
set of per-node targets, runs ``playbooks/rollout.yml`` with ``ansible-playbook`` (optionally killing it), and
takes snapshots of the GPUs and the cluster.

:func:`check_run` compares two snapshots and says, per node, what happened (``converged``, ``failed`` with a
reason on the node, ``untouched``, or ``pending`` when the API server itself was down) and what was lost: a GPU
that is in neither its old nor its new layout, a cordon without a visible reason, a broken disruption budget, a
workload pod deleted outside the Eviction API, or a report that disagrees with the node.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'k8ssim'))
import k8ssim  # noqa: E402  pylint: disable=wrong-import-position
from simfleet import build_fleet, simnode, write_root_shim  # noqa: E402  pylint: disable=wrong-import-position

DRIVER = '550.54.15'
CUDA = '12040'
PLUGIN_NAMESPACE = 'gpu-operator'
# NVIDIA's DRA driver as its chart installs it (tests/k8ssim README, "Dynamic Resource Allocation").
DRA_NAMESPACE = 'dra-driver-nvidia-gpu'
DRA_DRIVER = 'gpu.nvidia.com'
# The ResourceClaimTemplate the DRA nodes' GPU pods claim a whole GPU with (the chart's DeviceClass gpu.nvidia.com).
CLAIM_TEMPLATE = 'whole-gpu'
CORDON_ANNOTATION = 'gpufleet.mig/cordoned'
FAILURE_ANNOTATION = 'gpufleet.mig/failure-reason'
STATE_LABEL = 'nvidia.com/mig.config.state'
CONFIG_LABEL = 'nvidia.com/mig.config'

# Two layouts per model (the same on every GPU of a node) and MIG off: the targets a node moves between.
LAYOUTS = {
    'A100-SXM4-40GB': {'a': {'1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1}, 'b': {'3g.20gb': 2}},
    'H100-SXM5-80GB': {'a': {'1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1}, 'b': {'3g.40gb': 2}},
    'A30': {'a': {'1g.6gb': 4}, 'b': {'2g.12gb': 2}},
}
SHORT = {'A100-SXM4-40GB': 'a100', 'H100-SXM5-80GB': 'h100', 'A30': 'a30'}
# The device plugin configs the rollout is given, and the ConfigMap the cluster starts with: written as the
# collection's device_plugin_config writes them, so that the rollout finds them up to date.
PLUGIN_CONFIG_VARS = {'none': {'version': 'v1', 'flags': {'migStrategy': 'none'}}, 'mixed': {'version': 'v1', 'flags': {'migStrategy': 'mixed'}}}
PLUGIN_CONFIGS = {'none': 'flags:\n  migStrategy: none\nversion: v1\n', 'mixed': 'flags:\n  migStrategy: mixed\nversion: v1\n'}

# Applies a layout with the collection's own planner and executor, and writes the checkpoint, as mig_layout does.
APPLY_SCRIPT = '''
import json, sys
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import apply_with_rollback, canonical_gpu
from ansible_collections.gpufleet.mig.plugins.module_utils._catalog import model_by_key
from ansible_collections.gpufleet.mig.plugins.module_utils._checkpoint import write_checkpoint
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import parse_inline_layout
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import plan_gpu
with Nvml() as nvml:
    for index in range(nvml.call('nvmlDeviceGetCount')):
        nvml.set_mig_mode(index, True)
    node = nvml.read_host()
    for index, target in sorted(targets_for_gpus(parse_inline_layout(json.loads(sys.argv[1])), node.gpus, node.driver_version).items()):
        model = model_by_key(target.model)
        gpu = canonical_gpu(node.gpus[index], model)
        apply_with_rollback(nvml, model, gpu, plan_gpu(model, gpu, target.layout).after)
    write_checkpoint(nvml.read_host(), sys.argv[2])
'''


class WorldError(Exception):
    """The simulated world could not be set up or driven (not a finding about the collection)."""


def config_name(model, target):
    return 'all-disabled' if target == 'off' else '%s-%s' % (SHORT[model], target)


def layout_entries(model, target):
    if target == 'off':
        return [{'devices': 'all', 'mig-enabled': False}]
    return [{'devices': 'all', 'mig-enabled': True, 'mig-devices': dict(LAYOUTS[model][target])}]


def exact_layout(gpu):
    """A GPU as (MIG mode, instances with placements and compute instances): what 'old layout' must match exactly."""
    return (gpu['mig_mode_current'], sorted(
        (gi['profile'], gi['start'], gi['size'], sorted((ci['profile'], ci['start'], ci['size']) for ci in gi['compute_instances']))
        for gi in gpu['gpu_instances']))


def matches_target(gpu, model, target):
    """Whether a GPU has the target's MIG mode and MIG devices (placements are the planner's choice)."""
    if target == 'off':
        return not gpu['mig_mode_current'] and not gpu['gpu_instances']
    if not gpu['mig_mode_current']:
        return False
    # One compute instance spanning the GPU instance: the fake names it like its GPU instance (no "Nc." prefix).
    if any(len(gi['compute_instances']) != 1 or gi['compute_instances'][0]['profile'] != gi['profile'] for gi in gpu['gpu_instances']):
        return False
    return collections.Counter(gi['profile'] for gi in gpu['gpu_instances']) == collections.Counter(LAYOUTS[model][target])


def dra_devices(gpus):
    """The devices NVIDIA's DRA driver publishes for GPUs as the fake NVML shows them (``simnode show --json``), sorted:
    ``gpu-<minor>`` for a GPU with MIG off, else ``gpu-<minor>-mig-<profile without dots>-<GI profile id>-<start>`` per GPU
    instance (nothing for a MIG-enabled GPU without instances). The fake's minor number is the GPU's index."""
    names = []
    for gpu in gpus:
        if not gpu['mig_mode_current']:
            names.append('gpu-%d' % gpu['index'])
            continue
        names.extend('gpu-%d-mig-%s-%d-%d' % (gpu['index'], gi['profile'].replace('.', '').replace('+', '-'), gi['profile_id'], gi['start'])
                     for gi in gpu['gpu_instances'])
    return sorted(names)


def expected_resources(model, target, count):
    """What the device plugin advertises under the mixed strategy for ``count`` GPUs at ``target``."""
    if target == 'off':
        return {'nvidia.com/gpu': str(count)}
    return dict(('nvidia.com/mig-%s' % profile, str(n * count)) for profile, n in LAYOUTS[model][target].items())


def _process_tree(root):
    """``root`` and every process descending from it, from /proc (parents before children)."""
    children = collections.defaultdict(list)
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as handle:
                # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after its last ')'.
                ppid = int(handle.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(entry))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        tree.append(pid)
        queue.extend(children.get(pid, ()))
    return tree


def kill_tree(root):
    """SIGKILL ``root`` and all its descendants at once, as a power cut would: stopped first, so none forks or reparents
    to init in between, then killed."""
    stopped = []
    for dummy in range(3):
        fresh = [pid for pid in _process_tree(root) if pid not in stopped]
        if not fresh:
            break
        for pid in fresh:
            try:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            except ProcessLookupError:
                pass
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class RunResult(object):
    """One ansible-playbook run."""

    def __init__(self, rc, seconds, log, killed=False, kill_after=None):
        self.rc = rc
        self.seconds = seconds
        self.log = log
        self.killed = killed
        self.kill_after = kill_after

    def tail(self, chars=6000):
        with open(self.log) as handle:
            return handle.read()[-chars:]


class World(object):
    """Simulated GPU nodes, a simulated cluster with workloads, and the rollout over them.

    ``nodes`` maps a node name to ``(model, gpu count, start)`` or ``(model, gpu count, start, allocator)``; start is
    ``off`` (MIG off, device plugin on ``none``, two GPU pods under a budget of minAvailable 1) or a layout key (MIG on
    with that layout, plugin on ``mixed``, node labelled as a finished rollout leaves it, one CPU pod that the GPU-aware
    drain leaves alone). Allocator ``dra``: NVIDIA's DRA driver (static MIG) hands the node's GPUs to Kubernetes instead
    of the device plugin, and the GPU pods of a node that starts ``off`` hold a whole GPU each through a ResourceClaim;
    a spare DRA node (spare-dra) takes them when they are evicted.
    """

    def __init__(self, root, nodes, spare_gpus=8, forks=None):
        self.root = os.path.abspath(root)
        self.nodes = dict((name, {'model': spec[0], 'count': spec[1], 'start': spec[2], 'allocator': spec[3] if len(spec) > 3 else 'device-plugin'})
                          for name, spec in nodes.items())
        self.spare_gpus = spare_gpus
        self.forks = forks or len(self.nodes)
        self.fleet_dir = os.path.join(self.root, 'fleet')
        self.report_dir = os.path.join(self.root, 'report')
        self.inventory_path = os.path.join(self.root, 'inventory.json')
        self.sim_build = os.environ.get('SIM_BUILD') or os.path.join(ROOT, '.build', 'sim')
        self.python = os.environ.get('VENV_PYTHON') or sys.executable
        self.hosts = {}
        self.cluster = None
        self.runs = 0
        # node -> (listening or bound socket, its path): a kubelet pod-resources socket that fails (pod_resources_fault).
        self.pod_resources = {}
        self.pod_resources_dir = None
        # node -> the simulated kubelet's own pod-resources socket (DRA nodes use it)
        self.pod_resources_sockets = {}

    # -- setting up ----------------------------------------------------------------------------------

    def start(self):
        if not os.path.exists(os.path.join(self.sim_build, 'bin', 'simnode')):
            raise WorldError('the GPU simulator is not built in %s (make simulator)' % self.sim_build)
        os.makedirs(self.report_dir, exist_ok=True)
        shim = write_root_shim(os.path.join(self.root, 'node-python'), self.python)
        spec = dict((name, {'gpus': ['%s:%d' % (node['model'], node['count'])], 'driver': DRIVER, 'cuda': CUDA, 'python': shim})
                    for name, node in self.nodes.items())
        spec['spare-1'] = {'gpus': ['L40S:%d' % self.spare_gpus], 'driver': DRIVER, 'cuda': CUDA, 'python': shim}
        if self.dra_nodes():
            spec['spare-dra'] = {'gpus': ['L40S:%d' % self.spare_gpus], 'driver': DRIVER, 'cuda': CUDA, 'python': shim}
        self.hosts = build_fleet(self.fleet_dir, spec, self.sim_build, shim)
        for name, node in self.nodes.items():
            if node['start'] != 'off':
                self._run([self.hosts[name]['ansible_python_interpreter'], '-c', APPLY_SCRIPT,
                           json.dumps(layout_entries(node['model'], node['start'])), self.checkpoint(name)],
                          env=dict(os.environ, PYTHONPATH=self._collections()))
        self.cluster = k8ssim.Cluster(self._description(), os.path.join(self.root, 'k8s'))
        self.cluster.__enter__()
        self.cluster.wait_for(self._settled, timeout=60, message='the simulated cluster to settle')
        self.pod_resources_sockets = self.cluster.dump().get('pod_resources_sockets') or {}
        self.cluster.control('DELETE', '/_sim/pdb-low-water')
        self.cluster.clear_audit()
        return self

    def dra_nodes(self):
        return sorted(name for name, node in self.nodes.items() if node['allocator'] == 'dra')

    def run_gpu_workload(self, node, name, timeout=30):
        """A one-replica GPU ReplicaSet pinned to ``node`` (nodeSelector), created through the API, and running there.

        Evicted GPU pods move to spare-1 (spare-dra) and stay there: a drain late in a plan needs a workload put back on its
        node. On a DRA node the pod holds a whole GPU through a ResourceClaim made from the namespace's template.
        """
        namespace = 'ns-' + node
        labels = {'app': name}
        pod_spec = {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': 3,
                    'containers': [{'name': 'main', 'image': 'cuda', 'resources': {'limits': {'nvidia.com/gpu': '1'}}}]}
        if self.nodes[node]['allocator'] == 'dra':
            pod_spec['resourceClaims'] = [{'name': 'gpu', 'resourceClaimTemplateName': CLAIM_TEMPLATE}]
            pod_spec['containers'][0]['resources'] = {'claims': [{'name': 'gpu'}]}
        body = {'apiVersion': 'apps/v1', 'kind': 'ReplicaSet', 'metadata': {'name': name, 'namespace': namespace, 'labels': labels},
                'spec': {'replicas': 1, 'selector': {'matchLabels': labels}, 'template': {'metadata': {'labels': labels}, 'spec': pod_spec}}}
        self.cluster.control('POST', '/apis/apps/v1/namespaces/%s/replicasets' % namespace, body)

        def running(state):
            return any(pod['metadata']['namespace'] == namespace and (pod['metadata'].get('labels') or {}).get('app') == name
                       and pod['spec'].get('nodeName') == node and (pod.get('status') or {}).get('phase') == 'Running'
                       for pod in state['objects'].get('pods') or [])
        self.cluster.wait_for(running, timeout=timeout, message='GPU workload %s to run on %s' % (name, node))

    def stop(self):
        self.clear_pod_resources_faults()
        if self.pod_resources_dir:
            shutil.rmtree(self.pod_resources_dir, ignore_errors=True)
            self.pod_resources_dir = None
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @staticmethod
    def _collections():
        return os.environ.get('PYTHONPATH') or os.path.join(ROOT, '.build', 'collections')

    @staticmethod
    def _run(cmd, env=None):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise WorldError('%s failed (rc=%d): %s%s' % (' '.join(cmd[:3]), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc.stdout

    def state(self, name):
        return self.hosts[name]['sim_state']

    def checkpoint(self, name):
        return self.state(name) + '.checkpoint.json'

    def _description(self):
        nodes, workloads, pdbs, templates = [], [], [], []
        for name, node in sorted(self.nodes.items()):
            labels = {'nvidia.com/gpu.present': 'true'}
            if node['start'] != 'off':
                labels.update({'nvidia.com/device-plugin.config': 'mixed', CONFIG_LABEL: config_name(node['model'], node['start']),
                               STATE_LABEL: 'success'})
            nodes.append({'name': name, 'labels': labels, 'cpu': '64', 'memory': '512Gi', 'nvml_state': self.state(name),
                          'allocator': node['allocator']})
            namespace = 'ns-' + name
            if node['allocator'] == 'dra':
                templates.append({'name': CLAIM_TEMPLATE, 'namespace': namespace, 'spec': {'spec': {'devices': {'requests': [
                    {'name': 'gpu', 'exactly': {'deviceClassName': DRA_DRIVER}}]}}}})
            if node['start'] == 'off':
                gpu = ({'resource_claims': [{'name': 'gpu', 'resourceClaimTemplateName': CLAIM_TEMPLATE}]} if node['allocator'] == 'dra'
                       else {'resources': {'nvidia.com/gpu': 1}})
                workloads.append(dict(gpu, name='gpu-' + name, namespace=namespace, replicas=2, node=name, start_delay=0.5,
                                      termination_grace=0.3))
                pdbs.append({'name': 'gpu-%s-pdb' % name, 'namespace': namespace, 'selector': {'matchLabels': {'app': 'gpu-' + name}},
                             'minAvailable': 1})
            else:
                workloads.append({'name': 'cpu-' + name, 'namespace': namespace, 'replicas': 1, 'resources': {'cpu': '1'}, 'node': name})
        nodes.append({'name': 'spare-1', 'labels': {'nvidia.com/gpu.present': 'true'}, 'cpu': '64', 'memory': '512Gi',
                      'nvml_state': self.state('spare-1')})
        extra = {}
        if self.dra_nodes():
            nodes.append({'name': 'spare-dra', 'labels': {'nvidia.com/gpu.present': 'true'}, 'cpu': '64', 'memory': '512Gi',
                          'nvml_state': self.state('spare-dra'), 'allocator': 'dra'})
            extra = {'dra_driver': {'restart_delay': 0.3, 'termination_grace': 0.1, 'crashloop_backoff': 1.0},
                     'resource_claim_templates': templates}
        return dict(extra, **{
            'tick': 0.1, 'time_scale': 0.1, 'pod_start_delay': 0.2,
            'simnode': os.path.join(self.sim_build, 'bin', 'simnode'),
            'nodes': nodes,
            'device_plugin': {'namespace': PLUGIN_NAMESPACE, 'daemonset': 'nvidia-device-plugin-daemonset',
                              'configmap': 'nvidia-device-plugin-configs', 'default_config': 'none', 'configs': dict(PLUGIN_CONFIGS),
                              'restart_delay': 0.3, 'termination_grace': 0.1},
            'workloads': workloads,
            'pdbs': pdbs,
        })

    @staticmethod
    def _settled(state):
        pods = state['objects'].get('pods') or []
        return bool(pods) and all((pod.get('status') or {}).get('phase') == 'Running' for pod in pods)

    # -- the rollout -----------------------------------------------------------------------------------

    def write_inventory(self, targets, plugin_configs=None):
        """The rollout's inventory: every node of the world with its target (a layout key or ``off``).

        ``plugin_configs`` (node -> name) gives a node a device plugin config of its own, the same as ``mixed`` under
        another name: only that node's rollout writes it into the ConfigMap, so a fault on that write hits that node.
        """
        hosts = {}
        for name, node in self.nodes.items():
            target = targets[name]
            hosts[name] = {
                'ansible_connection': 'local',
                'ansible_python_interpreter': self.hosts[name]['ansible_python_interpreter'],
                'gpufleet_mig_config_name': config_name(node['model'], target),
                'gpufleet_mig_layout': layout_entries(node['model'], target),
                'gpufleet_mig_checkpoint': self.checkpoint(name),
                'gpufleet_mig_restore_status': self.state(name) + '.restore.json',
            }
            if name in self.pod_resources:
                hosts[name]['gpufleet_mig_pod_resources_socket'] = self.pod_resources[name][1]
            elif node['allocator'] == 'dra':
                # The simulated kubelet's socket (it lists each pod's claimed devices): the drain finds the pods on the GPUs
                # that change through their ResourceClaims, as on a real DRA node.
                hosts[name]['gpufleet_mig_pod_resources_socket'] = self.pod_resources_sockets[name]
            own = (plugin_configs or {}).get(name)
            if own:
                hosts[name]['gpufleet_mig_device_plugin_config'] = own
                hosts[name]['gpufleet_mig_device_plugin_configs'] = dict(PLUGIN_CONFIG_VARS, **{own: PLUGIN_CONFIG_VARS['mixed']})
        group_vars = {
            'gpufleet_k8s_kubeconfig': self.cluster.kubeconfig,
            'gpufleet_mig_become': False,
            'gpufleet_mig_install_restore': False,
            'gpufleet_mig_report_dir': self.report_dir,
            'gpufleet_mig_drain_timeout': 60,
            # Its GPU pods are pinned to their nodes (to find them in the drain) and lose their resource there on
            # purpose: the capacity check would rightly refuse every change. It has tests of its own.
            'gpufleet_mig_allow_capacity_loss': True,
            'gpufleet_mig_drain_retry_delay': 1,
            'gpufleet_mig_device_plugin_timeout': 60,
            # Long enough for a plugin restart on a busy machine, short enough that a plugin that never comes back
            # (a fault) fails its node within the run.
            'gpufleet_mig_dra_timeout': 20,
            'gpufleet_mig_device_plugin_config': 'mixed',
            'gpufleet_mig_device_plugin_configs': PLUGIN_CONFIG_VARS,
        }
        inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': self.python}},
                             'children': {'gpu_nodes': {'hosts': hosts, 'vars': group_vars}}}}
        with open(self.inventory_path, 'w') as handle:
            json.dump(inventory, handle, indent=2)

    def rollout(self, serial='100%', kill_after=None, timeout=900, on_start=None, extra_vars=None):
        """Run the rollout once; with ``kill_after`` seconds, SIGKILL ansible-playbook and all its workers then."""
        extra = dict({'gpufleet_mig_serial': serial, 'gpufleet_mig_max_fail_percentage': 100}, **(extra_vars or {}))
        return self._playbook('rollout.yml', extra, kill_after, timeout, on_start)

    def migrate(self, to, node, on_start=None, extra_vars=None, timeout=600):
        """Move ``node`` to allocator ``to`` once with playbooks/migrate_allocator.yml (the per-profile DeviceClasses created)."""
        extra = dict({'gpufleet_mig_allocator_to': to, 'gpufleet_mig_targets': node, 'gpufleet_mig_create_device_classes': True,
                      'gpufleet_mig_migrate_timeout': 30}, **(extra_vars or {}))
        return self._playbook('migrate_allocator.yml', extra, None, timeout, on_start)

    def _playbook(self, playbook, extra, kill_after, timeout, on_start):
        self.runs += 1
        for name in os.listdir(self.report_dir):
            path = os.path.join(self.report_dir, name)
            if os.path.isdir(path):
                for entry in os.listdir(path):
                    os.unlink(os.path.join(path, entry))
            else:
                os.unlink(path)
        log = os.path.join(self.root, 'run-%02d.log' % self.runs)
        env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.root, 'tmp'), ANSIBLE_HOME=os.path.join(self.root, 'ansible-home'),
                   ANSIBLE_FORKS=str(self.forks), ANSIBLE_COLLECTIONS_PATH=self._collections())
        cmd = [os.path.join(os.path.dirname(self.python), 'ansible-playbook'), os.path.join(ROOT, 'playbooks', playbook),
               '-i', self.inventory_path, '-e', json.dumps(extra)]
        began = time.monotonic()
        with open(log, 'w') as out:
            # Its own session, so that a timeout's kill reaches ansible-playbook; a planned kill (kill_tree) also reaches its
            # forks, which leave that session (ansible-core's WorkerProcess calls setsid), and their module processes.
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.root, start_new_session=True)
            if on_start is not None:
                on_start(proc)
            try:
                rc = proc.wait(timeout=kill_after if kill_after is not None else timeout)
            except subprocess.TimeoutExpired:
                if kill_after is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    raise WorldError('%s did not finish within %ss; log: %s' % (playbook, timeout, log))
                kill_tree(proc.pid)
                proc.wait()
                # Whatever the killed run left running in the background (nothing should) gets a moment to show.
                time.sleep(0.5)
                return RunResult(None, time.monotonic() - began, log, killed=True, kill_after=kill_after)
        return RunResult(rc, time.monotonic() - began, log)

    def lease(self, namespace='gpu-operator', name='gpufleet-mig-rollout'):
        """The rollout lock's Lease as the API server has it, or None."""
        for lease in self.cluster.dump()['objects'].get('leases', []):
            if lease['metadata']['namespace'] == namespace and lease['metadata']['name'] == name:
                return lease
        return None

    def results(self):
        """The per-node results the rollout wrote (report/nodes/<host>.json)."""
        found = {}
        directory = os.path.join(self.report_dir, 'nodes')
        if os.path.isdir(directory):
            for entry in os.listdir(directory):
                with open(os.path.join(directory, entry)) as handle:
                    found[entry[:-len('.json')]] = json.load(handle)
        return found

    # -- faults ------------------------------------------------------------------------------------------

    def nvml_fault(self, name, function, nth=1, error=None, stall_ms=None, gpu=None, repeat=False):
        args = ['fault', 'add', self.state(name), '--function', function, '--nth', nth]
        if error:
            args += ['--error', error]
        if stall_ms:
            args += ['--stall-ms', stall_ms]
        if gpu is not None:
            args += ['--gpu', gpu]
        if repeat:
            args.append('--repeat')
        simnode(self.sim_build, *args)

    def nvml_faults(self, name):
        return json.loads(simnode(self.sim_build, 'fault', 'list', self.state(name)))

    def plugin_pod(self, name):
        """The name of the device plugin pod on a node now (each restart makes a new one)."""
        for pod in self.cluster.dump()['objects']['pods']:
            if (pod['metadata']['namespace'] == PLUGIN_NAMESPACE and pod['spec'].get('nodeName') == name
                    and not pod['metadata'].get('deletionTimestamp')):
                return pod['metadata']['name']
        raise WorldError('no device plugin pod runs on %s' % name)

    def dra_plugin_pod(self, name):
        """The name of the DRA kubelet plugin pod on a node now (each restart makes a new one)."""
        for pod in self.cluster.dump()['objects']['pods']:
            if (pod['metadata']['namespace'] == DRA_NAMESPACE and pod['spec'].get('nodeName') == name
                    and not pod['metadata'].get('deletionTimestamp')):
                return pod['metadata']['name']
        raise WorldError('no DRA kubelet plugin pod runs on %s' % name)

    def dra_plugin_fault(self, name, start_error=None, restart_delay=None):
        """The node's DRA kubelet plugin fails at each start with ``start_error`` (it crash-loops), or starts ``restart_delay``
        seconds after its pod is created (the simulator's /_sim/dra-plugin control)."""
        return self.cluster.control('PUT', '/_sim/dra-plugin/%s' % name, {'start_error': start_error, 'restart_delay': restart_delay})

    def dra_plugin_starts(self, name):
        """The DRA kubelet plugin starts on a node the simulator logged (each with its devices or error)."""
        return [entry for entry in self.cluster.control('GET', '/_sim/plugin')['starts']
                if entry.get('implementation') == 'dra' and entry.get('node') == name]

    def k8s_fault(self, **rule):
        return self.cluster.add_fault(**rule)

    def k8s_faults(self):
        return self.cluster.control('GET', '/_sim/faults')['faults']

    def pod_resources_fault(self, name, mode):
        """Give node ``name`` a kubelet pod-resources socket that fails; write_inventory then points its rollout at it.

        ``refused``: a socket file nobody listens on (the kubelet is gone: connection refused); ``stall``: a socket that
        takes connections into its backlog and never answers (a hung kubelet: the client's deadline runs out).
        Returns the socket's path.
        """
        if mode not in ('refused', 'stall'):
            raise WorldError('pod-resources fault mode must be refused or stall, got %r' % (mode,))
        if self.pod_resources_dir is None:
            # Unix socket paths are limited to 107 bytes: a short folder under /tmp.
            self.pod_resources_dir = tempfile.mkdtemp(prefix='podres-')
        path = os.path.join(self.pod_resources_dir, '%s.sock' % name)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        if mode == 'stall':
            server.listen(64)
        self.pod_resources[name] = (server, path)
        return path

    def clear_pod_resources_faults(self):
        for server, path in self.pod_resources.values():
            server.close()
            if os.path.exists(path):
                os.unlink(path)
        self.pod_resources = {}

    def clear_faults(self):
        for name in self.nodes:
            simnode(self.sim_build, 'fault', 'clear', self.state(name))
        self.cluster.clear_faults()
        if self.dra_nodes():
            self.cluster.control('DELETE', '/_sim/dra-plugin')
        self.clear_pod_resources_faults()

    # -- observing -------------------------------------------------------------------------------------

    def snapshot(self):
        """GPUs of every node (fake NVML), cluster objects, PDB low-water marks and the audit log since the last one."""
        state = self.cluster.dump()
        audit = self.cluster.audit()
        self.cluster.clear_audit()
        nodes = dict((node['metadata']['name'], node) for node in state['objects']['nodes'])
        gpus = dict((name, json.loads(simnode(self.sim_build, 'show', self.state(name), '--json'))['gpus']) for name in self.nodes)
        mutating = dict((name, json.loads(simnode(self.sim_build, 'calls', self.state(name), '--json'))['mutating']) for name in self.nodes)
        slices = dict((name, []) for name in self.nodes)
        for item in state['objects'].get('resourceslices') or []:
            spec = item.get('spec') or {}
            if spec.get('driver') == DRA_DRIVER and spec.get('nodeName') in slices:
                slices[spec['nodeName']].extend(device['name'] for device in spec.get('devices') or [])
        return {'gpus': gpus, 'nodes': nodes, 'pods': state['objects']['pods'], 'pdb_low_water': state.get('pdb_low_water') or {},
                'audit': audit, 'mutating': mutating, 'slices': dict((name, sorted(found)) for name, found in slices.items())}


def node_view(node):
    metadata = node['metadata']
    return {'labels': dict(metadata.get('labels') or {}), 'annotations': dict(metadata.get('annotations') or {}),
            'unschedulable': bool((node.get('spec') or {}).get('unschedulable')),
            'allocatable': dict((node.get('status') or {}).get('allocatable') or {})}


def check_run(world, before, after, targets, results=None, api_down=False):
    """Per node ``(outcome, problems)`` after a run, and the fleet-wide problems.

    ``targets`` are the run's targets; ``results`` the rollout's own per-node results (None for a killed run).
    A node is ``converged`` (new layout, labelled success, advertised - by the device plugin, or on a DRA node by
    ResourceSlices that list exactly the MIG devices or whole GPUs it has -, not cordoned), ``failed`` (labelled failed
    with a reason; every GPU in its old or new layout), ``untouched`` (exactly as before) or, only while the API
    server was down, ``pending`` (labelled pending; it could not be labelled failed). Anything else is a problem.
    """
    outcomes, fleet = {}, []
    for name, node in sorted(world.nodes.items()):
        model, target, problems = node['model'], targets[name], []
        old = [exact_layout(gpu) for gpu in before['gpus'][name]]
        new = after['gpus'][name]
        for position, gpu in enumerate(new):
            if exact_layout(gpu) != old[position] and not matches_target(gpu, model, target):
                problems.append('GPU %d is in neither its old layout nor the target %s: %s' % (gpu['index'], target, exact_layout(gpu)))
        view, was = node_view(after['nodes'][name]), node_view(before['nodes'][name])
        state = view['labels'].get(STATE_LABEL)
        all_new = all(matches_target(gpu, model, target) for gpu in new)
        if node.get('allocator') == 'dra':
            advertised = after['slices'][name] == dra_devices(new)
        else:
            advertised = all(view['allocatable'].get(key) == value for key, value in expected_resources(model, target, node['count']).items())
        if (all_new and state == 'success' and view['labels'].get(CONFIG_LABEL) == config_name(model, target)
                and not view['unschedulable'] and FAILURE_ANNOTATION not in view['annotations'] and advertised):
            outcome = 'converged'
        elif state == 'failed' and view['annotations'].get(FAILURE_ANNOTATION):
            outcome = 'failed'
        elif [exact_layout(gpu) for gpu in new] == old and dict(view, allocatable=None) == dict(was, allocatable=None):
            outcome = 'untouched'
        elif state == 'pending' and api_down:
            outcome = 'pending'
        else:
            outcome = 'unexplained'
            problems.append('node is neither converged, nor labelled failed with a reason, nor untouched: state=%s, '
                            'cordoned=%s, GPUs at target=%s%s' % (state, view['unschedulable'], all_new,
                                                                  '' if advertised else ', not advertised as its GPUs are%s' % (
                                                                      ' (ResourceSlices list %s, the GPUs have %s)' % (
                                                                          after['slices'][name], dra_devices(new))
                                                                      if node.get('allocator') == 'dra' else '')))
        if view['unschedulable'] and (state not in ('failed', 'pending') or view['annotations'].get(CORDON_ANNOTATION) != 'true'):
            problems.append('node is cordoned without a visible reason (state=%s, %s=%s)'
                            % (state, CORDON_ANNOTATION, view['annotations'].get(CORDON_ANNOTATION)))
        if results is not None:
            status = (results.get(name) or {}).get('status')
            if outcome == 'converged' and status not in ('changed', 'unchanged'):
                problems.append('the node converged but the rollout reported %s' % status)
            if outcome != 'converged' and status != 'failed':
                problems.append('the node is %s but the rollout reported %s' % (outcome, status))
        outcomes[name] = (outcome, problems)
    for key, mark in sorted(after['pdb_low_water'].items()):
        if mark['margin'] < 0:
            fleet.append('disruption budget %s was broken: %d healthy pods for %d desired at %s'
                         % (key, mark['currentHealthy'], mark['desiredHealthy'], mark['time']))
    for entry in after['audit']:
        if entry.get('verb') == 'delete' and entry.get('resource') == 'pods' and entry.get('namespace') not in (PLUGIN_NAMESPACE, DRA_NAMESPACE):
            fleet.append('a workload pod was deleted outside the Eviction API: %s/%s' % (entry.get('namespace'), entry.get('name')))
    return outcomes, fleet


def nothing_changed(world, before, after):
    """Problems if a run changed anything at all: an API write or a mutating NVML call."""
    problems = ['API write: %s %s %s/%s' % (e['verb'], e.get('resource'), e.get('namespace') or '', e.get('name') or '')
                for e in after['audit'] if e.get('verb') in k8ssim.WRITE_VERBS and 200 <= (e.get('code') or 0) < 300]
    for name in world.nodes:
        if after['mutating'][name] != before['mutating'][name]:
            problems.append('%s: %d mutating NVML call(s)' % (name, after['mutating'][name] - before['mutating'][name]))
    return problems
