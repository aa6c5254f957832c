#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the Python gRPC stubs of the kubelet's device plugin API (deviceplugin/v1beta1) at build time.

The .proto is the one NVIDIA's device plugin vendors (k8s.io/kubelet, unmodified), from the unpacked source
snapshot that tests/nvidia/build.py leaves in .build/nvidia/src/.  The simulated kubelet (sim_kubelet.py)
speaks this API to NVIDIA's plugin, so both sides are compiled from the same file.  The stubs go to
``OUT/deviceplugin/v1beta1/api_pb2.py`` and ``api_pb2_grpc.py`` (import ``deviceplugin.v1beta1``), with a
``SOURCE`` file naming the .proto and its sha256; they are regenerated only when those change.

    gen_grpc.py --src .build/nvidia/src --out .build/k8ssim-grpc

Exit status 0 with ``k8ssim grpc: skipped: ...`` when no snapshot is unpacked (a fresh clone without
../shared/nvidia): the simulated cluster then uses its Python model of the plugin and needs no stubs.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.metadata
import os
import shutil
import sys

PROTO = os.path.join('vendor', 'k8s.io', 'kubelet', 'pkg', 'apis', 'deviceplugin', 'v1beta1', 'api.proto')
PACKAGE = os.path.join('deviceplugin', 'v1beta1')


def find_proto(src):
    found = sorted(glob.glob(os.path.join(src, 'k8s-device-plugin-*', PROTO)))
    return found[-1] if found else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--src', required=True, help='the unpacked NVIDIA sources (.build/nvidia/src)')
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    proto = find_proto(args.src)
    if proto is None:
        print('k8ssim grpc: skipped: no k8s-device-plugin-*/%s under %s (NVIDIA sources not built)' % (PROTO, args.src))
        return 0
    with open(proto, 'rb') as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    from grpc_tools import protoc  # pylint: disable=import-outside-toplevel
    version = importlib.metadata.version('grpcio-tools')
    source = 'proto %s\nsha256 %s\ngrpcio-tools %s\n' % (os.path.relpath(proto, args.src), digest, version)
    stamp = os.path.join(args.out, 'SOURCE')
    if os.path.exists(stamp):
        with open(stamp) as handle:
            if handle.read() == source:
                print('k8ssim grpc: up to date in %s' % args.out)
                return 0
    shutil.rmtree(args.out, ignore_errors=True)
    work = os.path.join(args.out, 'proto')
    os.makedirs(os.path.join(work, PACKAGE))
    shutil.copyfile(proto, os.path.join(work, PACKAGE, 'api.proto'))
    include = os.path.join(os.path.dirname(protoc.__file__), '_proto')
    rc = protoc.main(['grpc_tools.protoc', '-I', work, '-I', include, '--python_out', args.out, '--grpc_python_out', args.out,
                      os.path.join(work, PACKAGE, 'api.proto')])
    if rc != 0:
        print('k8ssim grpc: protoc failed (%d) on %s' % (rc, proto), file=sys.stderr)
        return 1
    with open(stamp, 'w') as handle:
        handle.write(source)
    print('k8ssim grpc: generated %s from %s' % (os.path.join(args.out, PACKAGE), proto))
    return 0


if __name__ == '__main__':
    sys.exit(main())
