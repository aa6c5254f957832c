# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the slot diagrams."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog, _diagram
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuState

# A100-40GB: 1g.5gb@0, 1g.5gb@1, 2g.10gb@2, 3g.20gb@4 (start, size, profile).
A100_FULL = [(0, 1, '1g.5gb'), (1, 1, '1g.5gb'), (2, 2, '2g.10gb'), (4, 4, '3g.20gb')]
A100_FULL_9 = '[0:1g.5gb |1:1g.5gb |2-3:2g.10gb        |4-7:3g.20gb                            ]'


def as_dicts(items):
    return [{'profile': p, 'start': s, 'size': n} for s, n, p in items]


def as_placements(items):
    return [{'profile': p, 'placement': {'start': s, 'size': n}, 'id': i} for i, (s, n, p) in enumerate(items)]


def as_objects(items):
    return [GpuInstance(id=i, profile=p, profile_id=0, start=s, size=n, compute_slices=1) for i, (s, n, p) in enumerate(items)]


@pytest.mark.parametrize('convert', [as_dicts, as_placements, as_objects, lambda items: reversed(as_dicts(items))],
                         ids=['dicts', 'gpu_info placements', 'objects', 'unordered'])
def test_input_forms_give_the_same_line(convert):
    assert _diagram.slot_diagram(8, convert(A100_FULL)) == A100_FULL_9


@pytest.mark.parametrize('slices, items, kwargs, expected', [
    (8, [], {}, '[' + '|'.join(['.' * 9] * 8) + ']'),
    (8, [(1, 1, '1g.5gb'), (2, 2, '2g.10gb')], {},
     '[.........|1:1g.5gb |2-3:2g.10gb        |.........|.........|.........|.........]'),
    (8, [(0, 8, '7g.40gb')], {}, '[0-7:7g.40gb                                                                    ]'),
    (8, [(4, 4, '3g.20gb')], {'free': '-'}, '[---------|---------|---------|---------|4-7:3g.20gb                            ]'),
    (8, [(6, 1, '1g.10gb+me')], {},         # a longer label widens every cell, it is never cut
     '[' + '|'.join(['.' * 12] * 6) + '|6:1g.10gb+me|' + '.' * 12 + ']'),
    (8, [(0, 1, '1g.5gb')], {'width': 11}, '[0:1g.5gb   |' + '|'.join(['.' * 11] * 7) + ']'),
    (8, [(0, 1, '1g.5gb')], {'width': 3}, '[0:1g.5gb|' + '|'.join(['.' * 8] * 7) + ']'),   # a given width is a minimum
    (4, [(0, 2, '2g.12gb'), (2, 1, '1g.6gb')], {}, '[0-1:2g.12gb        |2:1g.6gb |.........]'),
    (4, [(0, 4, '4g.24gb')], {}, '[0-3:4g.24gb' + ' ' * 28 + ']'),
    (1, [(0, 1, 'x')], {}, '[0:x' + ' ' * 6 + ']'),
])
def test_slot_diagram(slices, items, kwargs, expected):
    assert _diagram.slot_diagram(slices, as_dicts(items), **kwargs) == expected


def separators(line):
    return [i for i, c in enumerate(line) if c in '[|]']


def on_grid(line, width, slices=8):
    """True when every bracket and separator of the diagram in ``line`` sits on a cell boundary."""
    offset = line.index('[')
    grid = set(offset + i * (width + 1) for i in range(slices + 1))
    return set(separators(line)) <= grid


