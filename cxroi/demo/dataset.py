"""Writing the demo data set (tables and ``truth.yaml``) and reading its truth back."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cxroi.demo.generator import generate_demo
from cxroi.demo.parameters import DemoTruth


@dataclass(frozen=True)
class DemoFiles:
    """Where :func:`write_demo` put the demo data."""

    folder: Path
    tables: dict[str, Path] = field(default_factory=dict)
    truth: Path | None = None


def write_demo(folder: str | os.PathLike[str] = "data/demo", seed: int = 20261123,
               n_accounts: int = 5000, truth: DemoTruth | None = None) -> DemoFiles:
    """Generate the demo company and write ``{accounts,tickets,surveys,orders}.csv`` and
    ``truth.yaml`` (the known parameters, the seed and the generator's settings)."""
    tr = truth or DemoTruth()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tables = generate_demo(seed=seed, n_accounts=n_accounts, truth=tr)
    paths = {}
    for name, df in tables.items():
        p = out / f"{name}.csv"
        fmt = "%Y-%m-%d %H:%M" if name == "tickets" else "%Y-%m-%d"
        df.to_csv(p, index=False, date_format=fmt, float_format="%.10g")
        paths[name] = p
    meta = {
        "generator": "cxroi.demo.generate_demo",
        "seed": seed,
        "n_accounts": n_accounts,
        "rows": {k: len(v) for k, v in tables.items()},
        "note": ("Known parameters of the demo company. Link parameters use the scenario's "
                 "link names; churn, expansion_rate and complaints_per_year are the base "
                 "rates before complaint outcomes and account health."),
        "truth": tr.to_dict(),
    }
    tp = out / "truth.yaml"
    tp.write_text(yaml.safe_dump(meta, sort_keys=False, width=100), encoding="utf-8")
    return DemoFiles(out, paths, tp)


def load_truth(path: str | os.PathLike[str]) -> DemoTruth:
    """Read ``truth.yaml`` written by :func:`write_demo` back to a :class:`DemoTruth`."""
    meta = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return DemoTruth.from_dict(meta["truth"])
