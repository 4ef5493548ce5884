"""Survey gap: synthetic NPS for non-respondents and the response-bias check."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold, cross_val_predict
from threadpoolctl import threadpool_limits

from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import _pct, _row, _summary, concordance_ci
from cxroi.errors import CalibrationError


def account_features(prep: Prepared) -> pd.DataFrame:
    """Operational, behavioural and financial features per account (no survey answers).

    complaints per year, mean log2 resolution time, share resolved slower than today,
    contacts per complaint, expansions per year, orders per year and order value per year
    relative to revenue, months at risk, log revenue, segment code.
    """
    a, c, e, o = prep.accounts, prep.complaints, prep.expansions, prep.orders
    n = len(a)
    years = a["months"].to_numpy() / 12.0
    nc = np.bincount(c["acc"], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = pd.DataFrame({
            "segment": a["seg"].to_numpy(),
            "log_revenue": a["log_rev"].to_numpy(),
            "months": a["months"].to_numpy(),
            "complaints_per_year": nc / years,
            "mean_log2_days": np.bincount(c["acc"], weights=c["z"], minlength=n) / nc,
            "slow_share": np.bincount(c["acc"], weights=(c["z"] > 0).astype(float), minlength=n) / nc,
            "contacts_per_complaint": np.bincount(c["acc"], weights=np.nan_to_num(c["contacts"]), minlength=n) / nc,
            "expansions_per_year": np.bincount(e["acc"], minlength=n) / years,
            "orders_per_year": np.bincount(o["acc"], minlength=n) / years,
            "order_value_share": np.bincount(o["acc"], weights=o["amount"], minlength=n) / years
            / np.maximum(a["revenue"].to_numpy(), 1e-9),
        })
    return f.replace([np.inf, -np.inf], np.nan)


class SurveyGapFitter:
    """Synthetic NPS for customers who do not answer, and the response-bias check.

    A gradient-boosted regression (scikit-learn ``HistGradientBoostingRegressor``) predicts
    an account's mean NPS answer from :func:`account_features`. Accuracy is 5-fold
    cross-validated (MAE against predicting the average, :math:`R^2`, and the AUC of the
    predicted score for promoters). Promoter / detractor probabilities for everyone come from
    the prediction plus the cross-validated residuals:
    :math:`P(\\text{promoter}) = \\frac1m\\sum_k 1[\\hat y + e_k \\ge 8.5]`.

    Response-bias check: the ratio of the promoter share among respondents to the promoter
    share predicted for non-respondents, with a bootstrap interval (assumes answers are
    missing at random given the features; the model is not refitted per replicate).

    With more than ``max_train`` responding accounts the model is trained and
    cross-validated on a seeded random sample of ``max_train`` of them (``train_n_`` says
    how many); it still predicts every account, and the respondents' promoter share uses
    every answer.
    """

    #: Responding accounts the model is trained on at most (a random sample above that).
    MAX_TRAIN = 100_000

    def __init__(self, seed: int = 20261123, n_boot: int = 500, max_train: int | None = MAX_TRAIN):
        self.seed = seed
        self.n_boot = n_boot
        self.max_train = max_train

    def fit(self, prep: Prepared) -> SurveyGapFitter:
        X = account_features(prep)
        r = prep.responses.loc[prep.responses["nps"].notna()]
        rel = r.loc[~r["post"]] if (~r["post"]).sum() >= 50 else r
        y_acc = rel.groupby("acc")["nps"].mean()
        responders = np.zeros(len(X), dtype=bool)
        responders[y_acc.index.to_numpy()] = True
        if responders.sum() < 50:
            raise CalibrationError("fewer than 50 accounts answered an NPS question: cannot fill the survey gap")
        Xr, yr = X.loc[responders], y_acc.reindex(np.flatnonzero(responders)).to_numpy()
        rng = np.random.default_rng(self.seed)
        train = np.arange(len(yr))
        if self.max_train and len(yr) > self.max_train:
            train = np.sort(rng.choice(len(yr), size=int(self.max_train), replace=False))
        self.train_n_ = len(train)
        Xt, yt = Xr.iloc[train], yr[train]
        model = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.05, max_leaf_nodes=15,
                                              min_samples_leaf=40, random_state=self.seed)
        cv = KFold(5, shuffle=True, random_state=self.seed)
        # one OpenMP thread: on a busy 2-core machine spinning threads make HGB 50x slower
        with threadpool_limits(limits=1, user_api="openmp"):
            pred_cv = cross_val_predict(model, Xt, yt, cv=cv)
            model.fit(Xt, yt)
            pred = model.predict(X)
        resid = np.sort(yt - pred_cv)
        self.cv_mae_ = float(np.mean(np.abs(yt - pred_cv)))
        self.baseline_mae_ = float(np.mean(np.abs(yt - yt.mean())))
        self.cv_r2_ = float(1 - np.sum((yt - pred_cv) ** 2) / np.sum((yt - yt.mean()) ** 2))
        prom = (yr >= 8.5).astype(float)
        prom_t = prom[train]
        if 0 < prom_t.sum() < len(prom_t):
            self.cv_auc_ = concordance_ci(pred_cv, prom_t, rng, 300)
        else:
            self.cv_auc_ = (float("nan"),) * 3
        self.model_ = model

        def share_above(p: np.ndarray, cut: float) -> np.ndarray:
            return 1 - np.searchsorted(resid, cut - p, side="left") / len(resid)

        p_prom = share_above(pred, 8.5)
        p_detr = 1 - share_above(pred, 6.5)
        a = prep.accounts
        self.predictions_ = pd.DataFrame({
            "account_id": a["account_id"].to_numpy(), "segment": a["segment"].to_numpy(),
            "responded": responders, "nps_predicted": pred, "p_promoter": p_prom, "p_detractor": p_detr,
            "nps_answered": y_acc.reindex(np.arange(len(X))).to_numpy(),
        })
        actual = prom
        non = ~responders
        self.respondent_promoters_ = float(actual.mean())
        self.respondent_promoters_predicted_ = float(share_above(pred_cv, 8.5).mean())
        self.nonrespondent_promoters_ = float(p_prom[non].mean()) if non.any() else float("nan")
        boots = []
        pn = p_prom[non]
        # resampling with replacement, drawn as counts (exact, and cheap at a million
        # accounts): the respondents' promoter flags are 0/1, so the resampled share is
        # binomial; the non-respondents' predicted shares take at most one value per
        # cross-validated residual, so their resample is multinomial over those values
        vals, freq = np.unique(pn, return_counts=True)
        for _ in range(self.n_boot):
            a_s = rng.binomial(len(actual), actual.mean()) / len(actual)
            n_s = rng.multinomial(len(pn), freq / len(pn)) @ vals / len(pn) if len(pn) else np.nan
            boots.append(a_s / n_s if n_s else np.nan)
        boots = np.array(boots)
        boots = boots[np.isfinite(boots)]
        self.bias_ratio_ = self.respondent_promoters_ / self.nonrespondent_promoters_ if self.nonrespondent_promoters_ else float("nan")
        self.bias_ratio_ci_ = tuple(float(v) for v in np.percentile(boots, [2.5, 97.5])) if boots.size else (np.nan, np.nan)
        self.n_respondents_ = int(responders.sum())
        self.n_nonrespondents_ = int(non.sum())
        nps_all = np.where(responders, 100 * ((self.predictions_["nps_answered"] >= 9).astype(float)
                                              - (self.predictions_["nps_answered"] <= 6).astype(float)),
                           100 * (p_prom - p_detr))
        self.nps_all_customers_ = float(np.mean(nps_all))
        self.nps_respondents_ = float(100 * ((yr >= 9).mean() - (yr <= 6).mean()))
        return self

    @property
    def verdict(self) -> str:
        r, (lo, hi) = self.bias_ratio_, self.bias_ratio_ci_
        acc = (f"Synthetic NPS for the {self.n_nonrespondents_:,} accounts that did not answer: cross-validated "
               f"MAE {self.cv_mae_:.2f} points on the 0-10 scale vs {self.baseline_mae_:.2f} for guessing the average "
               f"(R2 {self.cv_r2_:.2f})")
        if lo > 1:
            bias = (f"survey respondents are {r:.1f}x more likely to be promoters than predicted for non-respondents "
                    f"(95% CI {lo:.2f}-{hi:.2f}): the raw NPS ({self.nps_respondents_:.0f}) is biased upward; "
                    f"for all customers it is about {self.nps_all_customers_:.0f}")
        elif hi < 1:
            bias = (f"survey respondents are less likely to be promoters than predicted for non-respondents "
                    f"(ratio {r:.2f}, {lo:.2f}-{hi:.2f}): the raw NPS ({self.nps_respondents_:.0f}) is biased downward; "
                    f"for all customers it is about {self.nps_all_customers_:.0f}")
        else:
            bias = (f"no clear response bias in the promoter share (respondents / predicted non-respondents "
                    f"{r:.2f}, {lo:.2f}-{hi:.2f})")
        return f"{acc}; {bias}."

    @property
    def summary(self) -> pd.DataFrame:
        lo, hi = self.bias_ratio_ci_
        c, clo, chi = self.cv_auc_
        return _summary([
            _row("survey gap: promoter share respondents / predicted non-respondents", self.bias_ratio_, lo, hi,
                 self.n_respondents_ + self.n_nonrespondents_, self.verdict),
            _row("survey gap: cross-validated AUC of synthetic NPS for promoters", c, clo, chi, self.train_n_,
                 f"The synthetic score ranks promoters above others {c:.2f} of the time (0.5 = chance)."),
            _row("survey gap: cross-validated R2 of synthetic NPS", self.cv_r2_, np.nan, np.nan, self.train_n_,
                 f"The features explain {_pct(max(self.cv_r2_, 0))} of the variation in NPS answers."),
        ])

