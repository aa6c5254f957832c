# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The base of the modules that talk to NVML (``gpu_info``, ``driver_check``, ``mig_mode``, ``mig_layout``).

Apart from ``_nvml``, which stays free of Ansible: the boot-time restore runs it on nodes without Ansible.
"""

from __future__ import annotations

from ansible_collections.gpufleet.mig.plugins.module_utils._module import GpufleetModule, Library
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import PYNVML_IMPORT_ERROR, NvmlError

__all__ = ('NVML_LIBRARY', 'NvmlModule')

# The package that provides pynvml, and the version requirements.txt pins (a unit test keeps the two the same).
NVML_LIBRARY = Library('nvidia-ml-py', PYNVML_IMPORT_ERROR, pinned='13.615.71')


def _nvml_fields(exc):
    """What a failed NVML call reports besides its message: the function, NVML's return code and the GPU's index."""
    return {'nvml_function': exc.function, 'nvml_error': exc.code, 'gpu': exc.gpu}


class NvmlModule(GpufleetModule):
    """A module on a GPU node: fails at once when pynvml is missing; inside ``failing_on_errors()`` an NvmlError fails it.

    ``errors`` adds the module's own error types to NvmlError.
    """

    def __init__(self, errors=None, **kwargs):
        all_errors = {NvmlError: _nvml_fields}
        all_errors.update(errors or {})
        super(NvmlModule, self).__init__(libraries=(NVML_LIBRARY,), errors=all_errors, **kwargs)
