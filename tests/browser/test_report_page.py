# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report page of the demo fleet, in headless Chromium.

The report playbook runs over the simulated fleet of ``make demo`` in its starting state (four nodes drifted from their
desired layout, one at its target, one served by NVIDIA's DRA driver), with two processes running on MIG instances of
gpu-a100-2. Chromium loads the ``report.html`` it wrote from disk; the test checks what a user would see: no console
errors and no network request, every node and GPU of the demo fleet, slot diagrams drawn to scale, busy and drifted
instances marked, the DRA node's devices and claim, sorting and filtering. It takes a screenshot
(.build/browser/report.png) and also checks a page made from hostile node data.

Needs Chromium (``make browser-tests`` installs Debian's package when it is missing), the simulator and the
collection (``make simulator collection``). Without Chromium it skips, saying why; under CI (CI=true) that fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'demo'))
import cdp  # noqa: E402  pylint: disable=wrong-import-position
import setup as demo  # noqa: E402  pylint: disable=wrong-import-position
from summary import inventory_hosts  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.gpufleet.mig.plugins.module_utils._fleet_report import fleet_view  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._report_html import render_html  # noqa: E402

OUT = os.path.join(ROOT, '.build', 'browser')
# Processes on gpu-a100-2's GPU 0, on the instances at slices 2 and 3, which its desired layout keeps (a busy instance that
# it would destroy makes the plan fail: the report would show that as a problem, and no drift).
BUSY = {2: 4242, 3: 4343}


def _chromium():
    path = cdp.find_chromium()
    if path is None:
        message = 'no Chromium (tried $CHROMIUM and %s): run `make browser-tests`, which installs it' % ', '.join(cdp.CANDIDATES)
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(name='report', scope='module')
def report_fixture():
    """The demo fleet's report directory and the report playbook's output, the fleet stopped afterwards."""
    _chromium()
    os.makedirs(OUT, exist_ok=True)
    build = demo.sim_build()
    demo.start()
    try:
        state = os.path.join(demo.FLEET, 'gpu-a100-2.state')
        instances = json.loads(demo.simnode(build, 'show', state, '--json'))['gpus'][0]['gpu_instances']
        by_start = dict((instance['start'], instance['id']) for instance in instances)
        for start, pid in BUSY.items():
            demo.simnode(build, 'process', 'add', state, '--gpu', '0', '--gi', str(by_start[start]), '--ci', '0', '--pid', str(pid))
        proc = subprocess.run(['ansible-playbook', os.path.join(ROOT, 'playbooks', 'report.yml'),
                               '-i', os.path.join(ROOT, 'inventories', 'simulated')],
                              capture_output=True, text=True, cwd=ROOT, check=False,
                              env=dict(os.environ, ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_NOCOLOR='1'))
        with open(os.path.join(OUT, 'report-run.log'), 'w') as handle:
            handle.write(proc.stdout + proc.stderr)
        assert proc.returncode == 0, 'the report playbook failed:\n%s\n%s' % (proc.stdout[-8000:], proc.stderr[-3000:])
    finally:
        demo.stop_cluster(quiet=True)
    yield {'dir': demo.REPORT, 'stdout': proc.stdout}


@pytest.fixture(name='browser', scope='module')
def browser_fixture():
    with cdp.Browser(_chromium(), width=1400, height=1000) as browser:
        yield browser


@pytest.fixture(name='page', scope='module')
def page_fixture(report, browser):
    page = browser.open('file://' + os.path.join(report['dir'], 'report.html'))
    page.screenshot(os.path.join(OUT, 'report.png'), full_page=True)
    return page


def _expected_gpus():
    """{host: [model, ...]} from the demo's own description of its fleet, not from the report."""
    expected = {}
    for host in inventory_hosts():
        models = []
        for spec in demo.NODES[host]['gpus']:
            model, count = spec.rsplit(':', 1)
            models.extend([model] * int(count))
        expected[host] = models
    return expected


