# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test creates each sanity virtual environment without pip and then downloads
get-pip.py from a host outside the package registries, which this project's build and CI
machines cannot reach.  It first looks in ``~/.ansible/test/cache/get_pip_<version>.py``,
so ``make`` installs this file there.  ansible-test runs it with the new environment's
Python and pip-style arguments (``--disable-pip-version-check pip==24.2 --no-setuptools
--no-wheel``).  We bring pip in with ``ensurepip`` and then let that pip install what was
asked for.  ansible-test hides pip's own configuration (``PIP_CONFIG_FILE=/dev/null``);
the pip that ``ensurepip`` bundles does not trust the system certificate store, so the
system CA bundle is handed to it explicitly.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys

MARKER = 'gpufleet-offline-get-pip'


def main():
    """Bootstrap pip into the running interpreter's environment, then install the requested packages."""
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    env = dict(os.environ)
    env.pop('PIP_CONFIG_FILE', None)
    cafile = ssl.get_default_verify_paths().openssl_cafile
    if cafile and os.path.exists(cafile):
        env['PIP_CERT'] = cafile
    subprocess.run([sys.executable, '-m', 'ensurepip', '--default-pip'], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet'] + args, check=True, env=env)


if __name__ == '__main__':
    main()
