# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dynamic Resource Allocation (resource.k8s.io/v1) in k8ssim: what NVIDIA's DRA kubelet plugin (driver
``gpu.nvidia.com``) publishes from a node's fake NVML, a subset of CEL for device selectors, and a simple allocator.

Written from NVIDIA's source, ``kubernetes-sigs/dra-driver-nvidia-gpu`` at 95932046 (../shared/nvidia):

- ``cmd/gpu-kubelet-plugin/nvlib.go`` ``GetPerGpuAllocatableDevices``: a GPU with MIG disabled is one device
  ``gpu-<minor>``; a MIG-enabled GPU announces only its existing MIG devices ("static MIG"), and none at all when it
  has no MIG devices ("Likely unintentionally stranded capacity"); ``getGpuInfo`` and ``getMigDevices`` read NVML;
- ``cmd/gpu-kubelet-plugin/deviceinfo.go`` ``GpuInfo.GetDevice``/``MigDeviceInfo.GetDevice`` and ``mig.go``
  ``CommonAttributesMig``/``CommonCapacitiesMig``/``MigSpecTuple.ToCanonicalName``: names, attributes, capacities;
- ``cmd/gpu-kubelet-plugin/driver.go`` ``publishResources``: one pool named after the node, one slice;
- ``vendor/k8s.io/dynamic-resource-allocation/resourceslice/resourceslicecontroller.go``: the slice's generateName,
  owner (the Node) and pool generation.

The NVML read runs in a child process (``python sim_dra.py STATE``) against the node's fake NVML, as the plugin's
``nvmlInit`` would, so a node's slices change only when its plugin pod (re)starts.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import subprocess
import sys

DRIVER = 'gpu.nvidia.com'
API_VERSION = 'resource.k8s.io/v1'
# The chart's names (deployments/helm/dra-driver-nvidia-gpu: Chart.yaml name, templates/kubeletplugin.yaml
# "<name>-kubelet-plugin", _helpers.tpl templateLabels and selectorLabels); the namespace is the release's, and
# NVIDIA's own install script uses dra-driver-nvidia-gpu (hack/ci/gcp-nvkind/install-dra-driver.sh).
CHART = 'dra-driver-nvidia-gpu'
# The node label that gates the kubelet plugin: the chart's kubeletPlugin.nodeSelector is {} (every GPU node its
# affinity finds), so moving nodes one at a time needs one; this is the label the GPU Operator's own DRA state gates
# its kubelet plugin on (NVIDIA/gpu-operator manifests/state-dra-driver/0500_daemonset.yaml at 046c48fb:
# "nodeSelector: nvidia.com/gpu.deploy.dra-driver: true"). [uncertain] which label a chart install next to a
# ClusterPolicy uses is the administrator's choice; the description can name another (dra_driver.node_selector).
DEPLOY_LABEL = 'nvidia.com/gpu.deploy.dra-driver'
DEFAULTS = {'namespace': CHART, 'daemonset': CHART + '-kubelet-plugin', 'release': CHART, 'restart_delay': 0.3,
            'termination_grace': 0.1, 'crashloop_backoff': 1.0, 'device_classes': None,
            'node_selector': {DEPLOY_LABEL: 'true'}, 'slice_wipe_delay': None}
# The kubelet removes the ResourceSlices of a driver whose plugin went away this long after it de-registered, unless
# a plugin of the driver registers again first (kubernetes pkg/kubelet/cm/dra/manager.go defaultWipingDelay, 30 s).
KUBELET_WIPING_DELAY_S = 30.0
# KEP-5004 (DRAExtendedResource): resource.k8s.io/v1 ExtendedResourceClaimAnnotation and ResourceDeviceClassPrefix.
EXTENDED_RESOURCE_CLAIM_ANNOTATION = 'resource.kubernetes.io/extended-resource-claim'
IMPLICIT_EXTENDED_RESOURCE_PREFIX = 'deviceclass.resource.kubernetes.io/'
MIG_MODES = ('static', 'dynamic')
ALLOCATORS = ('device-plugin', 'dra')
# The chart's DeviceClasses (templates/deviceclass-gpu.yaml, deviceclass-mig.yaml) for resource.k8s.io/v1.
DEFAULT_DEVICE_CLASSES = [
    {'metadata': {'name': 'gpu.nvidia.com'},
     'spec': {'selectors': [{'cel': {'expression': "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'"}}],
              'extendedResourceName': 'nvidia.com/gpu'}},
    {'metadata': {'name': 'mig.nvidia.com'},
     'spec': {'selectors': [{'cel': {'expression': "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig'"}}]}},
]
# go-nvlib pkg/nvlib/device/device.go GetArchitectureAsString, by nvmlDeviceArchitecture_t.
ARCHITECTURES = {2: 'Kepler', 3: 'Maxwell', 4: 'Pascal', 5: 'Volta', 6: 'Turing', 7: 'Ampere', 8: 'Ada Lovelace', 9: 'Hopper',
                 10: 'Blackwell', 11: 'Rubin', 0xffffffff: 'Unknown'}
