# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GPU feature discovery and the device plugin agree with the collection's ``mig_resources`` (issue 13, 5(c)).

For each layout below (whole GPUs with MIG off, uniform and mixed MIG layouts, split GPU instances, MIG-enabled
GPUs without instances, half-MIG nodes, mixed models) and each MIG strategy, the same simulated node is judged
three ways:

* the collection: ``gpu_info``'s reading of the node (``Nvml().read_host()``) through ``expected_resources`` /
  ``strategy_problems``, the code behind the ``mig_resources`` and ``mig_strategy_problems`` filters;
* NVIDIA's GPU feature discovery, ``--oneshot``: its labels (``nvidia.com/gpu.count``, ``gpu.product``,
  ``mig.strategy``, ``mig-<profile>.count`` / ``.slices.gi`` / ``.slices.ci`` ...);
* NVIDIA's device plugin, started with a stand-in kubelet: the resources it registers and the devices each
  lists, or the error with which it refuses the node.

What GFD's labels say and what they do not: ``nvidia.com/gpu.count`` counts the GPUs of one product name
(a node with two models keeps one model's count; under ``mixed`` it counts MIG-enabled GPUs too), so it is the
``nvidia.com/gpu`` resource only under ``none`` and valid ``single`` on one-model nodes; ``mig-<p>.count``
counts every MIG device of that name, split compute instances included.  The plugin is the judge of the
resources themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from kubelet import run_plugin  # tests/nvidia/kubelet.py

STRATEGIES = ('none', 'single', 'mixed')

# name: [(model, layout), ...] one entry per GPU; layout None = MIG off, else GPU instances in creation order:
# 'P' (GI profile P with one full compute instance), 'P*k' (k of them), 'P[1c*3]' / 'P[2c,1c]' (split GI).
LAYOUTS = {
    'a100-40-off': [('A100-SXM4-40GB', None)] * 2,
    'a100-40-1g-uniform': [('A100-SXM4-40GB', ['1g.5gb*7'])] * 2,
    'a100-40-3g-uniform': [('A100-SXM4-40GB', ['3g.20gb*2'])] * 2,
    'a100-40-7g-uniform': [('A100-SXM4-40GB', ['7g.40gb'])] * 2,
    'a100-40-mixed': [('A100-SXM4-40GB', ['3g.20gb', '2g.10gb', '1g.5gb*2']),
                      ('A100-SXM4-40GB', ['4g.20gb', '2g.10gb', '1g.5gb'])],
    'a100-40-split-only': [('A100-SXM4-40GB', ['3g.20gb[1c*3]'])] * 2,
    'a100-40-split-and-whole': [('A100-SXM4-40GB', ['3g.20gb[1c*3]', '3g.20gb']), ('A100-SXM4-40GB', ['1g.5gb*7'])],
    'a100-40-half-mig': [('A100-SXM4-40GB', ['1g.5gb*7']), ('A100-SXM4-40GB', None)],
    'a100-40-empty-mig': [('A100-SXM4-40GB', []), ('A100-SXM4-40GB', ['1g.5gb*7'])],
    'a100-40-me': [('A100-SXM4-40GB', ['1g.5gb+me', '1g.5gb*6'])] * 2,
    'a100-80-mixed': [('A100-SXM4-80GB', ['1g.10gb*7']), ('A100-SXM4-80GB', ['2g.20gb*3'])],
    'a100-80-split-7g': [('A100-SXM4-80GB', ['7g.80gb[1c*7]']), ('A100-SXM4-80GB', ['7g.80gb'])],
    'a100-80-half-mig-split': [('A100-SXM4-80GB', ['3g.40gb[2c,1c]', '3g.40gb']), ('A100-SXM4-80GB', None)],
    'a100-80-double-mem': [('A100-SXM4-80GB', ['1g.20gb*4'])] * 2,
    'h100-off': [('H100-SXM5-80GB', None)] * 2,
    'h100-1g-uniform': [('H100-SXM5-80GB', ['1g.10gb*7'])] * 2,
    'h100-mixed': [('H100-SXM5-80GB', ['4g.40gb', '2g.20gb', '1g.10gb']), ('H100-SXM5-80GB', ['3g.40gb*2'])],
    'h200-mixed': [('H200-141GB', ['1g.18gb*7']), ('H200-141GB', ['7g.141gb'])],
    'h200-2g-uniform': [('H200-141GB', ['2g.35gb*3'])] * 2,
    'a30-mixed': [('A30', ['1g.6gb*4']), ('A30', ['2g.12gb*2'])],
    'a30-split-4g': [('A30', ['4g.24gb[1c*4]']), ('A30', ['4g.24gb'])],
    'b200-7g-uniform': [('B200', ['7g.180gb'])] * 2,
    'b200-half-mig': [('B200', ['1g.23gb*7']), ('B200', None)],
    'models-a100-h100-half-mig': [('A100-SXM4-40GB', ['1g.5gb*7']), ('H100-SXM5-80GB', None)],
    'models-a30-a100-off': [('A30', None), ('A100-SXM4-80GB', None)],
    'models-h200-b200-3g': [('H200-141GB', ['3g.71gb*2']), ('B200', ['3g.90gb*2'])],
}

# Filled by the tests, printed by conftest.py's terminal summary: (layout, strategy) -> disagreements.
GFD_CROSSCHECK_RESULTS = {}


def _model_profiles(model):
    """{GI profile name: (profile id, compute slices)} of a simulator model, from the catalog the fake's data is
    generated from (tests/simulator/gen_models.py)."""
    from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog  # pylint: disable=import-outside-toplevel
    return dict((p.name, (p.profile_id, p.compute_slices)) for p in _catalog.model_by_key(model).gi_profiles)


CI_ENUM_BY_SLICES = {1: 0, 2: 1, 3: 2, 4: 3, 7: 4}


def _parse_item(item):
    """'3g.20gb*2' -> ('3g.20gb', 2, None); '3g.20gb[2c,1c*2]' -> ('3g.20gb', 1, [2, 1, 1])."""
    cis = None
    if '[' in item:
        item, dummy, inner = item[:-1].partition('[')
        cis = []
        for part in inner.split(','):
            size, dummy, times = part.partition('*')
            cis += [int(size.rstrip('c'))] * int(times or 1)
    name, dummy, times = item.partition('*')
    return name, int(times or 1), cis


def has_split(layout):
    return any('[' in item for dummy, gis in LAYOUTS[layout] for item in (gis or []))


def make_node(sim_build, directory, layout):
    """Create the node and its instances (through the fake NVML, as root); returns the state path."""
    import pynvml  # pylint: disable=import-outside-toplevel
    gpus = LAYOUTS[layout]
    state = os.path.join(directory, layout + '.state')
    args = [os.path.join(sim_build, 'bin', 'simnode'), 'create', state, '--name', 'n-' + layout, '--driver', '550.54.15',
            '--mig-enabled', ','.join(str(i) for i, (dummy, gis) in enumerate(gpus) if gis is not None) or 'none']
    for model, dummy in gpus:
        args += ['--gpu', model]
    subprocess.run(args, check=True, capture_output=True)
    os.environ['FAKE_NVML_STATE'] = state
    pynvml.nvmlInit()
    try:
        for index, (model, gis) in enumerate(gpus):
            profiles = _model_profiles(model)
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            for item in gis or ():
                name, times, cis = _parse_item(item)
                profile_id, slices = profiles[name]
                for dummy in range(times):
                    gi = pynvml.nvmlDeviceCreateGpuInstance(handle, profile_id)
                    for size in cis or [slices]:
                        info = pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, CI_ENUM_BY_SLICES[size], 0)
                        pynvml.nvmlGpuInstanceCreateComputeInstance(gi, info.id)
    finally:
        pynvml.nvmlShutdown()
        os.environ.pop('FAKE_NVML_STATE', None)
    return state


