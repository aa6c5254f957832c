#!/usr/bin/env python
"""Fake ``nvidia-smi`` for the GPU simulator (tests/simulator).

It reads and changes everything through the real ``pynvml`` loaded on top of the
fake libnvidia-ml.so.1, and uses the simulator control function only for what
NVML cannot do (the GPU reset).  Output formats follow real nvidia-smi output
quoted in /work/shared/reference/nvml.md §7 (older 79-column ``-lgip`` box; the
59-/70-column ``-lgi``/``-lci`` boxes with a Placement column of newer drivers).

Supported: ``-L``, ``-r``/``--gpu-reset`` [``-i``], ``-i N -mig 0|1``,
``--query-gpu=... --format=csv[,noheader][,nounits]`` and ``mig`` with ``-lgip``,
``-lgipp``, ``-lgi``, ``-lci``, ``-cgi LIST [-C]``, ``-cci [LIST]``, ``-dci``,
``-dgi`` and the ``-i``/``-gi``/``-ci`` selectors.  Run it via $BUILD/bin/nvidia-smi.

Texts not in the reference (reset messages, errors of -mig on a non-MIG GPU,
"No devices were found", exit codes other than 0) are [unverified].
"""

from __future__ import absolute_import, division, print_function

import ctypes
import os
import sys

import pynvml

EXIT_CODES = {2: 2, 3: 3, 4: 4, 6: 6, 8: 8, 9: 9, 10: 10, 12: 12, 14: 14, 15: 15}
NO_MIG = 'No MIG-enabled devices found.'
USAGE = """NVIDIA System Management Interface -- simulator (tests/simulator/nvidia_smi.py)

    nvidia-smi [-i ID[,ID]] [-L] [-r] [-mig 0|1] [--query-gpu=FIELDS --format=csv[,noheader][,nounits]]
    nvidia-smi mig [-i ID] (-lgip | -lgipp | -lgi | -lci | -cgi LIST [-C] | -cci [LIST] | -dci | -dgi)
                   [-gi ID[,ID]] [-ci ID[,ID]]
"""


class Usage(Exception):
    """Bad command line."""


class Failure(Exception):
    """A failure already reported to the user; carries the exit code."""

    def __init__(self, code):
        super(Failure, self).__init__(code)
        self.code = code


def text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def exit_code(err):
    return EXIT_CODES.get(getattr(err, 'value', 0), 255)


def err_text(err):
    return text(pynvml.nvmlErrorString(err.value))


# ---------------------------------------------------------------- arguments

LONG = {
    '--list-gpus': '-L', '--gpu-reset': '-r', '--id': '-i', '--multi-instance-gpu': '-mig',
    '--help': '-h', '--list-gpu-instance-profiles': '-lgip', '--list-gpu-instance-possible-placements': '-lgipp',
    '--list-gpu-instances': '-lgi', '--list-compute-instances': '-lci', '--create-gpu-instance': '-cgi',
    '--default-compute-instance': '-C', '--create-compute-instance': '-cci',
    '--destroy-compute-instance': '-dci', '--destroy-gpu-instance': '-dgi',
    '--gpu-instance-id': '-gi', '--compute-instance-id': '-ci',
}
TOP_FLAGS = ('-L', '-r', '-h')
TOP_VALUES = ('-i', '-mig', '--query-gpu', '--format')
MIG_FLAGS = ('-lgip', '-lgipp', '-lgi', '-lci', '-C', '-dci', '-dgi', '-h')
MIG_VALUES = ('-i', '-cgi', '-gi', '-ci')


def parse_args(argv):
    opts = {}
    args = list(argv)
    mig = bool(args) and args[0] == 'mig'
    if mig:
        args.pop(0)
    flags, values = (MIG_FLAGS, MIG_VALUES) if mig else (TOP_FLAGS, TOP_VALUES)
    while args:
        arg = args.pop(0)
        value = None
        if arg.startswith('--') and '=' in arg:
            arg, value = arg.split('=', 1)
        arg = LONG.get(arg, arg)
        if mig and arg == '-cci':
            # the profile list of -cci is optional (default CI)
            opts['-cci'] = args.pop(0) if value is None and args and not args[0].startswith('-') else value
        elif arg in flags:
            opts[arg] = True
        elif arg in values:
            if value is None:
                if not args:
                    raise Usage('Option "%s" requires a value.' % arg)
                value = args.pop(0)
            opts[arg] = value
        else:
            raise Usage('Invalid combination of input arguments. Please run \'nvidia-smi -h\' for help.\n'
                        'Unknown option: %s' % arg)
    opts['mig'] = mig
    return opts


