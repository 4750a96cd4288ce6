"""Keyset pages of a list held in memory (the console's referrers)."""

from liveloop.console.list_pages import page

ROWS = [{"id": f"u{n}"} for n in range(7)]


def ids(found) -> list[str]:
    return [row["id"] for row in found.rows]


def test_pages_go_forward_and_back_by_the_row_at_their_edge():
    first = page(ROWS, key="id", limit=3, position={})
    assert ids(first) == ["u0", "u1", "u2"] and first.previous is None and first.next == ("u2",)
    second = page(ROWS, key="id", limit=3, position={"cursor": "u2"})
    assert ids(second) == ["u3", "u4", "u5"] and second.previous == ("u3",) and second.next == ("u5",)
    last = page(ROWS, key="id", limit=3, position={"cursor": "u5"})
    assert ids(last) == ["u6"] and last.next is None and last.previous == ("u6",)
    back = page(ROWS, key="id", limit=3, position={"before": "u6"})
    assert ids(back) == ["u3", "u4", "u5"]
    assert ids(page(ROWS, key="id", limit=3, position={"before": "u2"})) == ["u0", "u1"]


def test_a_position_naming_no_row_reads_as_the_first_page():
    assert ids(page(ROWS, key="id", limit=3, position={"cursor": "nobody"})) == ["u0", "u1", "u2"]
    assert page([], key="id", limit=3, position={}).next is None