ADDRESSING_MODES = {0: 'None', 1: 'HMM', 2: 'ATS'}  # GetAddressingModeAsString
PCI_BUS_ID_ATTRIBUTE = 'resource.kubernetes.io/pciBusID'


class DraPluginError(Exception):
    """The kubelet plugin fails to start with this message (its pod crash-loops)."""


class AllocationError(Exception):
    """A pod's claims cannot be allocated on a node; the message is the scheduler's reason."""


class UnsupportedSelector(AllocationError):
    """A CEL expression outside the subset the simulated allocator evaluates."""


# ---------------------------------------------------------------------------------------------- NVML (child process)
def _nvml_inventory():
    """In the child, with FAKE_NVML_STATE set: the facts getGpuInfo and getMigDevices read, per GPU."""
    import pynvml  # pylint: disable=import-outside-toplevel,import-error
    pynvml.nvmlInit()
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            try:
                mig_enabled = pynvml.nvmlDeviceGetMigMode(handle)[0] == 1
            except pynvml.NVMLError_NotSupported:
                mig_enabled = False  # go-nvlib IsMigEnabled: not MIG capable
            try:
                brand = pynvml.nvmlDeviceGetBrand(handle)
            except pynvml.NVMLError_FunctionNotFound:
                brand = None  # the fake NVML does not export nvmlDeviceGetBrand (see publish_devices)
            try:
                addressing = pynvml.nvmlDeviceGetAddressingMode(handle)
            except (pynvml.NVMLError_NotSupported, pynvml.NVMLError_FunctionNotFound, AttributeError):
                addressing = None
            bus = pynvml.nvmlDeviceGetPciInfo(handle).busId
            gpu = {'index': index, 'minor': pynvml.nvmlDeviceGetMinorNumber(handle), 'uuid': pynvml.nvmlDeviceGetUUID(handle),
                   'name': pynvml.nvmlDeviceGetName(handle), 'architecture': pynvml.nvmlDeviceGetArchitecture(handle),
                   'brand': brand, 'cc': '%d.%d' % pynvml.nvmlDeviceGetCudaComputeCapability(handle),
                   'memory': pynvml.nvmlDeviceGetMemoryInfo(handle).total, 'mig_enabled': mig_enabled,
                   'bus_id': bus.decode() if isinstance(bus, bytes) else bus, 'addressing_mode': addressing, 'mig': []}
            if mig_enabled:
                gpu['mig'] = _nvml_mig_devices(pynvml, handle)
            gpus.append(gpu)
        return {'driver_version': driver, 'cuda_driver_version': cuda, 'gpus': gpus}
    finally:
        pynvml.nvmlShutdown()


