#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault injection and kill-and-resume trials over the rollout (tests/reliability).

  suite.py faults [--root DIR]                       the fault plan below, once
  suite.py kills [--trials N] [--seed S] [--root DIR] N kill-and-resume trials (a soak by hand: --trials 50)

Each prints its counts and writes them as JSON to DIR/<name>.json; the exit status is 1 when anything was lost.

The fault plan is a chain of rollouts over eight simulated nodes in two groups: in each, three nodes whose GPUs
NVIDIA's device plugin hands to Kubernetes and one that NVIDIA's DRA driver serves (static MIG; its GPU pods hold
whole GPUs through ResourceClaims). Each run injects faults on one
group, whose nodes get new targets, while the other group's nodes (faulted in the run before) keep theirs and
must converge; so every node that a fault stopped is shown to converge in the very next run, and each run does
double duty. Every fault must fire (a fault that no longer fires means the plan no longer hits its step), and
after every run every node is converged, labelled failed with a reason, untouched, or (only while the API
server is down) labelled pending; every GPU is in its old or its new layout; no disruption budget was broken;
no workload pod was deleted outside the Eviction API; and the rollout's own report agrees with the nodes.

The kill trials SIGKILL the rollout at random moments (the next run must converge), a run that holds the rollout lock
(another run is refused until the lock expires, then takes it over), a run waiting for a DRA node's new ResourceSlices,
and a move of a node to the DRA driver (playbooks/migrate_allocator.yml) once the node is cordoned (the next move must
finish it under the same lock).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from world import (  # noqa: E402  pylint: disable=wrong-import-position
    CORDON_ANNOTATION, ROOT, STATE_LABEL, World, check_run, dra_devices, exact_layout, kill_tree, node_view, nothing_changed)

NODES = {
    # group 1
    'n1': ('A100-SXM4-40GB', 2, 'off'),
    'n2': ('H100-SXM5-80GB', 2, 'a'),
    'n3': ('A30', 2, 'off'),
    # group 2
    'n4': ('A100-SXM4-40GB', 2, 'a'),
    'n5': ('H100-SXM5-80GB', 2, 'off'),
    'n6': ('A30', 2, 'a'),
    # NVIDIA's DRA driver, one per group: d1 (group 1) starts with MIG off and two pods holding a GPU each by claim.
    'd1': ('A100-SXM4-40GB', 2, 'off', 'dra'),
    'd2': ('A30', 2, 'a', 'dra'),
}


# The rollout's task that restarts a DRA node's kubelet plugin and waits for its ResourceSlices (roles/mig_rollout).
DRA_WAIT_TASK = "Restart the DRA kubelet plugin and wait until the node's ResourceSlices list the new MIG devices"


def nvml(node, function, **kwargs):
    return dict(kind='nvml', node=node, function=function, **kwargs)


def k8s(node, in_task=None, **rule):
    """A Kubernetes API fault; with ``in_task``, it counts as fired only if the node's record says it failed in that task
    (so a rule counted by its Nth request is seen to hit the step it is meant for)."""
    return dict(kind='k8s', node=node, rule=rule, in_task=in_task)


def dra_plugin(node, **fault):
    """The node's DRA kubelet plugin fails (World.dra_plugin_fault): ``start_error`` (it crash-loops) or ``restart_delay``."""
    return dict(kind='dra-plugin', node=node, fault=fault)


def podres(node, mode):
    """The node's kubelet pod-resources socket fails (World.pod_resources_fault): ``refused`` or ``stall``."""
    return dict(kind='podres', node=node, mode=mode)


