// Module entry of turbo_native.node: zlibVersion, createIndexer(span), inflateFrom, inflateFromSync.
// zlib is the copy exported by the node executable (see binding.gyp).
#include <napi.h>
#include <zlib.h>

#include "indexer_object.h"
#include "inflate_binding.h"

namespace {

Napi::Value CreateIndexer(const Napi::CallbackInfo& info) {
  Napi::FunctionReference* ctor = info.Env().GetInstanceData<Napi::FunctionReference>();
  std::vector<napi_value> args;
  for (size_t i = 0; i < info.Length(); i++) args.push_back(info[i]);
  return ctor->New(args);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = turbo::IndexerObject::DefineClass(env);
  auto* ref = new Napi::FunctionReference(Napi::Persistent(ctor));
  env.SetInstanceData<Napi::FunctionReference>(ref);
  exports.Set("zlibVersion", Napi::String::New(env, zlibVersion()));
  exports.Set("createIndexer", Napi::Function::New<CreateIndexer>(env, "createIndexer"));
  exports.Set("inflateFrom", Napi::Function::New<turbo::InflateFromAsync>(env, "inflateFrom"));
  exports.Set("inflateFromSync", Napi::Function::New<turbo::InflateFromSync>(env, "inflateFromSync"));
  return exports;
}

}  // namespace

NODE_API_MODULE(turbo_native, Init)
