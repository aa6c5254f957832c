#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the fake NVML's model data from the collection's GPU catalog plus the simulator-only facts in models/*.model.

One source of numbers: every figure NVML reports for a GPU or a profile (identity, memory in MiB, SM and engine counts,
placements, max counts, compute-instance profiles and placements, minimum drivers, media-engine budget) comes from
``plugins/module_utils/_catalog.py``. A ``models/<KEY>.model`` file holds only what the catalog has no business knowing:
the PCI subsystem id placeholder, the driver's auto-placement orders, ``sim`` values for the figures the catalog leaves
unknown (None), which a fake NVML must still answer with, and any other simulator-only ``KEY VALUE`` line, which is passed
to the C library unchanged. A ``sim`` value for a figure the catalog knows, or a
figure that is unknown in the catalog without a ``sim`` value, is an error.

A board the catalog does not know, which the fake presents so that tests see it refused (the RTX PRO 5000 72GB, which
shares its PCI id with the 48GB board; the H20 HBM3e), has an ``uncatalogued`` line and gives its identity itself (``name``,
``pci_device_id``, ``arch``, ``cc``, ``total_mib``, ``mig``, ``mode_persistent``) and no profiles: the catalog must not
find it (``find_model`` with that id, name and memory total returns None), so it cannot hold figures the catalog disagrees with.

    gen_models.py models/A100-SXM4-40GB.model ... > models_data.c      (C source, as the Makefile embeds it)
    gen_models.py --text models/A30.model                              (the generated model text, to read)
