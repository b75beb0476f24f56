// One-pass gzip seek-point builder: Z_BLOCK inflate over a sliding output buffer (see gzip_indexer.h).
#include "gzip_indexer.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace turbo {

namespace {

// Output buffer: large so that inflate_fast runs long stretches; slid (last 32 KiB kept) when full.
constexpr size_t kOutBufferBytes = 1024 * 1024;
// zlib's avail_in is 32 bits: feed huge chunks in slices of this size.
constexpr size_t kMaxSlice = 1u << 30;
// windowBits 15 + 16: gzip wrapper only (RFC 1952), CRC-32 and ISIZE checked by zlib.
constexpr int kGzipWindowBits = 15 + 16;

std::string ZlibMessage(const z_stream& s, int ret) {
  if (s.msg != nullptr) return s.msg;
  return "zlib error " + std::to_string(ret);
}

}  // namespace

GzipIndexer::GzipIndexer(uint64_t spanBytes) : span_(spanBytes == 0 ? 1 : spanBytes) {}

GzipIndexer::~GzipIndexer() { Release(); }

void GzipIndexer::Release() {
  if (zlibReady_) {
    inflateEnd(&strm_);
    zlibReady_ = false;
  }
  std::vector<uint8_t>().swap(out_);
  have_ = 0;
}

bool GzipIndexer::StartMember(Failure& failure) {
  int ret;
  if (!zlibReady_) {
    strm_ = z_stream{};
    ret = inflateInit2(&strm_, kGzipWindowBits);
    if (ret == Z_OK) zlibReady_ = true;
  } else {
    ret = inflateReset2(&strm_, kGzipWindowBits);
  }
  if (ret != Z_OK) {
    failure.Set("INTERNAL", "zlib inflateInit2/inflateReset2 failed: " + ZlibMessage(strm_, ret));
    phase_ = Phase::kFailed;
    return false;
  }
  if (out_.empty()) out_.resize(kOutBufferBytes);
  memberStartOut_ = totalOut_;
  memberStartIn_ = totalIn_;
  pointInMember_ = false;
  phase_ = Phase::kInMember;
  return true;
}

void GzipIndexer::AddPoint(std::vector<SeekPoint>& points, int unusedBits, bool memberStart) {
  SeekPoint p;
  p.uncompressedOffset = totalOut_;
  // totalIn_ is the first unconsumed byte; the `unusedBits` high bits of the byte before it belong to
  // the next block, so the block starts (8 - unusedBits) bits into byte totalIn_ - 1.
  p.compressedBitOffset = totalIn_ * 8 - static_cast<uint64_t>(unusedBits);
  p.memberStart = memberStart;
  uint64_t sinceMember = totalOut_ - memberStartOut_;
  size_t len = sinceMember < kWindowBytes ? static_cast<size_t>(sinceMember) : kWindowBytes;
  // Invariant: have_ >= min(32 KiB, totalOut_) >= len, so the window is the tail of out_.
  p.window.assign(out_.data() + have_ - len, out_.data() + have_);
  points.push_back(std::move(p));
  lastPointOut_ = totalOut_;
  pointInMember_ = true;
}

// Runs inflate over data[pos..length) until the input is used up or the member ends.
bool GzipIndexer::InflateSome(const uint8_t* data, size_t length, size_t& pos, std::vector<SeekPoint>& points,
                              Failure& failure, std::vector<uint8_t>* output) {
  for (;;) {
    if (have_ == out_.size()) {
      std::memmove(out_.data(), out_.data() + have_ - kWindowBytes, kWindowBytes);
      have_ = kWindowBytes;
    }
    size_t slice = length - pos < kMaxSlice ? length - pos : kMaxSlice;
    strm_.next_in = const_cast<Bytef*>(data + pos);
    strm_.avail_in = static_cast<uInt>(slice);
    strm_.next_out = out_.data() + have_;
    strm_.avail_out = static_cast<uInt>(out_.size() - have_);
    int ret = inflate(&strm_, Z_BLOCK);
    size_t consumed = slice - strm_.avail_in;
    size_t produced = (out_.size() - have_) - strm_.avail_out;
    pos += consumed;
    totalIn_ += consumed;
    totalOut_ += produced;
    if (output != nullptr && produced > 0) output->insert(output->end(), out_.data() + have_, out_.data() + have_ + produced);
    have_ += produced;
    if (ret == Z_STREAM_END) {
      members_++;
      phase_ = Phase::kAfterMember;
      return true;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      const char* code = ret == Z_DATA_ERROR || ret == Z_NEED_DICT ? "CORRUPT" : "INTERNAL";
      char where[96];
      std::snprintf(where, sizeof where, " (gzip member %llu starting at byte %llu)",
                    static_cast<unsigned long long>(members_), static_cast<unsigned long long>(memberStartIn_));
      failure.SetAt(code, "invalid gzip data: " + ZlibMessage(strm_, ret) + where, totalIn_);
      phase_ = Phase::kFailed;
      return false;
    }
    // Bit 7: stopped at a block boundary or right after the header; bit 6: the block just ended was the last.
    if ((strm_.data_type & 0xC0) == 0x80 && (!pointInMember_ || totalOut_ - lastPointOut_ >= span_)) {
      AddPoint(points, strm_.data_type & 7, !pointInMember_);
    }
    // avail_out left over means inflate wanted more input: everything available has been used.
    if (strm_.avail_out != 0 && pos == length) return true;
    if (ret == Z_BUF_ERROR && strm_.avail_out != 0) {
      failure.SetAt("INTERNAL", "inflate made no progress with input and output space available", totalIn_);
      phase_ = Phase::kFailed;
      return false;
    }
  }
}

