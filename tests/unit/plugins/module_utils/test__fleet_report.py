# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report's data and its three renderings: terminal lines, report.md, report.html."""

from __future__ import annotations

import base64
import hashlib
import html.parser
import re

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._fleet_report import fleet_view, markdown, md_escape, summary_lines
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuState
from ansible_collections.gpufleet.mig.plugins.module_utils._diagram import gpu_slots, slot_changes
from ansible_collections.gpufleet.mig.plugins.module_utils._report_html import SCRIPT, TEMPLATES, render_html, render_page


def gpu(index, model='A100-SXM4-40GB', items=(), mig=True, busy=()):
    names = {'A100-SXM4-40GB': 'NVIDIA A100-SXM4-40GB', 'A30': 'NVIDIA A30', 'L40S': 'NVIDIA L40S'}
    instances = tuple(GpuInstance(id=10 + i, profile=p, profile_id=0, start=s, size=n, compute_slices=1,
                                  compute_instances=(ComputeInstance(id=0, profile=p, profile_id=0, start=0, size=1),))
                      for i, (s, n, p) in enumerate(items))
    capable = model != 'L40S'
    entry = GpuState(index=index, uuid='GPU-%d' % index, name=names[model], pci_bus_id='b', pci_device_id=0x20B010DE,
                     pci_subsystem_id=0, memory_total_mib=1, architecture=7, compute_capability=(8, 0), mig_capable=capable,
                     mig_current=mig if capable else None, mig_pending=mig if capable else None, gpu_instances=instances,
                     model=model).to_dict()
    entry['processes'] = [{'pid': pid, 'gpu_instance_id': gi, 'compute_instance_id': 0} for gi, pid in busy]
    return entry


SEVEN = [(i, 1, '1g.5gb') for i in range(7)]
BALANCED = {'mig-enabled': True, 'placements': [{'profile': '2g.10gb', 'start': 0}, {'profile': '1g.5gb', 'start': 2},
                                                {'profile': '1g.5gb', 'start': 3}, {'profile': '3g.20gb', 'start': 4}]}


def node(host, gpus, **fields):
    report = {'node': host, 'driver': '550.54.15', 'gpus': gpus, 'diagrams': [], 'drift': [], 'drift_actions': [], 'desired': {},
              'mig_config': 'all-balanced', 'state': 'success', 'boot_restore': None, 'plugin_config': 'mixed', 'cordoned': False,
              'advertised': {}, 'expected': {}, 'problems': []}
    report.update(fields)
    return report


def fleet():
    return {
        'gpu-b': node('gpu-b', [gpu(0, items=SEVEN, busy=[(12, 4242)]), gpu(1, items=SEVEN)], mig_config='all-1g.5gb',
                      drift=[0], desired={'0': BALANCED}, advertised={'nvidia.com/mig-1g.5gb': '14', 'nvidia.com/gpu': '0'},
                      expected={'nvidia.com/mig-1g.5gb': 14}),
        'gpu-a30': node('gpu-a30', [gpu(i, 'A30', mig=False) for i in range(2)], mig_config=None, state=None, plugin_config=None,
                        cordoned=True, advertised={'nvidia.com/gpu': '2'}, expected={'nvidia.com/gpu': 1},
                        problems=['the device plugin advertises nvidia.com/gpu=2, expected 1']),
        'gpu-gone': None,
        'gpu-l40s': node('gpu-l40s', [gpu(0, 'L40S')], mig_config=None),
    }


