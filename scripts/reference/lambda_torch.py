"""Float64 reference λ_max for the points of scripts/reference/lambda_points.mjs (issue 15 at size).

Reads <dir>/points.json and each point's θ (float32), x, y; computes λ_max of the Hessian of the
mean MSE loss of MLP 784-128-10 (ReLU) by float64 double-backward HVPs (torch.autograd.grad with
create_graph=True) and Lanczos with full reorthogonalisation to an error bound of 1e-10·λ; also
‖∇L‖. Writes <dir>/reference.json.

usage: /usr/bin/python3 scripts/reference/lambda_torch.py <dir>
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.manual_seed(15)
d = sys.argv[1]
meta = json.load(open(os.path.join(d, "points.json")))
n = meta["n"]
shapes = [(128, 784), (128,), (10, 128), (10,)]
sizes = [int(np.prod(s)) for s in shapes]
P = sum(sizes)


def lambda_max(theta, X, Y, steps=100):
    def loss(t):
        w1, b1, w2, b2 = (u.view(s) for u, s in zip(torch.split(t, sizes), shapes))
        return F.mse_loss(F.linear(torch.relu(F.linear(X, w1, b1)), w2, b2), Y)

    def hvp(v):
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
        return torch.autograd.grad(g, t, grad_outputs=v)[0]

    t = theta.clone().requires_grad_(True)
    grad_norm = float(torch.autograd.grad(loss(t), t)[0].norm())
    q = torch.randn(P)
    q /= q.norm()
    basis, alpha, beta = [], [], []
    for _ in range(steps):
        basis.append(q)
        w = hvp(q)
        alpha.append(float(q @ w))
        Q = torch.stack(basis)
        for _ in range(2):
            w -= Q.T @ (Q @ w)
        b = float(w.norm())
        T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        vals, vecs = np.linalg.eigh(T)
        r = b * abs(vecs[-1, -1])
        if len(alpha) > 1 and min(r, r * r / (vals[-1] - vals[-2])) <= 1e-10 * abs(vals[-1]):
            return float(vals[-1]), len(alpha), grad_norm
        beta.append(b)
        q = w / b
    raise SystemExit("reference Lanczos did not converge")


out = []
for p in meta["points"]:
    raw = open(os.path.join(d, p["file"]), "rb").read()
    theta = torch.from_numpy(np.frombuffer(raw, np.float32, P, 0).astype(np.float64))
    X = torch.from_numpy(np.frombuffer(raw, np.float32, n * 784, 4 * P).astype(np.float64)).view(n, 784)
    Y = torch.from_numpy(np.frombuffer(raw, np.float32, n * 10, 4 * (P + n * 784)).astype(np.float64)).view(n, 10)
    lam, its, gn = lambda_max(theta, X, Y)
    out.append({**p, "lambdaMax": lam, "lanczosSteps": its, "gradNorm": gn,
                "etaLambda": None if p["eta"] is None else p["eta"] * lam})
    print(json.dumps(out[-1]), flush=True)
json.dump({**meta, "torch": torch.__version__, "points": out}, open(os.path.join(d, "reference.json"), "w"), indent=1)
