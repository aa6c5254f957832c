# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBAC for the simulated API server: ClusterRoles, Roles and their bindings loaded from manifest
files, and the authorizer of the real API server (``plugin/pkg/auth/authorizer/rbac``) for the
tokens the description binds to a subject.  Everyone else keeps full access.

What it follows, from the Kubernetes sources and the RBAC documentation:

- rule matching (``RuleAllows``): verb (or ``*``), API group (or ``*``), resource as
  ``resource/subresource`` (or ``*``, or ``*/subresource``), and ``resourceNames`` (empty: any
  name; a request without a name, such as list or create, never matches a rule with names);
- ClusterRoleBindings grant their ClusterRole everywhere; RoleBindings grant a Role or a
  ClusterRole only in their own namespace; non-resource URL rules count only through a
  ClusterRoleBinding;
- subjects: ``User`` by name, ``Group`` by the user's groups, ``ServiceAccount`` as
  ``system:serviceaccount:NS:NAME`` (the binding's namespace when the subject has none);
- the request verb: get, list, watch, create (eviction is a create of ``pods/eviction``),
  update, patch, delete, deletecollection; a list with the field selector ``metadata.name=X``
  is authorized as a request for the name X (RBAC documentation, "Referring to resources");
- the 403 answer of ``responsewriters.Forbidden`` and ``apierrors.NewForbidden``.
"""

from __future__ import absolute_import, division, print_function

import os

import yaml

from sim_store import ApiError

RBAC_API = 'rbac.authorization.k8s.io'
RBAC_KINDS = ('ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding')
SUBJECT_KINDS = ('User', 'Group', 'ServiceAccount')
# The default ClusterRoles system:discovery and system:public-info-viewer, bound to system:authenticated, allow
# these paths, /api/* and /apis/* (and /openapi, which the simulator does not serve) to every authenticated user.
DISCOVERY_PATHS = ('/api', '/apis', '/version', '/healthz', '/livez', '/readyz')
DISCOVERY_PREFIXES = ('/api/', '/apis/')
DISCOVERY_REASON = ('RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" '
                    'to Group "system:authenticated"')


class RbacError(Exception):
    """A manifest the API server would refuse, or a description that does not fit."""


def _rules(obj, where):
    rules = obj.get('rules') or []
    if not isinstance(rules, list):
        raise RbacError('%s: rules must be a list' % where)
    checked = []
    for index, rule in enumerate(rules):
        here = '%s rules[%d]' % (where, index)
        if not isinstance(rule, dict):
            raise RbacError('%s: must be a mapping' % here)
        unknown = sorted(set(rule) - {'apiGroups', 'resources', 'resourceNames', 'verbs', 'nonResourceURLs'})
        if unknown:
            raise RbacError('%s: unknown fields %s' % (here, ', '.join(unknown)))
        for key in ('apiGroups', 'resources', 'resourceNames', 'verbs', 'nonResourceURLs'):
            value = rule.get(key)
            if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
                raise RbacError('%s: %s must be a list of strings' % (here, key))
        # The API server's validation of a PolicyRule (pkg/apis/rbac/validation).
        if not rule.get('verbs'):
            raise RbacError('%s: verbs: Required value: verbs must contain at least one value' % here)
        if rule.get('nonResourceURLs'):
            if obj['kind'] == 'Role':
                raise RbacError('%s: nonResourceURLs: Invalid value: namespaced rules cannot apply to non-resource URLs' % here)
            if rule.get('apiGroups') or rule.get('resources') or rule.get('resourceNames'):
                raise RbacError('%s: nonResourceURLs: Invalid value: rules cannot apply to both regular resources and '
                                'non-resource URLs' % here)
        else:
            if not rule.get('apiGroups'):
                raise RbacError('%s: apiGroups: Required value: resource rules must supply at least one api group' % here)
            if not rule.get('resources'):
                raise RbacError('%s: resources: Required value: resource rules must supply at least one resource' % here)
        checked.append(dict((k, list(rule.get(k) or [])) for k in ('apiGroups', 'resources', 'resourceNames', 'verbs', 'nonResourceURLs')))
    return checked


def _subjects(obj, where):
    subjects = obj.get('subjects') or []
    for index, subject in enumerate(subjects):
        here = '%s subjects[%d]' % (where, index)
        if not isinstance(subject, dict) or subject.get('kind') not in SUBJECT_KINDS or not subject.get('name'):
            raise RbacError('%s: needs kind (User, Group or ServiceAccount) and name' % here)
        if subject['kind'] == 'ServiceAccount' and obj['kind'] == 'ClusterRoleBinding' and not subject.get('namespace'):
            raise RbacError('%s: namespace: Required value' % here)
    return list(subjects)


def _flatten(documents):
    """The objects of a YAML stream, with the items of a v1 List in its place (as kubectl reads them)."""
    for obj in documents:
        if isinstance(obj, dict) and obj.get('kind') == 'List' and obj.get('apiVersion') == 'v1':
            yield from obj.get('items') or []
        else:
            yield obj


def load_manifests(paths):
    """The RBAC objects of the manifest files (YAML streams, v1 Lists flattened): dict kind -> list of objects.
    Other kinds are skipped."""
    found = dict((kind, []) for kind in RBAC_KINDS)
    seen = set()
    for path in paths:
        with open(path) as handle:
            documents = list(yaml.safe_load_all(handle))
        for number, obj in enumerate(_flatten(documents)):
            if obj is None:
                continue
            where = '%s object %d' % (path, number + 1)
            if not isinstance(obj, dict):
                raise RbacError('%s: not a Kubernetes object' % where)
            if obj.get('kind') not in RBAC_KINDS:
                continue
            if obj.get('apiVersion') != RBAC_API + '/v1':
                raise RbacError('%s: apiVersion must be %s/v1, not %r' % (where, RBAC_API, obj.get('apiVersion')))
            meta = obj.get('metadata') or {}
            if not meta.get('name'):
                raise RbacError('%s: metadata.name is required' % where)
            namespaced = obj['kind'] in ('Role', 'RoleBinding')
            if namespaced and not meta.get('namespace'):
                # kubectl apply would put it in the current namespace; a shipped manifest must say which one.
                raise RbacError('%s: %s %s needs metadata.namespace' % (where, obj['kind'], meta['name']))
            if not namespaced and meta.get('namespace'):
                raise RbacError('%s: %s %s is cluster-scoped and cannot have a namespace' % (where, obj['kind'], meta['name']))
            key = (obj['kind'], meta.get('namespace'), meta['name'])
            if key in seen:
                raise RbacError('%s: %s %s defined twice' % (where, obj['kind'], meta['name']))
            seen.add(key)
            where = '%s %s' % (obj['kind'], meta['name'])
            entry = {'kind': obj['kind'], 'name': meta['name'], 'namespace': meta.get('namespace')}
            if obj['kind'] in ('ClusterRole', 'Role'):
                if obj.get('aggregationRule'):
                    raise RbacError('%s: aggregationRule is not simulated' % where)
                entry['rules'] = _rules(obj, where)
            else:
                ref = obj.get('roleRef') or {}
                if ref.get('apiGroup') != RBAC_API or ref.get('kind') not in ('ClusterRole', 'Role') or not ref.get('name'):
                    raise RbacError('%s: roleRef needs apiGroup %s, kind ClusterRole or Role, and name' % (where, RBAC_API))
                if obj['kind'] == 'ClusterRoleBinding' and ref['kind'] != 'ClusterRole':
                    raise RbacError('%s: roleRef.kind: Unsupported value: "Role"' % where)
                entry['roleRef'] = dict(ref)
                entry['subjects'] = _subjects(obj, where)
            found[obj['kind']].append(entry)
    return found


class UserInfo(object):
    """An authenticated user: name and groups."""

    def __init__(self, name, groups):
        self.name = name
        self.groups = list(groups)


def user_for_subject(subject):
    """The user a token bound to ``subject`` authenticates as (what the token authenticator would say)."""
    if not isinstance(subject, dict) or subject.get('kind') not in ('User', 'ServiceAccount') or not subject.get('name'):
        raise RbacError('rbac.subjects: each value needs kind (User or ServiceAccount) and name, got %r' % (subject,))
    if subject['kind'] == 'ServiceAccount':
        if not subject.get('namespace'):
            raise RbacError('rbac.subjects: ServiceAccount %s needs a namespace' % subject['name'])
        ns = subject['namespace']
        return UserInfo('system:serviceaccount:%s:%s' % (ns, subject['name']),
                        ['system:serviceaccounts', 'system:serviceaccounts:%s' % ns, 'system:authenticated'])
    return UserInfo(subject['name'], list(subject.get('groups') or []) + ['system:authenticated'])


def _applies(user, subject, namespace):
    if subject['kind'] == 'User':
        return user.name == subject['name']
    if subject['kind'] == 'Group':
        return subject['name'] in user.groups
    sa_namespace = subject.get('namespace') or namespace
    return bool(sa_namespace) and user.name == 'system:serviceaccount:%s:%s' % (sa_namespace, subject['name'])


def _describe_subject(subject, binding_namespace):
    # pkg/registry/rbac/validation/rule.go describeSubject: a ServiceAccount is written name/namespace.
    if subject['kind'] == 'ServiceAccount':
        return '%s "%s/%s"' % (subject['kind'], subject['name'], subject.get('namespace') or binding_namespace)
    return '%s "%s"' % (subject['kind'], subject['name'])


def _matches(rule, attrs):
    if '*' not in rule['verbs'] and attrs['verb'] not in rule['verbs']:
        return False
    if not attrs['resource_request']:
        return any(url == attrs['path'] or url == '*' or (url.endswith('*') and attrs['path'].startswith(url[:-1]))
                   for url in rule['nonResourceURLs'])
    if '*' not in rule['apiGroups'] and attrs['api_group'] not in rule['apiGroups']:
        return False
    combined = attrs['resource'] + ('/' + attrs['subresource'] if attrs['subresource'] else '')
    resource_ok = False
    for resource in rule['resources']:
        if resource in ('*', combined) or (attrs['subresource'] and resource == '*/' + attrs['subresource']):
            resource_ok = True
            break
    if not resource_ok:
        return False
    return not rule['resourceNames'] or attrs['name'] in rule['resourceNames']


class Authorizer(object):
    """RBAC over the loaded objects, for the users the description binds (token name -> UserInfo)."""

    def __init__(self, objects, users):
        self.cluster_roles = dict((o['name'], o) for o in objects['ClusterRole'])
        self.roles = dict(((o['namespace'], o['name']), o) for o in objects['Role'])
        self.cluster_bindings = objects['ClusterRoleBinding']
        self.bindings = objects['RoleBinding']
        self.users = users

    @classmethod
    def from_description(cls, rbac, base_dir, token_names):
        """``rbac: {files: [...], subjects: {token name: subject}}`` of the description."""
        if not isinstance(rbac, dict) or set(rbac) - {'files', 'subjects'}:
            raise RbacError('rbac must be a mapping with files and subjects')
        files = rbac.get('files') or []
        if not files:
            raise RbacError('rbac.files: at least one manifest file is needed')
        paths = [f if os.path.isabs(f) else os.path.join(base_dir, f) for f in files]
        users = {}
        for token_name, subject in (rbac.get('subjects') or {}).items():
            if token_name not in token_names:
                raise RbacError('rbac.subjects: %s is not a token name (tokens: %s)' % (token_name, ', '.join(sorted(token_names))))
            if token_name == 'admin':
                raise RbacError('rbac.subjects: the admin token keeps full access; bind another token')
            users[token_name] = user_for_subject(subject)
        return cls(load_manifests(paths), users)

    def bound(self, token_name):
        return self.users.get(token_name)

    def _role_rules(self, ref, namespace):
        if ref['kind'] == 'ClusterRole':
            role = self.cluster_roles.get(ref['name'])
            missing = 'clusterrole.rbac.authorization.k8s.io "%s" not found' % ref['name']
        else:
            role = self.roles.get((namespace, ref['name']))
            missing = 'role.rbac.authorization.k8s.io "%s" not found' % ref['name']
        return (role['rules'], None) if role else ([], missing)

    def authorize(self, user, attrs):
        """(allowed, reason, grant) for request attributes; grant names the role and rule that allowed it."""
        if not attrs['resource_request'] and attrs['verb'] == 'get' and (
                attrs['path'] in DISCOVERY_PATHS or attrs['path'].startswith(DISCOVERY_PREFIXES)):
            return True, DISCOVERY_REASON, {'kind': 'ClusterRole', 'name': 'system:discovery', 'namespace': None, 'rule': None,
                                            'binding': 'ClusterRoleBinding/system:discovery'}
        errors = []
        for binding in self.cluster_bindings:
            subject = next((s for s in binding['subjects'] if _applies(user, s, '')), None)
            if subject is None:
                continue
            rules, error = self._role_rules(binding['roleRef'], None)
            if error:
                errors.append(error)
            for index, rule in enumerate(rules):
                if _matches(rule, attrs):
                    reason = 'RBAC: allowed by ClusterRoleBinding "%s" of ClusterRole "%s" to %s' % (
                        binding['name'], binding['roleRef']['name'], _describe_subject(subject, ''))
                    return True, reason, {'kind': 'ClusterRole', 'name': binding['roleRef']['name'], 'namespace': None,
                                          'rule': index, 'binding': 'ClusterRoleBinding/%s' % binding['name']}
        namespace = attrs['namespace']
        if namespace:
            for binding in self.bindings:
                if binding['namespace'] != namespace:
                    continue
                subject = next((s for s in binding['subjects'] if _applies(user, s, namespace)), None)
                if subject is None:
                    continue
                rules, error = self._role_rules(binding['roleRef'], namespace)
                if error:
                    errors.append(error)
                for index, rule in enumerate(rules):
                    # Non-resource rules of a ClusterRole do not count through a RoleBinding.
                    if attrs['resource_request'] and _matches(rule, attrs):
                        reason = 'RBAC: allowed by RoleBinding "%s/%s" of %s "%s" to %s' % (
                            binding['name'], namespace, binding['roleRef']['kind'], binding['roleRef']['name'],
                            _describe_subject(subject, namespace))
                        return True, reason, {'kind': binding['roleRef']['kind'], 'name': binding['roleRef']['name'],
                                              'namespace': namespace if binding['roleRef']['kind'] == 'Role' else None,
                                              'rule': index, 'binding': 'RoleBinding/%s/%s' % (namespace, binding['name'])}
        # The RBAC authorizer reports resolution errors (a binding to a missing role) as its reason.
        return False, ('RBAC: [%s]' % ', '.join(errors) if len(errors) > 1 else 'RBAC: %s' % errors[0]) if errors else '', None


def forbidden(user, attrs, reason=''):
    """The 403 of responsewriters.Forbidden: apierrors.NewForbidden(group/resource, name, forbiddenMessage)."""
    if not attrs['resource_request']:
        message = 'User "%s" cannot %s path "%s"' % (user.name, attrs['verb'], attrs['path'])
    else:
        combined = attrs['resource'] + ('/' + attrs['subresource'] if attrs['subresource'] else '')
        scope = 'in the namespace "%s"' % attrs['namespace'] if attrs['namespace'] else 'at the cluster scope'
        message = 'User "%s" cannot %s resource "%s" in API group "%s" %s' % (user.name, attrs['verb'], combined, attrs['api_group'], scope)
    if reason:
        message = '%s: %s' % (message, reason)
    details = {}
    if not attrs['resource_request']:
        return ApiError(403, 'Forbidden', 'forbidden: %s' % message, details)
    qualified = attrs['resource'] + ('.' + attrs['api_group'] if attrs['api_group'] else '')
    if attrs['name']:
        details['name'] = attrs['name']
        message = '%s "%s" is forbidden: %s' % (qualified, attrs['name'], message)
    else:
        message = '%s is forbidden: %s' % (qualified, message)
    if attrs['api_group']:
        details['group'] = attrs['api_group']
    details['kind'] = attrs['resource']
    return ApiError(403, 'Forbidden', message, details)


def request_attributes(method, path, query, info):
    """Authorization attributes of a request the server has routed (``info`` from ``SimServer.route``), or of a
    non-resource path (``info`` None)."""
    if info is None or info.get('discovery') is not None:
        # A non-resource request's verb is the lower-case HTTP method.
        return {'resource_request': False, 'verb': method.lower(), 'path': path,
                'api_group': '', 'resource': '', 'subresource': None, 'namespace': None, 'name': None}
    res = info['res']
    verb = {'evict': 'create'}.get(info['verb'], info['verb'])
    name = info['name']
    if verb in ('list', 'watch') and not name:
        # requestinfo.go: a list or watch whose field selector requires metadata.name is authorized for that name.
        for selector in query.get('fieldSelector', []):
            for term in selector.split(','):
                key, sep, value = term.partition('=')
                if sep and key.strip() == 'metadata.name':
                    name = value[1:].strip() if value.startswith('=') else value.strip()
    return {'resource_request': True, 'verb': verb, 'path': path, 'api_group': res.group, 'resource': res.plural,
            'subresource': info['subresource'], 'namespace': info['namespace'], 'name': name}
