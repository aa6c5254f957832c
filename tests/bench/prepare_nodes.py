# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put simulated nodes into a given MIG layout, many nodes in one process (a benchmark helper).

  prepare_nodes.py JOBS.json

JOBS.json is a list of ``{"state": PATH, "layout": [mig-parted entries], "checkpoint": PATH}``. For each job the fake NVML is pointed at
the node's state file (``FAKE_NVML_STATE``, read at every ``nvmlInit``), MIG is enabled on every MIG-capable GPU and
the layout is created with the collection's own planner and apply code and checkpointed with its own writer, so the
result is exactly what a finished rollout leaves (the rollout's own check then finds nothing to change). One process for a whole fleet instead of two
``nvidia-smi`` runs per node keeps building a 128-node fleet to a few seconds. Run it with LD_LIBRARY_PATH pointing
at the simulator's library and the collection on PYTHONPATH; the fake NVML must see a privileged caller
(FAKE_NVML_EUID=0 is set here).
"""

from __future__ import annotations

import json
import os
import sys

os.environ['FAKE_NVML_EUID'] = '0'

# pylint: disable=wrong-import-position
from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import apply_with_rollback, canonical_gpu  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._checkpoint import write_checkpoint  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml  # noqa: E402
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import plan_gpu  # noqa: E402


def prepare(state, layout, checkpoint):
    os.environ['FAKE_NVML_STATE'] = state
    with Nvml() as nvml:
        node = nvml.read_host(instances=False)
        for gpu in node.gpus:
            if gpu.mig_capable and not gpu.mig_current:
                nvml.set_mig_mode(gpu.index, True)
        node = nvml.read_host()
        targets = targets_for_gpus(layout, node.gpus, node.driver_version)
        for gpu in node.gpus:
            target = targets.get(gpu.index)
            if target is None or not target.layout.mig_enabled:
                continue
            model = _catalog.model_by_key(target.model)
            before = canonical_gpu(gpu, model)
            plan = plan_gpu(model, before, target.layout)
            if plan.changed:
                apply_with_rollback(nvml, model, before, plan.after)
        write_checkpoint(nvml.read_host(), checkpoint)


def main(argv):
    with open(argv[1]) as handle:
        jobs = json.load(handle)
    for job in jobs:
        prepare(job['state'], job['layout'], job['checkpoint'])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
