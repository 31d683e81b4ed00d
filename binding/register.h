// Each binding/*.cpp file exposes one Register* function that adds its exports; addon.cpp calls
// them all. Keeps the files independent of one another.
// The env's instance-data slot is taken by RegisterModel (the NativeModel constructor).
#pragma once
#include <napi.h>

namespace bigstep::binding {
void RegisterInfo(Napi::Env env, Napi::Object exports);
void RegisterModel(Napi::Env env, Napi::Object exports);
void RegisterTrainer(Napi::Env env, Napi::Object exports);
void RegisterLandscape(Napi::Env env, Napi::Object exports);
void RegisterGemmBench(Napi::Env env, Napi::Object exports);
void RegisterSignals(Napi::Env env, Napi::Object exports);
void RegisterMpi(Napi::Env env, Napi::Object exports);
}  // namespace bigstep::binding