# Each run: the targets of the nodes that change in it, and its faults (name, what it hits, the fault).
# Node names in a Kubernetes rule's "name" or "namespace" are the node's; "@plugin" is the node's device plugin pod,
# "@dra-plugin" its DRA kubelet plugin pod.
PLAN = [
    {'title': 'preflight: an unreadable GPU node and an API error stop the rollout before any change',
     'targets': {'n1': 'a', 'n2': 'b', 'n3': 'a', 'n4': 'b', 'n5': 'a', 'n6': 'b', 'd1': 'a', 'd2': 'b'},
     'preflight_only': True,
     'faults': [
         ('nvml-init-error', 'preflight reads the GPUs', nvml('n2', 'nvmlInitWithFlags', error='DRIVER_NOT_LOADED')),
         ('k8s-read-500', 'preflight reads the node', k8s('n4', verb='get', resource='nodes', name='n4', code=500)),
         # The preflight's DRA check lists every ResourceClaim once, for all DRA nodes.
         ('k8s-dra-claims-preflight-500', "list the ResourceClaims in the preflight's DRA check",
          k8s('d1', verb='list', resource='resourceclaims', code=500)),
     ]},
    # d2 keeps its layout here: d1 is then the only DRA node whose batch lists the ResourceClaims, in a known order.
    {'title': 'group 1: MIG enable, GPU instance creation, the drain and the DRA claims list fail; group 2 changes cleanly',
     'targets': {'n1': 'a', 'n2': 'b', 'n3': 'a', 'n4': 'b', 'n5': 'a', 'n6': 'b', 'd1': 'a', 'd2': 'a'},
     'faults': [
         ('nvml-enable-error', 'enable MIG', nvml('n1', 'nvmlDeviceSetMigMode', error='UNKNOWN')),
         ('nvml-create-gi-error', 'create the 2nd GPU instance', nvml('n2', 'nvmlDeviceCreateGpuInstanceWithPlacement', nth=2, error='UNKNOWN')),
         ('nvml-read-stall', 'read MIG mode (2 s stall)', nvml('n2', 'nvmlDeviceGetMigMode', stall_ms=2000)),
         ('k8s-evict-drop', 'evict a GPU pod (connection dropped)', k8s('n3', verb='evict', resource='pods', namespace='ns-n3', drop=True)),
         ('k8s-evict-429', 'evict a GPU pod (429 without a budget)', k8s('n3', verb='evict', resource='pods', namespace='ns-n3', nth=2, code=429)),
         ('k8s-plugin-restart-500', 'restart the device plugin', k8s('n3', verb='delete', resource='pods', namespace='gpu-operator',
                                                                     name='@plugin', code=500)),
         # The ResourceClaims lists: the preflight's DRA check, then in d1's batch the DRA re-check and the drain's (it
         # tells the pods holding d1's GPUs by their claims); the 4th would be the plugin restart's.
         ('k8s-dra-claims-drain-500', "list the ResourceClaims in the drain of a DRA node",
          k8s('d1', verb='list', resource='resourceclaims', nth=3, code=500, in_task='Label the node pending, cordon it and drain its GPU work')),
     ]},
    {'title': 'group 2: MIG disable, instance destruction and compute instance creation fail; group 1 converges',
     'targets': {'n4': 'off', 'n5': 'b', 'n6': 'a', 'd2': 'b'},
     'faults': [
         # d2's ResourceSlice lists: the preflight, the batch's re-check, the restart's first read, then the wait's polls.
         ('k8s-dra-slices-wait-500', "list the node's ResourceSlices in the wait after the DRA plugin restart",
          k8s('d2', verb='list', resource='resourceslices', query='spec.nodeName=d2', nth=4, code=500, in_task=DRA_WAIT_TASK)),
         ('nvml-disable-error', 'disable MIG', nvml('n4', 'nvmlDeviceSetMigMode', error='UNKNOWN')),
         ('k8s-conflict', 'label pending and cordon (409 conflict)', k8s('n5', verb='patch', resource='nodes', name='n5', code=409)),
         ('nvml-destroy-gi-in-use', 'destroy a GPU instance', nvml('n5', 'nvmlGpuInstanceDestroy', error='IN_USE')),
         ('nvml-create-ci-error', 'create the 3rd compute instance',
          nvml('n6', 'nvmlGpuInstanceCreateComputeInstanceWithPlacement', nth=3, error='UNKNOWN')),
     ]},
    # n1 goes to MIG off, so that a GPU workload can run there for the drain two runs later.
    {'title': 'group 1: compute instance destruction and the pending label fail, slow NVML and API; group 2 converges',
     'targets': {'n1': 'off', 'n2': 'off', 'n3': 'b', 'd1': 'b'},
     'faults': [
         ('dra-plugin-crashloop', 'restart the DRA kubelet plugin (it crash-loops past the wait)',
          dra_plugin('d1', start_error='error creating driver: injected fault (reliability)')),
         ('nvml-destroy-ci-error', 'destroy a compute instance', nvml('n1', 'nvmlComputeInstanceDestroy', error='UNKNOWN')),
         ('k8s-label-500', 'label pending and cordon', k8s('n2', verb='patch', resource='nodes', name='n2', code=500)),
         ('k8s-slow-read', 'read the node (2.5 s)', k8s('n3', verb='get', resource='nodes', name='n3', nth=3, delay_ms=2500)),
         ('nvml-create-stall', 'create a GPU instance (2 s stall)', nvml('n3', 'nvmlDeviceCreateGpuInstanceWithPlacement', stall_ms=2000)),
     ]},
    {'title': 'group 2: an NVML read fails mid-change, late API writes fail or drop; group 1 converges',
     'targets': {'n4': 'a', 'n5': 'a', 'n6': 'b', 'd2': 'a'},
     'faults': [
         # Dropped and retried (the client retries a GET): absorbed; then the new plugin starts only after the wait's end.
         ('k8s-dra-slices-wait-drop', "list the node's ResourceSlices in the DRA plugin wait (connection dropped)",
          k8s('d2', verb='list', resource='resourceslices', query='spec.nodeName=d2', nth=4, drop=True)),
         ('dra-plugin-slow', 'restart the DRA kubelet plugin (it starts 120 s later, long past the 20 s wait)',
          dra_plugin('d2', restart_delay=120)),
         ('nvml-read-error', 'read a new GPU instance', nvml('n4', 'nvmlGpuInstanceGetInfo', error='UNKNOWN')),
         # The node's writes: the pending label with the cordon, then the success label with the uncordon.
         ('k8s-uncordon-500', 'label success and uncordon (the 2nd node write)',
          k8s('n5', verb='patch', resource='nodes', name='n5', nth=2, code=500)),
         ('k8s-plugin-delete-drop', 'restart the device plugin (connection dropped)',
          k8s('n6', verb='delete', resource='pods', namespace='gpu-operator', name='@plugin', drop=True)),
     ]},
    {'title': "group 1: the device plugin ConfigMap write and the reads of the drain's and the device plugin's waits fail; "
              'group 2 converges',
     'targets': {'n1': 'a', 'n2': 'b', 'n3': 'a', 'd1': 'off'},
     # n2 alone has a config that is not in the ConfigMap yet: its rollout is the one that writes it.
     'plugin_configs': {'n2': 'mixed-n2'},
     # n1 has MIG off since the run before: a GPU workload runs there, for the drain to evict and wait for.
     'workloads': {'n1': 'late-gpu-n1'},
     'faults': [
         ('k8s-drain-wait-500', "read an evicted GPU pod in the drain's wait", k8s('n1', verb='get', resource='pods', namespace='ns-n1', code=500)),
         ('k8s-configmap-write-500', 'write the device plugin ConfigMap',
          k8s('n2', verb='patch', resource='configmaps', namespace='gpu-operator', name='nvidia-device-plugin-configs', code=500)),
         # The 1st list of the plugin pods on n3 finds the pod to restart; the 2nd is the wait's.
         ('k8s-plugin-wait-500', "list the new device plugin pod in the wait for the node's resources",
          k8s('n3', verb='list', resource='pods', namespace='gpu-operator', query='spec.nodeName=n3', nth=2, code=500)),
         ('k8s-dra-plugin-delete-500', 'restart the DRA kubelet plugin (delete its pod)',
          k8s('d1', verb='delete', resource='pods', namespace='dra-driver-nvidia-gpu', name='@dra-plugin', code=500, in_task=DRA_WAIT_TASK)),
     ]},
    {'title': 'the API server goes away for 15 s in the middle of a batch; group 1 converges',
     'targets': {'n4': 'b', 'n5': 'b', 'n6': 'a', 'd2': 'b'},
     'outage': 15,
     'faults': []},
    # The drains of n4 and n6 are asked to be GPU-precise (the default) and cannot be: they evict every GPU pod, under
    # the budgets, and each node's record says why.
    {'title': "group 2: the kubelet's pod-resources socket refuses connections and never answers; group 1 converges",
     # d2 goes to MIG off: whatever the outage left it in (a or b), its layout changes and its plugin is restarted.
     'targets': {'n4': 'a', 'n6': 'b', 'd2': 'off'},
     'faults': [
         ('podres-refused', 'read which pod holds which GPU (connection refused)', podres('n4', 'refused')),
         ('podres-stall', 'read which pod holds which GPU (no answer until the deadline)', podres('n6', 'stall')),
         ('k8s-dra-plugin-delete-drop', 'restart the DRA kubelet plugin (connection dropped)',
          k8s('d2', verb='delete', resource='pods', namespace='dra-driver-nvidia-gpu', name='@dra-plugin', drop=True)),
     ]},
    {'title': 'no faults: every node converges',
     'targets': {},
     'faults': []},
]


