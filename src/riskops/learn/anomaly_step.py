"""One event's anomaly arithmetic, compiled (ADR 0052): score the event against the
account's and its peer group's baselines as they stood before it, then learn it, in one
pass over the features.

``learn.anomaly.AnomalyState`` keeps the rows and their bookkeeping (counts, weights, the
learning rates) in Python and calls ``step`` once per event; the formulas are the ones its
docstring and ADR 0039 describe. Written as a loop over the features for numba: the same
work as about thirty numpy calls on 2 x F arrays, each of which cost a microsecond or two
of dispatch on arrays this small. Imported on the first event (numba's import and the
compilation, cached on disk, are not paid by processes that never score an anomaly).
The constants come in as arguments: numba's disk cache is keyed on this file, so a
constant read from another module could go stale in it.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]


@numba.njit(cache=True, nogil=True)
def step(
    mean: Vector,  # [rows, F] the baselines' means (NaN: no value yet), updated in place
    var: Vector,  # [rows, F] their variances, updated in place
    own: int,
    group: int,
    x: Vector,  # the event's whole feature vector
    columns: npt.NDArray[np.intp],  # the columns scored, F of them
    scored: Vector,  # [F] 1.0 where the event's direction scores (and learns) the feature
    needed: npt.NDArray[np.bool_],  # [F] the features a row needs to be complete
    down: Vector,  # [F] 1.0 where a fall deviates too
    complete: bool,  # both rows have had a value of every needed feature
    floor2: float,  # the smallest variance a baseline is given (learn.anomaly.FLOOR squared)
    cap: float,  # |values| beyond this (on the asinh scale) are capped when not clean
    lean: float,  # how much the own baseline's variance leans on the peers'
    weights: Vector,  # [2] the weight of the own and the peers' comparison (0: not scored)
    z_bar: Vector,  # [2] the z-score beyond which each comparison counts
    rates: Vector,  # [2] the own row's and the peer row's learning rates
    clips: Vector,  # [2] the standard deviations an update is winsorised at
    before: Vector,  # [2, F] out: the means before the event
    z: Vector,  # [2, F] out: the z-scores
    excess: Vector,  # [2, F] out: the weighted excess of each comparison
    best: Vector,  # [F] out: the larger excess of the two
    flags: npt.NDArray[np.int64],  # [3] out: clean, own complete, group complete
) -> float:
    """The sum of the squared excesses (0.0: nothing beyond the usual), with the details in
    the out arrays; the rows ``own`` and ``group`` have learnt the event."""
    width = columns.shape[0]
    t = np.empty(width)
    clean = complete
    for i in range(width):
        t[i] = math.asinh(x[columns[i]])
        if not math.isfinite(t[i]):
            clean = False
    if not clean:  # NaN stays NaN; infinities and huge values are capped
        for i in range(width):
            if t[i] > cap:
                t[i] = cap
            elif t[i] < -cap:
                t[i] = -cap
    scoring = weights[0] > 0.0 or weights[1] > 0.0
    rows = (own, group)
    total2 = 0.0
    for i in range(width):
        m0, m1 = mean[own, i], mean[group, i]
        v0, v1 = var[own, i], var[group, i]
        before[0, i], before[1, i] = m0, m1
        sd0 = math.sqrt((v0 + floor2) + lean * (v1 - v0))
        sd1 = math.sqrt(v1 + floor2)
        ti = t[i]
        learns = scored[i] > 0.0 and ti == ti
        best[i] = 0.0
        for r in range(2):
            m = m0 if r == 0 else m1
            sd = sd0 if r == 0 else sd1
            diff = ti - m
            if scoring:
                zr = diff / sd
                z[r, i] = zr
                sided = -zr if down[i] > 0.0 and zr < 0.0 else zr
                e = sided - z_bar[r] if scored[i] > 0.0 else 0.0
                e = e * weights[r] if e > 0.0 else 0.0  # NaN (no value): none
                excess[r, i] = e
                if e > best[i]:
                    best[i] = e
            if learns:
                row = rows[r]
                if m != m:  # the feature's first value becomes its baseline
                    m = ti
                    diff = 0.0
                reach = sd * clips[r]
                moved = min(max(diff, -reach), reach)
                rate = rates[r]
                mean[row, i] = m + rate * moved
                if abs(diff) <= reach:  # a winsorised value leaves the variance alone
                    var[row, i] = (var[row, i] + rate * moved * moved) * (1.0 - rate)
        total2 += best[i] * best[i]
    flags[0] = 1 if clean else 0
    if not clean:
        for r in range(2):
            done = 1
            for i in range(width):
                if needed[i] and mean[rows[r], i] != mean[rows[r], i]:
                    done = 0
            flags[1 + r] = done
    return total2