def test_fleet_view_reads_every_node():
    view = fleet_view(fleet())
    assert [n['host'] for n in view['nodes']] == ['gpu-b', 'gpu-a30', 'gpu-gone', 'gpu-l40s']
    b, a30, gone, l40s = view['nodes']
    assert b['models'] == [{'model': 'A100-SXM4-40GB', 'count': 2}] and b['gpu_count'] == 2
    assert b['drift'] == [0] and b['gpus'][0]['drift'] and not b['gpus'][1]['drift']
    assert b['gpus'][1]['target'] is None
    changes = [(s['start'], s['change']) for s in b['gpus'][0]['current']['segments'] if s['change'] != 'keep']
    assert changes == [(0, 'destroy'), (1, 'destroy'), (4, 'destroy'), (5, 'destroy'), (6, 'destroy'), (7, None)]
    assert [s['busy'] for s in b['gpus'][0]['current']['segments'] if s['busy']] == [[4242]]
    # A resource at 0 counts as not advertised, so it is no mismatch.
    assert [(r['name'], r['match']) for r in b['resources']] == [('nvidia.com/gpu', True), ('nvidia.com/mig-1g.5gb', True)]
    assert b['resources_match'] and not a30['resources_match']
    assert a30['cordoned'] is True and a30['gpus'][0]['current']['mig'] == 'off'
    assert gone['reached'] is False and gone['problems'] == ['not reached']
    assert l40s['gpus'][0]['current']['mig'] == 'none'
    assert view['totals'] == {'nodes': 4, 'reached': 3, 'gpus': 5, 'drift_nodes': 1, 'drift_gpus': 1, 'problem_nodes': 2,
                              'cordoned': 1, 'resource_mismatches': 1, 'dra_nodes': 0, 'dra_mismatches': 0}
    # No node uses the DRA driver: nothing of it anywhere.
    assert all(n['dra'] is None for n in view['nodes']) and all(g['dra'] is None for n in view['nodes'] for g in n['gpus'])
    assert [(p['name'], p['slices']) for p in view['profiles']] == [('1g.5gb', 1), ('2g.10gb', 2), ('3g.20gb', 4)]
    assert len(set(view['colours'].values())) == 3


def test_a_gpu_that_cannot_be_drawn_is_a_problem_of_its_node_not_of_the_report():
    broken = gpu(1, items=[(0, 4, '3g.20gb')])
    broken['gpu_instances'].append({'profile': '2g.10gb', 'placement': {'start': 2, 'size': 2}, 'id': 99})
    view = fleet_view({'gpu-x': node('gpu-x', [gpu(0), broken])})
    assert [g['index'] for g in view['nodes'][0]['gpus']] == [0]
    assert view['nodes'][0]['problems'] == ['GPU 1 cannot be drawn: MIG instances 0-3:3g.20gb and 2-3:2g.10gb overlap']


def test_many_profiles_keep_distinct_colours():
    profiles = ['p%02d' % i for i in range(20)]
    gpus = [{'index': i, 'model': None, 'name': 'x', 'mig_capable': True, 'mig_mode': {'current': True},
             'gpu_instances': [{'profile': p, 'placement': {'start': 0, 'size': 1}}]} for i, p in enumerate(profiles)]
    view = fleet_view({'n': node('n', gpus)})
    assert len(set(view['colours'].values())) == 20


def test_summary_is_one_line_per_element():
    hostile = fleet()
    hostile['gpu-b']['mig_config'] = 'evil\nsecond line'
    lines = summary_lines(fleet_view(hostile))
    assert all('\n' not in line and '\r' not in line for line in lines)
    assert lines[0] == 'gpu-b (node gpu-b, driver 550.54.15): mig.config=evil second line state=success plugin=mixed'
    assert lines[1].startswith('  GPU 0 A100-SXM4-40GB [0:1g.5gb')
    # The desired layout goes under the drifted GPU, its slots under the current ones.
    assert lines[2].endswith('desired [0-1:2g.10gb            |2:1g.5gb   |3:1g.5gb   |4-7:3g.20gb' + ' ' * 36 + ']')
    assert lines[1].index('[') == lines[2].index('[')
    assert 'gpu-a30 (node gpu-a30, driver 550.54.15): mig.config=- state=- plugin=- CORDONED' in lines
    assert '  problem: the device plugin advertises nvidia.com/gpu=2, expected 1' in lines
    assert 'gpu-gone: not reached' in lines


