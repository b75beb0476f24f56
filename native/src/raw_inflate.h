// Raw deflate inflate starting at a seek point: prime the leftover bits of the first byte, load the
// window as dictionary, discard a prefix, return the requested bytes. Pure C++ over zlib (no N-API).
#ifndef TURBO_NATIVE_RAW_INFLATE_H
#define TURBO_NATIVE_RAW_INFLATE_H

#include <cstddef>
#include <cstdint>

#include "failure.h"

namespace turbo {

struct RawInflateArgs {
  const uint8_t* input = nullptr;  // compressed bytes from byte (bit >> 3) of the seek point
  size_t inputLength = 0;
  int firstBitInByte = 0;          // bit & 7: bits of input[0] already used by the previous block (0..7)
  const uint8_t* window = nullptr; // dictionary (the point's window), may be empty
  size_t windowLength = 0;         // <= 32 KiB
  uint64_t skipBytes = 0;          // output bytes to discard first
  uint64_t outBytes = 0;           // at most this many output bytes are returned
};

struct RawInflateResult {
  uint8_t* data = nullptr;  // malloc'd, owned by the caller (free()); null when length is 0
  size_t length = 0;
  bool streamEnd = false;       // the deflate stream ended (end of the gzip member's data)
  bool inputExhausted = false;  // input ran out before outBytes were produced
};

// Returns false with `failure` set (CORRUPT with `offset` = index into input near the error,
// INVALID_ARGUMENT, INTERNAL); on success the caller owns result.data.
bool RawInflateFrom(const RawInflateArgs& args, RawInflateResult& result, Failure& failure);

}  // namespace turbo

#endif
