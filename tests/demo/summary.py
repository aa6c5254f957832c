#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print a readable summary of the simulated fleet of ``make demo``.

  summary.py [--title TEXT]           the rollout report (.build/demo/report/rollout.json, when there is one),
                                      per node the GPUs' MIG layouts as slot diagrams, what Kubernetes advertises,
                                      the node's MIG labels and cordon, its pods, and the Kubernetes API requests
                                      made since the previous summary (from the simulated API server's audit log)
  summary.py --before                 the same without report and requests: the starting state
  summary.py --recap LOG              check the PLAY RECAP of an ansible-playbook log: exit 1 unless every GPU host
                                      of the inventory shows changed=0 failed=0 unreachable=0

Reads the simulator's state directly (fake-NVML state files with ``simnode show``, the API server's control
API), so it adds no requests to the audit log it reports.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from setup import DEMO, FLEET, K8S, REPORT, ROOT, DemoError, cluster_state, sim_build, simnode  # noqa: E402  pylint: disable=wrong-import-position

try:
    from ansible_collections.gpufleet.mig.plugins.module_utils._diagram import layout_diagram
except ImportError:  # not started through make: find the collection where `make collection` puts it
    sys.path.insert(0, os.path.join(ROOT, '.build', 'collections'))
    from ansible_collections.gpufleet.mig.plugins.module_utils._diagram import layout_diagram

INVENTORY = os.path.join(ROOT, 'inventories', 'simulated')
AUDIT_MARK = os.path.join(K8S, 'summary.seq')
MAX_ACTIONS = 12
WRITE_VERBS = ('create', 'update', 'patch', 'delete', 'evict')
LABELS = (('nvidia.com/mig.config', 'mig.config'), ('nvidia.com/mig.config.state', 'state'),
          ('nvidia.com/device-plugin.config', 'plugin config'))
# NVIDIA's DRA driver and the chart's name of its kubelet plugin DaemonSet (tests/demo/cluster.yml keeps the defaults).
DRA_DRIVER = 'gpu.nvidia.com'
DRA_DAEMONSET = 'dra-driver-nvidia-gpu-kubelet-plugin'
# gpu-<minor>, or gpu-<minor>-mig-<profile without dots>-<GI profile id>-<placement start> (NVIDIA's canonical names).
DRA_NAME = re.compile(r'^gpu-(?P<gpu>\d+)(?:-mig-(?P<kind>.+)-(?P<start>\d+))?$')
RECAP = re.compile(r'^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)')


# -- inventory and state ---------------------------------------------------------------------------

def inventory_hosts(inventory=INVENTORY, group='gpu_nodes'):
    """The hosts of ``group`` (with its child groups) in the inventory's hosts.yml, in inventory order."""
    with open(os.path.join(inventory, 'hosts.yml')) as handle:
        data = yaml.safe_load(handle) or {}

    def find(groups, name):
        for key, value in (groups or {}).items():
            value = value or {}
            if key == name:
                return value
            found = find(value.get('children'), name)
            if found is not None:
                return found
        return None

    def hosts_of(entry):
        hosts = list((entry.get('hosts') or {}).keys())
        for child in (entry.get('children') or {}).values():
            hosts.extend(h for h in hosts_of(child or {}) if h not in hosts)
        return hosts

    entry = find(data, group)
    if entry is None:
        raise DemoError('%s has no group %s' % (os.path.join(inventory, 'hosts.yml'), group))
    return hosts_of(entry)


def gpu_entries(state_path):
    """The node's GPUs from ``simnode show --json``, shaped as gpu_info's ``node.gpus`` for the diagrams."""
    shown = json.loads(simnode(sim_build(), 'show', state_path, '--json'))
    gpus = []
    for gpu in shown['gpus']:
        gpus.append({
            'index': gpu['index'], 'model': gpu['model'], 'name': gpu['name'], 'mig_capable': gpu['mig_capable'],
            'mig_mode': {'current': bool(gpu['mig_mode_current']), 'pending': bool(gpu['mig_mode_pending'])},
            'gpu_instances': [{'profile': gi['profile'], 'start': gi['start'], 'size': gi['size']} for gi in gpu['gpu_instances']],
        })
    return shown, gpus


def gpu_ranges(indices):
    parts, first, last = [], None, None
    for index in indices:
        if first is not None and index == last + 1:
            last = index
            continue
        if first is not None:
            parts.append(str(first) if first == last else '%d-%d' % (first, last))
        first = last = index
    if first is not None:
        parts.append(str(first) if first == last else '%d-%d' % (first, last))
    return ','.join(parts)


