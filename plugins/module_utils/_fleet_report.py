# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The fleet report as data, and its text renderers (terminal lines, Markdown).

``fleet_view`` is the one place that interprets the per-node reports of the ``mig_rollout`` role's ``report`` entry
point; the terminal summary, ``report.md`` and ``report.html`` (``_report_html``) are all drawn from its result, so they
cannot disagree. Everything in a node report that comes from the node or the cluster (labels, names, messages) is
untrusted text: the renderers here escape it for Markdown, the HTML renderer through Jinja2's autoescaping.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils._diagram import gpu_slots, slot_changes, slots_text
from ansible_collections.gpufleet.mig.plugins.module_utils._dra_report import dra_view

__all__ = ('dra_device_text', 'dra_summary', 'fleet_view', 'markdown', 'summary_lines')

# Colours of the profiles, in the order of their size: distinct in hue and light enough for dark text.
PALETTE = ('#8ecae6', '#ffb703', '#90be6d', '#f4a3c1', '#b8a1e3', '#f9844a', '#4cc9b0', '#e9c46a', '#a3b18a', '#ff8fab',
           '#9bb1ff', '#d4a373')


def _text(value):
    """A label or name from a node as text; None stays None (shown as a dash)."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else []


def _count(value):
    """A Kubernetes resource count (an int, or a quantity string such as '56') as an int; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _resources(advertised, expected):
    """Each resource either side names: ``{'name', 'advertised', 'expected', 'match'}``; a missing count is 0."""
    advertised = advertised if isinstance(advertised, Mapping) else {}
    expected = expected if isinstance(expected, Mapping) else {}
    rows = []
    for name in sorted(set(str(k) for k in advertised) | set(str(k) for k in expected)):
        have, want = advertised.get(name), expected.get(name)
        # A resource at 0 is what the kubelet keeps after a strategy change: the same as one not advertised.
        have_count = 0 if have is None else _count(have)
        want_count = 0 if want is None else _count(want)
        match = have_count is not None and have_count == want_count
        rows.append({'name': name, 'advertised': None if have is None else _text(have),
                     'expected': None if want is None else _text(want), 'match': match})
    return rows


def _desired_layout(desired, index):
    """The planned layout of GPU ``index`` from the report's ``desired`` ({index: layout}; JSON makes the keys strings)."""
    if not isinstance(desired, Mapping):
        return None
    layout = desired.get(index, desired.get(str(index)))
    return layout if isinstance(layout, Mapping) else None


def _gpu_view(gpu, drifted, desired, problems):
    """One GPU: its slots now, and for a drifted GPU with a planned layout its target, changes marked on both."""
    index = gpu.get('index') if isinstance(gpu, Mapping) else None
    try:
        current = gpu_slots(gpu)
        target = None
        layout = _desired_layout(desired, index) if index in drifted else None
        if layout is not None:
            current, target = slot_changes(current, gpu_slots(gpu, layout=layout))
        # 'dra': the GPU's DRA devices, set by _node_view on a DRA node (None elsewhere).
        return {'index': index, 'model': _text(gpu.get('model') or gpu.get('name')), 'uuid': _text(gpu.get('uuid')), 'dra': None,
                'drift': index in drifted, 'current': current, 'target': target,
                'text': slots_text(current), 'target_text': slots_text(target) if target is not None else None}
    except ValueError as exc:
        # One corrupt GPU entry must not hide the rest of the fleet: it becomes a problem of its node.
        problems.append('GPU %s cannot be drawn: %s' % ('?' if index is None else index, exc))
        return None


