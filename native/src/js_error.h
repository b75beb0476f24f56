// Turns a turbo::Failure into a JavaScript Error carrying `code` and, when known, `offset`.
#ifndef TURBO_NATIVE_JS_ERROR_H
#define TURBO_NATIVE_JS_ERROR_H

#include <napi.h>

#include "failure.h"

namespace turbo {

Napi::Error MakeJsError(Napi::Env env, const Failure& failure);
Napi::Error MakeJsError(Napi::Env env, const char* code, const std::string& message);

}  // namespace turbo

#endif
