"""Float64 PyTorch reference for bigstep's exact Hessian-vector products (test/measure/hvp.test.ts).

For small ReLU / tanh MLPs and a ReLU CNN with max pooling, at three points (init, a small-η GD
solution, after large-η GD near the edge of stability), stores: the parameters (float32-exact),
a direction v, H·v by double backward (torch.autograd.grad with create_graph=True) and λ_max,
λ_min of the full Hessian (torch.linalg.eigvalsh), all in float64. The models are written with
bigstep's parameter layout (PyTorch's: dense [out, in], conv [O, C, K, K], NCHW flatten), so the
flat vector maps 1:1.

usage: /usr/bin/python3 scripts/reference/hvp_torch.py > test/measure/fixtures/hvp-reference.json
"""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.manual_seed(20260115)


def f32(t):
    """Round to float32 and back: the values bigstep stores."""
    return t.float().double()


def mlp_case(name, act, hidden, d_in, classes, n, loss):
    spec = {"input": [d_in], "layers": [{"type": "dense", "units": hidden}, {"type": act},
                                          {"type": "dense", "units": classes}],
            "loss": loss}
    shapes = [("0.weight", (hidden, d_in)), ("0.bias", (hidden,)), ("2.weight", (classes, hidden)),
              ("2.bias", (classes,))]
    fn = torch.relu if act == "relu" else torch.tanh

    def forward(ts, x):
        return F.linear(fn(F.linear(x, ts["0.weight"], ts["0.bias"])), ts["2.weight"], ts["2.bias"])

    x = f32(torch.randn(n, d_in))
    return name, spec, shapes, forward, x, n, classes


def cnn_case(name, n, loss):
    spec = {"input": [1, 8, 8], "layers": [{"type": "conv2d", "units": 4, "kernel": 3}, {"type": "relu"},
                                             {"type": "maxpool", "kernel": 2, "stride": 2},
                                             {"type": "dense", "units": 3}],
            "loss": loss}
    shapes = [("0.weight", (4, 1, 3, 3)), ("0.bias", (4,)), ("3.weight", (3, 36)), ("3.bias", (3,))]

    def forward(ts, x):
        h = F.max_pool2d(torch.relu(F.conv2d(x, ts["0.weight"], ts["0.bias"])), 2, 2)
        return F.linear(h.flatten(1), ts["3.weight"], ts["3.bias"])

    x = f32(torch.randn(n, 1, 8, 8))
    return name, spec, shapes, forward, x, n, 3


def unflatten(theta, shapes):
    ts, at = {}, 0
    for nm, sh in shapes:
        size = 1
        for d in sh:
            size *= d
        ts[nm] = theta[at:at + size].view(sh)
        at += size
    return ts


def he_init(shapes):
    parts = []
    for nm, sh in shapes:
        if nm.endswith("weight"):
            fan_in = 1
            for d in sh[1:]:
                fan_in *= d
            parts.append(torch.randn(sh).flatten() * (2.0 / fan_in) ** 0.5)
        else:
            parts.append(0.1 * torch.randn(sh).flatten())
    return f32(torch.cat(parts))


def run(case, all_points):
    name, spec, shapes, forward, x, n, classes = case
    y = torch.arange(n) % classes
    y = y[torch.randperm(n)]
    ce = spec["loss"] == "softmax-cross-entropy"
    onehot = F.one_hot(y, classes).double()

    def loss(theta):
        out = forward(unflatten(theta, shapes), x)
        # bigstep's MSE: the mean over all n·classes elements, as torch's default reduction
        return F.cross_entropy(out, y) if ce else F.mse_loss(out, onehot)

    def hvp(theta, v):
        th = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(th), th, create_graph=True)
        (hv,) = torch.autograd.grad(g, th, grad_outputs=v)
        return hv.detach()

    def spectrum(theta):
        h = torch.autograd.functional.hessian(loss, theta)
        ev = torch.linalg.eigvalsh(0.5 * (h + h.T))
        return float(ev[-1]), float(ev[0])

    def gd(theta, eta, steps):
        th = theta.clone()
        for _ in range(steps):
            t = th.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(loss(t), t)
            th = th - eta * g
        return th

    theta0 = he_init(shapes)
    lam0, _ = spectrum(theta0)
    points = [("init", theta0, None)]
    if all_points:
        # θ_s: small-η GD run to a minimum. Then E2's switch: GD from θ_s at η = c/λ_max(θ_s) with
        # c > 2, which leaves the sharp region and settles where λ_max ≈ 2/η (the edge of
        # stability; the fixture records η·λ_max there). c is lowered if GD diverges.
        eta_small = 0.2 / lam0
        theta_s = f32(gd(theta0, eta_small, 4000))
        points.append(("small-eta GD solution", theta_s, eta_small))
        lam_s, _ = spectrum(theta_s)
        for c in (2.5, 2.2, 2.05):
            eta_large = c / lam_s
            theta_e = gd(theta_s, eta_large, 1500)
            if torch.isfinite(theta_e).all() and float(loss(theta_e)) < 10 * float(loss(theta0)):
                break
        points.append(("large-eta GD from the solution, edge of stability", f32(theta_e), eta_large))
    v = torch.randn(theta0.numel())
    out = []
    for label, theta, eta in points:
        lmax, lmin = spectrum(theta)
        t = theta.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(t), t)
        out.append({
            "point": label, "eta": eta, "etaLambda": None if eta is None else eta * lmax,
            "loss": float(loss(theta)), "gradNorm": float(grad.norm()),
            "params": theta.tolist(), "hv": hvp(theta, v).tolist(), "lambdaMax": lmax, "lambdaMin": lmin,
        })
    targets = {"y": y.tolist()} if ce else {"y": onehot.flatten().tolist()}
    return {"name": name, "spec": spec, "names": [nm for nm, _ in shapes], "n": n,
            "x": x.flatten().tolist(), **targets, "v": v.tolist(), "points": out}


cases = [(mlp_case("relu MLP 20-12-3, MSE", "relu", 12, 20, 3, 24, "mse"), True),
         (mlp_case("tanh MLP 20-12-3, MSE", "tanh", 12, 20, 3, 24, "mse"), True),
         (cnn_case("relu CNN conv4-maxpool-dense, MSE", 16, "mse"), True),
         (mlp_case("relu MLP 20-12-3, cross-entropy", "relu", 12, 20, 3, 24, "softmax-cross-entropy"), False),
         (cnn_case("relu CNN conv4-maxpool-dense, cross-entropy", 16, "softmax-cross-entropy"), False)]
json.dump({"generator": "scripts/reference/hvp_torch.py", "torch": torch.__version__,
           "cases": [run(c, all_points) for c, all_points in cases]}, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
