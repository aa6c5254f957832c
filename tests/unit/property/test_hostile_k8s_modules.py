# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile module arguments for the Kubernetes-side modules: node_labels, node_drain, device_plugin_config.

Each module runs through its real entry point with the real kubernetes client, whose every HTTP request is
recorded and answered with an error instead of reaching a server (hostile_modules.ApiRecorder). An argument that
breaks Kubernetes' rules or the module's documented ones must be refused before the first request, with a
message naming it; arguments that pass make a request (and then fail on the recorded error, which is fine). No
traceback may escape either way.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import hostile_strategies as hs
from hostile_modules import ApiRecorder, Escaped, argument_poison, module_spec, run_module
from hostile_tally import budget, record

AUTH = {'host': 'http://127.0.0.1:9', 'api_key': 'hostile-token'}


@pytest.fixture(scope='module', name='api')
def api_fixture():
    recorder = ApiRecorder()
    with recorder.installed():
        yield recorder


def check_run(prop, api, module, args, poisons):
    del api.requests[:]
    try:
        result = run_module(module, dict(AUTH, **args))
    except Escaped:
        record(prop, 'traceback')
        raise
    msg = result.get('msg')
    if api.requests:
        # It got past validation: only the recorded API error may stop it now.
        assert not poisons, '%s sent %s despite %s' % (module, api.requests, poisons)
        assert not result.get('failed') or 'no API server in this test' in msg, result
        record(prop, 'accepted')
        return
    assert result.get('failed') and isinstance(msg, str) and msg, result
    texts = [msg] + [p for p in result.get('problems') or () if isinstance(p, str)]
    for poison in poisons:
        assert hs.problem_names(texts, poison), 'poison %s (%s, hint %s) not named in %r' % (poison.kind, poison.tokens, poison.hints, msg)
    record(prop, 'rejected')


NODE_NAMES = ('gpu-node-1', 'n', 'node.example.com', 'a' * 253, '0')
# Not DNS subdomains, so never a node's name (Kubernetes validates node names as DNS-1123 subdomains).
BAD_NODE_NAMES = ('', 'Node-1', 'node_1', 'node 1', '-node', 'node-', 'node..x', '.node', 'node/x', '../nodes', 'a' * 254, 'nöde', 'node\n')
LABEL_KEYS = ('nvidia.com/mig.config', 'nvidia.com/mig.config.state', 'a', 'example.com/x-y_z.1', 'A_b.c')
BAD_KEYS = ('Bad_Prefix.com/x', 'x' * 64, '', '/x', 'a/', 'a b', '-a', 'a-', 'é', 'a/b/c', 'a' * 254 + '/x', 'nvidia.com/', 'a\tb', '_a')
LABEL_VALUES = ('', 'all-balanced', 'success', None, 'a' * 63, 'A.b_c-1')
BAD_VALUES = ('has space', 'x' * 64, '-a', 'a-', 'a/b', 'é', 'a\n', '.', 'a:b')
NOT_STRINGS = (st.integers() | st.floats() | st.booleans() | st.lists(st.text(max_size=3), max_size=2)
               | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=1))

node_name_poison = st.sampled_from(BAD_NODE_NAMES).map(lambda n: (n, hs.Poison('module', 'node', ('node', repr(n)), ('DNS', 'must be'))))

NODE_LABELS_SPEC = module_spec('node_labels')


@st.composite
def node_labels_args(draw):
    args = {'node': draw(st.sampled_from(NODE_NAMES))}
    labels = dict((k, draw(st.sampled_from(LABEL_VALUES))) for k in draw(st.lists(st.sampled_from(LABEL_KEYS), max_size=3, unique=True)))
    annotations = dict((k, draw(st.none() | st.text(max_size=30))) for k in draw(st.lists(st.sampled_from(LABEL_KEYS), max_size=2, unique=True)))
    poisons = []
    kind = draw(st.sampled_from(['clean', 'label-key', 'label-value', 'label-type', 'annotation-key', 'annotation-type', 'node', 'argument']))
    if kind in ('label-key', 'annotation-key'):
        key = draw(st.sampled_from(BAD_KEYS))
        (labels if kind == 'label-key' else annotations)[key] = 'ok'
        poisons.append(hs.Poison('module', kind, (repr(key),), ('must be',)))
    elif kind == 'label-value':
        value = draw(st.sampled_from(BAD_VALUES))
        labels['nvidia.com/mig.config'] = value
        poisons.append(hs.Poison('module', kind, (repr(value),), ('must be',)))
    elif kind in ('label-type', 'annotation-type'):
        value = draw(NOT_STRINGS)
        (labels if kind == 'label-type' else annotations)['gpufleet.mig/x'] = value
        poisons.append(hs.Poison('module', kind, hs.name_of(value, 'gpufleet.mig/x'), ('needs a string',)))
    elif kind == 'node':
        args['node'], poison = draw(node_name_poison)
        poisons.append(poison)
    args['labels'] = labels
    args['annotations'] = annotations
    if kind == 'argument':
        name, value, tokens, hints = draw(argument_poison(dict((k, v) for k, v in NODE_LABELS_SPEC.items() if k not in AUTH)))
        args[name] = value
        poisons.append(hs.Poison('args', 'argument', tokens, hints))
    args['_ansible_check_mode'] = draw(st.booleans())
    return args, poisons


