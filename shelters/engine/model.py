"""Robust local-level model in log space, fitted by iterated Kalman smoothing.

State: x_t = log(population) on day t, a random walk x_t = x_{t-1} + w_t.
The walk is heavy-tailed (Student-t increments, fitted by EM as a scale
mixture) so that sudden arrivals and departures are absorbed by a few large
steps instead of smearing bias over weeks.

Observations are turned into Gaussian "sites" (pseudo-observations) so a
plain linear Kalman filter + RTS smoother can be used; non-Gaussian parts are
refreshed between smoother passes:

* value claims: Student-t noise via iteratively reweighted precision, so a
  claim far out of line loses weight (robustness, outlier flag);
* bounds: expectation propagation with a robust probit likelihood
  ``eps + (1 - eps) * Phi(s * (x - b) / tol)``: the bound is matched by
  moments against the rest of the evidence (its cavity), and a bound that
  better evidence contradicts decays to no influence instead of pulling.

Smoothing runs only over the distinct report days ("compressed" days) with
the process variance of each gap summed; days between reports are filled in
afterwards exactly (Brownian-bridge interpolation), which keeps the per-site
cost proportional to the number of report days, not calendar days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._special import log_ndtr  # vectorised, tail-stable log Phi (numpy only)
from .observations import LOWER, UPPER, VALUE, Observations

OBS_NU = 4.0  # Student-t dof for value claims: robust yet near-Gaussian in the core
# Dof of the random-walk increments: very heavy tails (change points). The EM
# step gives a gap (nu * prior + increment^2) / (nu + 1): at nu = 1 a wave was
# followed only halfway (half its squared increment), so estimates trailed
# arrivals and departures. 0.7 (since 3.2.0) follows 59 % of it: MAPE ratio vs
# the latest report 0.366 -> 0.354 on simulated "bounded" mixes, 0.317 ->
# 0.306 on generate_sites' streams; 0.5 gained a little more but widened the
# gap between over-covered "inflating" and under-covered public-like mixes,
# and 0.3 began to chase noise (synthetic-3 0.28 -> 0.36).
PROC_NU = 0.7
N_ITER = 10  # smoother passes; enough for IRLS/EP to settle on real data
EP_DAMPING = 0.5  # damp EP site updates: plain EP can oscillate with several bounds
PRIOR_VAR = 100.0  # diffuse prior on the first day's log population (sd 10 = any size)
PRIOR_MEAN = 7.0  # ~1,100 people; irrelevant unless nothing else informs the level
OUTLIER_Z = 3.0  # leave-one-out standardised residual beyond which a report is an outlier
DISCORD_Z = 2.0  # ... beyond which it counts as disagreeing (conflict flag)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(slots=True)
class Fit:
    udays: np.ndarray  # distinct report days (compressed grid), ascending
    cidx: np.ndarray  # per report: index into udays
    ms: np.ndarray  # smoothed log mean per compressed day
    ps: np.ndarray  # smoothed variance
    pc: np.ndarray  # cov(x_{k-1}, x_k), pc[0] unused
    q_eff: np.ndarray  # fitted process variance of each gap (q_eff[0] unused)
    tau: np.ndarray  # per report: total site precision (incl. near-bound term)
    weight: np.ndarray  # per report: robust weight in [0, 1]
    z: np.ndarray  # per report: leave-one-out standardised disagreement (signed;
    # bounds: negative = violated)
    m_cav: np.ndarray  # per report: leave-one-out mean at its day
    p_cav: np.ndarray  # per report: leave-one-out variance at its day
    outlier: np.ndarray  # bool per report
    discord: np.ndarray  # bool per report
    gain: np.ndarray  # RTS smoother gain J_k (step k -> k+1) per compressed day; last = 0:
    # cov(x_i, x_j | all) = ps_j * J_i ... J_{j-1} for i < j


def _smooth(
    t_info: list[float], h_info: list[float], q: list[float]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Scalar Kalman filter + RTS smoother in information form for the sites.

    Plain Python floats: for ~50-100 steps this is faster than numpy, whose
    per-call overhead dominates on scalars.
    """
    k_n = len(t_info)
    mp = [0.0] * k_n
    pp = [0.0] * k_n
    mf = [0.0] * k_n
    pf = [0.0] * k_n
    m, p = PRIOR_MEAN, PRIOR_VAR
    for k in range(k_n):
        if k:
            p += q[k]
        mp[k] = m
        pp[k] = p
        prec = 1.0 / p + t_info[k]
        m = (m / p + h_info[k]) / prec
        p = 1.0 / prec
        mf[k] = m
        pf[k] = p
    ms = mf[:]
    ps = pf[:]
    pc = [0.0] * k_n
    gain = [0.0] * k_n
    for k in range(k_n - 2, -1, -1):
        j = pf[k] / pp[k + 1]
        gain[k] = j
        ms[k] = mf[k] + j * (ms[k + 1] - mp[k + 1])
        ps[k] = pf[k] + j * j * (ps[k + 1] - pp[k + 1])
        pc[k + 1] = j * ps[k + 1]
    return ms, ps, pc, gain


