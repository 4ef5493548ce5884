"""repeat_contacts, nps_gap and csat_gap from after-complaint answers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import Z95, _row, _summary
from cxroi.errors import CalibrationError


def _diff_ci(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Difference of means ``mean(a) - mean(b)`` with a Welch 95% interval."""
    d = a.mean() - b.mean()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(d), float(d - Z95 * se), float(d + Z95 * se)


class OutcomeGapFitter:
    """Differences between complaints that ended positively and negatively (respondents).

    * ``repeat_contacts`` :math:`= \\bar c_{neg} - \\bar c_{pos}` (contacts per complaint);
    * ``nps_gap`` :math:`= \\mathrm{NPS}_{pos} - \\mathrm{NPS}_{neg}` where
      :math:`\\mathrm{NPS} = 100\\,(\\text{share 9-10} - \\text{share 0-6})`, i.e. the
      difference of the mean of the score :math:`100\\,(1[\\ge 9] - 1[\\le 6])`;
    * ``csat_gap`` :math:`= \\overline{\\mathrm{CSAT}}_{pos} - \\overline{\\mathrm{CSAT}}_{neg}`;

    each with a Welch 95% interval (answers are from different complaints; given the
    outcome they do not depend on who answered).
    """

    def fit(self, prep: Prepared) -> OutcomeGapFitter:
        r = prep.complaints.loc[prep.complaints["positive"].notna()]
        pos = r["positive"].to_numpy() == 1
        self.estimates_: dict[str, tuple[float, float, float, int]] = {}
        if pos.sum() < 5 or (~pos).sum() < 5:
            raise CalibrationError("fewer than 5 positive or negative after-complaint answers")
        for name, vals, flip in (("repeat_contacts", r["contacts"].to_numpy(dtype=float), True),
                                 ("nps_gap", 100.0 * ((r["nps"] >= 9).astype(float) - (r["nps"] <= 6).astype(float)).where(r["nps"].notna()).to_numpy(), False),
                                 ("csat_gap", r["csat"].to_numpy(dtype=float), False)):
            if name == "csat_gap" and prep.complaints.attrs.get("outcome_rule", "").startswith("CSAT"):
                continue  # the outcome is defined by CSAT: its gap would be circular
            ok = np.isfinite(vals)
            a, b = vals[ok & pos], vals[ok & ~pos]
            if len(a) < 5 or len(b) < 5:
                continue
            d, lo, hi = _diff_ci(b, a) if flip else _diff_ci(a, b)
            self.estimates_[name] = (d, lo, hi, int(ok.sum()))
        return self

    @property
    def verdict(self) -> str:
        parts = []
        e = self.estimates_
        if "repeat_contacts" in e:
            d, lo, hi, _ = e["repeat_contacts"]
            parts.append(f"a complaint that ends badly takes {d:.2f} more contacts ({lo:.2f}-{hi:.2f})")
        if "nps_gap" in e:
            d, lo, hi, _ = e["nps_gap"]
            parts.append(f"customers whose complaint ended well give an NPS {d:.0f} points higher ({lo:.0f} to {hi:.0f})")
        if "csat_gap" in e:
            d, lo, hi, _ = e["csat_gap"]
            parts.append(f"and a CSAT {d:.2f} points higher ({lo:.2f}-{hi:.2f})")
        return ("After a complaint, " + "; ".join(parts) + ".") if parts else "No outcome gaps could be estimated."

    @property
    def summary(self) -> pd.DataFrame:
        texts = {
            "repeat_contacts": "extra contacts per complaint that ends badly",
            "nps_gap": "NPS points between positive and negative complaint outcomes",
            "csat_gap": "CSAT points between positive and negative complaint outcomes",
        }
        return _summary([_row(k, d, lo, hi, n, f"{texts[k]}: {d:.2f} (95% CI {lo:.2f} to {hi:.2f})")
                         for k, (d, lo, hi, n) in self.estimates_.items()])