def collection_view(state, strategy):
    """What the collection says: ('refused', problems) or ('resources', {name: count}), and gpu_info's GPUs."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
    from ansible_collections.gpufleet.mig.plugins.module_utils._resources import (
        StrategyError, expected_resources, strategy_problems)
    os.environ['FAKE_NVML_STATE'] = state
    try:
        with Nvml() as nvml:
            gpus = nvml.read_host().to_dict()['gpus']
    finally:
        os.environ.pop('FAKE_NVML_STATE', None)
    problems = strategy_problems(gpus, strategy)
    try:
        resources = expected_resources(gpus, strategy)
    except StrategyError as exc:
        return ('refused', list(exc.problems)), gpus
    if problems:
        return ('refused', problems), gpus
    return ('resources', resources), gpus


@pytest.fixture(scope='module')
def nodes(sim_build, tmp_path_factory):
    """layout -> state file, created on first use."""
    directory = str(tmp_path_factory.mktemp('gfd-nodes'))
    made = {}

    def get(layout):
        if layout not in made:
            made[layout] = make_node(sim_build, directory, layout)
        return made[layout]
    return get


def run_gfd(node, tools, strategy, out):
    proc = node.run([os.path.join(tools, 'gpu-feature-discovery'), '--oneshot', '--no-timestamp',
                     '--use-node-feature-api=false', '--output-file=%s' % out, '--mig-strategy=%s' % strategy])
    assert proc.returncode == 0 and 'symbol lookup error' not in proc.stderr, proc.stderr[-2000:]
    with open(out) as handle:
        return dict(line.rstrip('\n').split('=', 1) for line in handle if '=' in line)


def run_nvidia_plugin(node_factory, state, tools, strategy, tmp_path):
    kubelet_dir = tempfile.mkdtemp(prefix='kubelet-')
    try:
        return run_plugin(node_factory(state, kubelet_dir), os.path.join(tools, 'nvidia-device-plugin'), strategy,
                          kubelet_dir, str(tmp_path / 'plugin.log'))
    finally:
        shutil.rmtree(kubelet_dir, ignore_errors=True)


def gfd_mig_counts(labels):
    """{'nvidia.com/mig-<p>': count} from GFD's mig-<p>.count labels."""
    return {key[:-len('.count')]: int(value) for key, value in labels.items()
            if key.startswith('nvidia.com/mig-') and key.endswith('.count')}


