"""Reading the operator pages in tests: an element's text by id, a table's rows."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"br", "hr", "img", "input", "link", "meta", "source", "wbr", "col", "area", "base"}


class _Collector(HTMLParser):
    """Collects the text inside every element that has an id, and table rows by the id of
    their table and of their table body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self._open: list[tuple[str, str | None]] = []
        self._table: list[str | None] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        element_id = dict(attrs).get("id")
        self._open.append((tag, element_id))
        if element_id is not None:
            self.texts[element_id] = ""
        if tag in ("table", "thead", "tbody"):
            self._table.append(element_id)
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            for container in self._table:
                if container is not None:
                    self.rows.setdefault(container, []).append(self._row)
            self._row = None
        elif tag in ("table", "thead", "tbody") and self._table:
            self._table.pop()

    def handle_data(self, data: str) -> None:
        for _, element_id in self._open:
            if element_id is not None:
                self.texts[element_id] += data
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def text(html: str, element_id: str) -> str:
    """The whitespace-normalised text of the element with this id."""
    return " ".join(parse(html).texts[element_id].split())


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The cells' texts of each row of the table (header row included) or table body with
    this id."""
    return parse(html).rows.get(table_id, [])
