"""Run every ``benchmarks/bench_*.py`` and print its rows as a table (``python -m benchmarks``).

Each module exposes ``run(workdir: Path) -> list[dict]``; rows are printed in the order given,
with the keys of the first row as columns. Nothing here asserts a time: targets are for people.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table


def main(selected: list[str]) -> None:
    console = Console(width=160)
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_"))
    for name in names:
        if selected and not any(s in name for s in selected):
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        with tempfile.TemporaryDirectory(prefix=f"lesionview-{name}-") as tmp:
            rows = module.run(Path(tmp))
        table = Table(title=f"{name}: {(module.__doc__ or '').strip().splitlines()[0]}", title_justify="left")
        columns = list(rows[0]) if rows else []
        for col in columns:
            table.add_column(col)
        for row in rows:
            table.add_row(*[_fmt(row.get(c)) for c in columns])
        console.print(table)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


if __name__ == "__main__":
    main(sys.argv[1:])
