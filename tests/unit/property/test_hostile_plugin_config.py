# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input for the device plugin config validation (plugins/module_utils/_plugin_config.py).

``config_problems`` never raises: it returns every problem, each starting with the dotted path of the bad key or
value. A planted poison is named by its path (and, for a short scalar, its value) with what would be valid. A config
it accepts survives the YAML round trip that device_plugin_config makes when it writes the ConfigMap, and has one of
the three MIG strategies. ``load_config`` turns any text into a mapping or a ValueError.
"""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import hostile_strategies as hs
from hostile_tally import budget, record

from ansible_collections.gpufleet.mig.plugins.module_utils._plugin_config import config_problems, load_config, mig_strategy


def check(prop, config, poisons):
    try:
        problems = config_problems(config)
        assert isinstance(problems, list) and all(isinstance(p, str) and ': ' in p or p == 'the config must be a mapping' for p in problems)
        for poison in poisons:
            assert any(any(p.startswith(tok) or tok in p for tok in poison.tokens) and any(h in p for h in poison.hints)
                       for p in problems), 'poison %s (%s, hint %s) not named in %r' % (poison.kind, poison.tokens, poison.hints, problems)
        if problems:
            record(prop, 'rejected')
            return
        assert mig_strategy(config) in ('none', 'single', 'mixed')
        # device_plugin_config writes yaml.safe_dump(config) into the ConfigMap; the plugin reads that text.
        assert config_problems(load_config(yaml.safe_dump(config, default_flow_style=False, sort_keys=True))) == []
    except AssertionError:
        raise
    except Exception:
        record(prop, 'traceback')
        raise
    record(prop, 'accepted')


@settings(max_examples=budget(400))
@given(hs.plugin_case(), st.booleans())
def test_plugin_configs_with_planted_poisons(case, as_text):
    config = case.value
    if as_text:
        # The same config as YAML text, as a playbook may pass it; every value and key survives the trip.
        config = load_config(yaml.safe_dump(config))
    check('device plugin config (planted poisons)', config, case.poisons)


@settings(max_examples=budget(300))
@given(hs.junk_plugin_config() | hs.anything)
def test_junk_plugin_configs_never_escape_as_another_exception(config):
    check('device plugin config (junk)', config, ())


plugin_texts = st.one_of(
    st.text(max_size=200),
    st.builds(lambda opener, depth: opener * depth, st.sampled_from(['[', '{"a": ', '- ', 'a:\n  ', '{a: ']), st.integers(1, 1500)),
    st.builds(lambda depth: '{"version": "v1", "flags": %s}' % ('[' * depth + ']' * depth), st.integers(1, 3000)),
    st.builds(yaml.safe_dump, hs.junk_plugin_config()),
)


@settings(max_examples=budget(100))
@given(plugin_texts)
def test_plugin_config_text(text):
    prop = 'device plugin config (text)'
    try:
        config = load_config(text)
    except ValueError as exc:
        assert exc.__class__ is ValueError and str(exc)
        record(prop, 'rejected')
        return
    except Exception:
        record(prop, 'traceback')
        raise
    assert isinstance(config, dict)
    check(prop, config, ())
