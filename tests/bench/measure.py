# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running one ansible-playbook and reading what it cost: wall and CPU time, memory, API requests, NVML calls, tasks."""

from __future__ import annotations

import collections
import os
import statistics
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WRITE_VERBS = ('create', 'update', 'patch', 'delete', 'evict')
# Actions that run no module on a host: the strategy evaluates them in the controller process.
CONTROLLER_ACTIONS = ('ansible.builtin.set_fact', 'ansible.builtin.include_role', 'ansible.builtin.include_tasks',
                      'ansible.builtin.import_tasks', 'ansible.builtin.set_stats', 'ansible.builtin.fail', 'ansible.builtin.assert',
                      'ansible.builtin.debug', 'ansible.builtin.meta', 'ansible.builtin.validate_argument_spec',
                      'set_fact', 'include_role', 'include_tasks', 'set_stats', 'fail', 'assert', 'debug', 'meta', 'validate_argument_spec')


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _kib(line):
    return int(line.split()[1])


class _Sampler(threading.Thread):
    """Reads the peak RSS (VmHWM) of one process every 0.2 s while it runs; the last reading is its peak so far."""

    def __init__(self, pid):
        super(_Sampler, self).__init__(daemon=True)
        self.pid = pid
        self.hwm_kib = None
        self.done = threading.Event()

    def run(self):
        path = '/proc/%d/status' % self.pid
        while not self.done.is_set():
            try:
                with open(path) as handle:
                    for line in handle:
                        if line.startswith('VmHWM:'):
                            self.hwm_kib = max(self.hwm_kib or 0, _kib(line))
            except (IOError, OSError, ValueError, IndexError):
                pass
            self.done.wait(0.2)


def run_playbook(argv, log_path, timer_path, env, cwd):
    """Run ansible-playbook; return rc, wall and CPU seconds of the whole process tree, and memory figures.

    ``controller_peak_rss_mib``: the peak RSS of the ansible-playbook process itself (its VmHWM, sampled while it runs);
    ``max_process_rss_mib``: the largest peak RSS of any process of the tree (wait4's ru_maxrss: the process and every
    descendant it reaped: forked workers, module interpreters).
    """
    if os.path.exists(timer_path):
        os.unlink(timer_path)
    env = dict(env, BENCH_TIMER_FILE=timer_path)
    with open(log_path, 'w') as log:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)  # pylint: disable=consider-using-with
        sampler = _Sampler(proc.pid)
        sampler.start()
        dummy, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        sampler.done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        'rc': proc.returncode,
        'wall_s': wall,
        'cpu_s': usage.ru_utime + usage.ru_stime,
        'controller_peak_rss_mib': None if sampler.hwm_kib is None else sampler.hwm_kib / 1024.0,
        'max_process_rss_mib': usage.ru_maxrss / 1024.0,
        'log': log_path,
        'timer': timer_path,
    }


def log_tail(path, lines=40):
    try:
        with open(path) as handle:
            return ''.join(handle.readlines()[-lines:])
    except (IOError, OSError):
        return ''


# -- NVML call logs ------------------------------------------------------------------------------------------------

def calls_offsets(states):
    """The current size of every node's call log, to read only what a run adds."""
    offsets = {}
    for state in states:
        path = state + '.calls'
        offsets[state] = os.path.getsize(path) if os.path.exists(path) else 0
    return offsets


def read_calls(offsets):
    """The NVML calls logged since ``offsets``: ``[(ts, pid, function, gpu, rc, mutating, state)]``."""
    calls = []
    for state, offset in offsets.items():
        path = state + '.calls'
        if not os.path.exists(path):
            continue
        with open(path) as handle:
            handle.seek(offset)
            for line in handle:
                parts = line.split()
                if len(parts) < 6:
                    continue
                calls.append((float(parts[0]), int(parts[1]), parts[2], parts[3], parts[4], parts[5] == 'mut', state))
    calls.sort()
    return calls


def nvml_polling(calls, probe='nvmlDeviceGetMigMode', min_repeats=3):
    """NVML polling: a process that keeps reading the same GPU while nothing changes.

    Every read of a GPU starts with ``probe`` (its MIG mode). Reads of one GPU by one process with no mutating call of
    that process in between form a sequence (a read after a change verifies it and starts a new one). A sequence of at
    least ``min_repeats`` reads is a polling loop; its interval is the shortest gap after the first, as for the API.
    A sequence of two is a re-read (counted, not a loop). Returns the processes, loops, re-reads, shortest interval.
    """
    processes = set()
    sequences = collections.defaultdict(list)
    finished = []
    for stamp, pid, function, gpu, dummy_rc, mutating, state in calls:
        process = (state, pid)
        processes.add(process)
        if mutating:
            for key in [k for k in sequences if k[0] == process]:
                finished.append(sequences.pop(key))
        elif function == probe:
            sequences[(process, gpu)].append(stamp)
    finished.extend(sequences.values())
    loops = [seq for seq in finished if len(seq) >= min_repeats]
    gaps = [min(b - a for a, b in list(zip(seq, seq[1:]))[1:]) for seq in loops]
    return {'processes': len(processes), 'loops': len(loops), 'rereads': sum(1 for seq in finished if len(seq) == 2),
            'shortest_gap_s': min(gaps) if gaps else None}


# -- API audit log --------------------------------------------------------------------------------------------------