def id_list(value):
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(',') if v != '']
    except ValueError:
        raise Usage('Invalid ID list "%s".' % value)


# ---------------------------------------------------------------- NVML helpers

def select_gpus(opts):
    """(index, handle) pairs selected by -i (index, UUID or PCI bus id); all GPUs by default."""
    count = pynvml.nvmlDeviceGetCount()
    handles = [(i, pynvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)]
    if '-i' not in opts:
        return handles
    selected = []
    uuids = [text(pynvml.nvmlDeviceGetUUID(handle)).lower() for dummy, handle in handles]
    for item in opts['-i'].split(','):
        item = item.strip()
        wanted = None
        try:
            if item.isdigit():
                wanted = int(item) if int(item) < count else None
            elif item.lower() in uuids:
                wanted = uuids.index(item.lower())
            elif ':' in item:
                found = pynvml.nvmlDeviceGetHandleByPciBusId(item.encode())
                wanted = uuids.index(text(pynvml.nvmlDeviceGetUUID(found)).lower())
        except pynvml.NVMLError:
            wanted = None
        if wanted is None:
            print('No devices were found')
            raise Failure(6)
        selected.append(handles[wanted])
    return selected


def bus_id(handle):
    return text(pynvml.nvmlDeviceGetPciInfo(handle).busId)


def mig_enabled(handle):
    try:
        return pynvml.nvmlDeviceGetMigMode(handle)[0] == pynvml.NVML_DEVICE_MIG_ENABLE
    except pynvml.NVMLError:
        return False


def gi_profiles(handle):
    """GPU-instance profile infos of a GPU, in nvidia-smi order (slice count, then enum)."""
    found = []
    for enum in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
        try:
            info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, enum)
        except pynvml.NVMLError:
            continue
        found.append((info.sliceCount, enum, info))
    return [info for dummy, dummy, info in sorted(found, key=lambda item: (item[0], item[1]))]


def short(name):
    name = text(name)
    return name[4:] if name.startswith('MIG ') else name


def gpu_instances(handle, gi_filter=None):
    """[(profile_info, gi_handle, gi_info)] ordered by profile (as -lgip), then GI id."""
    result = []
    for prof in gi_profiles(handle):
        array = (pynvml.c_nvmlGpuInstance_t * max(prof.instanceCount, 1))()
        count = ctypes.c_uint(prof.instanceCount)
        pynvml.nvmlDeviceGetGpuInstances(handle, prof.id, array, ctypes.byref(count))
        rows = []
        for i in range(count.value):
            info = pynvml.nvmlGpuInstanceGetInfo(array[i])
            if gi_filter is None or info.id in gi_filter:
                rows.append((prof, array[i], info))
        result.extend(sorted(rows, key=lambda row: row[2].id))
    return result


def ci_profiles(gi_handle):
    found = []
    for enum in range(pynvml.NVML_COMPUTE_INSTANCE_PROFILE_COUNT):
        try:
            found.append(pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(
                gi_handle, enum, pynvml.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED))
        except pynvml.NVMLError:
            continue
    return found


def compute_instances(gi_handle, ci_filter=None):
    """[(ci_profile_info, ci_handle, ci_info)] ordered by CI profile, then CI id."""
    result = []
    for prof in ci_profiles(gi_handle):
        array = (pynvml.c_nvmlComputeInstance_t * max(prof.instanceCount, 1))()
        count = ctypes.c_uint(prof.instanceCount)
        pynvml.nvmlGpuInstanceGetComputeInstances(gi_handle, prof.id, array, ctypes.byref(count))
        rows = []
        for i in range(count.value):
            info = pynvml.nvmlComputeInstanceGetInfo(array[i])
            if ci_filter is None or info.id in ci_filter:
                rows.append((prof, array[i], info))
        result.extend(sorted(rows, key=lambda row: row[2].id))
    return result


def mig_gpus(opts):
    gpus = [(index, handle) for index, handle in select_gpus(opts) if mig_enabled(handle)]
    if not gpus:
        print(NO_MIG)
        raise Failure(6)
    return gpus


