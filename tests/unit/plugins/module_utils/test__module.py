# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The modules' bases: the library check, domain errors to fail_json, what every failure reports (_module, _nvml_module,
_k8s_module), each run as Ansible runs a module."""

from __future__ import annotations

import os
import re
import sys

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import KubeError
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KUBERNETES_LIBRARY, KubeModule
from ansible_collections.gpufleet.mig.plugins.module_utils._module import GpufleetModule, Library
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import NvmlError
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml_module import NVML_LIBRARY, NvmlModule

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'modules'))
from modrun import run_module  # noqa: E402  pylint: disable=wrong-import-position

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..')


class Refused(Exception):
    def __init__(self, message, who):
        super(Refused, self).__init__(message)
        self.who = who


def test_the_pinned_versions_are_those_of_requirements_txt():
    with open(os.path.join(ROOT, 'requirements.txt')) as handle:
        pins = dict(re.findall(r'^([A-Za-z0-9_.-]+)==(\S+)$', handle.read(), re.M))
    for library in (NVML_LIBRARY, KUBERNETES_LIBRARY):
        assert pins[library.package] == library.pinned


def test_a_missing_library_fails_once_naming_the_package_and_the_pinned_version():
    def main():
        GpufleetModule(argument_spec={}, libraries=(Library('nvidia-ml-py', 'Traceback: No module named pynvml', pinned='1.2.3'),))
        raise AssertionError('the module went on without its library')

    result = run_module(main, {})
    assert result['failed']
    assert 'Failed to import the required Python library (nvidia-ml-py)' in result['msg']
    assert 'nvidia-ml-py==1.2.3' in result['msg']


def test_a_library_without_a_pin_is_named_as_ansible_names_it():
    def main():
        module = GpufleetModule(argument_spec={})
        module.require(Library('PyYAML', 'Traceback'))

    assert run_module(main, {})['msg'].startswith('Failed to import the required Python library (PyYAML)')
    assert '==' not in run_module(main, {})['msg']


def test_domain_errors_fail_with_their_fields_and_what_every_failure_reports():
    def main():
        module = GpufleetModule(argument_spec={}, errors={Refused: lambda exc: {'who': exc.who}, ValueError: lambda exc: {}},
                                failure={'problems': []})
        module.failure['done'] = ['a']
        with module.failing_on_errors(extra=1):
            raise Refused('no', 'them')

    result = run_module(main, {})
    # Warnings that other tests in this process left are reported too; they are not this test's business.
    result.pop('warnings', None)
    assert result == {'failed': True, 'msg': 'no', 'who': 'them', 'extra': 1, 'problems': [], 'done': ['a'], 'invocation': {'module_args': {}}}


def test_other_exceptions_pass_through():
    def main():
        module = GpufleetModule(argument_spec={}, errors={Refused: lambda exc: {}})
        with module.failing_on_errors():
            raise KeyError('a bug is a bug')

    with pytest.raises(KeyError):
        run_module(main, {})


def test_problems_fail_all_together_and_none_is_no_failure():
    def main():
        module = GpufleetModule(argument_spec={})
        module.fail_problems([])
        module.fail_problems(['one', 'two'])

    result = run_module(main, {})
    assert result['msg'] == 'one; two' and result['problems'] == ['one', 'two']


def test_an_nvml_error_reports_the_function_the_code_and_the_gpu():
    def main():
        module = NvmlModule(argument_spec={})
        with module.failing_on_errors():
            raise NvmlError('nvmlDeviceGetMigMode failed on GPU 1', function='nvmlDeviceGetMigMode', code=999, gpu=1)

    result = run_module(main, {})
    assert (result['msg'], result['nvml_function'], result['nvml_error'], result['gpu']) == (
        'nvmlDeviceGetMigMode failed on GPU 1', 'nvmlDeviceGetMigMode', 999, 1)


def test_a_kube_module_takes_the_authentication_options_and_reports_the_http_status(monkeypatch):
    for key in ('K8S_AUTH_HOST', 'K8S_AUTH_API_KEY', 'K8S_AUTH_KUBECONFIG', 'K8S_AUTH_CONTEXT'):
        monkeypatch.delenv(key, raising=False)

    def main():
        module = KubeModule(argument_spec=dict(node=dict(type='str')))
        assert module.kube.api_client.configuration.host == 'http://127.0.0.1:9'
        with module.failing_on_errors():
            raise KubeError('reading node x failed: not found (HTTP 404)', 404)

    result = run_module(main, {'node': 'x', 'host': 'http://127.0.0.1:9', 'api_key': 'secret'})
    assert result['msg'] == 'reading node x failed: not found (HTTP 404)' and result['status'] == 404
    assert 'secret' not in str(result)