def diagram_lines(gpus):
    """One slot diagram per group of consecutive GPUs with the same layout: ``GPU 0-7  [...]``."""
    groups = []
    for gpu in gpus:
        text = layout_diagram(gpu)
        body = text[len('GPU %s %s' % (gpu['index'], gpu['model'])):].strip()
        if groups and groups[-1][1] == body and groups[-1][0][-1] == gpu['index'] - 1:
            groups[-1][0].append(gpu['index'])
        else:
            groups.append(([gpu['index']], body))
    width = max(len(gpu_ranges(indices)) for indices, dummy in groups) if groups else 0
    return ['GPU %s  %s' % (gpu_ranges(indices).ljust(width), body) for indices, body in groups]


# -- Kubernetes ------------------------------------------------------------------------------------

def gpu_resources(node):
    allocatable = (node.get('status') or {}).get('allocatable') or {}
    return dict((k, v) for k, v in allocatable.items() if k.startswith('nvidia.com/'))


def _pod_owner(pod):
    owners = pod['metadata'].get('ownerReferences') or [{}]
    return owners[0].get('name') or pod['metadata']['name']


def pod_state(pod):
    if pod['metadata'].get('deletionTimestamp'):
        return 'Terminating'
    status = pod.get('status') or {}
    for container in (status.get('initContainerStatuses') or []) + (status.get('containerStatuses') or []):
        waiting = (container.get('state') or {}).get('waiting')
        if waiting and waiting.get('reason'):
            return waiting['reason']
    return status.get('phase') or 'Unknown'


def pod_gpu_request(pod):
    requests = {}
    for container in pod['spec'].get('containers') or []:
        for key, value in ((container.get('resources') or {}).get('requests') or {}).items():
            if key.startswith('nvidia.com/'):
                requests[key] = value
    return ', '.join('%s: %s' % item for item in sorted(requests.items()))


def pod_groups(pods, claims=None):
    """``{(namespace, owner, state, gpu request): count}`` for a node's pods, device plugin excluded; with ``claims``
    (claims_by_pod), a pod's DRA devices count as its request."""
    groups = {}
    for pod in pods:
        request = pod_gpu_request(pod)
        devices = (claims or {}).get((pod['metadata']['namespace'], pod['metadata']['name']))
        if devices is not None:
            request = ', '.join(part for part in (request, 'claim: %s' % (', '.join(devices) or 'not allocated')) if part)
        key = (pod['metadata']['namespace'], _pod_owner(pod), pod_state(pod), request)
        groups[key] = groups.get(key, 0) + 1
    return groups


def dra_devices(node_name, objects):
    """The names of the devices NVIDIA's DRA driver publishes for the node, in its ResourceSlices' order."""
    names = []
    for piece in objects.get('resourceslices') or []:
        spec = piece.get('spec') or {}
        if spec.get('nodeName') == node_name and spec.get('driver') == DRA_DRIVER:
            names.extend(device['name'] for device in spec.get('devices') or [])
    return names


def dra_lines(node_name, objects):
    """The node's DRA devices, grouped by kind (MIG profile and GI profile id, or whole GPU) in slice order; [] without a slice."""
    names = dra_devices(node_name, objects)
    if not any((s.get('spec') or {}).get('nodeName') == node_name and (s.get('spec') or {}).get('driver') == DRA_DRIVER
               for s in objects.get('resourceslices') or []):
        return []
    kinds, order = {}, []
    for name in names:
        match = DRA_NAME.match(name)
        kind = (match.group('kind') or 'whole GPU') if match else name
        if kind not in kinds:
            order.append(kind)
            kinds[kind] = {'gpus': set(), 'starts': set(), 'count': 0}
        kinds[kind]['count'] += 1
        if match:
            kinds[kind]['gpus'].add(int(match.group('gpu')))
            if match.group('start') is not None:
                kinds[kind]['starts'].add(int(match.group('start')))
    parts = []
    for kind in order:
        entry = kinds[kind]
        if entry['starts']:
            parts.append('%d x gpu-N-mig-%s-S  (GPU N: %s, placement start S: %s)'
                         % (entry['count'], kind, gpu_ranges(sorted(entry['gpus'])), gpu_ranges(sorted(entry['starts']))))
        elif entry['gpus']:
            parts.append('%d x %s  (gpu-N, GPU N: %s)' % (entry['count'], kind, gpu_ranges(sorted(entry['gpus']))))
        else:
            parts.append('%d x %s' % (entry['count'], kind))
    lines = ['DRA devices (ResourceSlice of %s, pool %s): %d%s' % (DRA_DRIVER, node_name, len(names), ' - none (stranded?)' if not names else '')]
    lines.extend('  ' + part for part in parts)
    return lines


