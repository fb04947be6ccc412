"""Fitted sites -> SiteResult objects, vectorised across a batch of sites.

Everything here is elementwise across sites or a recursion along each site's
own days, never a reduction whose order depends on the other sites in the
batch: a site's result is bit-identical whether it is reconciled alone or with
10,000 others (batch invariance, relied on by the adapter).

Contributions without a dense days x reports matrix
---------------------------------------------------
The smoothed mean on report day i is linear in the pseudo-observations:
``m_i = sum_j S_ij t_j mu_j`` with ``S`` the posterior covariance and ``t_j``
the site precision of report day j.  For the RTS smoother,
``S_ij = ps_j * J_i ... J_{j-1}`` (i < j, J the smoother gains).  Hence for a
fixed day the weights of report days on its left are proportional to
``c-_j(i) = J_j ... J_{i-1} t_j`` (a prefix quantity: moving i one step right
multiplies every one of them by the same gain) and on its right to
``c+_j(i) = ps_j J_i ... J_{j-1} t_j`` (a suffix quantity).  A common factor
does not change a ranking, so the top reports of every prefix and suffix are
maintained by one forward and one backward scan, and each day's top
CONTRIB_MAX is taken among the top of its left and of its right.  Days between
report days are Brownian-bridge mixtures of their two neighbours, which share
the same left and right sets.  The weights' total is the row sum of ``S T``,
also a prefix/suffix recursion.
"""

from __future__ import annotations

from datetime import date, timedelta
from operator import itemgetter

import numpy as np

from .flags import NEAR_DAYS, SINGLE_MIN_WEIGHT, STALE_DAYS, flag_table
from .observations import LOWER, UPPER, VALUE
from .types import DailyEstimate, ReportAssessment, SiteResult

_BIG = np.iinfo(np.int64).max // 4

# Frozen slots dataclasses run object.__setattr__ per field in __init__; the
# slot descriptors set directly build the same objects ~2x faster (1M rows).
_new = object.__new__
_DE = DailyEstimate
_de_set = tuple(getattr(_DE, f).__set__ for f in ("day", "estimate", "low", "high", "flags", "contributions"))
_RA = ReportAssessment
_ra_set = tuple(getattr(_RA, f).__set__ for f in ("key", "weight", "outlier"))


def _daily_estimates(days, est, lo, hi, flags, contribs) -> tuple[DailyEstimate, ...]:
    s0, s1, s2, s3, s4, s5 = _de_set
    new, cls = _new, _DE
    out = []
    app = out.append
    for d, e, low, h, fl, c in zip(days, est, lo, hi, flags, contribs):
        x = new(cls)
        s0(x, d)
        s1(x, e)
        s2(x, low)
        s3(x, h)
        s4(x, fl)
        s5(x, c)
        app(x)
    return tuple(out)


def _assessments(keys, weights, outliers) -> tuple[ReportAssessment, ...]:
    s0, s1, s2 = _ra_set
    new, cls = _new, _RA
    out = []
    app = out.append
    for k, w, o in zip(keys, weights, outliers):
        x = new(cls)
        s0(x, k)
        s1(x, w)
        s2(x, o)
        app(x)
    return tuple(out)


_DATES: dict[int, date] = {}


def _dates(start: date, n: int) -> list[date]:
    o = start.toordinal()
    get = _DATES.get
    out = []
    for i in range(o, o + n):
        d = get(i)
        if d is None:
            d = _DATES[i] = date.fromordinal(i)
        out.append(d)
    return out


def _pick_all(col: list, idx: list) -> list:
    if len(idx) > 1:
        return list(itemgetter(*idx)(col))
    return [col[i] for i in idx]