def _node_view(host, report):
    host = _text(host)
    if not isinstance(report, Mapping):
        return {'host': host, 'reached': False, 'node': None, 'driver': None, 'models': [], 'gpu_count': 0, 'mig_config': None,
                'state': None, 'plugin_config': None, 'cordoned': None, 'drift': [], 'drift_gpus': 0, 'resources': [],
                'resources_match': None, 'problems': ['not reached'], 'gpus': [], 'dra': None}
    problems = [_text(p) for p in _as_list(report.get('problems')) if p is not None]
    drift = sorted(set(i for i in _as_list(report.get('drift')) if isinstance(i, int) and not isinstance(i, bool)))
    raw_gpus = [gpu for gpu in _as_list(report.get('gpus')) if isinstance(gpu, Mapping)]
    gpus = [view for view in (_gpu_view(gpu, drift, report.get('desired'), problems) for gpu in raw_gpus) if view is not None]
    models = []
    for gpu in raw_gpus:
        model = _text(gpu.get('model') or gpu.get('name') or 'unknown GPU')
        if models and models[-1][0] == model:
            models[-1][1] += 1
        else:
            models.append([model, 1])
    resources = _resources(report.get('advertised'), report.get('expected'))
    # Only a node whose GPUs NVIDIA's DRA driver hands out has a reading; its problems are the node's too.
    dra = dra_view(raw_gpus, report.get('dra'))
    if dra is not None:
        problems.extend('DRA: %s' % problem for problem in dra['problems'])
        by_index = dict((row['index'], row['devices']) for row in dra['gpus'])
        for gpu in gpus:
            gpu['dra'] = by_index.get(gpu['index'], [])
    cordoned = report.get('cordoned')
    return {
        'host': host, 'reached': True, 'node': _text(report.get('node')), 'driver': _text(report.get('driver')),
        'models': [{'model': m, 'count': c} for m, c in models], 'gpu_count': len(raw_gpus),
        'mig_config': _text(report.get('mig_config')), 'state': _text(report.get('state')),
        'plugin_config': _text(report.get('plugin_config')), 'cordoned': None if cordoned is None else bool(cordoned),
        'drift': drift, 'drift_gpus': len(drift), 'resources': resources,
        'resources_match': all(row['match'] for row in resources), 'problems': problems, 'gpus': gpus, 'dra': dra,
    }


def _profiles(nodes):
    """Every profile drawn anywhere, smallest first, each with its colour."""
    sizes = {}
    for node in nodes:
        for gpu in node['gpus']:
            for slots in (gpu['current'], gpu['target']):
                for segment in (slots or {}).get('segments', ()):
                    if segment['profile'] is not None:
                        sizes.setdefault(segment['profile'], segment['size'])
    ordered = sorted(sizes, key=lambda name: (sizes[name], name))
    colours = {}
    for number, name in enumerate(ordered):
        # Beyond the palette, hues a golden angle apart stay distinguishable.
        colours[name] = PALETTE[number] if number < len(PALETTE) else 'hsl(%d, 65%%, 72%%)' % ((number * 137) % 360)
    return [{'name': name, 'slices': sizes[name], 'colour': colours[name]} for name in ordered], colours


def fleet_view(fleet, title='MIG fleet report'):
    """The fleet report as plain data, from ``{host: node report or None}`` (None: the node was not reached).

    A node report is what the ``mig_rollout`` role's ``report`` entry point sets as ``mig_rollout_report``. The result holds
    ``title``, ``nodes`` (in the order given), ``profiles`` (every profile drawn, smallest first, each with its colour),
    ``colours`` ({profile: colour}) and ``totals``. Every GPU's slots come from ``_diagram.gpu_slots``.
    """
    if not isinstance(fleet, Mapping):
        raise ValueError('expected the fleet as a dict of host name to node report, got %s' % type(fleet).__name__)
    nodes = [_node_view(host, report) for host, report in fleet.items()]
    profiles, colours = _profiles(nodes)
    totals = {
        'nodes': len(nodes),
        'reached': sum(1 for n in nodes if n['reached']),
        'gpus': sum(n['gpu_count'] for n in nodes),
        'drift_nodes': sum(1 for n in nodes if n['drift']),
        'drift_gpus': sum(n['drift_gpus'] for n in nodes),
        'problem_nodes': sum(1 for n in nodes if n['problems']),
        'cordoned': sum(1 for n in nodes if n['cordoned']),
        'resource_mismatches': sum(1 for n in nodes if n['resources_match'] is False),
        'dra_nodes': sum(1 for n in nodes if n['dra'] is not None),
        'dra_mismatches': sum(1 for n in nodes if n['dra'] is not None and not n['dra']['match']),
    }
    return {'title': _text(title) or 'MIG fleet report', 'nodes': nodes, 'profiles': profiles, 'colours': colours, 'totals': totals}


