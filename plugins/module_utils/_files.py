# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Report files on the controller: read one, replace one atomically, parse a permission mode."""

from __future__ import annotations

import os
import tempfile

__all__ = ('make_directory', 'parse_mode', 'read_text', 'write_atomic')


def parse_mode(value):
    """A permission mode from an octal string ('0644') or an int; ValueError for anything else."""
    try:
        mode = int(value, 8) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        mode = -1
    if isinstance(value, bool) or not 0 <= mode <= 0o7777:
        raise ValueError("mode: %r is not a permission mode (give an octal string such as '0644')" % (value,))
    return mode


def read_text(path):
    """The file's text (undecodable bytes replaced), or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return None


def write_atomic(directory, name, content, mode):
    """Replace ``directory/name`` with ``content`` (text, written as UTF-8) so that a reader never sees half a file.

    A temporary file in the same directory, then a rename. OSError when it cannot be written (nothing is left behind).
    """
    handle, temporary = tempfile.mkstemp(dir=directory, prefix='.' + name + '.')
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(content.encode('utf-8'))
        os.chmod(temporary, mode)
        os.rename(temporary, os.path.join(directory, name))
    except OSError:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def make_directory(directory, mode):
    """Create ``directory`` and its parents, with the execute bits of ``mode``'s read bits; fine when it exists."""
    # exist_ok: several writers (the nodes of a batch) may create it at the same time.
    os.makedirs(directory, mode | ((mode & 0o444) >> 2), exist_ok=True)