def test_markdown_holds_the_same_fleet_and_escapes_node_text():
    hostile = fleet()
    hostile['gpu-b']['mig_config'] = 'a|b <img src=x> *bold* [link](http://x)'
    hostile['gpu-b']['problems'] = ['```\n# heading']
    hostile['gpu-b']['gpus'][1]['model'] = 'x```y'
    text = markdown(fleet_view(hostile))
    rows = [line for line in text.splitlines() if line.startswith('| ')]
    assert len(rows) == 5 and all(len(re.split(r'(?<!\\)\|', row)) == 10 for row in rows)
    assert 'a\\|b \\<img src=x\\> \\*bold\\* \\[link\\]\\(http://x\\)' in text
    cells = [cell for row in rows for cell in re.split(r'(?<!\\)\|', row)]
    assert not [cell for cell in cells if re.search(r'(?<!\\)[<>*`\[\]]', cell)]
    assert '\n# heading' not in text
    assert '````\nGPU 0 A100-SXM4-40GB' in text   # a fence longer than the backticks inside
    assert '| gpu-gone | | | | | | | not reached |' in text
    assert md_escape(None) == '-'


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>" onmouseover="alert(3)'


def test_html_escapes_every_node_text_and_needs_no_network():
    hostile = fleet()
    hostile[HOSTILE] = node(HOSTILE, [gpu(0)], mig_config=HOSTILE, state=HOSTILE, plugin_config=HOSTILE, problems=[HOSTILE],
                            advertised={HOSTILE: HOSTILE}, expected={})
    hostile['gpu-b']['gpus'][0]['gpu_instances'][0]['profile'] = HOSTILE
    page = render_html(fleet_view(hostile))
    parser = Tags()
    parser.feed(page)
    tags = [tag for tag, dummy in parser.tags]
    assert tags.count('script') == 1 and 'img' not in tags
    assert not any(name.startswith('on') for dummy, attrs in parser.tags for name in attrs)
    assert ''.join(parser.text).count(HOSTILE) >= 8
    assert not re.search(r'(src|href)="(https?:)?//', page) and 'http://' not in page and 'https://' not in page
    # The policy allows the page's own script and nothing else.
    policy = [attrs['content'] for tag, attrs in parser.tags if attrs.get('http-equiv') == 'Content-Security-Policy'][0]
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert "default-src 'none'" in policy and "script-src 'sha256-%s'" % digest in policy
    assert '<script>%s</script>' % SCRIPT in page


def test_html_and_markdown_show_the_same_nodes_and_diagrams():
    view = fleet_view(fleet())
    page, text = render_html(view), markdown(view)
    parser = Tags()
    parser.feed(page)
    rows = [attrs['data-host'] for tag, attrs in parser.tags if tag == 'tr' and 'data-host' in attrs]
    assert rows == [n['host'] for n in view['nodes']]
    assert all('| %s |' % md_escape(host) in text for host in rows)
    drawn = [(int(attrs['data-start']), int(attrs['data-size']), attrs.get('data-profile'))
             for tag, attrs in parser.tags if tag == 'div' and 'seg' in attrs.get('class', '').split()]
    # gpu-b: GPU 0 now (7 instances + 1 free) and desired (4), GPU 1 now (8 cells).
    assert len(drawn) == 8 + 4 + 8
    assert drawn[8:12] == [(0, 2, '2g.10gb'), (2, 1, '1g.5gb'), (3, 1, '1g.5gb'), (4, 4, '3g.20gb')]
    assert '  desired [0-1:2g.10gb' in text


def test_fleet_view_refuses_what_is_not_a_fleet():
    with pytest.raises(ValueError, match='expected the fleet as a dict'):
        fleet_view(['gpu-1'])


PLAN = """{% extends 'base.html' %}{% import 'slots.html' as draw %}{% block title %}plan{% endblock %}
{% block content %}{{ draw.gpu_row(gpu, colours, 'current', 'target') }}{% endblock %}"""


