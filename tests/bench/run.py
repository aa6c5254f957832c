#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""make bench: the rollout's own cost, its scaling and the disruption it causes, against the simulators.

Every time figure is a ratio of runs made side by side in this run (interleaved A, B, A, B, ..., medians), because the
machine is noisy; nothing here is a timed assertion. Prints one table (each figure, its goal, PASS/MISS) and writes
.build/bench/results.json. Fleets and clusters live under .build/bench/ (never .build/demo).

Parts (--only, comma separated): planner (5), disruption (4), fleetplan (8: the fleet planner against a greedy, the best
uniform layout and the exact optimum), noop (1, 3, 6), change (2, 3), migparted (7: side by side with NVIDIA's mig-parted;
skipped with one line when its binary is not built). See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BENCH = os.path.join(ROOT, '.build', 'bench')
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'k8ssim'))
# pylint: disable=wrong-import-position
import fleet as bench_fleet  # noqa: E402
import k8ssim  # noqa: E402
import measure  # noqa: E402
from measure import median  # noqa: E402

PARTS = ('planner', 'disruption', 'fleetplan', 'noop', 'change', 'migparted')
ALIASES = {'api': ('noop', 'change'), 'memory': ('noop',), 'nvml': ('noop', 'change')}
ROLLOUT = os.path.join(ROOT, 'playbooks', 'rollout.yml')
BASELINE_PLAYBOOK = """---
# The no-op baseline of make bench: gpu_info once per node, on the hosts the rollout targets.
- name: Read the GPUs of every node once
  hosts: simulated
  gather_facts: false
  tasks:
    - name: Read the GPUs
      gpufleet.mig.gpu_info:
        set_facts: false
"""
# One node, each kind of task three times: what one task costs, by kind (where the time goes).
TASK_COST_PLAYBOOK = """---
- name: What one task costs, by kind
  hosts: "{{ bench_host }}"
  gather_facts: false
  tasks:
    - name: Repeat the tasks
      ansible.builtin.include_tasks: task_cost_tasks.yml
      loop: [1, 2, 3]
"""
TASK_COST_TASKS = """---
- name: set_fact (no module)
  ansible.builtin.set_fact:
    bench_x: "{{ item }}"
- name: ping on the node (smallest module)
  ansible.builtin.ping:
- name: ping on the controller (smallest module, delegated)
  ansible.builtin.ping:
  delegate_to: localhost
- name: gpu_info on the node
  gpufleet.mig.gpu_info:
    set_facts: false
- name: mig_layout check on the node
  gpufleet.mig.mig_layout:
    layout: "{{ gpufleet_mig_layout }}"
    checkpoint: "{{ gpufleet_mig_checkpoint }}"
  check_mode: true
  register: bench_plan
- name: device_plugin_config check of one node on the controller, as the preflight runs it for a cluster
  gpufleet.mig.device_plugin_config:
    namespace: "{{ gpufleet_mig_device_plugin_namespace | default('gpu-operator') }}"
    configmap: "{{ gpufleet_mig_device_plugin_configmap | default('nvidia-device-plugin-configs') }}"
    configs: "{{ gpufleet_mig_device_plugin_configs | default({}) }}"
    nodes:
      - node: "{{ inventory_hostname }}"
        config_name: "{{ gpufleet_mig_device_plugin_config | default('mixed') }}"
        gpus: "{{ bench_plan.node.gpus }}"
        planned_layouts: "{{ bench_plan.gpus }}"
    wait: false
    kubeconfig: "{{ gpufleet_k8s_kubeconfig }}"
  check_mode: true
  delegate_to: localhost
"""
DRAIN_PLAYBOOK = """---
- name: Drain two identical nodes, GPU-aware and all pods
  hosts: localhost
  gather_facts: false
  tasks:
    - name: GPU-aware drain
      gpufleet.mig.node_drain:
        node: drain-gpu-aware
        gpu_only: true
        kubeconfig: "{{ kubeconfig }}"
        timeout: 60
        retry_delay: 1
      register: gpu_aware
    - name: Drain of all pods
      gpufleet.mig.node_drain:
        node: drain-all-pods
        gpu_only: false
        kubeconfig: "{{ kubeconfig }}"
        timeout: 60
        retry_delay: 1
      register: all_pods
"""
PRECISE_DRAIN_PLAYBOOK = """---
- name: Drain for a change of GPU 3 of two identical 8-GPU nodes, GPU-precise and node-level
  hosts: precise-*
  gather_facts: false
  tasks:
    - name: Read the GPUs
      gpufleet.mig.gpu_info:
        set_facts: false
      register: gpus
    - name: Ask the kubelet which pod holds which GPU (until every train pod holds one)
      gpufleet.mig.pod_resources:
        socket: "{{ sockets[inventory_hostname] }}"
        gpus: "{{ gpus.node.gpus }}"
      register: held
      until: held.pod_gpus | default({}) | dict2items | selectattr('key', 'match', '^work/train-' ~ inventory_hostname) | list | length == 8
      retries: 30
      delay: 1
    - name: Drain for the change of GPU 3, precise on one node and node-level on the other
      gpufleet.mig.node_drain:
        node: "{{ inventory_hostname }}"
        gpus: "{{ [3] if inventory_hostname == 'precise-gpu' else omit }}"
        pod_resources: "{{ held if inventory_hostname == 'precise-gpu' else omit }}"
        kubeconfig: "{{ kubeconfig }}"
        timeout: 60
        retry_delay: 1
      delegate_to: localhost
      vars:
        ansible_python_interpreter: "{{ controller_python }}"
      register: drained
    - name: The precise drain read the kubelet's answer
      ansible.builtin.assert:
        that: inventory_hostname != 'precise-gpu' or drained.fallback is none
"""
K8S_CLIENT_COST = """
import sys, time
started = time.process_time()
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube
kube = Kube({'kubeconfig': sys.argv[1]})
kube.read_node(sys.argv[2])
print(time.process_time() - started)
"""


class BenchError(Exception):
    """The benchmark cannot run (not a missed goal)."""


def _fmt(value, digits=2, unit=''):
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return ('%.' + str(digits) + 'f%s') % (value, unit)
    return '%s%s' % (value, unit)


