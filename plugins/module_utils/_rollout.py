# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The rollout's decisions about one node, and the record of what happened to it: pure functions over module results.

:func:`node_needs` decides whether a node is left alone, gets upkeep (files and ConfigMap entries written without a
drain) or is changed (drained, repartitioned, relabelled), from what the check-mode runs of ``mig_layout`` and
``device_plugin_config`` found. The role's preflight and its batch both call it (through the ``mig_rollout_needs``
filter), so they cannot come to different answers for the same node. :func:`preflight_decisions` makes the preflight's
decision for every node of a play at once (``mig_rollout_preflight``): one call on the controller, not one task per node.
:func:`node_result` builds the record of one node's outcome that the rollout writes and publishes (``mig_rollout_result``).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ('NO_LAYOUT', 'RESULT_KEYS', 'drain_outcome', 'node_needs', 'node_result', 'preflight_decisions')

# What a reconfigured node carries (the GPU Operator's labels), and the annotation a failure leaves until then.
CONFIG_LABEL = 'nvidia.com/mig.config'
STATE_LABEL = 'nvidia.com/mig.config.state'
REASON_ANNOTATION = 'gpufleet.mig/failure-reason'

RESULT_KEYS = ('status', 'started', 'finished', 'actions', 'gpus_changed', 'layout', 'labelled', 'reason', 'drain', 'evicted',
               'drain_fallback')
_STATUSES = ('changed', 'unchanged', 'failed')
_LAYOUTS = ('new', 'previous', 'unknown')
NOT_RUN = 'the device plugin check did not run'
NO_LAYOUT = 'no layout: set mig_rollout_layout, or mig_rollout_parted_config with a config name or a nvidia.com/mig.config node label'
ALLOCATORS = ('device-plugin', 'dra')
_SEEN_KEYS = ('node_problem', 'node', 'config', 'plugin_config', 'layout_given', 'cluster')


def _usable(result):
    return isinstance(result, Mapping) and bool(result) and not result.get('failed') and not result.get('skipped')


def _findings(plugin, node):
    """This node's findings from a ``device_plugin_config`` check-mode result, and the config names it would write.

    ``plugin`` is the result of a run with ``node`` (its findings are the result itself) or with ``nodes`` (its findings
    are ``nodes[node]``; a node the run did not come to fails with the run's message; with ``dra``, a node NVIDIA's DRA
    driver serves has ``allocator: dra`` and the DRA check's findings). The ConfigMap's ``written`` is the run's, but
    for a DRA node.
    """
    written = list(plugin.get('written') or [])
    if 'nodes' not in plugin:
        return plugin, written
    found = (plugin.get('nodes') or {}).get(node)
    if found is None:
        found = {'failed': True, 'msg': plugin.get('msg') or NOT_RUN}
    # A node NVIDIA's DRA driver serves (a run with dra) runs no device plugin: the ConfigMap's configs are not its upkeep.
    return found, [] if found.get('allocator') == 'dra' else written


