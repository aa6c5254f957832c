# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's modules in this process, as Ansible would, and watch what they do.

``run_module`` hands the arguments to ``main()`` the way ansible-core's own unit tests do
(``ansible.module_utils.testing.patch_module_args``), captures the one JSON result the module prints and
returns it. An exception that escapes ``main()`` is what Ansible shows as MODULE FAILURE with a traceback.

``SimNode`` is a fake NVML node (tests/simulator) that is put back byte for byte before each run, with the
mutating NVML calls of the run read from its call log. ``ApiRecorder`` stands in for the Kubernetes API server:
every request the real client would send is recorded and answered with an error, so a module that validates
its arguments first fails with its own message and makes no request.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import string
import subprocess
from unittest import mock

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from hypothesis import strategies as st

import hostile_strategies as hs

PACKAGE = 'ansible_collections.gpufleet.mig.plugins.modules.'


class Escaped(Exception):
    """An exception escaped the module: Ansible would report MODULE FAILURE with this traceback."""


def run_module(name, args):
    """Run module ``name`` with ``args``; return its result dict (with ``_rc``, the exit status)."""
    module = importlib.import_module(PACKAGE + name)
    ansible_warnings._global_warnings.clear()       # warnings are process-global; each run starts clean
    ansible_warnings._global_deprecations.clear()
    out = io.StringIO()
    rc = None
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit as exc:
            rc = exc.code
        except Exception as exc:
            raise Escaped('%s escaped %s.main() with %r' % (type(exc).__name__, name, args)) from exc
    text = out.getvalue()
    assert rc is not None, '%s.main() returned without exit_json or fail_json' % name
    try:
        result = json.loads(text)
    except ValueError:
        raise AssertionError('%s printed something that is not one JSON result: %r' % (name, text[:2000]))
    assert isinstance(result, dict)
    assert 'Traceback (most recent call last)' not in text and 'MODULE FAILURE' not in text, text
    result['_rc'] = rc
    return result