class Counts(object):
    def __init__(self):
        self.injected = self.fired = self.refused = self.absorbed = self.failed_cleanly = self.lost = 0
        self.runs = []
        self.problems = []


def _inject(world, fault):
    if fault['kind'] == 'podres':
        return world.pod_resources_fault(fault['node'], fault['mode'])
    if fault['kind'] == 'nvml':
        options = dict((k, v) for k, v in fault.items() if k not in ('kind', 'node', 'function'))
        world.nvml_fault(fault['node'], fault['function'], **options)
        return None
    if fault['kind'] == 'dra-plugin':
        world.dra_plugin_fault(fault['node'], **fault['fault'])
        return len(world.dra_plugin_starts(fault['node']))
    rule = dict(fault['rule'])
    if rule.get('name') == '@plugin':
        rule['name'] = world.plugin_pod(fault['node'])
    elif rule.get('name') == '@dra-plugin':
        rule['name'] = world.dra_plugin_pod(fault['node'])
    return world.k8s_fault(**rule)['id']


def _fired(world, fault, rule_id):
    if fault['kind'] == 'podres':
        # Fired and handled: the node's drain fell back to every GPU pod, and its record says so, naming the socket.
        record = world.results().get(fault['node']) or {}
        return record.get('drain') == 'node' and rule_id in (record.get('drain_fallback') or '')
    if fault['kind'] == 'nvml':
        return any(f['function'] == fault['function'] and f['calls_seen'] >= f['nth'] for f in world.nvml_faults(fault['node']))
    if fault['kind'] == 'dra-plugin':
        # rule_id: how many plugin starts the node had before the run. A crash loop fired when a start since failed with
        # its error; a slow restart when the rollout restarted the plugin and its wait ended with no new plugin started.
        starts = world.dra_plugin_starts(fault['node'])[rule_id:]
        if fault['fault'].get('start_error'):
            return any(entry.get('error') == fault['fault']['start_error'] for entry in starts)
        reason = (world.results().get(fault['node']) or {}).get('reason') or ''
        return not starts and reason.startswith(DRA_WAIT_TASK + ':') and 'after the DRA kubelet plugin was restarted' in reason
    if fault.get('in_task'):
        reason = (world.results().get(fault['node']) or {}).get('reason') or ''
        if not reason.startswith(fault['in_task'] + ':'):
            return False
    return any(rule['id'] == rule_id and rule['fired'] > 0 for rule in world.k8s_faults())