@settings(max_examples=budget(120))
@given(node_labels_args())
def test_node_labels_refuses_bad_arguments_before_any_request(api, case):
    args, poisons = case
    check_run('node_labels module', api, 'node_labels', args, poisons)


NODE_DRAIN_SPEC = module_spec('node_drain')


@st.composite
def node_drain_args(draw):
    args = {'node': draw(st.sampled_from(NODE_NAMES))}
    for name, value in (('state', st.sampled_from(['drain', 'cordon', 'uncordon'])), ('gpu_only', st.booleans()),
                        ('timeout', st.integers(0, 10 ** 6)), ('retry_delay', st.floats(1, 3600)), ('grace_period', st.integers(0, 3600)),
                        ('force', st.booleans())):
        if draw(st.booleans()):
            args[name] = draw(value)
    if draw(st.booleans()):
        keys = st.lists(st.sampled_from(LABEL_KEYS), max_size=2, unique=True)
        args['labels'] = dict((k, draw(st.sampled_from(LABEL_VALUES))) for k in draw(keys))
        args['annotations'] = dict((k, draw(st.none() | st.text(max_size=30))) for k in draw(keys))
    poisons = []
    kind = draw(st.sampled_from(['clean', 'timeout', 'retry_delay', 'grace_period', 'node', 'argument', 'choice', 'label-key', 'label-value',
                                 'annotation-type', 'own-annotation']))
    if kind in ('label-key', 'label-value', 'annotation-type', 'own-annotation'):
        labels, annotations = args.setdefault('labels', {}), args.setdefault('annotations', {})
        if kind == 'label-key':
            key = draw(st.sampled_from(BAD_KEYS))
            labels[key] = 'ok'
            poisons.append(hs.Poison('module', kind, (repr(key),), ('must be',)))
        elif kind == 'label-value':
            value = draw(st.sampled_from(BAD_VALUES))
            labels['nvidia.com/mig.config.state'] = value
            poisons.append(hs.Poison('module', kind, (repr(value),), ('must be',)))
        elif kind == 'annotation-type':
            value = draw(NOT_STRINGS)
            annotations['gpufleet.mig/x'] = value
            poisons.append(hs.Poison('module', kind, hs.name_of(value, 'gpufleet.mig/x'), ('needs a string',)))
        else:
            key = draw(st.sampled_from(['gpufleet.mig/cordoned', 'gpufleet.mig/drain-failed']))
            annotations[key] = draw(st.none() | st.sampled_from(['true', '']))
            poisons.append(hs.Poison('module', kind, (key,), ('manages it itself',)))
    elif kind in ('timeout', 'grace_period'):
        args[kind] = draw(st.integers(max_value=-1))
        poisons.append(hs.Poison('module', kind, (kind,), ('at least',)))
    elif kind == 'retry_delay':
        args[kind] = draw(st.floats(max_value=1, exclude_max=True, allow_nan=False) | st.sampled_from([float('nan'), float('inf'), 'nan', 'inf',
                                                                                                      '-inf', 'Infinity']))
        poisons.append(hs.Poison('module', kind, (kind,), ('at least', 'finite')))
    elif kind == 'node':
        args['node'], poison = draw(node_name_poison)
        poisons.append(poison)
    elif kind == 'choice':
        args['state'] = draw(st.text(max_size=8).filter(lambda s: s not in ('drain', 'cordon', 'uncordon')))
        poisons.append(hs.Poison('args', kind, ('state',), ('must be one of',)))
    elif kind == 'argument':
        name, value, tokens, hints = draw(argument_poison(dict((k, v) for k, v in NODE_DRAIN_SPEC.items() if k not in AUTH)))
        args[name] = value
        poisons.append(hs.Poison('args', 'argument', tokens, hints))
    args['_ansible_check_mode'] = draw(st.booleans())
    return args, poisons


