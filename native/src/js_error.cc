// Failure -> JavaScript Error with `code` (an ErrorCode of src/errors.ts) and `offset` properties.
#include "js_error.h"

namespace turbo {

Napi::Error MakeJsError(Napi::Env env, const Failure& failure) {
  Napi::Error err = Napi::Error::New(env, failure.message);
  err.Value().Set("code", Napi::String::New(env, failure.code));
  if (failure.hasOffset) err.Value().Set("offset", Napi::Number::New(env, static_cast<double>(failure.offset)));
  return err;
}

Napi::Error MakeJsError(Napi::Env env, const char* code, const std::string& message) {
  Failure f;
  f.Set(code, message);
  return MakeJsError(env, f);
}

}  // namespace turbo