def _outage(world, seconds, done, began):
    """Once a node of the run is labelled pending, drop every API request for ``seconds``."""
    while not done.is_set():
        nodes = world.cluster.dump()['objects']['nodes']
        if any((node['metadata'].get('labels') or {}).get(STATE_LABEL) == 'pending' for node in nodes):
            world.k8s_fault(verb='*', resource='*', drop=True, repeat=True)
            began.append(time.monotonic())
            time.sleep(seconds)
            world.cluster.clear_faults()
            return
        done.wait(0.2)


def run_faults(root, log=print):
    """Run PLAN; return the counts (the caller decides what is a failure: anything in counts.problems)."""
    counts = Counts()
    world = World(root, NODES)
    targets = dict((name, spec[2]) for name, spec in NODES.items())
    faulted_last = set()
    plugin_configs = {}
    with world:
        for number, step in enumerate(PLAN):
            run_targets = dict(targets, **step['targets'])
            plugin_configs.update(step.get('plugin_configs') or {})
            for node, name in sorted((step.get('workloads') or {}).items()):
                world.run_gpu_workload(node, name)
            world.clear_faults()
            before = world.snapshot()
            rules = [(name, where, fault, _inject(world, fault)) for name, where, fault in step['faults']]
            # After the faults: a pod-resources fault points its node's rollout at the failing socket.
            world.write_inventory(run_targets, plugin_configs)
            counts.injected += len(rules) + (1 if step.get('outage') else 0)
            done, began = threading.Event(), []
            watcher = None
            if step.get('outage'):
                watcher = threading.Thread(target=_outage, args=(world, step['outage'], done, began), daemon=True)
                watcher.start()
            result = world.rollout()
            done.set()
            problems = []
            if watcher is not None:
                watcher.join()
                if began:
                    counts.fired += 1
                else:
                    problems.append('the API outage never began: no node was labelled pending')
            after = world.snapshot()
            for name, where, fault, rule_id in rules:
                if _fired(world, fault, rule_id):
                    counts.fired += 1
                else:
                    problems.append('fault %s (%s on %s) never fired: the rollout no longer reaches that step the same way'
                                    % (name, where, fault['node']))
            faulted = set(fault['node'] for dummy, dummy2, fault, dummy3 in rules)
            if step.get('outage'):
                # The outage may stop any node of the run: each must converge in the next.
                faulted = set(step['targets'])
            if step.get('preflight_only'):
                if result.rc == 0:
                    problems.append('the rollout succeeded although its preflight had faults')
                problems.extend(nothing_changed(world, before, after))
                counts.refused += len(rules)
                outcomes = {}
            else:
                outcomes, fleet = check_run(world, before, after, run_targets, world.results(), api_down=bool(step.get('outage')))
                problems.extend(fleet)
                for name, (outcome, node_problems) in sorted(outcomes.items()):
                    problems.extend('%s: %s' % (name, p) for p in node_problems)
                    # A node faulted in the run before, and not faulted now, must have converged.
                    if name in faulted_last and name not in faulted and outcome != 'converged' and not step.get('outage'):
                        problems.append('%s: faulted in the previous run, it did not converge in this one (%s)' % (name, outcome))
                    if not faulted and not step.get('outage') and outcome != 'converged':
                        problems.append('%s: %s in a run without faults' % (name, outcome))
                for name in faulted:
                    if outcomes[name][0] == 'converged':
                        counts.absorbed += sum(1 for dummy, dummy2, fault, dummy3 in rules if fault['node'] == name)
                    else:
                        counts.failed_cleanly += sum(1 for dummy, dummy2, fault, dummy3 in rules if fault['node'] == name)
            if step.get('outage'):
                # The outage hits every node of the run; each ended in one of the allowed states (checked above).
                counts.failed_cleanly += 1
            counts.runs.append({'run': number, 'title': step['title'], 'rc': result.rc, 'seconds': round(result.seconds, 1),
                                'outcomes': dict((n, o[0]) for n, o in outcomes.items()), 'problems': problems,
                                'log': result.log})
            log('reliability: run %d (%s): rc=%s in %.0f s; %s%s' % (
                number, step['title'], result.rc, result.seconds,
                ', '.join('%s %s' % (n, o[0]) for n, o in sorted(outcomes.items())) or 'preflight only',
                '' if not problems else '; PROBLEMS: ' + '; '.join(problems)))
            counts.problems.extend(problems)
            if problems:
                counts.lost += 1
            if not step.get('preflight_only'):
                targets = run_targets
                faulted_last = faulted
    return counts