VISIBLE = '''(function () {
  return Array.prototype.map.call(document.querySelectorAll('#fleet tbody tr'), function (row) {
    var section = document.getElementById(row.getAttribute('data-section'));
    return [row.getAttribute('data-host'), !row.hidden, !section.hidden];
  });
}())'''


def test_the_terminal_summary_prints_one_line_per_line(report):
    shown = report['stdout'].split('TASK [Show the fleet]', 1)[1].split('TASK [', 1)[0]
    assert '\\n' not in shown
    for host in inventory_hosts():
        assert re.search(r'^\s+"%s \(node %s, driver 550\.54\.15\): mig\.config=' % (host, host), shown, re.M), shown[:2000]
    assert re.search(r'^\s+"report: .*report\.html"$', shown, re.M)


def test_the_page_loads_without_errors_or_network(page):
    assert page.problems() == []
    requests = page.requests()
    assert requests and all(url.startswith(('file:', 'data:')) for url in requests), requests
    assert page.evaluate('document.title') == 'MIG fleet report'


def test_every_node_and_gpu_is_on_the_page(page):
    expected = _expected_gpus()
    rows = page.evaluate("Array.prototype.map.call(document.querySelectorAll('#fleet tbody tr'), function (r) {"
                         " return [r.getAttribute('data-host'), r.cells[0].textContent.trim(), r.cells[1].textContent]; })")
    assert [row[0] for row in rows] == list(expected)
    for host, text, models in rows:
        assert text.startswith(host)
        for model in set(expected[host]):
            assert '%d × %s' % (expected[host].count(model), model) in models
    sections = page.evaluate("Array.prototype.map.call(document.querySelectorAll('section.node'), function (s) {"
                             " return [s.getAttribute('data-host'), Array.prototype.map.call(s.querySelectorAll('.gpu'), function (g) {"
                             " return [Number(g.getAttribute('data-gpu')), g.querySelector('.gname small').textContent]; })]; })")
    assert dict((host, [model for dummy, model in gpus]) for host, gpus in sections) == expected
    for host, gpus in sections:
        assert [index for index, dummy in gpus] == list(range(len(expected[host])))


MEASURE = '''(function () {
  return Array.prototype.map.call(document.querySelectorAll('.slots'), function (d) {
    var box = d.getBoundingClientRect();
    var style = getComputedStyle(d);
    var inner = box.width - parseFloat(style.borderLeftWidth) - parseFloat(style.borderRightWidth);
    return {slices: Number(d.getAttribute('data-slices')), mig: d.getAttribute('data-mig'), width: inner,
            left: box.left + parseFloat(style.borderLeftWidth),
            segs: Array.prototype.map.call(d.querySelectorAll('.seg'), function (s) {
              var r = s.getBoundingClientRect();
              return {start: Number(s.getAttribute('data-start')), size: Number(s.getAttribute('data-size')),
                      left: r.left, width: r.width, profile: s.getAttribute('data-profile')};
            })};
  });
}())'''


def test_diagrams_are_drawn_to_scale(page):
    diagrams = page.evaluate(MEASURE)
    drawn = [d for d in diagrams if d['mig'] == 'on']
    assert len(drawn) >= 28     # a100-2's current layouts, and the desired ones of the three drifted nodes
    per_slice = drawn[0]['width'] / drawn[0]['slices']
    assert per_slice > 30
    for diagram in diagrams:
        # One width per memory slice across the whole page: an A30 (4 slices) is half as wide as an A100 (8).
        assert diagram['width'] == pytest.approx(per_slice * diagram['slices'], abs=1.0)
    for diagram in drawn:
        assert sum(s['size'] for s in diagram['segs']) == diagram['slices']
        for seg in diagram['segs']:
            assert seg['width'] == pytest.approx(per_slice * seg['size'], abs=1.0), seg
            assert seg['left'] - diagram['left'] == pytest.approx(per_slice * seg['start'], abs=1.0), seg
    widths = dict((d['slices'], d['width']) for d in diagrams)
    assert widths[4] == pytest.approx(widths[8] / 2, abs=1.0)


