# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTPS in the simulated API server: its own CA, client certificates as users, and the failures a real one gives.

The collection's side (each kubeconfig and K8S_AUTH_* way in, the message for an untrusted server) is the k8s_tls
integration target's; here the server itself, and what the collection's client says when a certificate is required.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest
import yaml
from kubernetes import client

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube, KubeError


def start_tls(cluster, tmp_path, client_certs):
    description = tmp_path / ('tls-%s.yml' % client_certs)
    description.write_text(yaml.safe_dump({'tls': {'client_certs': client_certs}, 'tokens': {'ci': 'ci-token'}, 'nodes': [{'name': 'n1'}]}))
    return cluster(str(description), name=client_certs)


def get(url, cafile, cert=None, token=None):
    context = ssl.create_default_context(cafile=cafile)
    if cert:
        context.load_cert_chain(cert + '.crt', cert + '.key')
    request = urllib.request.Request(url + '/api/v1/nodes', headers={'Authorization': 'Bearer ' + token} if token else {})
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return answer.status


def users(sim):
    return [entry['user'] for entry in sim.audit() if entry['path'] == '/api/v1/nodes']


def test_https_with_a_token_or_a_certificate_and_the_kubeconfig_has_the_ca(cluster, tmp_path):
    sim = start_tls(cluster, tmp_path, 'optional')
    pki = str(sim.state_dir) + '/pki'
    assert sim.url.startswith('https://127.0.0.1:')
    with open(sim.kubeconfig) as handle:
        kubeconfig = yaml.safe_load(handle)
    assert 'certificate-authority-data' in kubeconfig['clusters'][0]['cluster']
    assert list(kubeconfig['users'][0]['user']) == ['token']  # a certificate only where one is required
    assert get(sim.url, pki + '/ca.crt', token='ci-token') == 200
    assert get(sim.url, pki + '/ca.crt', cert=pki + '/ci') == 200
    # The certificate's subject is the user, taken before a token (the real server's x509 authenticator comes first).
    assert get(sim.url, pki + '/ca.crt', cert=pki + '/ci', token=sim.token) == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(sim.url, pki + '/ca.crt')
    assert refused.value.code == 401
    assert users(sim) == ['ci', 'ci', 'ci', None]
    # The kubernetes client with the cluster's kubeconfig (Cluster.api_client) trusts the CA the kubeconfig carries.
    assert [node.metadata.name for node in client.CoreV1Api(sim.api_client()).list_node().items] == ['n1']


def test_a_client_that_does_not_trust_the_ca_is_refused_in_the_handshake(cluster, tmp_path):
    sim = start_tls(cluster, tmp_path, 'optional')
    with pytest.raises(urllib.error.URLError) as refused:
        get(sim.url, str(sim.state_dir) + '/pki/other-ca.crt', token='ci-token')
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    # The server goes on serving the clients that do.
    assert get(sim.url, str(sim.state_dir) + '/pki/ca.crt', token='ci-token') == 200


def test_a_required_client_certificate(cluster, tmp_path):
    sim = start_tls(cluster, tmp_path, 'required')
    pki = str(sim.state_dir) + '/pki'
    with open(sim.kubeconfig) as handle:
        assert sorted(yaml.safe_load(handle)['users'][0]['user']) == ['client-certificate-data', 'client-key-data', 'token']
    assert get(sim.url, pki + '/ca.crt', cert=pki + '/ci') == 200
    # The collection's client, with the cluster's kubeconfig (it has the certificate), and with a token alone.
    assert Kube({'kubeconfig': sim.kubeconfig}).call('reading nodes', 'GET', '/api/v1/nodes')['items'][0]['metadata']['name'] == 'n1'
    client = Kube({'host': sim.url, 'api_key': 'ci-token', 'ca_cert': pki + '/ca.crt'}, sleep=pytest.fail)
    with pytest.raises(KubeError) as refused:
        client.call('reading nodes', 'GET', '/api/v1/nodes')
    # Named, with what to check, and not retried (sleep would fail the test).
    assert str(refused.value).startswith('reading nodes failed: the TLS handshake with the Kubernetes API server %s failed (' % sim.url)
    assert 'client-certificate-data' in str(refused.value)


def test_a_bad_client_certs_setting_is_refused_at_start(cluster, tmp_path):
    description = tmp_path / 'bad.yml'
    description.write_text(json.dumps({'tls': {'client_certs': 'sometimes'}}))
    with pytest.raises(Exception, match="tls.client_certs: 'sometimes' is not one of none, optional, required"):
        cluster(str(description), name='bad')