def box(width, title, header, rows):
    border = '+' + '-' * (width - 2) + '+'
    lines = [border, '| ' + title.ljust(width - 3) + '|']
    lines.extend(header)
    lines.append('|' + '=' * (width - 2) + '|')
    for row in rows:
        lines.extend(row)
        lines.append(border)
    print('\n'.join(lines))


# ---------------------------------------------------------------- commands

def cmd_list(opts):
    for index, handle in select_gpus(opts):
        print('GPU %d: %s (UUID: %s)' % (index, text(pynvml.nvmlDeviceGetName(handle)), text(pynvml.nvmlDeviceGetUUID(handle))))
        if not mig_enabled(handle):
            continue
        for mig_index in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
            try:
                mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, mig_index)
            except pynvml.NVMLError:
                continue
            name = text(pynvml.nvmlDeviceGetName(mig)).split(' MIG ', 1)[-1]
            print('  MIG %-11s Device %2d: (UUID: %s)' % (name, mig_index, text(pynvml.nvmlDeviceGetUUID(mig))))
    return 0


def sim_reset(index):
    """GPU reset through the simulator control function (NVML has no reset call)."""
    lib = ctypes.CDLL(os.environ.get('FAKE_NVML_LIB') or 'libnvidia-ml.so.1')
    func = lib.fakeNvmlSimCommand
    func.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_char_p, ctypes.c_uint]
    argv = (ctypes.c_char_p * 2)(b'reset', str(index).encode())
    out = ctypes.create_string_buffer(4096)
    ret = func(os.environ.get('FAKE_NVML_STATE', '').encode(), 2, argv, out, 4096)
    return ret, out.value.decode('utf-8', 'replace')


def cmd_reset(opts):
    gpus = select_gpus(opts)
    failed = []
    for index, handle in gpus:
        ret, message = sim_reset(index)
        if ret == 0:
            print('GPU %s was successfully reset.' % bus_id(handle))
        else:
            failed.append((bus_id(handle), message, ret))
    if failed:
        print('The following GPUs could not be reset:')
        for bus, message, dummy in failed:
            print('  GPU %s: %s' % (bus, message))
        busy = sum(1 for dummy, dummy, ret in failed if ret == pynvml.NVML_ERROR_IN_USE)
        if busy:
            print('\n%d device%s currently being used by one or more other processes (e.g., Fabric Manager, CUDA '
                  'application, graphics application such as an X server, or a monitoring application such as another '
                  'instance of nvidia-smi). Please first kill all processes using this device and all compute '
                  'applications running in the system.' % (busy, ' is' if busy == 1 else 's are'))
        return 255
    print('All done.')
    return 0


def cmd_mig_mode(opts):
    if opts['-mig'] not in ('0', '1'):
        raise Usage('Invalid value "%s" for -mig (expected 0 or 1).' % opts['-mig'])
    mode = int(opts['-mig'])
    word = 'enable' if mode else 'disable'
    rc = 0
    for dummy, handle in select_gpus(opts):
        bus = bus_id(handle)
        try:
            status = pynvml.nvmlDeviceSetMigMode(handle, mode)
        except pynvml.NVMLError as err:
            print('Unable to %s MIG Mode for GPU %s: %s' % (word, bus, err_text(err)))
            rc = exit_code(err)
            continue
        if status == pynvml.NVML_SUCCESS:
            print('%s MIG Mode for GPU %s' % ('Enabled' if mode else 'Disabled', bus))
        else:
            print('Warning: MIG mode is in pending %s state for GPU %s:%s' % (word, bus, text(pynvml.nvmlErrorString(status))))
            print('Reboot the system or try nvidia-smi --gpu-reset to make MIG mode effective on GPU %s' % bus)
    print('All done.')
    return rc


QUERY_HEADERS = {'memory.total': 'memory.total [MiB]'}


def query_value(field, index, handle, nounits):
    if field == 'index':
        return str(index)
    if field in ('name', 'gpu_name'):
        return text(pynvml.nvmlDeviceGetName(handle))
    if field in ('uuid', 'gpu_uuid'):
        return text(pynvml.nvmlDeviceGetUUID(handle))
    if field in ('pci.bus_id', 'gpu_bus_id'):
        return bus_id(handle)
    if field == 'driver_version':
        return text(pynvml.nvmlSystemGetDriverVersion())
    if field == 'count':
        return str(pynvml.nvmlDeviceGetCount())
    if field == 'serial':
        return text(pynvml.nvmlDeviceGetSerial(handle))
    if field == 'compute_cap':
        return '%d.%d' % pynvml.nvmlDeviceGetCudaComputeCapability(handle)
    if field == 'memory.total':
        mib = pynvml.nvmlDeviceGetMemoryInfo(handle).total // (1024 * 1024)
        return str(mib) if nounits else '%d MiB' % mib
    if field in ('mig.mode.current', 'mig.mode.pending'):
        try:
            modes = pynvml.nvmlDeviceGetMigMode(handle)
        except pynvml.NVMLError as err:
            if err.value == pynvml.NVML_ERROR_NOT_SUPPORTED:
                return '[N/A]'
            raise
        return 'Enabled' if modes[0 if field.endswith('current') else 1] else 'Disabled'
    return None


