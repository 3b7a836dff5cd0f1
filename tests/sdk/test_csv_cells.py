"""CSV cells of a bulk import become JSON values: integers only from ASCII decimal digits."""

from __future__ import annotations

from chain_sdk.data import _cell


def test_decimal_integers_become_ints_and_other_digits_stay_text() -> None:
    assert [_cell(v) for v in ("42", "-7", "0", "-0", "true", "false")] == [42, -7, 0, 0, True, False]
    # leading zeros are identifiers (a code, a phone number); superscripts, other scripts' digits and a double minus are
    # text (int() refused the first and the last with a traceback, and read "١٢" as 12)
    for text in ("007", "²", "١٢", "--5", "-", "", "1.5", "1e3"):
        assert _cell(text) == text
    assert _cell('{"a": 1}') == {"a": 1} and _cell("[1") == "[1"
