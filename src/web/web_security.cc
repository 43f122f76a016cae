#include "web/web_security.h"

#include <sys/stat.h>

#include <exception>

#include "web/basic_auth.h"
#include "web/tls_context.h"

namespace lme {

struct WebSecurity::Generation {
  WebConfig config;
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::shared_ptr<BasicAuthenticator> authenticator;  // null: no users
  std::vector<FileStamp> stamps;                      // what it was read from
};

namespace {

FileStamp Stamp(const std::string& path) {
  FileStamp stamp;
  stamp.path = path;
  struct stat info {};
  if (stat(path.c_str(), &info) == 0) {
    stamp.exists = true;
    stamp.device = info.st_dev;
    stamp.inode = info.st_ino;
    stamp.size = info.st_size;
    stamp.modified = info.st_mtim;
    stamp.changed = info.st_ctim;
  }
  return stamp;
}

bool SameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool SameStamp(const FileStamp& a, const FileStamp& b) {
  return a.path == b.path && a.exists == b.exists && a.device == b.device &&
         a.inode == b.inode && a.size == b.size &&
         SameTime(a.modified, b.modified) && SameTime(a.changed, b.changed);
}

// The config file first, then the files it names.
std::vector<FileStamp> Stamps(const std::string& config_file,
                              const WebConfig* config) {
  std::vector<FileStamp> stamps{Stamp(config_file)};
  if (config != nullptr && config->tls) {
    for (const std::string* path :
         {&config->tls->cert_file, &config->tls->key_file,
          &config->tls->client_ca_file}) {
      if (!path->empty()) stamps.push_back(Stamp(*path));
    }
  }
  return stamps;
}

}  // namespace

bool SameStamps(const std::vector<FileStamp>& a,
                const std::vector<FileStamp>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!SameStamp(a[i], b[i])) return false;
  }
  return true;
}

namespace {

std::shared_ptr<WebSecurity::Generation> Build(const WebConfig& config) {
  auto generation = std::make_shared<WebSecurity::Generation>();
  generation->config = config;
  if (config.tls) generation->tls = MakeTlsContext(*config.tls);
  if (!config.basic_auth_users.empty()) {
    generation->authenticator =
        std::make_shared<BasicAuthenticator>(config.basic_auth_users);
  }
  return generation;
}

}  // namespace

std::shared_ptr<const WebSecurity::Generation> WebSecurity::Load() const {
  // Stamped before reading: a file that changes while it is read is read
  // again on the next check.
  const FileStamp config_stamp = Stamp(config_file_);
  const WebConfig config =
      config_file_.empty() ? WebConfig{} : LoadWebConfig(config_file_);
  std::vector<FileStamp> stamps = Stamps(config_file_, &config);
  stamps.front() = config_stamp;
  auto generation = Build(config);
  generation->stamps = std::move(stamps);
  return generation;
}

WebSecurity::WebSecurity(const std::string& config_file, Logger& logger)
    : config_file_(config_file), logger_(logger) {
  current_ = Load();
  tls_ = current_->tls != nullptr;
}

WebSecurity::WebSecurity(const WebConfig& config, Logger& logger)
    : logger_(logger) {
  current_ = Build(config);
  tls_ = current_->tls != nullptr;
}

WebSecurity::~WebSecurity() = default;

void WebSecurity::Refresh() {
  if (config_file_.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const std::vector<FileStamp> now = Stamps(config_file_, &current_->config);
  if (SameStamps(now, current_->stamps) || SameStamps(now, failed_stamps_)) {
    return;
  }
  try {
    auto next = Load();
    if ((next->tls != nullptr) != tls_) {
      throw WebConfigError(
          "switching TLS on or off needs a restart of the exporter");
    }
    current_ = std::move(next);
    failed_stamps_.clear();
    logger_.Info("reloaded the web config file", {{"file", config_file_}});
  } catch (const std::exception& e) {
    // Once per version of the files, not on every request.
    failed_stamps_ = now;
    logger_.Error(
        "cannot reload the web config file; keeping the last good one",
        {{"file", config_file_}, {"err", e.what()}});
  }
}

std::shared_ptr<const WebSecurity::Generation> WebSecurity::Current() {
  Refresh();
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

bool WebSecurity::BasicAuth() { return Current()->authenticator != nullptr; }

std::shared_ptr<boost::asio::ssl::context> WebSecurity::TlsContext() {
  return Current()->tls;
}

RequestGuard::Verdict WebSecurity::Authorize(const char* authorization,
                                             bool may_bcrypt) {
  const auto generation = Current();
  if (!generation->authenticator) return Verdict::kAllow;
  try {
    if (!may_bcrypt) {
      const auto cheap =
          generation->authenticator->AllowsWithoutBcrypt(authorization);
      if (!cheap) return Verdict::kNeedsBcrypt;
      return *cheap ? Verdict::kAllow : Verdict::kDeny;
    }
    return generation->authenticator->Allows(authorization) ? Verdict::kAllow
                                                            : Verdict::kDeny;
  } catch (const std::exception&) {
    // A check that failed to run has not authenticated anyone.
    return Verdict::kDeny;
  }
}

HeaderList WebSecurity::ExtraHeaders() { return Current()->config.headers; }

}  // namespace lme
