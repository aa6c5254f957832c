# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the k8ssim tests."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

K8SSIM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if K8SSIM_DIR not in sys.path:
    sys.path.insert(0, K8SSIM_DIR)

SIM_BUILD = os.environ.get('SIM_BUILD', '')
SIMNODE = os.path.join(SIM_BUILD, 'bin', 'simnode')
NVIDIA_SMI = os.path.join(SIM_BUILD, 'bin', 'nvidia-smi')

CONFIGS = {
    'none': 'version: v1\nflags:\n  migStrategy: none\n',
    'single': 'version: v1\nflags:\n  migStrategy: single\n',
    'mixed': 'version: v1\nflags:\n  migStrategy: mixed\n  unknownFlag: ignored\nsharing: {}\n',
}


def simnode(*args):
    return subprocess.run([SIMNODE] + list(args), check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout


def nvidia_smi(state, *args, **kwargs):
    env = dict(os.environ, FAKE_NVML_STATE=state)
    return subprocess.run([NVIDIA_SMI] + list(args), check=kwargs.get('check', True), env=env, stdout=subprocess.PIPE,
                          universal_newlines=True).stdout


def wait_until(predicate, timeout=8.0, interval=0.05, message='condition'):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError('timed out waiting for %s' % message)
        time.sleep(interval)


def base_description(nodes, implementation=None, **extra):
    """A cluster description for the tests; ``implementation`` of the device plugin: None (NVIDIA's where its binaries
    are built, else the model), 'nvidia' or 'model'."""
    desc = {'tick': 0.05, 'time_scale': 0.1, 'pod_start_delay': 0.1, 'nodes': nodes,
            'device_plugin': {'namespace': 'gpu-operator', 'daemonset': 'nvidia-device-plugin-daemonset',
                              'configmap': 'nvidia-device-plugin-configs', 'default_config': 'none', 'restart_delay': 0.15,
                              'termination_grace': 0.05, 'crashloop_backoff': 0.5, 'crashloop_backoff_max': 1.0,
                              'endpoint_stop_grace': 1.0, 'configs': dict(CONFIGS)}}
    if implementation:
        desc['device_plugin']['implementation'] = implementation
    desc.update(extra)
    return desc


def nvidia_unavailable():
    """Why NVIDIA's device plugin cannot run in k8ssim here, or None."""
    import sim_nvidia  # pylint: disable=import-outside-toplevel
    return sim_nvidia.unavailable(sim_nvidia.tools_dir())


def clients(sim):
    """(CoreV1Api, AppsV1Api, PolicyV1Api) of the real kubernetes client, from the kubeconfig."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    cfg = client.Configuration()
    config.load_kube_config(config_file=sim.kubeconfig, client_configuration=cfg)
    api = client.ApiClient(cfg)
    return client.CoreV1Api(api), client.AppsV1Api(api), client.PolicyV1Api(api)


def raw(sim, method, path, body=None, content_type='application/json', token=None):
    """A raw HTTP request (for what the typed client cannot send): returns (code, decoded JSON body)."""
    req = urllib.request.Request(sim.url + path, data=body, method=method,
                                 headers={'Authorization': 'Bearer %s' % (token or sim.token), 'Content-Type': content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read().decode() or 'null')
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode() or 'null')