def node_needs(plan, plugin, config, plugin_config, node=None, gpus=None, earlier=None):
    """What one node needs: nothing, upkeep or change, and why; which GPUs change MIG mode; what a drain is for.

    ``plan``: the result of ``mig_layout`` in check mode (``gpus`` with ``index``, ``changed``, ``mig_enabled``;
    ``checkpoint_stale``; ``restore_installed`` when it was asked; ``node``), or a failed or skipped task's result.
    ``plugin``: the result of ``device_plugin_config`` in check mode for this node (with ``node``, or with ``nodes``
    and then ``node`` names this one), or, for a node NVIDIA's DRA driver serves, ``dra_plugin``'s (with ``node``, or
    its entry of a run with ``nodes``: ``allocator`` is ``dra``), or None when the node was not checked. ``config``: the layout's name, for the
    label ``nvidia.com/mig.config``. ``plugin_config``: the device plugin config the node should run with. ``gpus``:
    the GPUs as read (``gpu_info``'s ``node.gpus``), ``plan['node']['gpus']`` when None. ``earlier``: an earlier
    decision about the node (the preflight's), whose upkeep stays due: what it found to write may have been written by
    another node's batch since, which the upkeep then finds.

    Returns a dict:

    * ``todo``: ``change`` when anything needs a drain, else ``upkeep`` when anything needs writing, else ``nothing``;
    * ``change``: why the node is drained and changed (one sentence each; also why it could not be checked);
    * ``upkeep``: what is written without a drain (checkpoint, boot-time restore, other nodes' device plugin configs);
    * ``enable``, ``disable``: the GPU indices whose MIG mode goes on or off;
    * ``drain``: whether the node is drained (``todo == 'change'``); ``drain_gpus``: the GPUs whose layout or MIG
      mode changes (empty when only the device plugin or the labels do);
    * ``allocator``: what hands the node's GPUs to Kubernetes, ``device-plugin`` or ``dra`` (NVIDIA's DRA driver), as
      the check found (an ``earlier`` decision's when the node was not checked);
    * ``previous``: the layout entries that put every GPU back as read, MIG mode included, for a failed change;
    * ``problems``: why the node could not be checked (the failed plan's or device plugin check's message).
    """
    for name, value in (('plan', plan), ('plugin', plugin), ('earlier', earlier)):
        if value is not None and not isinstance(value, Mapping):
            raise ValueError('%s must be a registered module result (a mapping), got %s' % (name, type(value).__name__))
    needs = {'change': [], 'upkeep': [], 'enable': [], 'disable': [], 'drain_gpus': [], 'previous': [], 'problems': [],
             'allocator': 'device-plugin'}
    if earlier:
        needs['upkeep'].extend(earlier.get('upkeep') or [])
        needs['allocator'] = earlier.get('allocator') or needs['allocator']
    if not _usable(plan):
        if isinstance(plan, Mapping) and plan.get('failed'):
            needs['problems'].append(plan.get('msg') or 'the layout could not be planned')
        needs['change'].append('the layout was not planned')
        return _done(needs)

    read = gpus if gpus is not None else (plan.get('node') or {}).get('gpus') or []
    modes = dict((gpu['index'], (gpu.get('mig_mode') or {}).get('current')) for gpu in read)
    changed = []
    for gpu in plan.get('gpus') or []:
        index = gpu['index']
        if gpu.get('changed'):
            changed.append(index)
            needs['change'].append('GPU %d: its layout changes' % index)
        if index in modes and bool(gpu.get('mig_enabled')) != bool(modes[index]):
            needs['enable' if gpu.get('mig_enabled') else 'disable'].append(index)
            needs['change'].append('GPU %d: MIG mode goes %s' % (index, 'on' if gpu.get('mig_enabled') else 'off'))
    needs['drain_gpus'] = sorted(set(changed) | set(needs['enable']) | set(needs['disable']))
    needs['previous'] = ([dict(gpu['layout'], devices=[gpu['index']]) for gpu in read
                          if gpu.get('mig_capable') and (gpu.get('mig_mode') or {}).get('current')]
                         + [{'devices': [index], 'mig-enabled': False} for index in needs['enable']])

    if plan.get('checkpoint_stale'):
        _add(needs['upkeep'], 'the checkpoint is stale or missing')
    if not plan.get('restore_installed', True) and any(gpu.get('mig_enabled') for gpu in plan.get('gpus') or []):
        _add(needs['upkeep'], 'the boot-time restore is not installed')

    if plugin is None:
        needs['change'].append('the device plugin was not checked')
        return _done(needs)
    found, written = _findings(plugin, node)
    if found.get('allocator') in ALLOCATORS:
        needs['allocator'] = found['allocator']
    dra = needs['allocator'] == 'dra'
    others = [name for name in written if name != plugin_config]
    if others:
        _add(needs['upkeep'], 'the device plugin configs %s are missing or differ in the ConfigMap' % ', '.join(others))
    if plugin_config in written:
        needs['change'].append('the device plugin config %s is missing or differs in the ConfigMap' % plugin_config)
    if found.get('failed'):
        needs['problems'].append(found.get('msg') or NOT_RUN)
        needs['change'].append('the DRA kubelet plugin was not checked' if dra else 'the device plugin was not checked')
        return _done(needs)
    if found.get('restarted') and dra:
        needs['change'].append('the DRA kubelet plugin restarts (the node\'s ResourceSlices do not list the planned devices: '
                               'missing %s; not planned %s)' % (', '.join(found.get('missing') or ()) or 'none',
                                                                ', '.join(found.get('unexpected') or ()) or 'none'))
    elif found.get('restarted'):
        needs['change'].append('the device plugin restarts (its config label or the resources it advertises differ)')
    labels = found.get('labels') or {}
    for key, value in ((CONFIG_LABEL, config), (STATE_LABEL, 'success')):
        if labels.get(key, '') != value:
            needs['change'].append('label %s is %r, not %r' % (key, labels.get(key), value))
    if REASON_ANNOTATION in (found.get('annotations') or {}):
        needs['change'].append('annotation %s is set' % REASON_ANNOTATION)
    return _done(needs)


