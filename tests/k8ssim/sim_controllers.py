# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated control plane and kubelets: scheduler, ReplicaSet and DaemonSet
controllers, disruption (PDB) controller, node lifecycle taint, kubelet pod lifecycle and
the NVIDIA device plugin.  ``Simulation.tick()`` runs every ``tick`` seconds."""

from __future__ import absolute_import, division, print_function

import functools
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time

import sim_deviceplugin as deviceplugin
import sim_dra
import sim_kubelet
import sim_podresources
import sim_nvidia
from sim_selectors import match_label_selector_object
from sim_store import ApiError, not_found, now_iso, parse_quantity, BY_PLURAL

CONFIG_LABEL = 'nvidia.com/device-plugin.config'
# The GPU Operator's device plugin DaemonSet runs on the nodes with this label "true" (k8s.md 3.1: operand DaemonSets
# use nodeSelector nvidia.com/gpu.deploy.<operand>: "true"; "false" is the administrator's opt-out).
DEVICE_PLUGIN_DEPLOY_LABEL = 'nvidia.com/gpu.deploy.device-plugin'
# Off unless the description turns it on: DRAExtendedResource is alpha (off by default) in 1.34 and 1.35 and beta in
# 1.36 [uncertain: on by default there]; the server says it is v1.31, and with it on the chart's gpu.nvidia.com class
# (extendedResourceName nvidia.com/gpu) would draw nvidia.com/gpu pods onto DRA nodes in every existing description.
FEATURE_GATES = {'DRAExtendedResource': False}
# The scheduler's in-memory name of a pod's special claim before it is created (dynamicresources specialClaimInMemName).
EXTENDED_CLAIM = '<extended-resources>'
# Node Feature Discovery keeps the names of the labels it set from feature files here, to remove them when they go.
FEATURE_LABELS_ANNOTATION = 'nfd.node.kubernetes.io/feature-labels'
PLUGIN_IMPLEMENTATIONS = ('nvidia', 'model')
# A started plugin is settled when no new resource registered for this long (its plugins register one after another).
SETTLE_S = 0.3
UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable'
_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789'
DEFAULT_TOLERATIONS = [
    {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
    {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
]
DS_TOLERATIONS = [
    {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute'},
    {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute'},
    {'key': 'node.kubernetes.io/disk-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/memory-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/pid-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/unschedulable', 'operator': 'Exists', 'effect': 'NoSchedule'},
]


def _suffix(length=5):
    return ''.join(random.choice(_NAME_CHARS) for dummy in range(length))


def _template_hash(template):
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def pod_ready(pod):
    for cond in (pod.get('status') or {}).get('conditions') or []:
        if cond.get('type') == 'Ready':
            return cond.get('status') == 'True'
    return False


def tolerates(tolerations, taint):
    for tol in tolerations or []:
        if tol.get('effect') and tol.get('effect') != taint.get('effect'):
            continue
        if tol.get('operator') == 'Exists':
            if not tol.get('key') or tol.get('key') == taint.get('key'):
                return True
        elif tol.get('key') == taint.get('key') and (tol.get('value') or '') == (taint.get('value') or ''):
            return True
    return False


def pod_requests(pod):
    """Requested resources of a pod (limits stand in for missing requests, as for extended resources)."""
    total = {}
    for container in (pod.get('spec') or {}).get('containers') or []:
        resources = container.get('resources') or {}
        merged = dict(resources.get('limits') or {})
        merged.update(resources.get('requests') or {})
        for name, value in merged.items():
            total[name] = total.get(name, 0.0) + parse_quantity(value)
    return total


def container_requests(pod, init=True):
    """[(container name, {resource: count})] of the pod's initContainers (with ``init``) and containers, limits standing
    in for missing requests as the API server's defaulting does for extended resources."""
    spec = pod.get('spec') or {}
    found = []
    for container in (list(spec.get('initContainers') or []) if init else []) + list(spec.get('containers') or []):
        resources = container.get('resources') or {}
        merged = dict(resources.get('limits') or {})
        merged.update(resources.get('requests') or {})
        found.append((container.get('name', 'main'), dict((k, parse_quantity(v)) for k, v in merged.items())))
    return found


def dra_backed(pod):
    """(container, resource) pairs of the pod that KEP-5004 serves from DRA (status.extendedResourceClaimStatus)."""
    mappings = ((pod.get('status') or {}).get('extendedResourceClaimStatus') or {}).get('requestMappings') or []
    return set((m.get('containerName'), m.get('resourceName')) for m in mappings)


def owner_uid(obj, kind=None):
    for ref in (obj.get('metadata') or {}).get('ownerReferences') or []:
        if ref.get('controller') and (kind is None or ref.get('kind') == kind):
            return ref.get('uid')
    return None


def _scaled(value, total, round_up):
    if isinstance(value, str) and value.endswith('%'):
        fraction = float(value[:-1]) * total / 100.0
        return int(math.ceil(fraction)) if round_up else int(math.floor(fraction))
    return int(value)


