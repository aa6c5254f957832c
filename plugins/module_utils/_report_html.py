# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The fleet report as one self-contained HTML page, rendered with Jinja2 from ``_fleet_report.fleet_view``.

The page needs no server and no network: CSS and JavaScript are inline, and its Content-Security-Policy allows no
request at all and only the page's own script (by hash), so a name from a node that got past escaping still could
not run. All node data goes through Jinja2's autoescaping; the script reads the page's text, never writes HTML.

The templates are a small set (``TEMPLATES``) so that other pages can reuse the pieces: ``base.html`` (head, style,
script, blocks ``title``, ``header`` and ``content``) and ``slots.html`` (macros ``slots`` for one GPU's diagram from
``_diagram.gpu_slots`` data, ``gpu_row`` for a GPU's current diagram beside its target, ``legend``). A plan page draws
current and target side by side with ``gpu_row`` after ``_diagram.slot_changes``, exactly as the report does for drift.
"""

from __future__ import annotations

import base64
import hashlib
import traceback

from ansible_collections.gpufleet.mig.plugins.module_utils._fleet_report import dra_summary

try:
    import jinja2
    from markupsafe import Markup
except ImportError:  # ansible-core requires Jinja2 (and its MarkupSafe) on the controller, where this runs
    jinja2 = Markup = None
    JINJA2_IMPORT_ERROR = traceback.format_exc()
else:
    JINJA2_IMPORT_ERROR = None

__all__ = ('JINJA2_IMPORT_ERROR', 'TEMPLATES', 'render_html', 'render_page')

STYLE = r"""
:root { --slice: 4.2rem; --bar: 2.5rem; --ink: #1d2330; --muted: #5b6576; --line: #d5dae1; --warn: #e07a00; --bad: #c1121f;
        --good: #2b8a3e; color: var(--ink); background: #f5f6f8; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 1.2rem 1.5rem 3rem; max-width: 1500px; }
[hidden] { display: none !important; }
h1 { font-size: 1.5rem; margin: 0 0 .6rem; }
h2 { font-size: 1.15rem; margin: 0; }
.totals { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.totals li { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .35rem .7rem; }
.totals b { font-size: 1.1rem; margin-right: .25rem; }
.totals .warn b { color: var(--warn); } .totals .bad b { color: var(--bad); }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: .9rem; margin: .4rem 0 .6rem; }
.controls input[type=search] { width: 32rem; max-width: 100%; padding: .4rem .6rem; border: 1px solid #aab2bf; border-radius: 5px; font: inherit; }
table { border-collapse: collapse; background: #fff; }
#fleet { width: 100%; border: 1px solid var(--line); }
#fleet th, #fleet td { border-bottom: 1px solid var(--line); padding: .35rem .55rem; text-align: left; vertical-align: top; }
#fleet th { background: #eef1f5; white-space: nowrap; }
#fleet th button { all: unset; cursor: pointer; font-weight: 600; }
#fleet th button::after { content: " \2195"; color: #9aa3b2; }
#fleet th[aria-sort=ascending] button::after { content: " \25B2"; color: var(--ink); }
#fleet th[aria-sort=descending] button::after { content: " \25BC"; color: var(--ink); }
#fleet tr.drift td:first-child { box-shadow: inset 4px 0 var(--warn); }
#fleet tr.problem td:first-child { box-shadow: inset 4px 0 var(--bad); }
.muted { color: var(--muted); }
.bad { color: var(--bad); } .warn { color: var(--warn); } .good { color: var(--good); }
.state { display: inline-block; padding: 0 .45rem; border-radius: 9px; background: #e3e7ed; }
.state-success { background: #d3f0da; } .state-failed { background: #f8d0d3; } .state-pending { background: #ffe7bf; }
.res { white-space: nowrap; }
.res.differs { color: var(--bad); font-weight: 600; }
ul.problems { margin: 0; padding-left: 1.1rem; color: var(--bad); }
.legend { display: flex; flex-wrap: wrap; gap: .4rem .9rem; align-items: center; margin: .8rem 0 1.2rem; }
.chip { display: inline-flex; align-items: center; gap: .3rem; }
.chip i { display: inline-block; width: 1.2rem; height: .9rem; border: 1px solid rgba(0, 0, 0, .25); }
section.node { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 1rem 0; padding: .8rem 1rem; }
section.node.drift { border-left: 5px solid var(--warn); }
.meta { display: flex; flex-wrap: wrap; gap: .2rem 1.4rem; margin: .4rem 0 .6rem; padding: 0; list-style: none; }
.meta span { color: var(--muted); }
.resources th, .resources td { padding: .15rem .6rem .15rem 0; text-align: left; }
.gpus { display: flex; flex-direction: column; gap: .35rem; margin-top: .6rem; }
.gpu { display: flex; flex-wrap: wrap; align-items: center; gap: .7rem; padding: .2rem .3rem; border-radius: 5px; }
.gpu.drift { background: #fff4e5; box-shadow: inset 3px 0 var(--warn); }
.gname { width: 9.5rem; flex: none; font-weight: 600; }
.gname small { display: block; font-weight: 400; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.side { display: flex; flex-direction: column; }
.cap { font-size: .75rem; color: var(--muted); }
.arrow { font-size: 1.3rem; color: var(--warn); }
.slots { display: grid; grid-template-columns: repeat(var(--n), var(--slice)); width: calc(var(--n) * var(--slice)); box-sizing: content-box;
         height: var(--bar); border: 1px solid #8d96a5; background: #fff; }
.seg { position: relative; min-width: 0; overflow: hidden; border-right: 1px solid #fff; padding: .1rem .75rem .1rem .3rem; font-size: .74rem;
       line-height: 1.15; white-space: nowrap; text-overflow: ellipsis; }
.seg:last-child { border-right: 0; }
.seg b { display: block; overflow: hidden; text-overflow: ellipsis; }
.seg .at { color: rgba(0, 0, 0, .55); font-size: .7rem; }
.inst { background: var(--c); }
.free { background: repeating-linear-gradient(45deg, #eef0f3 0 5px, #f9fafb 5px 10px); }
.whole { grid-column: 1 / -1; display: flex; align-items: center; padding-left: .6rem; color: var(--muted);
         background: repeating-linear-gradient(45deg, #e4e7ec 0 6px, #f3f4f6 6px 12px); }
.busy { background-image: repeating-linear-gradient(135deg, rgba(0, 0, 0, .16) 0 3px, transparent 3px 8px); }
.busy::after { content: "busy"; position: absolute; right: 2px; bottom: 1px; font-size: .62rem; font-weight: 700; padding: 0 2px;
               background: #1d2330; color: #fff; border-radius: 3px; }
.destroy { box-shadow: inset 0 0 0 2px var(--bad); }
.destroy::before { content: "\2715"; position: absolute; right: 4px; bottom: 1px; color: var(--bad); font-size: .7rem; font-weight: 700; }
.create { box-shadow: inset 0 0 0 2px var(--good); }
.create::before { content: "+"; position: absolute; right: 4px; bottom: 0; color: var(--good); font-size: .85rem; font-weight: 700; }
.swatch { display: inline-block; width: 2.6rem; height: 1.2rem; vertical-align: middle; border: 1px solid #8d96a5; position: relative; }
ul.dra { margin: -.1rem 0 .3rem 10.5rem; padding: 0; list-style: none; font-size: .82rem; }
ul.dra li { padding: .05rem 0; }
ul.dra code { font-weight: 600; }
ul.dra .differs, p.dra.differs { color: var(--bad); }
p.dra { margin: .5rem 0 0; }
footer { margin-top: 2rem; color: var(--muted); font-size: .8rem; }
"""

SCRIPT = r"""
(function () {
  'use strict';
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var table = document.getElementById('fleet');
  if (!table) { return; }  // a page of these templates without the fleet table
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var input = document.getElementById('filter');
  var flags = Array.prototype.slice.call(document.querySelectorAll('input[data-flag]'));
  var sections = {};
  each(document.querySelectorAll('section.node'), function (section) { sections[section.id] = section; });

  // Every word must occur in the row (or its GPUs' profiles), and every ticked flag must hold.
  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = flags.filter(function (f) { return f.checked; }).map(function (f) { return f.getAttribute('data-flag'); });
    var count = 0;
    rows.forEach(function (row) {
      var text = (row.textContent + ' ' + row.getAttribute('data-search')).toLowerCase();
      var show = words.every(function (w) { return text.indexOf(w) !== -1; }) &&
                 wanted.every(function (f) { return row.getAttribute('data-' + f) === '1'; });
      row.hidden = !show;
      var section = sections[row.getAttribute('data-section')];
      if (section) { section.hidden = !show; }
      if (show) { count += 1; }
    });
    document.getElementById('shown').textContent = String(count);
    document.getElementById('nomatch').hidden = count !== 0;
  }

  var heads = table.tHead.rows[0].cells;
  each(heads, function (th, column) {
    th.querySelector('button').addEventListener('click', function () {
      var direction = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      var numeric = th.getAttribute('data-type') === 'num';
      each(heads, function (other) { other.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', direction === 1 ? 'ascending' : 'descending');
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute('data-sort'), y = b.cells[column].getAttribute('data-sort');
        var order = numeric ? Number(x) - Number(y) : x.localeCompare(y, undefined, {numeric: true});
        return order * direction || Number(a.getAttribute('data-order')) - Number(b.getAttribute('data-order'));
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });

  input.addEventListener('input', filter);
  flags.forEach(function (f) { f.addEventListener('change', filter); });
  filter();
}());
"""

BASE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src '{{ script_hash }}'; img-src data:; base-uri 'none'; form-action 'none'">
<title>{% block title %}{% endblock %}</title>
<style>{{ style }}</style>
</head>
<body>
{% block content %}{% endblock %}
<script>{{ script }}</script>
</body>
</html>
"""

# slots(s, colours, label): one GPU's diagram from _diagram.gpu_slots data (after slot_changes, changes are marked), one
# grid column per memory slice. gpu_row(gpu, colours): a GPU's name, its current diagram and, when it has one, its target.
SLOTS = r"""{% macro slots(s, colours, label) -%}
{% set n = s.slices or 8 %}
<div class="slots" style="--n: {{ n }}" data-slices="{{ n }}" data-mig="{{ s.mig }}" role="img" aria-label="{{ label }}">
{% if s.mig == 'none' %}
<div class="whole">no MIG</div>
{% elif s.mig == 'off' %}
<div class="whole">MIG disabled{% if s.pending is not none %}; MIG {{ 'on' if s.pending else 'off' }} after reset{% endif %}</div>
{% else %}
{% for seg in s.segments %}
{% set at = seg.start ~ ('' if seg.size == 1 else '-' ~ (seg.start + seg.size - 1)) %}
{% if seg.profile is none %}
<div class="seg free" style="grid-column: {{ seg.start + 1 }} / span 1" data-start="{{ seg.start }}" data-size="1"
     title="slice {{ seg.start }}: free"></div>
{% else %}
{% set ident = ' (GPU instance %s)' % seg.id if seg.id is not none else '' %}
{% set busy = '; busy: process ' ~ seg.busy | join(', ') if seg.busy else '' %}
{% set change = {'destroy': '; destroyed by the desired layout', 'create': '; created by the desired layout'}.get(seg.change, '') %}
<div class="seg inst{{ ' busy' if seg.busy }}{{ ' ' ~ seg.change if seg.change in ('destroy', 'create') }}"
     style="grid-column: {{ seg.start + 1 }} / span {{ seg.size }}; --c: {{ colours[seg.profile] }}"
     data-start="{{ seg.start }}" data-size="{{ seg.size }}" data-profile="{{ seg.profile }}"
     title="{{ seg.profile }} at slices {{ at }}{{ ident }}{{ busy }}{{ change }}"><b>{{ seg.profile }}</b><span class="at">{{ at }}</span></div>
{% endif %}
{% endfor %}
{% endif %}
</div>
{% if s.assumed %}<div class="cap">unknown model: {{ s.slices }} memory slices assumed</div>{% endif %}
{%- endmacro %}

{% macro gpu_row(gpu, colours, left='now', right='desired') -%}
<div class="gpu{{ ' drift' if gpu.drift }}" data-gpu="{{ gpu.index }}">
<div class="gname">GPU {{ gpu.index }}<small title="{{ gpu.uuid or '' }}">{{ gpu.model }}</small></div>
<div class="side">
{% if gpu.target %}<span class="cap">{{ left }}</span>{% endif %}
{{ slots(gpu.current, colours, 'GPU %s %s' % (gpu.index, left)) }}
</div>
{% if gpu.target %}
<div class="arrow" aria-hidden="true">&rarr;</div>
<div class="side target"><span class="cap">{{ right }}</span>
{{ slots(gpu.target, colours, 'GPU %s %s' % (gpu.index, right)) }}
</div>
{% endif %}
</div>
{%- endmacro %}

{% macro legend(profiles) -%}
<div class="legend" id="legend">
{% for p in profiles %}
<span class="chip" data-profile="{{ p.name }}"><i style="background: {{ p.colour }}"></i>{{ p.name }}
<span class="muted">({{ p.slices }} slice{{ 's' if p.slices != 1 }})</span></span>
{% endfor %}
<span class="chip"><span class="swatch free"></span>free slice</span>
<span class="chip"><span class="swatch inst busy" style="--c: #dfe3e8"></span>busy (processes running)</span>
<span class="chip"><span class="swatch inst destroy" style="--c: #dfe3e8"></span>destroyed by the desired layout</span>
<span class="chip"><span class="swatch inst create" style="--c: #dfe3e8"></span>created by it</span>
</div>
{%- endmacro %}
"""

REPORT = r"""{% extends 'base.html' %}
{% import 'slots.html' as draw %}
{% block title %}{{ view.title }}{% endblock %}
{% macro dra_devices(devices, where) -%}
<ul class="dra" aria-label="DRA devices of {{ where }}">
{% for d in devices %}
<li{% if d.status != 'ok' %} class="differs"{% endif %} data-device="{{ d.name }}" data-status="{{ d.status }}"><code>{{ d.name }}</code>
{{ d.what }}: {{ d.state }}{% for c in d.claims %}; claim {{ c.claim }}{% if c.pods %} for pod{{ 's' if c.pods | length > 1 }}
{{ c.pods | join(', ') }}{% endif %}{% endfor %}</li>
{% else %}
<li class="muted">no DRA device</li>
{% endfor %}
</ul>
{%- endmacro %}
{% macro dra_names(node) -%}
{% if node.dra is not none %}
{% for row in node.dra.gpus + [{'devices': node.dra.other}] %}{% for d in row.devices %} {{ d.name }}{% endfor %}{% endfor %}
{% endif %}
{%- endmacro %}
{% block content %}
<h1>{{ view.title }}</h1>
{% set t = view.totals %}
<ul class="totals" id="totals">
<li><b>{{ t.nodes }}</b>nodes{% if t.reached != t.nodes %} <span class="bad">({{ t.nodes - t.reached }} not reached)</span>{% endif %}</li>
<li><b>{{ t.gpus }}</b>GPUs</li>
<li class="{{ 'warn' if t.drift_nodes }}"><b>{{ t.drift_nodes }}</b>nodes with drift ({{ t.drift_gpus }} GPUs)</li>
<li class="{{ 'bad' if t.resource_mismatches }}"><b>{{ t.resource_mismatches }}</b>advertising other resources than expected</li>
<li class="{{ 'bad' if t.problem_nodes }}"><b>{{ t.problem_nodes }}</b>nodes with problems</li>
<li class="{{ 'warn' if t.cordoned }}"><b>{{ t.cordoned }}</b>cordoned</li>
{% if t.dra_nodes %}
<li class="{{ 'bad' if t.dra_mismatches }}"><b>{{ t.dra_mismatches }}</b>of {{ t.dra_nodes }} DRA nodes publishing other devices than expected</li>
{% endif %}
</ul>
<div class="controls">
<input id="filter" type="search" placeholder="Filter: node, GPU model, profile, mig.config, state, problem" aria-label="Filter the nodes">
<label><input type="checkbox" data-flag="drift"> drift only</label>
<label><input type="checkbox" data-flag="problems"> problems only</label>
<label><input type="checkbox" data-flag="cordoned"> cordoned only</label>
<span class="muted"><span id="shown">{{ view.nodes | length }}</span> of {{ view.nodes | length }} nodes shown</span>
</div>
<table id="fleet">
<thead><tr>
<th><button type="button">Node</button></th>
<th data-type="num"><button type="button">GPUs</button></th>
<th><button type="button">mig.config</button></th>
<th><button type="button">State</button></th>
<th><button type="button">Cordon</button></th>
<th data-type="num"><button type="button">Drift</button></th>
<th data-type="num"><button type="button">Advertised / expected</button></th>
<th data-type="num"><button type="button">Problems</button></th>
</tr></thead>
<tbody>
{% for node in view.nodes %}
{% set profiles = [] %}
{% for gpu in node.gpus %}{% for s in [gpu.current, gpu.target] if s %}{% for seg in s.segments if seg.profile is not none %}
{% if profiles.append(seg.profile) %}{% endif %}
{% endfor %}{% endfor %}{% endfor %}
{% set state_class = node.state if node.state in ('success', 'failed', 'pending') else 'other' %}
{% set cordon = 'cordoned' if node.cordoned else ('schedulable' if node.cordoned is false else '') %}
<tr data-host="{{ node.host }}" data-order="{{ loop.index }}" data-section="node-{{ loop.index }}"
    data-search="{{ profiles | unique | join(' ') }} {{ node.node or '' }}{{ dra_names(node) }}" data-drift="{{ 1 if node.drift else 0 }}"
    data-problems="{{ 1 if node.problems else 0 }}" data-cordoned="{{ 1 if node.cordoned else 0 }}"
    class="{{ 'drift' if node.drift }}{{ ' problem' if node.problems }}">
<td data-sort="{{ node.host }}"><a href="#node-{{ loop.index }}">{{ node.host }}</a>
{% if node.node and node.node != node.host %}<br><span class="muted">node {{ node.node }}</span>{% endif %}</td>
<td data-sort="{{ node.gpu_count }}">{% for m in node.models %}{{ m.count }} &times; {{ m.model }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td>
<td data-sort="{{ node.mig_config or '' }}">{{ node.mig_config or '–' }}</td>
<td data-sort="{{ node.state or '' }}">{% if node.reached %}<span class="state state-{{ state_class }}">{{ node.state or '–' }}</span>{% endif %}</td>
<td data-sort="{{ cordon }}">{% if node.cordoned %}<span class="warn">cordoned</span>{% else %}{{ cordon or '–' }}{% endif %}</td>
<td data-sort="{{ node.drift_gpus }}">
{% if node.drift %}<span class="warn">GPUs {{ node.drift | join(', ') }}</span>{% elif node.reached %}<span class="good">none</span>{% endif %}</td>
<td data-sort="{{ node.resources | rejectattr('match') | list | length + (0 if node.dra is none or node.dra.match else 1) }}">
{% for r in node.resources %}
<div class="res{{ ' differs' if not r.match }}" title="{{ r.name }}">{{ r.name | replace('nvidia.com/', '') }}
{{ r.advertised if r.advertised is not none else '–' }} / {{ r.expected if r.expected is not none else '–' }}</div>
{% endfor %}
{% if node.dra is not none %}
<div class="res{{ ' differs' if not node.dra.match }}" title="devices of gpu.nvidia.com published / expected">DRA devices
{{ node.dra.published }} / {{ node.dra.expected }}</div>
{% endif %}</td>
<td data-sort="{{ node.problems | length }}">
{% if node.problems %}<ul class="problems">{% for p in node.problems %}<li>{{ p }}</li>{% endfor %}</ul>{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>
<p id="nomatch" class="muted" hidden>No node matches the filter.</p>
{{ draw.legend(view.profiles) }}
{% for node in view.nodes %}
{% set cordon = 'cordoned' if node.cordoned else ('schedulable' if node.cordoned is false else '') %}
<section class="node{{ ' drift' if node.drift }}" id="node-{{ loop.index }}" data-host="{{ node.host }}">
<h2>{{ node.host }}</h2>
{% if not node.reached %}
<p class="bad">Not reached: the report has nothing from this node.</p>
{% else %}
<ul class="meta">
<li><span>node</span> {{ node.node or '–' }}</li>
<li><span>driver</span> {{ node.driver or '–' }}</li>
<li><span>mig.config</span> {{ node.mig_config or '–' }}</li>
<li><span>state</span> {{ node.state or '–' }}</li>
<li><span>device plugin config</span> {{ node.plugin_config or '–' }}</li>
<li>{% if node.cordoned %}<span class="warn">cordoned</span>{% else %}{{ cordon or 'cordon unknown' }}{% endif %}</li>
<li>{% if node.drift %}<span class="warn">drift on GPUs {{ node.drift | join(', ') }}</span>{% else %}no drift{% endif %}</li>
</ul>
{% if node.problems %}<ul class="problems">{% for p in node.problems %}<li>{{ p }}</li>{% endfor %}</ul>{% endif %}
{% if node.resources %}
<table class="resources"><tr><th>Resource</th><th>advertised</th><th>expected</th></tr>
{% for r in node.resources %}
<tr class="res{{ ' differs' if not r.match }}"><td>{{ r.name }}</td>
<td>{{ r.advertised if r.advertised is not none else '–' }}</td><td>{{ r.expected if r.expected is not none else '–' }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% if node.dra is not none %}
<p class="dra{{ ' differs' if not node.dra.match }}">{{ dra_summary(node.dra) }}</p>
{% endif %}
<div class="gpus">
{% for gpu in node.gpus %}
{{ draw.gpu_row(gpu, view.colours) }}
{% if gpu.dra is not none %}
{{ dra_devices(gpu.dra, 'GPU %s' % gpu.index) }}
{% endif %}
{% endfor %}
{% if node.dra is not none and node.dra.other %}
{{ dra_devices(node.dra.other, 'no GPU as read') }}
{% endif %}
</div>
{% endif %}
</section>
{% endfor %}
<footer>Written by the gpufleet.mig report (report.json and report.md hold the same data).</footer>
{% endblock %}
"""

TEMPLATES = {'base.html': BASE, 'slots.html': SLOTS, 'report.html': REPORT}


def script_hash(script=SCRIPT):
    """The Content-Security-Policy source that allows exactly this inline script."""
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode('utf-8')).digest()).decode('ascii')


def environment(templates=None):
    """A Jinja2 environment over ``templates`` (TEMPLATES by default) that escapes everything and fails on a missing name."""
    if jinja2 is None:
        raise RuntimeError('Jinja2 is needed to render the HTML report')
    return jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES if templates is None else templates), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_page(template, templates=None, **context):
    """Any page of ``templates`` that extends ``base.html``, with ``context``."""
    # STYLE and SCRIPT are constants of this file, never node data: they go in unescaped.
    return environment(templates).get_template(template).render(style=Markup(STYLE), script=Markup(SCRIPT),
                                                                script_hash=script_hash(), **context)


def render_html(view):
    """The fleet report's page for ``view`` (``_fleet_report.fleet_view``)."""
    # The same words as the terminal summary and report.md use for a DRA node.
    return render_page('report.html', view=view, dra_summary=dra_summary)
