"""Latest-wins cancellation per document, and the adaptive debounce."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_server.scheduling import LatestWins, TypingRate
from tiers.base import CancelledError

A, B = "file:///a.py", "file:///b.py"
ADAPTIVE = -1


def test_newer_request_supersedes_the_older_one_for_the_same_document() -> None:
    live = LatestWins()
    first = live.begin(A)
    second = live.begin(A)
    assert first.cancelled and first.reason == "superseded"
    assert not second.cancelled
    with pytest.raises(CancelledError, match="superseded"):
        first.raise_if_cancelled()
    second.raise_if_cancelled()  # still live: no exception


def test_other_documents_are_not_cancelled() -> None:
    live = LatestWins()
    a = live.begin(A)
    b = live.begin(B)
    assert not a.cancelled and not b.cancelled
    live.begin(B)
    assert not a.cancelled and b.cancelled


def test_end_only_clears_its_own_token() -> None:
    live = LatestWins()
    first = live.begin(A)
    second = live.begin(A)
    live.end(A, first)  # a late finish of the superseded request
    third = live.begin(A)
    assert second.cancelled, "second was still registered, so the third superseded it"
    live.end(A, third)
    fourth = live.begin(A)
    assert not third.cancelled, "third had ended, so nothing was left to supersede"
    assert not fourth.cancelled


def test_end_for_unknown_key_is_harmless() -> None:
    live = LatestWins()
    token = live.begin(A)
    live.end(B, token)
    live.begin(A)
    assert token.cancelled


def test_cancel_with_a_reason() -> None:
    live = LatestWins()
    a = live.begin(A)
    b = live.begin(B)
    live.cancel(A, "client cancelled")
    live.cancel("file:///unknown.py", "nothing to do")
    assert a.cancelled and a.reason == "client cancelled"
    assert not b.cancelled


def test_cancel_all() -> None:
    live = LatestWins()
    tokens = [live.begin(A), live.begin(B)]
    live.cancel_all("shutdown")
    assert all(t.cancelled and t.reason == "shutdown" for t in tokens)


def test_first_reason_wins() -> None:
    live = LatestWins()
    token = live.begin(A)
    live.cancel(A, "document changed")
    live.begin(A)  # would say "superseded"
    assert token.reason == "document changed"


# --- TypingRate ---------------------------------------------------------------------------


def _typed(rate: TypingRate, key: str, times: list[float]) -> None:
    for t in times:
        rate.edited(key, now=t)


def test_no_history_means_no_wait() -> None:
    rate = TypingRate()
    assert rate.debounce(A, ADAPTIVE, 250, now=10.0) == 0.0
    rate.edited(A, now=10.0)  # one edit: no interval yet
    assert rate.debounce(A, ADAPTIVE, 250, now=10.0) == 0.0


def test_steady_typing_waits_most_of_one_interval() -> None:
    rate = TypingRate()
    _typed(rate, A, [0.0, 0.1, 0.2, 0.3])
    assert rate.debounce(A, ADAPTIVE, 250, now=0.3) == pytest.approx(0.08)
    assert rate.debounce(A, ADAPTIVE, 250, now=0.35) == pytest.approx(0.03)
    assert rate.debounce(A, ADAPTIVE, 250, now=0.5) == 0.0  # the expected key did not come


def test_interval_is_an_exponential_average() -> None:
    rate = TypingRate(alpha=0.5)
    _typed(rate, A, [0.0, 0.1, 0.4])  # gaps 0.1 then 0.3: average 0.2
    assert rate.debounce(A, ADAPTIVE, 1000, now=0.4) == pytest.approx(0.8 * 0.2)


def test_debounce_is_bounded_by_the_maximum() -> None:
    rate = TypingRate()
    _typed(rate, A, [0.0, 0.9])  # slow but not a pause
    assert rate.debounce(A, ADAPTIVE, 250, now=0.9) == pytest.approx(0.25)
    assert rate.debounce(A, ADAPTIVE, 0, now=0.9) == 0.0


@pytest.mark.parametrize("fixed_ms", [0, 1, 120, 5000])
def test_fixed_debounce(fixed_ms: int) -> None:
    rate = TypingRate()
    assert rate.debounce(A, fixed_ms, 250, now=0.0) == fixed_ms / 1000
    _typed(rate, A, [0.0, 0.1, 0.2])
    assert rate.debounce(A, fixed_ms, 250, now=0.2) == fixed_ms / 1000


def test_a_pause_resets_the_estimate() -> None:
    rate = TypingRate()
    _typed(rate, A, [0.0, 0.1, 0.2])
    _typed(rate, A, [5.0])  # a pause longer than TypingRate.PAUSE
    assert TypingRate.PAUSE < 5.0 - 0.2
    assert rate.debounce(A, ADAPTIVE, 250, now=5.0) == 0.0
    _typed(rate, A, [5.2])  # the new estimate starts from the new typing alone
    assert rate.debounce(A, ADAPTIVE, 250, now=5.2) == pytest.approx(0.8 * 0.2)


def test_documents_are_independent_and_forget_clears() -> None:
    rate = TypingRate()
    _typed(rate, A, [0.0, 0.1])
    assert rate.debounce(B, ADAPTIVE, 250, now=0.1) == 0.0
    assert rate.debounce(A, ADAPTIVE, 250, now=0.1) > 0
    rate.forget(A)
    rate.forget(B)  # never seen: harmless
    assert rate.debounce(A, ADAPTIVE, 250, now=0.1) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=3.0), max_size=20),
    st.floats(min_value=0.0, max_value=2.0),
    st.integers(min_value=0, max_value=1000),
)
def test_adaptive_debounce_always_within_bounds(gaps, wait, max_ms) -> None:
    rate = TypingRate()
    now = 100.0
    for gap in gaps:
        now += gap
        rate.edited(A, now=now)
    delay = rate.debounce(A, ADAPTIVE, max_ms, now=now + wait)
    assert 0.0 <= delay <= max_ms / 1000
    # Never longer than the typical gap between keys: the user would notice.
    assert delay <= TypingRate.PAUSE
