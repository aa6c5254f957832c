# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The base of the modules that talk to the Kubernetes API (``node_drain``, ``node_labels``, ``device_plugin_config``,
``rollout_lock``, ``capacity_check``, ``mig_plan``, ``mig_config_info``, ``dra_plugin``, ``dra_info``): the authentication options, the
kubernetes library check, the client, KubeError to ``fail_json``, and a node update that check mode only predicts."""

from __future__ import annotations

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import AUTH_ARG_SPEC, KUBERNETES_IMPORT_ERROR, Kube, KubeError
from ansible_collections.gpufleet.mig.plugins.module_utils._module import GpufleetModule, Library

__all__ = ('KUBERNETES_LIBRARY', 'KubeModule')

# The package and the version requirements.txt pins (a unit test keeps the two the same).
KUBERNETES_LIBRARY = Library('kubernetes', KUBERNETES_IMPORT_ERROR, pinned='37.0.2')


class KubeModule(GpufleetModule):
    """A module that talks to the cluster. ``argument_spec`` gets the authentication options (``AUTH_ARG_SPEC``);
    the module fails at once when the kubernetes library is missing; inside ``failing_on_errors()`` a KubeError fails
    it with the HTTP ``status``. ``errors`` adds the module's own error types.
    """

    def __init__(self, argument_spec, errors=None, **kwargs):
        all_errors = {KubeError: lambda exc: {'status': exc.status}}
        all_errors.update(errors or {})
        super(KubeModule, self).__init__(argument_spec=dict(argument_spec, **AUTH_ARG_SPEC), libraries=(KUBERNETES_LIBRARY,),
                                         errors=all_errors, **kwargs)
        self._kube = None

    @property
    def kube(self):
        """The client, made from the authentication options at first use (KubeError when they do not configure one)."""
        if self._kube is None:
            self._kube = Kube(self.params)
        return self._kube

    def update_node(self, name, change):
        """Kube.update_node, which in check mode reads the node and returns it as ``change`` would leave it, writing nothing."""
        return self.kube.update_node(name, change, check_mode=self.check_mode)
