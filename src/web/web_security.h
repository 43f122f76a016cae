// What --web.config.file asks of the HTTP server (TLS, basic auth, extra
// headers), kept current: like the exporter-toolkit, changes to the file and
// to the certificates it names take effect without a restart.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "util/logger.h"
#include "web/http_server.h"
#include "web/web_config.h"

namespace lme {

class BasicAuthenticator;

// What identifies a version of a file without reading it: when none of these
// changed, the file is not read again.
struct FileStamp {
  std::string path;
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{};
  timespec changed{};
};

bool SameStamps(const std::vector<FileStamp>& a,
                const std::vector<FileStamp>& b);

class WebSecurity : public RequestGuard {
 public:
  // An empty path means no file: plain HTTP without authentication. Throws
  // WebConfigError for a file that is unreadable, invalid or names bad TLS
  // files.
  WebSecurity(const std::string& config_file, Logger& logger);
  // A fixed configuration, never reloaded (tests).
  WebSecurity(const WebConfig& config, Logger& logger);
  ~WebSecurity() override;
  WebSecurity(const WebSecurity&) = delete;
  WebSecurity& operator=(const WebSecurity&) = delete;

  // As started: whether TLS is served cannot change without a restart.
  bool Tls() const override { return tls_; }
  bool BasicAuth();

  std::shared_ptr<boost::asio::ssl::context> TlsContext() override;
  Verdict Authorize(const char* authorization, bool may_bcrypt) override;
  HeaderList ExtraHeaders() override;

  struct Generation;  // one version of the files, as read

  // Re-reads the file and the files it names if any of them changed since
  // they were last read (modification time, size, inode), and switches to
  // the result when it is valid. An invalid one is logged once and the last
  // good configuration stays in force. Every method above calls it.
  void Refresh();

 private:
  std::shared_ptr<const Generation> Current();
  std::shared_ptr<const Generation> Load() const;

  const std::string config_file_;
  Logger& logger_;
  bool tls_ = false;
  std::mutex mutex_;
  std::shared_ptr<const Generation> current_;  // guarded by mutex_
  std::vector<FileStamp> failed_stamps_;       // guarded by mutex_
};

}  // namespace lme