def claims_by_pod(objects):
    """``{(namespace, pod): [device, ...]}``: the DRA devices allocated to the claims each pod uses (pods with claims only)."""
    claims = dict(((c['metadata']['namespace'], c['metadata']['name']), c) for c in objects.get('resourceclaims') or [])
    found = {}
    for pod in objects.get('pods') or []:
        statuses = (pod.get('status') or {}).get('resourceClaimStatuses') or []
        refs = [s.get('resourceClaimName') for s in statuses] + [
            c.get('resourceClaimName') for c in (pod.get('spec') or {}).get('resourceClaims') or []]
        if not (pod.get('spec') or {}).get('resourceClaims'):
            continue
        devices = []
        for ref in refs:
            claim = claims.get((pod['metadata']['namespace'], ref)) if ref else None
            results = ((((claim or {}).get('status') or {}).get('allocation') or {}).get('devices') or {}).get('results') or []
            devices.extend(r['device'] for r in results if r.get('device') not in devices)
        found[(pod['metadata']['namespace'], pod['metadata']['name'])] = devices
    return found


def pending_reason(pod):
    for condition in (pod.get('status') or {}).get('conditions') or []:
        if condition.get('type') == 'PodScheduled' and condition.get('status') == 'False':
            return condition.get('message') or condition.get('reason') or ''
    return ''


# -- output ----------------------------------------------------------------------------------------

def _epoch(value):
    """Seconds since the epoch from a number or an ISO 8601 text (a time without zone counts as UTC); None otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace('Z', '+00:00'))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _clock(epoch):
    return datetime.datetime.fromtimestamp(epoch).strftime('%H:%M:%S')


def _seconds(value):
    return '%.1f s' % value if isinstance(value, (int, float)) and not isinstance(value, bool) else '-'


def _duration(entry, started_key='started', finished_key='finished'):
    """``seconds`` of a report entry, else finished - started."""
    if isinstance(entry.get('seconds'), (int, float)) and not isinstance(entry.get('seconds'), bool):
        return entry['seconds']
    started, finished = _epoch(entry.get(started_key)), _epoch(entry.get(finished_key))
    return finished - started if started is not None and finished is not None else None


def _batches(report, nodes):
    """The report's batches as ``[{'batch', 'hosts', 'seconds'}]``; a batch may be given as its list of hosts."""
    batches = []
    for number, batch in enumerate(_as_list(report.get('batches')), 1):
        if not isinstance(batch, dict):
            batch = {'batch': number, 'hosts': _as_list(batch)}
        batch = dict(batch, hosts=[str(host) for host in _as_list(batch.get('hosts'))])
        if _duration(batch) is None:
            starts = [_epoch(_node(nodes.get(h)).get('started')) for h in batch['hosts']]
            ends = [_epoch(_node(nodes.get(h)).get('finished')) for h in batch['hosts']]
            if starts and None not in starts and None not in ends:
                batch['seconds'] = max(ends) - min(starts)
        batch.setdefault('batch', number)
        batches.append(batch)
    return batches


def print_report(path):
    print('Rollout report (%s)' % os.path.relpath(path, ROOT))
    if not os.path.exists(path):
        print('  no report: the rollout did not write one')
        return
    try:
        with open(path) as handle:
            report = json.load(handle)
    except (OSError, ValueError) as exc:
        print('  unreadable: %s' % exc)
        return
    if not isinstance(report, dict):
        print('  unexpected content (not a JSON object)')
        return
    nodes = report.get('nodes') if isinstance(report.get('nodes'), dict) else {}
    batches = _batches(report, nodes)
    started, finished = _epoch(report.get('started')), _epoch(report.get('finished'))
    if started is not None and finished is not None:
        print('  %s - %s, %.1f s in all' % (_clock(started), _clock(finished), finished - started))
    batch_of = {}
    for batch in batches:
        print('  batch %-3s %-8s %s' % (batch['batch'], _seconds(_duration(batch)), ', '.join(batch['hosts']) or '-'))
        batch_of.update((host, batch['batch']) for host in batch['hosts'])
    width = max([len(name) for name in nodes] + [4])
    for name in sorted(nodes, key=lambda n: (str(_node(nodes[n]).get('batch', batch_of.get(n, ''))), n)):
        node = _node(nodes[name])
        batch = node.get('batch', batch_of.get(name, '-'))
        line = '  %s  %-9s batch %-3s %-8s' % (name.ljust(width), node.get('status') or '?', batch, _seconds(_duration(node)))
        changed = [index for index in _as_list(node.get('gpus_changed')) if isinstance(index, int)]
        if changed:
            line += ' GPUs changed: %s' % gpu_ranges(sorted(set(changed)))
        print(line.rstrip())
        for action in _condensed(_as_list(node.get('actions'))):
            print('  %s    - %s' % (' ' * width, action))
        if node.get('reason'):
            print('  %s    reason: %s' % (' ' * width, node['reason']))


