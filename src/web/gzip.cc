#include "web/gzip.h"

#include <zlib.h>

#include <stdexcept>

namespace lme {

struct GzipStream::State {
  z_stream zs{};
};

GzipStream::GzipStream(int level) : state_(std::make_unique<State>()) {
  // windowBits 15 + 16: zlib's largest window, with a gzip header and trailer
  // instead of zlib's. memLevel 8: zlib's default (about 256 KiB a stream).
  if (deflateInit2(&state_->zs, level, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib: cannot start a gzip stream");
  }
}

GzipStream::~GzipStream() { deflateEnd(&state_->zs); }

void GzipStream::Compress(std::string_view in, bool finish, std::string& out) {
  z_stream& zs = state_->zs;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  const int flush = finish ? Z_FINISH : Z_NO_FLUSH;
  for (;;) {
    const std::size_t before = out.size();
    const std::size_t room = deflateBound(&zs, zs.avail_in) + 64;
    out.resize(before + room);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    zs.avail_out = static_cast<uInt>(room);
    const int result = deflate(&zs, flush);
    out.resize(before + (room - zs.avail_out));
    if (result == Z_STREAM_ERROR) {
      throw std::runtime_error("zlib: deflate failed");
    }
    if (finish ? result == Z_STREAM_END
               : (zs.avail_in == 0 && zs.avail_out != 0)) {
      return;
    }
  }
}

std::string Gzip(std::string_view text, int level) {
  GzipStream stream(level);
  std::string out;
  stream.Compress(text, true, out);
  return out;
}

}  // namespace lme
