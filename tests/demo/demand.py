#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The new demand of the plan scenario of ``make demo``: create it, and check that the plan served it.

  demand.py create            create the workload of tests/demo/demand.yml through the Kubernetes API (as
                              `kubectl create -f` would) and wait until the scheduler has found each of its pods
                              unschedulable; prints them and what the nodes advertise. Exit 1 when a pod is scheduled
                              instead: then some node offers the profile already and there is nothing to plan.
  demand.py check [--title T] after playbooks/plan.yml and the rollout of its plan: wait until every pod of the
                              workload runs, print the summary (tests/demo/summary.py) and a verdict. Exit 1, with a
                              FAILED line, unless all the workload's pods run, no pod of the cluster is pending, and
                              the workload runs on nodes that the rollout changed.

Reads the cluster through the simulated API server's control API, as summary.py does, so only the creation shows in
the audit log; `create` moves summary.py's audit mark past it, so the next summary counts the plan's and the
rollout's requests alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from setup import K8S, REPORT, DemoError, cluster_state  # noqa: E402  pylint: disable=wrong-import-position
from summary import audit_since_mark, gpu_ranges, gpu_resources, summary  # noqa: E402  pylint: disable=wrong-import-position
from summary import pending_reason, pod_gpu_request, pod_state  # noqa: E402  pylint: disable=wrong-import-position

MANIFEST = os.path.join(HERE, 'demand.yml')
# The simulated scheduler marks a pod within a few of its ticks (0.1 s); a pod starts 0.5 s after it is bound, once
# the rollout has restarted the node's device plugin and the node advertises the profile.
PENDING_TIMEOUT = 15
RUNNING_TIMEOUT = 30


def read_manifest(path=MANIFEST):
    """The workload to create: an apps/v1 ReplicaSet with its name, namespace, selector and replica count."""
    with open(path) as handle:
        body = yaml.safe_load(handle)
    if not isinstance(body, dict) or body.get('kind') != 'ReplicaSet' or body.get('apiVersion') != 'apps/v1':
        found = '%s %s' % (body.get('apiVersion'), body.get('kind')) if isinstance(body, dict) else 'a YAML %s' % type(body).__name__
        raise DemoError('%s: expected an apps/v1 ReplicaSet, found %s' % (path, found))
    return body


def _selected(pod, body):
    """Whether ``pod`` belongs to the workload: its namespace, and every label of the selector's matchLabels."""
    labels = pod['metadata'].get('labels') or {}
    wanted = body['spec']['selector'].get('matchLabels') or {}
    return pod['metadata'].get('namespace') == body['metadata']['namespace'] and all(labels.get(k) == v for k, v in wanted.items())


def workload_pods(state, body):
    return [pod for pod in state['objects'].get('pods') or [] if _selected(pod, body)]


def _name(pod):
    return '%s/%s' % (pod['metadata']['namespace'], pod['metadata']['name'])


def _unschedulable(pod):
    """The scheduler's PodScheduled=False condition with reason Unschedulable, as `kubectl describe` shows it."""
    return any(c.get('type') == 'PodScheduled' and c.get('status') == 'False' and c.get('reason') == 'Unschedulable'
               for c in (pod.get('status') or {}).get('conditions') or [])


def _wait(done, timeout):
    """Read the cluster until ``done(state)`` holds or ``timeout`` seconds pass; returns (held, the last state)."""
    deadline = time.time() + timeout
    while True:
        state = cluster_state()
        if done(state):
            return True, state
        if time.time() > deadline:
            return False, state
        time.sleep(0.2)


def _profiles(body):
    """The nvidia.com/mig-* resources the workload's containers request."""
    found = set()
    for container in body['spec']['template']['spec'].get('containers') or []:
        found.update(k for k in ((container.get('resources') or {}).get('requests') or {}) if k.startswith('nvidia.com/mig-'))
    return sorted(found)


