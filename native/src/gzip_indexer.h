// One-pass gzip seek-point builder (the zran.c design of madler/zlib examples/zran.c v1.5, written anew):
// inflate with Z_BLOCK and record a point with its 32 KiB window at deflate block boundaries.
// Pure C++ over zlib (no N-API), so it runs on a worker thread.
#ifndef TURBO_NATIVE_GZIP_INDEXER_H
#define TURBO_NATIVE_GZIP_INDEXER_H

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "failure.h"

namespace turbo {

// Deflate history size (RFC 1951 section 2.2): a point carries at most this much preceding output.
constexpr size_t kWindowBytes = 32768;

struct SeekPoint {
  uint64_t uncompressedOffset;   // where inflate resumes in the uncompressed stream
  uint64_t compressedBitOffset;  // absolute bit position: byte = bit >> 3, bit & 7 bits of it already used
  bool memberStart;              // right after a gzip member header: byte aligned, empty window
  std::vector<uint8_t> window;   // last min(32 KiB, output since member start) bytes before the point
};

struct IndexSummary {
  uint64_t compressedBytes;
  uint64_t uncompressedBytes;
  uint64_t members;
  uint64_t trailingZeroBytes;
};

// Point rules (the consumer contract, see src/native.ts):
// - every gzip member gets a memberStart point right after its header (bits 0, empty window);
// - then a point at each end of a non-final deflate block ((data_type & 0xC0) == 0x80) once at least
//   `span` output bytes have passed since the previous point of the same member;
// - points are emitted in stream order. Two points may share an uncompressed offset (a point at the end of
//   a member followed by the next member's start, or an empty member): the consumer keeps the later one.
//   Two points never share (uncompressed offset, compressed bit offset): member starts are at least one
//   10-byte header apart and span points need span >= 1 new output bytes.
class GzipIndexer {
 public:
  explicit GzipIndexer(uint64_t spanBytes);
  ~GzipIndexer();
  GzipIndexer(const GzipIndexer&) = delete;
  GzipIndexer& operator=(const GzipIndexer&) = delete;

  // Consumes the next chunk of compressed bytes and appends the points found to `points`; when `output` is
  // not null, also appends the uncompressed bytes this chunk produced (copied out before the buffer slides).
  bool Push(const uint8_t* data, size_t length, std::vector<SeekPoint>& points, Failure& failure,
            std::vector<uint8_t>* output = nullptr);
  // Declares the end of input; TRUNCATED when it falls inside a member. Releases the zlib state.
  bool Finish(IndexSummary& summary, Failure& failure);
  // Frees zlib state and buffers (idempotent).
  void Release();

 private:
  enum class Phase { kExpectFirstMember, kInMember, kAfterMember, kZeroPadding, kFailed, kDone };

  bool PushImpl(const uint8_t* data, size_t length, std::vector<SeekPoint>& points, Failure& failure,
                std::vector<uint8_t>* output);
  bool InflateSome(const uint8_t* data, size_t length, size_t& pos, std::vector<SeekPoint>& points, Failure& failure,
                   std::vector<uint8_t>* output);
  void AddPoint(std::vector<SeekPoint>& points, int unusedBits, bool memberStart);
  bool StartMember(Failure& failure);

  z_stream strm_{};
  bool zlibReady_ = false;
  Phase phase_ = Phase::kExpectFirstMember;
  uint64_t span_;
  uint64_t totalIn_ = 0;          // compressed bytes consumed (absolute offset of the next byte)
  uint64_t totalOut_ = 0;         // uncompressed bytes produced
  uint64_t memberStartOut_ = 0;   // totalOut_ at the start of the current member
  uint64_t memberStartIn_ = 0;    // compressed offset of the current member's first byte
  uint64_t lastPointOut_ = 0;
  bool pointInMember_ = false;
  uint64_t members_ = 0;
  uint64_t zeroBytes_ = 0;
  std::vector<uint8_t> out_;      // output buffer; always holds >= min(32 KiB, totalOut_) bytes of history
  size_t have_ = 0;               // bytes of out_ in use
};

}  // namespace turbo

#endif