class Bench(object):
    """One make bench run: the table, the JSON results, the time budget."""

    def __init__(self, args):
        self.args = args
        self.rows = []
        self.notes = []
        self.results = {}
        self.started = time.monotonic()
        self.deadline = self.started + args.budget
        self.env = self._ansible_env()

    # -- bookkeeping ------------------------------------------------------------------------------------------------

    def remaining(self):
        return self.deadline - time.monotonic()

    def say(self, text):
        print('bench: [%5.0fs] %s' % (time.monotonic() - self.started, text), flush=True)

    def row(self, section, figure, value, goal='', verdict='info'):
        self.rows.append((section, figure, value, goal, verdict))

    def note(self, text):
        self.notes.append(text)
        self.say('NOTE: ' + text)

    def _ansible_env(self):
        for name in ('SIM_BUILD', 'VENV_PYTHON'):
            if not os.environ.get(name):
                raise BenchError('%s is not set: run the benchmark through `make bench`' % name)
        if not os.path.exists(os.path.join(os.environ['SIM_BUILD'], 'lib', 'libnvidia-ml.so.1')):
            raise BenchError('the GPU simulator is not built in %s: run `make simulator` (make bench does)' % os.environ['SIM_BUILD'])
        env = dict(os.environ)
        env.update({
            'ANSIBLE_FORKS': str(self.args.forks),
            'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_HOME': os.path.join(BENCH, 'ansible-home'),
            'ANSIBLE_LOCAL_TEMP': os.path.join(BENCH, 'ansible-tmp'),
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'bench_timer',
        })
        return env

    def playbook_cmd(self):
        return os.path.join(os.path.dirname(os.environ['VENV_PYTHON']), 'ansible-playbook')

    def machine(self):
        model = platform.processor() or ''
        try:
            with open('/proc/cpuinfo') as handle:
                for line in handle:
                    if line.startswith('model name'):
                        model = line.split(':', 1)[1].strip()
                        break
        except (IOError, OSError):
            pass
        try:
            from ansible.release import __version__ as ansible_version  # pylint: disable=import-outside-toplevel
        except ImportError:
            ansible_version = None
        try:
            load = os.getloadavg()
        except OSError:
            load = None
        return {'cores': os.cpu_count(), 'cpu_model': model, 'python': platform.python_version(), 'ansible_core': ansible_version,
                'platform': platform.platform(), 'load_average_at_start': load}

    # -- clusters ---------------------------------------------------------------------------------------------------

    def start_cluster(self, description, state_dir, settle_timeout=180):
        """A k8ssim cluster (stopped with cluster.stop()), once every pod of its description runs."""
        shutil.rmtree(state_dir, ignore_errors=True)
        cluster = k8ssim.Cluster(description, state_dir)
        cluster.info = k8ssim.start(description, state_dir, token=cluster.token, timeout=settle_timeout)
        try:
            cluster.wait_for(lambda state: all((p.get('status') or {}).get('phase') == 'Running' for p in state['objects'].get('pods') or []),
                             timeout=settle_timeout, interval=0.5, message='every pod of the simulated cluster running')
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @staticmethod
    def last_seq(cluster):
        entries = cluster.audit()
        return entries[-1]['seq'] if entries else 0

    # -- one measured ansible-playbook run ----------------------------------------------------------------------------

    def run(self, name, directory, argv, cluster=None, states=()):
        """Run a playbook and gather everything it cost; the API and NVML figures need ``cluster`` and ``states``."""
        offsets = measure.calls_offsets(states)
        seq = self.last_seq(cluster) if cluster is not None else None
        result = measure.run_playbook([self.playbook_cmd()] + argv, os.path.join(directory, name + '.log'),
                                      os.path.join(directory, name + '.timer.jsonl'), self.env, directory)
        calls = measure.read_calls(offsets)
        result['nvml_calls'] = len(calls)
        result['nvml_mutating'] = sum(1 for call in calls if call[5])
        result['nvml_polling'] = measure.nvml_polling(calls)
        if cluster is not None:
            entries = cluster.audit(since=seq)
            result['api'] = measure.api_summary(entries)
            result['api_polling'] = measure.api_polling(entries)
        result['events'] = measure.read_timer(result['timer'])
        return result

    def check_rc(self, result, what):
        if result['rc'] != 0:
            raise BenchError('%s failed (rc=%s); log %s:\n%s' % (what, result['rc'], result['log'], measure.log_tail(result['log'])))

    # -- 5. planner speed -------------------------------------------------------------------------------------------

    def planner(self):
        import planning  # pylint: disable=import-outside-toplevel
        self.say('planner: validating every named config on every catalog GPU, and a 1,000-node fleet plan')
        config = planning.load_default_config()
        validation = planning.catalog_validation(config)
        plan = planning.fleet_plan(config, nodes=self.args.plan_nodes)
        self.results['planner'] = {'catalog_validation': validation, 'fleet_plan': plan}
        section = '5 Planner speed (CPU seconds, best of 3 / best of 2)'
        self.row(section, 'validate + place %d named configs x %d MIG GPU models' % (validation['labels'], validation['models']),
                 '%s s (%d valid)' % (_fmt(validation['cpu_s'], 3), validation['valid']))
        self.row(section, '%d-node fleet plan (%d GPUs, %d to change)' % (plan['nodes'], plan['gpus'], plan['changed']),
                 _fmt(plan['cpu_s'], 2, ' s'), '< 1 s', 'PASS' if plan['cpu_s'] < 1.0 else 'MISS')
        split = plan['split']
        self.row(section, '  validation; plans of GPUs at target (%d); of GPUs to change' % (plan['gpus'] - plan['changed']),
                 '%s; %s; %s s' % (_fmt(split['validate_s'], 2), _fmt(split['plan_unchanged_s'], 2), _fmt(split['plan_changed_s'], 2)))
        self.row(section, '  distinct (model, current, target) plans; slowest GPU plan',
                 '%d; %s ms' % (plan['distinct_plans'], _fmt(plan['slowest_plan_ms'], 1)))

    # -- 8. fleet planner -------------------------------------------------------------------------------------------

    def fleetplan(self):
        import fleetplan  # pylint: disable=import-outside-toplevel
        section = '8 Fleet planner (served / nodes / GPUs changed / busy destroyed / fragmentation)'
        self.results['fleetplan'] = []
        for nodes in self.args.fleet_sizes:
            self.say('fleetplan: %d-node synthetic fleet: planner, greedy, best uniform layout%s'
                     % (nodes, ', exact optimum' if nodes <= self.args.fleet_exact_nodes else ''))
            result = fleetplan.compare(nodes, exact_limit=self.args.fleet_exact_nodes)
            self.results['fleetplan'].append(result)

            def figures(side):
                data = result[side]
                return '%d / %d / %d / %d / %d' % (data['served'], data['nodes_changed'], data['gpus_changed'], data['busy_destroyed'],
                                                   data['fragmentation'])
            planner = result['planner']['served']
            self.row(section, '%d nodes (%d GPUs): %d demand, %d within quota, %d served before'
                     % (nodes, result['gpus'], result['demand'], result['servable'], result['before']), '')
            mode = '%s mode%s' % ('exact' if result['stats']['stages']['exact'] else 'heuristic', '' if result['optimal'] else ', time limit hit')
            self.row(section, '  planner (%s)' % mode, figures('planner'))
            self.row(section, '  (a) nos-style greedy per pending pod', figures('greedy'), 'served >=',
                     'PASS' if planner >= result['greedy']['served'] else 'MISS')
            self.row(section, '  (b) best uniform operator layout per model', figures('uniform'), 'served >=',
                     'PASS' if planner >= result['uniform']['served'] else 'MISS')
            if 'exact' in result:
                exact = result['exact']['served']
                self.row(section, '  (c) exact optimum (no aggregation)', figures('exact'), 'within 5%',
                         'PASS' if planner >= 0.95 * exact else 'MISS')
                heuristic = result['heuristic']
                self.row(section, '  heuristic mode on the same fleet (gap to exact)', figures('heuristic'), 'within 5%',
                         'PASS' if heuristic['served'] >= 0.95 * exact else 'MISS')
            if nodes >= 1000:
                self.row(section, '  planning CPU time at %d nodes' % nodes, _fmt(result['planner_cpu_s'], 2, ' s'), '< 5 s',
                         'PASS' if result['planner_cpu_s'] < 5.0 else 'MISS')
            else:
                self.row(section, '  planning CPU time', _fmt(result['planner_cpu_s'], 2, ' s'))

    # -- 4. disruption ----------------------------------------------------------------------------------------------

    def disruption(self):
        import planning  # pylint: disable=import-outside-toplevel
        self.say('disruption: GPU instances destroyed (planner vs full rebuild) over the transition matrices')
        section = '4 Disruption'
        matrices = {'default configs': planning.transition_matrix(planning.load_default_config()),
                    'maximal partitions': planning.transition_matrix(None)}
        self.results['disruption'] = {'matrices': matrices}
        for title, matrix in matrices.items():
            totals = matrix['totals']
            ok = not matrix['worse'] and not matrix['not_fewer_where_possible']
            self.row(section, 'GIs destroyed, %s (%d pairs): planner / rebuild' % (title, totals['pairs']),
                     '%d / %d' % (totals['planner_destroyed'], totals['rebuild_destroyed']), 'never more', 'PASS' if not matrix['worse'] else 'MISS')
            self.row(section, '  pairs where a GI can stay: planner destroys fewer',
                     '%d of %d' % (totals['strictly_fewer'], totals['minimal_possible']), 'all', 'PASS' if ok else 'MISS')
            for pair in (matrix['worse'] + matrix['not_fewer_where_possible'])[:5]:
                self.note('disruption goal broken: %s' % pair)
        self.evictions(section)

    def evictions(self, section):
        """Pods evicted from two identical nodes: node_drain with gpu_only true vs false, counted in the audit log."""
        self.say('disruption: pods evicted by the GPU-aware drain vs a drain of all pods (node_drain against k8ssim)')
        directory = os.path.join(BENCH, 'drain')
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        from simfleet import build_fleet  # pylint: disable=import-outside-toplevel
        nodes = ('drain-gpu-aware', 'drain-all-pods')
        hosts = build_fleet(os.path.join(directory, 'fleet'), dict((name, {'gpus': ['A100-SXM4-40GB:8'], 'driver': bench_fleet.DRIVER})
                                                                   for name in nodes), bench_fleet.sim_build(), bench_fleet.node_python())
        # Per node: GPU work (2 training pods on one GPU each, 1 inference pod on two GPUs) and CPU work (2 web pods, a
        # metrics pod, a batch pod) on the same node, plus the device plugin's DaemonSet pod, which no drain evicts.
        mix = (('train', 2, {'nvidia.com/gpu': 1}), ('infer', 1, {'nvidia.com/gpu': 2}), ('web', 2, {'cpu': '1'}),
               ('metrics', 1, {'cpu': '500m'}), ('batch', 1, {'cpu': '2'}))
        description = {
            'tick': 0.1, 'time_scale': 0.1, 'simnode': os.path.join(bench_fleet.sim_build(), 'bin', 'simnode'),
            'nodes': [{'name': name, 'labels': {'bench/node': name}, 'cpu': '32', 'memory': '256Gi', 'nvml_state': hosts[name]['sim_state']}
                      for name in nodes],
            'device_plugin': {'namespace': 'gpu-operator', 'daemonset': 'nvidia-device-plugin-daemonset', 'configmap': None,
                              'restart_delay': 0.1, 'termination_grace': 0.1},
            'workloads': [{'name': '%s-%s' % (kind, name), 'namespace': 'work', 'replicas': replicas, 'resources': resources, 'node': name,
                           'node_selector': {'bench/node': name}, 'termination_grace': 0.2, 'start_delay': 0.2}
                          for name in nodes for kind, replicas, resources in mix],
        }
        cluster = self.start_cluster(description, os.path.join(directory, 'k8s'))
        try:
            pods = cluster.dump()['objects']['pods']
            node_of = dict(('%s/%s' % (p['metadata']['namespace'], p['metadata']['name']), p['spec'].get('nodeName')) for p in pods)
            with open(os.path.join(directory, 'drain.yml'), 'w') as handle:
                handle.write(DRAIN_PLAYBOOK)
            inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': bench_fleet.node_python()}}}}
            with open(os.path.join(directory, 'inventory.json'), 'w') as handle:
                json.dump(inventory, handle)
            result = self.run('drain', directory, ['drain.yml', '-i', 'inventory.json', '-e', json.dumps({'kubeconfig': cluster.kubeconfig})],
                              cluster=cluster)
            self.check_rc(result, 'the drain playbook')
            evicted = dict((name, 0) for name in nodes)
            for entry in cluster.audit():
                if entry.get('verb') == 'evict' and 200 <= (entry.get('code') or 0) < 300:
                    evicted[node_of['%s/%s' % (entry['namespace'], entry['name'])]] += 1
        finally:
            cluster.stop()
        on_node = sum(1 for node in node_of.values() if node == nodes[0])
        self.results['disruption']['evictions'] = {'pods_per_node': on_node, 'gpu_aware': evicted[nodes[0]], 'all_pods': evicted[nodes[1]],
                                                   'wall_s': result['wall_s']}
        ok = evicted[nodes[0]] < evicted[nodes[1]]
        self.row(section, 'pods evicted, node with 3 GPU + 4 CPU pods: GPU-aware / all',
                 '%d / %d' % (evicted[nodes[0]], evicted[nodes[1]]), 'fewer', 'PASS' if ok else 'MISS')
        self.precise_evictions(section)

    def precise_evictions(self, section):
        """Pods evicted for a change of one GPU of eight: node_drain with the kubelet's pod-resources answer (only that
        GPU's pods) vs the GPU-aware drain of the whole node, on two identical nodes running NVIDIA's device plugin (the
        simulated kubelet serves the pod-resources socket with it), counted in the audit log."""
        import sim_nvidia  # pylint: disable=import-outside-toplevel
        reason = sim_nvidia.unavailable(sim_nvidia.tools_dir())
        if reason:
            self.row(section, 'pods evicted, one GPU of 8 changes: precise / node-level', 'not run', '', 'SKIP')
            self.note('precise drain bench skipped: %s' % reason)
            return
        self.say('disruption: pods evicted for a change of one GPU of eight, GPU-precise vs node-level drain')
        directory = os.path.join(BENCH, 'precise-drain')
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        from simfleet import build_fleet  # pylint: disable=import-outside-toplevel
        nodes = ('precise-gpu', 'precise-node')
        hosts = build_fleet(os.path.join(directory, 'fleet'), dict((name, {'gpus': ['A100-SXM4-40GB:8'], 'driver': bench_fleet.DRIVER})
                                                                   for name in nodes), bench_fleet.sim_build(), bench_fleet.node_python())
        # One training pod per GPU and two CPU pods per node.
        mix = (('train', 8, {'nvidia.com/gpu': 1}), ('web', 2, {'cpu': '1'}))
        description = {
            'tick': 0.1, 'time_scale': 0.1, 'pod_start_delay': 0.2, 'simnode': os.path.join(bench_fleet.sim_build(), 'bin', 'simnode'),
            'nodes': [{'name': name, 'labels': {'bench/node': name}, 'cpu': '32', 'memory': '256Gi', 'nvml_state': hosts[name]['sim_state']}
                      for name in nodes],
            'device_plugin': {'implementation': 'nvidia', 'namespace': 'gpu-operator', 'daemonset': 'nvidia-device-plugin-daemonset',
                              'configmap': 'nvidia-device-plugin-configs', 'default_config': 'none',
                              'configs': {'none': 'version: v1\nflags:\n  migStrategy: none\n'}, 'restart_delay': 0.3},
            'workloads': [{'name': '%s-%s' % (kind, name), 'namespace': 'work', 'replicas': replicas, 'resources': resources, 'node': name,
                           'node_selector': {'bench/node': name}, 'termination_grace': 0.2}
                          for name in nodes for kind, replicas, resources in mix],
        }
        cluster = self.start_cluster(description, os.path.join(directory, 'k8s'))
        try:
            sockets = cluster.dump()['pod_resources_sockets']
            with open(os.path.join(directory, 'drain.yml'), 'w') as handle:
                handle.write(PRECISE_DRAIN_PLAYBOOK)
            inventory = {'all': {'hosts': dict((name, {'ansible_connection': 'local',
                                                       'ansible_python_interpreter': hosts[name]['ansible_python_interpreter']})
                                               for name in nodes)}}
            with open(os.path.join(directory, 'inventory.json'), 'w') as handle:
                json.dump(inventory, handle)
            extra = {'kubeconfig': cluster.kubeconfig, 'sockets': sockets, 'controller_python': bench_fleet.node_python()}
            result = self.run('precise-drain', directory, ['drain.yml', '-i', 'inventory.json', '-e', json.dumps(extra)], cluster=cluster)
            self.check_rc(result, 'the precise drain playbook')
            # Pods are named after their workload, which names its node (evicted pods are replaced under new names).
            evicted = dict((name, 0) for name in nodes)
            for entry in cluster.audit():
                if entry.get('verb') == 'evict' and 200 <= (entry.get('code') or 0) < 300:
                    for name in nodes:
                        if entry.get('name', '').startswith(('train-%s-' % name, 'web-%s-' % name)):
                            evicted[name] += 1
        finally:
            cluster.stop()
        self.results['disruption']['precise'] = {'gpu_pods_per_node': 8, 'precise': evicted[nodes[0]], 'node_level': evicted[nodes[1]],
                                                 'wall_s': result['wall_s']}
        self.row(section, 'pods evicted, one GPU of 8 changes (8 GPU pods): precise / node-level',
                 '%d / %d' % (evicted[nodes[0]], evicted[nodes[1]]), 'only that GPU\'s (1)', 'PASS' if evicted[nodes[0]] == 1 else 'MISS')

    # -- 7. side by side with mig-parted --------------------------------------------------------------------------------

    def migparted(self):
        """mig_layout and nvidia-mig-parted on the same simulated nodes and transitions (sidebyside.py)."""
        section = '7 Side by side with NVIDIA\'s mig-parted (same nodes, same transitions)'
        import sidebyside  # pylint: disable=import-outside-toplevel
        reason = sidebyside.unavailable()
        if reason:
            self.row(section, 'mig-parted side by side', 'not run', '', 'SKIP')
            self.note('mig-parted side by side skipped: %s' % reason)
            self.results['migparted'] = {'skipped': reason}
            return
        # About 60 s of CPU with 3 runs a transition; more wall time on a busy machine.
        estimate = 40.0 * self.args.migparted_runs
        if self.remaining() < estimate:
            self.row(section, 'mig-parted side by side', 'not run', '', 'SKIP')
            self.note('mig-parted side by side not run: projected at %.0f s, %.0f s of the time budget left; run it alone with '
                      'make bench BENCH_ARGS="--only migparted"' % (estimate, max(self.remaining(), 0)))
            self.results['migparted'] = {'skipped': 'time budget'}
            return
        data = sidebyside.run(os.path.join(BENCH, 'migparted'), self.args.migparted_runs, self.say)
        self.results['migparted'] = data
        for model, found in data['models'].items():
            transitions = found['transitions']
            ours = dict((key, sum(t[key]['mig_layout'] for t in transitions)) for key in ('mutations', 'destroyed', 'created'))
            theirs = dict((key, sum(t[key]['mig-parted'] for t in transitions)) for key in ('mutations', 'destroyed', 'created'))
            failed_calls = sum(t['mutations_failed']['mig-parted'] for t in transitions)
            worse = [t['transition'] for t in transitions if t['mutations']['mig_layout'] > t['mutations']['mig-parted']]
            self.row(section, '%s x%d GPUs, %d transitions: mutating NVML calls, ours / mig-parted' % (model, data['gpus'], len(transitions)),
                     '%d / %d (%s)' % (ours['mutations'], theirs['mutations'], _fmt(ours['mutations'] / float(theirs['mutations'] or 1), 2, 'x')),
                     '<= in each', 'MISS' if worse else 'PASS')
            self.row(section, '  of mig-parted\'s, failed (its compute-instance reuse probe)', '%d' % failed_calls)
            more = [t['transition'] for t in transitions if t['destroyed']['mig_layout'] > t['destroyed']['mig-parted']]
            self.row(section, '  GPU instances destroyed, ours / mig-parted', '%d / %d' % (ours['destroyed'], theirs['destroyed']),
                     'never more', 'MISS' if more else 'PASS')
            stay = [t for t in transitions if t['can_stay']]
            fewer = [t for t in stay if t['destroyed']['mig_layout'] < t['destroyed']['mig-parted']]
            self.row(section, '  transitions where an instance can stay: ours destroys fewer', '%d of %d' % (len(fewer), len(stay)),
                     'all', 'PASS' if len(fewer) == len(stay) else 'MISS')
            self.row(section, '  GPU instances created, ours / mig-parted', '%d / %d' % (ours['created'], theirs['created']))
            wall_ours = sum(t['wall_s']['mig_layout'] for t in transitions)
            wall_theirs = sum(t['wall_s']['mig-parted'] for t in transitions)
            self.row(section, '  wall time of the transitions (medians of %d), ours / mig-parted' % data['runs'],
                     '%s / %s s (%s)' % (_fmt(wall_ours, 2), _fmt(wall_theirs, 2), _fmt(wall_ours / wall_theirs, 2, 'x')))
            noop = found['noop']
            self.row(section, '  no-op (%s again): mutating calls ours / mig-parted; NVML calls' % found['chain'][0],
                     '%d / %d; %d / %d' % (noop['mutations']['mig_layout'], noop['mutations']['mig-parted'], noop['calls']['mig_layout'],
                                           noop['calls']['mig-parted']),
                     '<=', 'PASS' if noop['mutations']['mig_layout'] <= noop['mutations']['mig-parted'] else 'MISS')
            self.row(section, '  no-op wall time, ours / mig-parted', '%s / %s s (%s)' % (
                _fmt(noop['wall_s']['mig_layout'], 2), _fmt(noop['wall_s']['mig-parted'], 2),
                _fmt(noop['wall_s']['mig_layout'] / noop['wall_s']['mig-parted'], 2, 'x')))
            problems = [(t['transition'], p) for t in transitions + [noop] for p in t['problems']]
            self.row(section, '  both tools succeed and end with the same profiles on every GPU', 'yes' if not problems else 'NO (%d)' % len(problems),
                     'yes', 'PASS' if not problems else 'MISS')
            for transition, problem in problems[:5]:
                self.note('%s %s: %s' % (model, transition, problem))

    # -- 1, 3, 6. no-op cost --------------------------------------------------------------------------------------------

    def noop_estimate(self, size):
        """Projected seconds of one no-op step at ``size`` nodes (build, cluster, one interleaved pair), from what was measured."""
        measured = [(int(n), d) for n, d in self.results.get('noop', {}).items() if not d.get('skipped')]
        per_node = max(d['rollout_wall_s'] + d['gpu_info_wall_s'] for n, d in measured) / max(n for n, d in measured) if measured else 12.0
        return 30 + 0.3 * size + size * per_node * 1.15

    def noop_step(self, size, required=False):
        self.results.setdefault('noop', {})
        pairs = self.args.runs if size <= 8 else (self.args.runs_32 if size <= 32 else self.args.runs_128)
        estimate = self.noop_estimate(size)
        if not required and estimate > self.remaining():
            self.note('no-op at %d nodes not run: one interleaved pair is projected at %.0f s from the smaller fleets, and %.0f s of the '
                      'time budget are left; run it alone with make bench BENCH_ARGS="--only noop --sizes %d"'
                      % (size, estimate, max(self.remaining(), 0), size))
            self.results['noop'][str(size)] = {'skipped': True, 'projected_s': estimate}
            return
        self.noop_size(size, pairs)

    def noop_size(self, size, pairs):
        directory = os.path.join(BENCH, 'noop-%d' % size)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        self.say('no-op: building a converged fleet of %d nodes and its cluster' % size)
        fleet = bench_fleet.build(os.path.join(directory, 'fleet'), size, converged=True)
        cluster = self.start_cluster(bench_fleet.cluster_description(fleet, converged=True, tick=1.0), os.path.join(directory, 'k8s'))
        try:
            bench_fleet.inventory(os.path.join(directory, 'inventory.json'), fleet, cluster.kubeconfig, os.path.join(directory, 'report'))
            with open(os.path.join(directory, 'gpu_info.yml'), 'w') as handle:
                handle.write(BASELINE_PLAYBOOK)
            rollout_argv = [ROLLOUT, '-i', 'inventory.json', '-e', json.dumps({'gpufleet_mig_targets': 'simulated',
                                                                               'gpufleet_mig_serial': self.args.noop_serial})]
            baseline_argv = ['gpu_info.yml', '-i', 'inventory.json']
            warm = self.run('warm-up', directory, baseline_argv)
            self.check_rc(warm, 'the gpu_info warm-up run')
            runs = {'rollout': [], 'gpu_info': []}
            for number in range(pairs):
                if number and self.remaining() < 1.2 * (runs['rollout'][-1]['wall_s'] + runs['gpu_info'][-1]['wall_s']):
                    self.note('no-op at %d nodes: %d of %d interleaved pairs run (time budget)' % (size, number, pairs))
                    break
                self.say('no-op %d nodes, pair %d/%d: rollout' % (size, number + 1, pairs))
                rollout = self.run('rollout-%d' % number, directory, rollout_argv, cluster, fleet.states())
                self.check_rc(rollout, 'the no-op rollout at %d nodes' % size)
                rollout['statuses'] = self._statuses(os.path.join(directory, 'report', 'rollout.json'))
                self.say('no-op %d nodes, pair %d/%d: gpu_info (rollout took %.1f s)' % (size, number + 1, pairs, rollout['wall_s']))
                baseline = self.run('gpu_info-%d' % number, directory, baseline_argv, cluster, fleet.states())
                self.check_rc(baseline, 'the gpu_info run at %d nodes' % size)
                runs['rollout'].append(rollout)
                runs['gpu_info'].append(baseline)
        finally:
            cluster.stop()
        self.results['noop'][str(size)] = self._noop_summary(size, fleet, runs)
        return runs

    @staticmethod
    def _statuses(path):
        try:
            with open(path) as handle:
                nodes = json.load(handle)['nodes']
        except (IOError, OSError, ValueError, KeyError):
            return {}
        counts = {}
        for result in nodes.values():
            status = (result or {}).get('status')
            counts[status] = counts.get(status, 0) + 1
        return counts

    def _noop_summary(self, size, fleet, runs):
        ratios = [a['wall_s'] / b['wall_s'] for a, b in zip(runs['rollout'], runs['gpu_info'])]
        cpu_ratios = [a['cpu_s'] / b['cpu_s'] for a, b in zip(runs['rollout'], runs['gpu_info'])]
        walls = sorted(r['wall_s'] for r in runs['rollout'])
        first = [r for r in runs['rollout'] if r['wall_s'] == walls[(len(walls) - 1) // 2]][0]   # the median run (lower median)
        profile = measure.task_profile(first['events'], fleet.names)
        base_profile = measure.task_profile(runs['gpu_info'][0]['events'], fleet.names)
        return {
            'nodes': size, 'gpus': fleet.gpu_count, 'pairs': len(ratios), 'serial': self.args.noop_serial, 'forks': self.args.forks,
            'ratio_wall': median(ratios), 'ratios_wall': ratios, 'ratio_cpu': median(cpu_ratios),
            'rollout_wall_s': median([r['wall_s'] for r in runs['rollout']]), 'gpu_info_wall_s': median([r['wall_s'] for r in runs['gpu_info']]),
            'rollout_cpu_s': median([r['cpu_s'] for r in runs['rollout']]), 'gpu_info_cpu_s': median([r['cpu_s'] for r in runs['gpu_info']]),
            'statuses': [r['statuses'] for r in runs['rollout']],
            'api_requests': [r['api']['requests'] for r in runs['rollout']],
            'api_writes': max(r['api']['writes'] for r in runs['rollout']),
            'api_write_requests': first['api']['write_requests'],
            'api_by_kind': first['api']['by_kind'],
            'api_requests_per_node': median([r['api']['requests'] for r in runs['rollout']]) / size,
            'api_polling': first['api_polling'],
            'nvml_calls_per_gpu': median([r['nvml_calls'] for r in runs['rollout']]) / fleet.gpu_count,
            'nvml_calls_per_gpu_gpu_info': median([r['nvml_calls'] for r in runs['gpu_info']]) / fleet.gpu_count,
            'nvml_mutating': max(r['nvml_mutating'] for r in runs['rollout']),
            'nvml_polling': first['nvml_polling'],
            'module_runs_per_node': profile['module_runs_per_host'],
            'module_runs_per_node_gpu_info': base_profile['module_runs_per_host'],
            'controller_peak_rss_mib': median([r['controller_peak_rss_mib'] for r in runs['rollout']]),
            'max_process_rss_mib': max(r['max_process_rss_mib'] for r in runs['rollout']),
            'controller_peak_rss_mib_gpu_info': median([r['controller_peak_rss_mib'] for r in runs['gpu_info']]),
            'startup_s': (profile['first_task_t'] - (profile['end_t'] - first['wall_s'])) if profile['first_task_t'] else None,
            'tasks': profile['tasks'][:25], 'categories': profile['categories'], 'profiled_wall_s': first['wall_s'],
            'plays': measure.play_spans(first['events']),
        }

    def noop_rows(self):
        section = '1 No-op cost: rollout over a converged fleet / gpu_info once per node (wall, median of interleaved pairs)'
        measured = [(int(size), data) for size, data in sorted(self.results['noop'].items(), key=lambda item: int(item[0]))
                    if not data.get('skipped')]
        for size, data in sorted(self.results['noop'].items(), key=lambda item: int(item[0])):
            if data.get('skipped'):
                self.row(section, '%s nodes: ratio' % size, 'not run (projected %.0f s)' % data['projected_s'], '<= 1.5', 'SKIP')
                continue
            unchanged = all(s == {'unchanged': int(size)} for s in data['statuses'])
            self.row(section, '%s nodes (%d GPUs): ratio, %d pair(s)' % (size, data['gpus'], data['pairs']), _fmt(data['ratio_wall'], 1, 'x'),
                     '<= 1.5', 'PASS' if data['ratio_wall'] <= 1.5 and unchanged else 'MISS')
            self.row(section, '  rollout / gpu_info wall; CPU of the process trees (ratio)',
                     '%s / %s s; %s / %s s (%sx)' % (_fmt(data['rollout_wall_s'], 1), _fmt(data['gpu_info_wall_s'], 1), _fmt(data['rollout_cpu_s'], 1),
                                                     _fmt(data['gpu_info_cpu_s'], 1), _fmt(data['ratio_cpu'], 1)))
            self.row(section, '  every node reported unchanged', 'yes' if unchanged else 'NO: %s' % data['statuses'], 'yes',
                     'PASS' if unchanged else 'MISS')
            self.row(section, '  API writes; mutating NVML calls', '%d; %d' % (data['api_writes'], data['nvml_mutating']), '0; 0',
                     'PASS' if data['api_writes'] == 0 and data['nvml_mutating'] == 0 else 'MISS')
            runs = '%s / %s' % (_fmt(data['module_runs_per_node'], 0), _fmt(data['module_runs_per_node_gpu_info'], 0))
            self.row(section, '  module runs per node: rollout / gpu_info', runs)
        if not measured:
            return
        section3 = '3 API and NVML efficiency'
        counts = [data['api_requests_per_node'] for dummy, data in measured]
        # One read per node plus one ConfigMap read per cluster: per node that falls towards 1 as the fleet grows. Bounded
        # and independent of fleet size means never more per node at a larger size.
        bounded = all(larger <= smaller * 1.05 for smaller, larger in zip(counts, counts[1:]))
        self.row(section3, 'API requests per unchanged node at %s nodes' % ', '.join(str(s) for s, dummy in measured),
                 ', '.join(_fmt(c, 1) for c in counts), 'no more at larger sizes',
                 'info' if len(counts) == 1 else ('PASS' if bounded else 'MISS'))
        self.row(section3, 'NVML calls per GPU, no-op: rollout / gpu_info (%d nodes)' % measured[0][0],
                 '%s / %s' % (_fmt(measured[0][1]['nvml_calls_per_gpu'], 1), _fmt(measured[0][1]['nvml_calls_per_gpu_gpu_info'], 1)))
        section6 = '6 Memory: peak RSS during the no-op rollout'
        for size, data in measured:
            self.row(section6, '%d nodes: ansible-playbook controller (gpu_info run); largest single process' % size,
                     '%s MiB (%s); %s MiB' % (_fmt(data['controller_peak_rss_mib'], 0), _fmt(data['controller_peak_rss_mib_gpu_info'], 0),
                                              _fmt(data['max_process_rss_mib'], 0)))
        if measured[-1][0] < 128:
            self.note('memory: the 128-node run was not made; the figures are of the largest fleet measured (%d nodes)' % measured[-1][0])

    def task_cost_step(self):
        """What one task costs, by kind (a diagnostic for "where the time goes"; the last step, run when time is left)."""
        if self.remaining() < 60:
            self.note('the cost of one task by kind was not measured (time budget); run it with make bench BENCH_ARGS="--only noop --sizes 1"')
            return
        directory = os.path.join(BENCH, 'task-cost')
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        fleet = bench_fleet.build(os.path.join(directory, 'fleet'), 1, converged=True)
        cluster = self.start_cluster(bench_fleet.cluster_description(fleet, converged=True, tick=1.0), os.path.join(directory, 'k8s'))
        try:
            bench_fleet.inventory(os.path.join(directory, 'inventory.json'), fleet, cluster.kubeconfig, os.path.join(directory, 'report'))
            self.results['task_cost'] = self.task_cost(directory, fleet, cluster)
        finally:
            cluster.stop()

    def task_cost(self, directory, fleet, cluster):
        """One node, each kind of task three times: host-seconds per task by kind, and the Kubernetes client's import cost."""
        self.say('what one task costs, by kind (one node, three times each)')
        with open(os.path.join(directory, 'task_cost.yml'), 'w') as handle:
            handle.write(TASK_COST_PLAYBOOK)
        with open(os.path.join(directory, 'task_cost_tasks.yml'), 'w') as handle:
            handle.write(TASK_COST_TASKS)
        host = fleet.names[0]
        result = self.run('task-cost', directory, ['task_cost.yml', '-i', 'inventory.json', '-e', json.dumps({'bench_host': host})])
        self.check_rc(result, 'the task-cost playbook')
        profile = measure.task_profile(result['events'], [host])
        costs = dict((row['task'], row['host_s'] / max(row['runs'], 1)) for row in profile['tasks'] if row['runs'])
        client = []
        for dummy in range(3):
            proc = subprocess.run([os.environ['VENV_PYTHON'], '-c', K8S_CLIENT_COST, cluster.kubeconfig, host], capture_output=True, text=True,
                                  env=self.env, check=False)
            if proc.returncode == 0:
                client.append(float(proc.stdout.strip()))
        return {'per_task_s': costs, 'k8s_client_import_and_first_read_cpu_s': median(client)}

    # -- 2, 3. change cost ------------------------------------------------------------------------------------------

    def change_estimate(self, batch):
        nodes = self.args.change_nodes
        batches = -(-nodes // batch)
        runs = (self.results.get('change') or {}).get('runs') or []
        waits = self.args.drain_wait + self.args.plugin_wait
        if runs:
            preflight = max(r['preflight_s'] or 0 for r in runs)
            overhead = max(r['batch_phase_s'] / r['batches'] - waits for r in runs)
            # A batch of b nodes shares the CPUs: assume its overhead grows with b as much as measured, else linearly.
            scale = 1.0 if any(r['batch_size'] >= batch for r in runs) else batch / float(max(r['batch_size'] for r in runs))
            return 20 + preflight + batches * (overhead * scale + waits)
        return 20 + 10 * nodes + batches * (60 * batch + waits)

    def change_step(self, batch, repeat=0, required=False):
        if 'change' not in self.results:
            self.results['change'] = {'nodes': self.args.change_nodes, 'drain_wait_s': self.args.drain_wait,
                                      'plugin_wait_s': self.args.plugin_wait, 'runs': []}
        estimate = self.change_estimate(batch)
        if not required and estimate > self.remaining():
            self.note('change cost at batch size %d (run %d) not run: projected %.0f s, %.0f s of the time budget left; run it alone with '
                      'make bench BENCH_ARGS="--only change --batch-sizes %d"' % (batch, repeat + 1, estimate, max(self.remaining(), 0), batch))
            return
        self.results['change']['runs'].append(self.change_run(self.args.change_nodes, batch, repeat))

    def change_run(self, nodes, batch, repeat):
        directory = os.path.join(BENCH, 'change-b%d' % batch)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        self.say('change: %d nodes to repartition, batch size %d (run %d)' % (nodes, batch, repeat + 1))
        fleet = bench_fleet.build(os.path.join(directory, 'fleet'), nodes, converged=False)
        description = bench_fleet.cluster_description(fleet, converged=False, tick=0.1, plugin_restart_delay=self.args.plugin_wait,
                                                      pod_termination_grace=self.args.drain_wait, workloads=True)
        cluster = self.start_cluster(description, os.path.join(directory, 'k8s'))
        try:
            bench_fleet.inventory(os.path.join(directory, 'inventory.json'), fleet, cluster.kubeconfig, os.path.join(directory, 'report'))
            argv = [ROLLOUT, '-i', 'inventory.json', '-e', json.dumps({'gpufleet_mig_targets': 'simulated', 'gpufleet_mig_serial': batch})]
            result = self.run('rollout', directory, argv, cluster, fleet.states())
            self.check_rc(result, 'the changing rollout (batch size %d)' % batch)
            statuses = self._statuses(os.path.join(directory, 'report', 'rollout.json'))
        finally:
            cluster.stop()
        events = result['events']
        batch_starts = measure.task_starts(events, 'Note the batch')
        report = measure.play_starts(events, 'Report')
        ends = batch_starts[1:] + (report[:1] or [events[-1]['t']])
        per_batch = [end - start for start, end in zip(batch_starts, ends)]
        profile = measure.task_profile(events, fleet.names)
        waits = len(per_batch) * (self.args.drain_wait + self.args.plugin_wait)
        evictions = result['api']['by_kind'].get('evict pods/eviction', 0)
        return {
            'batch_size': batch, 'repeat': repeat, 'nodes': nodes, 'gpus': fleet.gpu_count, 'statuses': statuses, 'wall_s': result['wall_s'],
            'cpu_s': result['cpu_s'], 'batches': len(per_batch), 'per_batch_s': per_batch, 'batch_phase_s': sum(per_batch),
            'preflight_s': (batch_starts[0] - (events[-1]['t'] - result['wall_s'])) if batch_starts else None,
            'startup_s': (profile['first_task_t'] - (events[-1]['t'] - result['wall_s'])) if profile['first_task_t'] else None,
            'critical_waits_s': waits, 'overhead_ratio': result['wall_s'] / waits if waits else None,
            'batch_phase_ratio': sum(per_batch) / waits if waits else None,
            'api_requests_per_node': result['api']['requests'] / float(nodes), 'api_writes_per_node': result['api']['writes'] / float(nodes),
            'api_by_kind': result['api']['by_kind'], 'api_polling': result['api_polling'], 'evictions': evictions,
            'nvml_calls_per_gpu': result['nvml_calls'] / float(fleet.gpu_count), 'nvml_mutating': result['nvml_mutating'],
            'nvml_polling': result['nvml_polling'], 'module_runs_per_node': profile['module_runs_per_host'], 'tasks': profile['tasks'][:25],
            'categories': profile['categories'],
        }

    def change_rows(self):
        data = self.results['change']
        runs = data['runs']
        section = '2 Change cost: every node repartitioned; simulated drain %.0f s + plugin restart %.0f s a batch' % (
            data['drain_wait_s'], data['plugin_wait_s'])
        if not runs:
            self.row(section, 'no run', 'n/a', '', 'SKIP')
            return
        by_batch = {}
        for run in runs:
            by_batch.setdefault(run['batch_size'], []).append(run)
        base = median([r['batch_phase_s'] / r['batches'] for r in by_batch.get(min(by_batch), [])])
        for batch in sorted(by_batch):
            group = by_batch[batch]
            changed = all(r['statuses'] == {'changed': r['nodes']} for r in group)
            ratio = median([r['overhead_ratio'] for r in group])
            per_batch = median([r['batch_phase_s'] / r['batches'] for r in group])
            figure = 'batch size %d (%d nodes, %d batches, %d run(s)): total; time per batch' % (
                batch, group[0]['nodes'], group[0]['batches'], len(group))
            self.row(section, figure, '%s s; %s s' % (_fmt(median([r['wall_s'] for r in group]), 1), _fmt(per_batch, 1)))
            self.row(section, '  overhead ratio: total / simulated waits on the critical path (%s s)' % _fmt(group[0]['critical_waits_s'], 0),
                     _fmt(ratio, 2, 'x'), '<= 1.25', 'PASS' if ratio <= 1.25 and changed else 'MISS')
            if batch != min(by_batch):
                growth = per_batch / base if base else None
                self.row(section, '  time per batch / time per batch at batch size %d (proportional fall = 1.0)' % min(by_batch),
                         _fmt(growth, 2, 'x'), '<= 1.25', 'PASS' if growth is not None and growth <= 1.25 else 'MISS')
            own = per_batch - data['drain_wait_s'] - data['plugin_wait_s']
            self.row(section, '  collection time per batch (time per batch - waits)', _fmt(own, 1, ' s'))
            self.row(section, '  waits per batch that would make the batch phase 1.25x its waits', _fmt(own / 0.25, 0, ' s'))
            if not changed:
                self.row(section, '  every node reported changed', 'NO: %s' % [r['statuses'] for r in group], 'yes', 'MISS')
        section3 = '3 API and NVML efficiency'
        first = runs[0]
        self.row(section3, 'API requests per changed node (writes) at batch size %d' % first['batch_size'],
                 '%s (%s)' % (_fmt(first['api_requests_per_node'], 1), _fmt(first['api_writes_per_node'], 1)))
        self.row(section3, 'pods evicted per changed node (1 GPU pod each)', _fmt(first['evictions'] / float(first['nodes']), 1), '1',
                 'PASS' if first['evictions'] == first['nodes'] else 'MISS')
        self.row(section3, 'NVML calls per GPU, change (mutating calls per GPU)',
                 '%s (%s)' % (_fmt(first['nvml_calls_per_gpu'], 1), _fmt(first['nvml_mutating'] / float(first['gpus']), 1)))

    def polling_rows(self):
        """Polling loops over every measured rollout (no-op: the first run of each size; change: every run)."""
        runs = [data for data in self.results.get('noop', {}).values() if not data.get('skipped')]
        runs += (self.results.get('change') or {}).get('runs') or []
        if not runs:
            return
        section3 = '3 API and NVML efficiency'
        shortest = [r['api_polling']['shortest_s'] for r in runs if r['api_polling']['shortest_s'] is not None]
        loops = sum(r['api_polling']['loops'] for r in runs)
        fastest = min(shortest) if shortest else None
        self.row(section3, 'API polling loops; shortest interval between polls', '%d; %s' % (loops, _fmt(fastest, 2, ' s')), '>= 1 s',
                 'PASS' if fastest is None or fastest >= 0.99 else 'MISS')
        nvml = [r['nvml_polling'] for r in runs]
        polls = sum(n['loops'] for n in nvml)
        gaps = [n['shortest_gap_s'] for n in nvml if n['shortest_gap_s'] is not None]
        self.row(section3, 'NVML polling loops; shortest interval between polls', '%d; %s' % (polls, _fmt(min(gaps) if gaps else None, 2, ' s')),
                 '>= 1 s', 'PASS' if not gaps or min(gaps) >= 0.99 else 'MISS')

    # -- output -----------------------------------------------------------------------------------------------------

    def where_time_goes(self):
        """Lines on where the rollout's time goes: by kind of task, the top tasks, and what one task costs."""
        lines = []

        def breakdown(title, wall, startup, categories, tasks, extra=None):
            lines.append(title)
            parts = [('ansible-playbook start-up (to the first task)', startup)]
            parts += [(name, categories.get(name, 0.0)) for name in measure.CATEGORIES]
            if extra:
                parts.append(extra)
            for name, seconds in parts:
                if seconds is not None:
                    lines.append('    %-46s %7.1f s  %3.0f%%' % (name, seconds, 100.0 * seconds / wall if wall else 0))
            lines.append('    top tasks (time on the play\'s timeline; host-seconds; runs):')
            for task in tasks[:6]:
                lines.append('      %-66s %6.1f s %6.1f hs %3d' % (task['task'][-66:], task['span_s'], task['host_s'], task['runs']))

        noop = [(int(size), data) for size, data in self.results.get('noop', {}).items() if not data.get('skipped')]
        if noop:
            size, data = min(noop)
            breakdown('no-op rollout, %d nodes (the median run): %.1f s' % (size, data['profiled_wall_s']), data['profiled_wall_s'],
                      data['startup_s'], data['categories'], data['tasks'])
            lines.append('    by play: ' + '; '.join('%s %.1f s (%.0f%%)' % (name, seconds, 100.0 * seconds / data['profiled_wall_s'])
                                                     for name, seconds in data['plays'].items()))
        cost = self.results.get('task_cost')
        if cost:
            lines.append('  one task on one node (mean host-seconds of 3): ' + '; '.join(
                '%s %.2f s' % (name, seconds) for name, seconds in sorted(cost['per_task_s'].items(), key=lambda item: item[1])
                if name != 'Repeat the tasks'))
            lines.append('  Kubernetes client: import + client + first read, CPU: %s s' % _fmt(cost['k8s_client_import_and_first_read_cpu_s'], 2))
        runs = self.results.get('change', {}).get('runs') or []
        if runs:
            run = runs[0]
            waits = run['critical_waits_s']
            title = 'changing rollout, %d nodes, batch size %d: %.1f s, of which simulated waits %.0f s' % (
                run['nodes'], run['batch_size'], run['wall_s'], waits)
            breakdown(title, run['wall_s'], run['startup_s'], run['categories'], run['tasks'],
                      ('  of which simulated waits (drain, plugin restart)', waits))
        return lines

    def table(self):
        width = min(max([len(row[1]) for row in self.rows] + [40]), 66)
        value_width = min(max([len(str(row[2])) for row in self.rows] + [10]), 34)
        lines = ['  %-*s  %-*s  %-10s %s' % (width, 'figure', value_width, 'value', 'goal', 'result')]
        section = None

        def number(row):
            head = row[0].split(' ', 1)[0]
            return int(head) if head.isdigit() else 99
        for sec, figure, value, goal, verdict in sorted(self.rows, key=number):
            if sec != section:
                lines.append(sec)
                section = sec
            lines.append('  %-*s  %-*s  %-10s %s' % (width, figure, value_width, value, goal or '-', verdict))
        return '\n'.join(lines)


def schedule(bench, args):
    """The steps in order of priority, so that a tight time budget drops the least important ones (and says so).

    First the cheap parts, then one figure of each kind (the smallest no-op fleet; the smallest and the largest batch
    size), then the larger fleets and the other batch sizes, and last the repeats of the change runs.
    """
    steps = []
    if 'planner' in args.parts:
        steps.append(('planner', bench.planner))
    if 'disruption' in args.parts:
        steps.append(('disruption', bench.disruption))
    if 'fleetplan' in args.parts:
        steps.append(('fleetplan', bench.fleetplan))
    sizes = sorted(args.sizes)
    batches = sorted(args.batch_sizes)
    first_batches = batches[:1] + batches[-1:] if len(batches) > 1 else batches
    if 'noop' in args.parts and sizes:
        steps.append(('noop', lambda size=sizes[0]: bench.noop_step(size, required=True)))
    if 'change' in args.parts:
        for position, batch in enumerate(first_batches):
            steps.append(('change', lambda batch=batch, position=position: bench.change_step(batch, required=position == 0)))
    if 'noop' in args.parts:
        for size in sizes[1:]:
            if size <= 32:
                steps.append(('noop', lambda size=size: bench.noop_step(size)))
    if 'change' in args.parts:
        for batch in batches:
            if batch not in first_batches:
                steps.append(('change', lambda batch=batch: bench.change_step(batch)))
    if 'noop' in args.parts:
        for size in sizes[1:]:
            if size > 32:
                steps.append(('noop', lambda size=size: bench.noop_step(size)))
    if 'change' in args.parts:
        for repeat in range(1, args.change_runs):
            for batch in batches:
                steps.append(('change', lambda batch=batch, repeat=repeat: bench.change_step(batch, repeat)))
    if 'migparted' in args.parts:
        steps.append(('migparted', bench.migparted))
    if 'noop' in args.parts:
        steps.append(('noop', bench.task_cost_step))
    return steps


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--only', default=','.join(PARTS), help='parts to run, comma separated: %s (api, memory, nvml: the runs that give them)'
                        % ', '.join(PARTS))
    parser.add_argument('--sizes', default='8,32,128', help='no-op fleet sizes (default 8,32,128)')
    parser.add_argument('--runs', type=int, default=3, help='interleaved pairs at 8 nodes or fewer (default 3)')
    parser.add_argument('--runs-32', type=int, default=1, help='interleaved pairs at 9-32 nodes (default 1)')
    parser.add_argument('--runs-128', type=int, default=1, help='interleaved pairs above 32 nodes (default 1)')
    parser.add_argument('--noop-serial', default='[1, "25%"]', help='gpufleet_mig_serial of the no-op rollout, JSON (default [1, "25%%"])')
    parser.add_argument('--forks', type=int, default=5, help='Ansible forks, the same for every run (default 5)')
    parser.add_argument('--change-nodes', type=int, default=3, help='nodes of the changing fleet (default 3)')
    parser.add_argument('--batch-sizes', default='1,2,3', help='batch sizes of the changing rollout (default 1,2,3)')
    parser.add_argument('--change-runs', type=int, default=1, help='runs per batch size, interleaved (default 1)')
    parser.add_argument('--drain-wait', type=float, default=4.0, help='simulated pod termination grace, seconds (default 4)')
    parser.add_argument('--plugin-wait', type=float, default=4.0, help='simulated device plugin restart delay, seconds (default 4)')
    parser.add_argument('--migparted-runs', type=int, default=3, help='interleaved runs of each tool per transition, side by side with mig-parted (default 3)')
    parser.add_argument('--plan-nodes', type=int, default=1000, help='nodes of the fleet plan (default 1000)')
    parser.add_argument('--fleet-sizes', default='8,128,1000', help='nodes of the fleet planner\'s synthetic fleets (default 8,128,1000)')
    parser.add_argument('--fleet-exact-nodes', type=int, default=8, help='largest fleet with the exact optimum computed (default 8)')
    parser.add_argument('--budget', type=float, default=960.0,
                        help='seconds this driver may take; runs projected to overrun it are skipped and said so (default 960)')
    parser.add_argument('--output', default=os.path.join(BENCH, 'results.json'))
    args = parser.parse_args(argv)
    parts = []
    for part in args.only.split(','):
        part = part.strip()
        for name in ALIASES.get(part, (part,)):
            if name not in PARTS:
                parser.error('unknown part %r; choose from %s' % (part, ', '.join(PARTS + tuple(ALIASES))))
            if name not in parts:
                parts.append(name)
    args.parts = [p for p in PARTS if p in parts]
    args.sizes = sorted(int(s) for s in args.sizes.split(','))
    args.fleet_sizes = sorted(int(s) for s in args.fleet_sizes.split(','))
    args.batch_sizes = sorted(int(s) for s in args.batch_sizes.split(','))
    args.noop_serial = json.loads(args.noop_serial)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.makedirs(BENCH, exist_ok=True)
    try:
        bench = Bench(args)
    except BenchError as exc:
        print('bench: %s' % exc, file=sys.stderr)
        return 2
    now = datetime.datetime.now(datetime.timezone.utc)
    bench.results['date'] = now.strftime('%Y-%m-%d %H:%M UTC')
    bench.results['machine'] = bench.machine()
    bench.results['settings'] = dict((key, value) for key, value in vars(args).items() if key != 'output')
    bench.say('parts: %s; budget %.0f s; machine: %d cores, %s' % (', '.join(args.parts), args.budget, bench.results['machine']['cores'],
                                                                   bench.results['machine']['cpu_model']))
    failed = None
    for part, step in schedule(bench, args):
        try:
            step()
        except (BenchError, k8ssim.K8sSimError, RuntimeError, OSError, AssertionError) as exc:
            failed = '%s: %s' % (part, exc)
            bench.row('errors', 'part %s did not finish' % part, str(exc).splitlines()[0][:120], '', 'FAIL')
            print('bench: part %s failed: %s' % (part, exc), file=sys.stderr)
    for part, rows in (('noop', bench.noop_rows), ('change', bench.change_rows)):
        if part in args.parts and bench.results.get(part):
            rows()
    bench.polling_rows()
    bench.results['wall_s'] = time.monotonic() - bench.started
    bench.results['table'] = [dict(zip(('section', 'figure', 'value', 'goal', 'result'), row)) for row in bench.rows]
    bench.results['notes'] = bench.notes
    with open(args.output, 'w') as handle:
        json.dump(bench.results, handle, indent=2, sort_keys=True, default=str)
    machine = bench.results['machine']
    print('\ngpufleet.mig benchmark, %s; %s cores %s, Python %s, ansible-core %s; forks %d; %.0f s'
          % (bench.results['date'], machine['cores'], machine['cpu_model'], machine['python'], machine['ansible_core'], args.forks,
             bench.results['wall_s']))
    print(bench.table())
    lines = bench.where_time_goes()
    if lines:
        print('\nwhere the time goes:')
        print('\n'.join('  ' + line for line in lines))
    if bench.notes:
        print('\nnotes:')
        for text in bench.notes:
            print('  - ' + text)
    print('\nresults: %s' % args.output)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
