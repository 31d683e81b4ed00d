// E1 landscape functions (native/landscape.h) for JS:
//   landscapeCreate(options)                          -> instance (plain data, Float64Arrays)
//   landscapePaper1d()                                -> the paper's 1-D illustration (kind 'paper-1d')
//   landscapeCurvatureBound(instance)                 -> analytic upper bound on |Hessian|_2
//   landscapeSample(options)                          -> Float64Array [count, dim], uniform in a ball
//   landscapeEval(instance, points, options?)         -> { value, grad, hessian? }          (sync)
//   landscapeMinima(instance, options?)               -> Promise<minima>                    (async)
//   landscapeRun(instance, minima, starts, options)   -> Promise<run result>                (async)
// Every argument is converted to a plain C++ struct (typed arrays are COPIED) on the main thread,
// so the async workers touch no JS value and hold no JS memory; errors name the parameter.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "landscape.h"
#include "register.h"

namespace bigstep::binding {

namespace {

namespace ls = bigstep::landscape;

constexpr int64_t kMaxSafe = 9007199254740991LL;  // 2^53 - 1

template <typename T, typename TA>
TA to_typed(Napi::Env env, const std::vector<T>& v) {
  TA a = TA::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}
Napi::Float64Array f64(Napi::Env env, const std::vector<double>& v) {
  return to_typed<double, Napi::Float64Array>(env, v);
}
Napi::Int32Array i32(Napi::Env env, const std::vector<int32_t>& v) {
  return to_typed<int32_t, Napi::Int32Array>(env, v);
}
Napi::Uint8Array u8(Napi::Env env, const std::vector<uint8_t>& v) {
  return to_typed<uint8_t, Napi::Uint8Array>(env, v);
}

std::vector<double> copy_f64(Napi::Value v, const std::string& param) {
  ArrayView<double> view = as_array<double>(v, param);
  return std::vector<double>(view.data, view.data + view.length);
}

Napi::Value required(Napi::Object obj, const char* key, const std::string& param) {
  Napi::Value v;
  if (!get_optional(obj, key, &v)) throw_type_error(obj.Env(), param + "." + key, "present");
  return v;
}

double opt_number(Napi::Object obj, const char* key, const std::string& param, double fallback) {
  Napi::Value v;
  return get_optional(obj, key, &v) ? as_finite(v, param + "." + key) : fallback;
}

int64_t opt_integer(Napi::Object obj, const char* key, const std::string& param, int64_t lo, int64_t hi,
                    int64_t fallback) {
  Napi::Value v;
  return get_optional(obj, key, &v) ? as_integer(v, param + "." + key, lo, hi) : fallback;
}

const char* kind_name(ls::Kind k) {
  return k == ls::Kind::Compact ? "compact" : k == ls::Kind::Paper1d ? "paper-1d" : "gaussian";
}

ls::Kind to_kind(Napi::Value v, const std::string& param, bool allow_paper) {
  const std::string k = as_string(v, param);
  if (k == "gaussian") return ls::Kind::Gaussian;
  if (k == "compact") return ls::Kind::Compact;
  if (allow_paper && k == "paper-1d") return ls::Kind::Paper1d;
  throw_range_error(
      v.Env(), param,
      std::string("must be 'gaussian', 'compact'") + (allow_paper ? " or 'paper-1d'" : "") + " (got '" + k + "')");
}

ls::Instance to_instance(Napi::Value value, const std::string& param) {
  Napi::Object o = as_object(value, param);
  ls::Instance inst;
  Napi::Value kv;
  if (get_optional(o, "kind", &kv)) inst.kind = to_kind(kv, param + ".kind", true);
  inst.dim = (int)as_integer(required(o, "dim", param), param + ".dim", 1, 1 << 16);
  inst.mu = as_finite(required(o, "mu", param), param + ".mu");
  inst.centers = copy_f64(required(o, "centers", param), param + ".centers");
  inst.depths = copy_f64(required(o, "depths", param), param + ".depths");
  inst.widths = copy_f64(required(o, "widths", param), param + ".widths");
  inst.dips = (int)inst.depths.size();
  ls::validate(inst);  // NativeError naming instance.<field>
  return inst;
}

Napi::Object instance_to_js(Napi::Env env, const ls::Instance& inst) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", kind_name(inst.kind));
  o.Set("dim", inst.dim);
  o.Set("mu", inst.mu);
  o.Set("dips", inst.dips);
  o.Set("centers", f64(env, inst.centers));
  o.Set("depths", f64(env, inst.depths));
  o.Set("widths", f64(env, inst.widths));
  return o;
}

Napi::Object options_or_empty(const Napi::CallbackInfo& info, size_t index, const std::string& param) {
  if (info.Length() <= index || info[index].IsUndefined()) return Napi::Object::New(info.Env());
  return as_object(info[index], param);
}

// ---- landscapeCreate -----------------------------------------------------------------------------

Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    Napi::Object o = as_object(info[0], "options");
    ls::GenerateOptions g;
    g.dim = (int)as_integer(required(o, "dim", "options"), "options.dim", 1, 1 << 16);
    g.dips = (int)as_integer(required(o, "dips", "options"), "options.dips", 0, 100000);
    if ((int64_t)g.dim * g.dips > (int64_t)1 << 24)
      throw_range_error(
          env, "options.dips",
          "times options.dim must be <= 2^24 (got " + std::to_string(g.dips) + " * " + std::to_string(g.dim) + ")");
    g.seed = (uint64_t)opt_integer(o, "seed", "options", 0, kMaxSafe, 0);
    Napi::Value kv;
    if (get_optional(o, "kind", &kv)) g.kind = to_kind(kv, "options.kind", false);
    g.mu = opt_number(o, "mu", "options", g.mu);
    g.radius_min = opt_number(o, "radiusMin", "options", g.radius_min);
    g.radius_max = opt_number(o, "radiusMax", "options", g.radius_max);
    g.depth_min = opt_number(o, "depthMin", "options", g.depth_min);
    g.depth_max = opt_number(o, "depthMax", "options", g.depth_max);
    g.sharpness_min = opt_number(o, "sharpnessMin", "options", g.sharpness_min);
    g.sharpness_max = opt_number(o, "sharpnessMax", "options", g.sharpness_max);
    g.separation = opt_number(o, "separation", "options", g.separation);
    return instance_to_js(env, ls::generate(g));
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

Napi::Value Paper1d(const Napi::CallbackInfo& info) { return instance_to_js(info.Env(), ls::paper1d()); }

Napi::Value CurvatureBound(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    return Napi::Number::New(env, ls::curvature_bound(to_instance(info[0], "instance")));
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

// ---- landscapeSample -----------------------------------------------------------------------------

Napi::Value Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    Napi::Object o = as_object(info[0], "options");
    const int dim = (int)as_integer(required(o, "dim", "options"), "options.dim", 1, 1 << 16);
    const int count = (int)as_integer(required(o, "count", "options"), "options.count", 0, 1 << 24);
    const double radius = as_finite(required(o, "radius", "options"), "options.radius");
    if (!(radius > 0)) throw_range_error(env, "options.radius", "must be > 0");
    const uint64_t seed = (uint64_t)opt_integer(o, "seed", "options", 0, kMaxSafe, 0);
    if ((int64_t)dim * count > (int64_t)1 << 28) throw_range_error(env, "options.count", "times dim must be <= 2^28");
    std::vector<double> out((size_t)dim * count);
    ls::sample_ball(dim, count, radius, seed, out.data());
    return f64(env, out);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

// ---- landscapeEval -------------------------------------------------------------------------------

Napi::Value Eval(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    ls::Instance inst = to_instance(info[0], "instance");
    // Options first: reading them may run a getter, which must not see `points` half-read.
    Napi::Object o = options_or_empty(info, 2, "options");
    Napi::Value hv;
    const bool want_h = get_optional(o, "hessian", &hv) && as_bool(hv, "options.hessian");
    Napi::Value ev;
    const bool want_e = get_optional(o, "eigenvalues", &ev) && as_bool(ev, "options.eigenvalues");
    ArrayView<double> pts = as_array<double>(info[1], "points");
    if (pts.length % inst.dim != 0)
      throw_range_error(env, "points",
                        "must have a length divisible by instance.dim = " + std::to_string(inst.dim) + " (got " +
                            std::to_string(pts.length) + ")");
    const size_t n = pts.length / inst.dim, d = inst.dim;
    // The Hessians are n*d*d doubles: cap them like landscapeSample (a failed allocation of the
    // result array would abort the process instead of throwing).
    if ((want_h || want_e) && (double)n * d * d > (double)(1 << 28))
      throw_range_error(env, "options.hessian",
                        "needs points*dim*dim <= 2^28 doubles (got " + std::to_string(n) + " points of dim " +
                            std::to_string(d) + "); evaluate fewer points");
    std::vector<double> x(pts.data, pts.data + pts.length);  // copy: the view may alias outputs
    Napi::Float64Array value = Napi::Float64Array::New(env, n);
    Napi::Float64Array grad = Napi::Float64Array::New(env, n * d);
    Napi::Object out = Napi::Object::New(env);
    for (size_t k = 0; k < n; ++k) value[k] = ls::value_grad(inst, &x[k * d], grad.Data() + k * d);
    out.Set("value", value);
    out.Set("grad", grad);
    if (want_h) {
      Napi::Float64Array h = Napi::Float64Array::New(env, n * d * d);
      for (size_t k = 0; k < n; ++k) ls::hessian(inst, &x[k * d], h.Data() + k * d * d);
      out.Set("hessian", h);
    }
    if (want_e) {  // Hessian spectrum, ascending per point [n, dim]
      Napi::Float64Array e = Napi::Float64Array::New(env, n * d);
      std::vector<double> h(d * d);
      for (size_t k = 0; k < n; ++k) {
        ls::hessian(inst, &x[k * d], h.data());
        ls::sym_eigenvalues((int)d, h.data(), e.Data() + k * d);
      }
      out.Set("eigenvalues", e);
    }
    return out;
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

// ---- landscapeMinima (async) ---------------------------------------------------------------------

Napi::Object minima_to_js(Napi::Env env, const ls::MinimaResult& r, int dim) {
  const size_t m = r.minima.size();
  std::vector<double> pts, vals, eig, lmin, lmax;
  std::vector<int32_t> hits, dip;
  for (const auto& mm : r.minima) {
    pts.insert(pts.end(), mm.x.begin(), mm.x.end());
    eig.insert(eig.end(), mm.eig.begin(), mm.eig.end());
    vals.push_back(mm.value);
    lmin.push_back(mm.lambda_min);
    lmax.push_back(mm.lambda_max);
    hits.push_back(mm.hits);
    dip.push_back(mm.nearest_dip);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", (double)m);
  o.Set("points", f64(env, pts));
  o.Set("values", f64(env, vals));
  o.Set("eigenvalues", f64(env, eig));
  o.Set("lambdaMin", f64(env, lmin));
  o.Set("lambdaMax", f64(env, lmax));
  o.Set("hits", i32(env, hits));
  o.Set("nearestDip", i32(env, dip));
  o.Set("globalIndex", r.global_index);
  o.Set("rBound", r.r_bound);
  o.Set("starts", r.starts);
  o.Set("unconverged", r.unconverged);
  o.Set("saddles", r.saddles);
  o.Set("gap", r.gap);
  o.Set("gridMin", r.grid_min);
  o.Set("verified", r.verified);
  o.Set("dipsWithoutMinimum", r.dips_without_minimum);
  o.Set("etaSharp", r.eta_sharp);
  o.Set("etaLocal", r.eta_local);
  o.Set("etaGlobal", r.eta_global);
  o.Set("etaMu", r.eta_mu);
  o.Set("minSeparation", r.min_separation);
  return o;
}

class MinimaWorker : public Napi::AsyncWorker {
 public:
  MinimaWorker(Napi::Env env, ls::Instance inst, ls::MinimaOptions opt)
      : Napi::AsyncWorker(env, "bigstep:landscapeMinima"),
        deferred_(Napi::Promise::Deferred::New(env)),
        inst_(std::move(inst)),
        opt_(opt) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      result_ = ls::find_minima(inst_, opt_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    settle_unless_terminating([&] { deferred_.Resolve(minima_to_js(Env(), result_, inst_.dim)); });
  }
  void OnError(const Napi::Error& e) override {
    settle_unless_terminating([&] { deferred_.Reject(e.Value()); });
  }

 private:
  Napi::Promise::Deferred deferred_;
  ls::Instance inst_;
  ls::MinimaOptions opt_;
  ls::MinimaResult result_;
};

Napi::Value Minima(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    ls::Instance inst = to_instance(info[0], "instance");
    Napi::Object o = options_or_empty(info, 1, "options");
    ls::MinimaOptions opt;
    opt.seed = (uint64_t)opt_integer(o, "seed", "options", 0, kMaxSafe, 0);
    opt.random_starts = (int)opt_integer(o, "randomStarts", "options", 0, 10000000, opt.random_starts);
    opt.grid_spacing = opt_number(o, "gridSpacing", "options", opt.grid_spacing);
    opt.grad_tol = opt_number(o, "gradTol", "options", opt.grad_tol);
    opt.max_iters = (int)opt_integer(o, "maxIters", "options", 1, 100000000, opt.max_iters);
    ls::validate_minima(inst, opt);
    auto* worker = new MinimaWorker(env, std::move(inst), opt);
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

// ---- landscapeRun (async) ------------------------------------------------------------------------

Napi::Object run_to_js(Napi::Env env, const ls::RunResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("finalX", f64(env, r.final_x));
  o.Set("finalValue", f64(env, r.final_value));
  o.Set("gradNorm", f64(env, r.grad_norm));
  o.Set("cls", i32(env, r.cls));
  o.Set("minimum", i32(env, r.minimum));
  o.Set("basin", i32(env, r.basin));
  o.Set("divergeStep", i32(env, r.diverge_step));
  o.Set("converged", u8(env, r.converged));
  o.Set("settled", f64(env, r.settled));
  o.Set("trajectories", f64(env, r.trajectories));
  o.Set("frames", r.frames);
  Napi::Object counts = Napi::Object::New(env);
  counts.Set("global", (double)r.counts[ls::kGlobal]);
  counts.Set("local", (double)r.counts[ls::kLocal]);
  counts.Set("oscillating", (double)r.counts[ls::kOscillating]);
  counts.Set("diverged", (double)r.counts[ls::kDiverged]);
  o.Set("counts", counts);
  o.Set("convergedCount", (double)r.converged_count);
  o.Set("basinGlobal", (double)r.basin_global);
  return o;
}

class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, ls::Instance inst, std::vector<double> minima, int m, int gidx, std::vector<double> starts,
            int n, ls::RunOptions opt)
      : Napi::AsyncWorker(env, "bigstep:landscapeRun"),
        deferred_(Napi::Promise::Deferred::New(env)),
        inst_(std::move(inst)),
        minima_(std::move(minima)),
        starts_(std::move(starts)),
        m_(m),
        gidx_(gidx),
        n_(n),
        opt_(opt) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      ls::run_gd(inst_, minima_.data(), m_, gidx_, starts_.data(), n_, opt_, &result_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    settle_unless_terminating([&] { deferred_.Resolve(run_to_js(Env(), result_)); });
  }
  void OnError(const Napi::Error& e) override {
    settle_unless_terminating([&] { deferred_.Reject(e.Value()); });
  }

 private:
  Napi::Promise::Deferred deferred_;
  ls::Instance inst_;
  std::vector<double> minima_, starts_;
  int m_, gidx_, n_;
  ls::RunOptions opt_;
  ls::RunResult result_;
};

Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    ls::Instance inst = to_instance(info[0], "instance");
    const int d = inst.dim;
    Napi::Object mo = as_object(info[1], "minima");
    std::vector<double> minima = copy_f64(required(mo, "points", "minima"), "minima.points");
    if (minima.empty() || minima.size() % d != 0)
      throw_range_error(env, "minima.points",
                        "must hold one or more points of instance.dim = " + std::to_string(d) +
                            " coordinates (got length " + std::to_string(minima.size()) + ")");
    const int m = (int)(minima.size() / d);
    const int gidx = (int)as_integer(required(mo, "globalIndex", "minima"), "minima.globalIndex", 0, m - 1);
    std::vector<double> starts = copy_f64(info[2], "starts");
    if (starts.size() % d != 0)
      throw_range_error(env, "starts",
                        "must have a length divisible by instance.dim = " + std::to_string(d) + " (got " +
                            std::to_string(starts.size()) + ")");
    if (starts.size() / d > (size_t)1 << 26) throw_range_error(env, "starts", "must hold at most 2^26 points");
    const int n = (int)(starts.size() / d);

    Napi::Object o = as_object(info[3], "options");
    ls::RunOptions opt;
    opt.eta = as_finite(required(o, "eta", "options"), "options.eta");
    opt.steps = (int)as_integer(required(o, "steps", "options"), "options.steps", 0, 1000000000);
    opt.noise_std = opt_number(o, "noiseStd", "options", 0);
    Napi::Value av;
    if (get_optional(o, "anneal", &av)) {
      const std::string a = as_string(av, "options.anneal");
      if (a == "none")
        opt.anneal = ls::Anneal::None;
      else if (a == "linear")
        opt.anneal = ls::Anneal::Linear;
      else if (a == "inverse")
        opt.anneal = ls::Anneal::Inverse;
      else
        throw_range_error(env, "options.anneal", "must be 'none', 'linear' or 'inverse' (got '" + a + "')");
    }
    opt.seed = (uint64_t)opt_integer(o, "seed", "options", 0, kMaxSafe, 0);
    opt.grad_tol = opt_number(o, "gradTol", "options", opt.grad_tol);
    opt.classify_radius = as_finite(required(o, "classifyRadius", "options"), "options.classifyRadius");
    opt.diverge_radius = opt_number(o, "divergeRadius", "options", opt.diverge_radius);
    opt.record_count = (int)opt_integer(o, "recordCount", "options", 0, n, 0);
    opt.record_every = (int)opt_integer(o, "recordEvery", "options", 1, 1000000000, 1);
    Napi::Value bv;
    if (get_optional(o, "basin", &bv)) opt.basin = as_bool(bv, "options.basin");
    opt.basin_max_move = opt_number(o, "basinMaxMove", "options", 0);
    Napi::Value nv;
    if (get_optional(o, "noise", &nv)) {
      const std::string k = as_string(nv, "options.noise");
      if (k == "gaussian")
        opt.noise = ls::Noise::Gaussian;
      else if (k == "uniform")
        opt.noise = ls::Noise::Uniform;
      else
        throw_range_error(env, "options.noise", "must be 'gaussian' or 'uniform' (got '" + k + "')");
    }
    opt.settle_radius = opt_number(o, "settleRadius", "options", 0);
    if (opt.basin_max_move < 0) throw_range_error(env, "options.basinMaxMove", "must be >= 0");
    const double frames = (double)opt.steps / opt.record_every + 2;
    if ((double)opt.record_count * frames * d > (double)(1 << 27))
      throw_range_error(env, "options.recordCount",
                        "times the frame count and dim must be <= 2^27 (raise recordEvery)");
    ls::validate_run(inst, m, gidx, n, opt);
    auto* worker = new RunWorker(env, std::move(inst), std::move(minima), m, gidx, std::move(starts), n, opt);
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

}  // namespace

void RegisterLandscape(Napi::Env env, Napi::Object exports) {
  exports.Set("landscapeCreate", Napi::Function::New(env, Create, "landscapeCreate"));
  exports.Set("landscapePaper1d", Napi::Function::New(env, Paper1d, "landscapePaper1d"));
  exports.Set("landscapeCurvatureBound", Napi::Function::New(env, CurvatureBound, "landscapeCurvatureBound"));
  exports.Set("landscapeSample", Napi::Function::New(env, Sample, "landscapeSample"));
  exports.Set("landscapeEval", Napi::Function::New(env, Eval, "landscapeEval"));
  exports.Set("landscapeMinima", Napi::Function::New(env, Minima, "landscapeMinima"));
  exports.Set("landscapeRun", Napi::Function::New(env, Run, "landscapeRun"));
}

}  // namespace bigstep::binding
