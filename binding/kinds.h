// The option kinds, spelled once: each table maps the JS name of a kind to its native enum. The
// binding parses with these tables (parse_kind) and exports them as `kinds` (binding/kinds.cpp),
// which the TypeScript layer checks its options against, so TS and C++ share one list per kind.
// One message template for a bad kind, on both sides:
//   <param> must be one of a, b, c (got "x")
#pragma once
#include <napi.h>

#include <cstddef>
#include <string>

#include "args.h"
#include "model.h"
#include "trainer.h"

namespace bigstep::binding {

template <typename E>
struct KindName {
  const char* name;
  E value;
};

inline constexpr KindName<BatchMode> kBatchModes[] = {
    {"full", BatchMode::Full},
    {"sequential", BatchMode::Sequential},
    {"shuffle", BatchMode::Shuffle},
    {"replacement", BatchMode::Replacement},
};

inline constexpr KindName<ScheduleKind> kScheduleKinds[] = {
    {"constant", ScheduleKind::Constant},
    {"step", ScheduleKind::StepDecay},
    {"cosine", ScheduleKind::Cosine},
    {"piecewise", ScheduleKind::Piecewise},
};

inline constexpr KindName<TransformKind> kTransformKinds[] = {
    {"clipGlobalNorm", TransformKind::ClipGlobalNorm},
    {"addWeightDecay", TransformKind::AddWeightDecay},
    {"gaussianNoise", TransformKind::GaussianNoise},
    {"momentum", TransformKind::Momentum},
    {"scaleByLearningRate", TransformKind::ScaleByLearningRate},
    {"decoupledWeightDecay", TransformKind::DecoupledWeightDecay},
};

inline constexpr KindName<Transform::NoiseMode> kNoiseModes[] = {
    {"std", Transform::NoiseMode::Std},
    {"norm", Transform::NoiseMode::Norm},
    {"relative", Transform::NoiseMode::Relative},
};

inline constexpr KindName<LayerKind> kLayerTypes[] = {
    {"dense", LayerKind::Dense},
    {"conv2d", LayerKind::Conv2d},
    {"maxpool", LayerKind::MaxPool},
    {"avgpool", LayerKind::AvgPool},
    {"globalavgpool", LayerKind::GlobalAvgPool},
    {"flatten", LayerKind::Flatten},
    {"relu", LayerKind::Relu},
    {"tanh", LayerKind::Tanh},
    {"gelu", LayerKind::Gelu},
    {"resblock", LayerKind::ResBlock},
    {"batchnorm", LayerKind::BatchNorm},
};

inline constexpr KindName<LossKind> kLosses[] = {
    {"softmax-cross-entropy", LossKind::SoftmaxCrossEntropy},
    {"mse", LossKind::MeanSquaredError},
};

inline constexpr KindName<InitKind> kInits[] = {
    {"he", InitKind::HeNormal},
    {"xavier", InitKind::XavierUniform},
};

// "a, b, c": the names of a table, in its order.
template <typename E, size_t N>
std::string kind_list(const KindName<E> (&table)[N]) {
  std::string out;
  for (size_t i = 0; i < N; ++i) out += (i ? ", " : "") + std::string(table[i].name);
  return out;
}

// The kind named by the string `v`: TypeError naming `param` if it is not a string, RangeError
// "<param> must be one of a, b, c (got "x")" if it names no kind of the table.
template <typename E, size_t N>
E parse_kind(const KindName<E> (&table)[N], Napi::Value v, const std::string& param) {
  if (!v.IsString()) throw_type_error(v.Env(), param, "one of " + kind_list(table) + " (a string)");
  const std::string name = v.As<Napi::String>().Utf8Value();
  for (const KindName<E>& k : table)
    if (name == k.name) return k.value;
  throw_range_error(v.Env(), param, "must be one of " + kind_list(table) + " (got \"" + name + "\")");
}

}  // namespace bigstep::binding
