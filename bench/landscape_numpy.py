"""Vectorised numpy baseline of E1's GD sweep (bench/landscape.ts): the same function, N starts, T steps.

Reads the instance, starts, eta, steps and reps as JSON on stdin; prints {"wall", "cpu", "final"}: the
wall and CPU seconds of each repeat and the final iterates.
"""
import json
import sys
import time

import numpy as np


def grad_paper1d(x):
    t = x - 6.5
    inside = (x >= 6.0) & (x <= 7.0)
    g_patch = t * (13560.0 + t * (6240.0 + t * (-54080.0 + t * -20800.0)))
    return np.where(inside, g_patch, 40.0 * x)


def grad_compact(x, mu, c, a, w):
    # x [N, d], c [K, d]: dip i adds 6 a_i q^2 / w_i^2 (x - c_i) where q = 1 - r^2 / w_i^2 > 0
    diff = x[:, None, :] - c[None, :, :]
    r2 = np.einsum("nkd,nkd->nk", diff, diff)
    q = np.clip(1.0 - r2 / (w * w)[None, :], 0.0, None)
    coef = 6.0 * a[None, :] * q * q / (w * w)[None, :]
    return mu * x + np.einsum("nk,nkd->nd", coef, diff)


def main():
    spec = json.load(sys.stdin)
    d = spec["dim"]
    x0 = np.array(spec["starts"], dtype=np.float64).reshape(-1, d)
    c = np.array(spec["centers"], dtype=np.float64).reshape(-1, d)
    a = np.array(spec["depths"], dtype=np.float64)
    w = np.array(spec["widths"], dtype=np.float64)
    eta, steps, mu = spec["eta"], spec["steps"], spec["mu"]
    wall, cpu, final = [], [], None
    for _ in range(spec.get("reps", 5)):
        x = x0.copy()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            g = grad_paper1d(x) if spec["kind"] == "paper-1d" else grad_compact(x, mu, c, a, w)
            x -= eta * g
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        final = x
    json.dump({"wall": wall, "cpu": cpu, "final": final.reshape(-1).tolist()}, sys.stdout)

main()
