"""The fake nvidia-smi and the simnode command line (run through the $SIM_BUILD/bin wrappers)."""

from __future__ import absolute_import, division, print_function

import json

import pynvml

LGIP_A30 = """\
+-----------------------------------------------------------------------------+
| GPU instance profiles:                                                      |
| GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  |
|                              Free/Total   GiB              CE    JPEG  OFA  |
|=============================================================================|
|   0  MIG 1g.6gb        14     3/4        5.81       No     14     1     0   |
|                                                             1     0     0   |
+-----------------------------------------------------------------------------+
|   0  MIG 1g.6gb+me     21     1/1        5.81       No     14     1     0   |
|                                                             1     1     1   |
+-----------------------------------------------------------------------------+
|   0  MIG 2g.12gb        5     1/2       11.69       No     28     2     0   |
|                                                             2     0     0   |
+-----------------------------------------------------------------------------+
|   0  MIG 2g.12gb+me     6     1/1       11.69       No     28     2     0   |
|                                                             2     1     1   |
+-----------------------------------------------------------------------------+
|   0  MIG 4g.24gb        0     0/1       23.44       No     56     4     0   |
|                                                             4     1     1   |
+-----------------------------------------------------------------------------+
"""

LGIPP_A100 = """\
GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1
GPU  0 Profile ID 20 Placements: {0,1,2,3,4,5,6}:1
GPU  0 Profile ID 15 Placements: {0,2,4,6}:2
GPU  0 Profile ID 14 Placements: {0,2,4}:2
GPU  0 Profile ID  9 Placements: {0,4}:4
GPU  0 Profile ID  5 Placement : {0}:4
GPU  0 Profile ID  0 Placement : {0}:8
"""

CGI_OUT = """\
Successfully created GPU instance ID  2 on GPU  0 using profile MIG 3g.20gb (ID  9)
Successfully created compute instance ID  0 on GPU  0 GPU instance ID  2 using profile MIG 3g.20gb (ID  2)
Successfully created GPU instance ID  7 on GPU  0 using profile MIG 1g.5gb (ID 19)
Successfully created compute instance ID  0 on GPU  0 GPU instance ID  7 using profile MIG 1g.5gb (ID  0)
"""

LGI_OUT = """\
+---------------------------------------------------------+
| GPU instances:                                          |
| GPU   Name               Profile  Instance   Placement  |
|                            ID       ID       Start:Size |
|=========================================================|
|   0  MIG 1g.5gb            19        7          0:1     |
+---------------------------------------------------------+
|   0  MIG 3g.20gb            9        2          4:4     |
+---------------------------------------------------------+
"""

LCI_OUT = """\
+--------------------------------------------------------------------+
| Compute instances:                                                 |
| GPU     GPU       Name             Profile   Instance   Placement  |
|       Instance                       ID        ID       Start:Size |
|         ID                                                         |
|====================================================================|
|   0      7       MIG 1g.5gb           0         0          0:1     |
+--------------------------------------------------------------------+
|   0      2       MIG 3g.20gb          2         0          0:3     |
+--------------------------------------------------------------------+
"""


def smi(node, *args, **env):
    return node.run('nvidia-smi', *args, **env)


def test_list_gpus_and_mig_devices(node):
    node.create('A100-SXM4-40GB', 'L40S', mig='0')
    assert smi(node, 'mig', '-cgi', '9,1g.5gb', '-C')[0] == 0
    state = node.show()
    uuids = [g['uuid'] for g in state['gpus']]
    mig = dict((gi['id'], gi['compute_instances'][0]['uuid']) for gi in state['gpus'][0]['gpu_instances'])
    rc, out, dummy = smi(node, '-L')
    assert rc == 0
    assert out == ('GPU 0: NVIDIA A100-SXM4-40GB (UUID: %s)\n'
                   '  MIG 3g.20gb     Device  0: (UUID: %s)\n'
                   '  MIG 1g.5gb      Device  1: (UUID: %s)\n'
                   'GPU 1: NVIDIA L40S (UUID: %s)\n') % (uuids[0], mig[2], mig[7], uuids[1])


def test_lgip_a30(node):
    node.create('A30')
    assert smi(node, 'mig', '-cgi', '14', '-i', '0')[0] == 0   # 1g.6gb auto-placed at 3 -> 2g.12gb 1/2 left
    rc, out, dummy = smi(node, 'mig', '-lgip')
    assert (rc, out) == (0, LGIP_A30)


