// The sampler (native/sampler.h) and the schedules (native/schedule.h). Each example i of the test
// data set is the row [i, i + 0.5] with label i % 3, so a gathered batch tells which indices it
// holds. Checked: shuffled and sequential epochs visit every example exactly once, with the
// counters [step, cursor, epoch] advanced and a final partial batch (or none, with drop_last);
// full batches are the data set in place; draws with replacement and the amplified estimator's
// second draw (a subset without replacement) stay in range and depend only on the RNG state; and
// every schedule kind against its formula.
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "check.h"
#include "errors.h"
#include "rng.h"
#include "sampler.h"
#include "schedule.h"

using namespace bigstep;

struct Data {
  std::vector<float> x;
  std::vector<int32_t> y;
  DataRef ref;
};
static Data make_data(int n) {
  Data d;
  for (int i = 0; i < n; ++i) d.x.push_back((float)i), d.x.push_back((float)i + 0.5f), d.y.push_back(i % 3);
  d.ref.x = d.x.data();
  d.ref.y.labels = d.y.data();
  d.ref.n = n;
  return d;
}

// The example indices of a gathered batch, checking each row and label against its index.
static std::vector<int> indices(const float* x, const Target& y, int64_t b) {
  std::vector<int> out;
  for (int64_t i = 0; i < b; ++i) {
    const int j = (int)x[2 * i];
    CHECK(x[2 * i + 1] == (float)j + 0.5f && y.labels[i] == j % 3);
    out.push_back(j);
  }
  return out;
}

static void test_epochs(BatchMode mode, bool drop_last) {
  const int n = 10, batch = 4;
  Data d = make_data(n);
  BatchPlan bp;
  bp.mode = mode;
  bp.batch = batch;
  bp.drop_last = drop_last;
  uint64_t rng[4];
  Rng::seed_state(rng, 7, 1);
  std::vector<int32_t> perm(n), idx;
  double c[3] = {0, 0, 0};
  BatchBuffers buf;
  const char* name = mode == BatchMode::Shuffle ? "shuffle" : "sequential";
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::multiset<int> seen;
    std::vector<int> order;
    const int batches = drop_last ? n / batch : (n + batch - 1) / batch;
    for (int k = 0; k < batches; ++k) {
      const float* x = nullptr;
      Target y;
      const int64_t b = draw_batch(d.ref, bp, c, perm.data(), Rng{rng}, 2, 1, idx, buf, &x, &y);
      CHECK_MSG(b == (drop_last || k + 1 < batches ? batch : n % batch),
                check::fmt("%s epoch %d batch %d: size %lld", name, epoch, k, (long long)b));
      for (int j : indices(x, y, b)) seen.insert(j), order.push_back(j);
      CHECK_MSG(c[kEpoch] == epoch, check::fmt("%s epoch %d: epoch counter %g", name, epoch, c[kEpoch]));
    }
    // An epoch without drop_last visits every example once; with it, distinct examples only.
    CHECK_MSG((int)seen.size() == batches * batch - (drop_last ? 0 : batch - n % batch),
              check::fmt("%s epoch %d: %zu examples", name, epoch, seen.size()));
    for (int j : seen) CHECK(seen.count(j) == 1);
    if (mode == BatchMode::Sequential)
      for (size_t i = 0; i < order.size(); ++i) CHECK(order[i] == (int)i);
  }
  CHECK_MSG(c[kEpoch] == 2,
            check::fmt("%s: after 3 epochs the epoch counter is %g (want 2, 0-based)", name, c[kEpoch]));
}

static void test_full_and_replacement() {
  const int n = 10;
  Data d = make_data(n);
  BatchPlan full;
  uint64_t rng[4];
  Rng::seed_state(rng, 3, 1);
  std::vector<int32_t> perm(n), idx;
  double c[3] = {0, 0, 0};
  BatchBuffers buf;
  const float* x = nullptr;
  Target y;
  CHECK(draw_batch(d.ref, full, c, perm.data(), Rng{rng}, 2, 1, idx, buf, &x, &y) == n);
  CHECK_MSG(x == d.x.data() && y.labels == d.y.data(), "a full batch is the data set in place (no copy)");
  CHECK(c[kEpoch] == 1);

  BatchPlan rep;
  rep.mode = BatchMode::Replacement;
  rep.batch = 64;  // more than n: repeats are certain
  uint64_t a[4], b[4];
  Rng::seed_state(a, 9, 1);
  std::memcpy(b, a, sizeof(a));
  const int64_t m = draw_batch(d.ref, rep, c, perm.data(), Rng{a}, 2, 1, idx, buf, &x, &y);
  const std::vector<int> first = indices(x, y, m);
  CHECK(m == 64);
  for (int j : first) CHECK(j >= 0 && j < n);
  CHECK_MSG(std::set<int>(first.begin(), first.end()).size() < first.size(), "replacement draws repeat examples");
  BatchBuffers buf2;
  draw_batch(d.ref, rep, c, perm.data(), Rng{b}, 2, 1, idx, buf2, &x, &y);
  CHECK_MSG(indices(x, y, 64) == first, "the same RNG state draws the same batch");
}

