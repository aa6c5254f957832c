# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Label selectors (string form and LabelSelector objects) and field selectors."""

from __future__ import absolute_import, division, print_function

import re


class SelectorError(Exception):
    """A selector the API server would answer with 400 BadRequest."""


_KEY = r'[A-Za-z0-9][-A-Za-z0-9_./]*'
_VALUE = r'[A-Za-z0-9_.\-]*'
_SET_RE = re.compile(r'^\s*(%s)\s+(in|notin)\s+\(([^)]*)\)\s*$' % _KEY)
_EQ_RE = re.compile(r'^\s*(%s)\s*(==|=|!=)\s*(%s)\s*$' % (_KEY, _VALUE))
_EXISTS_RE = re.compile(r'^\s*(!?)\s*(%s)\s*$' % _KEY)


def _split_top(text):
    parts = []
    depth = 0
    current = ''
    for char in text:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        if char == ',' and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += char
    parts.append(current)
    return parts


def parse_label_selector(text):
    """Parse a label selector string into (key, operator, values) requirements."""
    requirements = []
    if text is None or not text.strip():
        return requirements
    for part in _split_top(text):
        match = _SET_RE.match(part)
        if match:
            values = [v.strip() for v in match.group(3).split(',') if v.strip()]
            requirements.append((match.group(1), match.group(2), values))
            continue
        match = _EQ_RE.match(part)
        if match:
            operator = '!=' if match.group(2) == '!=' else '='
            requirements.append((match.group(1), operator, [match.group(3)]))
            continue
        match = _EXISTS_RE.match(part)
        if match:
            requirements.append((match.group(2), '!' if match.group(1) else 'exists', []))
            continue
        raise SelectorError('unable to parse requirement: found %r, expected: identifier' % part.strip())
    return requirements


def match_requirements(requirements, labels):
    labels = labels or {}
    for key, operator, values in requirements:
        present = key in labels
        value = labels.get(key)
        if operator == '=' and (not present or value != values[0]):
            return False
        if operator == '!=' and present and value == values[0]:
            return False
        if operator == 'in' and (not present or value not in values):
            return False
        if operator == 'notin' and present and value in values:
            return False
        if operator == 'exists' and not present:
            return False
        if operator == '!' and present:
            return False
    return True


def match_label_selector_object(selector, labels):
    """metav1.LabelSelector.  ``None`` matches nothing, ``{}`` matches everything (policy/v1)."""
    if selector is None:
        return False
    requirements = [(k, '=', [v]) for k, v in (selector.get('matchLabels') or {}).items()]
    for expr in selector.get('matchExpressions') or []:
        operator = {'In': 'in', 'NotIn': 'notin', 'Exists': 'exists', 'DoesNotExist': '!'}.get(expr.get('operator'))
        if operator is None:
            return False
        requirements.append((expr.get('key'), operator, list(expr.get('values') or [])))
    return match_requirements(requirements, labels)


# fields the real API server accepts in fieldSelector, per resource (plus metadata.name/namespace)
FIELD_LABELS = {
    'pods': ('spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName',
             'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'),
    'nodes': ('spec.unschedulable',),
    # pkg/registry/resource/resourceslice/strategy.go ToSelectableFields: what the DRA kubelet plugins and kubelet select by.
    'resourceslices': ('spec.nodeName', 'spec.driver'),
}


def _field_value(obj, field):
    node = obj
    for part in field.split('.'):
        if not isinstance(node, dict):
            return ''
        node = node.get(part)
    if node is None:
        return 'false' if field in ('spec.unschedulable', 'spec.hostNetwork') else ''
    if isinstance(node, bool):
        return 'true' if node else 'false'
    return str(node)


def parse_field_selector(text, resource):
    requirements = []
    if text is None or not text.strip():
        return requirements
    allowed = ('metadata.name', 'metadata.namespace') + FIELD_LABELS.get(resource, ())
    for part in text.split(','):
        match = re.match(r'^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$', part)
        if not match:
            raise SelectorError('invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, part))
        if match.group(1) not in allowed:
            raise SelectorError('field label not supported: %s' % match.group(1))
        requirements.append((match.group(1), '!=' if match.group(2) == '!=' else '=', match.group(3)))
    return requirements


def match_fields(requirements, obj):
    for field, operator, value in requirements:
        actual = _field_value(obj, field)
        if (operator == '=') != (actual == value):
            return False
    return True
