"""Metric validity (does NPS / CSAT / an emotion predict the money?) and emotion drivers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import (
    DOES_NOT,
    PREDICTS,
    Z95,
    _groups,
    _row,
    _summary,
    concordance_ci,
    logistic_fit,
    three_way,
)
from cxroi.data import EMOTIONS, NEGATIVE_EMOTIONS


def _first_responses(prep: Prepared, follow_days: float = 365.0) -> tuple[pd.DataFrame, int]:
    """The first answered survey per account with a full year of follow-up, and outcomes.

    Adds ``left12`` (left within a year of answering), ``expanded12`` (bought more within a
    year) and ``nrr12`` (revenue a year later / revenue at answering; 0 if it left).
    """
    r = prep.responses.sort_values("day", kind="stable").drop_duplicates("acc", keep="first")
    horizon = (prep.window_end - prep.window_start).total_seconds() / 86400.0
    full = r["day"].to_numpy() + follow_days <= horizon
    a = prep.accounts
    end_day = ((pd.to_datetime(a["end_date"]) - prep.window_start).dt.total_seconds() / 86400.0).to_numpy()
    r = r.loc[full].copy()
    acc = r["acc"].to_numpy()
    d = r["day"].to_numpy()
    left = a["churned"].to_numpy()[acc] & (end_day[acc] <= d + follow_days)
    e = prep.expansions
    ed = pd.DataFrame({"acc": e["acc"].to_numpy(), "day": e["day"].to_numpy(), "amount": e["amount"].to_numpy()})
    m = ed.merge(pd.DataFrame({"acc": acc, "d0": d}), on="acc")
    m = m.loc[(m["day"] > m["d0"]) & (m["day"] <= m["d0"] + follow_days)]
    added = m.groupby("acc")["amount"].sum()
    cnt = m.groupby("acc").size()
    rev = a["revenue"].to_numpy()[acc]
    r["left12"] = left.astype(int)
    r["expanded12"] = (pd.Series(acc).map(cnt).fillna(0).to_numpy() > 0).astype(int)
    r["nrr12"] = np.where(left, 0.0, (rev + pd.Series(acc).map(added).fillna(0).to_numpy()) / np.maximum(rev, 1e-9))
    r["segment"] = a["segment"].to_numpy()[acc]
    return r, int((~full).sum())


#: A concordance below this is not a useful ranking of customers: "does not predict" needs
#: the interval's upper end below it (and its lower end above 1 - C_USEFUL).
C_USEFUL = 0.55


def _strength(c: float) -> str:
    dist = abs(c - 0.5)
    return "weakly" if dist < 0.05 else ("moderately" if dist < 0.15 else "strongly")


TARGET_WORDS = {"retention": "retention (staying a year)", "expansion": "expansion (buying more within a year)",
                "nrr": "net revenue retention over the next year"}


class MetricValidityFitter:
    """Does a survey metric predict what the money depends on? The verdict can be "no".

    For each metric (NPS, CSAT, each emotion) and target (retention, expansion, NRR over the
    year after the customer's first answer), the concordance :math:`C` (AUC for the binary
    targets, Harrell's C for NRR) in the *expected* direction (higher NPS, confidence ...
    goes with staying and buying more; for frustrated, exhausted, angry and indifferent the
    scale is reversed). :math:`C = 0.5` is a coin toss. 95% interval: bootstrap over
    customers. Three-way verdict: *predicts* when the interval lies above 0.5, *predicts the
    wrong way* when below; *does not predict* only when the interval rules out a useful
    ranking (its upper end below :data:`C_USEFUL` = 0.55); otherwise *not shown with these
    data (n=...)* - not shown is not the same as shown not to predict. ``lift_`` is the leaving / expanding rate by
    score group relative to the average.
    """

    def __init__(self, n_boot: int = 1000, seed: int = 20261123, metrics: list[str] | None = None):
        self.n_boot = n_boot
        self.seed = seed
        self.metrics = metrics

    def fit(self, frame: pd.DataFrame, targets: dict[str, str] | None = None,
            target_words: dict[str, str] | None = None) -> MetricValidityFitter:
        """``frame`` has one row per customer with metric columns and target columns.

        ``targets`` maps target name -> column, where larger is better (stay = 1 - left);
        ``target_words`` how each target reads in a verdict.
        """
        targets = targets or {"retention": "stay12", "expansion": "expanded12", "nrr": "nrr12"}
        self.target_words_ = {**TARGET_WORDS, **(target_words or {})}
        metrics = self.metrics or [m for m in ("nps", "csat", *EMOTIONS) if m in frame and frame[m].notna().any()]
        rng = np.random.default_rng(self.seed)
        rows, lift = [], []
        for m in metrics:
            sign = -1.0 if m in NEGATIVE_EMOTIONS else 1.0
            for tname, tcol in targets.items():
                ok = frame[m].notna() & frame[tcol].notna()
                x = sign * frame.loc[ok, m].to_numpy(dtype=float)
                y = frame.loc[ok, tcol].to_numpy(dtype=float)
                if len(x) < 20 or len(np.unique(y)) < 2 or len(np.unique(x)) < 2:
                    continue
                c, lo, hi = concordance_ci(x, y, rng, self.n_boot)
                rows.append({"metric": m, "target": tname, "c": c, "low": lo, "high": hi, "n": len(x),
                             "verdict": self._verdict(m, self.target_words_.get(tname, tname), c, lo, hi, len(x))})
                if len(np.unique(y)) == 2:
                    g = _groups(frame.loc[ok, m].to_numpy(dtype=float), 10)
                    df = pd.DataFrame({"g": g, "x": frame.loc[ok, m].to_numpy(dtype=float), "y": y})
                    agg = df.groupby("g").agg(low=("x", "min"), high=("x", "max"), n=("y", "size"), rate=("y", "mean"))
                    base = y.mean()
                    for _, r in agg.iterrows():
                        lift.append({"metric": m, "target": tname, "scores": f"{r['low']:g}-{r['high']:g}",
                                     "n": int(r["n"]), "rate": r["rate"], "lift": r["rate"] / base if base else np.nan})
        self.results_ = pd.DataFrame(rows, columns=["metric", "target", "c", "low", "high", "n", "verdict"])
        self.lift_ = pd.DataFrame(lift, columns=["metric", "target", "scores", "n", "rate", "lift"])
        return self

    @staticmethod
    def _verdict(metric: str, target: str, c: float, lo: float, hi: float, n: int | None = None) -> str:
        label = metric.upper() if metric in {"nps", "csat"} else metric.capitalize()
        tail = f"(C {c:.2f}, 95% CI {lo:.2f}-{hi:.2f}{f', n={n:,}' if n else ''})"
        state = three_way(lo, hi, 0.5, 1 - C_USEFUL, C_USEFUL)
        if state == PREDICTS and lo > 0.5:
            return f"{label} {_strength(c)} predicts {target} here {tail}."
        if state == PREDICTS:
            return f"{label} predicts {target} the wrong way round here {tail} - don't steer by it."
        if state == DOES_NOT:
            return (f"{label} does not predict {target} here {tail}: the interval rules out a useful ranking "
                    f"(C below {C_USEFUL:.2f}) - don't steer by it.")
        return (f"{label} predicting {target} is not shown with these data {tail}: the interval allows no "
                f"ranking and a useful one (C above {C_USEFUL:.2f}); collect more answers before steering by it.")

    def state(self, metric: str, target: str = "retention") -> str | None:
        """``predicts`` / ``not shown`` / ``does not predict`` (None if not fitted); the
        wrong-way case is ``predicts`` with a C below 0.5."""
        r = self.results_.loc[(self.results_["metric"] == metric) & (self.results_["target"] == target)]
        if r.empty:
            return None
        return three_way(float(r["low"].iloc[0]), float(r["high"].iloc[0]), 0.5, 1 - C_USEFUL, C_USEFUL)

    def predicts(self, metric: str, target: str = "retention") -> bool | None:
        """True when the metric is shown to predict the target (interval above 0.5), False
        otherwise (does not, or not shown); None if not fitted. See :meth:`state`."""
        r = self.results_.loc[(self.results_["metric"] == metric) & (self.results_["target"] == target)]
        return None if r.empty else bool(r["low"].iloc[0] > 0.5)

    @property
    def verdict(self) -> str:
        return " ".join(self.results_.loc[self.results_["metric"].isin(["nps", "csat"])]["verdict"].tolist())

    @property
    def summary(self) -> pd.DataFrame:
        return _summary([_row(f"validity: {r.metric} -> {r.target} (C)", r.c, r.low, r.high, r.n, r.verdict)
                         for r in self.results_.itertuples()])


class EmotionDriverFitter:
    """Which emotions predict leaving and buying more (all eight in one model).

    Logistic regressions of leaving (buying more) within a year of the first answer on the
    eight emotion ratings together, plus segment:
    :math:`\\operatorname{logit} P = \\alpha_s + \\sum_e \\beta_e x_e`; odds ratio per rating
    point :math:`e^{\\beta_e}` with Wald 95% intervals. A driver is an emotion whose interval
    excludes 1 (no correction for eight comparisons: read borderline drivers with care);
    "does not predict" only when the interval lies within :attr:`OR_MARGIN` per rating
    point, else "not shown with these data".
    """

    #: Odds ratios per rating point too small to matter (three-way verdict).
    OR_MARGIN = (0.95, 1.05)

    def fit(self, frame: pd.DataFrame, outcomes: dict[str, str] | None = None) -> EmotionDriverFitter:
        outcomes = outcomes or {"leaving": "left12", "buying more": "expanded12"}
        ems = [e for e in EMOTIONS if e in frame]
        df = frame.dropna(subset=ems)
        rows = []
        seg = pd.get_dummies(df["segment"], drop_first=True, dtype=float) if "segment" in df else pd.DataFrame(index=df.index)
        X = np.column_stack([df[ems].to_numpy(dtype=float), seg.to_numpy()])
        for oname, col in outcomes.items():
            y = df[col].to_numpy(dtype=int)
            if len(df) < 50 or y.sum() < 5 or (1 - y).sum() < 5:
                continue
            beta, cov = logistic_fit(X, y)
            se = np.sqrt(np.diag(cov))
            for i, e in enumerate(ems):
                b, s = beta[1 + i], se[1 + i]
                rows.append({"emotion": e, "outcome": oname, "odds_ratio": math.exp(b),
                             "low": math.exp(b - Z95 * s), "high": math.exp(b + Z95 * s), "n": len(df)})
        self.results_ = pd.DataFrame(rows, columns=["emotion", "outcome", "odds_ratio", "low", "high", "n"])
        self.n_ = len(df)
        return self

    def drivers(self, outcome: str) -> list[str]:
        r = self.results_.loc[self.results_["outcome"] == outcome]
        return r.loc[(r["low"] > 1) | (r["high"] < 1), "emotion"].tolist()

    @property
    def verdict(self) -> str:
        parts = []
        for o in self.results_["outcome"].unique():
            d = self.drivers(o)
            parts.append(f"{' and '.join(x.capitalize() for x in d) if d else 'No emotion'} "
                         f"{'is' if len(d) == 1 else 'are'} the emotion{'s' if len(d) != 1 else ''} that predict{'s' if len(d) == 1 else ''} {o}")
        return ("; ".join(parts) + f" (one model of all eight ratings, {self.n_:,} customers).") if parts else \
            "Too few answers with all emotion ratings to find drivers."

    @property
    def summary(self) -> pd.DataFrame:
        rows = []
        for r in self.results_.itertuples():
            state = three_way(r.low, r.high, 1.0, *self.OR_MARGIN)
            direction = "more" if r.odds_ratio > 1 else "less"
            tail = f"(OR {r.odds_ratio:.2f}, {r.low:.2f}-{r.high:.2f}, n={r.n:,})"
            if state == PREDICTS:
                v = f"Each extra point of '{r.emotion}' makes {r.outcome} {direction} likely {tail}."
            elif state == DOES_NOT:
                v = (f"'{r.emotion}' does not predict {r.outcome} {tail}: the interval rules out more than "
                     f"{self.OR_MARGIN[0]:.2f}-{self.OR_MARGIN[1]:.2f} per rating point.")
            else:
                v = f"'{r.emotion}' predicting {r.outcome} is not shown with these data {tail}."
            rows.append(_row(f"driver: {r.emotion} -> {r.outcome} (OR per point)", r.odds_ratio, r.low, r.high, r.n, v))
        return _summary(rows)