def test_lgipp_lgi_lci_and_cgi(node):
    node.create('A100-SXM4-40GB')
    assert smi(node, 'mig', '-lgipp') == (0, LGIPP_A100, '')
    assert smi(node, 'mig', '-lgi') == (6, 'No GPU instances found.\n', '')
    assert smi(node, 'mig', '-cgi', '9,19', '-C') == (0, CGI_OUT, '')
    assert smi(node, 'mig', '-lgi') == (0, LGI_OUT, '')
    assert smi(node, 'mig', '-lci') == (0, LCI_OUT, '')


def test_cgi_order_failure_message(node):
    node.create('A100-SXM4-40GB')
    rc, out, dummy = smi(node, 'mig', '-cgi', '19,19,14,9')
    assert rc != 0
    assert out.splitlines()[-2:] == [
        'Unable to create a GPU instance on GPU  0 using profile 9: Insufficient Resources',
        'Failed to create GPU instances: Insufficient Resources']


def test_no_mig_enabled_devices(node):
    node.create('A100-SXM4-40GB', mig='none')
    for flag in ('-lgip', '-lgi', '-lci'):
        assert smi(node, 'mig', flag)[:2] == (6, 'No MIG-enabled devices found.\n')


def test_failed_and_successful_reset(node):
    node.create('A100-SXM4-40GB', mig='none')
    node.add_process(0, 4242)
    assert smi(node, '-i', '0', '-mig', '1') == (0, (
        'Warning: MIG mode is in pending enable state for GPU 00000000:07:00.0:In use by another client\n'
        'Reboot the system or try nvidia-smi --gpu-reset to make MIG mode effective on GPU 00000000:07:00.0\n'
        'All done.\n'), '')
    rc, out, dummy = smi(node, '-r', '-i', '0')
    assert rc != 0
    assert out.startswith('The following GPUs could not be reset:\n  GPU 00000000:07:00.0: In use by another client\n')
    node.sim('process-clear')
    assert smi(node, '--gpu-reset', '-i', '0') == (0, 'GPU 00000000:07:00.0 was successfully reset.\nAll done.\n', '')
    assert smi(node, '--query-gpu=index,pci.bus_id,mig.mode.current,mig.mode.pending', '--format=csv') == (0, (
        'index, pci.bus_id, mig.mode.current, mig.mode.pending\n0, 00000000:07:00.0, Enabled, Enabled\n'), '')


def test_mig_mode_enable_and_query(node):
    node.create('H100-SXM5-80GB', 'V100-SXM2-32GB', mig='none', driver='550.54.15')
    assert smi(node, '-i', '0', '-mig', '1') == (0, 'Enabled MIG Mode for GPU 00000000:07:00.0\nAll done.\n', '')
    state = node.show()
    rc, out, dummy = smi(node, '--query-gpu=index,name,uuid,driver_version,mig.mode.current,mig.mode.pending',
                         '--format=csv,noheader')
    assert rc == 0
    assert out == '0, NVIDIA H100 80GB HBM3, %s, 550.54.15, Enabled, Enabled\n1, Tesla V100-SXM2-32GB, %s, 550.54.15, [N/A], [N/A]\n' % (
        state['gpus'][0]['uuid'], state['gpus'][1]['uuid'])


def test_dci_dgi(node):
    node.create('A100-SXM4-40GB')
    smi(node, 'mig', '-cgi', '14', '-C')
    node.add_process(0, 9, gi=5, ci=0)   # 2g auto-placed at 4:2 -> GI id 5 (heap formula)
    assert smi(node, 'mig', '-dci')[:2] == (255, (
        'Unable to destroy compute instance ID  0 from GPU  0 GPU instance ID  5: In use by another client\n'
        'Failed to destroy compute instances: In use by another client\n'))
    node.sim('process-clear')
    assert smi(node, 'mig', '-dgi', '-gi', '5')[0] == 255
    assert smi(node, 'mig', '-dci', '-gi', '5', '-ci', '0')[1] == (
        'Successfully destroyed compute instance ID  0 from GPU  0 GPU instance ID  5\n')
    assert smi(node, 'mig', '-dgi')[1] == 'Successfully destroyed GPU instance ID  5 from GPU  0\n'


def test_nvidia_smi_errors(node):
    node.create('A100-SXM4-40GB')
    rc, dummy, err = smi(node, '--bogus')
    assert rc == 2 and 'bogus' in err
    rc, out, dummy = smi(node, 'mig', '-lgi', FAKE_NVML_EUID='1000')
    assert (rc, out) == (4, 'Failed to display GPU instances: Insufficient Permissions\n')
    node.sim('driver-unload')
    rc, out, dummy = smi(node, '-L')
    assert rc == 9 and "couldn't communicate with the NVIDIA driver" in out