def cmd_query(opts):
    fmt = [f.strip() for f in opts.get('--format', '').split(',')]
    if 'csv' not in fmt:
        raise Usage('"--format=csv" is required with --query-gpu.')
    fields = [f.strip() for f in opts['--query-gpu'].split(',') if f.strip()]
    gpus = select_gpus(opts)
    nounits = 'nounits' in fmt
    rows = []
    for index, handle in gpus:
        row = []
        for field in fields:
            value = query_value(field, index, handle, nounits)
            if value is None:
                print('Field "%s" is not a valid field to query.' % field)
                return 2
            row.append(value)
        rows.append(', '.join(row))
    if 'noheader' not in fmt:
        print(', '.join(QUERY_HEADERS.get(f, f) for f in fields))
    for row in rows:
        print(row)
    return 0


def cmd_summary():
    driver = text(pynvml.nvmlSystemGetDriverVersion())
    cuda = pynvml.nvmlSystemGetCudaDriverVersion()
    print('NVIDIA-SMI %s    Driver Version: %s    CUDA Version: %d.%d' % (driver, driver, cuda // 1000, (cuda % 1000) // 10))
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        print('GPU %d: %s %s' % (index, text(pynvml.nvmlDeviceGetName(handle)), bus_id(handle)))
    return 0


# ---------------------------------------------------------------- mig listing

LGIP_HEADER = [
    '| GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  |',
    '|                              Free/Total   GiB              CE    JPEG  OFA  |',
]
LGI_HEADER = [
    '| GPU   Name               Profile  Instance   Placement  |',
    '|                            ID       ID       Start:Size |',
]
LCI_HEADER = [
    '| GPU     GPU       Name             Profile   Instance   Placement  |',
    '|       Instance                       ID        ID       Start:Size |',
    '|         ID                                                         |',
]


def cmd_lgip(opts):
    rows = []
    for index, handle in mig_gpus(opts):
        for prof in gi_profiles(handle):
            free = pynvml.nvmlDeviceGetGpuInstanceRemainingCapacity(handle, prof.id)
            line1 = '|%4d  %-16s%4d%8s%12.2f%9s%7d%6d%6d   |' % (
                index, text(prof.name), prof.id, '%d/%d' % (free, prof.instanceCount), prof.memorySizeMB / 1024.0,
                'Yes' if prof.isP2pSupported else 'No', prof.multiprocessorCount, prof.decoderCount, prof.encoderCount)
            line2 = '|%62d%6d%6d   |' % (prof.copyEngineCount, prof.jpegCount, prof.ofaCount)
            rows.append([line1, line2])
    box(79, 'GPU instance profiles:', LGIP_HEADER, rows)
    return 0


def cmd_lgipp(opts):
    for index, handle in mig_gpus(opts):
        for prof in gi_profiles(handle):
            count = ctypes.c_uint(0)
            pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(handle, prof.id, None, ctypes.byref(count))
            array = (pynvml.c_nvmlGpuInstancePlacement_t * max(count.value, 1))()
            pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(handle, prof.id, array, ctypes.byref(count))
            starts = ','.join(str(array[i].start) for i in range(count.value))
            size = array[0].size if count.value else prof.sliceCount
            label = 'Placements:' if count.value > 1 else 'Placement :'
            print('GPU %2d Profile ID %2d %s {%s}:%d' % (index, prof.id, label, starts, size))
    return 0


def cmd_lgi(opts):
    rows = []
    gi_filter = id_list(opts.get('-gi'))
    for index, handle in mig_gpus(opts):
        for prof, dummy, info in gpu_instances(handle, gi_filter):
            rows.append(['|%4d  %-20s%4d%9d%13s     |' % (
                index, text(prof.name), prof.id, info.id, '%d:%d' % (info.placement.start, info.placement.size))])
    if not rows:
        print('No GPU instances found.')
        return 6
    box(59, 'GPU instances:', LGI_HEADER, rows)
    return 0


def cmd_lci(opts):
    rows = []
    gi_filter = id_list(opts.get('-gi'))
    ci_filter = id_list(opts.get('-ci'))
    for index, handle in mig_gpus(opts):
        for dummy, gi_handle, gi_info in gpu_instances(handle, gi_filter):
            for prof, dummy, info in compute_instances(gi_handle, ci_filter):
                rows.append(['|%4d%7d       %-17s%5d%10d%13s     |' % (
                    index, gi_info.id, text(prof.name), prof.id, info.id,
                    '%d:%d' % (info.placement.start, info.placement.size))])
    if not rows:
        print('No compute instances found.')
        return 6
    box(70, 'Compute instances:', LCI_HEADER, rows)
    return 0


# ---------------------------------------------------------------- mig create / destroy

def resolve(token, profiles):
    """Match an ID, a short name ("3g.20gb") or a full name ("MIG 3g.20gb") to a profile info."""
    token = token.strip()
    for prof in profiles:
        if token.isdigit() and int(token) == prof.id:
            return prof
        if token in (text(prof.name), short(prof.name)):
            return prof
    return None


def default_ci(gi_handle, gi_prof):
    for prof in ci_profiles(gi_handle):
        if prof.sliceCount == gi_prof.sliceCount:
            return prof
    return None


def create_ci(index, gi_id, gi_handle, prof):
    ci = pynvml.nvmlGpuInstanceCreateComputeInstance(gi_handle, prof.id)
    info = pynvml.nvmlComputeInstanceGetInfo(ci)
    print('Successfully created compute instance ID %2d on GPU %2d GPU instance ID %2d using profile %s (ID %2d)' % (
        info.id, index, gi_id, text(prof.name), prof.id))


def cmd_cgi(opts):
    items = [item for item in opts['-cgi'].split(',') if item.strip()]
    for index, handle in mig_gpus(opts):
        profiles = gi_profiles(handle)
        for item in items:
            token, dummy, start = item.partition(':')
            prof = resolve(token, profiles)
            try:
                if prof is None:
                    raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
                if start:
                    placement = pynvml.c_nvmlGpuInstancePlacement_t()
                    placement.start = int(start)
                    placement.size = prof.sliceCount if prof.sliceCount in (1, 2) else 4 if prof.sliceCount < 7 else 8
                    count = ctypes.c_uint(0)
                    pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(handle, prof.id, None, ctypes.byref(count))
                    array = (pynvml.c_nvmlGpuInstancePlacement_t * max(count.value, 1))()
                    pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(handle, prof.id, array, ctypes.byref(count))
                    if count.value:
                        placement.size = array[0].size
                    gi = pynvml.nvmlDeviceCreateGpuInstanceWithPlacement(handle, prof.id, ctypes.byref(placement))
                else:
                    gi = pynvml.nvmlDeviceCreateGpuInstance(handle, prof.id)
            except pynvml.NVMLError as err:
                print('Unable to create a GPU instance on GPU %2d using profile %s: %s' % (index, token.strip(), err_text(err)))
                print('Failed to create GPU instances: %s' % err_text(err))
                return exit_code(err)
            info = pynvml.nvmlGpuInstanceGetInfo(gi)
            print('Successfully created GPU instance ID %2d on GPU %2d using profile %s (ID %2d)' % (
                info.id, index, text(prof.name), prof.id))
            if opts.get('-C'):
                try:
                    create_ci(index, info.id, gi, default_ci(gi, prof))
                except pynvml.NVMLError as err:
                    print('Unable to create a compute instance on GPU %2d GPU instance ID %2d: %s' % (index, info.id, err_text(err)))
                    print('Failed to create compute instances: %s' % err_text(err))
                    return exit_code(err)
    return 0


def cmd_cci(opts):
    items = [item for item in (opts.get('-cci') or '').split(',') if item.strip()]
    gi_filter = id_list(opts.get('-gi'))
    for index, handle in mig_gpus(opts):
        for gi_prof, gi_handle, gi_info in gpu_instances(handle, gi_filter):
            profiles = ci_profiles(gi_handle)
            wanted = [resolve(item, profiles) for item in items] if items else [default_ci(gi_handle, gi_prof)]
            for item, prof in zip(items or ['default'], wanted):
                try:
                    if prof is None:
                        raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
                    create_ci(index, gi_info.id, gi_handle, prof)
                except pynvml.NVMLError as err:
                    print('Unable to create a compute instance on GPU %2d GPU instance ID %2d using profile %s: %s' % (
                        index, gi_info.id, item, err_text(err)))
                    print('Failed to create compute instances: %s' % err_text(err))
                    return exit_code(err)
    return 0


def cmd_dci(opts):
    gi_filter = id_list(opts.get('-gi'))
    ci_filter = id_list(opts.get('-ci'))
    done = 0
    for index, handle in mig_gpus(opts):
        for dummy, gi_handle, gi_info in gpu_instances(handle, gi_filter):
            for dummy, ci_handle, info in compute_instances(gi_handle, ci_filter):
                try:
                    pynvml.nvmlComputeInstanceDestroy(ci_handle)
                except pynvml.NVMLError as err:
                    print('Unable to destroy compute instance ID %2d from GPU %2d GPU instance ID %2d: %s' % (
                        info.id, index, gi_info.id, err_text(err)))
                    print('Failed to destroy compute instances: %s' % err_text(err))
                    return exit_code(err)
                print('Successfully destroyed compute instance ID %2d from GPU %2d GPU instance ID %2d' % (info.id, index, gi_info.id))
                done += 1
    if not done:
        print('Failed to destroy compute instances: Not Found')
        return 6
    return 0


def cmd_dgi(opts):
    gi_filter = id_list(opts.get('-gi'))
    done = 0
    for index, handle in mig_gpus(opts):
        for dummy, gi_handle, info in gpu_instances(handle, gi_filter):
            try:
                pynvml.nvmlGpuInstanceDestroy(gi_handle)
            except pynvml.NVMLError as err:
                print('Unable to destroy GPU instance ID %2d from GPU %2d: %s' % (info.id, index, err_text(err)))
                print('Failed to destroy GPU instances: %s' % err_text(err))
                return exit_code(err)
            print('Successfully destroyed GPU instance ID %2d from GPU %2d' % (info.id, index))
            done += 1
    if not done:
        print('Failed to destroy GPU instances: Not Found')
        return 6
    return 0


MIG_COMMANDS = (
    ('-lgipp', cmd_lgipp, 'display GPU instance profiles'),
    ('-lgip', cmd_lgip, 'display GPU instance profiles'),
    ('-lgi', cmd_lgi, 'display GPU instances'),
    ('-lci', cmd_lci, 'display compute instances'),
    ('-cgi', cmd_cgi, 'create GPU instances'),
    ('-cci', cmd_cci, 'create compute instances'),
    ('-dci', cmd_dci, 'destroy compute instances'),
    ('-dgi', cmd_dgi, 'destroy GPU instances'),
)


def run_mig(opts):
    chosen = [entry for entry in MIG_COMMANDS if entry[0] in opts]
    if len(chosen) != 1:
        raise Usage('Invalid combination of input arguments. Please run \'nvidia-smi mig -h\' for help.')
    dummy, func, what = chosen[0]
    try:
        return func(opts)
    except pynvml.NVMLError as err:
        print('Failed to %s: %s' % (what, err_text(err)))
        return exit_code(err)


def run(opts):
    if opts.get('-h'):
        print(USAGE)
        return 0
    if opts['mig']:
        return run_mig(opts)
    if opts.get('-L'):
        return cmd_list(opts)
    if opts.get('-r'):
        return cmd_reset(opts)
    if '-mig' in opts:
        return cmd_mig_mode(opts)
    if '--query-gpu' in opts:
        return cmd_query(opts)
    if '--format' in opts:
        raise Usage('--format requires --query-gpu.')
    return cmd_summary()


def main(argv=None):
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except Usage as exc:
        sys.stderr.write('%s\n' % exc)
        return 2
    if opts.get('-h'):
        print(USAGE)
        return 0
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as err:
        if err.value == pynvml.NVML_ERROR_NO_PERMISSION:
            print('Failed to initialize NVML: Insufficient Permissions')
            return 4
        print('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver. '
              'Make sure that the latest NVIDIA driver is installed and running.')
        return 9
    try:
        return run(opts)
    except Usage as exc:
        sys.stderr.write('%s\n' % exc)
        return 2
    except Failure as exc:
        return exc.code
    finally:
        pynvml.nvmlShutdown()


if __name__ == '__main__':
    sys.exit(main())
