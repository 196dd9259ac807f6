"""The request body's nesting limit (api/body.py): the level-at-a-time walk must refuse
exactly what a plain recursive definition of depth refuses."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from missedmail.api.body import MAX_NESTING_DEPTH, _depth_exceeds

values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=60,
)


def depth(value: object) -> int:
    """Containers count one level each; scalars none (the root object is depth 1)."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@given(value=values, limit=st.integers(min_value=0, max_value=8))
def test_the_walk_agrees_with_the_recursive_definition(value: object, limit: int) -> None:
    assert _depth_exceeds(value, limit) == (depth(value) > limit)


def nested(levels: int) -> object:
    """`levels` containers deep, alternating objects and arrays, with scalars beside them."""
    value: object = "leaf"
    for level in range(levels):
        value = {"k": value, "n": 1} if level % 2 else [value, 2, None]
    return value


def test_the_limit_is_inclusive_and_counts_objects_and_arrays_alike() -> None:
    assert not _depth_exceeds(nested(MAX_NESTING_DEPTH), MAX_NESTING_DEPTH)
    assert _depth_exceeds(nested(MAX_NESTING_DEPTH + 1), MAX_NESTING_DEPTH)
    assert not _depth_exceeds("scalar", 0)
    assert _depth_exceeds([], 0)


def test_a_deep_branch_is_found_beside_a_wide_shallow_body() -> None:
    wide = {"messages": [{"id": n, "recipients": [{"user_id": n}]} for n in range(1000)]}
    assert not _depth_exceeds(wide, MAX_NESTING_DEPTH)
    wide["messages"].append({"deep": json.loads("[" * 20 + "]" * 20)})
    assert _depth_exceeds(wide, MAX_NESTING_DEPTH)