def test_simnode_cli(node):
    rc, dummy, err = node.run('simnode', 'create', node.path, '--name', 'n', '--gpu', 'A200', '--driver', '550.54.15')
    assert rc == 1 and "unknown GPU model 'A200'; valid models: A100-PCIE-40GB" in err and 'V100-SXM2-32GB' in err
    rc, dummy, dummy = node.run('simnode', 'create', node.path, '--name', 'n', '--gpu', 'A100-SXM4-80GB:2', '--gpu', 'A30',
                                '--driver', '550.54.15', '--mig-enabled', 'all')
    assert rc == 0
    rc, dummy, err = node.run('simnode', 'create', node.path, '--name', 'n', '--gpu', 'A30', '--driver', '550.54.15')
    assert rc == 1 and 'already exists' in err
    assert node.run('simnode', 'process', 'add', node.path, '--gpu', '2', '--pid', '10')[0] == 0
    assert node.run('simnode', 'gpu', node.path, '--gpu', '1', '--reset-blocked', 'yes')[0] == 0
    assert node.run('simnode', 'fault', 'add', node.path, '--function', 'nvmlDeviceSetMigMode', '--nth', '1',
                    '--error', 'IN_USE', '--repeat')[0] == 0
    rc, out, dummy = node.run('simnode', 'show', node.path, '--json')
    state = json.loads(out)
    assert [g['model'] for g in state['gpus']] == ['A100-SXM4-80GB', 'A100-SXM4-80GB', 'A30']
    assert [g['reset_blocked'] for g in state['gpus']] == [False, True, False]
    assert state['processes'] == [{'pid': 10, 'gpu': 2, 'used_mib': 256, 'gpu_instance_id': None, 'compute_instance_id': None}]
    assert state['faults'][0]['error_name'] == 'IN_USE' and state['faults'][0]['repeat'] is True
    rc, dummy, err = node.run('simnode', 'reset', node.path, '--gpu', '2')
    assert rc == 1 and 'In use by another client' in err
    rc, dummy, err = node.run('simnode', 'option', node.path, 'nope', 'x')
    assert rc == 1 and 'unknown option' in err


def test_simnode_vbios(node):
    """A per-GPU vBIOS version (RTX PRO Workstation boards need a minimum for MIG); without one NVML answers NOT_SUPPORTED."""
    assert node.run('simnode', 'create', node.path, '--name', 'n', '--gpu', 'RTX-PRO-6000-MAXQ', '--gpu', 'RTX-PRO-5000',
                    '--driver', '580.65.06', '--mig-enabled', 'all')[0] == 0
    assert node.run('simnode', 'gpu', node.path, '--gpu', '1', '--vbios', '98.02.6a.00.00')[0] == 0
    rc, dummy, err = node.run('simnode', 'gpu', node.path, '--gpu', '0', '--vbios', '98.02.6G.00.00')
    assert rc == 1 and "invalid vBIOS version '98.02.6G.00.00' (expected hex fields such as 98.02.6A.00.00, or -)" in err
    rc, dummy, err = node.run('simnode', 'gpu', node.path, '--gpu', '0')
    assert rc != 0 and 'give --reset-blocked and/or --vbios' in err

    def read():
        pynvml.nvmlInit()
        try:
            found = []
            for index in range(2):
                try:
                    found.append(pynvml.nvmlDeviceGetVbiosVersion(pynvml.nvmlDeviceGetHandleByIndex(index)))
                except pynvml.NVMLError as exc:
                    found.append(exc.value)
            return [v.decode() if isinstance(v, bytes) else v for v in found]
        finally:
            pynvml.nvmlShutdown()
    assert read() == [pynvml.NVML_ERROR_NOT_SUPPORTED, '98.02.6a.00.00']
    assert [g['vbios_version'] for g in json.loads(node.run('simnode', 'show', node.path, '--json')[1])['gpus']] == [None, '98.02.6a.00.00']
    # firmware survives a reboot; '-' takes it away again
    assert node.run('simnode', 'reboot', node.path)[0] == 0
    assert read() == [pynvml.NVML_ERROR_NOT_SUPPORTED, '98.02.6a.00.00']
    assert node.run('simnode', 'gpu', node.path, '--gpu', '1', '--vbios', '-')[0] == 0
    assert read() == [pynvml.NVML_ERROR_NOT_SUPPORTED] * 2