def _add(reasons, reason):
    if reason not in reasons:
        reasons.append(reason)


def _done(needs):
    needs['todo'] = 'change' if needs['change'] else ('upkeep' if needs['upkeep'] else 'nothing')
    needs['drain'] = needs['todo'] == 'change'
    return needs


def preflight_decisions(nodes, plans, plugins, precise=False):
    """The preflight's decision for every node of a play: its problems, what it needs, whether it is converged.

    ``nodes``: ``{host: seen}``, where ``seen`` is what the preflight noted on the node: ``node_problem`` (why the
    Kubernetes node could not be read, or None), ``node`` (its Kubernetes name), ``config`` (the layout's name, empty when there is none),
    ``plugin_config``, ``layout_given`` (whether a layout or a config name was given at all) and ``cluster`` (the key of
    the device plugin check that covers it, None when it was not checked). ``plans``: ``{host: plan}``, each node's
    registered ``mig_layout`` check-mode result (or the failed or skipped task's). ``plugins``: ``{cluster: result}``, the
    registered ``device_plugin_config`` check-mode run (with ``nodes`` and ``dra``) of each cluster, which also says which
    nodes NVIDIA's DRA driver serves and has their DRA check as their entry.

    Returns ``{host: {'problems', 'needs', 'converged', 'upkeep', 'cluster', 'capacity'}}``: ``needs`` is
    :func:`node_needs`'s answer; a node is ``converged`` when nothing needs a drain (it may still need ``upkeep``);
    ``problems`` stop the rollout before any change; ``cluster`` is the node's ``seen['cluster']``; ``capacity`` is, for a
    drained node whose device plugin check says what it advertises after the change, the ``capacity_check`` module's
    change entry (``{'node', 'resources'}``, and with ``precise`` (GPU-precise drains) ``gpus``: the GPUs that change),
    else None. Raises ValueError naming the node whose notes are not what the preflight writes.
    """
    for name, value in (('nodes', nodes), ('plans', plans), ('plugins', plugins)):
        if not isinstance(value, Mapping):
            raise ValueError('%s must be a mapping, got %s' % (name, type(value).__name__))
    decided = {}
    for host, seen in nodes.items():
        missing = [key for key in _SEEN_KEYS if not isinstance(seen, Mapping) or key not in seen]
        if missing:
            raise ValueError('node %s: the preflight did not note %s' % (host, ', '.join(missing)))
        if host not in plans:
            raise ValueError('node %s: no plan was registered' % host)
        cluster = seen['cluster']
        if cluster is not None and cluster not in plugins:
            raise ValueError('node %s: no device plugin check ran for its cluster' % host)
        plugin = plugins[cluster] if cluster is not None else None
        needs = node_needs(plans[host], plugin, seen['config'], seen['plugin_config'], node=seen['node'])
        problems = ([seen['node_problem']] if seen['node_problem'] else []) + needs['problems']
        if not seen['layout_given']:
            problems.append(NO_LAYOUT)
        found = _findings(plugin, seen['node'])[0] if plugin is not None else {}
        # What the capacity check takes for a drained node: the GPU resources its device plugin advertises after the change.
        capacity = ({'node': seen['node'], 'resources': found['expected']}
                    if needs['drain'] and isinstance(found.get('expected'), Mapping) else None)
        if capacity and precise:
            capacity['gpus'] = list(needs['drain_gpus'])
        decided[host] = {'problems': problems, 'needs': needs, 'converged': not needs['drain'], 'upkeep': bool(needs['upkeep']),
                         'cluster': cluster, 'capacity': capacity}
    return decided


