"""Hypothesis strategies for JSON values, shared by the SDK's encoder tests."""

from __future__ import annotations

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
"""Any value ``json.loads`` can make, and lone surrogates, integers beyond 64 bits, NaN and the infinities."""