def test_colours_busy_instances_and_drift_are_marked(page):
    marks = page.evaluate('''(function () {
      var a100 = document.querySelector('section.node[data-host="gpu-a100-2"] .gpu[data-gpu="0"]');
      var h100 = document.querySelector('section.node[data-host="gpu-h100-1"]');
      var colour = function (sel) { return getComputedStyle(document.querySelector(sel)).backgroundColor; };
      return {
        busy: Array.prototype.map.call(a100.querySelectorAll('.slots')[0].querySelectorAll('.busy'), function (s) {
          return [Number(s.getAttribute('data-start')), s.title]; }),
        destroyed: Array.prototype.map.call(a100.querySelectorAll('.destroy'), function (s) { return Number(s.getAttribute('data-start')); }),
        created: Array.prototype.map.call(a100.querySelectorAll('.create'), function (s) { return s.getAttribute('data-profile'); }),
        a100Drift: a100.classList.contains('drift'),
        h100Drift: h100.querySelectorAll('.gpu.drift').length, h100Targets: h100.querySelectorAll('.target').length,
        colours: [colour('.seg[data-profile="1g.5gb"]'), colour('.seg[data-profile="3g.20gb"]'), colour('.seg[data-profile="3g.40gb"]'),
                  colour('.target .seg[data-profile="1g.5gb"]')]};
    }())''')
    assert sorted(start for start, dummy in marks['busy']) == sorted(BUSY)
    assert all('busy: process %d' % BUSY[start] in title for start, title in marks['busy'])
    # all-1g.5gb to all-balanced keeps the 1g.5gb instances at slices 2 and 3 and replaces the others.
    assert sorted(marks['destroyed']) == [0, 1, 4, 5, 6]
    assert sorted(marks['created']) == ['2g.10gb', '3g.20gb']
    assert marks['a100Drift'] and marks['h100Drift'] == 0 and marks['h100Targets'] == 0
    one, three, three40, one_target = marks['colours']
    assert len({one, three, three40}) == 3 and one == one_target


def test_the_dra_node_lists_its_devices_and_claim(page):
    """gpu-a100-dra-1 starts with seven 1g.5gb per GPU (tests/demo/setup.py), all published, one held by embed's claim."""
    dra = [host for host in inventory_hosts() if 'dra' in host]
    assert dra == ['gpu-a100-dra-1']
    spec = demo.NODES[dra[0]]
    gpus = sum(int(gpu.rsplit(':', 1)[1]) for gpu in spec['gpus'])
    expected = ['gpu-%d-mig-1g5gb-19-%d' % (gpu, start) for gpu in range(gpus) for start in range(len(spec['start']))]
    shown = page.evaluate('''(function () {
      var row = document.querySelector('#fleet tbody tr[data-host="gpu-a100-dra-1"]');
      var section = document.querySelector('section.node[data-host="gpu-a100-dra-1"]');
      return {cell: row.cells[6].textContent.replace(/\\s+/g, ' ').trim(),
              devices: Array.prototype.map.call(section.querySelectorAll('ul.dra li[data-device]'), function (li) {
                return [li.getAttribute('data-device'), li.getAttribute('data-status'), li.textContent.indexOf('claim ml/embed-') >= 0]; }),
              others: document.querySelectorAll('section.node:not([data-host="gpu-a100-dra-1"]) ul.dra').length};
    }())''')
    assert shown['cell'] == 'DRA devices %d / %d' % (len(expected), len(expected))
    assert sorted(name for name, dummy, dummy2 in shown['devices']) == sorted(expected)
    assert set(status for dummy, status, dummy2 in shown['devices']) == {'ok'}
    assert [name for name, dummy, claimed in shown['devices'] if claimed] == ['gpu-0-mig-1g5gb-19-0']
    assert shown['others'] == 0
    # A DRA device's name finds its node.
    page.click('#filter')
    page.insert_text(expected[-1])
    assert [h for h, row, section in page.evaluate(VISIBLE) if row] == dra
    page.evaluate("document.getElementById('filter').value = ''; document.getElementById('filter').dispatchEvent(new Event('input'))")
    assert all(row and section for dummy, row, section in page.evaluate(VISIBLE))


