# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The NVML adapter: the only code in the collection that imports ``pynvml``.

It reads a host's driver and GPUs into the plain objects of ``_gpustate`` and turns every
NVML failure into an :class:`NvmlError` whose message names the host (``hostname``), the GPU, the NVML
function and the driver's own error text.  Modules turn those into ``fail_json`` at the edge.

Requires nvidia-ml-py 12.535 or newer (the versioned profile-info calls that carry names,
and caller-supplied arrays for the list calls).
"""

from __future__ import annotations

import ctypes
import math
import socket
import traceback

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import (
    ComputeInstance,
    GpuInstance,
    GpuProcess,
    GpuState,
    HostState,
)

try:
    import pynvml
except ImportError:
    pynvml = None
    PYNVML_IMPORT_ERROR = traceback.format_exc()
else:
    PYNVML_IMPORT_ERROR = None

__all__ = (
    'PYNVML_IMPORT_ERROR',
    'Nvml',
    'NvmlDriverNotLoaded',
    'NvmlError',
    'NvmlLibraryNotFound',
    'NvmlPermissionError',
    'activation_status_text',
    'choose_compute_profile',
    'profile_name_from_memory',
)

MIB = 1024 * 1024
NOT_AVAILABLE = 0xFFFFFFFF

# NVML return codes (nvml.h); kept here so this file can be imported without pynvml.
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13

# GPU-instance profile enums whose names carry an attribute (go-nvlib mig_profile.go naming).
_PROFILE_ATTRIBUTES = {
    0x7: '+me', 0x8: '+me',
    0xA: '+gfx', 0xB: '+gfx', 0xC: '+gfx', 0x11: '+gfx',
    0xD: '-me', 0xE: '-me',
    0xF: '+me.all', 0x10: '+me.all',
}


class NvmlError(Exception):
    """An NVML call failed; ``code`` is the NVML return code when there is one."""

    def __init__(self, message, function=None, code=None, gpu=None):
        super(NvmlError, self).__init__(message)
        self.function = function
        self.code = code
        self.gpu = gpu


class NvmlLibraryNotFound(NvmlError):
    """libnvidia-ml.so.1 could not be loaded: no NVIDIA driver is installed."""


class NvmlDriverNotLoaded(NvmlError):
    """The driver library exists but the kernel driver is not running."""


class NvmlPermissionError(NvmlError):
    """NVML refused the call for lack of privileges."""


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return value


# Why a MIG mode change stays pending: the activation status nvmlDeviceSetMigMode returns (nvml.h).
_ACTIVATION_STATUS = {
    3: 'the GPU cannot be reset here (Not Supported)',
    16: 'the GPU needs a reset, which is not possible here (for example a pass-through VM)',
    19: 'In use by another client',
}


def activation_status_text(status):
    """Explain SetMigMode's activation status."""
    return _ACTIVATION_STATUS.get(status, 'NVML activation status %s' % status)


def _nvml_name(info):
    """The profile name the driver reports ('MIG 3g.20gb' -> '3g.20gb'); '' when it reports none (v1 structs)."""
    name = _text(getattr(info, 'name', b'')).strip()
    return name[4:] if name.startswith('MIG ') else name


def choose_compute_profile(offered, slices):
    """The compute-instance profile to create for ``slices`` compute slices, from a GI's offered profile infos; None if none.

    The one with the most SMs, then the lowest id. Hopper's double-memory 1g GIs offer 1_SLICE and 1_SLICE_REV1, and
    only REV1 gets the GI's full SMs (26 vs 16 on H100, per go-nvlib PR #85; not confirmed on real hardware). Where the
    variants report the same SMs (A100, per go-nvml's mock) this is the base profile, as before.
    """
    fitting = [info for info in offered if info.sliceCount == slices]
    if not fitting:
        return None
    return min(fitting, key=lambda info: (-info.multiprocessorCount, info.id))


