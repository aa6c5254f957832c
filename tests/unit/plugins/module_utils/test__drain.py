# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The drain's notion of a GPU pod on a DRA node: a pod holding a ResourceClaim allocated devices of NVIDIA's DRA
driver (gpu.nvidia.com) in the node's pool, found through the claim's reservedFor or the claims the pod names; and the
capacity check, which shares it."""

from __future__ import annotations

from ansible_collections.gpufleet.mig.plugins.module_utils._capacity import capacity_check
from ansible_collections.gpufleet.mig.plugins.module_utils._drain import Drainer, classify_pods, dra_gpu_pods, needs_claims


def pod(name, namespace='ml', uid=None, claims=(), statuses=(), extended=None, gpu=False, node='n1', owner=None):
    spec = {'nodeName': node, 'containers': [{'name': 'main', 'resources': {'limits': {'nvidia.com/gpu': '1'}} if gpu else {}}]}
    if claims:
        spec['resourceClaims'] = [dict(entry) for entry in claims]
    status = {'phase': 'Running'}
    if statuses:
        status['resourceClaimStatuses'] = [dict(entry) for entry in statuses]
    if extended:
        status['extendedResourceClaimStatus'] = {'requestMappings': [], 'resourceClaimName': extended}
    metadata = {'name': name, 'namespace': namespace, 'uid': uid or 'uid-' + name}
    if owner:
        metadata['ownerReferences'] = [{'kind': owner, 'name': 'x', 'uid': 'o'}]
    return {'metadata': metadata, 'spec': spec, 'status': status}


def claim(name, devices, namespace='ml', pool='n1', driver='gpu.nvidia.com', reserved=()):
    status = {'allocation': {'devices': {'results': [{'request': 'gpu', 'driver': driver, 'pool': pool, 'device': device}
                                                     for device in devices]}}}
    if reserved:
        status['reservedFor'] = [{'resource': 'pods', 'name': pod_name, 'uid': 'uid-' + pod_name} for pod_name in reserved]
    return {'metadata': {'name': name, 'namespace': namespace}, 'spec': {}, 'status': status}


PODS = [
    # Found by the claim's reservedFor (the uid), though its spec names it only through a template.
    pod('templated', claims=[{'name': 'gpu', 'resourceClaimTemplateName': 't'}]),
    # Found by the claim it names (not yet in reservedFor), and by the one generated from its template.
    pod('named', claims=[{'name': 'gpu', 'resourceClaimName': 'whole-1'}]),
    pod('generated', claims=[{'name': 'gpu', 'resourceClaimTemplateName': 't'}],
        statuses=[{'name': 'gpu', 'resourceClaimName': 'generated-gpu-x2'}]),
    # KEP-5004: nvidia.com/gpu served by DRA; its claim is in status.extendedResourceClaimStatus.
    pod('extended', extended='extended-gpu-q', gpu=True),
    # A claim of another driver (a NIC), and one of another node's pool, make no GPU pod.
    pod('nic', claims=[{'name': 'nic', 'resourceClaimName': 'nic'}]),
    pod('elsewhere', claims=[{'name': 'gpu', 'resourceClaimName': 'other-node'}]),
    # The same claim name in another namespace is another claim.
    pod('stranger', namespace='web', claims=[{'name': 'gpu', 'resourceClaimName': 'whole-1'}]),
    pod('cpu'),
    pod('plugin', namespace='dra-driver-nvidia-gpu', owner='DaemonSet', claims=[{'name': 'gpu', 'resourceClaimName': 'whole-1'}]),
]
CLAIMS = [
    claim('templated-gpu-a1', ['gpu-0-mig-1g5gb-19-6'], reserved=['templated']),
    claim('whole-1', ['gpu-1']),
    claim('generated-gpu-x2', ['gpu-0-mig-2g10gb-14-4', 'gpu-0-mig-1g5gb-19-5']),
    claim('extended-gpu-q', ['gpu-0-mig-3g20gb-9-0']),
    claim('nic', ['eth1'], driver='nic.example.com', reserved=['nic']),
    claim('other-node', ['gpu-0'], pool='n2', reserved=['elsewhere']),
    claim('unallocated', []),
]


def test_pods_holding_gpu_claims_on_the_node_are_found_by_reservation_or_by_name():
    found = dra_gpu_pods(PODS, CLAIMS, 'n1')
    assert found == {
        'ml/templated': ['gpu-0-mig-1g5gb-19-6'],
        'ml/named': ['gpu-1'],
        'ml/generated': ['gpu-0-mig-1g5gb-19-5', 'gpu-0-mig-2g10gb-14-4'],
        'ml/extended': ['gpu-0-mig-3g20gb-9-0'],
    }
    # The pool is the node's: on n2 only the claim of n2's pool counts.
    assert dra_gpu_pods(PODS, CLAIMS, 'n2') == {'ml/elsewhere': ['gpu-0']}


def test_dra_gpu_pods_are_evicted_and_other_claims_do_not_make_gpu_pods():
    to_evict, skipped = classify_pods(PODS, dra_pods=dra_gpu_pods(PODS, CLAIMS, 'n1'))
    assert sorted('%s/%s' % (p['metadata']['namespace'], p['metadata']['name']) for p in to_evict) == [
        'ml/extended', 'ml/generated', 'ml/named', 'ml/templated']
    assert skipped == {'ml/nic': 'uses no GPU', 'ml/elsewhere': 'uses no GPU', 'web/stranger': 'uses no GPU', 'ml/cpu': 'uses no GPU',
                       'dra-driver-nvidia-gpu/plugin': 'DaemonSet pod (its controller would recreate it at once)'}
    # Without the claims, the DRA pods look like pods without GPUs (only the extended-resource one requests nvidia.com/gpu).
    assert [p['metadata']['name'] for p in classify_pods(PODS)[0]] == ['extended']


def test_claims_are_needed_only_when_a_pod_without_gpu_requests_uses_one():
    assert needs_claims(PODS)
    assert not needs_claims([pod('cpu'), pod('gpu', gpu=True), pod('extended', extended='e', gpu=True)])
    assert needs_claims([pod('extended-other-name', extended='e')])
    assert not needs_claims([])


class Kube(object):
    """The part of _k8s.Kube the drain's plan reads, counting the claim lists."""

    def __init__(self, pods, claims):
        self.pods, self.claims, self.claim_lists = pods, claims, 0

    def pods_on_node(self, node):
        return [p for p in self.pods if p['spec']['nodeName'] == node]

    def resource_claims(self):
        self.claim_lists += 1
        return self.claims