def test_filtering_and_sorting(page):
    page.click('#filter')
    page.insert_text('a30')
    assert page.evaluate(VISIBLE) == [[h, h == 'gpu-a30-1', h == 'gpu-a30-1'] for h in inventory_hosts()]
    assert page.evaluate("document.getElementById('shown').textContent") == '1'
    # A profile finds the nodes that have it, now or in their desired layout.
    page.evaluate("document.getElementById('filter').select()")
    page.insert_text('3g.40gb')
    assert [h for h, row, section in page.evaluate(VISIBLE) if row] == ['gpu-h100-1']
    page.evaluate("document.getElementById('filter').select()")
    page.insert_text('no-such-node')
    assert not any(row or section for dummy, row, section in page.evaluate(VISIBLE))
    assert page.evaluate("document.getElementById('nomatch').hidden") is False
    page.evaluate("document.getElementById('filter').select()")
    page.call('Input.dispatchKeyEvent', {'type': 'keyDown', 'key': 'Backspace', 'code': 'Backspace', 'windowsVirtualKeyCode': 8})
    page.call('Input.dispatchKeyEvent', {'type': 'keyUp', 'key': 'Backspace', 'code': 'Backspace', 'windowsVirtualKeyCode': 8})
    assert all(row and section for dummy, row, section in page.evaluate(VISIBLE))

    with open(os.path.join(demo.REPORT, 'report.json')) as handle:
        drifted = [host for host, node in json.load(handle).items() if node['drift']]
    assert 0 < len(drifted) < len(inventory_hosts())
    page.click('input[data-flag="drift"]')
    assert [h for h, row, section in page.evaluate(VISIBLE) if row and section] == [h for h in inventory_hosts() if h in drifted]
    page.click('input[data-flag="drift"]')

    page.click('#fleet th:nth-child(2) button')      # GPUs, ascending: the two 4-GPU nodes (A30, DRA A100) first
    order = [h for h, dummy, dummy2 in page.evaluate(VISIBLE)]
    assert sorted(order[:2]) == ['gpu-a100-dra-1', 'gpu-a30-1'] and sorted(order) == sorted(inventory_hosts())
    page.click('#fleet th:nth-child(1) button')      # Node, ascending, numbers in names by value (a30 before a100)
    assert [h for h, dummy, dummy2 in page.evaluate(VISIBLE)] == sorted(inventory_hosts(), key=_natural)
    page.click('#fleet th:nth-child(1) button')      # and descending
    assert [h for h, dummy, dummy2 in page.evaluate(VISIBLE)] == sorted(inventory_hosts(), key=_natural, reverse=True)
    assert page.problems() == []


def _natural(text):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', text)]


HOSTILE = '<img src=x onerror="document.title=\'pwned\'"></script><script>document.title="pwned"</script>'


def test_node_text_is_escaped(report, browser, tmp_path):
    """Labels, names and messages from nodes reach the page as text, never as markup."""
    with open(os.path.join(report['dir'], 'report.json')) as handle:
        fleet = json.load(handle)
    node = fleet['gpu-h100-1']
    node.update(mig_config=HOSTILE, state=HOSTILE, plugin_config=HOSTILE, node=HOSTILE, problems=[HOSTILE])
    node['gpus'][0]['model'] = None
    node['gpus'][0]['name'] = HOSTILE
    fleet[HOSTILE] = None
    path = tmp_path / 'hostile.html'
    path.write_text(render_html(fleet_view(fleet)))
    page = browser.open('file://' + str(path))
    assert page.evaluate('document.title') == 'MIG fleet report'
    assert page.evaluate('document.querySelectorAll("img").length + document.scripts.length') == 1   # the page's own script
    assert page.evaluate('document.body.textContent.split(%s).length - 1' % json.dumps(HOSTILE)) >= 5
    assert all(url.startswith('file:') for url in page.requests())
    assert page.problems() == []
