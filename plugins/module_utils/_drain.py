# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Cordon, GPU-aware drain and uncordon of a node, the way ``kubectl drain`` does it, plus two promises.

Like kubectl (k8s.md section 5): cordon first, skip DaemonSet and mirror pods, evict every pod
concurrently through the Eviction API, retry a 429 (a PodDisruptionBudget forbids it now) after a
delay until the timeout, fail a pod on any other refusal (500: several budgets select it), and wait
until each evicted pod is gone (or replaced by a pod with another UID).

Beyond kubectl: only pods that use GPU resources are evicted unless asked otherwise (resources ``nvidia.com/gpu*`` and
``nvidia.com/mig-*``, or a ResourceClaim allocated devices of NVIDIA's DRA driver on the node); the cordon
this code makes is recorded in an annotation, so uncordon lifts only that cordon and an
administrator's own cordon stays; and a drain that fails leaves the node cordoned with the reason
in an annotation, visible to anyone who looks at the node.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import claims_on_pool
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import metadata_patch
from ansible_collections.gpufleet.mig.plugins.module_utils._wait import POLL_INTERVAL, Waiter, WaitTimeout

__all__ = (
    'CORDON_ANNOTATION',
    'DRAIN_FAILED_ANNOTATION',
    'DrainError',
    'Drainer',
    'classify_pods',
    'dra_gpu_pods',
    'needs_claims',
    'pod_resources_unread',
    'pods_on_gpus',
    'spare_untouched_gpus',
    'uses_gpu',
)

CORDON_ANNOTATION = 'gpufleet.mig/cordoned'
DRAIN_FAILED_ANNOTATION = 'gpufleet.mig/drain-failed'
MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'
# nvidia.com/gpu, its time-sliced renames (nvidia.com/gpu.shared) and every MIG resource (nvidia.com/mig-1g.5gb).
GPU_RESOURCE_PREFIXES = ('nvidia.com/gpu', 'nvidia.com/mig-')
# An eviction refused with these is tried again: 429, a budget forbids it now; 502-504 or no answer (None), the API
# server is briefly unavailable. Anything else (500: several budgets select the pod) will not change by waiting.
EVICTION_RETRIED = (429, 502, 503, 504, None)


class DrainError(Exception):
    """The drain did not finish; ``blocked`` maps 'namespace/name' to the reason."""

    def __init__(self, message, blocked=None, evicted=()):
        super(DrainError, self).__init__(message)
        self.blocked = dict(blocked or {})
        self.evicted = tuple(evicted)


def pod_name(pod):
    return '%s/%s' % (pod['metadata']['namespace'], pod['metadata']['name'])


def uses_gpu(pod):
    """True when any container or init container requests or limits a GPU or MIG resource."""
    spec = pod.get('spec') or {}
    for container in (spec.get('containers') or []) + (spec.get('initContainers') or []):
        resources = container.get('resources') or {}
        for amounts in (resources.get('requests') or {}, resources.get('limits') or {}):
            if any(key.startswith(GPU_RESOURCE_PREFIXES) for key in amounts):
                return True
    return False


def _claim_names(pod):
    """The names of the ResourceClaims the pod uses: its spec.resourceClaims by name, the claims generated from its
    templates (status.resourceClaimStatuses) and the claim of its extended resources that DRA serves (KEP-5004,
    status.extendedResourceClaimStatus)."""
    spec, status = pod.get('spec') or {}, pod.get('status') or {}
    names = set(entry.get('resourceClaimName') for entry in spec.get('resourceClaims') or [])
    names.update(entry.get('resourceClaimName') for entry in status.get('resourceClaimStatuses') or [])
    names.add((status.get('extendedResourceClaimStatus') or {}).get('resourceClaimName'))
    names.discard(None)
    return names


def needs_claims(pods):
    """Whether telling the GPU pods of ``pods`` apart needs the ResourceClaims: some pod that requests no GPU resource
    uses a claim. A pod can only use a claim it names in spec.resourceClaims (or, KEP-5004, in
    status.extendedResourceClaimStatus), so a node without such pods needs no claim list."""
    return any(not uses_gpu(pod) and ((pod.get('spec') or {}).get('resourceClaims')
                                      or (pod.get('status') or {}).get('extendedResourceClaimStatus')) for pod in pods)


def dra_gpu_pods(pods, claims, node):
    """``{'ns/name': [devices]}``: the pods of ``pods`` that hold a ResourceClaim (of ``claims``) allocated devices of
    NVIDIA's DRA driver (gpu.nvidia.com) in the node's pool (named after the node), with those devices.

    A pod holds a claim of its namespace that is reserved for it (status.reservedFor, by uid) or that it names (see
    :func:`_claim_names`). Claims of other drivers make no pod a GPU pod.
    """
    held = {}
    by_namespace = {}
    for pod in pods:
        by_namespace.setdefault(pod['metadata'].get('namespace'), []).append(pod)
    for claim in claims_on_pool(claims, node):
        reserved = set(ref.get('uid') for ref in claim['reserved_for'] if ref.get('resource') in (None, 'pods') and ref.get('uid'))
        for pod in by_namespace.get(claim['namespace'], []):
            if pod['metadata'].get('uid') in reserved or claim['name'] in _claim_names(pod):
                held.setdefault(pod_name(pod), set()).update(claim['devices'])
    return dict((name, sorted(devices)) for name, devices in held.items())


def classify_pods(pods, gpu_only=True, dra_pods=()):
    """Split the node's pods into (to_evict, skipped) where skipped maps 'ns/name' to the reason.

    ``dra_pods``: the names of the pods that hold devices of NVIDIA's DRA driver on the node (:func:`dra_gpu_pods`),
    GPU pods as much as those requesting GPU resources.
    """
    to_evict, skipped = [], {}
    for pod in sorted(pods, key=pod_name):
        metadata = pod['metadata']
        owners = metadata.get('ownerReferences') or []
        phase = (pod.get('status') or {}).get('phase')
        if any(owner.get('kind') == 'DaemonSet' for owner in owners):
            skipped[pod_name(pod)] = 'DaemonSet pod (its controller would recreate it at once)'
        elif MIRROR_ANNOTATION in (metadata.get('annotations') or {}):
            skipped[pod_name(pod)] = 'static (mirror) pod, managed by the kubelet'
        elif phase in ('Succeeded', 'Failed'):
            skipped[pod_name(pod)] = 'already finished (%s)' % phase
        elif gpu_only and not uses_gpu(pod) and pod_name(pod) not in dra_pods:
            skipped[pod_name(pod)] = 'uses no GPU'
        else:
            to_evict.append(pod)
    return to_evict, skipped


def pod_resources_unread(answer):
    """Why the ``pod_resources`` result ``answer`` (a mapping) holds no kubelet answer: its task was skipped or the API
    was not available; None when it holds one."""
    if answer.get('skipped'):
        return 'the pod-resources API was not read'
    if not answer.get('available'):
        return str(answer.get('reason') or 'the kubelet pod-resources API was not available')
    return None


def pods_on_gpus(answer):
    """``(pod_gpus, None)`` from a ``pod_resources`` module result run with ``gpus``, or ``(None, why not)``.

    ``pod_gpus`` maps 'ns/name' to the GPU indexes the pod holds (see :func:`spare_untouched_gpus`); ``why not`` is the
    reason a GPU-precise drain cannot be made and every GPU pod is evicted instead: the kubelet's answer was not read, or
    it lists DRA devices that name no GPU (``unmapped_dra_devices``). Raises ValueError when ``answer`` is not such a
    result.
    """
    if answer is None:
        return None, 'no pod_resources given: which pod holds which GPU is not known'
    if not isinstance(answer, Mapping):
        raise ValueError('pod_resources must be the result of gpufleet.mig.pod_resources, got %r' % (answer,))
    unread = pod_resources_unread(answer)
    if unread:
        return None, unread
    unmapped = answer.get('unmapped_dra_devices') or []
    if not isinstance(unmapped, list) or not all(isinstance(why, str) for why in unmapped):
        raise ValueError('pod_resources must be the result of gpufleet.mig.pod_resources (unmapped_dra_devices: a list of '
                         'sentences); got unmapped_dra_devices=%r' % (unmapped,))
    if unmapped:
        # gpu_info and NVIDIA's DRA driver disagree about the node's GPUs (or the driver names devices in a way not
        # known here): no DRA device's GPU can be trusted, so no pod is spared.
        return None, 'the kubelet lists DRA devices that name no GPU of gpus: %s' % '; '.join(unmapped)
    pod_gpus = answer.get('pod_gpus')
    if not isinstance(pod_gpus, Mapping) or not all(
            isinstance(held, list) and all(isinstance(index, int) for index in held) for held in pod_gpus.values()):
        raise ValueError('pod_resources must be the result of gpufleet.mig.pod_resources run with gpus '
                         '(pod_gpus: pod -> list of GPU indexes); got pod_gpus=%r' % (pod_gpus,))
    return dict(pod_gpus), None


def spare_untouched_gpus(to_evict, skipped, gpus, pod_gpus):
    """Keep on the node the pods that hold devices only on GPUs outside ``gpus`` (the GPUs that change).

    ``pod_gpus`` maps 'ns/name' to the GPU indexes the pod holds, as the kubelet's pod-resources API tells
    (``_podresources.pods_to_gpus``). A pod it does not cover is evicted: where it runs is not known.
    Returns the new (to_evict, skipped).
    """
    changing = set(gpus)
    evict, skipped = [], dict(skipped)
    for pod in to_evict:
        held = pod_gpus.get(pod_name(pod))
        if held and not changing.intersection(held):
            skipped[pod_name(pod)] = 'holds only GPUs that do not change (%s)' % ', '.join(str(index) for index in sorted(held))
        else:
            evict.append(pod)
    return evict, skipped


class Drainer(object):
    """Drain logic over a :class:`_k8s.Kube`; ``clock``/``sleep`` are injectable for tests of timing.

    ``labels`` and ``annotations`` (None removes a key) go into the same node patch as the cordon or the
    uncordon, so no one ever sees the node cordoned without them, or them without the cordon lifted.
    With ``gpus`` (the indexes of the GPUs that change) and ``pod_gpus`` (see :func:`spare_untouched_gpus`), a drain
    evicts only the pods on those GPUs.
    """

    def __init__(self, kube, node, timeout=600, retry_delay=5.0, grace_period=None, clock=time.monotonic, sleep=time.sleep,
                 labels=None, annotations=None, gpus=None, pod_gpus=None):
        self.kube = kube
        self.node = node
        self.timeout = timeout
        self.retry_delay = max(retry_delay, POLL_INTERVAL)
        self.grace_period = grace_period
        self.clock = clock
        self.sleep = sleep
        self.labels = labels or {}
        self.annotations = annotations or {}
        self.gpus = gpus
        self.pod_gpus = pod_gpus or {}

    # -- cordon -------------------------------------------------------------------------------

    def cordon_patch(self, node):
        """The patch that cordons ``node`` (recording that we did) and sets the labels, or None when nothing is to do.

        An existing cordon is left as it is: then only the labels and annotations are patched.
        """
        metadata = metadata_patch(node['metadata'], self.labels, self.annotations)
        patch = {}
        if not node['spec'].get('unschedulable'):
            patch['spec'] = {'unschedulable': True}
            metadata.setdefault('annotations', {})[CORDON_ANNOTATION] = 'true'
        if metadata:
            patch['metadata'] = metadata
        return patch or None

    def uncordon_patch(self, node, force=False):
        """The patch that lifts our cordon (any cordon with ``force``) and sets the labels, or None when nothing is to do."""
        annotations = node['metadata'].get('annotations') or {}
        ours = annotations.get(CORDON_ANNOTATION) == 'true'
        metadata = metadata_patch(node['metadata'], self.labels, self.annotations)
        patch = {}
        if node['spec'].get('unschedulable') and (ours or force):
            patch['spec'] = {'unschedulable': False}
        if ours or force or not node['spec'].get('unschedulable'):
            for key in (CORDON_ANNOTATION, DRAIN_FAILED_ANNOTATION):
                if key in annotations:
                    metadata.setdefault('annotations', {})[key] = None
        if metadata:
            patch['metadata'] = metadata
        return patch or None

    def cordon(self, check_mode=False):
        """Cordon the node and set the labels. Returns (changed, node after; in check mode, as it would be)."""
        return self._update(self.cordon_patch, check_mode)

    def uncordon(self, force=False, check_mode=False):
        """Lift the cordon if we made it (or ``force``) and set the labels. Returns (changed, admin_cordon_left, node after)."""
        changed, node = self._update(lambda current: self.uncordon_patch(current, force), check_mode)
        annotations = node['metadata'].get('annotations') or {}
        admin = bool(node['spec'].get('unschedulable')) and annotations.get(CORDON_ANNOTATION) != 'true' and not force
        return changed, admin, node

    def _update(self, change, check_mode):
        dummy, node, changed = self.kube.update_node(self.node, change, check_mode=check_mode)
        return changed, node

    def mark_failed(self, reason):
        """Leave the reason of a failed drain on the node."""
        self.kube.update_node(self.node, lambda node: {'metadata': {'annotations': {DRAIN_FAILED_ANNOTATION: reason[:1000]}}})

    # -- drain --------------------------------------------------------------------------------

    def plan(self, gpu_only=True):
        """(to_evict, skipped) for the node as it is now.

        The ResourceClaims are listed (once, all of them: the API has no selector on a claim's allocation) only when a
        pod on the node that requests no GPU resource uses a claim (:func:`needs_claims`).
        """
        pods = self.kube.pods_on_node(self.node)
        dra = dra_gpu_pods(pods, self.kube.resource_claims(), self.node) if gpu_only and needs_claims(pods) else {}
        to_evict, skipped = classify_pods(pods, gpu_only, dra)
        if self.gpus is None:
            return to_evict, skipped
        return spare_untouched_gpus(to_evict, skipped, self.gpus, self.pod_gpus)

    def drain(self, gpu_only=True):
        """Cordon (with the labels), evict, wait. Returns (cordon_changed, evicted names, skipped, node after the cordon).

        Raises DrainError.
        """
        cordon_changed, node = self.cordon()
        to_evict, skipped = self.plan(gpu_only)
        waiter = Waiter(self.timeout, self.clock, self.sleep)
        blocked = {}
        evicted = []
        if to_evict:
            workers = min(len(to_evict), 16)
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                outcomes = list(pool.map(lambda pod: (pod, self._evict(pod, waiter)), to_evict))
            for pod, refusal in outcomes:
                if refusal is None:
                    evicted.append(pod)
                else:
                    blocked[pod_name(pod)] = refusal
        waiting = self._wait_gone(evicted, waiter)
        blocked.update(waiting)
        done = [pod_name(pod) for pod in evicted if pod_name(pod) not in waiting]
        if blocked:
            message = 'draining node %s did not finish: %s' % (
                self.node, '; '.join('%s: %s' % (name, reason) for name, reason in sorted(blocked.items())))
            self.mark_failed(message)
            raise DrainError(message + '; the node stays cordoned and is annotated %s' % DRAIN_FAILED_ANNOTATION, blocked, done)
        # A drain that finished clears the mark of an earlier failed one.
        self.kube.update_node(self.node, lambda node: (
            {'metadata': {'annotations': {DRAIN_FAILED_ANNOTATION: None}}}
            if DRAIN_FAILED_ANNOTATION in (node['metadata'].get('annotations') or {}) else None))
        return cordon_changed, done, skipped, node

    def _evict(self, pod, waiter):
        """Evict one pod, trying again while it is refused for now, until the deadline. None when accepted, else why not."""
        namespace, name = pod['metadata']['namespace'], pod['metadata']['name']
        try:
            refusal = waiter.until(
                lambda: self.kube.evict(namespace, name, self.grace_period),
                lambda refusal: refusal is None or refusal[0] not in EVICTION_RETRIED,
                self.retry_delay,
                lambda refusal: 'eviction still refused when the timeout of %ss ran out (HTTP %s): %s' % ((self.timeout,) + refusal))
        except WaitTimeout as exc:
            return str(exc)
        return None if refusal is None else 'eviction refused (HTTP %s): %s' % refusal

    def _wait_gone(self, pods, waiter):
        """Wait until every pod is gone or replaced (another UID). Returns 'ns/name' -> reason for those still there."""
        left = dict((pod_name(pod), pod) for pod in pods)

        def still_there():
            for name, pod in list(left.items()):
                current = self.kube.read_pod(pod['metadata']['namespace'], pod['metadata']['name'])
                if current is None or current['metadata'].get('uid') != pod['metadata'].get('uid'):
                    del left[name]
            return left

        try:
            waiter.until(still_there, lambda left: not left, POLL_INTERVAL,
                         lambda left: 'evicted but still terminating when the timeout of %ss ran out' % self.timeout)
        except WaitTimeout as exc:
            return dict((name, str(exc)) for name in exc.last)
        return {}
