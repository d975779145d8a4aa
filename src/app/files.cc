#include "app/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace tokend::app {
namespace {

constexpr mode_t kPrivateDirMode = 0700;
constexpr mode_t kPrivateFileMode = 0600;

std::string ErrnoText(int error) { return std::generic_category().message(error); }

// Writes all of `content` to `fd`, retrying short writes.
bool WriteAll(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The rename into `dir` survives a crash once the folder itself is synced.
void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

core::Status CreatePrivateDirectories(const std::string& dir) {
  std::filesystem::path prefix;
  for (const std::filesystem::path& part : std::filesystem::path(dir)) {
    prefix /= part;
    if (::mkdir(prefix.c_str(), kPrivateDirMode) == 0) {
      // mkdir's mode is filtered by the umask; this folder must be 0700.
      if (::chmod(prefix.c_str(), kPrivateDirMode) != 0) {
        return core::Status::Unavailable("cannot set the mode of the folder '" + prefix.string() +
                                         "': " + ErrnoText(errno));
      }
      continue;
    }
    const int error = errno;
    struct stat info {};
    if (error == EEXIST && ::stat(prefix.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) continue;
    return core::Status::Unavailable("cannot create the folder '" + prefix.string() +
                                     "': " + ErrnoText(error == EEXIST ? ENOTDIR : error));
  }
  return core::Status::Ok();
}

core::Status CheckPrivateFileSpot(const std::string& dir, const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(dir) / name;
  struct stat info {};
  // The file and the temporary one written first: a folder at either name
  // cannot be replaced or removed.
  for (const std::filesystem::path& file : {path, std::filesystem::path(path.string() + ".tmp")}) {
    if (::lstat(file.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      return core::Status::InvalidArgument("'" + file.string() +
                                           "' is a folder: tokend cannot write its file there");
    }
  }
  // The nearest entry on the way that exists (a link to nothing included)
  // must be a folder tokend may write in; the folders below it are made.
  std::filesystem::path folder =
      dir.empty() ? std::filesystem::path(".") : std::filesystem::path(dir);
  while (::lstat(folder.c_str(), &info) != 0) {
    if (errno != ENOENT || !folder.has_relative_path() || folder.parent_path() == folder) break;
    folder = folder.parent_path().empty() ? std::filesystem::path(".") : folder.parent_path();
  }
  if (::stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return core::Status::InvalidArgument("'" + folder.string() + "' is not a folder (for '" +
                                         path.string() + "')");
  }
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    return core::Status::InvalidArgument("cannot write in the folder '" + folder.string() +
                                         "' (for '" + path.string() + "'): " + ErrnoText(errno));
  }
  return core::Status::Ok();
}

core::Result<std::string> WritePrivateFile(const std::string& dir, const std::string& name,
                                           std::string_view content) {
  if (core::Status status = CreatePrivateDirectories(dir); !status.ok()) return status;
  const std::string path = (std::filesystem::path(dir) / name).string();
  const std::string temp = path + ".tmp";
  constexpr int kCreateFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  int fd = ::open(temp.c_str(), kCreateFlags, kPrivateFileMode);
  if (fd < 0 && errno == EEXIST) {
    // Left by a crash, or planted. unlink removes the name itself: a symbolic
    // link goes, its target stays untouched.
    if (::unlink(temp.c_str()) != 0 && errno != ENOENT) {
      return core::Status::Unavailable("cannot remove the stale file '" + temp +
                                       "': " + ErrnoText(errno));
    }
    fd = ::open(temp.c_str(), kCreateFlags, kPrivateFileMode);
  }
  if (fd < 0) {
    return core::Status::Unavailable("cannot create '" + temp + "': " + ErrnoText(errno));
  }
  // fchmod: the umask may have taken bits off; fsync: durable before the
  // rename makes it visible.
  const bool written =
      ::fchmod(fd, kPrivateFileMode) == 0 && WriteAll(fd, content) && ::fsync(fd) == 0;
  const int write_error = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temp.c_str());
    return core::Status::Unavailable("cannot write '" + temp + "': " + ErrnoText(write_error));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return core::Status::Unavailable("cannot write '" + path + "': " + ErrnoText(error));
  }
  SyncDirectory(dir);
  return path;
}

}  // namespace tokend::app
