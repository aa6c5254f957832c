# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTPS for the simulated API server: a CA of its own, a serving certificate, client certificates per user.

As a real cluster's API server (kubeadm's layout): the serving certificate is signed by the cluster CA and names
127.0.0.1 and localhost; a client certificate's subject CN is the user name and its O entries the groups
(https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates). Every user the
server knows (the token names) gets one, so a test can authenticate with a certificate instead of a token. A second,
unrelated CA (``other-ca.crt``) is written beside them for the tests of a client that trusts the wrong CA.

Files, under ``<state dir>/pki``: ``ca.crt``, ``server.crt``/``server.key``, ``<user>.crt``/``<user>.key``,
``other-ca.crt``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# What the description's tls.client_certs may say: whether a client must, may or may not present a certificate.
CLIENT_CERTS = {'required': ssl.CERT_REQUIRED, 'optional': ssl.CERT_OPTIONAL, 'none': ssl.CERT_NONE}


def _key():
    # P-256: a certificate a second instead of RSA's; every TLS client the tests use accepts it.
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name, organizations=()):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
                     + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, key, issuer, issuer_key, ca=False, server=False, client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                                      key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                      encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, data):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(directory, users):
    """Write the CA, the serving certificate and one client certificate per user; returns ``{name: path}``."""
    os.makedirs(directory, exist_ok=True)
    ca_key = _key()
    ca_name = _name('k8ssim-ca')
    ca = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)
    paths = {'ca': os.path.join(directory, 'ca.crt')}
    _write(paths['ca'], _pem_cert(ca))
    server_key = _key()
    server = _certificate(_name('kube-apiserver'), server_key, ca_name, ca_key, server=True)
    paths['server_cert'], paths['server_key'] = os.path.join(directory, 'server.crt'), os.path.join(directory, 'server.key')
    _write(paths['server_cert'], _pem_cert(server) + _pem_cert(ca))
    _write(paths['server_key'], _pem_key(server_key))
    for user in users:
        key = _key()
        cert = _certificate(_name(user, ['k8ssim:users']), key, ca_name, ca_key, client=True)
        _write(os.path.join(directory, user + '.crt'), _pem_cert(cert))
        _write(os.path.join(directory, user + '.key'), _pem_key(key))
    other_key, other_name = _key(), _name('not-the-cluster-ca')
    paths['other_ca'] = os.path.join(directory, 'other-ca.crt')
    _write(paths['other_ca'], _pem_cert(_certificate(other_name, other_key, other_name, other_key, ca=True)))
    return paths


def server_context(paths, client_certs):
    """The serving side's TLS context; ``client_certs`` is a key of CLIENT_CERTS."""
    if client_certs not in CLIENT_CERTS:
        raise ValueError('tls.client_certs: %r is not one of %s' % (client_certs, ', '.join(sorted(CLIENT_CERTS))))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths['server_cert'], paths['server_key'])
    context.verify_mode = CLIENT_CERTS[client_certs]
    if client_certs != 'none':
        context.load_verify_locations(paths['ca'])
    return context


def peer_user(connection):
    """The user a verified client certificate names (its subject CN), or None."""
    getpeercert = getattr(connection, 'getpeercert', None)
    cert = getpeercert() if getpeercert else None
    for rdn in (cert or {}).get('subject', ()):
        for key, value in rdn:
            if key == 'commonName':
                return value
    return None