def profile_name_from_memory(gpu_slices, compute_slices, memory_mib, total_bytes, attribute=''):
    """Name a MIG profile the way NVIDIA's tools do when the driver gives no name.

    go-nvlib computes the GB part from the profile's share of the board memory, rounded up
    to eighths, times the board size in whole GiB.  That is why names drift between boards
    and drivers (3g.39gb vs 3g.40gb); the catalog resolves only the drifts documented for a board.
    """
    total_gib = int(math.ceil(total_bytes / float(1 << 30)))
    fraction = math.ceil(memory_mib * MIB * 8.0 / total_bytes) / 8.0
    name = '%dg.%dgb%s' % (gpu_slices, int(round(fraction * total_gib)), attribute)
    if compute_slices and compute_slices < gpu_slices:
        name = '%dc.%s' % (compute_slices, name)
    return name


class Nvml(object):
    """One NVML session.  Use as a context manager; every pynvml call goes through :meth:`call`."""

    def __init__(self, hostname=None):
        self.hostname = hostname or socket.gethostname()
        self._handles = {}

    def __enter__(self):
        if pynvml is None:
            raise NvmlError('the Python library pynvml (package nvidia-ml-py) is not installed on %s' % self.hostname)
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise self._init_error(exc)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            # A failed shutdown must not hide the error that ended the session.
            pass
        return False

    def _init_error(self, exc):
        code = getattr(exc, 'value', None)
        if code == NVML_ERROR_LIBRARY_NOT_FOUND:
            return NvmlLibraryNotFound(
                'NVIDIA driver not found on %s: the NVML library libnvidia-ml.so.1 could not be loaded. '
                'Install the NVIDIA data-center driver on this node (MIG needs R450 or newer).' % self.hostname,
                function='nvmlInit', code=code)
        if code == NVML_ERROR_DRIVER_NOT_LOADED:
            return NvmlDriverNotLoaded(
                'NVIDIA driver not loaded on %s: nvmlInit reports "Driver Not Loaded". The driver package is installed '
                'but its kernel module is not running; load it (modprobe nvidia) or reboot the node.' % self.hostname,
                function='nvmlInit', code=code)
        return self._error('nvmlInit', exc, None)

    def _error(self, function, exc, gpu):
        code = getattr(exc, 'value', None)
        where = self.hostname if gpu is None else 'GPU %s of %s' % (gpu, self.hostname)
        message = '%s failed on %s: %s (NVML error %s)' % (function, where, exc, code)
        if code == NVML_ERROR_NO_PERMISSION:
            return NvmlPermissionError(message + '. This needs root on the node: run the task with become: true.',
                                       function=function, code=code, gpu=gpu)
        return NvmlError(message, function=function, code=code, gpu=gpu)

    def call(self, function, *args, **kwargs):
        """Call ``pynvml.<function>(*args)``; NVML errors become :class:`NvmlError`. ``gpu=`` names the GPU in messages."""
        gpu = kwargs.pop('gpu', None)
        try:
            return getattr(pynvml, function)(*args)
        except pynvml.NVMLError as exc:
            raise self._error(function, exc, gpu)

    def _optional(self, function, *args, **kwargs):
        """Like :meth:`call`, but None where the driver lacks the function or the GPU the feature."""
        try:
            return self.call(function, *args, **kwargs)
        except NvmlError as exc:
            if exc.code in (NVML_ERROR_NOT_SUPPORTED, NVML_ERROR_FUNCTION_NOT_FOUND):
                return None
            raise

    # -- node ---------------------------------------------------------------------------------

    def driver_version(self):
        """The driver version string, e.g. ``550.54.15``."""
        return _text(self.call('nvmlSystemGetDriverVersion'))

    def read_host(self, indices=None, instances=True):
        """Read the driver and the GPUs (all, or those with the given indices).

        With ``instances=False`` only identity and MIG mode are read: no MIG instances and no
        processes, which need fewer calls and, on most systems, no root.
        """
        cuda = self._optional('nvmlSystemGetCudaDriverVersion')
        count = self.call('nvmlDeviceGetCount')
        wanted = range(count) if indices is None else sorted(set(indices))
        for index in wanted:
            if not 0 <= index < count:
                raise NvmlError('GPU index %s does not exist on %s: it has %d GPU(s) (valid: 0-%d)'
                                % (index, self.hostname, count, count - 1), gpu=index)
        nvml_version = self._optional('nvmlSystemGetNVMLVersion')
        return HostState(
            driver_version=self.driver_version(),
            cuda_driver_version=None if cuda is None else '%d.%d' % (cuda // 1000, (cuda % 1000) // 10),
            nvml_version=None if nvml_version is None else _text(nvml_version),
            gpus=tuple(self.read_gpu(index, instances) for index in wanted),
        )

    # -- one GPU ------------------------------------------------------------------------------

    def handle(self, index):
        """The NVML handle of GPU ``index`` (looked up once per session)."""
        if index not in self._handles:
            self._handles[index] = self.call('nvmlDeviceGetHandleByIndex', index, gpu=index)
        return self._handles[index]

    def read_gpu(self, index, instances=True):
        """Read identity, MIG mode and (unless ``instances`` is false) instances and processes of GPU ``index``."""
        handle = self.handle(index)
        name = _text(self.call('nvmlDeviceGetName', handle, gpu=index))
        pci = self.call('nvmlDeviceGetPciInfo', handle, gpu=index)
        total_bytes = self.call('nvmlDeviceGetMemoryInfo', handle, gpu=index).total
        cc = self._optional('nvmlDeviceGetCudaComputeCapability', handle, gpu=index)
        mig_current = mig_pending = None
        try:
            mig_current, mig_pending = self.call('nvmlDeviceGetMigMode', handle, gpu=index)
        except NvmlError as exc:
            # NOT_SUPPORTED is how NVML says "this GPU has no MIG" (go-nvlib IsMigCapable).
            if exc.code != NVML_ERROR_NOT_SUPPORTED:
                raise
        mig_capable = mig_current is not None
        gpu_instances = processes = ()
        if instances:
            processes = self._read_processes(handle, index)
            if mig_current:
                gpu_instances = self._read_gpu_instances(handle, index, total_bytes)
        model = _catalog.find_model(pci_device_id=pci.pciDeviceId, name=name, memory_total_mib=total_bytes // MIB)
        return GpuState(
            index=index,
            uuid=_text(self.call('nvmlDeviceGetUUID', handle, gpu=index)),
            name=name,
            pci_bus_id=_text(pci.busId),
            pci_device_id=pci.pciDeviceId,
            pci_subsystem_id=pci.pciSubSystemId,
            memory_total_mib=total_bytes // MIB,
            architecture=self._optional('nvmlDeviceGetArchitecture', handle, gpu=index),
            compute_capability=None if cc is None else tuple(cc),
            mig_capable=mig_capable,
            mig_current=None if not mig_capable else bool(mig_current),
            mig_pending=None if not mig_capable else bool(mig_pending),
            gpu_instances=gpu_instances,
            processes=processes,
            model=None if model is None else model.key,
            # Linux only: elsewhere NVML answers NOT_SUPPORTED.
            minor_number=self._optional('nvmlDeviceGetMinorNumber', handle, gpu=index),
            # RTX PRO Workstation boards need a minimum vBIOS for MIG (driver_check); NOT_SUPPORTED reads as unknown.
            vbios_version=_text(self._optional('nvmlDeviceGetVbiosVersion', handle, gpu=index)),
        )

    def gpu_instance_profiles(self, handle, index):
        """Map profile id -> (enum, profile info) for the GI profiles this GPU offers (MIG must be on)."""
        return dict((info.id, (enum, info)) for enum, info in self._offered(
            'nvmlDeviceGetGpuInstanceProfileInfo', handle, pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT, index))

    def _offered(self, function, owner, count, index, *extra):
        """Yield (enum, info) for the profile enums 0..count-1 that ``owner`` offers.

        NVML's documented enumeration protocol: a profile this GPU or GPU instance does not offer
        answers NOT_SUPPORTED, an enum past the driver's last one INVALID_ARGUMENT; both are skipped.
        """
        for enum in range(count):
            try:
                yield enum, self.call(function, owner, enum, *extra, gpu=index)
            except NvmlError as exc:
                if exc.code not in (NVML_ERROR_NOT_SUPPORTED, NVML_ERROR_INVALID_ARGUMENT):
                    raise

    def _read_gpu_instances(self, handle, index, total_bytes):
        uuids = self._mig_device_uuids(handle, index)
        instances = []
        for profile_id, (enum, info) in sorted(self.gpu_instance_profiles(handle, index).items()):
            if not info.instanceCount:
                continue
            name = self._profile_name(info, enum, total_bytes)
            array = (pynvml.c_nvmlGpuInstance_t * info.instanceCount)()
            count = ctypes.c_uint(info.instanceCount)
            self.call('nvmlDeviceGetGpuInstances', handle, profile_id, array, ctypes.byref(count), gpu=index)
            ci_profiles = None
            for slot in range(count.value):
                gi = array[slot]
                gi_info = self.call('nvmlGpuInstanceGetInfo', gi, gpu=index)
                if ci_profiles is None:
                    # CI profiles depend only on the GI profile; read them once per profile.
                    ci_profiles = self._compute_profiles(gi, index, info, enum, total_bytes)
                instances.append(GpuInstance(
                    id=gi_info.id,
                    profile=name,
                    profile_id=profile_id,
                    start=gi_info.placement.start,
                    size=gi_info.placement.size,
                    compute_slices=info.sliceCount,
                    memory_mib=info.memorySizeMB,
                    compute_instances=self._read_compute_instances(gi, index, gi_info.id, ci_profiles, uuids),
                ))
        return tuple(sorted(instances, key=lambda g: (g.start, g.size, g.id)))

    def _compute_profiles(self, gi, index, gi_info, gi_enum, total_bytes):
        profiles = []
        for enum, info in self._offered('nvmlGpuInstanceGetComputeInstanceProfileInfo', gi, pynvml.NVML_COMPUTE_INSTANCE_PROFILE_COUNT,
                                        index, 0):
            name = _nvml_name(info) or profile_name_from_memory(
                gi_info.sliceCount, info.sliceCount, gi_info.memorySizeMB, total_bytes, _PROFILE_ATTRIBUTES.get(gi_enum, ''))
            profiles.append((info.id, name, info.instanceCount, info.multiprocessorCount))
        return profiles

    def _read_compute_instances(self, gi, index, gi_id, ci_profiles, uuids):
        found = []
        for profile_id, name, max_count, sm in ci_profiles:
            if not max_count:
                continue
            array = (pynvml.c_nvmlComputeInstance_t * max_count)()
            count = ctypes.c_uint(max_count)
            self.call('nvmlGpuInstanceGetComputeInstances', gi, profile_id, array, ctypes.byref(count), gpu=index)
            for slot in range(count.value):
                info = self.call('nvmlComputeInstanceGetInfo', array[slot], gpu=index)
                found.append(ComputeInstance(
                    id=info.id,
                    profile=name,
                    profile_id=profile_id,
                    start=info.placement.start,
                    size=info.placement.size,
                    uuid=uuids.get((gi_id, info.id)),
                    sm=sm,
                ))
        return tuple(sorted(found, key=lambda c: (c.start, c.size, c.id)))

    def _mig_device_uuids(self, handle, index):
        """Map (GI id, CI id) -> MIG device UUID, the name CUDA and the device plugin use."""
        uuids = {}
        for slot in range(self.call('nvmlDeviceGetMaxMigDeviceCount', handle, gpu=index)):
            try:
                mig = self.call('nvmlDeviceGetMigDeviceHandleByIndex', handle, slot, gpu=index)
            except NvmlError as exc:
                # Indices are sparse: NVML answers NOT_FOUND for a slot without a MIG device.
                if exc.code in (NVML_ERROR_NOT_FOUND, NVML_ERROR_INVALID_ARGUMENT):
                    continue
                raise
            key = (self.call('nvmlDeviceGetGpuInstanceId', mig, gpu=index),
                   self.call('nvmlDeviceGetComputeInstanceId', mig, gpu=index))
            uuids[key] = _text(self.call('nvmlDeviceGetUUID', mig, gpu=index))
        return uuids

    @staticmethod
    def _profile_name(info, enum, total_bytes):
        return _nvml_name(info) or profile_name_from_memory(
            info.sliceCount, info.sliceCount, info.memorySizeMB, total_bytes, _PROFILE_ATTRIBUTES.get(enum, ''))

    def _read_processes(self, handle, index):
        processes = []
        for function, kind in (('nvmlDeviceGetComputeRunningProcesses', 'compute'),
                               ('nvmlDeviceGetGraphicsRunningProcesses', 'graphics')):
            for proc in self._optional(function, handle, gpu=index) or ():
                used = getattr(proc, 'usedGpuMemory', None)
                gi_id = getattr(proc, 'gpuInstanceId', NOT_AVAILABLE)
                ci_id = getattr(proc, 'computeInstanceId', NOT_AVAILABLE)
                processes.append(GpuProcess(
                    pid=proc.pid,
                    used_mib=None if used is None else used // MIB,
                    gpu_instance_id=None if gi_id == NOT_AVAILABLE else gi_id,
                    compute_instance_id=None if ci_id == NOT_AVAILABLE else ci_id,
                    kind=kind,
                ))
        return tuple(sorted(processes, key=lambda p: (p.pid, p.kind)))

    # -- changes ------------------------------------------------------------------------------

    def mig_mode(self, index):
        """Return (current, pending) MIG mode of GPU ``index`` as booleans."""
        current, pending = self.call('nvmlDeviceGetMigMode', self.handle(index), gpu=index)
        return bool(current), bool(pending)

    def set_mig_mode(self, index, enabled):
        """Ask for MIG mode; return NVML's activation status (0 when it took effect, else why it is pending)."""
        return self.call('nvmlDeviceSetMigMode', self.handle(index), 1 if enabled else 0, gpu=index)

    def gpu_instance_profile_id(self, index, nvml_enum):
        """The device-specific profile id of a GI profile enum (NVML's documented mapping, never assumed)."""
        return self.call('nvmlDeviceGetGpuInstanceProfileInfo', self.handle(index), nvml_enum, gpu=index).id

    def _gpu_instance(self, index, gi_id):
        return self.call('nvmlDeviceGetGpuInstanceById', self.handle(index), gi_id, gpu=index)

    def create_gpu_instance(self, index, nvml_enum, start, size):
        """Create a GI of the profile with this enum at an explicit placement; return its id."""
        placement = pynvml.c_nvmlGpuInstancePlacement_t()
        placement.start, placement.size = start, size
        gi = self.call('nvmlDeviceCreateGpuInstanceWithPlacement', self.handle(index),
                       self.gpu_instance_profile_id(index, nvml_enum), ctypes.byref(placement), gpu=index)
        return self.call('nvmlGpuInstanceGetInfo', gi, gpu=index).id

    def create_compute_instance(self, index, gi_id, slices, start):
        """Create a CI of ``slices`` compute slices at ``start`` inside GI ``gi_id``; return its id."""
        gi = self._gpu_instance(index, gi_id)
        placement = pynvml.c_nvmlComputeInstancePlacement_t()
        placement.start, placement.size = start, slices
        ci = self.call('nvmlGpuInstanceCreateComputeInstanceWithPlacement', gi, self._compute_profile_id(gi, index, slices),
                       ctypes.byref(placement), gpu=index)
        return self.call('nvmlComputeInstanceGetInfo', ci, gpu=index).id

    def _compute_profile_id(self, gi, index, slices):
        offered = [info for dummy, info in self._offered('nvmlGpuInstanceGetComputeInstanceProfileInfo', gi,
                                                         pynvml.NVML_COMPUTE_INSTANCE_PROFILE_COUNT, index, 0)]
        chosen = choose_compute_profile(offered, slices)
        if chosen is None:
            raise NvmlError('GPU %s of %s offers no compute-instance profile of %d slice(s) in this GPU instance' % (index, self.hostname, slices),
                            gpu=index)
        return chosen.id

    def destroy_compute_instance(self, index, gi_id, ci_id):
        """Destroy CI ``ci_id`` of GI ``gi_id``."""
        ci = self.call('nvmlGpuInstanceGetComputeInstanceById', self._gpu_instance(index, gi_id), ci_id, gpu=index)
        self.call('nvmlComputeInstanceDestroy', ci, gpu=index)

    def destroy_gpu_instance(self, index, gi_id):
        """Destroy GI ``gi_id`` (its CIs must be gone)."""
        self.call('nvmlGpuInstanceDestroy', self._gpu_instance(index, gi_id), gpu=index)