def test_cells_line_up_between_before_and_after():
    before = as_dicts([(0, 1, '1g.5gb'), (1, 1, '1g.5gb'), (2, 2, '2g.10gb'), (4, 4, '3g.20gb')])
    after = as_dicts([(0, 1, '1g.5gb'), (1, 1, '1g.5gb+me'), (4, 4, '3g.20gb')])
    width = _diagram.cell_width(before, after)
    assert width == 11
    lines = [_diagram.slot_diagram(8, items, width=width) for items in (before, after)]
    assert len(lines[0]) == len(lines[1]) == 8 * 11 + 9
    # Slice i always starts at column 1 + i * (width + 1).
    for start in (0, 1, 2, 4):
        column = 1 + start * (width + 1)
        assert lines[0][column:].startswith('%d' % start)
    assert lines[1][1 + 2 * 12:1 + 4 * 12 - 1] == '.' * 11 + '|' + '.' * 11
    assert set(separators(lines[0])) <= set(separators(lines[1]))
    assert on_grid(lines[0], width) and on_grid(lines[1], width)


@pytest.mark.parametrize('items, message', [
    ([(0, 2, '2g.10gb'), (1, 1, '1g.5gb')], 'MIG instances 0-1:2g.10gb and 1:1g.5gb overlap'),
    ([(4, 4, '3g.20gb'), (0, 4, '4g.20gb'), (2, 2, '2g.10gb')], 'MIG instances 0-3:4g.20gb and 2-3:2g.10gb overlap'),
    ([(0, 1, '1g.5gb'), (0, 1, '1g.5gb')], 'MIG instances 0:1g.5gb and 0:1g.5gb overlap'),
    ([(6, 4, '3g.20gb')], "MIG instance 3g.20gb at slices 6-9 lies outside the GPU's 8 memory slices (0-7)"),
    ([(8, 1, '1g.5gb')], "MIG instance 1g.5gb at slices 8 lies outside the GPU's 8 memory slices (0-7)"),
    ([(-1, 1, '1g.5gb')], 'MIG instance 1g.5gb needs an integer start >= 0 and size >= 1, got start -1, size 1'),
    ([(0, 0, '1g.5gb')], 'MIG instance 1g.5gb needs an integer start >= 0 and size >= 1, got start 0, size 0'),
    ([('0', 1, '1g.5gb')], "MIG instance 1g.5gb needs an integer start >= 0 and size >= 1, got start '0', size 1"),
    ([(True, 1, '1g.5gb')], 'MIG instance 1g.5gb needs an integer start >= 0 and size >= 1, got start True, size 1'),
    ([(0, 1, '')], "MIG instance profile must be a non-empty string, got ''"),
    ([(0, 1, None)], 'MIG instance profile must be a non-empty string, got None'),
])
def test_corrupt_instances(items, message):
    with pytest.raises(ValueError) as err:
        _diagram.slot_diagram(8, as_dicts(items))
    assert str(err.value) == message


