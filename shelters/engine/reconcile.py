"""Per-site reconciliation: reports -> daily estimates, bands, flags, weights."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from .flags import daily_flags
from .model import PRIOR_VAR, Fit, fit_many
from .observations import LOWER, UPPER, VALUE, Observations, build_observations
from .types import (DailyEstimate, RANGE, ReportAssessment, ReportInput, SiteInput,
                    SiteResult, SourceProfile)

# Day-to-day log sd of the quiet random walk (~3 %/day); the heavy-tailed EM
# lets individual gaps grow far beyond this when the reports demand it.
Q0_SD = 0.03
# Beyond the last report nothing constrains the walk; a Student-t walk has no
# finite variance, so predictions use a few times the quiet variance to
# account for the chance of an unseen arrival/departure wave.
PRED_MULT = 2.0
# Departure notices make a change point likely: multiply the process
# variance for a while after one (mandatory > unclear > voluntary).
NOTICE_MULT = {"mandatory": 25.0, "unclear": 10.0, "voluntary": 6.0}
NOTICE_DAYS = 14
# Two-sided 90 % band.  The posterior is a Gaussian approximation of a
# heavy-tailed model (Student-t reports, Student-t steps), whose true
# predictive tails are heavier: use the 90 % quantile of a t with 5 dof
# rather than the normal 1.645.
BAND_Z = 2.015
# Model error floor (log sd) added to every day's variance: learned source
# biases, reporting lags and rounding are never known exactly, so even a day
# with many agreeing reports cannot be pinned down tighter than this.
MODEL_SD = 0.04
INFLATE_Z2_CAP = 25.0     # one wild report can at most quintuple the sd
INFLATE_GAIN = 1.0
INFLATE_DAYS = 3
INFLATE_PRIOR_N = 1.0     # one pseudo-report with z^2 = 1 (no evidence of disagreement)
BATCH_SITES = 256         # sites fitted together (amortises numpy overhead)
CONTRIB_MIN = 0.01        # contributions below 1 % are dropped (then renormalised)
CONTRIB_MAX = 5           # and at most this many reports are listed per day


def canonical_reports(reports: tuple[ReportInput, ...] | list[ReportInput], end: date
                      ) -> list[ReportInput]:
    """Usable reports up to ``end`` in canonical (as_of, key) order.

    Sorting first makes the result independent of the order the adapter
    happened to fetch rows in (determinism requirement)."""
    out = []
    for r in reports:
        if r.as_of > end:
            continue
        if r.qualifier == RANGE:
            if r.low is None and r.high is None:
                continue
        elif r.value is None:
            continue
        out.append(r)
    out.sort(key=lambda r: (r.as_of, r.key))
    return out


@dataclass(slots=True)
class SiteFit:
    start: date            # first day of the model grid (may precede the first report: lags)
    n_days: int
    reports: list[ReportInput]
    obs: Observations
    fit: Fit
    cum_q: np.ndarray
    off: int = 0           # grid index of the first output day (the first report's as_of)


@dataclass(slots=True)
class _Prepared:
    start: date
    n_days: int
    reports: list[ReportInput]
    obs: Observations
    q_prior: np.ndarray
    off: int


# A report repeating its source's previous figure at the site verbatim is
# usually a stale figure passed on again, not a fresh count: it is judged
# (bias, noise, lag) as a pseudo-source of its own, "<source>~repeat".
REPEAT_SUFFIX = "~repeat"


def profile_keys(reports: list[ReportInput]) -> list[str]:
    """Profile key of each report (canonical order): the source, or the
    source + REPEAT_SUFFIX when it repeats that source's previous figure."""
    last: dict[str, tuple] = {}
    out = []
    for r in reports:
        fig = (r.qualifier, r.value, r.low, r.high)
        out.append(r.source + REPEAT_SUFFIX if last.get(r.source) == fig else r.source)
        last[r.source] = fig
    return out


