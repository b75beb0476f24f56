// JavaScript entry points inflateFrom (AsyncWorker, returns a Promise) and inflateFromSync.
#ifndef TURBO_NATIVE_INFLATE_BINDING_H
#define TURBO_NATIVE_INFLATE_BINDING_H

#include <napi.h>

namespace turbo {

Napi::Value InflateFromAsync(const Napi::CallbackInfo& info);
Napi::Value InflateFromSync(const Napi::CallbackInfo& info);

}  // namespace turbo

#endif