def _nvml_mig_devices(pynvml, handle):
    """walkMigDevices: each MIG device's GPU instance (profile, placement) and compute instance."""
    profiles = {}
    for enum in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
        try:
            info = pynvml.nvmlDeviceGetGpuInstanceProfileInfoV(handle, enum)
        except pynvml.NVMLError:
            continue
        profiles[info.id] = info
    devices = []
    for slot in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except pynvml.NVMLError_NotFound:
            continue
        gi = pynvml.nvmlDeviceGetGpuInstanceById(handle, pynvml.nvmlDeviceGetGpuInstanceId(mig))
        gi_info = pynvml.nvmlGpuInstanceGetInfo(gi)
        ci_info = pynvml.nvmlComputeInstanceGetInfo(pynvml.nvmlGpuInstanceGetComputeInstanceById(gi, pynvml.nvmlDeviceGetComputeInstanceId(mig)))
        profile = profiles[gi_info.profileId]
        ci_slices = None
        for enum in range(pynvml.NVML_COMPUTE_INSTANCE_PROFILE_COUNT):
            try:
                ci_profile = pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, enum, 0)
            except pynvml.NVMLError:
                continue
            if ci_profile.id == ci_info.profileId:
                ci_slices = ci_profile.sliceCount
        name = profile.name.decode() if isinstance(profile.name, bytes) else profile.name
        devices.append({'uuid': pynvml.nvmlDeviceGetUUID(mig), 'gi_profile_id': profile.id, 'gi_slices': profile.sliceCount,
                        'ci_slices': ci_slices, 'profile': name[4:] if name.startswith('MIG ') else name,
                        'placement_start': gi_info.placement.start, 'placement_size': gi_info.placement.size,
                        'memory_mib': profile.memorySizeMB, 'multiprocessors': profile.multiprocessorCount,
                        'copy_engines': profile.copyEngineCount, 'decoders': profile.decoderCount, 'encoders': profile.encoderCount,
                        'jpeg': profile.jpegCount, 'ofa': profile.ofaCount})
    return devices