@settings(max_examples=budget(120))
@given(node_drain_args())
def test_node_drain_refuses_bad_arguments_before_any_request(api, case):
    args, poisons = case
    check_run('node_drain module', api, 'node_drain', args, poisons)


PLUGIN_SPEC = module_spec('device_plugin_config')
CONFIG_NAMES = ('mixed', 'all-balanced', 'a.b_c', 'A1', 'x' * 63)
# ConfigMap keys are [-._a-zA-Z0-9]+ (at most 253); the name is also the value of a node label (at most 63, alphanumeric at both ends).
BAD_CONFIG_NAMES = ('', 'has space', 'a/b', 'é', 'a:b', 'x' * 254, '..')
BAD_SELECTED_NAMES = ('-mixed', 'mixed-', '.x', 'x' * 64, 'has space', '')
GPUS = [{'index': 0, 'mig_capable': True, 'layout': {'mig-enabled': True, 'mig-devices': {'1g.10gb': 7}, 'placements': []}}]


@st.composite
def device_plugin_config_args(draw):
    args = {'configmap': 'nvidia-device-plugin-configs'}
    poisons = []
    configs = {}
    for name in draw(st.lists(st.sampled_from(CONFIG_NAMES), max_size=2, unique=True)):
        configs[name] = draw(hs.plugin_config())
    kind = draw(st.sampled_from(['clean', 'clean', 'config', 'config-text', 'config-name', 'selected-name', 'no-config-name', 'no-gpus',
                                 'timeout', 'gpus', 'node', 'argument', 'nodes', 'nodes-clean']))
    with_node = kind in ('selected-name', 'no-config-name', 'no-gpus', 'timeout', 'gpus', 'node') or (
        kind not in ('nodes', 'nodes-clean', 'argument') and draw(st.booleans()))
    if kind in ('nodes', 'nodes-clean'):
        names = draw(st.lists(st.sampled_from(NODE_NAMES), min_size=1, max_size=3, unique=True))
        args['nodes'] = [{'node': name, 'config_name': draw(st.sampled_from(sorted(configs) or ['mixed'])), 'gpus': GPUS} for name in names]
        # Several nodes are only ever checked: outside check mode the module refuses (a poison of its own below).
        args['_ansible_check_mode'] = True
    if kind == 'nodes':
        entry = draw(st.sampled_from(args['nodes']))
        bad = draw(st.sampled_from(['key', 'node', 'config_name', 'no-config-name', 'gpus', 'twice', 'not-check-mode']))
        where = 'nodes[%d]' % (args['nodes'].index(entry) + 1)
        if bad == 'key':
            entry[draw(st.sampled_from(['gpu', 'Node', 'wait', '']))] = draw(hs.junk(2))
            poisons.append(hs.Poison('module', 'nodes', (where,), ('unknown keys',)))
        elif bad == 'node':
            entry['node'], dummy = draw(node_name_poison)
            poisons.append(hs.Poison('module', 'nodes', ('%s.node' % where,), ('must', 'DNS')))
        elif bad == 'config_name':
            entry['config_name'] = draw(st.sampled_from(BAD_SELECTED_NAMES) | NOT_STRINGS)
            poisons.append(hs.Poison('module', 'nodes', ('%s.config_name' % where,), ('must be',)))
        elif bad == 'no-config-name':
            entry.pop('config_name')
            poisons.append(hs.Poison('module', 'nodes', ('%s.config_name' % where,), ('must be',)))
        elif bad == 'gpus':
            which = draw(st.sampled_from(['gpus', 'planned_layouts']))
            entry[which] = draw(st.sampled_from([5, 'GPU 0', [1, 2], {'index': 0}]) | st.lists(st.dictionaries(
                st.sampled_from(['index', 'mig_capable', 'layout', 'after', 'mig_enabled']), hs.junk(3), max_size=4), min_size=1, max_size=2)
                .map(lambda items: items + [{'index': -1, 'mig_capable': 'yes', 'layout': 5, 'mig_enabled': True, 'after': 5}]))
            poisons.append(hs.Poison('module', 'nodes', (where,), ('must', 'expected', 'needs')))
        elif bad == 'twice':
            args['nodes'].append(dict(entry))
            poisons.append(hs.Poison('module', 'nodes', ('nodes[%d]' % len(args['nodes']),), ('listed twice',)))
        else:
            args['_ansible_check_mode'] = False
            poisons.append(hs.Poison('module', 'nodes', ('nodes',), ('needs check mode',)))
    if with_node:
        args['node'] = draw(st.sampled_from(NODE_NAMES))
        args['config_name'] = draw(st.sampled_from(sorted(configs) or ['mixed']))
        args['gpus'] = GPUS
        if draw(st.booleans()):
            args['wait'] = draw(st.booleans())
    if kind == 'config':
        case = draw(hs.plugin_case().filter(lambda c: c.poisons))
        name = draw(st.sampled_from(CONFIG_NAMES))
        configs[name] = yaml.safe_dump(case.value) if draw(st.booleans()) else case.value
        poisons.extend(hs.Poison('module', p.kind, tuple('config %s: %s' % (name, tok) for tok in p.tokens), p.hints) for p in case.poisons)
    elif kind == 'config-text':
        name = draw(st.sampled_from(CONFIG_NAMES))
        configs[name] = draw(st.sampled_from(['[', '- a\n- b', 'just text', '{a: [}', '[' * 5000, 'version: v1\n  flags: x']) | st.integers()
                             | st.lists(st.integers(), max_size=2))
        poisons.append(hs.Poison('module', kind, ('config %s:' % name,), ('must be', 'not valid', 'nested too deeply')))
    elif kind == 'config-name':
        name = draw(st.sampled_from(BAD_CONFIG_NAMES))
        configs[name] = draw(hs.plugin_config())
        poisons.append(hs.Poison('module', kind, (repr(name),), ('must be',)))
    elif kind == 'selected-name':
        name = draw(st.sampled_from(BAD_SELECTED_NAMES))
        args['config_name'] = name
        poisons.append(hs.Poison('module', kind, ('config_name',), ('must be', 'required')))
    elif kind == 'no-config-name':
        args.pop('config_name')
        poisons.append(hs.Poison('module', kind, ('config_name',), ('required',)))
    elif kind == 'no-gpus':
        args.pop('gpus')
        args.pop('wait', None)
        poisons.append(hs.Poison('module', kind, ('gpus',), ('required',)))
    elif kind == 'timeout':
        args['timeout'] = draw(st.integers(max_value=-1))
        poisons.append(hs.Poison('module', kind, ('timeout',), ('at least',)))
    elif kind == 'gpus':
        which = draw(st.sampled_from(['gpus', 'planned_layouts']))
        args[which] = draw(st.lists(st.dictionaries(st.sampled_from(['index', 'mig_capable', 'layout', 'after', 'mig_enabled', 'x']),
                                                    hs.junk(3), max_size=4), min_size=1, max_size=2))
        if which == 'planned_layouts':
            args[which].append({'index': 'zero', 'mig_enabled': True, 'after': 5})    # certainly not a mig_layout result
        else:
            args[which].append({'index': -1, 'mig_capable': 'yes', 'layout': 5})      # certainly not a gpu_info GPU
        poisons.append(hs.Poison('module', kind, (which,), ('must', 'expected', 'needs')))
    elif kind == 'node':
        args['node'], poison = draw(node_name_poison)
        poisons.append(poison)
    args['configs'] = configs
    if kind == 'argument':
        name, value, tokens, hints = draw(argument_poison(dict((k, v) for k, v in PLUGIN_SPEC.items() if k not in AUTH)))
        args[name] = value
        poisons.append(hs.Poison('args', 'argument', tokens, hints))
    args.setdefault('_ansible_check_mode', draw(st.booleans()))
    return args, poisons


@settings(max_examples=budget(150))
@given(device_plugin_config_args())
def test_device_plugin_config_refuses_bad_arguments_before_any_request(api, case):
    args, poisons = case
    check_run('device_plugin_config module', api, 'device_plugin_config', args, poisons)


def test_a_valid_request_does_reach_the_api(api):
    """The recorder really sees requests: valid arguments make one (so the properties above can fail)."""
    check_run('node_labels module', api, 'node_labels', {'node': 'gpu-node-1', 'labels': {'a': 'b'}}, [])
    assert api.requests and api.requests[0].startswith('GET ') and '/api/v1/nodes/gpu-node-1' in api.requests[0]
