// Raw deflate inflate from a seek point (zran.c "extract" step): inflatePrime + inflateSetDictionary.
#include "raw_inflate.h"

#include <zlib.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace turbo {

namespace {

constexpr size_t kSkipBufferBytes = 256 * 1024;  // discard buffer for skipBytes
constexpr size_t kMaxSlice = 1u << 30;           // zlib's avail_in / avail_out are 32 bits
constexpr size_t kMaxWindow = 32768;

struct InflateGuard {
  z_stream* s;
  ~InflateGuard() { inflateEnd(s); }
};

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

}  // namespace

bool RawInflateFrom(const RawInflateArgs& a, RawInflateResult& result, Failure& failure) {
  result = RawInflateResult{};
  if (a.firstBitInByte < 0 || a.firstBitInByte > 7) {
    failure.Set("INVALID_ARGUMENT", "firstBitInByte must be an integer from 0 to 7");
    return false;
  }
  if (a.firstBitInByte > 0 && a.inputLength == 0) {
    failure.Set("INVALID_ARGUMENT", "firstBitInByte > 0 needs at least one input byte");
    return false;
  }
  if (a.windowLength > kMaxWindow) {
    failure.Set("INVALID_ARGUMENT", "window is larger than 32 KiB");
    return false;
  }
  if (a.outBytes == 0) return true;
  if (a.outBytes > static_cast<uint64_t>(SIZE_MAX / 2)) {
    failure.Set("INVALID_ARGUMENT", "outBytes is too large");
    return false;
  }

  z_stream s{};
  int ret = inflateInit2(&s, -15);
  if (ret != Z_OK) {
    failure.Set("INTERNAL", "zlib inflateInit2 failed");
    return false;
  }
  InflateGuard guard{&s};
  size_t inPos = 0;
  if (a.firstBitInByte > 0) {
    int bits = 8 - a.firstBitInByte;
    ret = inflatePrime(&s, bits, a.input[0] >> a.firstBitInByte);
    inPos = 1;
    if (ret != Z_OK) {
      failure.Set("INTERNAL", "zlib inflatePrime failed");
      return false;
    }
  }
  if (a.windowLength > 0) {
    ret = inflateSetDictionary(&s, a.window, static_cast<uInt>(a.windowLength));
    if (ret != Z_OK) {
      failure.Set("INTERNAL", "zlib inflateSetDictionary failed");
      return false;
    }
  }

  // One step of inflate into [dst, dst + room); returns produced bytes, sets flags, or -1 on error.
  auto step = [&](uint8_t* dst, size_t room, bool& stop) -> long long {
    size_t slice = a.inputLength - inPos < kMaxSlice ? a.inputLength - inPos : kMaxSlice;
    size_t outSlice = room < kMaxSlice ? room : kMaxSlice;
    s.next_in = const_cast<Bytef*>(a.input + inPos);
    s.avail_in = static_cast<uInt>(slice);
    s.next_out = dst;
    s.avail_out = static_cast<uInt>(outSlice);
    int r = inflate(&s, Z_NO_FLUSH);
    inPos += slice - s.avail_in;
    size_t produced = outSlice - s.avail_out;
    stop = false;
    if (r == Z_STREAM_END) {
      result.streamEnd = true;
      stop = true;
    } else if (r == Z_OK || r == Z_BUF_ERROR) {
      // Output room left over with all input used: nothing more can come out.
      if (s.avail_out != 0 && inPos == a.inputLength) {
        result.inputExhausted = true;
        stop = true;
      } else if (r == Z_BUF_ERROR && s.avail_out != 0) {
        failure.SetAt("INTERNAL", "inflate made no progress", inPos);
        return -1;
      }
    } else {
      const char* code = r == Z_DATA_ERROR || r == Z_NEED_DICT ? "CORRUPT" : "INTERNAL";
      failure.SetAt(code, std::string("invalid deflate data: ") + (s.msg ? s.msg : "zlib error"), inPos);
      return -1;
    }
    return static_cast<long long>(produced);
  };

  uint64_t skipped = 0;
  if (a.skipBytes > 0) {
    std::unique_ptr<uint8_t[]> scratch(new uint8_t[kSkipBufferBytes]);
    while (skipped < a.skipBytes) {
      uint64_t left = a.skipBytes - skipped;
      size_t room = left < kSkipBufferBytes ? static_cast<size_t>(left) : kSkipBufferBytes;
      bool stop;
      long long got = step(scratch.get(), room, stop);
      if (got < 0) return false;
      skipped += static_cast<uint64_t>(got);
      if (stop) return true;  // ended before the requested range began: empty output
    }
  }

  size_t want = static_cast<size_t>(a.outBytes);
  std::unique_ptr<uint8_t, FreeDeleter> out(static_cast<uint8_t*>(std::malloc(want)));
  if (!out) {
    failure.Set("INTERNAL", "out of memory for the inflate output");
    return false;
  }
  size_t have = 0;
  while (have < want) {
    bool stop;
    long long got = step(out.get() + have, want - have, stop);
    if (got < 0) return false;
    have += static_cast<size_t>(got);
    if (stop) break;
  }
  if (have == 0) return true;
  if (have < want / 2) {
    // Give back the unused tail of a large, mostly unused allocation.
    void* shrunk = std::realloc(out.get(), have);
    if (shrunk != nullptr) {
      out.release();
      out.reset(static_cast<uint8_t*>(shrunk));
    }
  }
  result.data = out.release();
  result.length = have;
  return true;
}

}  // namespace turbo