def run_kills(root, trials, seed, log=print):
    """Kill the rollout with SIGKILL at a random moment, ``trials`` times; each time the next run must converge."""
    rng = random.Random(seed)
    # k4: NVIDIA's DRA driver serves it, and its GPU pods hold their GPUs by ResourceClaims.
    nodes = {'k1': ('A100-SXM4-40GB', 2, 'off'), 'k2': ('H100-SXM5-80GB', 2, 'a'), 'k3': ('A30', 2, 'off'), 'k4': ('A30', 2, 'off', 'dra')}
    world = World(root, nodes)
    cycle = ['a', 'b', 'off']
    targets = dict((name, spec[2]) for name, spec in nodes.items())
    stats = {'trials': trials, 'seed': seed, 'killed': 0, 'finished_before_kill': 0, 'resumed': 0, 'lost': 0, 'kill_points': [],
             'torn_gpus': 0, 'mid_change_at_kill': 0, 'problems': []}
    with world:
        # A full run first, undisturbed: it moves every node once and says how long such a run takes here, so that the
        # kills fall inside a run whatever the machine's speed.
        targets = dict((name, cycle[(cycle.index(target) + 1) % len(cycle)]) for name, target in targets.items())
        world.write_inventory(targets)
        calibration = world.rollout()
        if calibration.rc != 0:
            raise RuntimeError('the calibration run failed (rc=%s): %s' % (calibration.rc, calibration.tail()))
        estimate = calibration.seconds
        stats['calibration_s'] = round(estimate, 1)
        for trial in range(trials):
            # Every node gets a new target, so the killed run has work to do on each of them.
            targets = dict((name, cycle[(cycle.index(target) + 1) % len(cycle)]) for name, target in targets.items())
            world.write_inventory(targets)
            before = world.snapshot()
            kill_after = round(rng.uniform(0.05, 0.95) * estimate, 2)
            killed = world.rollout(kill_after=kill_after)
            at_kill = world.snapshot()
            problems = []
            if killed.killed:
                stats['killed'] += 1
                stats['kill_points'].append(kill_after)
                outcomes, fleet = check_run(world, before, at_kill, targets, results=None, api_down=True)
                problems.extend(fleet)
                # Killing the module process in the middle of an NVML sequence can tear a GPU: counted, and the
                # resumed run must repair it (no rollout can promise more against SIGKILL of its own process).
                torn = [p for n, (o, ps) in outcomes.items() for p in ps if 'neither its old layout' in p]
                stats['torn_gpus'] += len(torn)
                stats['mid_change_at_kill'] += sum(1 for o, dummy in outcomes.values() if o not in ('converged', 'untouched'))
            else:
                stats['finished_before_kill'] += 1
            resumed = world.rollout()
            after = world.snapshot()
            outcomes, fleet = check_run(world, at_kill, after, targets, world.results())
            problems.extend(fleet)
            if resumed.rc != 0:
                problems.append('the resumed run failed (rc=%s, log %s)' % (resumed.rc, resumed.log))
            for name, (outcome, node_problems) in sorted(outcomes.items()):
                if outcome != 'converged':
                    problems.append('%s: %s after the resumed run: %s' % (name, outcome, '; '.join(node_problems)))
            if resumed.rc == 0 and not problems:
                stats['resumed'] += 1
            else:
                stats['lost'] += 1
            stats['problems'].extend('trial %d: %s' % (trial, p) for p in problems)
            if not killed.killed:
                estimate = min(estimate, killed.seconds)
            log('reliability: kill trial %d: %s; resumed rc=%s in %.0f s%s' % (
                trial, 'killed after %.1f s' % kill_after if killed.killed else 'finished (rc=%s) before the kill at %.1f s' % (killed.rc, kill_after),
                resumed.rc, resumed.seconds, '' if not problems else '; PROBLEMS: ' + '; '.join(problems)))
        stats['lock'], problems = lock_takeover(world, targets, cycle, estimate, log)
        stats['problems'].extend('lock take-over: %s' % p for p in problems)
        targets = dict((name, cycle[(cycle.index(target) + 1) % len(cycle)]) for name, target in stats['lock'].get('targets', targets).items())
        stats['dra_wait'], problems = dra_wait_kill(world, 'k4', targets, log)
        stats['problems'].extend('kill in the DRA slice wait: %s' % p for p in problems)
        stats['migration'], problems = migration_kill(world, 'k2', targets, log)
        stats['problems'].extend('kill in a move to DRA: %s' % p for p in problems)
    return stats


