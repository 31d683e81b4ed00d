// NativeModel#hvp: exact Hessian-vector products (native/hvp.h), synchronous; with dataParallel,
// split over the MPI ranks (native/data_parallel_hvp.h: bitwise the one-process product).
#include <napi.h>

#include "args.h"
#include "job.h"
#include "model_wrap.h"
#include "mpi_collective.h"

namespace bigstep::binding {

// hvp(params, state, x, y, n, chunk, v: Float64Array, out: Float64Array, training, dataParallel)
// -> mean loss. Reads params/state/x/y/v, writes only out; the engine's scratch lives with the
// model. dataParallel: a collective call, every rank of the MPI job calls it with the same arguments.
Napi::Value ModelWrap::Hvp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Model& model = acquire(env);
  const bigstep::Layout& layout = model.layout();
  const float* params = as_array<float>(info[0], "params", layout.param_count).data;
  const float* state = layout.state_count ? as_array<float>(info[1], "state", layout.state_count).data : nullptr;
  const int n = (int)as_integer(info[4], "n", 1, 1 << 30);
  const int chunk = (int)as_integer(info[5], "batchSize", 1, 1 << 30);
  auto x = as_array<float>(info[2], "data.x");
  if (x.length != (size_t)n * layout.input_size)
    throw_range_error(env, "data.x",
                      "must have length n*inputSize = " + std::to_string(n) + "*" + std::to_string(layout.input_size) +
                          " (got " + std::to_string(x.length) + ")");
  Target y;
  if (model.spec().loss == LossKind::SoftmaxCrossEntropy) {
    auto labels = as_array<int32_t>(info[3], "data.y", (size_t)n);
    check_class_indices(env, labels.data, n, layout.output_size, "data.y");
    y.labels = labels.data;
  } else {
    y.values = as_array<float>(info[3], "data.y", (size_t)n * layout.output_size).data;
  }
  const double* v = as_array<double>(info[6], "v", layout.param_count).data;
  double* out = as_array<double>(info[7], "out", layout.param_count).data;
  const bool training = info[8].IsUndefined() ? false : as_bool(info[8], "training");
  const bool data_parallel = info[9].IsUndefined() ? false : as_bool(info[9], "dataParallel");
  if (data_parallel && !mpi_initialized())
    throw_state_error(env, "ERR_BIGSTEP_MPI",
                      mpi_built() ? "dataParallel needs MPI initialised first (initMpi())"
                                  : "dataParallel needs a build with MPI (apt-get install openmpi-bin "
                                    "libopenmpi-dev, then npm run build)");
  if (data_parallel) refuse_while_collective_chunk_runs(env, "dataParallel");
  double loss;
  try {
    if (!hvp_) hvp_ = std::make_unique<HvpEngine>(model.spec(), layout);
    loss = data_parallel ? data_parallel_hvp(*hvp_, mpi_world(), layout, params, state, x.data, y, n, chunk, v, out,
                                             training, hvp_ranks_)
                         : hvp_->product(params, state, x.data, y, n, chunk, v, out, training);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
  return Napi::Number::New(env, loss);
}

}  // namespace bigstep::binding