static void test_independent_batch() {
  const int n = 50;
  Data d = make_data(n);
  BatchPlan bp;
  bp.mode = BatchMode::Shuffle;
  bp.batch = 20;
  uint64_t a[4], b[4];
  Rng::seed_state(a, 4, 3);
  std::memcpy(b, a, sizeof(a));
  std::vector<int32_t> idx;
  BatchBuffers buf;
  const float* x = nullptr;
  Target y;
  CHECK(draw_independent_batch(d.ref, bp, 20, Rng{a}, 2, 1, idx, buf, &x, &y) == 20);
  const std::vector<int> got = indices(x, y, 20);
  CHECK_MSG(std::set<int>(got.begin(), got.end()).size() == 20, "the second draw has no repeats (a uniform subset)");
  for (int j : got) CHECK(j >= 0 && j < n);
  draw_independent_batch(d.ref, bp, 20, Rng{b}, 2, 1, idx, buf, &x, &y);
  CHECK_MSG(indices(x, y, 20) == got, "the second draw depends only on the RNG state");
}

static void test_bad_perm_names_index() {
  Data d = make_data(8);
  BatchPlan bp;
  bp.mode = BatchMode::Sequential;
  bp.batch = 4;
  std::vector<int32_t> perm = {0, 1, 2, 3, 4, 99, 6, 7}, idx;
  double c[3] = {1, 4, 0};  // mid-epoch: the next batch reads perm[4..8)
  uint64_t rng[4];
  Rng::seed_state(rng, 1, 1);
  BatchBuffers buf;
  const float* x = nullptr;
  Target y;
  CHECK_THROWS_PARAM(draw_batch(d.ref, bp, c, perm.data(), Rng{rng}, 2, 1, idx, buf, &x, &y), ErrorKind::Range,
                     "perm[5]");
}

static void test_schedules() {
  const double pi = 3.14159265358979323846;
  Schedule s;
  s.lr = 0.8;
  CHECK(schedule_lr(s, 0) == 0.8 && schedule_lr(s, 1000) == 0.8);
  s.kind = ScheduleKind::StepDecay;
  s.step_size = 3;
  s.gamma = 0.5;
  CHECK(schedule_lr(s, 2) == 0.8 && schedule_lr(s, 3) == 0.4 && schedule_lr(s, 7) == 0.2);
  s.kind = ScheduleKind::Cosine;
  s.total_steps = 4;
  s.final_lr = 0.2;
  for (int t = 0; t <= 6; ++t) {
    const double want = 0.2 + 0.3 * (1 + std::cos(pi * std::fmin(t, 4) / 4));
    CHECK_MSG(std::fabs(schedule_lr(s, t) - want) <= 1e-15,
              check::fmt("cosine t=%d: %.17g want %.17g", t, schedule_lr(s, t), want));
  }
  s.kind = ScheduleKind::Piecewise;
  s.boundaries = {2, 5};
  s.values = {0.1, 0.2, 0.3};
  CHECK(schedule_lr(s, 1) == 0.1 && schedule_lr(s, 2) == 0.2 && schedule_lr(s, 4) == 0.2 && schedule_lr(s, 5) == 0.3);
  s.warmup_steps = 4;  // linear warmup over the first 4 steps, on top of any kind
  CHECK(schedule_lr(s, 0) == 0.1 * 0.25 && schedule_lr(s, 3) == 0.2 && schedule_lr(s, 4) == 0.2);
  s.values = {0.1, 0.2};
  CHECK_THROWS_PARAM(validate_schedule(s), ErrorKind::Range, "schedule.values");
  Schedule bad;
  bad.kind = ScheduleKind::StepDecay;
  CHECK_THROWS_PARAM(validate_schedule(bad), ErrorKind::Range, "schedule.stepSize");
  bad.kind = ScheduleKind::Cosine;
  CHECK_THROWS_PARAM(validate_schedule(bad), ErrorKind::Range, "schedule.totalSteps");
}

int main() {
  for (bool drop_last : {false, true}) {
    test_epochs(BatchMode::Shuffle, drop_last);
    test_epochs(BatchMode::Sequential, drop_last);
  }
  test_full_and_replacement();
  test_independent_batch();
  test_bad_perm_names_index();
  test_schedules();
  return check::finish("sampler_test");
}