def test_the_diagram_templates_serve_another_page():
    """A plan page draws current against target with the report's own macros, and its script leaves it alone."""
    entry = gpu(0, items=SEVEN)
    current, target = slot_changes(gpu_slots(entry), gpu_slots(entry, layout=BALANCED))
    colours = {'1g.5gb': '#111111', '2g.10gb': '#222222', '3g.20gb': '#333333'}
    page = render_page('plan.html', dict(TEMPLATES, **{'plan.html': PLAN}),
                       gpu={'index': 0, 'model': 'A100-SXM4-40GB', 'uuid': 'GPU-0', 'drift': True, 'current': current, 'target': target},
                       colours=colours)
    parser = Tags()
    parser.feed(page)
    classes = [attrs.get('class', '') for tag, attrs in parser.tags if tag == 'div']
    assert sum('destroy' in c for c in classes) == 5 and sum('create' in c for c in classes) == 2
    assert '>current<' in page and '>target<' in page and 'if (!table) { return; }' in page


# -- a node whose GPUs NVIDIA's DRA driver hands out --------------------------------------------------------------------

def dra_gpu(index, minor, items=(), mig=True):
    entry = gpu(index, items=items, mig=mig)
    entry['minor_number'] = minor
    for number, instance in enumerate(entry['gpu_instances']):
        instance['profile_id'] = {'1g.5gb': 19, '3g.20gb': 9}[instance['profile']]
        instance['compute_instances'][0]['placement']['size'] = instance['compute_slices'] = {'1g.5gb': 1, '3g.20gb': 3}[instance['profile']]
    return entry


def dra_fleet(hostile='trainer-0'):
    """gpu-dra: GPU 0 whole and claimed; GPU 1 partitioned (3g.20gb at 4-7) after its plugin published it whole."""
    gpus = [dra_gpu(0, 0, mig=False), dra_gpu(1, 1, items=[(4, 4, '3g.20gb')])]
    claims = [{'namespace': 'ml', 'name': 'trainer-0-gpu', 'devices': ['gpu-0'],
               'reserved_for': [{'resource': 'pods', 'name': hostile, 'uid': 'u'}]}]
    dra = {'published': ['gpu-0', 'gpu-1'], 'complete': True, 'shared_counters': False, 'dynamic_mig': None,
           'plugin_pods': [{'name': 'dra-plugin-x', 'state': 'Running'}], 'claims': claims, 'problems': []}
    result = fleet()
    result['gpu-dra'] = node('gpu-dra', gpus, plugin_config=None, dra=dra)
    return result


def test_a_dra_node_shows_its_devices_beside_its_gpus_in_the_view():
    view = fleet_view(dra_fleet())
    dra_node = view['nodes'][-1]
    assert dra_node['dra']['published'] == 2 and dra_node['dra']['expected'] == 2 and not dra_node['dra']['match']
    assert [d['name'] for d in dra_node['gpus'][0]['dra']] == ['gpu-0']
    assert [(d['name'], d['status']) for d in dra_node['gpus'][1]['dra']] == [('gpu-1', 'unexpected'), ('gpu-1-mig-3g20gb-9-4', 'missing')]
    assert dra_node['problems'] == []
    assert view['totals']['dra_nodes'] == 1 and view['totals']['dra_mismatches'] == 1
    # The other nodes are as without it.
    assert [n['dra'] for n in view['nodes'][:-1]] == [None] * 4


def test_a_dra_nodes_problems_are_the_nodes():
    fleet_ = dra_fleet()
    fleet_['gpu-dra']['gpus'].append(dra_gpu(2, 2))   # MIG on, no MIG devices: stranded
    fleet_['gpu-dra']['dra']['plugin_pods'] = []
    problems = fleet_view(fleet_)['nodes'][-1]['problems']
    assert len(problems) == 2 and all(p.startswith('DRA: ') for p in problems)
    assert 'stranded' in problems[0] and 'no DRA kubelet plugin pod runs on the node' in problems[1]