def create(body):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    namespace, name = body['metadata']['namespace'], body['metadata']['name']
    replicas = body['spec']['replicas']
    api = client.AppsV1Api(config.new_client_from_config(config_file=os.path.join(K8S, 'kubeconfig')))
    try:
        api.create_namespaced_replica_set(namespace, body)
    except ApiException as exc:
        if exc.status == 409:
            raise DemoError('ReplicaSet %s/%s exists already: this cluster ran the plan scenario; start afresh with '
                            '`make demo-setup`' % (namespace, name)) from exc
        raise DemoError('creating ReplicaSet %s/%s failed: %s %s' % (namespace, name, exc.status, exc.reason)) from exc
    print('demo: created ReplicaSet %s/%s (%s): %d pod(s) asking for %s'
          % (namespace, name, os.path.relpath(MANIFEST, os.getcwd()), replicas, ', '.join(_profiles(body)) or 'no MIG device'))

    def decided(state):
        pods = workload_pods(state, body)
        return len(pods) >= replicas and all(_unschedulable(p) or (p.get('spec') or {}).get('nodeName') for p in pods)

    held, state = _wait(decided, PENDING_TIMEOUT)
    pods = workload_pods(state, body)
    if not held:
        raise DemoError('after %ss the scheduler has not decided about the pods of %s/%s: %s'
                        % (PENDING_TIMEOUT, namespace, name, ', '.join('%s %s' % (_name(p), pod_state(p)) for p in pods) or 'none created'))
    scheduled = [p for p in pods if (p.get('spec') or {}).get('nodeName')]
    if scheduled:
        raise DemoError('%s found a node at once (%s): some node offers %s already, so there is nothing to plan'
                        % (', '.join(_name(p) for p in scheduled), ', '.join(sorted(set(p['spec']['nodeName'] for p in scheduled))),
                           ', '.join(_profiles(body))))
    for pod in sorted(pods, key=_name):
        print('demo: %s Pending: %s' % (_name(pod), pending_reason(pod)))
    for node in state['objects'].get('nodes') or []:
        mig = ['%s=%s' % item for item in sorted(gpu_resources(node).items()) if item[0].startswith('nvidia.com/mig-') and str(item[1]) != '0']
        if mig:
            print('demo:   node %-11s advertises %s' % (node['metadata']['name'], ', '.join(mig)))
    # The next summary reports the plan's and the rollout's requests, not this creation's.
    audit_since_mark()


def rollout_nodes():
    """{node: (status, [GPU index, ...] changed)} of the last rollout, from its report (rollout.json)."""
    path = os.path.join(REPORT, 'rollout.json')
    try:
        with open(path) as handle:
            nodes = json.load(handle)['nodes']
        return dict((name, (entry.get('status'), sorted(entry.get('gpus_changed') or []))) for name, entry in nodes.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DemoError('no readable rollout report %s: %s' % (path, exc)) from exc


def check(body, title):
    namespace, name = body['metadata']['namespace'], body['metadata']['name']
    replicas = body['spec']['replicas']

    def running(state):
        pods = workload_pods(state, body)
        return len(pods) == replicas and all(pod_state(p) == 'Running' for p in pods)

    held, state = _wait(running, RUNNING_TIMEOUT)
    summary(title, False)
    pods = workload_pods(state, body)
    problems = []
    if not held:
        problems.append('after %ss %d of %d pod(s) of %s/%s run: %s'
                        % (RUNNING_TIMEOUT, sum(1 for p in pods if pod_state(p) == 'Running'), replicas, namespace, name,
                           ', '.join('%s %s%s' % (_name(p), pod_state(p), ' (%s)' % pending_reason(p) if pending_reason(p) else '')
                                     for p in sorted(pods, key=_name)) or 'none'))
    pending = [p for p in state['objects'].get('pods') or [] if (p.get('status') or {}).get('phase') == 'Pending']
    if pending:
        problems.append('pending in the cluster: %s' % ', '.join(_name(p) for p in sorted(pending, key=_name)))
    try:
        report = rollout_nodes()
    except DemoError as exc:
        problems.append(str(exc))
        report = {}
    changed = dict((node, gpus) for node, (status, gpus) in report.items() if status == 'changed')
    hosts = sorted(set((p.get('spec') or {}).get('nodeName') or '-' for p in pods))
    elsewhere = [h for h in hosts if h not in changed]
    if held and elsewhere:
        problems.append('%s/%s runs on %s, which the rollout of the plan did not change' % (namespace, name, ', '.join(elsewhere)))
    print('=' * 100)
    if problems:
        print('demo: FAILED: the plan scenario: %s' % '; '.join(problems))
        print('=' * 100)
        return False
    print('plan scenario: %d of %d pods of %s/%s Running (%s) on %s; no pod pending in the cluster'
          % (replicas, replicas, namespace, name, pod_gpu_request(pods[0]), ', '.join(hosts)))
    print('plan scenario: the rollout of the plan changed %s; %s'
          % (', '.join('%s (GPU %s)' % (node, gpu_ranges(gpus)) for node, gpus in sorted(changed.items())),
             ', '.join('%s %s' % (node, status) for node, (status, dummy) in sorted(report.items()) if node not in changed) or 'no other node'))
    print('=' * 100)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('command', choices=('create', 'check'))
    parser.add_argument('--title', default='After the rollout of the plan', help='heading of the summary (check)')
    args = parser.parse_args(argv)
    try:
        body = read_manifest()
        if args.command == 'create':
            create(body)
            return 0
        return 0 if check(body, args.title) else 1
    except (DemoError, RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
        print('demo: FAILED: the plan scenario (demand.py %s): %s' % (args.command, exc), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
