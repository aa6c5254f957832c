# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA's own device plugin and GPU feature discovery as the device plugin pods of the simulated GPU nodes.

Each plugin container is NVIDIA's unmodified ``nvidia-device-plugin`` binary (built by tests/nvidia/build.py),
started "on" its node by the node harness (tests/nvidia/harness.py: the node's /proc, PCI sysfs, fake NVML, and
the node's kubelet directory at /var/lib/kubelet), with the pod's environment and the config file that the GPU
Operator's config-manager would link at /config/config.yaml.  The plugin registers with the node's simulated
kubelet (sim_kubelet.py) over gRPC; what it reports through ListAndWatch becomes the node's capacity and
allocatable.  ``gpu-feature-discovery --oneshot`` runs the same way at each plugin (re)start; its label file
becomes the node's labels.
"""

from __future__ import absolute_import, division, print_function

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import sim_kubelet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HARNESS_DIR = os.path.join(ROOT, 'tests', 'nvidia')
PLUGIN = 'nvidia-device-plugin'
GFD = 'gpu-feature-discovery'
# Where config-manager links the selected config inside the plugin container (CONFIG_FILE of the DaemonSet).
CONFIG_DIR = '/config'
_KLOG = re.compile(r'^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\]]*\] ?(.*)$')
_STRATEGY = re.compile(r'"migStrategy": "([^"]*)"')


def _harness():
    if HARNESS_DIR not in sys.path:
        sys.path.insert(0, HARNESS_DIR)
    import harness  # pylint: disable=import-outside-toplevel,import-error
    return harness


def tools_dir(configured=None):
    """NVIDIA's binaries: the description's ``device_plugin.nvidia_tools``, else NVIDIA_TOOLS, else .build/nvidia/bin."""
    return configured or os.environ.get('NVIDIA_TOOLS') or os.path.join(ROOT, '.build', 'nvidia', 'bin')


def unavailable(tools):
    """Why NVIDIA's plugin cannot run here (a sentence), or None."""
    missing = [name for name in (PLUGIN, GFD) if not os.access(os.path.join(tools, name), os.X_OK)]
    if missing:
        return "NVIDIA's binaries are not built (%s missing in %s; make nvidia-tools builds them from ../shared/nvidia)" % (
            ', '.join(missing), tools)
    if os.geteuid() != 0:
        return 'the node harness needs root (unshare --mount)'
    for tool in ('unshare', 'setpriv'):
        if shutil.which(tool) is None:
            return '%s (util-linux) is not on PATH' % tool
    try:
        sim_kubelet.load_api()
    except ImportError as exc:
        return str(exc)
    return None


def last_error(text):
    """The last error line of a program's output: a klog error or fatal line without klog's header, or a line
    that is not klog's (the dynamic linker's, a Go panic); the plugin's info lines and its indented config dump
    are skipped."""
    for line in reversed([line for line in text.splitlines() if line.strip()]):
        match = _KLOG.match(line)
        if match:
            if match.group(1) in 'EF':
                return match.group(2)
            continue
        if not line[:1].isspace() and line[:1] not in '{}[]"' and not line.startswith('Running with config'):
            return line.strip()
    return 'exited without an error message'


# SIGKILL when the simulator's thread that started it ends, so no plugin outlives it. Set by setpriv (util-linux), which
# the node's entry script execs into: a Python preexec_fn would make subprocess fork instead of vfork, and in a process
# that runs gRPC servers the fork runs gRPC's fork handlers in the child, which could die before its exec ("epoll_wait
# error: Bad file descriptor").
DIE_WITH_PARENT = ('setpriv', '--pdeathsig', 'KILL')


def pod_environment(container, node_name, config_dir):
    """The container's environment as the kubelet gives it: values, fieldRef spec.nodeName, and CONFIG_FILE
    under /config mapped to the node's config folder on this machine."""
    env = {}
    for item in container.get('env') or []:
        name = item.get('name')
        if 'value' in item:
            env[name] = str(item['value'])
        elif ((item.get('valueFrom') or {}).get('fieldRef') or {}).get('fieldPath') == 'spec.nodeName':
            env[name] = node_name
    for name, value in list(env.items()):
        if value == CONFIG_DIR or value.startswith(CONFIG_DIR + '/'):
            env[name] = config_dir + value[len(CONFIG_DIR):]
    return env


def place_config(node_dir, data, name):
    """config-manager: the ConfigMap's files in available-configs/, and config/config.yaml linked to the selected
    one (a new link replaces the old one atomically).  Returns the config folder (what /config is)."""
    available = os.path.join(node_dir, 'available-configs')
    config = os.path.join(node_dir, 'config')
    os.makedirs(available, exist_ok=True)
    os.makedirs(config, exist_ok=True)
    for key, text in data.items():
        path = os.path.join(available, key)
        with open(path + '.tmp', 'w') as handle:
            handle.write(text)
        os.replace(path + '.tmp', path)
    link = os.path.join(config, 'config.yaml')
    if os.path.lexists(link + '.tmp'):
        os.unlink(link + '.tmp')
    os.symlink(os.path.join(available, name), link + '.tmp')
    os.replace(link + '.tmp', link)
    return config


class PluginProcess(object):
    """One run of NVIDIA's device plugin in one container start, on one node."""

    def __init__(self, state, sim_build, kubelet_dir, binary, env, log_path):
        self.node = _harness().Node(state, sim_build, kubelet_dir)
        self.node_name = None
        self.entry = None  # its start in the simulation's plugin log
        self.binary = binary
        self.env = env
        self.log_path = log_path
        self.proc = None
        self.started_at = None
        self.reloaded_at = None  # the last SIGHUP
        self.term_at = None
        self.returncode = None
        self.reload_offset = 0  # where the output of the run since the last SIGHUP begins

    def start(self):
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.log_path, 'ab') as log:
            self.proc = self.node.popen(list(DIE_WITH_PARENT) + [self.binary], env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = self.reloaded_at = time.monotonic()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def poll(self):
        if self.returncode is None and self.proc is not None:
            self.returncode = self.proc.poll()
        return self.returncode

    def output(self):
        try:
            with open(self.log_path, 'rb') as handle:
                return handle.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def strategy(self):
        """The MIG strategy the plugin runs with since its last (re)start, from its "Running with config" dump (None
        before it printed one)."""
        found = _STRATEGY.findall(self.output()[self.reload_offset:])
        return found[-1] if found else None

    def waiting_without_devices(self):
        return 'No devices found. Waiting indefinitely.' in self.output()[self.reload_offset:]

    def hup(self):
        """config-manager's SIGHUP: the plugin stops its servers, reloads the config, re-enumerates, re-registers."""
        self.node.refresh(self.proc.pid)
        self.reload_offset = len(self.output())
        self.reloaded_at = time.monotonic()
        os.kill(self.proc.pid, signal.SIGHUP)

    def terminate(self):
        if self.poll() is None and self.term_at is None:
            self.term_at = time.monotonic()
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except OSError:
                pass

    def kill(self):
        if self.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
            self.returncode = self.proc.returncode

    def close(self):
        self.node.close()


def run_gfd(state, sim_build, binary, env, output_file, timeout=60):
    """``gpu-feature-discovery --oneshot`` on the node: (labels, None) or (None, error line)."""
    node = _harness().Node(state, sim_build)
    try:
        if os.path.exists(output_file):
            os.unlink(output_file)
        proc = node.run(list(DIE_WITH_PARENT) + [binary, '--oneshot', '--no-timestamp', '--use-node-feature-api=false',
                                                 '--output-file=' + output_file], env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, 'gpu-feature-discovery did not finish within %ss' % timeout
    finally:
        node.close()
    if proc.returncode != 0 or not os.path.exists(output_file):
        return None, last_error(proc.stdout + proc.stderr)
    labels = {}
    with open(output_file) as handle:
        for line in handle:
            key, sep, value = line.strip().partition('=')
            if sep:
                labels[key] = value
    return labels, None