def test_the_plan_lists_the_claims_once_and_only_where_a_pod_uses_one():
    kube = Kube(PODS, CLAIMS)
    to_evict, skipped = Drainer(kube, 'n1').plan()
    assert kube.claim_lists == 1 and len(to_evict) == 4 and skipped['ml/nic'] == 'uses no GPU'
    # gpu_only=false evicts every pod anyway: no claim is read.
    kube = Kube(PODS, CLAIMS)
    assert len(Drainer(kube, 'n1').plan(gpu_only=False)[0]) == 8 and kube.claim_lists == 0
    # A device-plugin node: no pod uses a claim, none is read.
    kube = Kube([pod('train', gpu=True), pod('cpu')], CLAIMS)
    assert [p['metadata']['name'] for p in Drainer(kube, 'n1').plan()[0]] == ['train'] and kube.claim_lists == 0


def test_a_gpu_precise_plan_spares_dra_pods_on_gpus_that_do_not_change():
    kube = Kube(PODS, CLAIMS)
    drainer = Drainer(kube, 'n1', gpus=[1], pod_gpus={'ml/templated': [0], 'ml/generated': [0], 'ml/named': [1]})
    to_evict, skipped = drainer.plan()
    # ml/extended is not in the kubelet's answer: where it runs is not known, it goes.
    assert [p['metadata']['name'] for p in to_evict] == ['extended', 'named']
    assert skipped['ml/templated'] == skipped['ml/generated'] == 'holds only GPUs that do not change (0)'


def test_the_capacity_check_counts_dra_pods_as_evicted_without_placing_them():
    nodes = [{'metadata': {'name': name, 'labels': {}}, 'spec': {}, 'status': {'allocatable': {}}} for name in ('n1', 'n2')]
    owned = [dict(p, metadata=dict(p['metadata'], ownerReferences=[{'kind': 'ReplicaSet', 'name': 'rs', 'uid': 'rs', 'controller': True}]))
             if p['metadata']['namespace'] == 'ml' else p for p in PODS]
    found = capacity_check(nodes, owned, [], {'n1': {}}, claims=CLAIMS)
    assert found['evicted'] == ['ml/extended', 'ml/generated', 'ml/named', 'ml/templated']
    # ml/extended requests nvidia.com/gpu, which no node offers: it is stranded; the claim pods request nothing the
    # check counts (what DRA nodes offer is not modelled), so they are neither placed nor stranded.
    assert [entry['pod'] for entry in found['stranded']] == ['ml/extended'] and found['placed'] == {}
    assert capacity_check(nodes, owned, [], {'n1': {}})['evicted'] == ['ml/extended']
