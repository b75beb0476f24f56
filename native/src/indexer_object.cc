// The JavaScript Indexer object: push(chunk) and finish() inflate on the libuv thread pool (AsyncWorker)
// so the main thread can hash the compressed bytes meanwhile; destroy() frees at once or when idle.
#include "indexer_object.h"

#include <utility>
#include <vector>

#include "js_error.h"

namespace turbo {

namespace {

Napi::Object PointToJs(Napi::Env env, const SeekPoint& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("uncompressedOffset", Napi::Number::New(env, static_cast<double>(p.uncompressedOffset)));
  o.Set("compressedBitOffset", Napi::Number::New(env, static_cast<double>(p.compressedBitOffset)));
  o.Set("memberStart", Napi::Boolean::New(env, p.memberStart));
  o.Set("window", Napi::Buffer<uint8_t>::Copy(env, p.window.data(), p.window.size()));
  return o;
}

}  // namespace

// Expected inflate ratio used to size the output vector of a push up front (it still grows when exceeded).
constexpr size_t kOutputReserveFactor = 4;

// What both workers share: the promise, the indexer kept alive while the worker runs, and the failure reported on error.
class IndexerWorker : public Napi::AsyncWorker {
 public:
  IndexerWorker(Napi::Env env, const char* name, IndexerObject* owner, Napi::Object self)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), owner_(owner), core_(owner->core_.get()) {
    self_ = Napi::Persistent(self);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void OnError(const Napi::Error&) override {
    owner_->WorkDone();
    deferred_.Reject(MakeJsError(Env(), failure_).Value());
  }

 protected:
  // Marks the indexer idle and resolves the promise with `value`.
  void Resolve(Napi::Value value) {
    owner_->WorkDone();
    deferred_.Resolve(value);
  }

  GzipIndexer* core_;
  Failure failure_;

 private:
  Napi::Promise::Deferred deferred_;
  IndexerObject* owner_;
  Napi::ObjectReference self_;  // keeps the indexer alive while the worker runs
};

// Inflates one chunk on a worker thread; resolves with the points found (and, with emitOutput, its output).
class PushWorker : public IndexerWorker {
 public:
  PushWorker(Napi::Env env, IndexerObject* owner, Napi::Object self, Napi::Uint8Array chunk)
      : IndexerWorker(env, "turbo-oci:gzip-index-push", owner, self), data_(chunk.Data()), length_(chunk.ByteLength()) {
    chunk_ = Napi::Persistent(chunk);
    if (owner->emitOutput_) output_ = std::make_unique<std::vector<uint8_t>>();
  }

  void Execute() override {
    if (output_) output_->reserve(length_ * kOutputReserveFactor);
    if (!core_->Push(data_, length_, points_, failure_, output_.get())) SetError(failure_.message);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array arr = Napi::Array::New(env, points_.size());
    for (size_t i = 0; i < points_.size(); i++) arr.Set(static_cast<uint32_t>(i), PointToJs(env, points_[i]));
    if (!output_) {
      Resolve(arr);
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("points", arr);
    result.Set("output", OutputToJs(env));
    Resolve(result);
  }

 private:
  const uint8_t* data_;
  size_t length_;
  Napi::Reference<Napi::Uint8Array> chunk_;   // keeps the chunk's memory alive while the worker runs
  std::vector<SeekPoint> points_;
  std::unique_ptr<std::vector<uint8_t>> output_;  // null unless the indexer was created with emitOutput

  // Hands the output vector to a Buffer without copying; the Buffer's finalizer frees it.
  Napi::Buffer<uint8_t> OutputToJs(Napi::Env env) {
    if (output_->empty()) return Napi::Buffer<uint8_t>::New(env, 0);
    std::vector<uint8_t>* vec = output_.release();
    return Napi::Buffer<uint8_t>::New(
        env, vec->data(), vec->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, vec);
  }
};

// Declares the end of input on a worker thread; resolves with the summary.
class FinishWorker : public IndexerWorker {
 public:
  FinishWorker(Napi::Env env, IndexerObject* owner, Napi::Object self) : IndexerWorker(env, "turbo-oci:gzip-index-finish", owner, self) {}

  void Execute() override {
    if (!core_->Finish(summary_, failure_)) SetError(failure_.message);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("compressedBytes", Napi::Number::New(env, static_cast<double>(summary_.compressedBytes)));
    o.Set("uncompressedBytes", Napi::Number::New(env, static_cast<double>(summary_.uncompressedBytes)));
    o.Set("members", Napi::Number::New(env, static_cast<double>(summary_.members)));
    o.Set("trailingZeroBytes", Napi::Number::New(env, static_cast<double>(summary_.trailingZeroBytes)));
    Resolve(o);
  }

 private:
  IndexSummary summary_{};
};

Napi::Function IndexerObject::DefineClass(Napi::Env env) {
  return ObjectWrap<IndexerObject>::DefineClass(env, "GzipIndexer",
                                                {InstanceMethod<&IndexerObject::Push>("push"),
                                                 InstanceMethod<&IndexerObject::Finish>("finish"),
                                                 InstanceMethod<&IndexerObject::Destroy>("destroy")});
}

IndexerObject::IndexerObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IndexerObject>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw MakeJsError(env, "INVALID_ARGUMENT", "span must be a number");
  double span = info[0].As<Napi::Number>().DoubleValue();
  if (!(span >= 1 && span <= 9007199254740991.0) || span != static_cast<double>(static_cast<uint64_t>(span))) {
    throw MakeJsError(env, "INVALID_ARGUMENT", "span must be a positive integer");
  }
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsBoolean()) throw MakeJsError(env, "INVALID_ARGUMENT", "emitOutput must be a boolean");
    emitOutput_ = info[1].As<Napi::Boolean>().Value();
  }
  core_ = std::make_unique<GzipIndexer>(static_cast<uint64_t>(span));
}

void IndexerObject::CheckIdle(Napi::Env env, const char* what) {
  if (destroyed_) {
    throw MakeJsError(env, "FAILED_PRECONDITION", std::string(what) + " after finish() or destroy()");
  }
  if (busy_) {
    throw MakeJsError(env, "FAILED_PRECONDITION",
                      std::string(what) + " while a previous push()/finish() is still running: await it first");
  }
}

void IndexerObject::WorkDone() {
  busy_ = false;
  if (releaseWhenIdle_) {
    releaseWhenIdle_ = false;
    core_.reset();
  }
}

Napi::Value IndexerObject::Push(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env, "push()");
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw MakeJsError(env, "INVALID_ARGUMENT", "push() takes a Buffer or Uint8Array");
  }
  auto* worker = new PushWorker(env, this, info.This().As<Napi::Object>(), info[0].As<Napi::Uint8Array>());
  busy_ = true;
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value IndexerObject::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env, "finish()");
  auto* worker = new FinishWorker(env, this, info.This().As<Napi::Object>());
  busy_ = true;
  destroyed_ = true;  // no more work after finish(), whatever its outcome
  releaseWhenIdle_ = true;
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value IndexerObject::Destroy(const Napi::CallbackInfo& info) {
  destroyed_ = true;
  if (busy_) {
    releaseWhenIdle_ = true;  // the running worker still uses the core
  } else {
    core_.reset();
  }
  return info.Env().Undefined();
}

}  // namespace turbo
