"""PyTorch CPU peer for bench/run.ts: the same models, batch sizes and SGD step.

usage: python3 torch_bench.py <case-name> <threads> <seconds-budget> [repeats]  -> one JSON line
(repeats < 7, for cases of seconds per step: 1 warm-up step, at least 1 step per repeat)

Cases named "hvp-<model>/n<examples>" time Hessian-vector products instead (src/bench/measure.ts measureHvp is
the bigstep side): float32 double backward of the mean loss over n examples, two ways: from scratch
(forward, torch.autograd.grad with create_graph=True, then the product: what one product at a new θ
costs) and with the gradient graph built once and kept (retain_graph=True, as PyHessian does: what
each further product at the same θ costs). λ_max by the same restarted Lanczos as bigstep's
topEigenvalue, on the kept graph.
"""
import json
import os
import resource
import statistics
import sys
import time

case_name, threads, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
# argv[4]: repeats for training cases; the problem file for hvp cases (see below).
repeats = int(sys.argv[4]) if len(sys.argv) > 4 and not case_name.startswith("hvp-") else 7
# torch.set_num_threads does not reach the OpenBLAS that Debian's torch uses for nn.Linear (the
# pthreads build sizes its own pool from the core count): without this, "1 thread" runs every
# GEMM on all cores. OpenBLAS reads the variable when it is loaded, i.e. at `import torch`.
os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
os.environ["OMP_NUM_THREADS"] = str(threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


class Block(nn.Module):
    """bigstep's resblock without batch norm: relu(conv2(relu(conv1(x))) + shortcut(x))."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = self.conv2(torch.relu(self.conv1(x)))
        return torch.relu(h + (self.shortcut(x) if self.shortcut is not None else x))


def resnet18_nobn(w):
    layers, c = [nn.Conv2d(3, w, 3, 1, 1), nn.ReLU()], w
    for stage in range(4):
        u = w * 2 ** stage
        for b in range(2):
            layers.append(Block(c, u, 2 if stage > 0 and b == 0 else 1))
            c = u
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)

torch.set_num_threads(threads)
torch.manual_seed(1)

hvp_case = case_name.startswith("hvp-")
if hvp_case:
    case_name = case_name[len("hvp-"):]

if case_name.startswith("mlp-784-128-10"):
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    shape = (784,)
    flops = 0
elif case_name.startswith("mlp-784-1024-1024-10"):
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    shape = (784,)
    flops = 2 * (784 * 1024 + 1024 * 1024 + 1024 * 10)
elif case_name.startswith("small-cnn-28x28"):
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(12 * 12 * 64, 128), nn.ReLU(), nn.Linear(128, 10))
    shape = (1, 28, 28)
    flops = 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 32 * 9 + 12 * 12 * 64 * 128 + 128 * 10)
elif case_name.startswith("resnet18-nobn-w"):
    width = int(case_name.split("-w")[1].split("-")[0])
    model = resnet18_nobn(width)
    shape = (3, 32, 32)
    flops = 0  # reported by the bigstep side
else:
    raise SystemExit(f"unknown case {case_name}")


def lanczos_top(hvp, dim, tol=1e-4, budget=200, restart=20):
    """λ_max by restarted Lanczos with full reorthogonalisation, stopping as src/measure/lanczos.ts does:
    error bound min(r, r²/gap) <= tol·max(|θ|, 1e-2·max|Ritz|) and θ settled to the same tolerance."""
    import numpy as np
    g = torch.Generator().manual_seed(0)
    q = torch.randn(dim, generator=g, dtype=torch.float64)
    q /= q.norm()
    used = 0
    while True:
        basis, alpha, beta, prev, theta, vec = [], [], [], None, None, None
        for _ in range(min(restart, budget - used)):
            basis.append(q)
            w = hvp(q.float()).double()
            used += 1
            alpha.append(float(q @ w))
            Q = torch.stack(basis)
            for _ in range(2):
                w -= Q.T @ (Q @ w)
            b = float(w.norm())
            m = len(alpha)
            T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
            vals, vecs = np.linalg.eigh(T)
            theta, s = vals[-1], vecs[:, -1]
            vec = Q.T @ torch.from_numpy(s)
            r = b * abs(s[-1])
            gap = vals[-1] - vals[-2] if m > 1 else float("inf")
            bound = min(r, r * r / gap) if m > 1 and gap > 0 else r
            scale = max(abs(theta), 1e-2 * np.abs(vals).max())
            settled = prev is not None and abs(theta - prev) <= tol * scale
            prev = theta
            if (settled and bound <= tol * scale) or b == 0:
                return float(theta), used
            beta.append(b)
            q = w / b
        if used >= budget:
            return float(theta), used
        q = vec / vec.norm()


if hvp_case:
    n = int(case_name.split("/n")[1])
    xs = torch.rand((n,) + shape)
    ys = torch.randint(0, 10, (n,))
    params = [p for p in model.parameters()]
    dim = sum(p.numel() for p in params)
    v = torch.rand(dim) - 0.5
    if len(sys.argv) > 4:
        # The bigstep child's problem (θ, x, y, v): bigstep's flat layout is PyTorch's parameter order.
        import numpy as np
        raw = open(sys.argv[4], "rb").read()
        nx = n
        for d in shape:
            nx *= d
        at = 0
        theta = np.frombuffer(raw, np.float32, dim, at); at += 4 * dim
        xs = torch.from_numpy(np.frombuffer(raw, np.float32, nx, at).copy()).view((n,) + shape); at += 4 * nx
        ys = torch.from_numpy(np.frombuffer(raw, np.int32, n, at).astype(np.int64)); at += 4 * n
        v = torch.from_numpy(np.frombuffer(raw, np.float64, dim, at).astype(np.float32))
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(torch.from_numpy(theta.copy()), params)
    loss_fn = nn.CrossEntropyLoss()

    def hvp(v):
        loss = loss_fn(model(xs), ys)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])
        hv = torch.autograd.grad(flat @ v, params)
        return torch.cat([h.reshape(-1) for h in hv])

    kept = {}

    def hvp_kept(v):
        if "flat" not in kept:
            loss = loss_fn(model(xs), ys)
            grads = torch.autograd.grad(loss, params, create_graph=True)
            kept["flat"] = torch.cat([g.reshape(-1) for g in grads])
        hv = torch.autograd.grad(kept["flat"] @ v, params, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv])

    def timed(f, share):
        f(v)  # warm-up (and, for the kept graph, the graph)
        times, t0, c0 = [], time.perf_counter(), time.process_time()
        while len(times) < 3 or (len(times) < 15 and time.perf_counter() - t0 < budget * share):
            s = time.perf_counter()
            f(v)
            times.append(time.perf_counter() - s)
        return statistics.median(times), (time.process_time() - c0) / len(times), len(times)

    hvp_s, hvp_cpu, hvp_reps = timed(hvp, 0.3)
    kept_s, kept_cpu, _ = timed(hvp_kept, 0.2)
    kept.clear()
    s = time.perf_counter()
    lam, its = lanczos_top(hvp_kept, dim)
    lam_seconds = time.perf_counter() - s
    print(json.dumps({
        "impl": "pytorch", "case": "hvp-" + case_name, "threads": threads, "n": n, "params": dim,
        "hvpSeconds": hvp_s, "hvpCpuSeconds": hvp_cpu, "hvpRepeats": hvp_reps,
        "hvpWarmSeconds": kept_s, "hvpWarmCpuSeconds": kept_cpu,
        "lambdaSeconds": lam_seconds, "lambda": lam, "lambdaIterations": its,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "blas": "torch " + torch.__version__,
    }))
    sys.exit(0)

full = "/gd" in case_name
batch = int(case_name.split("/gd" if full else "/b")[1])

# Mini-batch cases cycle through 4 batches; gradient descent uses the same full batch every step.
nbatches = 1 if full else 4
xs = torch.rand((nbatches, batch) + shape)
ys = torch.randint(0, 10, (nbatches, batch))
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
step_index = 0


cpu_seconds = 0.0


def run(steps):
    global step_index, cpu_seconds
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        i = step_index % nbatches
        step_index += 1
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i]), ys[i])
        loss.backward()
        opt.step()
    cpu_seconds += time.process_time() - c0
    return time.perf_counter() - t0


warm = 3 if repeats >= 7 else 1
run(warm)
probe = run(warm)
steps = max(2 if repeats >= 7 else 1, round((budget / repeats) / (probe / warm)))
cpu_seconds = 0.0
times = sorted(run(steps) / steps for _ in range(repeats))
median = statistics.median(times)
print(json.dumps({
    "impl": "pytorch", "case": case_name, "threads": threads, "batch": batch,
    "stepSeconds": median, "samplesPerSec": batch / median, "cpuSecondsPerStep": cpu_seconds / (repeats * steps),
    "gflops": 3 * flops * batch / median / 1e9,
    "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "blas": "torch " + torch.__version__,
}))
