"""PyTorch CPU peer for bench/run.ts: the same models, batch sizes and SGD step.

usage: python3 torch_bench.py <case-name> <threads> <seconds-budget> [repeats]  -> one JSON line
(repeats < 7, for cases of seconds per step: 1 warm-up step, at least 1 step per repeat)
"""
import json
import os
import resource
import statistics
import sys
import time

case_name, threads, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 7
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

if case_name.startswith("mlp-784-1024-1024-10"):
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
