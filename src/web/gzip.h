// gzip (RFC 1952) compression of a body that is written in pieces, with
// zlib: each piece is compressed as it goes, so a compressed answer never
// holds more than one piece and zlib's window.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace lme {

class GzipStream {
 public:
  // level 1 (fastest) to 9 (smallest). Throws std::runtime_error when zlib
  // cannot start (out of memory).
  explicit GzipStream(int level);
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Compresses `in` and appends what zlib has ready to `out` (possibly
  // nothing); with `finish`, also the rest and the gzip trailer, after which
  // the stream is done.
  void Compress(std::string_view in, bool finish, std::string& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The whole of `text` gzip-compressed (tests, HTTP/1.0 answers).
std::string Gzip(std::string_view text, int level);

}  // namespace lme