def simnode(*args, env=None):
    proc = subprocess.run([os.path.join(os.environ['SIM_BUILD'], 'bin', 'simnode')] + [str(a) for a in args],
                          capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


class SimNode(object):
    """A fake NVML node whose state file is restored before every run."""

    def __init__(self, directory, name, gpus, mig_enabled):
        self.state = os.path.join(directory, name + '.state')
        self.checkpoint = os.path.join(directory, name + '-checkpoint.json')
        args = ['create', self.state, '--name', name, '--driver', '595.58.03', '--mig-enabled', mig_enabled]
        for gpu in gpus:
            args += ['--gpu', gpu]
        simnode(*args)
        self.env = dict(os.environ, FAKE_NVML_STATE=self.state)
        self.env.pop('FAKE_NVML_EUID', None)

    def freeze(self):
        """Take the current state as the one every run starts from."""
        with open(self.state, 'rb') as handle:
            self.pristine = handle.read()

    def nvidia_smi(self, *args):
        proc = subprocess.run([os.path.join(os.environ['SIM_BUILD'], 'bin', 'nvidia-smi')] + [str(a) for a in args],
                              capture_output=True, text=True, check=False, env=self.env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def show(self):
        return json.loads(simnode('show', self.state, '--json'))

    @contextlib.contextmanager
    def session(self):
        """Restore the node, point NVML at it for the duration, and report what changed afterwards."""
        with open(self.state, 'wb') as handle:
            handle.write(self.pristine)
        for path in (self.state + '.calls', self.checkpoint):
            if os.path.exists(path):
                os.unlink(path)
        saved = dict((key, os.environ.get(key)) for key in ('FAKE_NVML_STATE', 'FAKE_NVML_EUID'))
        os.environ['FAKE_NVML_STATE'] = self.state
        os.environ.pop('FAKE_NVML_EUID', None)
        changes = []
        try:
            yield changes
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            changes.extend(self.changes())

    def changes(self):
        """What the last run changed: mutating NVML calls, a different state file, a checkpoint."""
        found = []
        if os.path.exists(self.state + '.calls'):
            with open(self.state + '.calls') as handle:
                # TIMESTAMP PID FUNCTION GPU|- RC mut|ro (tests/simulator/README.md, call log)
                found.extend('NVML call %s' % line.split()[2] for line in handle if line.split()[-1:] == ['mut'])
        with open(self.state, 'rb') as handle:
            if handle.read() != self.pristine:
                found.append('the state file changed')
        if os.path.exists(self.checkpoint):
            found.append('checkpoint %s was written' % self.checkpoint)
        return found


class ApiRecorder(object):
    """Record every request the kubernetes client sends and answer each with HTTP 599, without a network."""

    def __init__(self):
        self.requests = []

    @contextlib.contextmanager
    def installed(self):
        from kubernetes.client import rest

        recorder = self

        def request(self, method, url, *args, **kwargs):
            recorder.requests.append('%s %s' % (method, url))
            raise rest.ApiException(status=599, reason='no API server in this test')

        original = rest.RESTClientObject.request
        rest.RESTClientObject.request = request
        saved = dict((key, os.environ.pop(key)) for key in list(os.environ) if key.startswith('K8S_AUTH_'))
        try:
            yield self
        finally:
            rest.RESTClientObject.request = original
            os.environ.update(saved)


def spec_names(spec):
    """Every option name of ``spec``, aliases included."""
    names = set(spec)
    for option in spec.values():
        names.update(option.get('aliases', ()))
    return names


@st.composite
def argument_poison(draw, spec):
    """One mistake in the arguments themselves, which Ansible's own validation reports (only the first one).

    Returns (name, value, tokens, hints): an unknown option, or an option of ``spec`` with a value of the wrong type.
    """
    kind = draw(st.sampled_from(['unknown'] + sorted(n for n, o in spec.items() if o.get('type') in ('bool', 'int', 'float', 'list', 'dict'))))
    if kind == 'unknown':
        name = draw(st.text(string.ascii_lowercase + '_-', min_size=1, max_size=12).filter(lambda n: n not in spec_names(spec) and not n.startswith('_')))
        return name, draw(hs.junk(3)), (name,), ('Unsupported parameters',)
    kind_type = spec[kind]['type']
    if kind_type == 'bool':
        value = draw(st.sampled_from(['maybe', 'yess', '2', 'truee', 'null', '']) | st.lists(st.booleans(), min_size=1, max_size=2)
                     | st.dictionaries(st.text(max_size=2), st.booleans(), min_size=1, max_size=1))
    elif kind_type in ('int', 'float'):
        value = draw(st.sampled_from(['ten', '1.5.1', '0x', '', 'one']) | st.lists(st.integers(), min_size=1, max_size=2)
                     | st.dictionaries(st.text(max_size=2), st.integers(), min_size=1, max_size=1))
        if kind_type == 'int':
            value = draw(st.just(value) | st.sampled_from([1.5, -0.25, 'nan']))
    elif kind_type == 'list':
        if spec[kind].get('elements') == 'int':
            value = draw(st.lists(st.sampled_from(['x', '1.5', 'one', '']) | st.lists(st.integers(), max_size=1), min_size=1, max_size=3))
        else:
            # Ansible turns a scalar into a one-element list, so only a mapping is certainly wrong here.
            value = draw(st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2))
    else:
        value = draw(st.sampled_from(['just text', '[1, 2]', 'a']) | st.integers() | st.lists(st.integers(), min_size=1, max_size=2))
    return kind, value, ("'%s'" % kind,), ('unable to convert', 'could not', 'is of type', 'dictionary requested')


def module_spec(name):
    """The module's argument_spec, as its AnsibleModule (or the collection's base of it) is given it in main()."""
    module = importlib.import_module('ansible_collections.gpufleet.mig.plugins.modules.' + name)
    captured = {}

    class Stop(Exception):
        pass

    def fake(self, *args, **kwargs):
        captured.update(kwargs['argument_spec'])
        raise Stop()
    with mock.patch.object(AnsibleModule, '__init__', fake):
        try:
            module.main()
        except Stop:
            pass
    return captured
