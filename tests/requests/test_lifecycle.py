"""The transition table, checked exhaustively without a database."""

from __future__ import annotations

import itertools

import pytest

from app.requests.lifecycle import (
    CLOSED,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Status,
    allowed_actions,
    next_status,
)

S, A = Status, Action

# The product's diagram, written out by hand (product.md, "Lifecycle").
EXPECTED = {
    (S.pending_verification, A.verify): S.open,
    (S.pending_verification, A.reject): S.rejected,
    (S.pending_verification, A.withdraw): S.withdrawn,
    (S.open, A.assign): S.in_progress,
    (S.open, A.carry_out): S.fulfilling,  # a self-service consent withdrawal
    (S.open, A.withdraw): S.withdrawn,
    (S.in_progress, A.grant): S.fulfilling,
    (S.in_progress, A.refuse): S.refused,
    (S.in_progress, A.withdraw): S.withdrawn,
    (S.fulfilling, A.complete): S.completed,
    (S.fulfilling, A.withdraw): S.withdrawn,
    (S.refused, A.object): S.in_progress,
    (S.fulfilling, A.object): S.in_progress,
    (S.completed, A.object): S.in_progress,
    (S.rejected, A.object): S.pending_verification,
    # A duplicate merged into the earlier request of its subject and type, before a decision.
    (S.pending_verification, A.merge): S.merged,
    (S.open, A.merge): S.merged,
    (S.in_progress, A.merge): S.merged,
}


@pytest.mark.parametrize(("status", "action"), list(itertools.product(Status, Action)))
def test_every_pair(status, action):
    if (status, action) in EXPECTED:
        assert next_status(status, action) is EXPECTED[(status, action)]
    else:
        with pytest.raises(IllegalTransition) as err:
            next_status(status, action)
        assert err.value.status == 409
        assert err.value.extra["allowed_actions"] == sorted(
            a.value for a in allowed_actions(status)
        )


def test_table_is_exactly_the_diagram():
    assert TRANSITIONS == EXPECTED


def test_nothing_leaves_a_final_state():
    assert allowed_actions(S.withdrawn) == []
    assert allowed_actions(S.merged) == []  # merged is terminal
    assert S.merged in CLOSED
    # A rejection can only be objected to (Art. 38(5)): back to verification for a review.
    assert allowed_actions(S.rejected) == [A.object]
    # Only an objection to a partial grant reopens a completed request.
    assert allowed_actions(S.completed) == [A.object]


def test_refused_is_closed_but_can_be_objected_to():
    assert S.refused in CLOSED
    assert allowed_actions(S.refused) == [A.object]


def test_every_state_is_reachable_from_the_start():
    seen, frontier = {S.pending_verification}, [S.pending_verification]
    while frontier:
        current = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is current and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(Status)


def test_strings_are_accepted():
    assert next_status("open", "assign") is S.in_progress