def _prepare(site: SiteInput, until: date,
             profiles: Mapping[str, SourceProfile] | None) -> _Prepared | None:
    end = until if site.closed_on is None else min(until, site.closed_on)
    reports = canonical_reports(site.reports, end)
    if not reports:
        return None
    first = reports[0].as_of
    pkeys = profile_keys(reports)
    rel = [(r.as_of - first).days for r in reports]
    if profiles:
        lags = [getattr(profiles.get(k), "lag", 0) or 0 for k in pkeys]
        rel = [d - lg for d, lg in zip(rel, lags)]
    off = -min(0, min(rel))
    start = first - timedelta(days=off)
    n_days = (end - start).days + 1
    day_index = [d + off for d in rel]
    q_prior = np.full(n_days, Q0_SD * Q0_SD)
    q_prior[0] = 0.0
    for nt in sorted(site.notices, key=lambda n: (n.issued_on, n.key)):
        i0 = (nt.issued_on - start).days
        lo, hi = max(i0, 1), min(i0 + NOTICE_DAYS, n_days)
        if lo < hi:
            q_prior[lo:hi] *= NOTICE_MULT.get(nt.compulsion, NOTICE_MULT["unclear"])
    obs = build_observations(reports, day_index, profiles, pkeys)
    return _Prepared(start, n_days, reports, obs, q_prior, off)


def fit_sites(sites: list[SiteInput], until: date,
              profiles: Mapping[str, SourceProfile] | None) -> list[SiteFit | None]:
    """Fit many sites, in batches (sites stay independent; see model.fit_many)."""
    out: list[SiteFit | None] = []
    for b0 in range(0, len(sites), BATCH_SITES):
        preps = [_prepare(s, until, profiles) for s in sites[b0:b0 + BATCH_SITES]]
        live = [p for p in preps if p is not None]
        fits = iter(fit_many([p.obs for p in live], [p.q_prior for p in live]) if live else [])
        for p in preps:
            if p is None:
                out.append(None)
            else:
                out.append(SiteFit(start=p.start, n_days=p.n_days, reports=p.reports, obs=p.obs,
                                   fit=next(fits), cum_q=np.cumsum(p.q_prior), off=p.off))
    return out


def fit_site(site: SiteInput, until: date,
             profiles: Mapping[str, SourceProfile] | None) -> SiteFit | None:
    return fit_sites([site], until, profiles)[0]


