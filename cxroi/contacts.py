"""Cost to serve: the contacts a measured contacts ratio saves, each event at least one
contact (``docs/model.md`` section 6).

Both engines use it: the numpy reference (:mod:`cxroi.model`) and the compiled kernel
(:mod:`cxroi.kernel`), which takes the saving it computes as an input.
"""

from __future__ import annotations

import numpy as np

from cxroi.inputs import Array, Inputs


def floored_contacts(median: Array, sigma: Array) -> Array:
    r"""Mean contacts of events whose contacts :math:`Y` are log-normal with ``median`` and
    log-sd ``sigma``, each at least one: :math:`E[\max(Y, 1)]`,

    .. math:: E[\max(Y, 1)] = \Phi(-\mu/\sigma) + e^{\mu + \sigma^2/2}\,
              \Phi\big((\mu + \sigma^2)/\sigma\big), \qquad \mu = \ln(\text{median})

    (:math:`\max(e^{\mu}, 1)` when :math:`\sigma = 0`).
    """
    from scipy.special import ndtr

    mu = np.log(median)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = ndtr(-mu / sigma) + np.exp(mu + 0.5 * sigma**2) * ndtr((mu + sigma**2) / sigma)
    return np.where(sigma > 0, val, np.maximum(median, 1.0))


def contacts_saved(inp: Inputs, log_c: Array, kappa_d: Array, w_floor: Array,
                   events_scale: Array | None = None, shift: Array | None = None) -> Array:
    r"""Contacts not made per account and month-column, :math:`\lambda\,c\,(\kappa - \kappa')`,
    (S, U, D), for the touchpoints with a measured contacts ratio.

    An event is at least one contact. Where calibration measured the spread :math:`\sigma`
    of the lever over events (``observed.spread``), each event's contacts are
    :math:`\max(c_0 CR^{z}, 1)` with :math:`z \sim N(\Delta, \sigma^2)` on the lever's
    scale, :math:`c_0 = \kappa e^{-(\sigma \ln CR)^2/2}` (the mean without the floor is
    today's :math:`\kappa`), and the saving is the difference of the floored means
    (:func:`floored_contacts`) at :math:`\Delta = 0` and at the shift: exactly
    :math:`\kappa(1 - CR^{\Delta})` where the floor never binds, zero at no shift. Without a
    spread, the saving lies between the floored mean :math:`\max(\kappa r, 1)` and the
    unfloored :math:`\kappa r`: :math:`\kappa' = \kappa r + w \max(1 - \kappa r, 0)`,
    :math:`w \sim U(0, 1)` per draw (``contacts_floor_weight``). A segment whose mean is
    below one contact today (most events need none) has no floor. ``events_scale`` (D, S, K),
    the drawn factor on a measured events rate (its sampling error), multiplies the saving.
    ``shift`` (K, U): the lever shifts of the month-columns (default ``inp.shift_unique``;
    the kernel passes its own columns).
    """
    shift = inp.shift_unique if shift is None else shift
    n_seg, u, d = inp.contacts.shape[0], shift.shape[1], kappa_d.shape[2]
    ev = None if events_scale is None else np.moveaxis(np.asarray(events_scale, float), 0, -1)  # (S, K, D)
    save = np.zeros((n_seg, u, d))
    lam = inp.events / 12.0
    spread = inp.spread if inp.spread is not None else np.full(len(inp.touchpoints), np.nan)
    for k in np.flatnonzero(inp.direct["contacts_ratio"]):
        scaled = np.exp(np.multiply.outer(shift[k], log_c[k]))  # (U, D)
        sig = np.abs(log_c[k]) * spread[k] if np.isfinite(spread[k]) else None  # (D,)
        for s in range(n_seg):
            kappa = kappa_d[s, k]  # (D,)
            if sig is not None:
                c0 = kappa * np.exp(-0.5 * sig**2)
                now = floored_contacts(c0, sig)
                later = floored_contacts(c0 * scaled, sig)
                saved = np.where(kappa >= 1.0, now - later, kappa * (1.0 - scaled))
            else:
                after = kappa * scaled
                after += np.where(kappa >= 1.0, w_floor, 0.0) * np.maximum(1.0 - after, 0.0)
                saved = kappa - after
            if ev is not None:
                saved = saved * ev[s, k]
            save[s] += lam[s, k] * inp.cost_per_contact[s, k] * saved
    return save
