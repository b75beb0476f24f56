// The JavaScript Indexer object: wraps GzipIndexer, runs push/finish on AsyncWorkers, one at a time.
#ifndef TURBO_NATIVE_INDEXER_OBJECT_H
#define TURBO_NATIVE_INDEXER_OBJECT_H

#include <napi.h>

#include <memory>

#include "gzip_indexer.h"

namespace turbo {

class IndexerObject : public Napi::ObjectWrap<IndexerObject> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit IndexerObject(const Napi::CallbackInfo& info);

  // Called by the workers on the main thread when they complete.
  void WorkDone();

 private:
  Napi::Value Push(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  void CheckIdle(Napi::Env env, const char* what);

  std::unique_ptr<GzipIndexer> core_;
  bool busy_ = false;        // a push/finish worker is running
  bool destroyed_ = false;   // destroy() called or finish() done: no more work accepted
  bool releaseWhenIdle_ = false;
  bool emitOutput_ = false;  // push() also resolves with the uncompressed bytes of the chunk

  friend class IndexerWorker;
  friend class PushWorker;
  friend class FinishWorker;
};

}  // namespace turbo

#endif