def _full_size(parsed):
    return parsed['compute_slices'] in (None, parsed['gpu_slices'])


def compare(layout, strategy, coll, gpus, labels, plugin):
    """Disagreements between the collection, GFD's labels and the plugin, as sentences (empty when they agree)."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.gpufleet.mig.plugins.module_utils._catalog import parse_profile_name
    out = []
    one_model = len({model for model, dummy in LAYOUTS[layout]}) == 1
    kind, value = coll
    resources, error = plugin or (None, None)

    # The device plugin against the collection.
    if plugin is None:
        pass
    elif kind == 'refused' and resources is not None:
        out.append('the collection refuses (%s) but the device plugin starts and advertises %s' % ('; '.join(value), resources))
    elif kind == 'resources' and resources is None:
        out.append('the collection predicts %s but the device plugin refuses: %s' % (value, error))
    elif kind == 'resources' and resources != value:
        out.append('resources: the collection predicts %s, the device plugin advertises %s' % (value, resources))

    # GFD's strategy label.
    if labels.get('nvidia.com/mig.strategy') != (None if strategy == 'none' else strategy):
        out.append('GFD labels mig.strategy=%s' % labels.get('nvidia.com/mig.strategy'))

    mig_enabled = [gpu for gpu in gpus if gpu['layout'] and gpu['layout']['mig-enabled']]
    # Every MIG device by the name gpu_info gives it, as GFD names its labels ('+' becomes '.').
    devices = {}
    for gpu in mig_enabled:
        for name, count in gpu['layout']['mig-devices'].items():
            devices[name] = devices.get(name, 0) + count
    by_label = {'nvidia.com/mig-' + name.replace('+', '.'): name for name in devices}

    if strategy == 'none' and one_model and labels.get('nvidia.com/gpu.count') != str(value.get('nvidia.com/gpu', 0)):
        out.append('GFD labels gpu.count=%s, the collection predicts %s' % (labels.get('nvidia.com/gpu.count'), value))
    if strategy == 'single' and mig_enabled:
        invalid = labels.get('nvidia.com/gpu.product', '').endswith('-MIG-INVALID')
        if invalid != (kind == 'refused'):
            out.append('GFD labels gpu.product=%s, the collection %s' % (
                labels.get('nvidia.com/gpu.product'), 'refuses: %s' % '; '.join(value) if kind == 'refused' else 'predicts %s' % value))
        elif not invalid:
            name = next(iter(devices))   # one MIG device type, or GFD would have said INVALID
            product = labels.get('nvidia.com/gpu.product', '')
            if labels.get('nvidia.com/gpu.count') != str(value.get('nvidia.com/gpu', 0)):
                out.append('GFD labels gpu.count=%s, the collection predicts %s' % (labels.get('nvidia.com/gpu.count'), value))
            if not product.endswith('-MIG-' + name.replace('+', '.')):
                out.append('GFD labels gpu.product=%s for MIG devices %s' % (product, name))
    if strategy == 'mixed':
        gfd = gfd_mig_counts(labels)
        # GFD labels every MIG device by name, split compute instances too: the names and counts gpu_info reads.
        named = {'nvidia.com/mig-' + name.replace('+', '.'): count for name, count in devices.items()}
        if gfd != named:
            out.append('GFD labels MIG devices %s, gpu_info reads %s' % (gfd, named))
        if kind == 'resources':
            # The resources are the full-size ones among them (the plugin registers only C == G profiles).
            predicted = {k: v for k, v in value.items() if k.startswith('nvidia.com/mig-')}
            full = {k: v for k, v in gfd.items() if k in by_label and _full_size(parse_profile_name(by_label[k]))}
            if full != predicted:
                out.append('MIG resources: GFD labels %s (full-size), the collection predicts %s' % (full, predicted))
        if plugin is not None and resources is not None:
            advertised = {k: v for k, v in resources.items() if k.startswith('nvidia.com/mig-')}
            if advertised != gfd:
                out.append('MIG resources: GFD labels %s, the device plugin advertises %s' % (gfd, advertised))
        # Slices of each labelled profile as the collection parses the name.
        for key in gfd:
            name = by_label.get(key)
            if name is None:
                continue
            parsed = parse_profile_name(name)
            want = (str(parsed['gpu_slices']), str(parsed['compute_slices'] or parsed['gpu_slices']))
            got = (labels.get(key + '.slices.gi'), labels.get(key + '.slices.ci'))
            if got != want:
                out.append('%s: GFD labels slices.gi/ci %s, the profile name says %s' % (key, got, want))
    return out


def needs_plugin(layout, strategy):
    """Where GFD's labels do not pin the resources down, the device plugin is run too: under mixed (GFD's gpu.count
    counts MIG-enabled GPUs as well), on nodes with two models (one model's gpu.count survives), and for split
    GPU instances (whether the plugin registers them).  Elsewhere GFD's labels are the resources exactly."""
    return strategy == 'mixed' or has_split(layout) or len({model for model, dummy in LAYOUTS[layout]}) > 1


CASES = [pytest.param(layout, strategy, id='%s-%s' % (layout, strategy))
         for layout in LAYOUTS for strategy in STRATEGIES]


@pytest.mark.parametrize('layout,strategy', CASES)
def test_gfd_and_plugin_agree_with_mig_resources(layout, strategy, nodes, node_factory, tmp_path, nvidia_tools):
    state = nodes(layout)
    coll, gpus = collection_view(state, strategy)
    labels = run_gfd(node_factory(state), nvidia_tools, strategy, str(tmp_path / 'labels.txt'))
    plugin = None
    if needs_plugin(layout, strategy):
        plugin = run_nvidia_plugin(node_factory, state, nvidia_tools, strategy, tmp_path)
    found = compare(layout, strategy, coll, gpus, labels, plugin)
    if strategy == 'mixed' and has_split(layout):
        # NVIDIA's plugin has resource patterns only for full-size compute instances (internal/rm/rm.go:140-146)
        # and refuses the node (internal/rm/device_map.go:144-150); GFD labels the split devices all the same.
        # The collection must refuse too (compare() counts it otherwise; test_collection_refuses_split_gis_under_mixed).
        resources, error = plugin
        assert resources is None and 'does not match any resource patterns' in error, (resources, error)
    GFD_CROSSCHECK_RESULTS[(layout, strategy)] = found
    assert found == [], '\n'.join(found)


SPLIT_LAYOUTS = [layout for layout in LAYOUTS if has_split(layout)]


@pytest.mark.parametrize('layout', SPLIT_LAYOUTS)
def test_collection_refuses_split_gis_under_mixed(layout, nodes):
    coll, dummy = collection_view(nodes(layout), 'mixed')
    assert coll[0] == 'refused', 'the collection predicts %s; NVIDIA\'s device plugin refuses the node' % (coll[1],)