def _take(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """arr (B, K), idx (B, ...) -> arr[b, idx[b, ...]]."""
    b, k = arr.shape
    rows = np.arange(b).reshape((b,) + (1,) * (idx.ndim - 1))
    return arr.ravel()[rows * k + idx]


def _top_merge(v: np.ndarray, i: np.ndarray, nv: np.ndarray, ni: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``top`` best of two candidate sets by decreasing value; empty = -1."""
    cv = np.concatenate((v, nv), axis=-1)
    ci = np.concatenate((i, ni), axis=-1)
    # Both sets are in (-value, index) order already (the new reports of a day
    # come in canonical order): a stable sort on the value keeps it; an exact
    # tie between an earlier day and a new report keeps the earlier one.
    o = np.argsort(-cv, axis=-1, kind="stable")[..., :top]
    return np.take_along_axis(cv, o, -1), np.take_along_axis(ci, o, -1)


def _src_merge(v1, s1, v2, nv, ns):
    """(best value, its source, best value of any other source) after adding (nv, ns)."""
    same = ns == s1
    better = nv > v1
    v2n = np.where(same, v2, np.where(better, v1, np.maximum(v2, nv)))
    v1n = np.where(same, np.maximum(v1, nv), np.where(better, nv, v1))
    s1n = np.where(same, s1, np.where(better, ns, s1))
    return v1n, s1n, v2n


SCALAR_SCAN_SITES = 8


def _scan_py(
    s, k_max, m_max, top, jg, ps, gv, gi, gs, t_info, pv, pi, sv, si, p1, p1s, p2, q1, q1s, q2, acc_l, acc_r
) -> None:
    """The prefix/suffix scans of ``_batch`` for one site, in Python floats."""
    jg_, ps_, ti = jg[s].tolist(), ps[s].tolist(), t_info[s].tolist()
    gv_, gi_, gs_ = gv[s].tolist(), gi[s].tolist(), gs[s].tolist()

    def merge(v, vi, nv, ni):
        cv, ci = v + nv, vi + ni
        o = sorted(range(len(cv)), key=lambda j: -cv[j])[:top]
        return [cv[j] for j in o], [ci[j] for j in o]

    def src(v1, s1, v2, nv, ns):
        if ns == s1:
            return (v1 if v1 >= nv else nv), s1, v2
        if nv > v1:
            return nv, ns, v1
        return v1, s1, (v2 if v2 >= nv else nv)

    rows_v, rows_i, r1, r1s, r2, ra = [], [], [], [], [], []
    v, vi = [-1.0] * top, [_BIG] * top
    v1, v1s, v2, al = -1.0, -2, -1.0, 0.0
    for k in range(k_max):
        if k:
            jk = jg_[k - 1]
            v = [x * jk if x >= 0 else x for x in v]
            v1 = v1 * jk if v1 >= 0 else v1
            v2 = v2 * jk if v2 >= 0 else v2
            al = al * jk
        v, vi = merge(v, vi, gv_[k], gi_[k])
        for m in range(m_max):
            nv = gv_[k][m]
            v1, v1s, v2 = src(v1, v1s, v2, nv, gs_[k][m] if nv >= 0 else -3)
        al = al + ti[k]
        rows_v.append(v)
        rows_i.append(vi)
        r1.append(v1)
        r1s.append(v1s)
        r2.append(v2)
        ra.append(al)
    pv[s], pi[s], p1[s], p1s[s], p2[s], acc_l[s] = rows_v, rows_i, r1, r1s, r2, ra
    rows_v, rows_i, r1, r1s, r2, ra = [], [], [], [], [], []
    v, vi = [-1.0] * top, [_BIG] * top
    v1, v1s, v2, ar = -1.0, -2, -1.0, 0.0
    for k in range(k_max - 1, -1, -1):
        jk = jg_[k]
        v = [x * jk if x >= 0 else x for x in v]
        v1 = v1 * jk if v1 >= 0 else v1
        v2 = v2 * jk if v2 >= 0 else v2
        ar = ar * jk
        psk = ps_[k]
        nvk = [x * psk if x >= 0 else -1.0 for x in gv_[k]]
        v, vi = merge(v, vi, nvk, gi_[k])
        for m in range(m_max):
            nv = nvk[m]
            v1, v1s, v2 = src(v1, v1s, v2, nv, gs_[k][m] if nv >= 0 else -3)
        ar = ar + psk * ti[k]
        rows_v.append(v)
        rows_i.append(vi)
        r1.append(v1)
        r1s.append(v1s)
        r2.append(v2)
        ra.append(ar)
    sv[s, :k_max], si[s, :k_max] = rows_v[::-1], rows_i[::-1]
    q1[s, :k_max], q1s[s, :k_max], q2[s, :k_max] = r1[::-1], r1s[::-1], r2[::-1]
    acc_r[s, :k_max] = ra[::-1]


def _systematic_var(sfs, r_off, src, used, idx, share) -> np.ndarray | float:
    """Variance of the day's estimate from its sources' site-level errors.

    The smoother treats every claim's error as independent, so five claims of
    one source shrink the band as five witnesses would. The part of a source's
    error that stays with the site (SourceProfile.site_sd) does not shrink: the
    estimate, a weighted mean of the claims (the contributions' weights), carries
    sum over sources of (the source's total weight x its site-level sd)^2. A
    source and its repeats share it. Taken over the day's top contributions,
    which hold nearly all of the weight (``share``: each one's share of the day).
    """
    sd_all = np.concatenate([sf.obs.site_sd for sf in sfs])
    if not sd_all.any():
        return 0.0
    g = r_off[:, None, None] + np.where(used, idx, 0)
    a = np.where(used, share, 0.0) * sd_all[g]
    s_top = np.where(used, src[g], -1 - np.arange(used.shape[-1]))
    same = s_top[..., :, None] == s_top[..., None, :]
    return np.einsum("...i,...ij,...j->...", a, same, a)


def _window_any(x: np.ndarray, op) -> np.ndarray:
    """op (np.minimum/np.maximum) over days t-NEAR_DAYS..t+NEAR_DAYS, per row."""
    out = x.copy()
    for sh in range(1, NEAR_DAYS + 1):
        out[:, sh:] = op(out[:, sh:], x[:, :-sh])
        out[:, :-sh] = op(out[:, :-sh], x[:, sh:])
    return out


def _window_sum(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    for sh in range(1, NEAR_DAYS + 1):
        out[:, sh:] += x[:, :-sh]
        out[:, :-sh] += x[:, sh:]
    return out


def build_results(keys: list[str], sfs: list, consts) -> list[SiteResult]:
    """``sfs``: SiteFit or None per key; ``consts``: the reconcile module (tunables)."""
    out: list[SiteResult] = []
    live = [sf for sf in sfs if sf is not None]
    if live:
        res = iter(_batch(live, consts))
    for k, sf in zip(keys, sfs):
        if sf is None:
            out.append(SiteResult(site=k, estimates=(), assessments=()))
        else:
            est, ass = next(res)
            out.append(SiteResult(site=k, estimates=est, assessments=ass))
    return out


def _batch(sfs: list, c) -> list:
    n_b = len(sfs)
    k_s = np.array([len(sf.fit.udays) for sf in sfs])
    d_s = np.array([sf.n_days for sf in sfs])
    n_s = np.array([len(sf.obs) for sf in sfs])
    k_max, d_max = int(k_s.max()), int(d_s.max())
    ps = np.zeros((n_b, k_max))
    ms = np.zeros((n_b, k_max))
    pcv = np.zeros((n_b, k_max))
    qe = np.zeros((n_b, k_max))
    jg = np.zeros((n_b, k_max))
    ud = np.zeros((n_b, k_max), dtype=np.int64)
    cum = np.zeros((n_b, d_max))
    for s, sf in enumerate(sfs):
        f, k = sf.fit, k_s[s]
        ps[s, :k], ms[s, :k], pcv[s, :k], qe[s, :k], jg[s, :k] = f.ps, f.ms, f.pc, f.q_eff, f.gain
        ud[s, :k] = f.udays
        cum[s, : sf.n_days] = sf.cum_q
        cum[s, sf.n_days :] = sf.cum_q[-1]
    # Concatenated per-report columns.
    site_of = np.repeat(np.arange(n_b), n_s)
    cat = np.concatenate
    day = cat([sf.obs.day for sf in sfs])
    cidx = cat([sf.fit.cidx for sf in sfs])
    kind = cat([sf.obs.kind for sf in sfs])
    y_raw = cat([sf.obs.y_raw for sf in sfs])
    tau = cat([sf.fit.tau for sf in sfs])
    z = cat([sf.fit.z for sf in sfs])
    outlier = cat([sf.fit.outlier for sf in sfs])
    discord = cat([sf.fit.discord for sf in sfs])
    ridx = cat([np.arange(n) for n in n_s.tolist()])
    src_names = sorted({x for sf in sfs for x in sf.obs.sources})
    sid = {x: i for i, x in enumerate(src_names)}
    src = np.array([sid[x] for sf in sfs for x in sf.obs.sources], dtype=np.int64)

    # ---- daily marginals (exact Brownian-bridge fill between report days) ----
    t = np.arange(d_max)[None, :]
    isr = np.zeros(n_b * d_max, dtype=np.int64)
    isr[np.repeat(np.arange(n_b), k_s) * d_max + cat([sf.fit.udays for sf in sfs])] = 1
    a = np.minimum(np.cumsum(isr.reshape(n_b, d_max), axis=1) - 1, (k_s - 1)[:, None])
    ua = _take(ud, a)
    ulast = _take(ud, (k_s - 1)[:, None])
    inside = t <= ulast
    b = np.where(inside & (t > ua), np.minimum(a + 1, (k_s - 1)[:, None]), a)
    ub = _take(ud, b)
    cua, cub = _take(cum, ua), _take(cum, ub)
    span = cub - cua
    lam = np.where(span > 0, (cum - cua) / np.where(span > 0, span, 1.0), 0.0)
    ps_a, ps_b = _take(ps, a), _take(ps, b)
    mean = (1.0 - lam) * _take(ms, a) + lam * _take(ms, b)
    var = (
        (1.0 - lam) ** 2 * ps_a
        + lam**2 * ps_b
        + 2.0 * lam * (1.0 - lam) * _take(pcv, b)
        + lam * (1.0 - lam) * _take(qe, b)
    )
    ps_last = _take(ps, (k_s - 1)[:, None])
    var = np.where(inside, var, ps_last + c.PRED_MULT * (cum - _take(cum, ulast)))

    # ---- per report day groups (canonical order inside a day) ----
    o = np.lexsort((ridx, cidx, site_of))
    g_site, g_k = site_of[o], cidx[o]
    gkey = g_site * k_max + g_k
    first = np.ones(len(o), dtype=bool)
    first[1:] = gkey[1:] != gkey[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(o)), 0))
    rank = np.arange(len(o)) - start
    m_max = int(rank.max()) + 1 if len(o) else 1
    gv = np.full((n_b, k_max, m_max), -1.0)
    gi = np.full((n_b, k_max, m_max), _BIG, dtype=np.int64)
    gs = np.full((n_b, k_max, m_max), -1, dtype=np.int64)
    gv[g_site, g_k, rank] = tau[o]
    gi[g_site, g_k, rank] = ridx[o]
    gs[g_site, g_k, rank] = src[o]
    t_info = np.bincount(site_of * k_max + cidx, weights=tau, minlength=n_b * k_max).reshape(n_b, k_max)

    top = c.CONTRIB_MAX
    pv = np.empty((n_b, k_max, top))
    pi = np.empty((n_b, k_max, top), dtype=np.int64)
    sv = np.full((n_b, k_max + 1, top), -1.0)
    si = np.full((n_b, k_max + 1, top), _BIG, dtype=np.int64)
    # (best, its source, best of another source) per prefix / suffix.
    p1 = np.empty((n_b, k_max))
    p1s = np.empty((n_b, k_max), dtype=np.int64)
    p2 = np.empty((n_b, k_max))
    q1 = np.full((n_b, k_max + 1), -1.0)
    q1s = np.full((n_b, k_max + 1), -2, dtype=np.int64)
    q2 = np.full((n_b, k_max + 1), -1.0)
    acc_l = np.empty((n_b, k_max))
    acc_r = np.zeros((n_b, k_max + 1))
    if n_b < SCALAR_SCAN_SITES:
        # Few sites: the same scans in plain Python floats (identical IEEE
        # operations in the same order, so results do not depend on the path).
        for s_ in range(n_b):
            _scan_py(
                s_,
                k_max,
                m_max,
                top,
                jg,
                ps,
                gv,
                gi,
                gs,
                t_info,
                pv,
                pi,
                sv,
                si,
                p1,
                p1s,
                p2,
                q1,
                q1s,
                q2,
                acc_l,
                acc_r,
            )
    else:
        v = np.full((n_b, top), -1.0)
        vi = np.full((n_b, top), _BIG, dtype=np.int64)
        v1, v1s, v2 = np.full(n_b, -1.0), np.full(n_b, -2, dtype=np.int64), np.full(n_b, -1.0)
        al = np.zeros(n_b)
        for k in range(k_max):
            if k:
                jk = jg[:, k - 1]
                v = np.where(v >= 0, v * jk[:, None], v)
                v1 = np.where(v1 >= 0, v1 * jk, v1)
                v2 = np.where(v2 >= 0, v2 * jk, v2)
                al = al * jk
            v, vi = _top_merge(v, vi, gv[:, k], gi[:, k], top)
            for m in range(m_max):
                nv = gv[:, k, m]
                v1, v1s, v2 = _src_merge(v1, v1s, v2, nv, np.where(nv >= 0, gs[:, k, m], -3))
            al = al + t_info[:, k]
            pv[:, k], pi[:, k] = v, vi
            p1[:, k], p1s[:, k], p2[:, k], acc_l[:, k] = v1, v1s, v2, al
        v = np.full((n_b, top), -1.0)
        vi = np.full((n_b, top), _BIG, dtype=np.int64)
        v1, v1s, v2 = np.full(n_b, -1.0), np.full(n_b, -2, dtype=np.int64), np.full(n_b, -1.0)
        ar = np.zeros(n_b)
        for k in range(k_max - 1, -1, -1):
            jk = jg[:, k]
            v = np.where(v >= 0, v * jk[:, None], v)
            v1 = np.where(v1 >= 0, v1 * jk, v1)
            v2 = np.where(v2 >= 0, v2 * jk, v2)
            ar = ar * jk
            psk = ps[:, k]
            nvk = np.where(gv[:, k] >= 0, gv[:, k] * psk[:, None], -1.0)
            v, vi = _top_merge(v, vi, nvk, gi[:, k], top)
            for m in range(m_max):
                nv = nvk[:, m]
                v1, v1s, v2 = _src_merge(v1, v1s, v2, nv, np.where(nv >= 0, gs[:, k, m], -3))
            ar = ar + psk * t_info[:, k]
            sv[:, k], si[:, k] = v, vi
            q1[:, k], q1s[:, k], q2[:, k], acc_r[:, k] = v1, v1s, v2, ar

    # ---- per day: combine the left (<= a) and right (>= a + 1) sets ----
    j_a = _take(jg, a)
    f_l = (1.0 - lam) * ps_a + lam * ps_b * j_a
    f_r = (1.0 - lam) * j_a + lam
    rs = ps * acc_l + jg * acc_r[:, 1:]  # row sums of S T per report day
    tot = (1.0 - lam) * _take(rs, a) + lam * _take(rs, b)
    rows = np.arange(n_b)[:, None]
    lv, li = pv[rows, a], pi[rows, a]
    rv, ri = sv[rows, a + 1], si[rows, a + 1]
    lv = np.where(lv >= 0, lv * f_l[..., None], -1.0)
    rv = np.where(rv >= 0, rv * f_r[..., None], -1.0)
    # Each side is already ordered by (-value, index): a stable sort on value
    # alone keeps that order (exact cross-side ties go to the left side).
    cv = np.concatenate((lv, rv), axis=-1)
    o = np.argsort(-cv, axis=-1, kind="stable")[..., :top]
    vals = np.take_along_axis(cv, o, -1)
    idx = np.take_along_axis(np.concatenate((li, ri), axis=-1), o, -1)
    pos = tot > 0
    wn = np.where(pos[..., None], vals / np.where(pos, tot, 1.0)[..., None], 0.0)
    r_off = np.concatenate(([0], np.cumsum(n_s)))[:-1]  # each site's first report in the batch columns
    sys_var = _systematic_var(sfs, r_off, src, vals >= 0, idx, wn)
    keep = wn >= c.CONTRIB_MIN
    n_keep = keep.sum(axis=-1)
    wn = np.where(keep, wn, 0.0)
    ssum = wn.sum(axis=-1, keepdims=True)
    wn = wn / np.where(ssum > 0, ssum, 1.0)
    # single source: no second source carries SINGLE_MIN_WEIGHT of the day
    l1, l1s, l2 = p1[rows, a] * f_l, p1s[rows, a], p2[rows, a] * f_l
    r1, r1s, r2 = q1[rows, a + 1] * f_r, q1s[rows, a + 1], q2[rows, a + 1] * f_r
    l1 = np.where(p1[rows, a] >= 0, l1, -1.0)
    r1 = np.where(q1[rows, a + 1] >= 0, r1, -1.0)
    same = l1s == r1s
    sec = np.where(same, np.maximum(l2, r2), np.where(l1 >= r1, np.maximum(l2, r1), np.maximum(r2, l1)))
    single = ~(pos & (sec / np.where(pos, tot, 1.0) >= SINGLE_MIN_WEIGHT))

    # ---- disagreement inflation (Birge ratio within +/- INFLATE_DAYS) ----
    zz = np.where(kind == VALUE, z, np.minimum(z, 0.0))
    z2 = np.minimum(zz * zz, c.INFLATE_Z2_CAP)
    flat = site_of * d_max + day
    zs = np.bincount(flat, weights=z2, minlength=n_b * d_max).reshape(n_b, d_max)
    cn = np.bincount(flat, minlength=n_b * d_max).reshape(n_b, d_max).astype(float)
    zsw, cnw = zs.copy(), cn.copy()
    for sh in range(1, c.INFLATE_DAYS + 1):
        zsw[:, sh:] += zs[:, :-sh]
        zsw[:, :-sh] += zs[:, sh:]
        cnw[:, sh:] += cn[:, :-sh]
        cnw[:, :-sh] += cn[:, sh:]
    phi = (zsw + c.INFLATE_PRIOR_N) / (cnw + c.INFLATE_PRIOR_N)
    var = var * np.maximum(1.0, c.INFLATE_GAIN * phi) + c.MODEL_SD * c.MODEL_SD + sys_var
    sd = np.sqrt(np.maximum(var, 0.0))
    est = np.exp(mean)
    lo = np.exp(mean - c.BAND_Z * sd)
    hi = np.exp(mean + c.BAND_Z * sd)
    # Trusted bounds clip the band on their day (see reconcile._clip_to_trusted_bounds).
    trusted = (kind != VALUE) & ~outlier
    if trusted.any():
        bv = np.exp(y_raw)
        lo_b = np.zeros(n_b * d_max)
        hi_b = np.full(n_b * d_max, np.inf)
        lw, up = trusted & (kind == LOWER), trusted & (kind == UPPER)
        np.maximum.at(lo_b, flat[lw], bv[lw])
        np.minimum.at(hi_b, flat[up], bv[up])
        lo_b, hi_b = lo_b.reshape(n_b, d_max), hi_b.reshape(n_b, d_max)
        # Trusted bounds on both sides of a day bracket the estimate itself
        # ("more than 8,000" and "at most 9,000" the same day), when consistent.
        cons = (lo_b > 0) & np.isfinite(hi_b) & (lo_b <= hi_b)
        est = np.where(cons, np.minimum(np.maximum(est, lo_b), hi_b), est)
        lo = np.where(lo_b <= est, np.maximum(lo, lo_b), lo)
        hi = np.where(hi_b >= est, np.minimum(hi, hi_b), hi)

    # ---- flags ----
    nxt = np.minimum(a + 1, (k_s - 1)[:, None])
    u_n = _take(ud, nxt)
    dist = np.minimum(t - ua, np.where(u_n >= t, u_n - t, d_s[:, None]))
    stale = dist > STALE_DAYS
    smin = np.full(n_b * d_max, _BIG, dtype=np.int64)
    smax = np.full(n_b * d_max, -1, dtype=np.int64)
    np.minimum.at(smin, flat, src)
    np.maximum.at(smax, flat, src)
    smin = _window_any(smin.reshape(n_b, d_max), np.minimum)
    smax = _window_any(smax.reshape(n_b, d_max), np.maximum)
    n_src2 = (smax >= 0) & (smax != smin)
    disc = _window_sum(np.bincount(flat[discord], minlength=n_b * d_max).reshape(n_b, d_max))
    outl = _window_sum(np.bincount(flat[outlier], minlength=n_b * d_max).reshape(n_b, d_max))
    codes = ((disc > 0) & n_src2) * 1 + (outl > 0) * 2 + single * 4 + stale * 8
    table = flag_table()

    # ---- python objects ----
    e_i = np.rint(est)
    lo_i = np.minimum(e_i, np.floor(lo + 1e-6)).astype(np.int64)
    hi_i = np.maximum(e_i, np.ceil(hi - 1e-6)).astype(np.int64)
    e_i = e_i.astype(np.int64)
    offs = np.array([sf.off for sf in sfs], dtype=np.int64)
    out_day = (t >= offs[:, None]) & (t < d_s[:, None])  # output days, row-major
    nk = np.where(out_day, n_keep, 0)
    mask = np.arange(top)[None, None, :] < nk[..., None]
    flat = (idx + r_off[:, None, None])[mask].tolist()
    all_keys = [k for sf in sfs for k in sf.obs.keys]
    kk = _pick_all(all_keys, flat)
    pairs = list(zip(kk, wn[mask].tolist()))
    contribs = []
    app = contribs.append
    p = 0
    for m in nk[out_day].tolist():
        app(tuple(pairs[p : p + m]))
        p += m
    fl_all = [table[x] for x in codes[out_day].tolist()]
    e_all, lo_all, hi_all = (x[out_day].tolist() for x in (e_i, lo_i, hi_i))
    # Report weights rounded to 6 decimals (numpy: one call for the batch).
    w_all = np.round(cat([sf.fit.weight for sf in sfs]), 6).tolist()
    o_all = outlier.tolist()
    results = []
    r0 = d0 = 0
    for s, sf in enumerate(sfs):
        nd = sf.n_days - sf.off
        n = int(n_s[s])
        days = _dates(sf.start + timedelta(days=sf.off), nd)
        d1 = d0 + nd
        est_t = _daily_estimates(days, e_all[d0:d1], lo_all[d0:d1], hi_all[d0:d1], fl_all[d0:d1], contribs[d0:d1])
        ass = _assessments(sf.obs.keys, w_all[r0 : r0 + n], o_all[r0 : r0 + n])
        r0 += n
        d0 = d1
        results.append((est_t, ass))
    return results
