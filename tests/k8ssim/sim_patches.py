# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The three Kubernetes patch types: RFC 6902 JSON patch, RFC 7386 merge patch and a
strategic merge patch that knows the list merge keys of the objects the simulator serves."""

from __future__ import absolute_import, division, print_function

import copy


class PatchError(Exception):
    """A patch that cannot be applied. ``code`` is the HTTP status the API server returns:
    400 for a malformed patch document, 422 for a well-formed one that does not apply."""

    def __init__(self, message, code=422):
        super(PatchError, self).__init__(message)
        self.code = code


# patchMergeKey of the lists the simulated objects carry (k8s.io/api struct tags).  Lists not
# named here have no patch strategy: a strategic merge patch replaces them.
MERGE_KEYS = {
    'conditions': 'type',
    'addresses': 'type',
    'containers': 'name',
    'initContainers': 'name',
    'ephemeralContainers': 'name',
    'env': 'name',
    'volumes': 'name',
    'volumeMounts': 'mountPath',
    'ports': 'containerPort',
    'ownerReferences': 'uid',
    'imagePullSecrets': 'name',
    'containerStatuses': None,
}
# lists of scalars with patchStrategy "merge" (set union)
MERGE_SCALAR_LISTS = ('finalizers',)


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target, patch, field=None):
    """Strategic merge patch for the fields the simulator knows (see MERGE_KEYS).

    Supports ``$patch: replace`` / ``$patch: delete`` on maps and ``$patch: delete`` on list
    items with a merge key; ``$retainKeys`` and ``$setElementOrder`` directives are accepted
    and ignored."""
    del field
    if not isinstance(patch, dict):
        raise PatchError('strategic merge patch must be a JSON object', 400)
    directive = patch.get('$patch')
    if directive == 'replace':
        return dict((k, copy.deepcopy(v)) for k, v in patch.items() if k != '$patch')
    if directive == 'delete':
        return None
    if directive is not None:
        raise PatchError('Unknown patch type: %s' % directive, 400)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith('$setElementOrder/') or key.startswith('$deleteFromPrimitiveList/') or key == '$retainKeys':
            if key.startswith('$deleteFromPrimitiveList/') and isinstance(value, list):
                name = key.split('/', 1)[1]
                if isinstance(result.get(name), list):
                    result[name] = [v for v in result[name] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and MERGE_KEYS.get(key) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in MERGE_SCALAR_LISTS and isinstance(result.get(key), list):
            merged_list = list(result[key])
            for item in value:
                if item not in merged_list:
                    merged_list.append(item)
            result[key] = merged_list
        else:
            result[key] = _strip_directives(copy.deepcopy(value))
    return result


def _strip_directives(value):
    if isinstance(value, dict):
        return dict((k, _strip_directives(v)) for k, v in value.items() if not k.startswith('$'))
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and v.get('$patch') == 'delete')]
    return value


def _merge_list(current, patch_items, key):
    result = copy.deepcopy(current)
    for item in patch_items:
        if not isinstance(item, dict) or key not in item:
            raise PatchError('map: %s does not contain declared merge key: %s' % (item, key), 400)
        index = next((i for i, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get('$patch') == 'delete':
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(_strip_directives(copy.deepcopy(item)))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _unescape(token):
    return token.replace('~1', '/').replace('~0', '~')


def _split_pointer(path):
    if not isinstance(path, str):
        raise PatchError('path must be a string', 400)
    if path == '':
        return []
    if not path.startswith('/'):
        raise PatchError('JSON pointer must be empty or start with a "/": %s' % path)
    return [_unescape(t) for t in path[1:].split('/')]


def _resolve(doc, tokens, path):
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError('doc is missing path: "%s": missing value' % path)
            node = node[token]
        elif isinstance(node, list):
            index = _list_index(node, token, path, allow_end=False)
            node = node[index]
        else:
            raise PatchError('doc is missing path: "%s": missing value' % path)
    return node


def _list_index(node, token, path, allow_end):
    if allow_end and token == '-':
        return len(node)
    try:
        index = int(token)
    except ValueError as exc:
        raise PatchError('invalid array index %r in "%s"' % (token, path)) from exc
    limit = len(node) if allow_end else len(node) - 1
    if index < 0 or index > limit:
        raise PatchError('Unable to access invalid index: %d: invalid index referenced' % index)
    return index


def _add(doc, tokens, value, path):
    if not tokens:
        return copy.deepcopy(value)
    parent = _resolve(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, path, allow_end=True), copy.deepcopy(value))
    else:
        raise PatchError('add operation does not apply: doc is missing path: "%s": missing value' % path)
    return doc


def _remove(doc, tokens, path):
    if not tokens:
        raise PatchError('unable to remove the whole document')
    parent = _resolve(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError('unable to remove nonexistent key: %s: missing value' % last)
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_list_index(parent, last, path, allow_end=False))
    raise PatchError('remove operation does not apply: doc is missing path: "%s": missing value' % path)


def json_patch(doc, operations):
    """RFC 6902.  A malformed document raises PatchError(400), an operation that fails
    (including a failing ``test``) raises PatchError(422)."""
    if not isinstance(operations, list):
        raise PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch', 400)
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or 'op' not in op:
            raise PatchError('Unexpected kind: <nil>', 400)
        kind = op['op']
        path = op.get('path')
        if path is None:
            raise PatchError('%s operation missing path' % kind, 400)
        tokens = _split_pointer(path)
        if kind == 'add':
            if 'value' not in op:
                raise PatchError('add operation missing value', 400)
            doc = _add(doc, tokens, op['value'], path)
        elif kind == 'remove':
            _remove(doc, tokens, path)
        elif kind == 'replace':
            if 'value' not in op:
                raise PatchError('replace operation missing value', 400)
            if not tokens:
                doc = copy.deepcopy(op['value'])
                continue
            parent = _resolve(doc, tokens[:-1], path)
            last = tokens[-1]
            if isinstance(parent, dict):
                if last not in parent:
                    raise PatchError('replace operation does not apply: doc is missing key: %s: missing value' % path)
                parent[last] = copy.deepcopy(op['value'])
            elif isinstance(parent, list):
                parent[_list_index(parent, last, path, allow_end=False)] = copy.deepcopy(op['value'])
            else:
                raise PatchError('replace operation does not apply: doc is missing path: %s: missing value' % path)
        elif kind in ('move', 'copy'):
            source = op.get('from')
            if source is None:
                raise PatchError('%s operation missing from' % kind, 400)
            from_tokens = _split_pointer(source)
            if kind == 'move':
                value = _remove(doc, from_tokens, source)
            else:
                value = copy.deepcopy(_resolve(doc, from_tokens, source))
            doc = _add(doc, tokens, value, path)
        elif kind == 'test':
            try:
                current = _resolve(doc, tokens, path)
            except PatchError:
                current = None
            if current != op.get('value'):
                raise PatchError('testing value %s failed: test failed' % path)
        else:
            raise PatchError('Unexpected kind: %s' % kind, 400)
    return doc