class Simulation(object):
    """Everything that is not the REST layer.  All methods expect ``store.lock`` held,
    except ``tick`` and ``bootstrap`` which take it themselves."""

    def __init__(self, description, store, base_dir='.', state_dir=None):
        self.desc = description or {}
        self.store = store
        self.base_dir = base_dir
        self.state_dir = state_dir
        self.tick_s = float(self.desc.get('tick', 0.1))
        self.time_scale = float(self.desc.get('time_scale', 1.0))
        self.pod_start_delay = float(self.desc.get('pod_start_delay', 0.2))
        self.internal = {}  # pod uid -> {start_at, delete_at, grace, retry_at, kind}
        self.workload_cfg = {}  # replicaset uid -> {start_delay, grace}
        self.nodes_cfg = {}
        default_simnode = self.desc.get('simnode') or os.path.join(os.environ.get('SIM_BUILD', ''), 'bin', 'simnode')
        for node in self.desc.get('nodes') or []:
            state = node.get('nvml_state')
            if state and not os.path.isabs(state):
                state = os.path.join(base_dir, state)
            allocator = node.get('allocator', 'device-plugin')
            if allocator not in sim_dra.ALLOCATORS:
                raise ValueError('node %s: allocator must be one of %s, got %r' % (node['name'], ', '.join(sim_dra.ALLOCATORS), allocator))
            dra = node.get('dra') or {}
            if allocator == 'dra' and not state:
                raise ValueError('node %s: allocator dra needs an nvml_state (a GPU node)' % node['name'])
            if dra and (allocator != 'dra' or set(dra) - {'mig'}):
                raise ValueError('node %s: dra takes only mig, and only with allocator dra' % node['name'])
            dra_mode = dra.get('mig', 'static')
            if dra_mode not in sim_dra.MIG_MODES:
                raise ValueError('node %s: dra.mig must be one of %s, got %r' % (node['name'], ', '.join(sim_dra.MIG_MODES), dra_mode))
            self.nodes_cfg[node['name']] = {'nvml_state': state, 'simnode': node.get('simnode') or default_simnode,
                                            'allocator': allocator, 'dra_mig': dra_mode}
        gates = self.desc.get('feature_gates') or {}
        for gate, value in gates.items():
            if gate not in FEATURE_GATES or not isinstance(value, bool):
                raise ValueError('feature_gates: %s: %r is not valid; valid: %s, each true or false'
                                 % (gate, value, ', '.join(sorted(FEATURE_GATES))))
        self.feature_gates = dict(FEATURE_GATES, **gates)
        dp = dict(self.desc.get('device_plugin') or {})
        dp.setdefault('namespace', 'gpu-operator')
        dp.setdefault('daemonset', 'nvidia-device-plugin-daemonset')
        dp.setdefault('configmap', None)
        dp.setdefault('default_config', None)
        dp.setdefault('configs', {})
        dp.setdefault('restart_delay', 0.3)
        dp.setdefault('termination_grace', 0.1)
        dp.setdefault('crashloop_backoff', 1.0)
        dp.setdefault('labels', {'app': dp['daemonset']})
        dp.setdefault('crashloop_backoff_max', 10 * float(dp['crashloop_backoff']))
        # The kubelet forgets a stopped plugin's resource 5 minutes after its stream ended (endpointStopGracePeriod).
        dp.setdefault('endpoint_stop_grace', 300.0 * self.time_scale)
        dp.setdefault('startup_timeout', 60.0)
        if dp.get('implementation') not in (None,) + PLUGIN_IMPLEMENTATIONS:
            raise ValueError('device_plugin.implementation must be one of %s, got %r' % (', '.join(PLUGIN_IMPLEMENTATIONS), dp['implementation']))
        self.dp = dp
        unknown = sorted(set(self.desc.get('dra_driver') or {}) - set(sim_dra.DEFAULTS))
        if unknown:
            raise ValueError('dra_driver: unknown keys %s' % ', '.join(unknown))
        self.dra = dict(sim_dra.DEFAULTS, **(self.desc.get('dra_driver') or {}))
        selector = self.dra['node_selector']
        if not isinstance(selector, dict) or not selector or not all(isinstance(v, str) for v in selector.values()):
            raise ValueError('dra_driver.node_selector must be a non-empty map of label to string value, got %r' % (selector,))
        if self.dra['slice_wipe_delay'] is None:
            self.dra['slice_wipe_delay'] = sim_dra.KUBELET_WIPING_DELAY_S * self.time_scale
        # Each node's labels at start: a GPU node's allocator becomes the labels that select the plugin DaemonSets.
        self.initial_labels = dict((node['name'], self._initial_labels(node)) for node in self.desc.get('nodes') or [])
        self.dra_unregistered = {}  # node -> when its DRA kubelet plugin last stopped being registered
        # node -> {start_error, restart_delay}: faults of its DRA kubelet plugin (control API /_sim/dra-plugin/<node>)
        self.dra_plugin_faults = {}
        self.model_unregistered = {}  # node -> when the model's device plugin pod left the node
        self.model_served = set()  # nodes whose resources the model's plugin has advertised
        self.plugin_impl = None  # 'nvidia' or 'model', decided in bootstrap
        self.kubelet_root = None
        self.kubelets = {}  # node -> sim_kubelet.DeviceManager
        self.pod_resources = {}  # node -> sim_podresources.PodResourcesServer (the kubelet's pod-resources API)
        self.node_dirs = {}  # node -> folder of its kubelet dir, configs, feature file
        self.procs = {}  # plugin pod uid -> sim_nvidia.PluginProcess
        self.stopping_procs = []
        self.gfd_results = {}  # node -> (generation, labels, error)
        self.gfd_generation = {}
        self.gfd_applied = {}
        self.gfd_threads = []
        self.plugin_log = []  # one entry per plugin start: node, pod, strategy, config, result
        # Per PDB ("ns/name"): the lowest currentHealthy - desiredHealthy seen by the disruption controller, so a
        # test can tell whether a budget was ever broken (a negative margin), not only whether it is broken now.
        self.pdb_low_water = {}

    # ------------------------------------------------------------------ bootstrap
    def bootstrap(self):
        self._setup_plugins()
        self._setup_dra_kubelets()
        with self.store.lock:
            namespaces = {'default', 'kube-system', 'kube-public', 'kube-node-lease'}
            namespaces.add(self.dp['namespace'])
            if self.dra_driver_installed():
                namespaces.add(self.dra['namespace'])
            namespaces.update(t.get('namespace', 'default') for t in self.desc.get('resource_claim_templates') or [])
            namespaces.update(w.get('namespace', 'default') for w in self.desc.get('workloads') or [])
            namespaces.update(p.get('namespace', 'default') for p in self.desc.get('pdbs') or [])
            namespaces.update(self.desc.get('namespaces') or [])
            for name in sorted(namespaces):
                self.store.add('namespaces', {'metadata': {'name': name, 'labels': {'kubernetes.io/metadata.name': name}},
                                              'spec': {'finalizers': ['kubernetes']}, 'status': {'phase': 'Active'}})
            for node in self.desc.get('nodes') or []:
                self.store.add('nodes', self._node_object(node))
            if self.dp.get('configmap'):
                self.store.add('configmaps', {'metadata': {'name': self.dp['configmap'], 'namespace': self.dp['namespace']},
                                              'data': dict((k, str(v)) for k, v in (self.dp.get('configs') or {}).items())})
            if self.device_plugin_installed():
                self.store.add('daemonsets', self._plugin_daemonset())
            if self.dra_driver_installed():
                classes = sim_dra.DEFAULT_DEVICE_CLASSES if self.dra['device_classes'] is None else self.dra['device_classes']
                for device_class in classes:
                    self.store.add('deviceclasses', json.loads(json.dumps(device_class)))
            if self.dra_driver_installed():
                self.store.add('daemonsets', self._dra_daemonset())
            for template in self.desc.get('resource_claim_templates') or []:
                self.store.add('resourceclaimtemplates', {'metadata': {'name': template['name'], 'namespace': template.get('namespace', 'default')},
                                                          'spec': json.loads(json.dumps(template['spec']))})
            for pdb in self.desc.get('pdbs') or []:
                spec = {'selector': {'matchLabels': dict(pdb.get('selector', {}).get('matchLabels') or pdb.get('match_labels') or {})}}
                for key in ('minAvailable', 'maxUnavailable', 'unhealthyPodEvictionPolicy'):
                    if key in pdb:
                        spec[key] = pdb[key]
                self.store.add('poddisruptionbudgets', {'metadata': {'name': pdb['name'], 'namespace': pdb.get('namespace', 'default')},
                                                        'spec': spec})
            # device plugin pods start synchronously so that workloads can be placed
            now = time.monotonic()
            self._daemonsets(now)
            for pod in self.store.items('pods'):
                self.internal[pod['metadata']['uid']]['start_at'] = now
        self._kubelet_plugins(time.monotonic())
        self._dra_plugins(time.monotonic())
        if self.plugin_impl == 'nvidia':
            self._wait_plugins_settled(float(self.dp['startup_timeout']))
            self._wait_pinned_resources(float(self.dp['startup_timeout']))
        with self.store.lock:
            for workload in self.desc.get('workloads') or []:
                self._bootstrap_workload(workload)
            self._pdb_statuses()
            self._workload_statuses()
            self._daemonset_statuses()

    def _initial_labels(self, node):
        """A node's labels at start: for a GPU node, those its ``allocator`` stands for (the device plugin's deploy label
        "true"; for dra that label "false", as an administrator opts a node out of the operand, and the DRA driver's
        node selector), then the description's own labels, which win (both plugins on one node is a real
        misconfiguration a description can ask for)."""
        labels = {'kubernetes.io/hostname': node['name'], 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
                  'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64'}
        if node.get('nvml_state'):
            if node.get('allocator', 'device-plugin') == 'dra':
                labels[DEVICE_PLUGIN_DEPLOY_LABEL] = 'false'
                labels.update(self.dra['node_selector'])
            else:
                labels[DEVICE_PLUGIN_DEPLOY_LABEL] = 'true'
        labels.update(dict((k, str(v)) for k, v in (node.get('labels') or {}).items()))
        return labels

    def _plugin_selector(self):
        return dict(self.dp.get('node_selector') or {}, **{DEVICE_PLUGIN_DEPLOY_LABEL: 'true'})

    def _initially_selected(self, selector):
        return any(cfg['nvml_state'] and all(self.initial_labels[name].get(k) == v for k, v in selector.items())
                   for name, cfg in self.nodes_cfg.items())

    def _has_gpu_nodes(self):
        return any(cfg['nvml_state'] for cfg in self.nodes_cfg.values())

    def device_plugin_installed(self):
        """The device plugin is installed: a GPU node starts selected by its DaemonSet, or the description sets it up
        and has GPU nodes (a relabel can move one to it later)."""
        return ((self.desc.get('device_plugin') is not None and self._has_gpu_nodes())
                or self._initially_selected(self._plugin_selector()))

    def dra_driver_installed(self):
        """NVIDIA's DRA driver is installed: a GPU node starts selected by its kubelet plugin, or ``dra_driver`` is set
        and the description has GPU nodes."""
        return ((self.desc.get('dra_driver') is not None and self._has_gpu_nodes())
                or self._initially_selected(self.dra['node_selector']))

    def _node_object(self, node):
        name = node['name']
        labels = dict(self.initial_labels[name])
        capacity = {'cpu': str(node.get('cpu', '8')), 'memory': str(node.get('memory', '32Gi')), 'pods': str(node.get('pods', '110')),
                    'ephemeral-storage': '100Gi', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0'}
        for key, value in (node.get('extra_resources') or {}).items():
            capacity[key] = str(value)
        stamp = now_iso()
        index = len(self.store.objects['nodes']) + 10
        spec = {'podCIDR': '10.244.%d.0/24' % index, 'podCIDRs': ['10.244.%d.0/24' % index], 'providerID': 'k8ssim://%s' % name}
        if node.get('taints'):
            spec['taints'] = list(node['taints'])
        if node.get('unschedulable'):
            spec['unschedulable'] = True
        conditions = []
        for ctype, reason, message in (('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
                                       ('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
                                       ('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
                                       ('Ready', 'KubeletReady', 'kubelet is posting ready status')):
            conditions.append({'type': ctype, 'status': 'True' if ctype == 'Ready' else 'False', 'lastHeartbeatTime': stamp,
                               'lastTransitionTime': stamp, 'reason': reason, 'message': message})
        return {
            'metadata': {'name': name, 'labels': labels, 'annotations': {'node.alpha.kubernetes.io/ttl': '0',
                                                                         'volumes.kubernetes.io/controller-managed-attach-detach': 'true'}},
            'spec': spec,
            'status': {
                'capacity': capacity, 'allocatable': dict(capacity), 'conditions': conditions,
                'addresses': [{'type': 'InternalIP', 'address': '10.0.0.%d' % index}, {'type': 'Hostname', 'address': name}],
                'daemonEndpoints': {'kubeletEndpoint': {'Port': 10250}},
                'nodeInfo': {'machineID': hashlib.md5(name.encode()).hexdigest(), 'systemUUID': hashlib.md5(name.encode()).hexdigest(),
                             'bootID': hashlib.sha1(name.encode()).hexdigest()[:32], 'kernelVersion': '6.8.0-k8ssim',
                             'osImage': 'Ubuntu 22.04.4 LTS', 'containerRuntimeVersion': 'containerd://1.7.13',
                             'kubeletVersion': 'v1.31.0', 'kubeProxyVersion': 'v1.31.0', 'operatingSystem': 'linux',
                             'architecture': 'amd64'},
            },
        }

    def _plugin_daemonset(self):
        dp = self.dp
        labels = dict(dp['labels'])
        # As the GPU Operator's device plugin DaemonSet sets them (k8s.md 1.1, 1.5).
        env = [{'name': 'PASS_DEVICE_SPECS', 'value': 'true'}, {'name': 'FAIL_ON_INIT_ERROR', 'value': 'true'},
               {'name': 'DEVICE_LIST_STRATEGY', 'value': 'envvar'}, {'name': 'DEVICE_ID_STRATEGY', 'value': 'uuid'},
               {'name': 'NVIDIA_VISIBLE_DEVICES', 'value': 'all'}, {'name': 'NVIDIA_DRIVER_CAPABILITIES', 'value': 'all'},
               {'name': 'NVIDIA_MIG_MONITOR_DEVICES', 'value': 'all'},
               {'name': 'NODE_NAME', 'valueFrom': {'fieldRef': {'apiVersion': 'v1', 'fieldPath': 'spec.nodeName'}}}]
        if dp.get('mig_strategy_env'):
            env.append({'name': 'MIG_STRATEGY', 'value': dp['mig_strategy_env']})
        if dp.get('configmap'):
            env.append({'name': 'CONFIG_FILE', 'value': '/config/config.yaml'})
        pod_spec = {
            'containers': [{'name': 'nvidia-device-plugin-ctr', 'image': dp.get('image', 'nvcr.io/nvidia/k8s-device-plugin:v0.17.0'),
                            'env': env, 'resources': {}, 'terminationMessagePath': '/dev/termination-log',
                            'terminationMessagePolicy': 'File', 'imagePullPolicy': 'IfNotPresent'}],
            'restartPolicy': 'Always', 'terminationGracePeriodSeconds': int(math.ceil(dp['termination_grace'])),
            'dnsPolicy': 'ClusterFirst', 'schedulerName': 'default-scheduler', 'priorityClassName': 'system-node-critical',
            'tolerations': [{'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}],
        }
        if dp.get('configmap'):
            init_env = [{'name': 'ONESHOT', 'value': 'true'}, {'name': 'DEFAULT_CONFIG', 'value': dp.get('default_config') or ''}]
            pod_spec['initContainers'] = [{'name': 'nvidia-device-plugin-init', 'image': pod_spec['containers'][0]['image'],
                                           'command': ['config-manager'], 'env': init_env, 'resources': {}}]
            pod_spec['volumes'] = [{'name': 'available-configs', 'configMap': {'name': dp['configmap']}}]
        pod_spec['nodeSelector'] = self._plugin_selector()
        return {
            'metadata': {'name': dp['daemonset'], 'namespace': dp['namespace'], 'labels': dict(labels),
                         'annotations': {'deprecated.daemonset.template.generation': '1'}},
            'spec': {'selector': {'matchLabels': dict(labels)},
                     'template': {'metadata': {'labels': dict(labels), 'annotations': {}}, 'spec': pod_spec},
                     'updateStrategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 1, 'maxSurge': 0}},
                     'revisionHistoryLimit': 10},
            'status': {'currentNumberScheduled': 0, 'desiredNumberScheduled': 0, 'numberMisscheduled': 0, 'numberReady': 0},
        }

    def _bootstrap_workload(self, workload):
        namespace = workload.get('namespace', 'default')
        labels = dict((k, str(v)) for k, v in (workload.get('labels') or {'app': workload['name']}).items())
        grace = float(workload.get('termination_grace', 1.0))
        requests = dict((k, str(v)) for k, v in (workload.get('resources') or {}).items())
        container = {'name': workload.get('container', 'main'), 'image': workload.get('image', 'registry.k8s.io/pause:3.9'),
                     'resources': {'requests': dict(requests), 'limits': dict(requests)} if requests else {},
                     'terminationMessagePath': '/dev/termination-log', 'terminationMessagePolicy': 'File', 'imagePullPolicy': 'IfNotPresent'}
        pod_spec = {'containers': [container], 'restartPolicy': 'Always', 'terminationGracePeriodSeconds': int(math.ceil(grace)),
                    'dnsPolicy': 'ClusterFirst', 'schedulerName': 'default-scheduler'}
        if workload.get('resource_claims'):
            # DRA: the pod's claims (resourceClaimName or resourceClaimTemplateName), all used by its container.
            pod_spec['resourceClaims'] = json.loads(json.dumps(workload['resource_claims']))
            container['resources'] = dict(container['resources'], claims=[{'name': c['name']} for c in workload['resource_claims']])
        if workload.get('tolerations'):
            pod_spec['tolerations'] = list(workload['tolerations'])
        if workload.get('node_selector'):
            pod_spec['nodeSelector'] = dict(workload['node_selector'])
        for key in ('volumes',):
            if workload.get(key):
                pod_spec[key] = workload[key]
        rs = self.store.add('replicasets', {
            'metadata': {'name': workload['name'], 'namespace': namespace, 'labels': dict(labels)},
            'spec': {'replicas': int(workload.get('replicas', 1)), 'selector': {'matchLabels': dict(labels)},
                     'template': {'metadata': {'labels': dict(labels)}, 'spec': pod_spec}},
            'status': {'replicas': 0},
        })
        self.workload_cfg[rs['metadata']['uid']] = {'start_delay': float(workload.get('start_delay', self.pod_start_delay)), 'grace': grace}
        node = workload.get('node')
        for dummy in range(int(workload.get('replicas', 1))):
            pod = self._pod_from_replicaset(rs)
            if node:
                self._claim_controller()
                problem = self._fit_problem(pod, self.store.get('nodes', None, node), ignore_unschedulable=True)
                if problem:
                    raise ValueError('workload %s does not fit on node %s: %s' % (workload['name'], node, problem))
                self._reserve_claims(pod, node)
                self._bind(pod, node, start_delay=0)
                self._set_running(pod)
            else:
                self._claim_controller()
                fits = self._schedule(pod, time.monotonic(), start_delay=0)
                if fits:
                    self._set_running(pod)

    # ------------------------------------------------------------------ pods
    def new_pod(self, namespace, name, labels, spec, owner=None, kind='bare', grace=None, start_delay=None, annotations=None):
        meta = {'name': name, 'namespace': namespace, 'labels': dict(labels)}
        if annotations:
            meta['annotations'] = dict(annotations)
        if owner is not None:
            meta['ownerReferences'] = [owner]
            meta['generateName'] = name[:-5]
        pod = {'metadata': meta, 'spec': json.loads(json.dumps(spec)), 'status': {}}
        self.complete_pod(pod, kind=kind, grace=grace, start_delay=start_delay)
        self.store.add('pods', pod)
        self.register_pod(pod, kind, grace, start_delay)
        return pod

    def complete_pod(self, pod, kind='bare', grace=None, start_delay=None):
        """Defaults the API server and admission fill in, and the Pending status."""
        del kind, grace, start_delay
        spec = pod.setdefault('spec', {})
        spec.setdefault('restartPolicy', 'Always')
        spec.setdefault('terminationGracePeriodSeconds', 30)
        spec.setdefault('dnsPolicy', 'ClusterFirst')
        spec.setdefault('schedulerName', 'default-scheduler')
        spec.setdefault('serviceAccountName', 'default')
        spec.setdefault('serviceAccount', spec['serviceAccountName'])
        spec.setdefault('securityContext', {})
        spec.setdefault('enableServiceLinks', True)
        spec.setdefault('preemptionPolicy', 'PreemptLowerPriority')
        spec.setdefault('priority', 2000001000 if spec.get('priorityClassName') == 'system-node-critical' else 0)
        tolerations = list(spec.get('tolerations') or [])
        for tol in DEFAULT_TOLERATIONS:
            if not any(t.get('key') == tol['key'] for t in tolerations):
                tolerations.append(dict(tol))
        spec['tolerations'] = tolerations
        for container in spec.get('containers') or []:
            container.setdefault('resources', {})
            container.setdefault('imagePullPolicy', 'IfNotPresent')
        requests = pod_requests(pod)
        qos = 'BestEffort' if not requests else ('Guaranteed' if 'cpu' in requests and 'memory' in requests else 'Burstable')
        status = {'phase': 'Pending', 'qosClass': qos}
        if spec.get('nodeName'):
            status['conditions'] = [{'type': 'PodScheduled', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': now_iso()}]
        pod['status'] = status

    def register_pod(self, pod, kind, grace=None, start_delay=None):
        spec = pod['spec']
        if grace is None:
            grace = float(spec.get('terminationGracePeriodSeconds', 30)) * self.time_scale
        info = {'kind': kind, 'grace': grace, 'start_delay': self.pod_start_delay if start_delay is None else start_delay,
                'start_at': None, 'delete_at': None, 'retry_at': None}
        if spec.get('nodeName'):
            info['start_at'] = time.monotonic() + info['start_delay']
        self.internal[pod['metadata']['uid']] = info

    def _pod_from_replicaset(self, rs):
        template = rs['spec'].get('template') or {}
        meta = rs['metadata']
        owner = {'apiVersion': 'apps/v1', 'kind': 'ReplicaSet', 'name': meta['name'], 'uid': meta['uid'],
                 'controller': True, 'blockOwnerDeletion': True}
        cfg = self.workload_cfg.get(meta['uid']) or {}
        labels = dict((template.get('metadata') or {}).get('labels') or {})
        return self.new_pod(meta['namespace'], '%s-%s' % (meta['name'], _suffix()), labels, template.get('spec') or {},
                            owner=owner, kind='workload', grace=cfg.get('grace'), start_delay=cfg.get('start_delay'),
                            annotations=(template.get('metadata') or {}).get('annotations'))

    def _bind(self, pod, node_name, start_delay=None):
        pod['spec']['nodeName'] = node_name
        node = self.store.get('nodes', None, node_name)
        status = pod['status']
        status['conditions'] = [c for c in status.get('conditions') or [] if c.get('type') != 'PodScheduled']
        status['conditions'].append({'type': 'PodScheduled', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': now_iso()})
        if node is not None:
            status['hostIP'] = node['status']['addresses'][0]['address']
            status['hostIPs'] = [{'ip': status['hostIP']}]
        info = self.internal[pod['metadata']['uid']]
        delay = info['start_delay'] if start_delay is None else start_delay
        info['start_at'] = time.monotonic() + delay
        self.store.put('pods', pod)

    def _set_running(self, pod, ready=True):
        stamp = now_iso()
        status = pod['status']
        status['phase'] = 'Running'
        status.setdefault('startTime', stamp)
        status['podIP'] = '10.244.%d.%d' % (random.randint(1, 250), random.randint(2, 250))
        status['podIPs'] = [{'ip': status['podIP']}]
        flag = 'True' if ready else 'False'
        conditions = [c for c in status.get('conditions') or [] if c.get('type') == 'PodScheduled']
        for ctype, value in (('PodReadyToStartContainers', 'True'), ('Initialized', 'True'), ('ContainersReady', flag), ('Ready', flag)):
            conditions.append({'type': ctype, 'status': value, 'lastProbeTime': None, 'lastTransitionTime': stamp})
        status['conditions'] = conditions
        status['containerStatuses'] = [self._container_status(c, {'running': {'startedAt': stamp}}, ready)
                                       for c in pod['spec'].get('containers') or []]
        if pod['spec'].get('initContainers'):
            done = {'terminated': {'exitCode': 0, 'reason': 'Completed', 'startedAt': stamp, 'finishedAt': stamp}}
            status['initContainerStatuses'] = [self._container_status(c, done, True) for c in pod['spec']['initContainers']]
        self.internal[pod['metadata']['uid']]['started'] = True
        self.store.put('pods', pod)

    @staticmethod
    def _container_status(container, state, ready, restarts=0, last_state=None):
        name = container.get('name', 'main')
        image = container.get('image', '')
        return {'name': name, 'image': image, 'imageID': '%s@sha256:%s' % (image, hashlib.sha256(name.encode()).hexdigest()),
                'containerID': 'containerd://%s' % hashlib.sha256(str(random.random()).encode()).hexdigest(),
                'ready': ready, 'started': 'running' in state, 'restartCount': restarts, 'state': state, 'lastState': last_state or {}}

    def _set_crashloop(self, pod, message, init=False, exit_code=1, delay=None):
        stamp = now_iso()
        status = pod['status']
        info = self.internal[pod['metadata']['uid']]
        info['restarts'] = info.get('restarts', 0) + 1
        status['phase'] = 'Pending' if init else 'Running'
        status.setdefault('startTime', stamp)
        conditions = [c for c in status.get('conditions') or [] if c.get('type') == 'PodScheduled']
        for ctype, value in (('PodReadyToStartContainers', 'True'), ('Initialized', 'False' if init else 'True'),
                             ('ContainersReady', 'False'), ('Ready', 'False')):
            conditions.append({'type': ctype, 'status': value, 'lastProbeTime': None, 'lastTransitionTime': stamp,
                               'reason': 'ContainersNotReady' if ctype in ('ContainersReady', 'Ready') else None})
        for cond in conditions:
            if cond.get('reason') is None:
                cond.pop('reason', None)
        status['conditions'] = conditions
        waiting = {'waiting': {'reason': 'CrashLoopBackOff',
                               'message': 'back-off %ds restarting failed container' % min(300, 10 * 2 ** (info['restarts'] - 1))}}
        last = {'terminated': {'exitCode': exit_code, 'reason': 'Error', 'message': message, 'startedAt': stamp, 'finishedAt': stamp}}
        containers = pod['spec'].get('containers') or []
        inits = pod['spec'].get('initContainers') or []
        if init:
            status['initContainerStatuses'] = [self._container_status(c, waiting, False, info['restarts'], last) for c in inits]
            status['containerStatuses'] = [self._container_status(c, {'waiting': {'reason': 'PodInitializing'}}, False) for c in containers]
        else:
            if inits:
                done = {'terminated': {'exitCode': 0, 'reason': 'Completed', 'startedAt': stamp, 'finishedAt': stamp}}
                status['initContainerStatuses'] = [self._container_status(c, done, True) for c in inits]
            status['containerStatuses'] = [self._container_status(c, waiting, False, info['restarts'], last) for c in containers]
        info['retry_at'] = time.monotonic() + (float(self.dp['crashloop_backoff']) if delay is None else delay)
        self.store.put('pods', pod)

    def delete_pod(self, pod, grace=None, dry_run=False):
        """Graceful deletion as the API server does it.  Returns True when the pod is gone now."""
        info = self.internal.get(pod['metadata']['uid']) or {'grace': 0}
        if grace is None:
            grace_s = info['grace']
        else:
            grace_s = float(grace) * self.time_scale
        immediate = grace_s <= 0 or not pod['spec'].get('nodeName') or pod['status'].get('phase') in ('Succeeded', 'Failed')
        if dry_run:
            return immediate
        if immediate:
            self.store.remove('pods', pod['metadata']['namespace'], pod['metadata']['name'])
            self.internal.pop(pod['metadata']['uid'], None)
            return True
        meta = pod['metadata']
        deadline = time.monotonic() + grace_s
        if meta.get('deletionTimestamp') and info.get('delete_at') is not None and info['delete_at'] <= deadline:
            return False
        meta['deletionTimestamp'] = now_iso(time.time() + grace_s)
        meta['deletionGracePeriodSeconds'] = int(grace) if grace is not None else int(pod['spec'].get('terminationGracePeriodSeconds', 30))
        info['delete_at'] = deadline
        self.store.put('pods', pod)
        return False

    # ------------------------------------------------------------------ scheduling
    def _used(self, node_name, exclude_uid=None):
        """What the node's unfinished pods request; extended resources that DRA serves them (KEP-5004) do not use the
        node's allocatable [inferred: the device plugin's devices are not theirs]."""
        used = {}
        for pod in self.store.items('pods'):
            if pod['spec'].get('nodeName') != node_name or pod['metadata']['uid'] == exclude_uid:
                continue
            if pod['status'].get('phase') in ('Succeeded', 'Failed'):
                continue
            backed = dra_backed(pod)
            for container, requests in container_requests(pod, init=False):
                for name, value in requests.items():
                    if (container, name) not in backed:
                        used[name] = used.get(name, 0.0) + value
        return used

    def _extended_plan(self, pod, node):
        """KEP-5004: the device requests of the scheduler's special claim for the pod on this node (see
        sim_dra.extended_requests); [] when the DRAExtendedResource gate is off or nothing is served by DRA here."""
        if not self.feature_gates['DRAExtendedResource']:
            return []
        mapping = sim_dra.extended_resource_classes(self.store.items('deviceclasses'))
        if not mapping:
            return []
        allocatable = dict((k, parse_quantity(v)) for k, v in ((node.get('status') or {}).get('allocatable') or {}).items())
        return sim_dra.extended_requests(container_requests(pod), mapping, allocatable)

    def _fit_problem(self, pod, node, ignore_unschedulable=False):
        """None when the pod fits on the node, else the scheduler's reason."""
        if node is None:
            return 'node(s) not found'
        spec = pod['spec']
        if not ignore_unschedulable:
            if node['spec'].get('unschedulable') and not tolerates(spec.get('tolerations'), {'key': UNSCHEDULABLE_TAINT, 'effect': 'NoSchedule'}):
                return 'node(s) were unschedulable'
            for taint in node['spec'].get('taints') or []:
                if taint.get('effect') in ('NoSchedule', 'NoExecute') and not tolerates(spec.get('tolerations'), taint):
                    return 'node(s) had untolerated taint {%s: %s}' % (taint.get('key'), taint.get('value', ''))
        for key, value in (spec.get('nodeSelector') or {}).items():
            if node['metadata'].get('labels', {}).get(key) != value:
                return "node(s) didn't match Pod's node affinity/selector"
        allocatable = node['status'].get('allocatable') or {}
        used = self._used(node['metadata']['name'], pod['metadata']['uid'])
        extended = self._extended_plan(pod, node)
        # The node resources check skips an extended resource that a DeviceClass maps and the node does not advertise:
        # the DRA plugin of the scheduler allocates it (KEP-5004).
        by_dra = set(resource for dummy, dummy2, resource in extended)
        for name, value in sorted(pod_requests(pod).items()):
            if name in by_dra:
                continue
            available = parse_quantity(allocatable.get(name, '0')) - used.get(name, 0.0)
            if value > available + 1e-9:
                return 'Insufficient %s' % name
        try:
            self._claim_plan(pod, node['metadata']['name'], extended)
        except sim_dra.AllocationError as exc:
            return str(exc)
        return None

    def _schedule(self, pod, now, start_delay=None):
        del now
        reasons = {}
        nodes = self.store.items('nodes')
        for node in nodes:
            problem = self._fit_problem(pod, node)
            if problem is None:
                self._reserve_claims(pod, node['metadata']['name'])
                self._bind(pod, node['metadata']['name'], start_delay)
                return True
            reasons[problem] = reasons.get(problem, 0) + 1
        message = '0/%d nodes are available: %s.' % (len(nodes), ', '.join('%d %s' % (n, r) for r, n in sorted(reasons.items())))
        conditions = [{'type': 'PodScheduled', 'status': 'False', 'lastProbeTime': None, 'lastTransitionTime': now_iso(),
                       'reason': 'Unschedulable', 'message': message}]
        old = pod['status'].get('conditions') or []
        if [(c.get('reason'), c.get('message')) for c in old] != [('Unschedulable', message)]:
            pod['status']['conditions'] = conditions
            self.store.put('pods', pod)
        return False

    # ------------------------------------------------------------------ tick
    def tick(self):
        now = time.monotonic()
        with self.store.lock:
            self._node_lifecycle()
            self._kubelet(now)
            self._replicasets()
            self._daemonsets(now)
            self._claim_controller()
            for pod in self.store.items('pods'):
                if not pod['spec'].get('nodeName') and not pod['metadata'].get('deletionTimestamp'):
                    self._schedule(pod, now)
        self._kubelet_plugins(now)
        self._dra_plugins(now)
        with self.store.lock:
            self._pdb_statuses()
            self._workload_statuses()
            self._daemonset_statuses()

    def _node_lifecycle(self):
        for node in self.store.items('nodes'):
            spec = node['spec']
            taints = spec.get('taints') or []
            has = any(t.get('key') == UNSCHEDULABLE_TAINT for t in taints)
            if spec.get('unschedulable') and not has:
                spec['taints'] = taints + [{'key': UNSCHEDULABLE_TAINT, 'effect': 'NoSchedule', 'timeAdded': now_iso()}]
                self.store.put('nodes', node)
            elif not spec.get('unschedulable') and has:
                spec['taints'] = [t for t in taints if t.get('key') != UNSCHEDULABLE_TAINT]
                if not spec['taints']:
                    del spec['taints']
                self.store.put('nodes', node)

    def _kubelet(self, now):
        for pod in self.store.items('pods'):
            info = self.internal.get(pod['metadata']['uid'])
            if info is None:
                continue
            if info.get('delete_at') is not None:
                if now >= info['delete_at']:
                    self.store.remove('pods', pod['metadata']['namespace'], pod['metadata']['name'])
                    self.internal.pop(pod['metadata']['uid'], None)
                continue
            if info['kind'] in ('plugin', 'dra-plugin'):
                continue  # handled by _kubelet_plugins and _dra_plugins outside the lock
            if info.get('start_at') is not None and not info.get('started') and now >= info['start_at']:
                self._set_running(pod)

    def _replicasets(self):
        for rs in self.store.items('replicasets'):
            uid = rs['metadata']['uid']
            if uid not in self.workload_cfg:
                template_spec = (rs['spec'].get('template') or {}).get('spec') or {}
                self.workload_cfg[uid] = {'start_delay': self.pod_start_delay,
                                          'grace': float(template_spec.get('terminationGracePeriodSeconds', 30)) * self.time_scale}
            active = [p for p in self.store.items('pods', rs['metadata']['namespace'])
                      if owner_uid(p) == uid and not p['metadata'].get('deletionTimestamp')
                      and p['status'].get('phase') not in ('Succeeded', 'Failed')]
            want = int(rs['spec'].get('replicas', 1))
            for dummy in range(want - len(active)):
                self._pod_from_replicaset(rs)
            if len(active) > want:
                active.sort(key=lambda p: (bool(p['spec'].get('nodeName')), pod_ready(p), p['metadata']['creationTimestamp']))
                for pod in active[:len(active) - want]:
                    self.delete_pod(pod)

    def _eligible_nodes(self, ds):
        selector = ((ds['spec'].get('template') or {}).get('spec') or {}).get('nodeSelector') or {}
        # The plugin DaemonSets run on the GPU nodes (the charts' affinity on GPU presence) that their nodeSelector
        # matches, so relabelling a node starts or stops its device plugin and DRA kubelet plugin pods.
        gpu_only = self._is_plugin_ds(ds) or self._is_dra_ds(ds)
        names = []
        for node in self.store.items('nodes'):
            name = node['metadata']['name']
            if gpu_only and not (self.nodes_cfg.get(name) or {}).get('nvml_state'):
                continue
            labels = node['metadata'].get('labels') or {}
            if all(labels.get(k) == v for k, v in selector.items()):
                names.append(name)
        return names

    def _is_plugin_ds(self, ds):
        return (ds['metadata']['namespace'], ds['metadata']['name']) == (self.dp['namespace'], self.dp['daemonset'])

    def _is_dra_ds(self, ds):
        return (ds['metadata']['namespace'], ds['metadata']['name']) == (self.dra['namespace'], self.dra['daemonset'])

    def _daemonsets(self, now):
        del now
        for ds in self.store.items('daemonsets'):
            uid = ds['metadata']['uid']
            template = ds['spec'].get('template') or {}
            revision = _template_hash(template)
            eligible = self._eligible_nodes(ds)
            pods = [p for p in self.store.items('pods', ds['metadata']['namespace']) if owner_uid(p) == uid]
            live = [p for p in pods if not p['metadata'].get('deletionTimestamp')]
            by_node = {}
            for pod in live:
                by_node.setdefault(pod['spec'].get('nodeName'), []).append(pod)
            for node_name, node_pods in by_node.items():
                if node_name not in eligible:
                    for pod in node_pods:
                        self.delete_pod(pod)
            kind = 'plugin' if self._is_plugin_ds(ds) else 'dra-plugin' if self._is_dra_ds(ds) else 'daemon'
            settings = {'plugin': self.dp, 'dra-plugin': self.dra}.get(kind)
            grace = float(settings['termination_grace']) if settings else None
            delay = float(settings['restart_delay']) if settings else None
            for node_name in eligible:
                if node_name in by_node:
                    continue
                labels = dict((template.get('metadata') or {}).get('labels') or {})
                labels['controller-revision-hash'] = revision
                labels['pod-template-generation'] = str(ds['metadata'].get('generation', 1))
                spec = json.loads(json.dumps(template.get('spec') or {}))
                spec['nodeName'] = node_name
                tolerations = spec.get('tolerations') or []
                for tol in DS_TOLERATIONS:
                    if not any(t.get('key') == tol['key'] for t in tolerations):
                        tolerations.append(dict(tol))
                spec['tolerations'] = tolerations
                if kind == 'dra-plugin' and self.nodes_cfg[node_name]['dra_mig'] == 'dynamic':
                    # [simplified] The chart sets FEATURE_GATES for the whole DaemonSet (values featureGates); here each
                    # node's description decides, as if its node ran a release of its own.
                    for container in spec.get('containers') or []:
                        container.setdefault('env', []).append({'name': 'FEATURE_GATES', 'value': 'DynamicMIG=true'})
                owner = {'apiVersion': 'apps/v1', 'kind': 'DaemonSet', 'name': ds['metadata']['name'], 'uid': uid,
                         'controller': True, 'blockOwnerDeletion': True}
                start_delay = delay
                if kind == 'dra-plugin' and (self.dra_plugin_faults.get(node_name) or {}).get('restart_delay') is not None:
                    start_delay = float(self.dra_plugin_faults[node_name]['restart_delay'])
                self.new_pod(ds['metadata']['namespace'], '%s-%s' % (ds['metadata']['name'], _suffix()), labels, spec, owner=owner,
                             kind=kind, grace=grace, start_delay=start_delay, annotations=(template.get('metadata') or {}).get('annotations'))
            # rolling update (maxUnavailable, surge 0): outdated pods that are not ready go first
            outdated = [p for p in live if p['metadata'].get('labels', {}).get('controller-revision-hash') != revision
                        and p['spec'].get('nodeName') in eligible]
            if not outdated:
                continue
            rolling = (ds['spec'].get('updateStrategy') or {})
            if rolling.get('type') == 'OnDelete':
                continue
            max_unavailable = _scaled((rolling.get('rollingUpdate') or {}).get('maxUnavailable', 1), len(eligible), True) or 1
            unavailable = len(eligible) - sum(1 for p in live if p['spec'].get('nodeName') in eligible and pod_ready(p))
            for pod in sorted(outdated, key=pod_ready):
                if not pod_ready(pod):
                    self.delete_pod(pod)
                elif unavailable < max_unavailable:
                    self.delete_pod(pod)
                    unavailable += 1

    # ------------------------------------------------------------------ device plugin
    def _plugin_inputs(self, pod):
        """Under the lock: what the plugin pod reads when it starts."""
        node_name = pod['spec']['nodeName']
        node = self.store.get('nodes', None, node_name)
        cfg = self.nodes_cfg.get(node_name) or {}
        inputs = {'node': node_name, 'pod': pod['metadata']['name'], 'uid': pod['metadata']['uid'], 'nvml_state': cfg.get('nvml_state'),
                  'simnode': cfg.get('simnode'), 'config_error': None, 'config_name': None, 'config_text': None, 'env_strategy': None}
        for container in pod['spec'].get('containers') or []:
            for env in container.get('env') or []:
                if env.get('name') == 'MIG_STRATEGY' and env.get('value'):
                    inputs['env_strategy'] = env['value']
        if self.dp.get('configmap'):
            cm = self.store.get('configmaps', self.dp['namespace'], self.dp['configmap'])
            data = dict((cm or {}).get('data') or {})
            data = dict((k, v) for k, v in data.items() if not k.startswith('..'))
            label = ((node or {}).get('metadata', {}).get('labels') or {}).get(CONFIG_LABEL)
            default = self.dp.get('default_config')
            if label:
                name = label
            elif default:
                name = default
            elif 'default' in data:
                name = 'default'
            elif len(data) == 1:
                name = list(data)[0]
            else:
                name = None
                inputs['config_error'] = 'no config was set, no default was provided, and all fallbacks failed'
            if name is not None and name not in data:
                inputs['config_error'] = 'specified config %s does not exist' % name
            elif name is not None:
                inputs['config_name'] = name
                inputs['config_text'] = data[name]
        return inputs

    @staticmethod
    def run_plugin(inputs):
        """Outside the lock: the plugin's start-up.  Returns (resources, strategy, error)."""
        strategy = None
        try:
            file_strategy = deviceplugin.parse_config(inputs['config_text'])
            strategy = deviceplugin.check_strategy(inputs['env_strategy'] or file_strategy or 'none')
            state = deviceplugin.read_node(inputs['simnode'], inputs['nvml_state'])
            return deviceplugin.advertise(state, strategy), strategy, None
        except deviceplugin.PluginError as exc:
            return None, strategy, str(exc)

    def _kubelet_plugins(self, now):
        if self.plugin_impl == 'nvidia':
            self._nvidia_plugins(now)
        else:
            self._model_plugins(now)

    def _model_plugins(self, now):
        """The Python model of the plugin (sim_deviceplugin): enumeration and resources computed here."""
        with self.store.lock:
            starting = []
            for pod in self.store.items('pods'):
                info = self.internal.get(pod['metadata']['uid'])
                if info is None or info['kind'] != 'plugin' or info.get('delete_at') is not None:
                    continue
                due = (info.get('start_at') is not None and not info.get('started') and now >= info['start_at'] and info.get('retry_at') is None)
                retry = info.get('retry_at') is not None and now >= info['retry_at']
                if due or retry:
                    starting.append(self._plugin_inputs(pod))
                elif info.get('started') and self.dp.get('configmap'):
                    # config-manager sidecar: a changed nvidia.com/device-plugin.config target -> SIGHUP -> the plugin
                    # reloads its config and re-enumerates; an unknown target keeps the running config (k8s.md 1.4)
                    inputs = self._plugin_inputs(pod)
                    if not inputs['config_error'] and inputs['config_name'] != info.get('config_name'):
                        starting.append(inputs)
        for inputs in starting:
            if inputs['config_error']:
                result = (None, None, inputs['config_error'])
            else:
                result = self.run_plugin(inputs)
            with self.store.lock:
                pod = self.store.get('pods', self.dp['namespace'], inputs['pod'])
                if pod is None or pod['metadata']['uid'] != inputs['uid'] or pod['metadata'].get('deletionTimestamp'):
                    continue
                resources, strategy, error = result
                self.internal[inputs['uid']]['config_name'] = inputs['config_name']
                self.plugin_log.append({'time': now_iso(), 'node': inputs['node'], 'pod': inputs['pod'], 'config': inputs['config_name'],
                                        'strategy': strategy, 'resources': resources, 'error': error, 'implementation': 'model'})
                if error:
                    self._set_crashloop(pod, error, init=bool(inputs['config_error']))
                    continue
                node = self.store.get('nodes', None, inputs['node'])
                if node is not None:
                    self.model_served.add(inputs['node'])
                    before = json.dumps(node['status'], sort_keys=True)
                    deviceplugin.apply_to_node(node, resources)
                    if json.dumps(node['status'], sort_keys=True) != before:
                        self.store.put('nodes', node)
                self.internal[inputs['uid']]['retry_at'] = None
                self._set_running(pod)
        with self.store.lock:
            self._model_plugin_gone(now)

    def _model_plugin_gone(self, now):
        """Model: a GPU node the DaemonSet no longer selects (relabelled) loses the plugin's devices as the kubelet drops
        them when the plugin's socket goes: allocatable 0 at once, capacity 0 after endpoint_stop_grace (NVIDIA's
        plugin gets this from the simulated kubelet). [simplified] A pod that restarts or crash-loops keeps them."""
        daemonset = self.store.get('daemonsets', self.dp['namespace'], self.dp['daemonset'])
        present = set(self._eligible_nodes(daemonset)) if daemonset is not None else set()
        for node in self.store.items('nodes'):
            name = node['metadata']['name']
            status = node.get('status') or {}
            capacity, allocatable = status.get('capacity') or {}, status.get('allocatable') or {}
            held = [k for k in capacity if deviceplugin.is_plugin_resource(k) and capacity[k] != '0']
            if name in present or name not in self.model_served or not held:
                self.model_unregistered.pop(name, None)
                continue
            since = self.model_unregistered.setdefault(name, now)
            changed = False
            for key in held:
                if allocatable.get(key) != '0':
                    allocatable[key] = '0'
                    changed = True
                if now - since >= float(self.dp['endpoint_stop_grace']):
                    capacity[key] = '0'
                    changed = True
            if changed:
                self.store.put('nodes', node)

    # ------------------------------------------------------------------ NVIDIA's device plugin
    @staticmethod
    def _log(message):
        print('k8ssim: %s' % message, file=sys.stderr)
        sys.stderr.flush()

    def _setup_plugins(self):
        """Choose the plugin implementation; for NVIDIA's, start every GPU node's kubelet device manager."""
        # The description decides; K8SSIM_DEVICE_PLUGIN (nvidia|model) can choose for a whole test run where it does not.
        wanted = self.dp.get('implementation') or os.environ.get('K8SSIM_DEVICE_PLUGIN') or None
        if wanted not in (None,) + PLUGIN_IMPLEMENTATIONS:
            raise ValueError('K8SSIM_DEVICE_PLUGIN must be one of %s, got %r' % (', '.join(PLUGIN_IMPLEMENTATIONS), wanted))
        if not self.device_plugin_installed():
            self.plugin_impl = wanted or 'model'
            return
        tools = sim_nvidia.tools_dir(self.dp.get('nvidia_tools'))
        reason = sim_nvidia.unavailable(tools)
        if wanted == 'nvidia' and reason:
            raise ValueError('device_plugin.implementation is nvidia, but %s' % reason)
        self.plugin_impl = wanted or ('model' if reason else 'nvidia')
        if self.plugin_impl == 'model':
            self._log('device plugin: the Python model (sim_deviceplugin)%s' % (', because %s' % reason if reason and not wanted else ''))
            return
        self.tools = tools
        self._log("device plugin: NVIDIA's nvidia-device-plugin and gpu-feature-discovery from %s" % tools)
        # Unix socket paths are limited to 107 bytes: the kubelet folders live under a short temporary folder.
        self.kubelet_root = tempfile.mkdtemp(prefix='k8ssim-')
        for index, (name, cfg) in enumerate(sorted(self.nodes_cfg.items())):
            if not cfg['nvml_state']:
                continue  # every GPU node: a relabel can start the device plugin on any of them
            node_dir = os.path.join(self.kubelet_root, 'n%d' % index)
            self.node_dirs[name] = node_dir
            manager = sim_kubelet.DeviceManager(name, os.path.join(node_dir, 'kubelet'), float(self.dp['endpoint_stop_grace']), log=self._log)
            self.kubelets[name] = manager.start()
            self._log('node %s: kubelet device manager on %s' % (name, manager.socket))
            lister = functools.partial(self._pod_resources_list, name)
            self.pod_resources[name] = sim_podresources.PodResourcesServer(name, manager.kubelet_dir, lister).start()

    def _setup_dra_kubelets(self):
        """The kubelet's pod-resources API on every DRA node (whichever device plugin implementation the others run):
        it lists the devices the node's pods hold through their ResourceClaims."""
        for index, (name, cfg) in enumerate(sorted(self.nodes_cfg.items())):
            if not cfg['nvml_state'] or cfg['allocator'] != 'dra':
                continue
            if self.kubelet_root is None:
                # Unix socket paths are limited to 107 bytes: a short temporary folder.
                self.kubelet_root = tempfile.mkdtemp(prefix='k8ssim-')
            kubelet_dir = os.path.join(self.kubelet_root, 'n%d' % index, 'kubelet')
            lister = functools.partial(self._pod_resources_list, name)
            self.pod_resources[name] = sim_podresources.PodResourcesServer(name, kubelet_dir, lister).start()
            self._log('node %s: kubelet pod-resources API on %s' % (name, self.pod_resources[name].socket))

    def _pod_resources_list(self, node_name):
        """The pods the node's kubelet knows, with the devices its device manager allocated to each container and the
        devices of the ResourceClaims each container uses."""
        manager = self.kubelets.get(node_name)
        with self.store.lock:
            pods = [pod for pod in self.store.items('pods') if pod['spec'].get('nodeName') == node_name]
            claims = dict((pod['metadata']['uid'], self._container_claims(pod)) for pod in pods)
        answer = []
        for pod in sorted(pods, key=lambda p: (p['metadata']['namespace'], p['metadata']['name'])):
            devices = dict(manager.pod_devices(pod['metadata']['uid'])) if manager is not None else {}
            containers = [(c.get('name', 'main'), devices.get(c.get('name', 'main'), {}), claims[pod['metadata']['uid']].get(c.get('name', 'main'), []))
                          for c in pod['spec'].get('containers') or []]
            answer.append((pod['metadata']['namespace'], pod['metadata']['name'], containers))
        return answer

    def _container_claims(self, pod):
        """container name -> [(claim namespace, claim name, [(driver, pool, device, [CDI ids])])]: the claims each
        container uses (``resources.claims`` naming the pod's ``spec.resourceClaims``), as the kubelet's DRA manager
        reports them (``GetContainerClaimInfos``), once allocated and reserved for the pod.

        [simplified] The kubelet reports a claim once it has prepared it (NodePrepareResources, when the pod starts);
        here from the binding. Every device of the claim is reported, whatever request the container names. The CDI id
        is the one NVIDIA's plugin gives a claim's device (``cdi.go`` ``GetClaimDeviceName``); other drivers' get none.
        """
        namespace = pod['metadata']['namespace']
        statuses = dict((s['name'], s.get('resourceClaimName')) for s in pod['status'].get('resourceClaimStatuses') or [])
        names = dict((entry['name'], entry.get('resourceClaimName') or statuses.get(entry['name']))
                     for entry in pod['spec'].get('resourceClaims') or [] if entry.get('name'))
        found = {}
        for container in pod['spec'].get('containers') or []:
            for ref in (container.get('resources') or {}).get('claims') or []:
                claim = self.store.get('resourceclaims', namespace, names.get(ref.get('name'))) if names.get(ref.get('name')) else None
                status = (claim or {}).get('status') or {}
                if not status.get('allocation') or not any(r.get('uid') == pod['metadata']['uid'] for r in status.get('reservedFor') or []):
                    continue
                results = [(r['driver'], r['pool'], r['device'],
                            ['k8s.%s/claim=%s-%s' % (r['driver'], claim['metadata']['uid'], r['device'])] if r['driver'] == sim_dra.DRIVER else [])
                           for r in status['allocation']['devices'].get('results') or []]
                found.setdefault(container.get('name', 'main'), []).append((namespace, claim['metadata']['name'], results))
        return found

    def _allocate_devices(self):
        """The device managers' Allocate: every admitted pod of a node gets its devices once (see DeviceManager.allocate)."""
        admitted = {}
        for pod in self.store.items('pods'):
            node_name = pod['spec'].get('nodeName')
            info = self.internal.get(pod['metadata']['uid']) or {}
            if node_name not in self.kubelets or info.get('kind') in ('plugin', 'dra-plugin') or pod['status'].get('phase') in ('Succeeded', 'Failed'):
                continue
            # Resources DRA serves the pod (KEP-5004) are not the device manager's to allocate.
            backed = dra_backed(pod)
            containers = [(name, dict((k, v) for k, v in requests.items() if (name, k) not in backed))
                          for name, requests in container_requests(pod, init=False)]
            admitted.setdefault(node_name, []).append((pod['metadata']['uid'], containers))
        for node_name, manager in self.kubelets.items():
            manager.allocate(admitted.get(node_name, []))

    def _sim_build(self, node_name):
        return os.path.dirname(os.path.dirname(os.path.abspath(self.nodes_cfg[node_name]['simnode'])))

    def _wait_plugins_settled(self, timeout):
        """At start-up: until every plugin pod has registered its resources, waits without devices, or crash-loops."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            self._kubelet_plugins(now)
            with self.store.lock:
                pending = [p['spec']['nodeName'] for p in self.store.items('pods')
                           if (self.internal.get(p['metadata']['uid']) or {}).get('kind') == 'plugin' and not self._plugin_settled(p, now)]
            if not pending:
                return
            if now > deadline:
                self._log('device plugin: not settled after %ss on %s; going on' % (timeout, ', '.join(sorted(pending))))
                return
            time.sleep(0.02)

    def _wait_pinned_resources(self, timeout):
        """At start-up: until each node that workloads are pinned to advertises the extended resources they request.

        A plugin counts as settled once its registrations pause; on a loaded machine one can pause before the last
        resource reaches the node, and a pinned workload would then not fit. Gives up at ``timeout`` (the workload's
        own check then says what is missing).
        """
        wanted = {}
        with self.store.lock:
            daemonset = self.store.get('daemonsets', self.dp['namespace'], self.dp['daemonset'])
            served = set(self._eligible_nodes(daemonset)) if daemonset is not None else set()
        for workload in self.desc.get('workloads') or []:
            # Only nodes the device plugin runs on: elsewhere the resources never come (KEP-5004 may serve them by DRA).
            if workload.get('node') in served:
                for key, value in (workload.get('resources') or {}).items():
                    if '/' in key:
                        need = wanted.setdefault(workload['node'], {})
                        need[key] = need.get(key, 0) + parse_quantity(value) * int(workload.get('replicas', 1))
        deadline = time.monotonic() + timeout
        while wanted:
            now = time.monotonic()
            self._kubelet_plugins(now)
            with self.store.lock:
                short = []
                for name, need in sorted(wanted.items()):
                    node = self.store.get('nodes', None, name) if name in self.nodes_cfg else None
                    allocatable = ((node or {}).get('status') or {}).get('allocatable') or {}
                    short.extend('%s %s' % (name, key) for key, count in sorted(need.items())
                                 if parse_quantity(allocatable.get(key, '0')) < count)
            if not short:
                return
            if now > deadline:
                self._log('device plugin: after %ss, still too few %s for the pinned workloads' % (timeout, ', '.join(short)))
                return
            time.sleep(0.02)

    def _plugin_settled(self, pod, now):
        uid = pod['metadata']['uid']
        info = self.internal.get(uid) or {}
        if info.get('retry_at') is not None:
            return True
        proc = self.procs.get(uid)
        node = pod['spec'].get('nodeName')
        if proc is None or node not in self.kubelets:
            return False
        if self.gfd_results.get(node, (None,))[0] != self.gfd_generation.get(node):
            return False
        if proc.waiting_without_devices():
            return True
        manager = self.kubelets[node]
        return bool(manager.connected_since(proc.reloaded_at)) and now - manager.last_registration() >= SETTLE_S

    def _nvidia_plugins(self, now):
        """NVIDIA's plugin: start, watch, reload (SIGHUP) and stop the processes of the plugin pods; the kubelet's
        device manager state becomes the nodes' capacity and allocatable; feature discovery's labels the nodes'."""
        starts, reloads, exits = [], [], []
        with self.store.lock:
            live = set()
            for pod in self.store.items('pods'):
                uid = pod['metadata']['uid']
                info = self.internal.get(uid)
                if info is None or info['kind'] != 'plugin' or info.get('delete_at') is not None:
                    continue
                live.add(uid)
                proc = self.procs.get(uid)
                if proc is not None:
                    if proc.poll() is not None:
                        exits.append((uid, proc))
                    elif self.dp.get('configmap'):
                        # config-manager sidecar: a changed nvidia.com/device-plugin.config target -> new link, SIGHUP;
                        # an unknown target keeps the running config (k8s.md 1.4)
                        inputs = self._plugin_inputs(pod)
                        if not inputs['config_error'] and inputs['config_name'] != info.get('config_name'):
                            reloads.append((inputs, proc))
                    continue
                due = (info.get('start_at') is not None and not info.get('started') and now >= info['start_at'] and info.get('retry_at') is None)
                retry = info.get('retry_at') is not None and now >= info['retry_at']
                if due or retry:
                    inputs = self._plugin_inputs(pod)
                    inputs['container'] = json.loads(json.dumps((pod['spec'].get('containers') or [{}])[0]))
                    inputs['config_data'] = self._config_data()
                    starts.append(inputs)
            gone = [uid for uid in self.procs if uid not in live]
        for uid in gone:
            proc = self.procs.pop(uid)
            proc.terminate()
            self.stopping_procs.append(proc)
        for uid, proc in exits:
            self._plugin_exited(uid, proc)
        for inputs in starts:
            self._start_plugin(inputs)
        for inputs, proc in reloads:
            self._reload_plugin(inputs, proc)
        self._reap(now)
        self._sync_nodes(now)

    def _config_data(self):
        if not self.dp.get('configmap'):
            return {}
        cm = self.store.get('configmaps', self.dp['namespace'], self.dp['configmap'])
        return dict((k, v) for k, v in ((cm or {}).get('data') or {}).items() if not k.startswith('..'))

    def _log_entry(self, inputs, error=None, reload=False):
        entry = {'time': now_iso(), 'node': inputs['node'], 'pod': inputs['pod'], 'config': inputs['config_name'], 'strategy': None,
                 'resources': None, 'error': error, 'implementation': 'nvidia', 'reload': reload, 'resources_after_s': None}
        self.plugin_log.append(entry)
        return entry

    def _start_plugin(self, inputs):
        node = inputs['node']
        if inputs['config_error']:
            with self.store.lock:
                pod = self._same_pod(inputs)
                if pod is not None:
                    self._log_entry(inputs, error=inputs['config_error'])
                    self._set_crashloop(pod, inputs['config_error'], init=True, delay=self._backoff(inputs['uid']))
            return
        # The previous container on the node must be gone first: its plugin removes its sockets when it stops, and
        # they have the same names as the new plugin's.
        for proc in [p for p in self.stopping_procs if p.node_name == node]:
            deadline = time.monotonic() + max(2.0, float(self.dp['termination_grace']))
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            proc.kill()
        node_dir = self.node_dirs[node]
        config_dir = os.path.join(node_dir, 'config')
        if inputs['config_name']:
            config_dir = sim_nvidia.place_config(node_dir, inputs['config_data'], inputs['config_name'])
        env = sim_nvidia.pod_environment(inputs['container'], node, config_dir)
        env = dict(env, PATH=os.environ.get('PATH', '/usr/bin:/bin'))
        info = self.internal.get(inputs['uid']) or {}
        log_path = os.path.join(self.state_dir or node_dir, 'plugins', node, '%s-%d.log' % (inputs['pod'], info.get('restarts', 0)))
        proc = sim_nvidia.PluginProcess(inputs['nvml_state'], self._sim_build(node), self.kubelets[node].kubelet_dir,
                                        os.path.join(self.tools, sim_nvidia.PLUGIN), env, log_path)
        proc.node_name = node
        proc.start()
        with self.store.lock:
            pod = self._same_pod(inputs)
            if pod is None:
                self.stopping_procs.append(proc)
                proc.terminate()
                return
            self.procs[inputs['uid']] = proc
            proc.entry = self._log_entry(inputs)
            proc.entry['pid'] = proc.pid
            info = self.internal[inputs['uid']]
            info['config_name'] = inputs['config_name']
            info['retry_at'] = None
            self._set_running(pod)
        self._run_gfd(node, inputs['nvml_state'], env)

    def _same_pod(self, inputs):
        pod = self.store.get('pods', self.dp['namespace'], inputs['pod'])
        if pod is None or pod['metadata']['uid'] != inputs['uid'] or pod['metadata'].get('deletionTimestamp'):
            return None
        return pod

    def _backoff(self, uid):
        """The kubelet's crash-loop back-off: doubling from crashloop_backoff up to crashloop_backoff_max."""
        restarts = (self.internal.get(uid) or {}).get('restarts', 0)
        return min(float(self.dp['crashloop_backoff']) * 2 ** restarts, float(self.dp['crashloop_backoff_max']))

    def _plugin_exited(self, uid, proc):
        error = sim_nvidia.last_error(proc.output())
        proc.close()
        with self.store.lock:
            self.procs.pop(uid, None)
            entry = proc.entry
            if entry is not None:
                entry['error'] = error
                entry['exit_code'] = proc.returncode
                entry['strategy'] = entry['strategy'] or proc.strategy()
            pod = next((p for p in self.store.items('pods') if p['metadata']['uid'] == uid), None)
            if pod is not None and not pod['metadata'].get('deletionTimestamp'):
                self._set_crashloop(pod, error, exit_code=proc.returncode if proc.returncode and proc.returncode > 0 else 137,
                                    delay=self._backoff(uid))

    def _reload_plugin(self, inputs, proc):
        sim_nvidia.place_config(self.node_dirs[inputs['node']], self._config_data_locked(), inputs['config_name'])
        try:
            proc.hup()
        except OSError:
            return  # it exited meanwhile: the next tick sees it
        with self.store.lock:
            info = self.internal.get(inputs['uid'])
            if info is not None:
                info['config_name'] = inputs['config_name']
            proc.entry = self._log_entry(inputs, reload=True)
            proc.entry['pid'] = proc.pid
        self._run_gfd(inputs['node'], inputs['nvml_state'], proc.env)

    def _config_data_locked(self):
        with self.store.lock:
            return self._config_data()

    def _run_gfd(self, node, state, env):
        """gpu-feature-discovery --oneshot on the node, in the background; its labels land at a later tick."""
        generation = self.gfd_generation.get(node, 0) + 1
        self.gfd_generation[node] = generation
        output = os.path.join(self.node_dirs[node], 'gfd-%d' % generation)
        binary = os.path.join(self.tools, sim_nvidia.GFD)
        sim_build = self._sim_build(node)

        def run():
            labels, error = sim_nvidia.run_gfd(state, sim_build, binary, env, output)
            if error:
                self._log('node %s: gpu-feature-discovery failed: %s' % (node, error))
            self.gfd_results[node] = (generation, labels, error)

        thread = threading.Thread(target=run, name='gfd-%s' % node)
        thread.daemon = True
        thread.start()
        self.gfd_threads = [t for t in self.gfd_threads if t.is_alive()] + [thread]

    def _reap(self, now):
        for proc in list(self.stopping_procs):
            if proc.poll() is not None:
                proc.close()
                self.stopping_procs.remove(proc)
            elif now - (proc.term_at or now) > max(2.0, float(self.dp['termination_grace'])):
                proc.kill()

    def _sync_nodes(self, now):
        """The kubelets' device manager state into node status; the feature files into node labels."""
        views = dict((node, manager.capacity(now)) for node, manager in self.kubelets.items())
        with self.store.lock:
            for node_name, view in views.items():
                node = self.store.get('nodes', None, node_name)
                if node is not None and sim_kubelet.apply_to_node(node, *view):
                    self.store.put('nodes', node)
            self._allocate_devices()
            for node_name, (generation, labels, dummy) in list(self.gfd_results.items()):
                if labels is None or self.gfd_applied.get(node_name) == generation:
                    continue
                self.gfd_applied[node_name] = generation
                node = self.store.get('nodes', None, node_name)
                if node is not None:
                    self._apply_feature_labels(node, labels)
            for proc in self.procs.values():
                entry = proc.entry
                if entry is None:
                    continue
                if entry['strategy'] is None:
                    entry['strategy'] = proc.strategy()
                node_name = entry['node']
                manager = self.kubelets.get(node_name)
                if manager is not None and manager.connected_since(proc.reloaded_at):
                    entry['resources'] = manager.healthy_counts()
                    if now - manager.last_registration() >= SETTLE_S and entry['resources_after_s'] is None:
                        entry['resources_after_s'] = round(manager.last_listed() - proc.reloaded_at, 3)

    def _apply_feature_labels(self, node, labels):
        """Node Feature Discovery: set the feature file's labels, remove those it set before that are gone."""
        meta = node['metadata']
        current = meta.setdefault('labels', {})
        annotations = meta.setdefault('annotations', {})
        before = json.dumps(meta, sort_keys=True)
        for key in (annotations.get(FEATURE_LABELS_ANNOTATION) or '').split(','):
            if key and key not in labels:
                current.pop(key, None)
        current.update(labels)
        annotations[FEATURE_LABELS_ANNOTATION] = ','.join(sorted(labels))
        if json.dumps(meta, sort_keys=True) != before:
            self.store.put('nodes', node)

    def shutdown(self):
        """Stop every plugin process and kubelet, and remove their folders."""
        procs = list(self.procs.values()) + list(self.stopping_procs)
        self.procs = {}
        self.stopping_procs = []
        for proc in procs:
            proc.terminate()
        deadline = time.monotonic() + 3
        for proc in procs:
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.kill()
            proc.close()
        for thread in self.gfd_threads:
            thread.join(max(0.0, deadline + 10 - time.monotonic()))  # feature discovery removes its node folder
        for server in self.pod_resources.values():
            server.stop()
        self.pod_resources = {}
        for manager in self.kubelets.values():
            manager.stop()
        self.kubelets = {}
        if self.kubelet_root:
            shutil.rmtree(self.kubelet_root, ignore_errors=True)
            self.kubelet_root = None

    # ------------------------------------------------------------------ DRA: NVIDIA's kubelet plugin and claims
    def _dra_daemonset(self):
        """The DRA driver's kubelet plugin DaemonSet as NVIDIA's chart renders it (templates/kubeletplugin.yaml: names,
        labels, the gpus container's NODE_NAME and NAMESPACE); image and the other settings are left out."""
        dra = self.dra
        selector = {'%s-component' % sim_dra.CHART: 'kubelet-plugin'}
        template_labels = dict(selector, **{'app.kubernetes.io/name': sim_dra.CHART, 'app.kubernetes.io/instance': dra['release']})
        env = [{'name': 'NODE_NAME', 'valueFrom': {'fieldRef': {'apiVersion': 'v1', 'fieldPath': 'spec.nodeName'}}},
               {'name': 'NAMESPACE', 'valueFrom': {'fieldRef': {'apiVersion': 'v1', 'fieldPath': 'metadata.namespace'}}}]
        pod_spec = {'containers': [{'name': 'gpus', 'image': 'registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu:v0.4.0',
                                    'command': ['gpu-kubelet-plugin'], 'env': env, 'resources': {},
                                    'terminationMessagePath': '/dev/termination-log', 'terminationMessagePolicy': 'File',
                                    'imagePullPolicy': 'IfNotPresent'}],
                    'restartPolicy': 'Always', 'terminationGracePeriodSeconds': int(math.ceil(dra['termination_grace'])),
                    'dnsPolicy': 'ClusterFirst', 'schedulerName': 'default-scheduler', 'priorityClassName': 'system-node-critical',
                    'serviceAccountName': '%s-service-account-kubeletplugin' % dra['release'],
                    'nodeSelector': dict(dra['node_selector'])}
        return {
            'metadata': {'name': dra['daemonset'], 'namespace': dra['namespace'], 'labels': dict(template_labels, **{'app.kubernetes.io/managed-by': 'Helm'}),
                         'annotations': {'deprecated.daemonset.template.generation': '1'}},
            'spec': {'selector': {'matchLabels': dict(selector)},
                     'template': {'metadata': {'labels': template_labels, 'annotations': {}}, 'spec': pod_spec},
                     'updateStrategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 1, 'maxSurge': 0}},
                     'revisionHistoryLimit': 10},
            'status': {'currentNumberScheduled': 0, 'desiredNumberScheduled': 0, 'numberMisscheduled': 0, 'numberReady': 0},
        }

    def _dra_plugins(self, now):
        """NVIDIA's DRA kubelet plugin: at each pod (re)start it reads NVML once and publishes the node's ResourceSlice;
        nothing is re-read while it runs (static MIG: "not picked up until the GPU kubelet plugin restarts")."""
        with self.store.lock:
            starting = []
            for pod in self.store.items('pods'):
                info = self.internal.get(pod['metadata']['uid'])
                if info is None or info['kind'] != 'dra-plugin' or info.get('delete_at') is not None:
                    continue
                due = (info.get('start_at') is not None and not info.get('started') and now >= info['start_at'] and info.get('retry_at') is None)
                retry = info.get('retry_at') is not None and now >= info['retry_at']
                if due or retry:
                    node = pod['spec']['nodeName']
                    starting.append({'node': node, 'pod': pod['metadata']['name'], 'uid': pod['metadata']['uid'],
                                     'nvml_state': self.nodes_cfg[node]['nvml_state'], 'mode': self.nodes_cfg[node]['dra_mig']})
        for inputs in starting:
            devices, error = None, None
            with self.store.lock:
                error = (self.dra_plugin_faults.get(inputs['node']) or {}).get('start_error')
            if error:
                pass  # a fault (PUT /_sim/dra-plugin/<node>): the plugin fails to start and crash-loops until it is cleared
            elif inputs['mode'] == 'static':
                try:
                    devices = sim_dra.publish_devices(sim_dra.read_node(inputs['nvml_state'], self._sim_build(inputs['node'])))
                except sim_dra.DraPluginError as exc:
                    error = str(exc)
            with self.store.lock:
                pod = self.store.get('pods', self.dra['namespace'], inputs['pod'])
                if pod is None or pod['metadata']['uid'] != inputs['uid'] or pod['metadata'].get('deletionTimestamp'):
                    continue
                self.plugin_log.append({'time': now_iso(), 'node': inputs['node'], 'pod': inputs['pod'], 'implementation': 'dra',
                                        'dra_mig': inputs['mode'], 'devices': [d['name'] for d in devices] if devices is not None else None,
                                        'config': None, 'strategy': None, 'resources': None, 'error': error})
                if error:
                    self._set_crashloop(pod, error, delay=float(self.dra['crashloop_backoff']))
                    continue
                if devices is not None:
                    self._publish_slice(inputs['node'], devices)
                # [simplified] With DynamicMIG the plugin would publish every profile x placement with counter sets and
                # destroy MIG devices it did not create; the simulator only carries the mode and publishes nothing.
                self.internal[inputs['uid']]['retry_at'] = None
                self._set_running(pod)
        with self.store.lock:
            self._wipe_slices(now)

    def _dra_registered(self, node_name):
        """A DRA kubelet plugin pod runs on the node and has registered: started, not terminating, not crash-looping."""
        for pod in self.store.items('pods', self.dra['namespace']):
            info = self.internal.get(pod['metadata']['uid']) or {}
            if (info.get('kind') == 'dra-plugin' and pod['spec'].get('nodeName') == node_name and info.get('started')
                    and info.get('delete_at') is None and info.get('retry_at') is None):
                return True
        return False

    def _wipe_slices(self, now):
        """The kubelet's side when the DRA plugin goes: a plugin that stops de-registers (its socket goes) and does not
        delete its ResourceSlices itself (NVIDIA's driver.Shutdown does not); the kubelet deletes the driver's slices
        of its node slice_wipe_delay later (its defaultWipingDelay, 30 s) unless a plugin of the driver registered
        again meanwhile, so a restart keeps them and a plugin that stays away (a relabelled node, a crash loop) loses
        them. [simplified] The delay is counted from the first tick that sees no registered plugin."""
        nodes = set(s['spec'].get('nodeName') for s in self.store.items('resourceslices')
                    if s['spec'].get('driver') == sim_dra.DRIVER and s['spec'].get('nodeName'))
        for node_name in list(self.dra_unregistered):
            if node_name not in nodes:
                del self.dra_unregistered[node_name]
        for node_name in nodes:
            if self._dra_registered(node_name):
                self.dra_unregistered.pop(node_name, None)
                continue
            since = self.dra_unregistered.setdefault(node_name, now)
            if now - since >= float(self.dra['slice_wipe_delay']):
                for found in self.store.items('resourceslices'):
                    if found['spec'].get('nodeName') == node_name and found['spec'].get('driver') == sim_dra.DRIVER:
                        self.store.remove('resourceslices', None, found['metadata']['name'])
                del self.dra_unregistered[node_name]

    def _publish_slice(self, node_name, devices):
        """The resource slice controller's sync of the node's pool: create the slice, or update it in place (one changed
        slice keeps the pool generation); nothing is written when the devices are the same."""
        node = self.store.get('nodes', None, node_name)
        existing = [s for s in self.store.items('resourceslices')
                    if s['spec'].get('nodeName') == node_name and s['spec'].get('driver') == sim_dra.DRIVER]
        if not existing:
            if node is not None:
                self.store.add('resourceslices', sim_dra.resource_slice(node, devices, sim_dra.slice_name_prefix(node_name) + _suffix()))
            return
        for extra in existing[1:]:
            self.store.remove('resourceslices', None, extra['metadata']['name'])
        if existing[0]['spec'].get('devices') != devices:
            existing[0]['spec']['devices'] = devices
            self.store.put('resourceslices', existing[0])

    def _claim_controller(self):
        """The resourceclaim controller: a claim per template reference of a pod (owned by the pod, named
        "<pod>-<claim>-<suffix>"), reservations of pods that are gone or done dropped, a claim reserved for nobody
        deallocated, and a generated claim deleted with its pod (the garbage collector)."""
        pods = dict((p['metadata']['uid'], p) for p in self.store.items('pods'))
        for pod in pods.values():
            entries = pod['spec'].get('resourceClaims') or []
            if pod['metadata'].get('deletionTimestamp') or not entries:
                continue
            statuses = pod['status'].setdefault('resourceClaimStatuses', [])
            known = set(s['name'] for s in statuses)
            changed = False
            for entry in entries:
                template_name = entry.get('resourceClaimTemplateName')
                if not template_name or entry['name'] in known:
                    continue
                template = self.store.get('resourceclaimtemplates', pod['metadata']['namespace'], template_name)
                if template is None:
                    continue
                meta = json.loads(json.dumps((template.get('spec') or {}).get('metadata') or {}))
                annotations = dict(meta.get('annotations') or {}, **{'resource.kubernetes.io/pod-claim-name': entry['name']})
                claim = {'metadata': {'name': '%s-%s-%s' % (pod['metadata']['name'], entry['name'], _suffix()),
                                      'namespace': pod['metadata']['namespace'], 'labels': dict(meta.get('labels') or {}),
                                      'annotations': annotations,
                                      'ownerReferences': [{'apiVersion': 'v1', 'kind': 'Pod', 'name': pod['metadata']['name'],
                                                           'uid': pod['metadata']['uid'], 'controller': True, 'blockOwnerDeletion': True}]},
                         'spec': json.loads(json.dumps((template.get('spec') or {}).get('spec') or {})), 'status': {}}
                self.store.add('resourceclaims', claim)
                statuses.append({'name': entry['name'], 'resourceClaimName': claim['metadata']['name']})
                changed = True
            if changed:
                self.store.put('pods', pod)
            elif not statuses:
                del pod['status']['resourceClaimStatuses']
        for claim in self.store.items('resourceclaims'):
            owner = owner_uid(claim, 'Pod')
            if owner is not None and owner not in pods:
                self.store.remove('resourceclaims', claim['metadata']['namespace'], claim['metadata']['name'])
                continue
            status = claim.setdefault('status', {})
            reserved = [r for r in status.get('reservedFor') or [] if r.get('uid') in pods
                        and pods[r['uid']]['status'].get('phase') not in ('Succeeded', 'Failed')]
            if reserved == (status.get('reservedFor') or []):
                continue
            if reserved:
                status['reservedFor'] = reserved
            else:
                status.pop('reservedFor', None)
                status.pop('allocation', None)
            self.store.put('resourceclaims', claim)

    def _pod_claims(self, pod):
        """The ResourceClaims a pod uses (raises AllocationError with the scheduler's reason while one is missing)."""
        claims = []
        statuses = dict((s['name'], s.get('resourceClaimName')) for s in pod['status'].get('resourceClaimStatuses') or [])
        for entry in pod['spec'].get('resourceClaims') or []:
            name = entry.get('resourceClaimName')
            if entry.get('resourceClaimTemplateName'):
                name = statuses.get(entry['name'])
                if name is None:
                    raise sim_dra.AllocationError('waiting for dynamic resource controller to create the resourceclaim "%s"' % entry['name'])
            claim = self.store.get('resourceclaims', pod['metadata']['namespace'], name)
            if claim is None:
                raise sim_dra.AllocationError('resourceclaim "%s" not found' % name)
            claims.append(claim)
        return claims

    def _claim_plan(self, pod, node_name, extended=None):
        """(claims, results per unallocated claim) for the pod on the node, the special claim of ``extended`` (KEP-5004)
        under EXTENDED_CLAIM; raises AllocationError."""
        claims = self._pod_claims(pod)
        if not claims and not extended:
            return claims, {}
        for claim in claims:
            if (claim.get('status') or {}).get('allocation') and sim_dra.allocated_node(claim) != node_name:
                raise sim_dra.AllocationError('resourceclaim %s is allocated on another node' % claim['metadata']['name'])
        in_use = set()
        for claim in self.store.items('resourceclaims'):
            for result in ((((claim.get('status') or {}).get('allocation') or {}).get('devices') or {}).get('results') or []):
                in_use.add((result['driver'], result['pool'], result['device']))
        node_devices = [(s['spec']['driver'], s['spec']['pool']['name'], device)
                        for s in self.store.items('resourceslices') if s['spec'].get('nodeName') == node_name
                        for device in s['spec'].get('devices') or []]
        classes = dict((c['metadata']['name'], c) for c in self.store.items('deviceclasses'))
        pending = [c for c in claims if not (c.get('status') or {}).get('allocation')]
        if extended:
            # One claim for all of the pod's DRA-backed extended resources, allocated with its other claims.
            pending.append({'metadata': {'name': EXTENDED_CLAIM}, 'spec': {'devices': {'requests': [r for r, dummy, dummy2 in extended]}}})
        return claims, sim_dra.allocate_on_node(pending, classes, node_devices, in_use)

    def _reserve_claims(self, pod, node_name):
        """The scheduler's DRA plugin at binding: allocate the pod's unallocated claims on the node, reserve all for it.

        KEP-5004 (kube-scheduler dynamicresources extendedresources.go, PreBind): the special claim is created here,
        named from ``<pod>-extended-resources-``, annotated resource.kubernetes.io/extended-resource-claim "true", owned
        by the pod (controller), allocated and reserved for it, and named in the pod's
        status.extendedResourceClaimStatus with the container/resource -> request mappings. [simplified] No
        delete-protection finalizer (none in k8ssim)."""
        node = self.store.get('nodes', None, node_name)
        extended = self._extended_plan(pod, node) if node is not None else []
        claims, planned = self._claim_plan(pod, node_name, extended)
        if extended:
            meta = pod['metadata']
            prefix = '%s-extended-resources-' % meta['name']
            special = {'metadata': {'name': prefix + _suffix(), 'generateName': prefix, 'namespace': meta['namespace'],
                                    'annotations': {sim_dra.EXTENDED_RESOURCE_CLAIM_ANNOTATION: 'true'},
                                    'ownerReferences': [{'apiVersion': 'v1', 'kind': 'Pod', 'name': meta['name'], 'uid': meta['uid'],
                                                         'controller': True, 'blockOwnerDeletion': True}]},
                       'spec': {'devices': {'requests': [r for r, dummy, dummy2 in extended]}},
                       'status': {'allocation': sim_dra.allocation(planned[EXTENDED_CLAIM], node_name),
                                  'reservedFor': [{'resource': 'pods', 'name': meta['name'], 'uid': meta['uid']}]}}
            self.store.add('resourceclaims', special)
            pod['status']['extendedResourceClaimStatus'] = {
                'requestMappings': [{'containerName': c, 'resourceName': res, 'requestName': r['name']} for r, c, res in extended],
                'resourceClaimName': special['metadata']['name']}
        for claim in claims:
            status = claim.setdefault('status', {})
            if claim['metadata']['name'] in planned:
                status['allocation'] = sim_dra.allocation(planned[claim['metadata']['name']], node_name)
            reserved = status.setdefault('reservedFor', [])
            if not any(r.get('uid') == pod['metadata']['uid'] for r in reserved):
                reserved.append({'resource': 'pods', 'name': pod['metadata']['name'], 'uid': pod['metadata']['uid']})
            self.store.put('resourceclaims', claim)

    # ------------------------------------------------------------------ statuses
    def pdb_status(self, pdb):
        """status of a PodDisruptionBudget as the disruption controller computes it."""
        spec = pdb.get('spec') or {}
        namespace = pdb['metadata']['namespace']
        pods = [p for p in self.store.items('pods', namespace)
                if match_label_selector_object(spec.get('selector'), p['metadata'].get('labels'))]
        healthy = sum(1 for p in pods if pod_ready(p) and not p['metadata'].get('deletionTimestamp'))
        if 'minAvailable' in spec and not (isinstance(spec['minAvailable'], str) and spec['minAvailable'].endswith('%')):
            expected = len(pods)
            desired = int(spec['minAvailable'])
        else:
            expected = 0
            seen = set()
            for pod in pods:
                uid = owner_uid(pod)
                if uid is None or uid in seen:
                    expected += 1 if uid is None else 0
                    continue
                seen.add(uid)
                owner = next((o for plural in ('replicasets', 'daemonsets') for o in self.store.items(plural, namespace)
                              if o['metadata']['uid'] == uid), None)
                if owner is None:
                    expected += 1
                elif owner['kind'] == 'ReplicaSet':
                    expected += int(owner['spec'].get('replicas', 1))
                else:
                    expected += int((owner.get('status') or {}).get('desiredNumberScheduled', 0))
            if 'minAvailable' in spec:
                desired = _scaled(spec['minAvailable'], expected, True)
            else:
                desired = max(0, expected - _scaled(spec.get('maxUnavailable', 0), expected, True))
        allowed = max(0, healthy - desired)
        return {'currentHealthy': healthy, 'desiredHealthy': desired, 'disruptionsAllowed': allowed, 'expectedPods': expected,
                'observedGeneration': pdb['metadata'].get('generation', 1)}

    def _pdb_statuses(self):
        for pdb in self.store.items('poddisruptionbudgets'):
            computed = self.pdb_status(pdb)
            key = '%s/%s' % (pdb['metadata']['namespace'], pdb['metadata']['name'])
            margin = computed['currentHealthy'] - computed['desiredHealthy']
            if key not in self.pdb_low_water or margin < self.pdb_low_water[key]['margin']:
                self.pdb_low_water[key] = {'margin': margin, 'time': now_iso(), 'currentHealthy': computed['currentHealthy'],
                                           'desiredHealthy': computed['desiredHealthy']}
            status = dict(pdb.get('status') or {})
            old_cond = next((c for c in status.get('conditions') or [] if c.get('type') == 'DisruptionAllowed'), None)
            allowed = computed['disruptionsAllowed'] > 0
            cond = {'type': 'DisruptionAllowed', 'status': 'True' if allowed else 'False',
                    'reason': 'SufficientPods' if allowed else 'InsufficientPods', 'message': '',
                    'observedGeneration': computed['observedGeneration'],
                    'lastTransitionTime': old_cond['lastTransitionTime'] if old_cond and old_cond.get('status') == ('True' if allowed else 'False')
                    else now_iso()}
            computed['conditions'] = [cond]
            if status != computed:
                pdb['status'] = computed
                self.store.put('poddisruptionbudgets', pdb)

    def _workload_statuses(self):
        for rs in self.store.items('replicasets'):
            uid = rs['metadata']['uid']
            pods = [p for p in self.store.items('pods', rs['metadata']['namespace']) if owner_uid(p) == uid
                    and not p['metadata'].get('deletionTimestamp')]
            ready = sum(1 for p in pods if pod_ready(p))
            status = {'replicas': len(pods), 'fullyLabeledReplicas': len(pods), 'readyReplicas': ready, 'availableReplicas': ready,
                      'observedGeneration': rs['metadata'].get('generation', 1)}
            if rs.get('status') != status:
                rs['status'] = status
                self.store.put('replicasets', rs)

    def _daemonset_statuses(self):
        for ds in self.store.items('daemonsets'):
            uid = ds['metadata']['uid']
            revision = _template_hash(ds['spec'].get('template') or {})
            eligible = self._eligible_nodes(ds)
            pods = [p for p in self.store.items('pods', ds['metadata']['namespace']) if owner_uid(p) == uid
                    and not p['metadata'].get('deletionTimestamp')]
            ready = sum(1 for p in pods if pod_ready(p))
            status = {'currentNumberScheduled': len(pods), 'desiredNumberScheduled': len(eligible), 'numberMisscheduled': 0,
                      'numberReady': ready, 'numberAvailable': ready, 'observedGeneration': ds['metadata'].get('generation', 1),
                      'updatedNumberScheduled': sum(1 for p in pods if p['metadata']['labels'].get('controller-revision-hash') == revision)}
            if len(eligible) - ready:
                status['numberUnavailable'] = len(eligible) - ready
            if ds.get('status') != status:
                ds['status'] = status
                self.store.put('daemonsets', ds)

    # ------------------------------------------------------------------ eviction
    def evict(self, namespace, name, grace=None, dry_run=False):
        """policy/v1 Eviction (k8s.md section 5).  Raises ApiError; returns on success."""
        pod = self.store.get('pods', namespace, name)
        if pod is None:
            raise not_found(BY_PLURAL['pods'], name)
        if pod['metadata'].get('deletionTimestamp') or pod['status'].get('phase') in ('Succeeded', 'Failed', 'Pending'):
            self.delete_pod(pod, grace, dry_run)
            return
        pdbs = [p for p in self.store.items('poddisruptionbudgets', namespace)
                if match_label_selector_object((p.get('spec') or {}).get('selector'), pod['metadata'].get('labels'))]
        if len(pdbs) > 1:
            message = 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'
            raise ApiError(500, 'InternalError', 'Internal error occurred: %s' % message, {'causes': [{'message': message}]})
        if not pdbs:
            self.delete_pod(pod, grace, dry_run)
            return
        pdb = pdbs[0]
        pdb_name = pdb['metadata']['name']
        status = pdb.get('status') or {}
        if status.get('observedGeneration', 0) < pdb['metadata'].get('generation', 1):
            raise _too_many(pdb_name, 'The disruption budget %s is still being processed by the server.' % pdb_name)
        status = self.pdb_status(pdb)
        if not pod_ready(pod):
            policy = (pdb.get('spec') or {}).get('unhealthyPodEvictionPolicy') or 'IfHealthyBudget'
            if policy == 'AlwaysAllow' or (status['currentHealthy'] >= status['desiredHealthy'] and status['desiredHealthy'] > 0):
                self.delete_pod(pod, grace, dry_run)
                return
        if status['disruptionsAllowed'] <= 0:
            raise _too_many(pdb_name, 'The disruption budget %s needs %d healthy pods and has %d currently'
                            % (pdb_name, status['desiredHealthy'], status['currentHealthy']))
        if dry_run:
            return
        self.delete_pod(pod, grace)
        self._pdb_statuses()


def _too_many(pdb_name, cause):
    del pdb_name
    return ApiError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.",
                    {'causes': [{'reason': 'DisruptionBudget', 'message': cause}]})