@pytest.mark.parametrize('args, kwargs, message', [
    ((0, []), {}, 'memory_slices must be a positive integer, got 0'),
    ((True, []), {}, 'memory_slices must be a positive integer, got True'),
    ((8, []), {'free': '|'}, "free must be one character other than '[', ']', '|', ' ', got '|'"),
    ((8, []), {'free': '..'}, "free must be one character other than '[', ']', '|', ' ', got '..'"),
    ((8, []), {'width': 0}, 'width must be a positive integer, got 0'),
    ((8, 'abc'), {}, 'expected a list of MIG instances, got str'),
    ((8, {'profile': '1g.5gb'}), {}, 'expected a list of MIG instances, got dict'),
    ((8, [{'profile': '1g.5gb', 'start': 0}]), {},
     "MIG instance {'profile': '1g.5gb', 'start': 0} has no size; expected profile, start and size (or placement.start and placement.size)"),
    ((8, [{'start': 0, 'size': 1}]), {},
     "MIG instance {'start': 0, 'size': 1} has no profile; expected profile, start and size (or placement.start and placement.size)"),
    ((8, [3]), {}, 'MIG instance 3 has no profile; expected a dict or an object with profile, start and size'),
])
def test_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError) as err:
        _diagram.slot_diagram(*args, **kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize('key, width', [
    ('A100-SXM4-40GB', 11),     # '0:1g.5gb+me'
    ('A100-SXM4-80GB', 12),     # '0:1g.10gb+me'
    ('A30', 11),                # '0:1g.6gb+me'
    ('H100-SXM5-80GB', 12),
    ('B200', 12),
])
def test_model_cell_width(key, width):
    assert _diagram.model_cell_width(_catalog.model_by_key(key)) == width


# --------------------------------------------------------------------------------------------------
# layout_diagram on gpu_info entries
# --------------------------------------------------------------------------------------------------

BOARDS = {
    'A100-SXM4-40GB': ('NVIDIA A100-SXM4-40GB', 0x20B010DE, True),
    'A30': ('NVIDIA A30', 0x20B710DE, True),
    'L40S': ('NVIDIA L40S', 0x26B910DE, False),
    None: ('NVIDIA Future GPU', 0x999910DE, True),
}


def entry(index, model, mig=None, pending=None, items=(), split=False):
    name, pci, capable = BOARDS[model]
    instances = []
    for i, (start, size, profile) in enumerate(items):
        g = int(profile.split('g', 1)[0])
        cis = (ComputeInstance(id=0, profile=profile, profile_id=0, start=0, size=g),)
        if split:
            cis = tuple(ComputeInstance(id=c, profile='1c.' + profile, profile_id=0, start=c, size=1) for c in range(g))
        instances.append(GpuInstance(id=i, profile=profile, profile_id=0, start=start, size=size, compute_slices=g, compute_instances=cis))
    return GpuState(index=index, uuid='GPU-%d' % index, name=name, pci_bus_id='b', pci_device_id=pci, pci_subsystem_id=0,
                    memory_total_mib=1, architecture=None, compute_capability=None, mig_capable=capable,
                    mig_current=mig if capable else None, mig_pending=(mig if pending is None else pending) if capable else None,
                    gpu_instances=tuple(instances), model=model).to_dict()


A100_FULL_11 = '[0:1g.5gb   |1:1g.5gb   |2-3:2g.10gb            |4-7:3g.20gb                                    ]'
A100_FREE_11 = '[' + '|'.join(['.' * 11] * 8) + ']'


@pytest.mark.parametrize('gpu, expected', [
    (entry(0, 'A100-SXM4-40GB', True, items=A100_FULL), 'GPU 0 A100-SXM4-40GB ' + A100_FULL_11),
    (entry(0, 'A100-SXM4-40GB', True, items=A100_FULL, split=True), 'GPU 0 A100-SXM4-40GB ' + A100_FULL_11),
    (entry(2, 'A100-SXM4-40GB', True), 'GPU 2 A100-SXM4-40GB ' + A100_FREE_11),
    (entry(1, 'A100-SXM4-40GB', False), 'GPU 1 A100-SXM4-40GB (MIG disabled)'),
    (entry(1, 'A100-SXM4-40GB', False, pending=True), 'GPU 1 A100-SXM4-40GB (MIG disabled; MIG on after reset)'),
    (entry(1, 'A100-SXM4-40GB', True, pending=False, items=[(0, 8, '7g.40gb')]),
     'GPU 1 A100-SXM4-40GB [0-7:7g.40gb' + ' ' * 84 + '] (MIG off after reset)'),
    (entry(3, 'L40S'), 'GPU 3 L40S (no MIG)'),
    (entry(4, 'A30', True, items=[(0, 2, '2g.12gb'), (3, 1, '1g.6gb')]), 'GPU 4 A30 [0-1:2g.12gb            |...........|3:1g.6gb   ]'),
    (entry(5, None, True, items=[(0, 4, '4g.99gb')]),
     'GPU 5 NVIDIA Future GPU [0-3:4g.99gb                            |.........|.........|.........|.........] '
     '(unknown model: 8 memory slices assumed)'),
])
def test_layout_diagram(gpu, expected):
    assert _diagram.layout_diagram(gpu) == expected


def test_before_and_after_of_one_model_line_up():
    before = _diagram.layout_diagram(entry(0, 'A100-SXM4-40GB', True, items=A100_FULL))
    after = _diagram.layout_diagram(entry(0, 'A100-SXM4-40GB', True, items=[(0, 1, '1g.5gb+me'), (4, 4, '3g.20gb')]))
    assert after == 'GPU 0 A100-SXM4-40GB [0:1g.5gb+me|...........|...........|...........|4-7:3g.20gb' + ' ' * 36 + ']'
    assert len(before) == len(after)
    assert on_grid(before, 11) and on_grid(after, 11)


def test_model_found_by_name_when_the_key_is_missing():
    gpu = entry(0, 'A30', True, items=[(0, 4, '4g.24gb')])
    gpu['model'] = None
    assert _diagram.layout_diagram(gpu) == 'GPU 0 NVIDIA A30 [0-3:4g.24gb' + ' ' * 36 + ']'


def test_layout_placements_when_gpu_instances_are_absent():
    gpu = {'index': 0, 'model': 'A100-SXM4-40GB', 'mig_capable': True,
           'layout': {'mig-enabled': True, 'mig-devices': {'3g.20gb': 1},
                      'placements': [{'profile': '3g.20gb', 'start': 4, 'compute_instances': ['3g.20gb']},
                                     {'profile': '1g.5gb', 'start': 0, 'compute_instances': ['1g.5gb']}]}}
    assert _diagram.layout_diagram(gpu) == ('GPU 0 A100-SXM4-40GB [0:1g.5gb   |' + '|'.join(['.' * 11] * 3)
                                            + '|4-7:3g.20gb' + ' ' * 36 + ']')


@pytest.mark.parametrize('gpu, message', [
    ('gpu0', 'expected a GPU entry (an element of gpu_info node.gpus), got str'),
    ({'index': 0, 'model': None, 'mig_capable': True, 'layout': {'mig-enabled': True, 'placements': [{'profile': '1g.5gb', 'start': 0}]}},
     "GPU 0: the sizes of layout placements need a GPU model the catalog knows (model None); pass gpu_instances with placement sizes"),
    ({'index': 0, 'model': 'A30', 'mig_capable': True, 'layout': {'mig-enabled': True, 'placements': [{'profile': '3g.20gb', 'start': 0}]}},
     "GPU 0: unknown MIG profile '3g.20gb' for GPU model A30; valid: 1g.6gb, 1g.6gb+me, 2g.12gb, 2g.12gb+me, 4g.24gb"),
    ({'index': 0, 'model': 'A30', 'mig_capable': True, 'layout': {'mig-enabled': True, 'placements': ['1g.6gb']}},
     "GPU 0: layout placement '1g.6gb' needs profile and start"),
    (entry(0, 'A30', True, items=[(2, 4, '4g.24gb')]), "MIG instance 4g.24gb at slices 2-5 lies outside the GPU's 4 memory slices (0-3)"),
    (entry(0, 'A100-SXM4-40GB', True, items=[(0, 4, '3g.20gb'), (2, 2, '2g.10gb')]), 'MIG instances 0-3:3g.20gb and 2-3:2g.10gb overlap'),
])
def test_layout_diagram_errors(gpu, message):
    with pytest.raises(ValueError) as err:
        _diagram.layout_diagram(gpu)
    assert str(err.value) == message


# --------------------------------------------------------------------------------------------------
# gpu_slots, slot_segments and slot_changes: the same diagrams as data, for pages
# --------------------------------------------------------------------------------------------------

def test_slot_segments_cover_every_slice_in_order():
    segments = _diagram.slot_segments(8, as_placements([(4, 4, '3g.20gb'), (1, 1, '1g.5gb')]))
    assert [(s['start'], s['size'], s['profile'], s['id']) for s in segments] == [
        (0, 1, None, None), (1, 1, '1g.5gb', 1), (2, 1, None, None), (3, 1, None, None), (4, 4, '3g.20gb', 0)]
    with pytest.raises(ValueError, match='overlap'):
        _diagram.slot_segments(8, as_dicts([(0, 4, '3g.20gb'), (2, 2, '2g.10gb')]))


@pytest.mark.parametrize('gpu', [
    entry(0, 'A100-SXM4-40GB', True, items=A100_FULL),
    entry(1, 'A100-SXM4-40GB', False),
    entry(2, 'A100-SXM4-40GB', False, pending=True),
    entry(3, 'L40S'),
    entry(5, None, True, items=[(0, 4, '4g.99gb')]),
    entry(6, 'A30', True, pending=False, items=[(0, 2, '2g.12gb')]),
])
def test_layout_diagram_is_the_text_of_gpu_slots(gpu):
    slots = _diagram.gpu_slots(gpu)
    assert _diagram.slots_text(slots) == _diagram.layout_diagram(gpu)
    if slots['mig'] == 'on':
        assert sum(s['size'] for s in slots['segments']) == slots['slices']


def test_gpu_slots_marks_busy_instances_and_knows_the_model():
    gpu = entry(0, 'A100-SXM4-40GB', True, items=A100_FULL)
    gpu['processes'] = [{'pid': 4242, 'gpu_instance_id': 3, 'compute_instance_id': 0},
                        {'pid': 77, 'gpu_instance_id': 3, 'compute_instance_id': 0}, {'pid': 1, 'gpu_instance_id': None}]
    slots = _diagram.gpu_slots(gpu)
    assert (slots['mig'], slots['slices'], slots['assumed'], slots['pending']) == ('on', 8, False, None)
    assert [(s['start'], s['busy']) for s in slots['segments'] if s['busy']] == [(4, [4242, 77])]
    assert _diagram.gpu_slots(entry(0, 'A30', False))['slices'] == 4
    unknown = _diagram.gpu_slots(entry(0, None, True, items=[(0, 4, '4g.99gb')]))
    assert (unknown['slices'], unknown['assumed']) == (8, True)
    assert _diagram.gpu_slots(entry(0, 'L40S'))['mig'] == 'none'


def test_gpu_slots_of_a_planned_layout_and_what_changes():
    gpu = entry(0, 'A100-SXM4-40GB', True, items=[(i, 1, '1g.5gb') for i in range(7)])
    gpu['processes'] = [{'pid': 9, 'gpu_instance_id': 0}]
    target_layout = {'mig-enabled': True, 'placements': [{'profile': '2g.10gb', 'start': 0}, {'profile': '1g.5gb', 'start': 2},
                                                         {'profile': '1g.5gb', 'start': 3}, {'profile': '3g.20gb', 'start': 4}]}
    target = _diagram.gpu_slots(gpu, layout=target_layout)
    assert [(s['start'], s['size'], s['profile']) for s in target['segments']] == [
        (0, 2, '2g.10gb'), (2, 1, '1g.5gb'), (3, 1, '1g.5gb'), (4, 4, '3g.20gb')]
    assert not any(s['busy'] for s in target['segments'])
    current, target = _diagram.slot_changes(_diagram.gpu_slots(gpu), target)
    assert [(s['start'], s['change']) for s in current['segments']] == [
        (0, 'destroy'), (1, 'destroy'), (2, 'keep'), (3, 'keep'), (4, 'destroy'), (5, 'destroy'), (6, 'destroy'), (7, None)]
    assert [(s['start'], s['change']) for s in target['segments']] == [(0, 'create'), (2, 'keep'), (3, 'keep'), (4, 'create')]
    assert _diagram.gpu_slots(gpu, layout={'mig-enabled': False})['mig'] == 'off'
    with pytest.raises(ValueError, match='expected a layout dict'):
        _diagram.gpu_slots(gpu, layout=['1g.5gb'])