bool GzipIndexer::Push(const uint8_t* data, size_t length, std::vector<SeekPoint>& points, Failure& failure,
                       std::vector<uint8_t>* output) {
  bool ok = PushImpl(data, length, points, failure, output);
  if (!ok && phase_ == Phase::kFailed) Release();  // a failed indexer keeps no zlib state or buffers
  return ok;
}

bool GzipIndexer::PushImpl(const uint8_t* data, size_t length, std::vector<SeekPoint>& points, Failure& failure,
                           std::vector<uint8_t>* output) {
  if (phase_ == Phase::kFailed) {
    failure.Set("FAILED_PRECONDITION", "the indexer failed earlier; create a new one");
    return false;
  }
  if (phase_ == Phase::kDone) {
    failure.Set("FAILED_PRECONDITION", "the indexer is finished or destroyed");
    return false;
  }
  size_t pos = 0;
  while (pos < length) {
    switch (phase_) {
      case Phase::kInMember:
        if (!InflateSome(data, length, pos, points, failure, output)) return false;
        break;
      case Phase::kExpectFirstMember:
      case Phase::kAfterMember: {
        uint8_t b = data[pos];
        if (b == 0x1f) {
          if (!StartMember(failure)) return false;
        } else if (b == 0 && phase_ == Phase::kAfterMember) {
          phase_ = Phase::kZeroPadding;
        } else {
          char msg[128];
          std::snprintf(msg, sizeof msg,
                        phase_ == Phase::kExpectFirstMember
                            ? "input is not gzip: byte 0x%02x where the gzip magic 1f 8b must start"
                            : "garbage after gzip member: byte 0x%02x is neither a gzip header nor zero padding",
                        b);
          failure.SetAt("CORRUPT", msg, totalIn_);
          phase_ = Phase::kFailed;
          return false;
        }
        break;
      }
      case Phase::kZeroPadding: {
        // Only zeros may follow the first zero byte after the last member (as gzip(1) tolerates).
        while (pos < length && data[pos] == 0) {
          pos++;
          totalIn_++;
          zeroBytes_++;
        }
        if (pos < length) {
          char msg[128];
          std::snprintf(msg, sizeof msg, "non-zero byte 0x%02x in the zero padding after the last gzip member",
                        data[pos]);
          failure.SetAt("CORRUPT", msg, totalIn_);
          phase_ = Phase::kFailed;
          return false;
        }
        break;
      }
      case Phase::kFailed:
      case Phase::kDone:
        failure.Set("INTERNAL", "indexer phase error");
        return false;
    }
  }
  return true;
}

bool GzipIndexer::Finish(IndexSummary& summary, Failure& failure) {
  if (phase_ == Phase::kFailed || phase_ == Phase::kDone) {
    failure.Set("FAILED_PRECONDITION",
                phase_ == Phase::kFailed ? "the indexer failed earlier" : "the indexer is finished or destroyed");
    return false;
  }
  bool ok = true;
  if (phase_ == Phase::kExpectFirstMember) {
    failure.SetAt("TRUNCATED", "empty input: no gzip member", 0);
    ok = false;
  } else if (phase_ == Phase::kInMember) {
    char msg[160];
    std::snprintf(msg, sizeof msg,
                  "input ends inside gzip member %llu (starting at byte %llu) after %llu compressed bytes",
                  static_cast<unsigned long long>(members_), static_cast<unsigned long long>(memberStartIn_),
                  static_cast<unsigned long long>(totalIn_));
    failure.SetAt("TRUNCATED", msg, totalIn_);
    ok = false;
  } else {
    summary.compressedBytes = totalIn_;
    summary.uncompressedBytes = totalOut_;
    summary.members = members_;
    summary.trailingZeroBytes = zeroBytes_;
  }
  phase_ = ok ? Phase::kDone : Phase::kFailed;
  Release();
  return ok;
}

}  // namespace turbo