def read_node(state, sim_build, python=None):
    """The NVML facts of a node's fake NVML state, read in a child process (raises DraPluginError)."""
    env = dict(os.environ, FAKE_NVML_STATE=state)
    env['LD_LIBRARY_PATH'] = os.path.join(sim_build, 'lib') + (':' + env['LD_LIBRARY_PATH'] if env.get('LD_LIBRARY_PATH') else '')
    proc = subprocess.run([python or sys.executable, os.path.abspath(__file__), state], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise DraPluginError('error enumerating allocatable devices: %s' % (lines[-1] if lines else 'NVML read failed'))
    return json.loads(proc.stdout)


# ---------------------------------------------------------------------------------------------- devices
def binary_si(value):
    """resource.NewQuantity(value, BinarySI) as the API server writes it: the largest exact binary suffix."""
    value = int(value)
    if -1024 < value < 1024:
        return str(value)
    for exponent, suffix in ((6, 'Ei'), (5, 'Pi'), (4, 'Ti'), (3, 'Gi'), (2, 'Mi'), (1, 'Ki')):
        if value % (1024 ** exponent) == 0:
            return '%d%s' % (value // 1024 ** exponent, suffix)
    return str(value)


def _semver(text):
    """semver.MustParse(text).String(): missing minor and patch become 0."""
    parts = (str(text).split('.') + ['0', '0'])[:3]
    return '.'.join(str(int(p)) for p in parts)


def canonical_mig_name(minor, profile, gi_profile_id, placement_start):
    """mig.go MigSpecTuple.ToCanonicalName: dots removed, then toRFC1123Compliant (lower case, other characters -> '-')."""
    pname = re.sub(r'[^a-z0-9-.]', '-', profile.replace('.', '').lower()).strip('-').rstrip('.')
    return 'gpu-%d-mig-%s-%d-%d' % (minor, pname, gi_profile_id, placement_start)


def _gpu_attributes(facts, gpu):
    """GpuInfo.Attributes / CommonAttributesMig: what both device kinds take from the physical GPU."""
    attrs = {'productName': {'string': gpu['name']},
             'architecture': {'string': ARCHITECTURES.get(gpu['architecture'], 'Unknown')},
             'cudaComputeCapability': {'version': _semver(gpu['cc'])},
             'driverVersion': {'version': _semver(facts['driver_version'])},
             # getGpuInfo: "%v.%v" of cudaDriverVersion/1000 and (cudaDriverVersion%1000)/10
             'cudaDriverVersion': {'version': _semver('%d.%d' % (facts['cuda_driver_version'] // 1000,
                                                                 (facts['cuda_driver_version'] % 1000) // 10))}}
    # [uncertain] NVIDIA's driver always sets brand (GetBrandAsString), but the fake NVML has no nvmlDeviceGetBrand (the
    # real plugin would fail to start on it); rather than invent a brand, the attribute is left out until the fake has one.
    if gpu.get('brand') is not None:
        attrs['brand'] = {'string': _BRANDS.get(gpu['brand'], 'Unknown')}
    if gpu.get('addressing_mode') in ADDRESSING_MODES:
        attrs['addressingMode'] = {'string': ADDRESSING_MODES[gpu['addressing_mode']]}
    # go-nvlib GetPCIBusID: lower case, the 8-digit NVML domain cut to 4 (deviceattribute.GetPCIBusIDAttribute).
    bus = gpu['bus_id'].lower()
    if re.match(r'^0000[0-9a-f]{4}:', bus):
        bus = bus[4:]
    attrs[PCI_BUS_ID_ATTRIBUTE] = {'string': bus}
    # Not modelled: resource.kubernetes.io/pcieRoot and numaNode, which the plugin reads from sysfs (no sysfs here).
    return attrs


# go-nvlib GetBrandAsString, by nvmlBrandType_t (used once the fake NVML answers nvmlDeviceGetBrand).
_BRANDS = {0: 'Unknown', 1: 'Quadro', 2: 'Tesla', 3: 'NVS', 4: 'Grid', 5: 'GeForce', 6: 'Titan', 7: 'NvidiaVApps', 8: 'NvidiaVPC',
           9: 'NvidiaVCS', 10: 'NvidiaVWS', 11: 'NvidiaCloudGaming', 12: 'QuadroRTX', 13: 'NvidiaRTX', 14: 'Nvidia', 15: 'GeForceRTX'}


def publish_devices(facts):
    """The devices of the node's one ResourceSlice with static MIG (raises DraPluginError where the plugin fails).

    NVIDIA's plugin appends them in Go map order (unspecified); the simulator sorts them by GPU minor, then name."""
    devices = []
    for gpu in sorted(facts['gpus'], key=lambda g: g['minor']):
        common = _gpu_attributes(facts, gpu)
        if not gpu['mig_enabled']:
            attrs = dict(common, type={'string': 'gpu'}, uuid={'string': gpu['uuid']})
            devices.append({'name': 'gpu-%d' % gpu['minor'], 'attributes': attrs, 'capacity': {'memory': {'value': binary_si(gpu['memory'])}}})
            continue
        # A MIG-enabled GPU without MIG devices announces nothing (stranded).
        migs = []
        for mig in gpu['mig']:
            if mig['ci_slices'] != mig['gi_slices']:
                # getMigDevices matches only profiles with as many compute slices as GPU slices (getGpuInfo: G == C).
                raise DraPluginError('error enumerating allocatable devices: error visiting devices: error discovering MIG devices for '
                                     'GPU "gpu-%d": error getting MIG devices for GPU "gpu-%d": error enumerating MIG devices: error '
                                     'getting profile info for MIG device: %s' % (gpu['minor'], gpu['minor'], mig['uuid']))
            attrs = dict(common, type={'string': 'mig'}, parentUUID={'string': gpu['uuid']}, profile={'string': mig['profile']},
                         uuid={'string': mig['uuid']})
            capacity = dict((key, {'value': binary_si(mig[field])}) for key, field in (
                ('multiprocessors', 'multiprocessors'), ('copyEngines', 'copy_engines'), ('decoders', 'decoders'),
                ('encoders', 'encoders'), ('jpegEngines', 'jpeg'), ('ofaEngines', 'ofa')))
            capacity['memory'] = {'value': binary_si(mig['memory_mib'] * 1024 * 1024)}
            for memory_slice in range(mig['placement_start'], mig['placement_start'] + mig['placement_size']):
                capacity['memorySlice%d' % memory_slice] = {'value': '1'}
            migs.append({'name': canonical_mig_name(gpu['minor'], mig['profile'], mig['gi_profile_id'], mig['placement_start']),
                         'attributes': attrs, 'capacity': capacity})
        devices.extend(sorted(migs, key=lambda d: d['name']))
    return devices


def resource_slice(node, devices, name):
    """A new ResourceSlice of the node's pool: generation 1, owned by the Node, named as the slice controller does
    (generateName "<index>-<driver>-<owner name>-")."""
    return {'metadata': {'name': name, 'ownerReferences': [{'apiVersion': 'v1', 'kind': 'Node', 'name': node['metadata']['name'],
                                                            'uid': node['metadata']['uid'], 'controller': True}]},
            'spec': {'driver': DRIVER, 'nodeName': node['metadata']['name'],
                     'pool': {'name': node['metadata']['name'], 'generation': 1, 'resourceSliceCount': 1}, 'devices': devices}}


def slice_name_prefix(node_name):
    return '0-%s-%s-' % (DRIVER, node_name)


# ---------------------------------------------------------------------------------------------- CEL subset
_STRING = r'''(?:'([^'\\]*)'|"([^"\\]*)")'''
_DRIVER_TERM = re.compile(r'^device\.driver\s*(==|!=)\s*%s$' % _STRING)
_ATTRIBUTE_TERM = re.compile(r'^device\.attributes\[%s\]\.([A-Za-z][A-Za-z0-9_]*)\s*(==|!=)\s*(?:%s|(true|false)|(-?[0-9]+))$'
                             % (_STRING, _STRING))
SUPPORTED_CEL = ('device.driver == "..."', 'device.attributes["DOMAIN"].NAME == "..." (or a bool or int)',
                 'their != forms, joined with &&')


def compile_expression(expression):
    """A CEL selector as a list of (field, domain, name, operator, value) terms; UnsupportedSelector outside the subset."""
    terms = []
    text = expression.strip()
    while text.startswith('(') and text.endswith(')') and '(' not in text[1:-1]:
        text = text[1:-1].strip()
    for part in text.split('&&'):
        part = part.strip()
        match = _DRIVER_TERM.match(part)
        if match:
            terms.append(('driver', None, None, match.group(1), match.group(2) if match.group(2) is not None else match.group(3)))
            continue
        match = _ATTRIBUTE_TERM.match(part)
        if match:
            domain = match.group(1) if match.group(1) is not None else match.group(2)
            if match.group(5) is not None or match.group(6) is not None:
                value = ('string', match.group(5) if match.group(5) is not None else match.group(6))
            elif match.group(7) is not None:
                value = ('bool', match.group(7) == 'true')
            else:
                value = ('int', int(match.group(8)))
            terms.append(('attribute', domain, match.group(3), match.group(4), value))
            continue
        raise UnsupportedSelector('k8ssim: the simulated allocator does not evaluate the CEL expression %s (supported: %s)'
                                  % (json.dumps(expression), '; '.join(SUPPORTED_CEL)))
    return terms


def _term_true(term, driver, device):
    field, domain, name, operator, value = term
    if field == 'driver':
        equal = driver == value
    else:
        # An attribute name without a domain is in the driver's own domain (resource.k8s.io/v1 QualifiedName).
        attrs = device.get('attributes') or {}
        attr = attrs.get(name) if domain == driver else None
        attr = attrs.get('%s/%s' % (domain, name), attr)
        if attr is None:
            return False  # CEL: "no such key" is a runtime error; the device does not match
        kind, wanted = value
        equal = attr.get(kind) == wanted if kind in attr else False
    return equal if operator == '==' else not equal


def selectors_match(selectors, driver, device):
    """Every selector of a DeviceClass or request is true for the device."""
    for selector in selectors or []:
        expression = (selector.get('cel') or {}).get('expression')
        if expression is None:
            raise UnsupportedSelector('k8ssim: a device selector without cel.expression is not supported')
        if not all(_term_true(term, driver, device) for term in compile_expression(expression)):
            return False
    return True


# ---------------------------------------------------------------------------------------------- allocator
def allocate_on_node(claims, classes, node_slices, in_use):
    """Allocation results for each unallocated claim on one node: {claim name: [result]}; raises AllocationError.

    First free device of the node's slices, in slice order, that matches the request's DeviceClass and selectors.
    ``in_use`` holds (driver, pool, device) of every allocated claim."""
    taken = set(in_use)
    planned = {}
    for claim in claims:
        spec = (claim.get('spec') or {}).get('devices') or {}
        if spec.get('constraints'):
            raise AllocationError('k8ssim: claim %s: device constraints are not simulated' % claim['metadata']['name'])
        results = []
        for request in spec.get('requests') or []:
            exactly = request.get('exactly')
            if exactly is None:
                raise AllocationError('k8ssim: claim %s request %s: only "exactly" requests are simulated (not firstAvailable)'
                                      % (claim['metadata']['name'], request.get('name')))
            device_class = classes.get(exactly.get('deviceClassName'))
            if device_class is None:
                raise AllocationError('device class %s does not exist' % exactly.get('deviceClassName'))
            mode = exactly.get('allocationMode') or 'ExactCount'
            if mode not in ('ExactCount', 'All'):
                raise AllocationError('k8ssim: allocationMode %s is not simulated' % mode)
            count = int(exactly.get('count') or 1)
            found = []
            for driver, pool, device in node_slices:
                key = (driver, pool, device['name'])
                if key in taken:
                    continue
                if not selectors_match((device_class.get('spec') or {}).get('selectors'), driver, device):
                    continue
                if not selectors_match(exactly.get('selectors'), driver, device):
                    continue
                found.append(key)
                if mode == 'ExactCount' and len(found) == count:
                    break
            if (mode == 'ExactCount' and len(found) < count) or not found:
                raise AllocationError('cannot allocate all claims')
            taken.update(found)
            results.extend({'request': request.get('name'), 'driver': d, 'pool': p, 'device': n} for d, p, n in found)
        planned[claim['metadata']['name']] = results
    return planned


# ---------------------------------------------------------------------------------------------- KEP-5004
def extended_resource_classes(classes):
    """{extended resource name: DeviceClass name}: each class's spec.extendedResourceName and its implicit name
    ``deviceclass.resource.kubernetes.io/<class>``. Two classes with one name: the one created later wins, and of two
    created at the same time the first by name (resource.k8s.io/v1 DeviceClassSpec.ExtendedResourceName)."""
    ranked = sorted(classes, key=lambda c: c['metadata']['name'])
    ranked.sort(key=lambda c: c['metadata'].get('creationTimestamp') or '', reverse=True)
    mapping = {}
    for device_class in ranked:
        name = device_class['metadata']['name']
        for resource in (IMPLICIT_EXTENDED_RESOURCE_PREFIX + name, (device_class.get('spec') or {}).get('extendedResourceName')):
            if resource and resource not in mapping:
                mapping[resource] = name
    return mapping


def extended_requests(containers, mapping, node_allocatable):
    """The device requests of the scheduler's special claim for a pod on one node: one per container and extended
    resource that a DeviceClass maps and the node does not advertise (allocatable 0: a node that advertises it serves
    it through its device plugin). Names as kube-scheduler's createDeviceRequests: ``container-<i>-request-<j>``, i the
    index in initContainers + containers, j the index of the resource among the container's sorted request names.

    ``containers`` is [(container name, {resource: count})]; returns [(request, container name, resource)], sorted by
    request name, where request is a DeviceRequest."""
    found = []
    for index, (container, wanted) in enumerate(containers):
        keys = sorted(wanted)
        for resource in keys:
            count = wanted[resource]
            if count <= 0 or resource not in mapping or node_allocatable.get(resource, 0) > 0:
                continue
            name = 'container-%d-request-%d' % (index, keys.index(resource))
            request = {'name': name, 'exactly': {'deviceClassName': mapping[resource], 'allocationMode': 'ExactCount', 'count': int(count)}}
            found.append((request, container, resource))
    return sorted(found, key=lambda item: item[0]['name'])


def allocation(results, node_name):
    """status.allocation of a claim allocated on a node (node-local devices: a nodeSelector for that node)."""
    return {'devices': {'results': results},
            'nodeSelector': {'nodeSelectorTerms': [{'matchFields': [{'key': 'metadata.name', 'operator': 'In', 'values': [node_name]}]}]}}


def allocated_node(claim):
    """The node a claim's allocation is bound to, or None."""
    selector = (((claim.get('status') or {}).get('allocation') or {}).get('nodeSelector') or {})
    for term in selector.get('nodeSelectorTerms') or []:
        for field in term.get('matchFields') or []:
            if field.get('key') == 'metadata.name' and field.get('values'):
                return field['values'][0]
    return None


if __name__ == '__main__':
    try:
        print(json.dumps(_nvml_inventory()))
    except Exception as exc:  # pylint: disable=broad-except
        print('NVML: %s' % exc, file=sys.stderr)
        sys.exit(1)
