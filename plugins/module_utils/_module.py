# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The base of the collection's modules: what each of them did on its own, done once.

- The Python library a module needs is checked as it starts: one failure naming the package (and the version
  the collection is tested with, where requirements.txt pins one) with the import's traceback.
- Domain errors (an NVML call that failed, an API request that failed, the collection's own errors) become one
  ``fail_json``: the error's message and the fields its type reports (``errors`` maps each type to them).
- ``failure`` holds what every failure of the run reports besides (for example the GPUs handled so far).

The NVML modules build on it in ``_nvml_module``, the Kubernetes modules in ``_k8s_module``; they are separate
files so that a module loads only the client it uses.
"""

from __future__ import annotations

import contextlib

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

__all__ = ('GpufleetModule', 'Library')


class Library(object):
    """A Python library a module cannot run without: its package name, the version requirements.txt pins (or None),
    and the traceback of its failed import (None when it imported)."""

    def __init__(self, package, import_error, pinned=None):
        self.package = package
        self.import_error = import_error
        self.pinned = pinned

    def missing_message(self):
        reason = None
        if self.pinned:
            reason = ('by this module (the collection is tested with %s==%s, the version its requirements.txt pins)'
                      % (self.package, self.pinned))
        return missing_required_lib(self.package, reason=reason)


class GpufleetModule(AnsibleModule):
    """An AnsibleModule that checks its ``libraries`` once and turns the domain ``errors`` into ``fail_json``.

    ``errors`` maps an exception type to a function of the exception that gives the fields a failure reports besides
    the message; the first type that matches wins. ``failure`` is what every failure reports besides.
    """

    def __init__(self, libraries=(), errors=None, failure=None, **kwargs):
        # Set before AnsibleModule validates the arguments: a refused argument is a failure like the others.
        self.failure = dict(failure or {})
        self.errors = dict(errors or {})
        super(GpufleetModule, self).__init__(**kwargs)
        for library in libraries:
            self.require(library)

    def require(self, library):
        """Fail, naming the package, when ``library`` did not import."""
        if library.import_error:
            self.fail_json(msg=library.missing_message(), exception=library.import_error)

    def fail_json(self, msg, **kwargs):
        result = dict(self.failure)
        result.update(kwargs)
        super(GpufleetModule, self).fail_json(msg=msg, **result)

    def fail_problems(self, problems):
        """Fail with every problem found, joined in the message and listed in ``problems``; nothing when there is none."""
        if problems:
            self.fail_json(msg='; '.join(problems), problems=list(problems))

    def fail_from(self, exc, **extra):
        """Fail with the domain error ``exc``: its message, the fields its type reports, and ``extra``."""
        result = {}
        for kind, fields in self.errors.items():
            if isinstance(exc, kind):
                result.update(fields(exc))
                break
        result.update(extra)
        self.fail_json(msg=str(exc), **result)

    @contextlib.contextmanager
    def failing_on_errors(self, **extra):
        """Inside, a domain error (a type in ``errors``) ends the module with :meth:`fail_from`."""
        try:
            yield
        except tuple(self.errors) as exc:
            self.fail_from(exc, **extra)