def _daily(sf: SiteFit) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact daily marginals from the compressed-grid smoother.

    Between two report days a and b the walk, given x_a and x_b, is a
    Brownian bridge (in cumulative process variance), so mean and variance
    follow in closed form from the smoothed moments and their covariance.
    After the last report the walk is extrapolated with PRED_MULT."""
    f, cum = sf.fit, sf.cum_q
    u = f.udays
    k_n = len(u)
    t = np.arange(sf.n_days)
    a = np.searchsorted(u, t, side="right") - 1
    inside = t <= u[-1]
    b = np.where(inside & (t > u[a]), np.minimum(a + 1, k_n - 1), a)
    span = cum[u[b]] - cum[u[a]]
    lam = np.where(span > 0, (cum[t] - cum[u[a]]) / np.where(span > 0, span, 1.0), 0.0)
    q_b = f.q_eff[b]
    mean = (1.0 - lam) * f.ms[a] + lam * f.ms[b]
    var = ((1.0 - lam) ** 2 * f.ps[a] + lam ** 2 * f.ps[b]
           + 2.0 * lam * (1.0 - lam) * f.pc[b] + lam * (1.0 - lam) * q_b)
    after = ~inside
    if after.any():
        var = np.where(after, f.ps[-1] + PRED_MULT * (cum[t] - cum[u[-1]]), var)
    return mean, var, a, b, lam


def _contribution_matrix(sf: SiteFit, a: np.ndarray, b: np.ndarray, lam: np.ndarray
                         ) -> np.ndarray:
    """Smoother weight of each report in each day's estimate (days x reports).

    The smoothed mean is linear in the site pseudo-observations:
    m = Lambda^{-1} (T * mu) with Lambda the tridiagonal posterior precision,
    so row k of Lambda^{-1} diag(T) is exactly how much each report day
    contributes to day k; it is split between same-day reports by precision."""
    f = sf.fit
    k_n = len(f.udays)
    t_info = np.bincount(f.cidx, weights=f.tau, minlength=k_n)
    lam_m = np.diag(t_info)
    lam_m[0, 0] += 1.0 / PRIOR_VAR
    if k_n > 1:
        inv_q = 1.0 / f.q_eff[1:]
        idx = np.arange(k_n - 1)
        lam_m[idx, idx] += inv_q
        lam_m[idx + 1, idx + 1] += inv_q
        lam_m[idx, idx + 1] -= inv_q
        lam_m[idx + 1, idx] -= inv_q
    w = np.linalg.inv(lam_m) * t_info[None, :]
    wd = (1.0 - lam)[:, None] * w[a] + lam[:, None] * w[b]
    share = f.tau / np.maximum(t_info[f.cidx], 1e-300)
    wr = wd[:, f.cidx] * share[None, :]
    return np.maximum(wr, 0.0)


def _disagreement_inflation(sf: SiteFit, wr: np.ndarray) -> np.ndarray:
    """Variance multiplier >= 1 when the reports behind a day disagree.

    Like the Birge ratio in meta-analysis: if the leave-one-out residuals of
    the reports a day rests on are larger than their stated noise (weighted
    mean z^2 > 1), the stated noises are too optimistic there and the band is
    widened by that factor.  Bounds count only when violated."""
    f = sf.fit
    z = np.where(sf.obs.kind == VALUE, f.z, np.minimum(f.z, 0.0))
    z2 = np.minimum(z * z, INFLATE_Z2_CAP)
    # Every report within the window counts equally: robust down-weighting
    # already hides a disagreeing report from the mean, it must not also hide
    # it from the uncertainty.
    t = np.arange(sf.n_days)
    near = (np.abs(t[:, None] - sf.obs.day[None, :]) <= INFLATE_DAYS).astype(float)
    cnt = near.sum(axis=1)
    phi = (near @ z2 + INFLATE_PRIOR_N) / (cnt + INFLATE_PRIOR_N)
    return np.maximum(1.0, INFLATE_GAIN * phi)


def _contributions(wr: np.ndarray, keys: list[str]
                   ) -> tuple[list[tuple[tuple[str, float], ...]], np.ndarray]:
    """Per day: the reports carrying at least CONTRIB_MIN of the weight (at
    most CONTRIB_MAX), renormalised to sum to 1, by decreasing weight (ties in
    canonical report order).  Also returns the full normalised matrix."""
    n_rep = wr.shape[1]
    top = min(CONTRIB_MAX, n_rep)
    tot = wr.sum(axis=1, keepdims=True)
    wn = wr / np.where(tot > 0, tot, 1.0)
    # Stable argsort on -w: ties keep canonical report order (deterministic).
    order = np.argsort(-wn, axis=1, kind="stable")[:, :top]
    vals = np.take_along_axis(wn, order, axis=1)
    n_keep = (vals >= CONTRIB_MIN).sum(axis=1)   # sorted descending: kept ones are a prefix
    vals = np.where(np.arange(top)[None, :] < n_keep[:, None], vals, 0.0)
    s = vals.sum(axis=1, keepdims=True)
    vals = vals / np.where(s > 0, s, 1.0)
    karr = np.asarray(keys, dtype=object)[order].tolist()
    out = [tuple(zip(kr[:n], vr[:n]))
           for kr, vr, n in zip(karr, vals.tolist(), n_keep.tolist())]
    return out, wn


def reconcile_site(site: SiteInput, *, until: date,
                   profiles: Mapping[str, SourceProfile] | None = None) -> SiteResult:
    """Daily estimates for one site from its first report through ``until``
    (or its closing date).  ``profiles`` come from ``learn_source_profiles``;
    without them every source is judged on its grade and method alone."""
    return reconcile_many([site], until=until, profiles=profiles)[0]


def reconcile_many(sites: list[SiteInput] | tuple[SiteInput, ...], *, until: date,
                   profiles: Mapping[str, SourceProfile] | None = None) -> list[SiteResult]:
    """``reconcile_site`` for many sites; identical results, much faster
    (the model fits are vectorised across sites)."""
    site_list = list(sites)
    return [_result(s.key, sf) for s, sf in zip(site_list, fit_sites(site_list, until, profiles))]


def _clip_to_trusted_bounds(sf: SiteFit, est: np.ndarray, lo: np.ndarray, hi: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds are evidence: on the day of a bound claim the model trusts
    (not an outlier) and the estimate respects, the
    band does not extend past it ("more than 8,000" and "at most 9,000" on the
    same day give a band inside [8000, 9000]).  The Gaussian band, and its
    model-error floor, would otherwise spill over a sharp bound."""
    obs, f = sf.obs, sf.fit
    trusted = (obs.kind != VALUE) & ~f.outlier
    if not trusted.any():
        return lo, hi
    b = np.exp(obs.y_raw)
    lw = trusted & (obs.kind == LOWER)
    up = trusted & (obs.kind == UPPER)
    lo_b = np.zeros(sf.n_days)
    hi_b = np.full(sf.n_days, np.inf)
    np.maximum.at(lo_b, obs.day[lw], b[lw])
    np.minimum.at(hi_b, obs.day[up], b[up])
    lo = np.where(lo_b <= est, np.maximum(lo, lo_b), lo)
    hi = np.where(hi_b >= est, np.minimum(hi, hi_b), hi)
    return lo, hi


