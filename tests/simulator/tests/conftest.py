"""Fixtures for the GPU simulator tests.

The run needs the environment the Makefile's ``test`` target sets:
``LD_LIBRARY_PATH=$BUILD/lib`` (so the real pynvml loads the fake libnvidia-ml.so.1)
and ``SIM_BUILD=$BUILD`` (for the nvidia-smi / simnode wrappers).  Each test gets its
own node state file in tmp_path; FAKE_NVML_STATE is pointed at it and nvmlShutdown
is called after the test.
"""

from __future__ import absolute_import, division, print_function

import contextlib
import importlib.util
import json
import os
import subprocess

import pynvml
import pytest

SIM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_BUILD = os.environ.get('SIM_BUILD', '')


def pytest_configure(config):
    del config
    lib_dir = os.path.join(SIM_BUILD, 'lib')
    problems = []
    if not SIM_BUILD:
        problems.append('SIM_BUILD is not set')
    elif not os.path.exists(os.path.join(lib_dir, 'libnvidia-ml.so.1')):
        problems.append('%s/libnvidia-ml.so.1 does not exist (build it first)' % lib_dir)
    if lib_dir not in os.environ.get('LD_LIBRARY_PATH', '').split(':'):
        problems.append('LD_LIBRARY_PATH must contain %s before Python starts' % lib_dir)
    if problems:
        pytest.exit('simulator tests need the fake NVML: %s.\nRun: make -C tests/simulator test '
                    'BUILD=/abs/build PYTHON=/path/to/python' % '; '.join(problems), returncode=4)


def _load_simnode():
    spec = importlib.util.spec_from_file_location('simnode', os.path.join(SIM_DIR, 'simnode.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIMNODE = _load_simnode()


class Node(object):
    """A simulated node: its state file plus helpers for the control commands."""

    error = SIMNODE.SimError

    def __init__(self, path):
        self.path = path

    def sim(self, *args):
        return SIMNODE.sim_command(self.path, *args)

    def create(self, *models, **kwargs):
        self.sim('create', kwargs.get('name', 'node1'), kwargs.get('driver', '550.54.15'), kwargs.get('cuda', 12040),
                 kwargs.get('mig', 'all'), '1',
                 *SIMNODE.parse_gpu_specs(models))
        return self

    def show(self):
        return json.loads(self.sim('show'))

    def add_process(self, gpu, pid, gi='-', ci='-', used_mib=512):
        self.sim('process-add', gpu, gi, ci, pid, used_mib)

    def calls(self):
        return SIMNODE.read_calls(self.path)

    def env(self, **extra):
        env = dict(os.environ)
        env['FAKE_NVML_STATE'] = self.path
        env.update(extra)
        return env

    def run(self, tool, *args, **kwargs):
        """Run $SIM_BUILD/bin/<tool> against this node; returns (rc, stdout, stderr)."""
        proc = subprocess.run([os.path.join(SIM_BUILD, 'bin', tool)] + [str(a) for a in args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env(**kwargs),
                              universal_newlines=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def node(tmp_path, monkeypatch):
    """A node state path; FAKE_NVML_STATE points at it; NVML is shut down afterwards."""
    path = str(tmp_path / 'node.state')
    monkeypatch.setenv('FAKE_NVML_STATE', path)
    monkeypatch.delenv('FAKE_NVML_EUID', raising=False)
    yield Node(path)
    for dummy in range(16):
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            break


@pytest.fixture
def a100(node):  # pylint: disable=redefined-outer-name
    """One A100-SXM4-40GB with MIG enabled, NVML initialised; returns (node, handle)."""
    node.create('A100-SXM4-40GB')
    pynvml.nvmlInit()
    return node, pynvml.nvmlDeviceGetHandleByIndex(0)


@contextlib.contextmanager
def _nvml_raises(code):
    with pytest.raises(pynvml.NVMLError) as excinfo:
        yield excinfo
    assert excinfo.value.value == code, 'expected NVML error %d, got %d (%s)' % (code, excinfo.value.value, excinfo.value)


@pytest.fixture
def nvml_raises():
    """Context manager: the block must raise pynvml.NVMLError with the given return code."""
    return _nvml_raises