def _kill_when(happened, delay=0.0, interval=0.05):
    """An ``on_start`` for World.rollout and World.migrate: a watcher thread that kills the run's process tree ``delay`` s
    after ``happened()``, asked every ``interval`` s while the run lives, first answers true."""
    def start(proc):
        def watch():
            while proc.poll() is None:
                if happened():
                    time.sleep(delay)
                    kill_tree(proc.pid)
                    return
                time.sleep(interval)
        threading.Thread(target=watch, daemon=True).start()
    return start


def _dra_plugin_replaced(world, node, seen):
    """Whether the node's DRA kubelet plugin pod is another than the first one seen (the rollout deleted it and waits for
    the new one's ResourceSlices); the two go to ``seen['replaced']``."""
    first = []

    def happened():
        try:
            now = world.dra_plugin_pod(node)
        except Exception:  # pylint: disable=broad-except
            now = None  # between the delete and the DaemonSet's new pod
        if not first:
            first.append(now)
        elif now != first[0]:
            seen['replaced'] = (first[0], now)
            return True
        return False
    return happened


def dra_wait_kill(world, node, targets, log):
    """SIGKILL the rollout while it waits for a DRA node's ResourceSlices after restarting its kubelet plugin; the next
    run must converge. The plugin starts 3 s after its pod is created here, so the kill lands inside the wait.

    Returns what happened and the problems found.
    """
    problems, seen = [], {}
    world.write_inventory(targets)
    before = world.snapshot()
    world.dra_plugin_fault(node, restart_delay=3)
    killed = world.rollout(on_start=_kill_when(_dra_plugin_replaced(world, node, seen)))
    world.clear_faults()
    at_kill = world.snapshot()
    with open(killed.log) as handle:
        tasks = [line for line in handle if line.startswith('TASK [')]
    if not seen.get('replaced') or killed.rc is None or killed.rc >= 0:
        problems.append('the run was not killed in the wait (rc=%s, plugin pod replaced: %s; log %s)' % (killed.rc, seen.get('replaced'), killed.log))
    elif not tasks or DRA_WAIT_TASK not in tasks[-1]:
        problems.append('killed in %s, not in the DRA slice wait (log %s)' % (tasks[-1].strip() if tasks else 'no task', killed.log))
    dummy, fleet = check_run(world, before, at_kill, targets, results=None, api_down=True)
    problems.extend(fleet)
    resumed = world.rollout()
    outcomes, fleet = check_run(world, at_kill, world.snapshot(), targets, world.results())
    problems.extend(fleet)
    if resumed.rc != 0:
        problems.append('the resumed run failed (rc=%s, log %s)' % (resumed.rc, resumed.log))
    problems.extend('%s: %s after the resumed run: %s' % (n, o, '; '.join(ps)) for n, (o, ps) in sorted(outcomes.items()) if o != 'converged')
    found = '' if not problems else '; PROBLEMS: ' + '; '.join(problems)
    log('reliability: DRA slice wait: a run killed while %s waited for its new plugin pod (%s); resumed rc=%s%s'
        % (node, ' -> '.join(str(p) for p in seen.get('replaced') or ()), resumed.rc, found))
    return {'tried': True, 'killed': bool(seen.get('replaced')), 'resumed_rc': resumed.rc}, problems


def _cordoned(world, node, seen):
    """Whether ``node`` is cordoned (noted in ``seen['cordoned']``)."""
    def happened():
        found = [n for n in world.cluster.dump()['objects']['nodes'] if n['metadata']['name'] == node]
        seen['cordoned'] = bool(found and (found[0].get('spec') or {}).get('unschedulable'))
        return seen['cordoned']
    return happened