def _condensed(actions, limit=MAX_ACTIONS):
    """Identical actions once, with a count (the same step on every GPU), in order; at most ``limit`` lines."""
    counts, order = {}, []
    for action in actions:
        text = str(action)
        if text not in counts:
            order.append(text)
        counts[text] = counts.get(text, 0) + 1
    lines = ['%s%s' % (text, ' (x%d)' % counts[text] if counts[text] > 1 else '') for text in order]
    if len(lines) > limit:
        lines = lines[:limit - 1] + ['... and %d more distinct actions' % (len(lines) - limit + 1)]
    return lines


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _node(value):
    """A report's node entry as a dict (the rollout may leave out a node's result: null)."""
    return value if isinstance(value, dict) else {'status': None if value is None else str(value)}


def print_nodes(state):
    objects = state['objects']
    nodes = dict((node['metadata']['name'], node) for node in objects.get('nodes') or [])
    pods = objects.get('pods') or []
    print('Nodes')
    for name in inventory_hosts():
        shown, gpus = gpu_entries(os.path.join(FLEET, name + '.state'))
        models = sorted(set(gpu['model'] for gpu in gpus))
        print('  %s  (%d x %s, driver %s)' % (name, len(gpus), ' + '.join(models), shown.get('driver_version')))
        for line in diagram_lines(gpus):
            print('    ' + line)
        node = nodes.get(name)
        if node is None:
            print('    not a node of the simulated cluster')
            continue
        labels = node['metadata'].get('labels') or {}
        marks = ['%s=%s' % (short, labels.get(key, '-')) for key, short in LABELS]
        marks.append('CORDONED' if (node.get('spec') or {}).get('unschedulable') else 'schedulable')
        print('    labels: %s' % ', '.join(marks))
        for key, value in sorted((node['metadata'].get('annotations') or {}).items()):
            if 'gpufleet' in key:
                print('    annotation %s: %s' % (key, value))
        resources = gpu_resources(node)
        live = ['%s=%s' % (k, v) for k, v in sorted(resources.items()) if str(v) != '0']
        stale = [k for k, v in sorted(resources.items()) if str(v) == '0']
        print('    advertises: %s%s' % (', '.join(live) or 'no GPU resources', ' (at 0: %s)' % ', '.join(stale) if stale else ''))
        here = [p for p in pods if (p.get('spec') or {}).get('nodeName') == name]
        plugin = [p for p in here if _pod_owner(p) == 'nvidia-device-plugin-daemonset']
        dra_plugin = [p for p in here if _pod_owner(p) == DRA_DAEMONSET]
        # The plugin log has the DRA kubelet plugin's starts too (implementation dra): only the device plugin's count here.
        starts = [s for s in state.get('plugin_log') or [] if s.get('node') == name and s.get('implementation') != 'dra']
        which = ("NVIDIA's nvidia-device-plugin" if starts and starts[-1].get('implementation') == 'nvidia'
                 else 'the Python model of the plugin' if starts else '')
        if plugin or not dra_plugin:
            print('    device plugin: %s%s' % (', '.join(pod_state(p) for p in plugin) or 'no pod', ' (%s)' % which if which else ''))
        if dra_plugin:
            print('    DRA kubelet plugin (%s): %s' % (DRA_DRIVER, ', '.join(pod_state(p) for p in dra_plugin)))
        for line in dra_lines(name, objects):
            print('    ' + line)
        features = [k for k in ((node['metadata'].get('annotations') or {}).get('nfd.node.kubernetes.io/feature-labels') or '').split(',') if k]
        if features:
            shown_features = ['%s=%s' % (k, labels.get(k)) for k in ('nvidia.com/mig.strategy', 'nvidia.com/gpu.count', 'nvidia.com/gpu.product')
                              if k in labels]
            print("    GPU feature discovery: %d labels (%s)" % (len(features), ', '.join(shown_features)))
        groups = pod_groups([p for p in here if p not in plugin and p not in dra_plugin], claims_by_pod(objects))
        for (namespace, owner, phase, request), count in sorted(groups.items()):
            print('    pods: %s/%s x%d %s%s' % (namespace, owner, count, phase, ' (%s)' % request if request else ''))
    unscheduled = [p for p in pods if not (p.get('spec') or {}).get('nodeName')]
    for pod in unscheduled:
        print('  not scheduled: %s/%s %s' % (pod['metadata']['namespace'], pod['metadata']['name'], pending_reason(pod)))


