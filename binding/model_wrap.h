// JS class NativeModel: owns one bigstep::Model (layer graph + workspace) and one Trainer scratch.
// The busy flag guards against use while an async training chunk or model pass runs on a worker thread.
#pragma once
#include <napi.h>

#include <memory>

#include "data_parallel_hvp.h"
#include "hvp.h"
#include "job.h"
#include "model.h"
#include "trainer.h"

namespace bigstep::binding {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

  // Throws ERR_BIGSTEP_BUSY / ERR_BIGSTEP_CLOSED when the model cannot be used now.
  Model& acquire(Napi::Env env);
  Trainer& trainer() { return trainer_; }
  ChunkScratch& chunk_scratch() { return chunk_scratch_; }
  void set_busy(bool busy) { busy_ = busy; }

  // Unwraps `value` as a NativeModel or throws TypeError naming `param`.
  static ModelWrap* from(Napi::Value value, const std::string& param);

 private:
  Napi::Value Layout(const Napi::CallbackInfo& info);
  Napi::Value Init(const Napi::CallbackInfo& info);
  Napi::Value LossAndGrad(const Napi::CallbackInfo& info);       // binding/gradient.cpp
  Napi::Value LossAndGradAsync(const Napi::CallbackInfo& info);  // binding/gradient.cpp
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value LossSums(const Napi::CallbackInfo& info);       // binding/evaluate.cpp
  Napi::Value LossSumsAsync(const Napi::CallbackInfo& info);  // binding/evaluate.cpp
  Napi::Value Hvp(const Napi::CallbackInfo& info);            // binding/hvp.cpp
  Napi::Value WorkspaceBytes(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsBusy(const Napi::CallbackInfo& info);

  std::unique_ptr<Model> model_;
  std::unique_ptr<HvpEngine> hvp_;    // created on the first hvp() call
  DataParallelHvpScratch hvp_ranks_;  // the data-parallel product's exchange buffers
  Trainer trainer_;
  ChunkScratch chunk_scratch_;  // async chunks' copies of ArrayBuffer-backed arrays (binding/job.h)
  bool busy_ = false;
};

}  // namespace bigstep::binding