# -- text renderers -----------------------------------------------------------------------------------------------------

def _dash(value):
    return '-' if value is None or value == '' else value


def _pairs(node, side):
    return ', '.join('%s=%s' % (row['name'], row[side]) for row in node['resources'] if row[side] is not None)


def _desired_line(gpu, indent):
    """The target's diagram under the current one, its slots lined up with the current ones."""
    title = gpu['target']['title']
    return indent + 'desired'.rjust(len(title)) + ' ' + gpu['target_text'][len(title):].strip()


def dra_device_text(device):
    """One DRA device in words: its name, what it is on the GPU, whether published and expected, its claims."""
    text = '%s (%s): %s' % (device['name'], device['what'], device['state'])
    for claim in device['claims']:
        text += '; claim %s' % claim['claim']
        if claim['pods']:
            text += ' for pod%s %s' % ('s' if len(claim['pods']) > 1 else '', ', '.join(_dash(_text(pod)) for pod in claim['pods']))
    return text


def dra_summary(dra):
    """A DRA node's devices in one line: how many are published and expected, whether they agree, claims, plugin."""
    if not dra['compared']:
        verdict = 'not compared (%s)' % ('dynamic MIG' if dra['dynamic'] else 'the GPUs were not read')
    elif dra['match']:
        verdict = 'as NVIDIA\'s driver publishes them for the GPUs as read'
    elif not dra['complete']:
        verdict = 'the pool is incomplete'
    else:
        # The plugin reads NVML only when it starts (_dra): after a change without a restart its slices are stale.
        verdict = 'they differ (its kubelet plugin reads the GPUs only when it starts)'
    plugin = ', '.join('%s (%s)' % (_dash(_text(pod.get('name'))), _dash(_text(pod.get('state')))) for pod in dra['plugin_pods'])
    return 'DRA devices (gpu.nvidia.com): %d published, %d expected, %s; %d claim%s; plugin pod %s' % (
        dra['published'], dra['expected'], verdict, dra['claims'], '' if dra['claims'] == 1 else 's', plugin or 'none')


def _gpu_lines(node, indent):
    """Each GPU's diagram, its target's under it, and on a DRA node its DRA devices; then devices of no GPU."""
    lines = []
    for gpu in node['gpus']:
        lines.append(indent + gpu['text'])
        if gpu['target_text'] is not None:
            lines.append(_desired_line(gpu, indent))
        if gpu['dra'] is not None:
            lines.extend(indent + '  DRA ' + dra_device_text(device) for device in gpu['dra'])
            if not gpu['dra']:
                lines.append(indent + '  DRA: no device')
    if node['dra'] is not None:
        lines.extend(indent + 'DRA ' + dra_device_text(device) for device in node['dra']['other'])
    return lines


def summary_lines(view):
    """The terminal summary: one string per line, so that Ansible's callbacks (and AWX) print one line per line."""
    lines = []
    for node in view['nodes']:
        if not node['reached']:
            lines.append('%s: not reached' % node['host'])
            continue
        lines.append('%s (node %s, driver %s): mig.config=%s state=%s plugin=%s%s' % (
            node['host'], _dash(node['node']), _dash(node['driver']), _dash(node['mig_config']), _dash(node['state']),
            _dash(node['plugin_config']), ' CORDONED' if node['cordoned'] else ''))
        lines.extend(_gpu_lines(node, '  '))
        lines.append('  drift: %s' % ('GPUs ' + ', '.join(str(i) for i in node['drift']) if node['drift'] else 'none'))
        # A DRA node has no device plugin to compare (the report does not ask it): its DRA devices stand instead.
        if node['dra'] is None or node['resources']:
            lines.append('  advertised: %s' % (_pairs(node, 'advertised') or 'nothing'))
            lines.append('  expected:   %s' % (_pairs(node, 'expected') or 'nothing'))
        if node['dra'] is not None:
            lines.append('  ' + dra_summary(node['dra']))
        lines.extend('  problem: %s' % problem for problem in node['problems'])
    return [' '.join(line.splitlines()) for line in lines]


