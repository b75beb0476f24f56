// A failure of the native engine, independent of N-API: a stable code (the ErrorCode names of
// src/errors.ts), a message and, when known, the byte offset in the compressed input.
#ifndef TURBO_NATIVE_FAILURE_H
#define TURBO_NATIVE_FAILURE_H

#include <cstdint>
#include <string>

namespace turbo {

struct Failure {
  std::string code;     // "CORRUPT", "TRUNCATED", "INVALID_ARGUMENT", "FAILED_PRECONDITION", "INTERNAL"
  std::string message;  // one sentence, no trailing period
  bool hasOffset = false;
  uint64_t offset = 0;  // byte offset in the compressed input the failure refers to

  void Set(const char* c, std::string m) {
    code = c;
    message = std::move(m);
    hasOffset = false;
  }
  void SetAt(const char* c, std::string m, uint64_t at) {
    code = c;
    message = std::move(m);
    hasOffset = true;
    offset = at;
  }
};

}  // namespace turbo

#endif
