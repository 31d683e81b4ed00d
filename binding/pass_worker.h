// PassWorker: one async pass over a model's data on the thread pool (an evaluation, a loss and
// gradient), settling a promise. The caller converts the arguments into a heap job whose arrays
// are pinned (Borrows::pin_for_worker, binding/job.h); the worker keeps the model object alive and
// the model busy (ERR_BIGSTEP_BUSY for every other use) until the promise settles, runs the job on
// the worker thread, and builds the result on the main thread. A NativeError from the pass
// rejects as its JS class.
#pragma once
#include <napi.h>

#include <exception>
#include <memory>
#include <optional>

#include "args.h"
#include "model_wrap.h"

namespace bigstep::binding {

template <typename Job>
class PassWorker : public Napi::AsyncWorker {
 public:
  using Run = void (*)(Model& model, Job& job);  // on the worker thread: touches only the job
  // On the main thread once the pass is over: the value to resolve with; throws a Napi::Error to reject.
  using Finish = Napi::Value (*)(Napi::Env env, Job& job);

  PassWorker(Napi::Env env, const char* name, ModelWrap* wrap, Model* model, Napi::Object model_object,
             std::unique_ptr<Job> job, Run run, Finish finish)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        model_(model),
        model_object_(Napi::Persistent(model_object)),
        job_(std::move(job)),
        run_(run),
        finish_(finish) {
    wrap_->set_busy(true);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      run_(*model_, *job_);
    } catch (const NativeError& e) {
      native_error_.emplace(e);
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native exception in an async model pass");
    }
  }
  void OnOK() override { settle(nullptr); }
  void OnError(const Napi::Error& e) override { settle(&e); }

 private:
  void settle(const Napi::Error* error) {
    wrap_->set_busy(false);
    settle_unless_terminating([&] {
      Napi::Env env = Env();
      if (native_error_) {
        deferred_.Reject(make_native_error(env, *native_error_).Value());
      } else if (error) {
        deferred_.Reject(error->Value());
      } else {
        Napi::Value result;
        try {
          result = finish_(env, *job_);
        } catch (const Napi::Error& e) {
          deferred_.Reject(e.Value());
          return;
        }
        deferred_.Resolve(result);
      }
    });
  }

  Napi::Promise::Deferred deferred_;
  ModelWrap* wrap_;
  Model* model_;  // cannot be closed while it is busy
  Napi::ObjectReference model_object_;
  std::unique_ptr<Job> job_;
  Run run_;
  Finish finish_;
  std::optional<NativeError> native_error_;
};

// Queues `job` on the thread pool and returns its promise (the job's arrays already pinned).
template <typename Job>
Napi::Promise queue_pass(Napi::Env env, const char* name, ModelWrap* wrap, Model& model, Napi::Object model_object,
                         std::unique_ptr<Job> job, typename PassWorker<Job>::Run run,
                         typename PassWorker<Job>::Finish finish) {
  auto* worker = new PassWorker<Job>(env, name, wrap, &model, model_object, std::move(job), run, finish);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace bigstep::binding
