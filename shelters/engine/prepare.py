"""Reports -> observation columns, vectorised across a batch of sites.

Two stages, so that learning (several passes over the same sites with
changing profiles) pays the per-report Python work once:

* ``StaticBatch`` (profile independent): usable reports in canonical order,
  their log readings, prior noise, kinds and profile keys;
* ``apply_profiles``: lags, bias/noise corrections, bound terms -> one
  ``Observations`` per site plus its day grid.

Canonical order is by content first, ``(as_of, source, qualifier, method,
grade, value, low, high)``, and the report key only breaks ties between
reports with identical content: keys are database ids, which depend on the
order reports arrived, and must not change estimates or flags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter, itemgetter

import numpy as np

from .observations import (
    BOUND_GAP_DEFAULT,
    BOUND_GAP_MIN,
    BOUND_SPREAD_DEFAULT,
    BOUND_TOL_FRACTION,
    BOUND_TOL_MIN,
    DOMINANCE_DAYS,
    LOWER,
    MIN_POP,
    RANGE_METHOD_SHARE,
    RANGE_Z,
    ROUND_STEPS,
    UPPER,
    VALUE,
    Observations,
    bound_eps,
    prior_sd,
)
from .types import METHODS, SiteInput, SourceProfile

REPEAT_SUFFIX = "~repeat"
_FIELDS = attrgetter("as_of", "source", "qualifier", "method", "grade", "value", "low", "high", "key")
_QCODE = {"exact": 0, "approx": 1, "at_least": 2, "at_most": 3, "range": 4}
_GRADES = ("A", "B", "C", "D", "E", "F")
_NAN = float("nan")


def _ranks(col: list, key=None) -> tuple[np.ndarray, list]:
    """Rank of each value in sorted order of the distinct values, and those values."""
    uniq = sorted(set(col), key=key)
    m = {v: i for i, v in enumerate(uniq)}
    return np.fromiter(map(m.__getitem__, col), dtype=np.int64, count=len(col)), uniq


def _tie_break_by_key(order: np.ndarray, dup: np.ndarray, keys: list) -> np.ndarray:
    """Within runs of identical content, order by key (rare: true duplicates)."""
    order = order.copy()
    i, n = 0, len(dup)
    starts = np.flatnonzero(dup & ~np.concatenate(([False], dup[:-1]))).tolist()
    for st in starts:
        en = st
        while en < n and dup[en]:
            en += 1
        seg = order[st : en + 1].tolist()
        order[st : en + 1] = sorted(seg, key=lambda j: keys[j])
    del i
    return order


def _floats(col: list) -> np.ndarray:
    return np.array(col, dtype=float)  # None -> nan


def _pick(col: list, idx: list) -> list:
    if len(idx) > 1:
        return list(itemgetter(*idx)(col))
    return [col[i] for i in idx]


@dataclass(slots=True)
class StaticBatch:
    sites: list[SiteInput]
    end: list[date]
    counts: np.ndarray  # usable reports per site
    site_of: np.ndarray  # per report (concatenated, canonical order within site)
    asof: np.ndarray  # ordinal
    reports: list  # ReportInput objects
    keys: list[str]
    sources: list[str]
    pkeys: list[str]
    kind: np.ndarray
    y_raw: np.ndarray
    sigma0: np.ndarray
    b_eps: np.ndarray


def static_batch(sites: list[SiteInput], until: date) -> StaticBatch:
    ends = [until if s.closed_on is None else min(until, s.closed_on) for s in sites]
    rows: list = []
    objs: list = []
    n_per = []
    for s in sites:
        rows.extend(map(_FIELDS, s.reports))
        objs.extend(s.reports)
        n_per.append(len(s.reports))
    site_of = np.repeat(np.arange(len(sites)), n_per)
    if rows:
        c_asof, c_src, c_q, c_m, c_g, c_v, c_lo, c_hi, c_key = (list(c) for c in zip(*rows))
    else:
        c_asof = c_src = c_q = c_m = c_g = c_v = c_lo = c_hi = c_key = []
    d_r, d_u = _ranks(c_asof)
    asof = np.array([d.toordinal() for d in d_u], dtype=np.int64)[d_r] if rows else np.zeros(0, dtype=np.int64)
    val, lo, hi = _floats(c_v), _floats(c_lo), _floats(c_hi)
    end_o = np.array([e.toordinal() for e in ends], dtype=np.int64)
    q_r, q_u = _ranks(c_q)
    qcode_u = np.array([_QCODE.get(q, 1) for q in q_u] + [1], dtype=np.int64)
    qc = qcode_u[q_r]
    is_rng = qc == 4
    usable = (asof <= end_o[site_of]) & np.where(is_rng, ~(np.isnan(lo) & np.isnan(hi)), ~np.isnan(val))
    src_r, _ = _ranks(c_src)
    g_r, g_u = _ranks(c_g, key=lambda g: "" if g is None else g)
    m_r, m_u = _ranks(c_m)
    # lexsort: last key is primary.  Content first; the key only among identical rows.
    hi_k, lo_k, v_k = (np.nan_to_num(x, nan=-1.0) for x in (hi, lo, val))
    content = (hi_k, lo_k, v_k, g_r, m_r, q_r, src_r, asof, site_of)
    order = np.lexsort(content)
    order = order[usable[order]]
    if len(order) > 1:
        dup = np.ones(len(order) - 1, dtype=bool)
        for col in content:
            dup &= col[order[1:]] == col[order[:-1]]
        if dup.any():
            order = _tie_break_by_key(order, dup, c_key)
    ol = order.tolist()
    site_of, asof = site_of[order], asof[order]
    val, lo, hi = val[order], lo[order], hi[order]
    src_r, q_r, qc = src_r[order], q_r[order], qc[order]
    sources, keys = _pick(c_src, ol), _pick(c_key, ol)
    reports = _pick(objs, ol)
    counts = np.bincount(site_of, minlength=len(sites))
    n = len(ol)
    # Prior noise and bound eps per (method, grade) pair.
    n_g = len(g_u)
    tab_sd = np.array([prior_sd(m, g) for m in m_u for g in g_u] + [0.0])
    tab_eps = np.array([bound_eps(g) for m in m_u for g in g_u] + [0.0])
    mg = (m_r * n_g + g_r)[order]
    base, b_eps = tab_sd[mg], tab_eps[mg]
    # Repeats: the source's previous figure at the site, verbatim.
    pos = np.arange(n)
    o2 = np.lexsort((pos, src_r, site_of))
    same = np.zeros(n, dtype=bool)
    if n > 1:
        a, b = o2[:-1], o2[1:]

        def eq(x: np.ndarray) -> np.ndarray:
            return (x[a] == x[b]) | (np.isnan(x[a]) & np.isnan(x[b]))

        same[b] = (site_of[a] == site_of[b]) & (src_r[a] == src_r[b]) & (q_r[a] == q_r[b]) & eq(val) & eq(lo) & eq(hi)
    pkeys = [s + REPEAT_SUFFIX if r else s for s, r in zip(sources, same.tolist())]
    # Log readings.
    is_rng = qc == 4
    has_lo, has_hi = ~np.isnan(lo), ~np.isnan(hi)
    full_rng = is_rng & has_lo & has_hi
    lower = (qc == 2) | (is_rng & has_lo & ~has_hi)
    upper = (qc == 3) | (is_rng & has_hi & ~has_lo)
    kind = np.where(lower, LOWER, np.where(upper, UPPER, VALUE)).astype(np.int64)
    with np.errstate(invalid="ignore"):
        l_lo = np.log(np.maximum(np.fmin(lo, hi), MIN_POP))
        l_hi = np.log(np.maximum(np.fmax(lo, hi), MIN_POP))
        v = np.maximum(val, MIN_POP)
        lv = np.log(v)
    bound_v = np.where(is_rng, np.where(has_lo, l_lo, l_hi), lv)
    y_raw = np.where(full_rng, 0.5 * (l_lo + l_hi), bound_v)
    half = (l_hi - l_lo) / (2.0 * RANGE_Z)
    rs = np.zeros(n)
    approx_like = (kind == VALUE) & ~is_rng & (qc != 0)
    if approx_like.any():
        va = np.abs(np.where(approx_like, v, 0.0))
        done = ~approx_like
        for step in ROUND_STEPS:
            with np.errstate(invalid="ignore"):
                hit = ~done & (step <= va) & (np.fmod(va, step) == 0)
            st = np.minimum(step, va / 2.0)
            rs = np.where(hit, st / math.sqrt(12.0) / np.where(hit, va, 1.0), rs)
            done |= hit
    s_val = np.where(full_rng, np.sqrt(half * half + (RANGE_METHOD_SHARE * base) ** 2), np.sqrt(base * base + rs * rs))
    tol = np.maximum(BOUND_TOL_MIN, BOUND_TOL_FRACTION * base)
    sigma0 = np.where(kind == VALUE, s_val, tol)
    return StaticBatch(
        sites=sites,
        end=ends,
        counts=counts,
        site_of=site_of,
        asof=asof,
        reports=reports,
        keys=keys,
        sources=sources,
        pkeys=pkeys,
        kind=kind,
        y_raw=y_raw,
        sigma0=sigma0,
        b_eps=b_eps,
    )


_NEUTRAL = SourceProfile(source="")


@dataclass(slots=True)
class Prepared:
    start: date
    n_days: int
    reports: list
    obs: Observations
    q_prior: np.ndarray
    off: int


def apply_profiles(
    sb: StaticBatch,
    profiles: Mapping[str, SourceProfile] | None,
    q0_var: float,
    notice_mult: Mapping[str, float],
    notice_days: int,
) -> list[Prepared | None]:
    n = len(sb.keys)
    n_b = len(sb.sites)
    names = sorted(set(sb.pkeys))
    pid = {k: i for i, k in enumerate(names)}
    profs = [(profiles.get(k) if profiles else None) or _NEUTRAL for k in names]
    pidx = np.array([pid[k] for k in sb.pkeys], dtype=np.int64)
    P = lambda f: np.array([f(p) for p in profs], dtype=float)[pidx] if n else np.zeros(0)  # noqa
    bias = P(lambda p: p.log_bias if p.n > 0 else 0.0)
    scale = P(lambda p: p.noise_scale if p.n > 0 else 1.0)
    gap = P(lambda p: p.bound_gap if (p.n_bounds > 0 and p.bound_gap is not None) else BOUND_GAP_DEFAULT)
    spread = P(lambda p: p.bound_spread if (p.n_bounds > 0 and p.bound_spread is not None) else BOUND_SPREAD_DEFAULT)
    p_eps = P(lambda p: p.bound_eps if (p.n_bounds > 0 and p.bound_eps is not None) else _NAN)
    lag = P(lambda p: float(getattr(p, "lag", 0) or 0)).astype(np.int64)
    site_sd_v = P(lambda p: p.site_sd)
    site_sd_b = P(lambda p: p.bound_site_sd)
    kind, y_raw, sigma0 = sb.kind, sb.y_raw, sb.sigma0
    is_val = kind == VALUE
    eps = np.where(is_val, 0.0, np.where(np.isnan(p_eps), sb.b_eps, p_eps))
    gap = np.maximum(gap, BOUND_GAP_MIN)
    y = np.where(is_val, y_raw - bias, y_raw)
    sigma = np.where(is_val, sigma0 * scale, sigma0)
    site_sd = np.where(is_val, site_sd_v, site_sd_b)
    near_mu = np.where(kind == LOWER, y_raw + gap, np.where(kind == UPPER, y_raw - gap, 0.0))
    near_tau = np.where(is_val, 0.0, 1.0 / (spread * spread))
    # Day grid per site.
    site_of = sb.site_of
    bounds = np.concatenate(([0], np.cumsum(sb.counts)))
    first = np.zeros(n_b, dtype=np.int64)
    live = sb.counts > 0
    first[live] = sb.asof[bounds[:-1][live]]
    rel = sb.asof - first[site_of] - lag
    mn = np.zeros(n_b, dtype=np.int64)
    np.minimum.at(mn, site_of, rel)
    off = -mn
    day = rel + off[site_of]
    _dominance(kind, y_raw, day, site_of, n_b, is_val, near_tau)
    out: list[Prepared | None] = []
    bl = bounds.tolist()
    offl, firstl = off.tolist(), first.tolist()
    for s, site in enumerate(sb.sites):
        i0, i1 = bl[s], bl[s + 1]
        if i0 == i1:
            out.append(None)
            continue
        start = date.fromordinal(firstl[s] - offl[s])
        n_days = (sb.end[s] - start).days + 1
        q_prior = np.full(n_days, q0_var)
        q_prior[0] = 0.0
        if site.notices:
            for nt in sorted(site.notices, key=lambda x: (x.issued_on, x.compulsion, x.key)):
                j0 = (nt.issued_on - start).days
                lo_, hi_ = max(j0, 1), min(j0 + notice_days, n_days)
                if lo_ < hi_:
                    q_prior[lo_:hi_] *= notice_mult.get(nt.compulsion, notice_mult["unclear"])
        sl = slice(i0, i1)
        obs = Observations(
            keys=sb.keys[i0:i1],
            sources=sb.sources[i0:i1],
            pkeys=sb.pkeys[i0:i1],
            day=day[sl],
            kind=kind[sl],
            y=y[sl],
            y_raw=y_raw[sl],
            sigma=sigma[sl],
            sigma0=sigma0[sl],
            eps=eps[sl],
            near_mu=near_mu[sl],
            near_tau=near_tau[sl],
            site_sd=site_sd[sl],
        )
        out.append(Prepared(start, n_days, sb.reports[i0:i1], obs, q_prior, offl[s]))
    return out


def _dominance(kind, y_raw, day, site_of, n_b, is_val, near_tau) -> None:
    """observations._keep_dominant_bound_terms for every site of the batch at once."""
    has_val = np.zeros(n_b, dtype=bool)
    has_val[site_of[is_val]] = True
    for k, sign in ((LOWER, 1.0), (UPPER, -1.0)):
        idx = np.flatnonzero(kind == k)
        if len(idx) < 2:
            continue
        s = site_of[idx]
        cnt = np.bincount(s, minlength=n_b)
        st = np.concatenate(([0], np.cumsum(cnt)))[:-1]
        rank = np.arange(len(idx)) - st[s]
        w = int(cnt.max())
        if w < 2:
            continue
        dd = np.zeros((n_b, w), dtype=np.int64)
        vv = np.full((n_b, w), -np.inf)
        ok = np.zeros((n_b, w), dtype=bool)
        dd[s, rank], vv[s, rank], ok[s, rank] = day[idx], sign * y_raw[idx], True
        window = np.where(has_val, DOMINANCE_DAYS, 10**9)[:, None, None]
        close = np.abs(dd[:, :, None] - dd[:, None, :]) <= window
        order = np.arange(w)
        tighter = (vv[:, None, :] > vv[:, :, None]) | (
            (vv[:, None, :] == vv[:, :, None]) & (order[None, :] < order[:, None])
        )
        dominated = (close & tighter & ok[:, None, :]).any(axis=2)[s, rank]
        near_tau[idx[dominated]] = 0.0


__all__ = ["METHODS", "Prepared", "StaticBatch", "apply_profiles", "static_batch", "timedelta"]