def drain_outcome(drains):
    """``(drain, evicted, fallback)`` of a node from the registered results of its ``node_drain`` runs, in order.

    ``drains``: the GPU-precise (or node-level) drain, then the drain of the rest before a reboot; None, skipped and
    missing entries are left out. ``drain`` is None when no drain ran, ``gpus`` when only the pods on the GPUs that change
    were evicted, ``node`` when every GPU pod was (every pod without ``gpu_only``); ``fallback`` says why a drain that was
    asked to be GPU-precise (``node_drain`` with ``gpus``, which returns ``fallback``) was not, else None.
    """
    ran = [result for result in drains if isinstance(result, Mapping) and result and not result.get('skipped')]
    if not ran:
        return None, [], None
    evicted = []
    for result in ran:
        evicted.extend(name for name in result.get('evicted') or () if name not in evicted)
    first = ran[0]
    if 'fallback' not in first:
        return 'node', evicted, None
    if first['fallback']:
        return 'node', evicted, str(first['fallback'])
    if len(ran) > 1:
        return 'node', evicted, 'the node rebooted to change the MIG mode, which stops the work on every GPU'
    return 'gpus', evicted, None


def node_result(status, started, finished, actions=(), gpus_changed=(), layout='new', labelled=None, reason=None, drains=()):
    """The record of one node's outcome, as the rollout writes it to ``nodes/<host>.json`` and publishes it.

    ``status``: ``changed``, ``unchanged`` or ``failed``; ``started``, ``finished``: Unix times; ``actions``: the steps
    done; ``gpus_changed``: the indices of the GPUs whose layout changed; ``layout``: ``new`` (every GPU has its new
    layout), ``previous`` (every GPU is back as it was) or ``unknown``; ``labelled``: whether the node carries the
    outcome in its labels (by default, whether it succeeded); ``reason``: why it failed, required with ``failed`` and
    refused otherwise; ``drains``: the registered ``node_drain`` results (see :func:`drain_outcome`, which gives the
    record's ``drain``, ``evicted`` and ``drain_fallback``). Raises ValueError for anything else.
    """
    actions, gpus_changed = list(actions), list(gpus_changed)
    if status not in _STATUSES:
        raise ValueError('status must be one of %s, got %r' % (', '.join(_STATUSES), status))
    if layout not in _LAYOUTS:
        raise ValueError('layout must be one of %s, got %r' % (', '.join(_LAYOUTS), layout))
    if (status == 'failed') != (reason is not None):
        raise ValueError('a failed node needs a reason, and only a failed one has one (status %s, reason %r)' % (status, reason))
    if isinstance(drains, (str, bytes, Mapping)):
        raise ValueError('drains must be a list of registered node_drain results, got %s' % type(drains).__name__)
    drain, evicted, fallback = drain_outcome(list(drains or ()))
    if status == 'unchanged' and (actions or gpus_changed):
        raise ValueError('an unchanged node has no actions and no changed GPUs')
    if status == 'unchanged' and drain:
        raise ValueError('an unchanged node is not drained, but a drain ran (evicted: %s)' % (', '.join(evicted) or 'none'))
    times = []
    for name, value in (('started', started), ('finished', finished)):
        try:
            times.append(float(value))
        except (TypeError, ValueError):
            raise ValueError('%s must be a Unix time, got %r' % (name, value))
    return {
        'status': status, 'started': times[0], 'finished': times[1],
        'actions': [str(action) for action in actions], 'gpus_changed': [int(index) for index in gpus_changed],
        'layout': layout, 'labelled': status != 'failed' if labelled is None else bool(labelled),
        'reason': None if reason is None else str(reason),
        'drain': drain, 'evicted': [str(name) for name in evicted], 'drain_fallback': fallback,
    }