"""

from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_UTILS = os.path.join(HERE, '..', '..', 'plugins', 'module_utils')
CATALOG_PATH = os.path.join(MODULE_UTILS, '_catalog.py')
CATALOG_DATA_PATH = os.path.join(MODULE_UTILS, '_catalog_data.py')
# The name _catalog imports its data under; registered first, so the catalog loads without the collection on sys.path.
CATALOG_DATA_NAME = 'ansible_collections.gpufleet.mig.plugins.module_utils._catalog_data'

# Profile fields a ``sim`` line may supply, in the order of the C parser's profile line.
SIM_FIELDS = ('memory_mib', 'sm', 'ce', 'dec', 'enc', 'jpeg', 'ofa')
SIM_MODEL_FIELDS = ('memory_mib',)
# Model-text keys this script writes from the catalog; a model file may not set them.
CATALOG_KEYS = ('name', 'pci_device_id', 'arch', 'cc', 'total_mib', 'mig', 'mode_persistent', 'memory_slices', 'compute_slices',
                'max_mig_devices', 'profile', 'ciprof', 'profile_min_driver', 'combo_min_driver', 'engine_budget')
# What an ``uncatalogued`` model file gives itself, all of it required.
IDENTITY_KEYS = ('name', 'pci_device_id', 'arch', 'cc', 'total_mib', 'mig', 'mode_persistent')


class ModelFileError(Exception):
    pass


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def load_catalog():
    if CATALOG_DATA_NAME not in sys.modules:
        _load(CATALOG_DATA_NAME, CATALOG_DATA_PATH)
    return _load('gpufleet_catalog', CATALOG_PATH)


def _strip(line):
    return line.split('#', 1)[0].split()


def read_model_file(path):
    """{'key', 'pci_subsystem_id', 'sm_per_slice', 'autoplace': {name: [starts]}, 'sim': {(name or None, field): int},
    'other': [lines]}; 'other' holds further simulator-only ``KEY VALUE`` lines, passed to the C library unchanged."""
    data = {'autoplace': {}, 'sim': {}, 'sm_per_slice': None, 'other': [], 'uncatalogued': False, 'identity': {}}
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            words = _strip(line)
            if not words:
                continue
            where = '%s:%d' % (path, number)
            key, args = words[0], words[1:]
            if key in ('key', 'pci_subsystem_id', 'sm_per_slice') and len(args) == 1:
                data[key] = args[0]
            elif key == 'autoplace' and len(args) == 2:
                data['autoplace'][args[0]] = [int(s) for s in args[1].split(',')]
            elif key == 'sim' and len(args) == 3 and args[1] in SIM_FIELDS:
                data['sim'][(args[0], args[1])] = int(args[2])
            elif key == 'sim' and len(args) == 2 and args[0] in SIM_MODEL_FIELDS:
                data['sim'][(None, args[0])] = int(args[1])
            elif key == 'uncatalogued' and not args:
                data['uncatalogued'] = True
            elif key in IDENTITY_KEYS and args:
                data['identity'][key] = (' '.join(args), where)
            elif key in CATALOG_KEYS:
                raise ModelFileError('%s: %r comes from the catalog (plugins/module_utils/_catalog.py), not from a model file; '
                                     'a figure the catalog lacks goes in a "sim" line' % (where, key))
            elif key not in ('key', 'pci_subsystem_id', 'sm_per_slice', 'autoplace', 'sim') and args:
                data['other'].append(' '.join(words))
            else:
                raise ModelFileError('%s: cannot read %r; expected key/pci_subsystem_id/sm_per_slice VALUE, autoplace PROFILE '
                                     'STARTS, sim PROFILE FIELD VALUE (fields: %s) or sim memory_mib VALUE'
                                     % (where, line.rstrip(), ', '.join(SIM_FIELDS)))
    if 'key' not in data:
        raise ModelFileError('%s: no key line' % path)
    if data['identity'] and not data['uncatalogued']:
        key, (value, where) = sorted(data['identity'].items(), key=lambda item: item[1][1])[0]
        raise ModelFileError('%s: %r comes from the catalog (plugins/module_utils/_catalog.py), not from a model file; '
                             'a figure the catalog lacks goes in a "sim" line' % (where, key))
    if data['uncatalogued']:
        missing = [key for key in IDENTITY_KEYS if key not in data['identity']]
        if missing or data['autoplace'] or data['sim']:
            raise ModelFileError('%s: an uncatalogued board gives its identity (%s; missing: %s) and no autoplace or sim lines'
                                 % (path, ', '.join(IDENTITY_KEYS), ', '.join(missing) or 'none'))
    return data


def uncatalogued_text(catalog, data, where):
    """The model text of a board the catalog must not know (see the module docstring)."""
    identity = dict((key, value) for key, (value, dummy) in data['identity'].items())
    if data['key'] in [m.key for m in catalog.MODELS]:
        raise ModelFileError('%s: %s is a catalog key; an uncatalogued board needs a key of its own' % (where, data['key']))
    found = catalog.find_model(pci_device_id=int(identity['pci_device_id'], 16), name=identity['name'],
                               memory_total_mib=int(identity['total_mib']))
    if found is not None:
        raise ModelFileError('%s: the catalog knows this board as %s; give it a catalog model file instead' % (where, found.key))
    lines = ['# generated by tests/simulator/gen_models.py from %s (a board the catalog does not know)' % os.path.basename(where),
             'key %s' % data['key'], 'pci_subsystem_id %s' % data.get('pci_subsystem_id', '0x0')]
    lines += ['%s %s' % (key, identity[key]) for key in IDENTITY_KEYS] + data['other']
    return '\n'.join(lines) + '\n'


def _value(sim, used, name, field, known, where):
    if known is not None:
        if (name, field) in sim:
            raise ModelFileError('%s: sim %s %s: the catalog knows this figure (%s); the catalog is the one source'
                                 % (where, name or '', field, known))
        return known
    if (name, field) not in sim:
        raise ModelFileError('%s: the catalog has no %s for %s; the fake needs a "sim" value for it' % (where, field, name or 'the board'))
    used.add((name, field))
    return sim[(name, field)]


def model_text(catalog, data, where):
    """The model text the C library parses (see fakenvml/core.c parse_model)."""
    if data['uncatalogued']:
        return uncatalogued_text(catalog, data, where)
    model = catalog.model_by_key(data['key'])
    sim, used = data['sim'], set()
    lines = ['# generated by tests/simulator/gen_models.py from plugins/module_utils/_catalog.py and %s' % os.path.basename(where),
             'key %s' % model.key,
             'name %s' % model.names[0],
             'pci_device_id 0x%04X' % model.pci_device_ids[0],
             'pci_subsystem_id %s' % data.get('pci_subsystem_id', '0x0'),
             'arch %d' % model.nvml_architecture,
             'cc %d.%d' % model.compute_capability,
             'total_mib %d' % _value(sim, used, None, 'memory_mib', model.memory_mib, where),
             'mig %d' % int(model.mig_capable),
             'mode_persistent %d' % int(model.mode_persistent)]
    lines += data['other']
    if model.mig_capable:
        lines += ['memory_slices %d' % model.memory_slices,
                  'compute_slices %d' % model.compute_slices,
                  'max_mig_devices %d' % model.max_mig_devices]
        if data['sm_per_slice'] is not None:
            lines.append('sm_per_slice %s' % data['sm_per_slice'])
    for profile in model.gi_profiles:
        if profile.name not in data['autoplace']:
            raise ModelFileError('%s: no autoplace line for %s' % (where, profile.name))
        order = data['autoplace'][profile.name]
        if sorted(order) != sorted(profile.starts):
            raise ModelFileError('%s: autoplace %s %s is not an order of its placements %s' % (where, profile.name, order, list(profile.starts)))
        figures = [_value(sim, used, profile.name, field, getattr(profile, field), where) for field in SIM_FIELDS]
        lines.append('profile 0x%X %d %s %d %s %d %d %s %s' % (
            profile.nvml_enum, profile.profile_id, profile.name, profile.max_count, ' '.join(str(v) for v in figures),
            profile.memory_slices, profile.compute_slices, ','.join(str(s) for s in profile.starts), ','.join(str(s) for s in order)))
        sm_per_slice = None if data['sm_per_slice'] is None else int(data['sm_per_slice'])
        for compute in profile.compute_profiles:
            sm = compute.sm
            if sm is None:
                # The catalog does not know it: the GI's own figure for a full CI, else C x the model's SMs per slice.
                sm = figures[1] if compute.slices == profile.compute_slices and compute.is_default else None
                if sm is None:
                    if sm_per_slice is None:
                        raise ModelFileError('%s: the catalog has no SM count for %s (enum %d); give sm_per_slice'
                                             % (where, compute.name, compute.nvml_enum))
                    sm = sm_per_slice * compute.slices
            lines.append('ciprof %d %d %d %d %s' % (profile.profile_id, compute.nvml_enum, compute.max_count, sm,
                                                    ','.join(str(s) for s in compute.starts)))
        if profile.min_driver is not None:
            lines.append('profile_min_driver %d %s' % (profile.profile_id, profile.min_driver))
    for classes, minimum in model.combination_min_drivers:
        ids = [p.profile_id for p in model.gi_profiles if p.slice_class in classes]
        lines.append('combo_min_driver %s %s' % (','.join(str(i) for i in ids), minimum))
    if model.mig_capable:
        whole = max(model.gi_profiles, key=lambda p: p.compute_slices)
        if whole.jpeg is not None and whole.ofa is not None:
            # The same rule as GpuModel.instance_problems: GIs with media engines share the whole GPU's.
            lines.append('engine_budget %d %d' % (whole.jpeg, whole.ofa))
    unused = sorted(set(sim) - used, key=str)
    if unused:
        raise ModelFileError('%s: sim values for unknown profiles or fields: %s' % (where, unused))
    extra = sorted(set(data['autoplace']) - set(model.profile_names))
    if extra:
        raise ModelFileError('%s: autoplace lines for profiles %s that %s does not have' % (where, extra, model.key))
    return '\n'.join(lines) + '\n'


def c_source(texts):
    out = ['/* generated by tests/simulator/gen_models.py - do not edit */', 'const char *const fakenvml_model_texts[] = {']
    for text in texts:
        for line in text.splitlines():
            out.append('  "%s\\n"' % line.replace('\\', '\\\\').replace('"', '\\"'))
        out.append('  "",')
    out += ['  0', '};', '']
    return '\n'.join(out)


def main(argv):
    as_text = argv[:1] == ['--text']
    paths = argv[1:] if as_text else argv
    if not paths:
        sys.stderr.write(__doc__)
        return 2
    catalog = load_catalog()
    try:
        texts = [model_text(catalog, read_model_file(path), path) for path in paths]
    except (ModelFileError, catalog.CatalogError, LookupError, ValueError) as exc:
        sys.stderr.write('gen_models.py: %s\n' % exc)
        return 1
    sys.stdout.write(''.join(texts) if as_text else c_source(texts))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