def test_the_summary_and_markdown_list_each_gpus_dra_devices_under_it():
    view = fleet_view(dra_fleet())
    lines = summary_lines(view)
    start = lines.index('gpu-dra (node gpu-dra, driver 550.54.15): mig.config=all-balanced state=success plugin=-')
    assert lines[start + 1] == '  GPU 0 A100-SXM4-40GB (MIG disabled)'
    assert lines[start + 2] == '    DRA gpu-0 (whole GPU): published; claim ml/trainer-0-gpu for pod trainer-0'
    assert lines[start + 3].startswith('  GPU 1 A100-SXM4-40GB [')
    assert lines[start + 4:start + 7] == ['    DRA gpu-1 (whole GPU): published, not expected',
                                          '    DRA gpu-1-mig-3g20gb-9-4 (3g.20gb at 4-7): expected, not published',
                                          '  drift: none']
    # No device plugin to compare on a DRA node: the DRA devices stand instead of advertised and expected.
    assert lines[start + 7] == ('  DRA devices (gpu.nvidia.com): 2 published, 2 expected, they differ (its kubelet plugin reads the '
                                'GPUs only when it starts); 1 claim; plugin pod dra-plugin-x (Running)')
    assert len(lines) == start + 8
    # A node without DRA keeps its lines as they were.
    assert '  advertised: nvidia.com/gpu=2' in lines and not [line for line in lines[:start] if 'DRA' in line]
    text = markdown(view)
    assert '| gpu-dra | 2 x A100-SXM4-40GB | all-balanced | success | no | none | DRA devices 2/2 \\(differs\\) |  |' in text
    assert ' 1 nodes use NVIDIA\'s DRA driver (1 publish other devices than expected).' in text
    assert '```\nGPU 0 A100-SXM4-40GB (MIG disabled)\n  DRA gpu-0 (whole GPU): published; claim ml/trainer-0-gpu for pod trainer-0\n' in text
    assert 'DRA devices \\(gpu.nvidia.com\\): 2 published' in text
    assert 'DRA' not in markdown(fleet_view(fleet()))


def test_the_page_shows_the_same_dra_devices_and_escapes_them():
    view = fleet_view(dra_fleet(hostile=HOSTILE))
    page = render_html(view)
    parser = Tags()
    parser.feed(page)
    devices = [(attrs['data-device'], attrs['data-status']) for tag, attrs in parser.tags if tag == 'li' and 'data-device' in attrs]
    assert devices == [('gpu-0', 'ok'), ('gpu-1', 'unexpected'), ('gpu-1-mig-3g20gb-9-4', 'missing')]
    lists = [attrs['aria-label'] for tag, attrs in parser.tags if tag == 'ul' and 'dra' in attrs.get('class', '').split()]
    assert lists == ['DRA devices of GPU 0', 'DRA devices of GPU 1']
    row = [attrs for tag, attrs in parser.tags if tag == 'tr' and attrs.get('data-host') == 'gpu-dra'][0]
    assert row['data-search'].endswith('gpu-dra gpu-0 gpu-1 gpu-1-mig-3g20gb-9-4')
    assert 'of 1 DRA nodes publishing other devices than expected' in page
    text = ''.join(parser.text)
    assert 'claim ml/trainer-0-gpu for pod\n' + HOSTILE in text
    assert [tag for tag, dummy in parser.tags].count('script') == 1 and 'img' not in [tag for tag, dummy in parser.tags]
    unread = dra_fleet()
    unread['gpu-dra']['gpus'] = []
    assert summary_lines(fleet_view(unread))[-1].startswith(
        '  DRA devices (gpu.nvidia.com): 2 published, 0 expected, not compared (the GPUs were not read); 1 claim;')
    plain = render_html(fleet_view(fleet()))
    assert 'DRA' not in plain.replace('ul.dra', '').replace('p.dra', '')