def _smooth_batch(
    t_info: np.ndarray, h_info: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same smoother vectorised across sites: arrays are (steps, sites).

    Sites with fewer report days are padded with q = 0 and no information,
    which leaves their state unchanged, so padding is harmless."""
    k_n, g = t_info.shape
    mp = np.empty((k_n, g))
    pp = np.empty((k_n, g))
    mf = np.empty((k_n, g))
    pf = np.empty((k_n, g))
    m = np.full(g, PRIOR_MEAN)
    p = np.full(g, PRIOR_VAR)
    for k in range(k_n):
        if k:
            p = p + q[k]
        mp[k] = m
        pp[k] = p
        prec = 1.0 / p + t_info[k]
        m = (m / p + h_info[k]) / prec
        p = 1.0 / prec
        mf[k] = m
        pf[k] = p
    ms = mf.copy()
    ps = pf.copy()
    pc = np.zeros((k_n, g))
    gain = np.zeros((k_n, g))
    for k in range(k_n - 2, -1, -1):
        j = pf[k] / pp[k + 1]
        gain[k] = j
        ms[k] = mf[k] + j * (ms[k + 1] - mp[k + 1])
        ps[k] = pf[k] + j * j * (ps[k + 1] - pp[k + 1])
        pc[k + 1] = j * ps[k + 1]
    return ms, ps, pc, gain


# Below this many sites the scalar pure-Python smoother beats numpy's per-call
# overhead; above it the vectorised one wins by a wide margin.
BATCH_MIN_SITES = 6


def fit(obs: Observations, q_prior: np.ndarray) -> Fit:
    """Fit one site (see ``fit_many``)."""
    return fit_many([obs], [q_prior])[0]


def fit_many(obs_list: list[Observations], q_priors: list[np.ndarray]) -> list[Fit]:
    """Fit several sites at once (independent models, shared array passes).

    ``q_prior[d]`` is the prior variance of step d-1 -> d (cumulative sums give
    gap variances); ``q_prior[0]`` is unused.  Sites are independent: batching
    only amortises numpy call overhead, it never mixes information."""
    g = len(obs_list)
    # Distinct report days of every site in one np.unique over (site, day).
    n_rep = [len(o) for o in obs_list]
    site_of = np.repeat(np.arange(g), n_rep)
    day_all = np.concatenate([o.day for o in obs_list]).astype(np.int64)
    span = int(day_all.max()) + 1 if len(day_all) else 1
    u_all, inv = np.unique(site_of * span + day_all, return_inverse=True)
    inv = inv.reshape(-1)
    u_site = u_all // span
    k_cnt = np.bincount(u_site, minlength=g)
    k_start = np.concatenate(([0], np.cumsum(k_cnt)))
    cidx = inv - k_start[site_of]
    u_day = u_all - u_site * span
    r_start = np.concatenate(([0], np.cumsum(n_rep)))
    uds = [u_day[k_start[s] : k_start[s + 1]] for s in range(g)]
    cids = [cidx[r_start[s] : r_start[s + 1]] for s in range(g)]
    k_sizes = k_cnt.tolist()
    k_max = max(k_sizes)
    # (steps, sites) layout so each smoother step touches a contiguous row.
    q_gap = np.zeros((k_max, g))
    for s, (u, qp) in enumerate(zip(uds, q_priors)):
        if len(u) > 1:
            cum = np.cumsum(qp)
            q_gap[1 : len(u), s] = cum[u[1:]] - cum[u[:-1]]
    valid_step = q_gap > 0.0
    q_eff = q_gap.copy()
    gidx = cidx * g + site_of
    cat = lambda name: np.concatenate([getattr(o, name) for o in obs_list])  # noqa: E731
    kind, y, sigma, eps = cat("kind"), cat("y"), cat("sigma"), cat("eps")
    near_tau0, near_mu = cat("near_tau"), cat("near_mu")

    is_val = kind == VALUE
    is_bnd = ~is_val
    sgn = np.where(kind == LOWER, 1.0, np.where(kind == UPPER, -1.0, 0.0))
    sig2 = sigma**2
    tol2 = sig2  # for bounds, sigma holds the tolerance
    # Site natural parameters (precision, precision * mean) of the adaptive part.
    tau = np.where(is_val, 1.0 / sig2, 0.0)
    nu = tau * y
    near_tau, near_h = near_tau0.copy(), near_tau0 * near_mu
    has_bnd = bool(is_bnd.any())
    bidx = np.flatnonzero(is_bnd)
    y_b, sgn_b, tol2_b, eps_b = y[bidx], sgn[bidx], tol2[bidx], eps[bidx]
    near_mu_b, near_tau0_b = near_mu[bidx], near_tau0[bidx]
    size = k_max * g

    for it in range(N_ITER + 1):
        t_info = np.bincount(gidx, weights=tau + near_tau, minlength=size).reshape(k_max, g)
        h_info = np.bincount(gidx, weights=nu + near_h, minlength=size).reshape(k_max, g)
        if g >= BATCH_MIN_SITES:
            ms, ps, pc, gain = _smooth_batch(t_info, h_info, q_eff)
        else:
            ms, ps, pc, gain = (np.zeros((k_max, g)), np.zeros((k_max, g)), np.zeros((k_max, g)), np.zeros((k_max, g)))
            for s in range(g):
                r = _smooth(t_info[:, s].tolist(), h_info[:, s].tolist(), q_eff[:, s].tolist())
                ms[:, s], ps[:, s], pc[:, s], gain[:, s] = r
        if it == N_ITER:
            break

        md, pd = ms.ravel()[gidx], ps.ravel()[gidx]
        # Value claims: Student-t EM weight from the expected squared residual.
        e2 = (y - md) ** 2 + pd
        w = (OBS_NU + 1.0) / (OBS_NU + e2 / sig2)
        tau_v = w / sig2
        if has_bnd:
            # Bound rows only (value rows would be computed and thrown away).
            bi = bidx
            mdb, pdb = md[bi], pd[bi]
            tau_b0, nu_b0 = tau[bi], nu[bi]
            tau_n, nu_n = _ep_bounds(mdb, pdb, tau_b0, nu_b0, y_b, sgn_b, tol2_b, eps_b)
            tau_b = (1.0 - EP_DAMPING) * tau_b0 + EP_DAMPING * tau_n
            nu_b = (1.0 - EP_DAMPING) * nu_b0 + EP_DAMPING * nu_n
            tau = tau_v
            nu = tau_v * y
            tau[bi] = tau_b
            nu[bi] = nu_b
            # The "near the bound" term is only a reading of the bound claim, so
            # it is as robust as the claim: Student-t reweighted, and scaled by
            # the probability that the bound itself is right (a contradicted
            # "more than 1,000" must not keep pulling toward 1,100).
            p_ok = _bound_ok(mdb, pdb, tau_b, nu_b, near_tau[bi], near_h[bi], y_b, sgn_b, tol2_b, eps_b)
            e2n = (near_mu_b - mdb) ** 2 + pdb
            w_n = (OBS_NU + 1.0) / (OBS_NU + e2n * near_tau0_b)
            near_tau = near_tau.copy()
            near_tau[bi] = near_tau0_b * w_n * p_ok
            near_h = near_tau * near_mu
        else:
            tau, nu = tau_v, tau_v * y
        # Heavy-tailed process noise: Student-t EM on each gap's increment.
        if k_max > 1:
            inc2 = (ms[1:] - ms[:-1]) ** 2 + ps[1:] + ps[:-1] - 2.0 * pc[1:]
            q_new = (PROC_NU * q_gap[1:] + np.maximum(inc2, 0.0)) / (PROC_NU + 1.0)
            q_eff[1:] = np.where(valid_step[1:], q_new, 0.0)

    # Leave-one-out diagnostics: the posterior at the report's day without it.
    md, pd = ms.ravel()[gidx], ps.ravel()[gidx]
    own = tau + near_tau
    prec_post = 1.0 / pd
    prec_cav = np.maximum(prec_post - own, 1e-6)
    p_cav = 1.0 / prec_cav
    m_cav = (md * prec_post - nu - near_h) / prec_cav
    z = np.where(is_val, (y - m_cav) / np.sqrt(sig2 + p_cav), sgn * (m_cav - y) / np.sqrt(tol2 + p_cav))
    outlier = np.where(is_val, np.abs(z) > OUTLIER_Z, z < -OUTLIER_Z)
    discord = np.where(is_val, np.abs(z) > DISCORD_Z, z < -DISCORD_Z)
    e2 = (y - md) ** 2 + pd
    w_val = (OBS_NU + 1.0) / (OBS_NU + e2 / sig2) * (OBS_NU / (OBS_NU + 1.0))
    w_bnd = _p_ok(z, eps)
    weight = np.clip(np.where(is_val, w_val, w_bnd), 0.0, 1.0)

    fits: list[Fit] = []
    off = 0
    for s in range(g):
        k, n = k_sizes[s], n_rep[s]
        sl = slice(off, off + n)
        off += n
        fits.append(
            Fit(
                udays=uds[s],
                cidx=cids[s],
                ms=ms[:k, s].copy(),
                ps=ps[:k, s].copy(),
                pc=pc[:k, s].copy(),
                q_eff=q_eff[:k, s].copy(),
                tau=own[sl],
                weight=weight[sl],
                z=z[sl],
                m_cav=m_cav[sl],
                p_cav=p_cav[sl],
                outlier=outlier[sl],
                discord=discord[sl],
                gain=np.append(gain[: k - 1, s], 0.0),
            )
        )
    return fits


def _bound_ok(
    md: np.ndarray,
    pd: np.ndarray,
    tau: np.ndarray,
    nu: np.ndarray,
    near_tau: np.ndarray,
    near_h: np.ndarray,
    b: np.ndarray,
    sgn: np.ndarray,
    tol2: np.ndarray,
    eps: np.ndarray,
) -> np.ndarray:
    """P(bound is right | everything else), from the report's leave-one-out cavity."""
    prec_post = 1.0 / pd
    prec_cav = np.maximum(prec_post - tau - near_tau, 1e-6)
    m_c = (md * prec_post - nu - near_h) / prec_cav
    zz = sgn * (m_c - b) / np.sqrt(1.0 / prec_cav + tol2)
    return _p_ok(zz, eps)


def _p_ok(zz: np.ndarray, eps: np.ndarray) -> np.ndarray:
    log_ok = np.log1p(-eps) + log_ndtr(zz)
    return np.exp(log_ok - np.logaddexp(np.log(np.maximum(eps, 1e-300)), log_ok))


def _ep_bounds(
    md: np.ndarray,
    pd: np.ndarray,
    tau: np.ndarray,
    nu: np.ndarray,
    b: np.ndarray,
    sgn: np.ndarray,
    tol2: np.ndarray,
    eps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """EP update of robust-probit bound sites (value rows give garbage, masked by caller)."""
    prec_post = 1.0 / pd
    prec_cav = np.maximum(prec_post - tau, 1e-3 * prec_post)
    p_c = 1.0 / prec_cav
    m_c = (md * prec_post - nu) / prec_cav
    s2 = p_c + tol2
    s = np.sqrt(s2)
    zz = sgn * (m_c - b) / s
    # r = (1-eps) phi(z) / (eps + (1-eps) Phi(z)), computed in logs for the tails.
    log_num = np.log1p(-eps) - 0.5 * zz * zz - _LOG_SQRT_2PI
    log_den = np.logaddexp(np.log(np.maximum(eps, 1e-300)), np.log1p(-eps) + log_ndtr(zz))
    r = np.exp(log_num - log_den)
    mean_new = m_c + sgn * p_c * r / s
    var_new = p_c - p_c * p_c * r * (zz + r) / s2
    var_new = np.maximum(var_new, 1e-9 * p_c)
    tau_new = 1.0 / var_new - prec_cav
    nu_new = mean_new / var_new - m_c * prec_cav
    # A robust site whose tilted variance exceeds the cavity's (the bound looks
    # wrong) would need negative precision; drop it instead of destabilising.
    bad = tau_new <= 0.0
    tau_new = np.where(bad, 0.0, tau_new)
    nu_new = np.where(bad, 0.0, nu_new)
    return tau_new, nu_new
