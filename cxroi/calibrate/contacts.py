"""Resolution time -> contacts: the direct (total) effect on cost to serve, ``contacts_ratio``."""

from __future__ import annotations

import pandas as pd

from cxroi.calibrate.glm import design, poisson_ratio
from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import PREDICTS, _pct, _row, _summary, three_way
from cxroi.errors import CalibrationError


class ContactsFitter:
    """Ratio of contacts per complaint per doubling of its resolution time.

    Poisson model (log link, :mod:`cxroi.calibrate.glm`) of each resolved complaint's contacts:

    .. math:: \\log E[\\text{contacts}_j] = \\alpha_{s} + \\beta z_j + \\gamma \\log r_{i(j)},
              \\qquad z_j = \\log_2(T_j / T_{today})

    ``contacts_ratio`` :math:`= e^{\\beta}`. Standard errors clustered by account (an
    account's complaints are not independent; robust to over-dispersion). An association:
    complaints that need many contacts may also take longer, so read it as the upper end
    of what faster resolution saves.
    """

    def fit(self, prep: Prepared) -> ContactsFitter:
        c, a = prep.complaints, prep.accounts
        if "contacts" not in c or c["contacts"].notna().sum() < 30:
            raise CalibrationError("fewer than 30 complaints with a contacts count (map the tickets' `contacts` "
                                   "column to measure cost to serve)")
        d = c.loc[c["contacts"].notna()]
        acc = d["acc"].to_numpy()
        X = design(d["z"].to_numpy(), {"log_rev": a["log_rev"].to_numpy()[acc]}, a["segment"].to_numpy()[acc])
        self.fit_, self.coefficients_ = poisson_ratio(d["contacts"].to_numpy(dtype=float), X, acc)
        self.contacts_ratio_ = self.fit_.ratio
        self.low_, self.high_ = self.fit_.interval
        self.log_cr_, self.log_cr_se_ = self.fit_.log_ratio, self.fit_.se
        self.n_ = int(len(d))
        self.n_accounts_ = self.fit_.n
        self.mean_contacts_ = float(d["contacts"].mean())
        self.missing_ = int(c["contacts"].isna().sum())
        return self

    @property
    def state(self) -> str:
        return three_way(self.low_, self.high_, 1.0, 0.98, 1.02)

    @property
    def verdict(self) -> str:
        r, lo, hi = self.contacts_ratio_, self.low_, self.high_
        tail = f"(ratio {r:.3f}, 95% CI {lo:.3f}-{hi:.3f}; {self.n_:,} complaints of {self.n_accounts_:,} accounts)"
        if self.state == PREDICTS:
            word = "more" if r > 1 else "fewer"
            return f"A complaint that takes twice as long takes {_pct(abs(r - 1), 1)} {word} contacts {tail}."
        return f"Contacts per complaint do not clearly change with resolution time here {tail}."

    @property
    def summary(self) -> pd.DataFrame:
        return _summary([_row("resolution -> contacts per complaint: ratio per doubling", self.contacts_ratio_,
                              self.low_, self.high_, self.n_, self.verdict)])