def api_polling(entries, min_repeats=3):
    """Polling loops in the audit log: one client connection (one process) asking the same (verb, path, query) at least
    ``min_repeats`` times. A loop's interval is the shortest gap between its requests after the first gap: the first poll
    of a wait follows the action it waits for (or a read for another purpose) at once, and only the later ones are paced
    by the loop. Returns the loops (request, count, interval, median gap) and the shortest interval of all."""
    groups = collections.defaultdict(list)
    for entry in entries:
        key = (entry.get('client_port'), entry.get('verb'), entry.get('path'), entry.get('query'))
        groups[key].append(entry['ts'])
    loops = []
    for (port, verb, path, query), stamps in groups.items():
        if len(stamps) < min_repeats:
            continue
        stamps.sort()
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        loops.append({'request': '%s %s%s' % (verb, path, '?' + query if query else ''), 'client_port': port, 'count': len(stamps),
                      'shortest_s': min(gaps[1:]), 'first_gap_s': gaps[0], 'median_s': statistics.median(gaps)})
    loops.sort(key=lambda loop: loop['shortest_s'])
    return {'loops': len(loops), 'shortest_s': loops[0]['shortest_s'] if loops else None, 'fastest': loops[:5]}


def api_summary(entries):
    counts = collections.Counter('%s %s%s' % (e.get('verb'), e.get('resource') or '-', '/' + e['subresource'] if e.get('subresource') else '')
                                 for e in entries)
    writes = [e for e in entries if e.get('verb') in WRITE_VERBS]
    return {'requests': len(entries), 'writes': len(writes), 'by_kind': dict(sorted(counts.items())),
            'write_requests': ['%s %s %s' % (e.get('verb'), e.get('path'), e.get('code')) for e in writes[:20]]}


# -- task timings (tests/bench/callback_plugins/bench_timer.py) ----------------------------------------------------------

def read_timer(path):
    import json  # pylint: disable=import-outside-toplevel
    events = []
    try:
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line:
                    events.append(json.loads(line))
    except (IOError, OSError):
        pass
    return events


def task_profile(events, hosts):
    """Where the time goes: per task, its span (from its start to the next task's start, serial over the play) and the
    host-seconds spent in it; module invocations per host (tasks that ran a module on a host or delegated host)."""
    tasks, order, starts = {}, [], {}
    spans = collections.defaultdict(lambda: {'span_s': 0.0, 'host_s': 0.0, 'runs': 0, 'action': None})
    modules_per_host = collections.Counter()
    end = events[-1]['t'] if events else 0.0
    for event in events:
        if event['event'] == 'task':
            tasks[event['uuid']] = (event['name'], event['action'])
            order.append((event['t'], event['uuid']))
        elif event['event'] == 'start':
            starts[(event['uuid'], event['host'])] = event['t']
        elif event['event'] == 'end':
            began = starts.get((event['uuid'], event['host']))
            name, action = tasks.get(event['uuid'], ('?', '?'))
            if began is None:
                continue
            record = spans[(name, action)]
            record['host_s'] += event['t'] - began
            if event['status'] != 'skipped':
                record['runs'] += 1
                if action not in CONTROLLER_ACTIONS and event['host'] in hosts:
                    modules_per_host[event['host']] += 1
    for position, (stamp, uuid) in enumerate(order):
        following = order[position + 1][0] if position + 1 < len(order) else end
        name, action = tasks[uuid]
        spans[(name, action)]['span_s'] += following - stamp
        spans[(name, action)]['action'] = action
    first = order[0][0] if order else None
    categories = collections.Counter()
    for (name, action), record in spans.items():
        categories[category(action)] += record['span_s']
    rows = [{'task': name, 'action': record['action'], 'span_s': round(record['span_s'], 3), 'host_s': round(record['host_s'], 3),
             'runs': record['runs']} for (name, dummy), record in spans.items()]
    rows.sort(key=lambda row: -row['span_s'])
    counts = [modules_per_host.get(host, 0) for host in hosts]
    return {'tasks': rows, 'first_task_t': first, 'end_t': end, 'categories': dict(categories),
            'module_runs_per_host': median(counts) if counts else None}


K8S_MODULES = ('gpufleet.mig.node_labels', 'gpufleet.mig.device_plugin_config', 'gpufleet.mig.node_drain')
GPU_MODULES = ('gpufleet.mig.gpu_info', 'gpufleet.mig.mig_layout', 'gpufleet.mig.driver_check', 'gpufleet.mig.mig_mode')
BOOKKEEPING = ('ansible.builtin.file', 'ansible.builtin.copy', 'ansible.builtin.set_stats')
CATEGORIES = ('Kubernetes modules (controller)', 'GPU modules (node)', 'result files and stats', 'controller-only tasks')


def category(action):
    if action in K8S_MODULES:
        return CATEGORIES[0]
    if action in GPU_MODULES:
        return CATEGORIES[1]
    if action in BOOKKEEPING:
        return CATEGORIES[2]
    return CATEGORIES[3]


def play_spans(events):
    """Seconds spent in each play, by play name (the rolling play's batches add up), in order of first appearance."""
    plays = [(event['t'], event['name']) for event in events if event['event'] == 'play']
    end = events[-1]['t'] if events else 0.0
    spans = collections.OrderedDict()
    for position, (stamp, name) in enumerate(plays):
        following = plays[position + 1][0] if position + 1 < len(plays) else end
        spans[name] = spans.get(name, 0.0) + following - stamp
    return spans


def play_starts(events, name):
    return [event['t'] for event in events if event['event'] == 'play' and event['name'] == name]


def task_starts(events, name):
    return [event['t'] for event in events if event['event'] == 'task' and event['name'] == name]