def _read_mark():
    try:
        with open(AUDIT_MARK) as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _write_mark(seq):
    with open(AUDIT_MARK, 'w') as handle:
        handle.write('%d\n' % seq)


def audit_since_mark():
    """The audit entries recorded since the previous summary (or since the cluster started); moves the mark."""
    path = os.path.join(K8S, 'audit.log')
    entries = []
    if os.path.exists(path):
        with open(path) as handle:
            entries = [json.loads(line) for line in handle if line.strip()]
    mark = _read_mark()
    new = [e for e in entries if (e.get('seq') or 0) > mark]
    if entries:
        _write_mark(max(e.get('seq') or 0 for e in entries))
    return new


def _key(entry):
    return '%s %s%s' % (entry.get('verb'), entry.get('resource') or '(discovery)', '/' + entry['subresource'] if entry.get('subresource') else '')


def print_audit(entries, what):
    writes = [e for e in entries if e.get('verb') in WRITE_VERBS]
    print('Kubernetes API requests %s: %d, of which %d writes' % (what, len(entries), len(writes)))
    if not entries:
        return
    counts = {}
    for entry in entries:
        counts[_key(entry)] = counts.get(_key(entry), 0) + 1
    print('  ' + ', '.join('%s %d' % item for item in sorted(counts.items(), key=lambda item: (-item[1], item[0]))))
    refused = {}
    for entry in entries:
        if not 200 <= (entry.get('code') or 0) < 300:
            key = '%s -> %s' % (_key(entry), entry.get('code'))
            refused[key] = refused.get(key, 0) + 1
    if refused:
        print('  answered with an error: ' + ', '.join('%s x%d' % item for item in sorted(refused.items())))


def summary(title, before):
    state = cluster_state()
    print('=' * 100)
    print(title)
    print('=' * 100)
    if not before:
        print_report(os.path.join(REPORT, 'rollout.json'))
        print()
    print_nodes(state)
    entries = audit_since_mark()
    if not before:
        print()
        print_audit(entries, 'during this run')
    print()


def recap(log, title):
    """Check the PLAY RECAP of an ansible-playbook log; True when no GPU host changed or failed."""
    with open(log) as handle:
        text = handle.read()
    if 'PLAY RECAP' not in text:
        print('%s: no PLAY RECAP in %s (the playbook did not finish)' % (title, log))
        return False
    results = {}
    for line in text.split('PLAY RECAP')[-1].splitlines():
        match = RECAP.match(line.strip())
        if match:
            results[match.group('host')] = dict((k, int(v)) for k, v in match.groupdict().items() if k != 'host')
    hosts = inventory_hosts()
    problems = []
    for host in hosts:
        counts = results.get(host)
        if counts is None:
            problems.append('%s is missing from the PLAY RECAP' % host)
            continue
        problems.extend('%s: %s=%d' % (host, key, counts[key]) for key in ('changed', 'failed', 'unreachable') if counts[key])
    print('=' * 100)
    if problems:
        print('%s: NOT idempotent - %s' % (title, '; '.join(problems)))
    else:
        print('%s: changed=0 on all %d GPU hosts (%s) - nothing left to do, the fleet is at its target' % (title, len(hosts), ', '.join(hosts)))
    print_audit(audit_since_mark(), 'during the %s' % title)
    print('=' * 100)
    return not problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--title', default=None, help='heading of the summary')
    parser.add_argument('--before', action='store_true', help='the starting state: no report, no API requests')
    parser.add_argument('--recap', metavar='LOG', help='check the PLAY RECAP of this ansible-playbook log instead')
    args = parser.parse_args(argv)
    if not os.path.isdir(DEMO):
        print('summary: no simulated fleet in %s: run `make demo-setup` first' % DEMO, file=sys.stderr)
        return 1
    try:
        if args.recap:
            return 0 if recap(args.recap, args.title or 'second run') else 1
        summary(args.title or ('Starting state of the simulated fleet' if args.before else 'After the rollout'), args.before)
    except (DemoError, RuntimeError, OSError, ValueError) as exc:
        print('summary: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