def migration_kill(world, node, targets, log):
    """SIGKILL a move of ``node`` from NVIDIA's device plugin to its DRA driver (playbooks/migrate_allocator.yml) once the
    node is cordoned; at the kill the node must be visibly pending (labelled, annotated as cordoned by gpufleet.mig) under
    the migration's rollout lock, and the next move must finish it: uncordoned, labelled success, served by the DRA driver
    alone (its ResourceSlices list exactly the devices of its GPUs, no nvidia.com resource advertised), its MIG layout and
    the GPUs untouched (no mutating NVML call), the lock continued by the same holder and released.

    Returns what happened and the problems found.
    """
    problems, seen = [], {}
    before = world.snapshot()
    # Killed 0.3 s after the cordon: in the drain, the plugin switch or the wait for the new plugin.
    killed = world.migrate('dra', node, on_start=_kill_when(_cordoned(world, node, seen), delay=0.3))
    at_kill = world.snapshot()
    lease = world.lease() or {'spec': {}}
    holder = lease['spec'].get('holderIdentity')
    if not seen.get('cordoned') or killed.rc is None or killed.rc >= 0:
        problems.append('the move was not killed while the node was cordoned (rc=%s; log %s)' % (killed.rc, killed.log))
    view = node_view(at_kill['nodes'][node])
    if view['unschedulable'] and (view['labels'].get(STATE_LABEL) != 'pending' or view['annotations'].get(CORDON_ANNOTATION) != 'true'):
        problems.append('at the kill the node is cordoned without a visible reason: %s' % dict(view, allocatable=None))
    if not (holder or '').startswith('migrate-allocator:'):
        problems.append('the killed move did not hold the rollout lock: %s' % lease['spec'])
    resumed = world.migrate('dra', node)
    after = world.snapshot()
    view = node_view(after['nodes'][node])
    if resumed.rc != 0:
        problems.append('the resumed move failed (rc=%s, log %s)' % (resumed.rc, resumed.log))
    if view['unschedulable'] or view['labels'].get(STATE_LABEL) != 'success' or CORDON_ANNOTATION in view['annotations']:
        problems.append('after the resumed move the node is not uncordoned and labelled success: %s' % dict(view, allocatable=None))
    if after['slices'][node] != dra_devices(after['gpus'][node]):
        problems.append('its ResourceSlices list %s, its GPUs have %s' % (after['slices'][node], dra_devices(after['gpus'][node])))
    advertised = dict((k, v) for k, v in view['allocatable'].items() if k.startswith('nvidia.com/') and v != '0')
    if advertised:
        problems.append('it still advertises %s (the device plugin serves it too)' % advertised)
    if [exact_layout(g) for g in after['gpus'][node]] != [exact_layout(g) for g in before['gpus'][node]] or \
            after['mutating'][node] != before['mutating'][node]:
        problems.append('the move changed the GPUs (%d mutating NVML calls)' % (after['mutating'][node] - before['mutating'][node]))
    final = (world.lease() or {'spec': {}})['spec']
    if final.get('holderIdentity') or final.get('leaseTransitions', 0) != lease['spec'].get('leaseTransitions', 0):
        problems.append('the lock after the resumed move: %s (continued by the same holder and released expected; at the kill %s)'
                        % (final, lease['spec']))
    dummy, fleet = check_run(world, before, after, targets)
    problems.extend(fleet)
    if resumed.rc == 0:
        world.nodes[node]['allocator'] = 'dra'
    found = '' if not problems else '; PROBLEMS: ' + '; '.join(problems)
    log('reliability: a move of %s to DRA killed while the node was cordoned (rc=%s, lock %s); the next move finished it (rc=%s)%s'
        % (node, killed.rc, holder, resumed.rc, found))
    return {'tried': True, 'killed': bool(seen.get('cordoned')) and killed.rc is not None and killed.rc < 0, 'resumed_rc': resumed.rc}, problems


# The killed run's lock must outlive the second run's way to its lock step (a whole preflight), or that run takes
# over an expired lock instead of being refused (CI saw this with 15 s). The kill comes at most one run after the
# last renewal and the second run reaches its lock step within one run, so three runs' time is enough.
def lock_seconds(estimate):
    return max(30, int(3 * estimate) + 1)


def expired(lease, margin=0):
    """Seconds since the lease expired (negative: how long it still holds)."""
    renewed = datetime.datetime.fromisoformat(lease['spec']['renewTime'].replace('Z', '+00:00'))
    until = renewed + datetime.timedelta(seconds=lease['spec']['leaseDurationSeconds'] + margin)
    return (datetime.datetime.now(datetime.timezone.utc) - until).total_seconds()