def _result(key: str, sf: SiteFit | None) -> SiteResult:
    if sf is None:
        return SiteResult(site=key, estimates=(), assessments=())
    f, obs = sf.fit, sf.obs
    mean, var, a, b, lam = _daily(sf)
    wr = _contribution_matrix(sf, a, b, lam)
    var = var * _disagreement_inflation(sf, wr) + MODEL_SD * MODEL_SD
    sd = np.sqrt(np.maximum(var, 0.0))
    est = np.exp(mean)
    lo = np.exp(mean - BAND_Z * sd)
    hi = np.exp(mean + BAND_Z * sd)
    lo, hi = _clip_to_trusted_bounds(sf, est, lo, hi)
    contribs, wn = _contributions(wr, obs.keys)
    flags = daily_flags(sf.n_days, obs, f, wn)
    off = sf.off
    if off:
        est, lo, hi, flags, contribs = est[off:], lo[off:], hi[off:], flags[off:], contribs[off:]
    start = sf.start + timedelta(days=off)
    days = [start + timedelta(days=i) for i in range(sf.n_days - off)]
    e_i = np.rint(est)
    lo_i = np.minimum(e_i, np.floor(lo + 1e-6)).astype(np.int64).tolist()
    hi_i = np.maximum(e_i, np.ceil(hi - 1e-6)).astype(np.int64).tolist()
    out = [DailyEstimate(day=d, estimate=e, low=l, high=h, flags=fl, contributions=c)
           for d, e, l, h, fl, c in zip(days, e_i.astype(np.int64).tolist(), lo_i, hi_i,
                                        flags, contribs)]
    assessments = tuple(
        ReportAssessment(key=k, weight=round(float(w), 6), outlier=bool(o))
        for k, w, o in zip(obs.keys, f.weight.tolist(), f.outlier.tolist()))
    return SiteResult(site=key, estimates=tuple(out), assessments=assessments)
