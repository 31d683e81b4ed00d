"""Float64 reference λ_max at the issue-15 size: MLP 784-128-10 (ReLU, MSE on one-hot targets, so
minima exist as in E2) on the first 1,000 Fashion-MNIST training images, at init, at a small-η GD
solution θ_s and after large-η GD from θ_s (E2's switch, near the edge of stability).

λ_max comes from float64 double-backward HVPs (torch.autograd.grad with create_graph=True) and
Lanczos with full reorthogonalisation run to an error bound of 1e-10. For each point the problem
(θ as float32, x, y) is written for scripts/reference/lambda_check.mjs, which compares bigstep.

usage: /usr/bin/python3 scripts/reference/lambda_torch.py <out-dir> [fashion-mnist-dir]
"""
import gzip
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.manual_seed(15)
out_dir = sys.argv[1]
data_dir = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
os.makedirs(out_dir, exist_ok=True)
n = 1000
with gzip.open(os.path.join(data_dir, "train-images-idx3-ubyte.gz")) as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].astype(np.float32) / 255
with gzip.open(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
X = torch.from_numpy(x).double().view(n, 784)
Y = F.one_hot(torch.from_numpy(labels), 10).double()
shapes = [(128, 784), (128,), (10, 128), (10,)]
sizes = [int(np.prod(s)) for s in shapes]


def loss(theta):
    w1, b1, w2, b2 = (t.view(s) for t, s in zip(torch.split(theta, sizes), shapes))
    return F.mse_loss(F.linear(torch.relu(F.linear(X, w1, b1)), w2, b2), Y)


def grad(theta):
    t = theta.clone().requires_grad_(True)
    return torch.autograd.grad(loss(t), t)[0]


def hvp(theta, v):
    t = theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
    return torch.autograd.grad(g, t, grad_outputs=v)[0]


def lambda_max(theta, steps=80):
    q = torch.randn(theta.numel())
    q /= q.norm()
    basis, alpha, beta = [], [], []
    for _ in range(steps):
        basis.append(q)
        w = hvp(theta, q)
        alpha.append(float(q @ w))
        Q = torch.stack(basis)
        for _ in range(2):
            w -= Q.T @ (Q @ w)
        b = float(w.norm())
        T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        vals, vecs = np.linalg.eigh(T)
        r = b * abs(vecs[-1, -1])
        if len(alpha) > 1 and min(r, r * r / (vals[-1] - vals[-2])) <= 1e-10 * abs(vals[-1]):
            return float(vals[-1]), len(alpha)
        beta.append(b)
        q = w / b
    raise SystemExit("reference Lanczos did not converge")


def gd(theta, eta, steps):
    for _ in range(steps):
        theta = theta - eta * grad(theta)
    return theta


def f32(t):
    return t.float().double()


theta0 = f32(torch.cat([torch.randn(128 * 784) * (2 / 784) ** 0.5, torch.zeros(128),
                        torch.randn(10 * 128) * (2 / 128) ** 0.5, torch.zeros(10)]))
lam0, _ = lambda_max(theta0)
points = [("init", theta0, None, None)]
eta_s = 0.5 / lam0
theta_s = f32(gd(theta0, eta_s, 2000))
points.append(("small-η GD solution θ_s", theta_s, eta_s, 2000))
lam_s, _ = lambda_max(theta_s)
for c in (2.5, 2.2, 2.05):
    eta_l = c / lam_s
    theta_e = gd(theta_s, eta_l, 600)
    if torch.isfinite(theta_e).all() and float(loss(theta_e)) < 10 * float(loss(theta0)):
        break
points.append((f"large-η GD from θ_s (η = {c}/λ(θ_s)), edge of stability", f32(theta_e), eta_l, 600))
summary = []
for i, (label, theta, eta, steps) in enumerate(points):
    lam, its = lambda_max(theta)
    path = f"point{i}.bin"
    with open(os.path.join(out_dir, path), "wb") as f:
        f.write(theta.float().numpy().tobytes() + x.tobytes() + Y.float().numpy().tobytes())
    summary.append({"point": label, "file": path, "eta": eta, "gdSteps": steps, "etaLambda": None if eta is None else eta * lam,
                    "loss": float(loss(theta)), "gradNorm": float(grad(theta).norm()), "lambdaMax": lam, "lanczosSteps": its})
    print(json.dumps(summary[-1]), flush=True)
json.dump({"model": "mlp 784-128-10 relu, mse", "n": n, "data": "Fashion-MNIST train[0:1000]", "torch": torch.__version__,
           "points": summary}, open(os.path.join(out_dir, "summary.json"), "w"), indent=1)