def lock_takeover(world, targets, cycle, estimate, log):
    """Kill a run holding the rollout lock; another run is refused before any change until the lock expires, then takes it over.

    Returns what happened and the problems found (the killed run's holder left the lock; the refused run changed
    something; the take-over run did not converge or left the lock held).
    """
    problems, seen = [], {}
    fast = {'gpufleet_mig_lock_duration': lock_seconds(estimate)}
    for attempt in range(2):
        targets = dict((name, cycle[(cycle.index(target) + 1) % len(cycle)]) for name, target in targets.items())
        world.write_inventory(targets)
        # Killed once the lock is seen held, whatever the machine's speed: a kill at a fraction of a calibrated run
        # missed the lock when the machine was busier or idler than during the calibration.
        killed = world.rollout(on_start=_kill_when(lambda: ((world.lease() or {}).get('spec') or {}).get('holderIdentity'), delay=0.5,
                                                   interval=0.1), extra_vars=fast)
        lease = world.lease()
        holder = ((lease or {}).get('spec') or {}).get('holderIdentity')
        if killed.rc is not None and killed.rc < 0 and holder:
            break
        # Finished before the watcher saw the lock: new targets, another try.
        world.rollout()
    else:
        return {'tried': False}, ['no run could be killed while it held the lock (2 tries, each killed once the lock was seen held)']
    seen['killed_holder'], seen['transitions_before'] = holder, lease['spec'].get('leaseTransitions', 0)
    at_kill = world.snapshot()
    other = dict(fast, gpufleet_mig_lock_holder='another-run')
    refused = world.rollout(extra_vars=other)
    if expired(lease) > 0:
        problems.append('the lock expired before the second run finished (duration %s s too short for a %.0f s run): the trial proves nothing'
                        % (lease['spec']['leaseDurationSeconds'], estimate))
    with open(refused.log) as handle:
        output = ' '.join(handle.read().split())
    if refused.rc == 0 or 'is held by %s since' % holder not in output:
        problems.append('a second run while the lock was held: rc=%s, no refusal naming %s (log %s)' % (refused.rc, holder, refused.log))
    changed = nothing_changed(world, at_kill, world.snapshot())
    problems.extend('the refused run changed the fleet: %s' % p for p in changed)
    # Wait out the killed run's lease, from its last renewal.
    wait = expired(lease, margin=1)
    wait = max(0.0, -wait)
    time.sleep(wait)
    took = world.rollout(extra_vars=other)
    after = world.snapshot()
    outcomes, fleet = check_run(world, at_kill, after, targets, world.results())
    problems.extend(fleet)
    problems.extend('%s: %s after the take-over run' % (n, o) for n, (o, dummy) in sorted(outcomes.items()) if o != 'converged')
    final = world.lease()
    if took.rc != 0:
        problems.append('the take-over run failed (rc=%s, log %s)' % (took.rc, took.log))
    if final['spec'].get('holderIdentity') or final['spec'].get('leaseTransitions', 0) != seen['transitions_before'] + 1:
        problems.append('the lock after the take-over run: %s (one take-over, released, expected)' % final['spec'])
    seen.update(refused_rc=refused.rc, waited_s=round(max(0.0, wait), 1), takeover_rc=took.rc, tried=True, targets=targets)
    found = '' if not problems else '; PROBLEMS: ' + '; '.join(problems)
    log('reliability: lock take-over: a run killed holding the lock (%s); another was refused (rc=%s) and changed nothing; '
        'after %.0f s the lock expired and it took over (rc=%s)%s' % (holder, refused.rc, max(0.0, wait), took.rc, found))
    return seen, problems


def fault_summary(counts):
    return ('fault injection: %d faults injected in %d runs, %d fired: %d stopped the rollout in its preflight with nothing changed, '
            '%d absorbed within the run, %d stopped a node cleanly (labelled failed, each GPU in its old or new layout) and it '
            'converged on the next run; %d run(s) with something lost'
            % (counts.injected, len(counts.runs), counts.fired, counts.refused, counts.absorbed, counts.failed_cleanly, counts.lost))


def kill_summary(stats):
    return ('kill-and-resume: %d trial(s) with seed %s: %d killed mid-run (at %s s of a %.0f s run; %d node(s) caught mid-change), '
            '%d finished first, %d resumed and converged, %d GPU(s) torn by a kill and repaired, %d lost'
            % (stats['trials'], stats['seed'], stats['killed'], ', '.join('%.1f' % p for p in stats['kill_points']) or '-',
               stats.get('calibration_s', 0),
               stats['mid_change_at_kill'], stats['finished_before_kill'], stats['resumed'], stats['torn_gpus'], stats['lost'])
            + ('; lock: a run killed holding it, another refused (rc=%s), taken over after it expired (rc=%s)'
               % (stats['lock']['refused_rc'], stats['lock']['takeover_rc']) if (stats.get('lock') or {}).get('tried') else '; lock: not tried')
            + ('; DRA slice wait: a run killed in it, the next converged (rc=%s)' % stats['dra_wait']['resumed_rc']
               if (stats.get('dra_wait') or {}).get('killed') else '; DRA slice wait: no kill')
            + ('; move to DRA: killed with the node cordoned, the next move finished it (rc=%s)' % stats['migration']['resumed_rc']
               if (stats.get('migration') or {}).get('killed') else '; move to DRA: no kill'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('what', choices=('faults', 'kills'))
    parser.add_argument('--root', default=os.path.join(ROOT, '.build', 'reliability'))
    parser.add_argument('--trials', type=int, default=int(os.environ.get('GPUFLEET_KILL_TRIALS', '3')))
    parser.add_argument('--seed', type=int, default=int(os.environ.get('GPUFLEET_KILL_SEED', '20261130')))
    args = parser.parse_args(argv)
    root = os.path.join(args.root, args.what)
    if os.path.exists(root):
        import shutil  # pylint: disable=import-outside-toplevel
        shutil.rmtree(root)
    os.makedirs(root)
    if args.what == 'faults':
        counts = run_faults(root)
        summary, data, bad = fault_summary(counts), dict(vars(counts)), counts.problems
    else:
        stats = run_kills(root, args.trials, args.seed)
        summary, data, bad = kill_summary(stats), stats, stats['problems']
    data['summary'] = summary
    with open(os.path.join(args.root, args.what + '.json'), 'w') as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    print(summary)
    for problem in bad:
        print('  LOST: %s' % problem)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