# Characters that mean something inside a line of Markdown (GitHub's included); '-', '+' and '#' only at its start.
_MD_SPECIAL = '\\`*_{}[]<>()!|~'


def md_escape(value):
    """Untrusted text for a Markdown table cell or heading: one line, every Markdown character backslash-escaped."""
    text = ' '.join(_dash(value).splitlines()) if value is not None else '-'
    return ''.join('\\' + c if c in _MD_SPECIAL else ('&amp;' if c == '&' else c) for c in text)


def _md_fence(lines):
    """A code block whose fence is longer than any run of backticks inside it (node text cannot close it)."""
    longest, run = 0, 0
    for char in '\n'.join(lines):
        run = run + 1 if char == '`' else 0
        longest = max(longest, run)
    fence = '`' * max(3, longest + 1)
    return [fence] + lines + [fence]


def _md_models(node):
    return ', '.join('%d x %s' % (m['count'], m['model']) for m in node['models'])


def _md_resources(node):
    pairs = ['%s %s/%s%s' % (row['name'], _dash(row['advertised']), _dash(row['expected']), '' if row['match'] else ' (differs)')
             for row in node['resources']]
    if node['dra'] is not None:
        pairs.append('DRA devices %d/%d%s' % (node['dra']['published'], node['dra']['expected'], '' if node['dra']['match'] else ' (differs)'))
    return ', '.join(pairs)


def markdown(view):
    """``report.md``: the fleet table, then per node its details and one text slot diagram per GPU."""
    out = ['# %s' % md_escape(view['title']), '']
    totals = view['totals']
    out.append('%d nodes (%d reached), %d GPUs; drift on %d nodes (%d GPUs); %d nodes with problems; %d cordoned.' % (
        totals['nodes'], totals['reached'], totals['gpus'], totals['drift_nodes'], totals['drift_gpus'],
        totals['problem_nodes'], totals['cordoned']))
    if totals['dra_nodes']:
        out[-1] += ' %d nodes use NVIDIA\'s DRA driver (%d publish other devices than expected).' % (
            totals['dra_nodes'], totals['dra_mismatches'])
    out.append('')
    out.append('| Node | GPUs | mig.config | state | cordoned | drift | advertised/expected | problems |')
    out.append('|---|---|---|---|---|---|---|---|')
    for node in view['nodes']:
        if not node['reached']:
            out.append('| %s | | | | | | | not reached |' % md_escape(node['host']))
            continue
        out.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            md_escape(node['host']), md_escape(_md_models(node)), md_escape(node['mig_config']), md_escape(node['state']),
            md_escape('yes' if node['cordoned'] else ('no' if node['cordoned'] is False else None)),
            md_escape('GPUs ' + ', '.join(str(i) for i in node['drift']) if node['drift'] else 'none'),
            md_escape(_md_resources(node)), md_escape('; '.join(node['problems'])) if node['problems'] else ''))
    for node in view['nodes']:
        if not node['reached']:
            continue
        out.extend(['', '## %s' % md_escape(node['host']), ''])
        out.append('Node %s, driver %s, device plugin config %s.' % (
            md_escape(node['node']), md_escape(node['driver']), md_escape(node['plugin_config'])))
        out.append('')
        if node['dra'] is not None:
            out.extend([md_escape(dra_summary(node['dra'])) + '.', ''])
        out.extend(_md_fence(_gpu_lines(node, '')))
        for problem in node['problems']:
            out.append('- problem: %s' % md_escape(problem))
    return '\n'.join(out) + '\n'
