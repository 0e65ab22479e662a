"""Go's text/tabwriter, as kubectl aligns `describe`, `config get-contexts` and `api-resources`. Pure.

kubectl writes lines whose cells end in a tab and lets tabwriter pad them. What makes its output look
the way it does is *column blocks*: a column's width is set by a run of consecutive lines that have
a cell in that column, and a line with fewer cells ends the run. So in `describe`, `Labels:` and the
continuation lines under it align together, an `IPs:` line (no tab) starts a fresh block, and the
events table lines up on its own. This is a port of tabwriter.Writer.format for the settings kubectl
uses (left-aligned, space padding, no flags); cell widths count characters, as Go counts runes.
"""
from __future__ import annotations


def tabwrite(text: str, *, minwidth: int = 0, padding: int = 2) -> str:
    """`text` with its tab-terminated cells padded into columns. Text after a line's last tab is not
    a cell (it is written as is), exactly as in Go; the result ends with a newline iff `text` does."""
    if not text:
        return ""
    lines = text.split("\n")
    trailing = lines.pop() if lines else ""   # text after the last newline: written unpadded, no newline
    rows = [line.split("\t") for line in lines]
    out: list[str] = []
    _format(rows, [], 0, len(rows), out, minwidth, padding)
    return "".join(out) + trailing.replace("\t", "")


def _format(rows: list[list[str]], widths: list[int], line0: int, line1: int, out: list[str],
            minwidth: int, padding: int) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(rows[this]) - 1:
            this += 1
            continue
        # A block of lines with a cell in this column starts here: write what came before it.
        _write(rows, widths, line0, this, out)
        line0 = this
        width = minwidth
        while this < line1 and column < len(rows[this]) - 1:
            width = max(width, len(rows[this][column]) + padding)
            this += 1
        widths.append(width)
        _format(rows, widths, line0, this, out, minwidth, padding)
        widths.pop()
        line0 = this
    _write(rows, widths, line0, line1, out)


def _write(rows: list[list[str]], widths: list[int], line0: int, line1: int, out: list[str]) -> None:
    for row in rows[line0:line1]:
        cells = []
        for j, cell in enumerate(row):
            cells.append(cell.ljust(widths[j]) if j < len(widths) else cell)
        out.append("".join(cells) + "\n")
