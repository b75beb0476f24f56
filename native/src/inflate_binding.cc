// inflateFrom / inflateFromSync: argument checks on the main thread, RawInflateFrom on a worker
// (or inline for the sync form), result as { output: Buffer, streamEnd, inputExhausted }.
#include "inflate_binding.h"

#include <cmath>
#include <cstdlib>

#include "js_error.h"
#include "raw_inflate.h"

namespace turbo {

namespace {

bool IsUint8Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

uint64_t NonNegativeInteger(Napi::Env env, const Napi::Value& v, const char* name) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d) {
    throw MakeJsError(env, "INVALID_ARGUMENT", std::string(name) + " must be a non-negative integer");
  }
  return static_cast<uint64_t>(d);
}

// Reads the positional arguments (input, firstBitInByte, window, skipBytes, outBytes).
RawInflateArgs ParseArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !IsUint8Array(info[0]) || !IsUint8Array(info[2])) {
    throw MakeJsError(env, "INVALID_ARGUMENT",
                      "inflateFrom(input: Uint8Array, firstBitInByte, window: Uint8Array, skipBytes, outBytes)");
  }
  RawInflateArgs a;
  Napi::Uint8Array input = info[0].As<Napi::Uint8Array>();
  Napi::Uint8Array window = info[2].As<Napi::Uint8Array>();
  a.input = input.Data();
  a.inputLength = input.ByteLength();
  uint64_t bit = NonNegativeInteger(env, info[1], "firstBitInByte");
  if (bit > 7) throw MakeJsError(env, "INVALID_ARGUMENT", "firstBitInByte must be from 0 to 7");
  a.firstBitInByte = static_cast<int>(bit);
  a.window = window.Data();
  a.windowLength = window.ByteLength();
  a.skipBytes = NonNegativeInteger(env, info[3], "skipBytes");
  a.outBytes = NonNegativeInteger(env, info[4], "outBytes");
  return a;
}

Napi::Object ResultToJs(Napi::Env env, RawInflateResult& r) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Buffer<uint8_t> output;
  if (r.length == 0) {
    output = Napi::Buffer<uint8_t>::New(env, 0);
  } else {
    // Hands the malloc'd bytes to JS without a copy where external buffers are allowed.
    output = Napi::Buffer<uint8_t>::NewOrCopy(env, r.data, r.length, [](Napi::Env, uint8_t* p) { std::free(p); });
  }
  r.data = nullptr;
  o.Set("output", output);
  o.Set("streamEnd", Napi::Boolean::New(env, r.streamEnd));
  o.Set("inputExhausted", Napi::Boolean::New(env, r.inputExhausted));
  return o;
}

class InflateWorker : public Napi::AsyncWorker {
 public:
  InflateWorker(Napi::Env env, const Napi::CallbackInfo& info, const RawInflateArgs& args)
      : Napi::AsyncWorker(env, "turbo-oci:inflate-from"), deferred_(Napi::Promise::Deferred::New(env)), args_(args) {
    input_ = Napi::Persistent(info[0].As<Napi::Uint8Array>());
    window_ = Napi::Persistent(info[2].As<Napi::Uint8Array>());
  }
  ~InflateWorker() override { std::free(result_.data); }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    if (!RawInflateFrom(args_, result_, failure_)) SetError(failure_.message);
  }
  void OnOK() override { deferred_.Resolve(ResultToJs(Env(), result_)); }
  void OnError(const Napi::Error&) override { deferred_.Reject(MakeJsError(Env(), failure_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  RawInflateArgs args_;
  Napi::Reference<Napi::Uint8Array> input_;   // keep the input and window memory alive while running
  Napi::Reference<Napi::Uint8Array> window_;
  RawInflateResult result_;
  Failure failure_;
};

}  // namespace

Napi::Value InflateFromAsync(const Napi::CallbackInfo& info) {
  RawInflateArgs args = ParseArgs(info);
  auto* worker = new InflateWorker(info.Env(), info, args);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value InflateFromSync(const Napi::CallbackInfo& info) {
  RawInflateArgs args = ParseArgs(info);
  RawInflateResult result;
  Failure failure;
  if (!RawInflateFrom(args, result, failure)) throw MakeJsError(info.Env(), failure);
  Napi::Object o = ResultToJs(info.Env(), result);
  return o;
}

}  // namespace turbo
