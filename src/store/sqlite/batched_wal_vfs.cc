#include "store/sqlite/batched_wal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "store/sqlite/sqlite_connection.h"

namespace tokend::store::sqlite {
namespace {

constexpr char kVfsName[] = "tokend-batched-wal";
// A WAL frame starts with a 24-byte header; its bytes 4..7 hold the database
// size after the commit in a transaction's last frame, 0 in the others.
// Pages are 512 bytes or more and the WAL's own header is 32, so a 24-byte
// write is always a frame header.
constexpr int kFrameHeaderBytes = 24;
// A transaction larger than this (a migration, a spill of the page cache)
// is written out in pieces of this size.
constexpr std::size_t kMaxCollectedBytes = std::size_t{8} << 20;
// The default (unix) VFS writes at most 0x1ffff bytes per call: it masks the
// length with that, so a longer write would be cut short.
constexpr std::size_t kMaxWriteBytes = 120 * 1024;

sqlite3_vfs* root = nullptr;  // SQLite's default VFS, set before registration

struct Collected {
  std::vector<unsigned char> bytes;
  sqlite3_int64 offset = 0;           // where bytes[0] goes in the file
  bool commit_frame_started = false;  // a commit frame's header was collected
};

// SQLite allocates the VFS's szOsFile bytes per open file: a WAL gets this
// header, then the default VFS's own file in the rest.
struct BatchedWalFile {
  sqlite3_file base;  // first, so that SQLite's pointer is this one's
  sqlite3_file* real;
  Collected* collected;
};
constexpr int kRealFileOffset =
    static_cast<int>((sizeof(BatchedWalFile) + alignof(std::max_align_t) - 1) /
                     alignof(std::max_align_t) * alignof(std::max_align_t));

BatchedWalFile* Of(sqlite3_file* file) { return reinterpret_cast<BatchedWalFile*>(file); }

bool IsCommitFrameHeader(const unsigned char* header) {
  return (header[4] | header[5] | header[6] | header[7]) != 0;
}

int Flush(BatchedWalFile* file) {
  Collected& collected = *file->collected;
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < collected.bytes.size() && rc == SQLITE_OK;) {
    const std::size_t amount = std::min(kMaxWriteBytes, collected.bytes.size() - done);
    rc = file->real->pMethods->xWrite(file->real, collected.bytes.data() + done,
                                      static_cast<int>(amount),
                                      collected.offset + static_cast<sqlite3_int64>(done));
    done += amount;
  }
  // Written or failed, the frames are gone from here: a failed write fails
  // the transaction, and SQLite writes its frames again on the next one.
  collected.bytes.clear();
  return rc;
}

int Write(sqlite3_file* handle, const void* data, int amount, sqlite3_int64 offset) {
  BatchedWalFile* file = Of(handle);
  Collected& collected = *file->collected;
  const auto* bytes = static_cast<const unsigned char*>(data);
  const sqlite3_int64 end = collected.offset + static_cast<sqlite3_int64>(collected.bytes.size());
  if (!collected.bytes.empty() && offset >= collected.offset && offset + amount <= end) {
    // SQLite rewrites a frame of the open transaction in place when it
    // changes that page again.
    std::memcpy(collected.bytes.data() + (offset - collected.offset), bytes,
                static_cast<std::size_t>(amount));
    return SQLITE_OK;
  }
  if (!collected.bytes.empty() && offset != end) {
    if (const int rc = Flush(file); rc != SQLITE_OK) return rc;
  }
  if (collected.bytes.empty()) collected.offset = offset;
  try {
    collected.bytes.insert(collected.bytes.end(), bytes, bytes + amount);
  } catch (const std::bad_alloc&) {
    // No exception may cross SQLite; the transaction fails, as on any
    // failed write, and leaves nothing collected behind.
    collected.bytes.clear();
    return SQLITE_IOERR_NOMEM;
  }

  if (amount == kFrameHeaderBytes) {
    collected.commit_frame_started = IsCommitFrameHeader(bytes);
  } else if (collected.commit_frame_started) {
    // The commit frame is whole: out before SQLite publishes the commit,
    // whether or not it syncs the WAL first.
    collected.commit_frame_started = false;
    return Flush(file);
  }
  if (collected.bytes.size() >= kMaxCollectedBytes) return Flush(file);
  return SQLITE_OK;
}

int Read(sqlite3_file* handle, void* data, int amount, sqlite3_int64 offset) {
  BatchedWalFile* file = Of(handle);
  if (const int rc = Flush(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xRead(file->real, data, amount, offset);
}

int Truncate(sqlite3_file* handle, sqlite3_int64 size) {
  BatchedWalFile* file = Of(handle);
  if (const int rc = Flush(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xTruncate(file->real, size);
}

int Sync(sqlite3_file* handle, int flags) {
  BatchedWalFile* file = Of(handle);
  if (const int rc = Flush(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xSync(file->real, flags);
}

int FileSize(sqlite3_file* handle, sqlite3_int64* size) {
  BatchedWalFile* file = Of(handle);
  if (const int rc = Flush(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xFileSize(file->real, size);
}

int Close(sqlite3_file* handle) {
  BatchedWalFile* file = Of(handle);
  const int flushed = Flush(file);
  const int closed = file->real->pMethods->xClose(file->real);
  delete file->collected;
  file->collected = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int Lock(sqlite3_file* handle, int level) {
  sqlite3_file* real = Of(handle)->real;
  return real->pMethods->xLock(real, level);
}

int Unlock(sqlite3_file* handle, int level) {
  sqlite3_file* real = Of(handle)->real;
  return real->pMethods->xUnlock(real, level);
}

int CheckReservedLock(sqlite3_file* handle, int* out) {
  sqlite3_file* real = Of(handle)->real;
  return real->pMethods->xCheckReservedLock(real, out);
}

int FileControl(sqlite3_file* handle, int op, void* arg) {
  sqlite3_file* real = Of(handle)->real;
  return real->pMethods->xFileControl(real, op, arg);
}

int SectorSize(sqlite3_file* handle) {
  sqlite3_file* real = Of(handle)->real;
  return real->pMethods->xSectorSize(real);
}

int DeviceCharacteristics(sqlite3_file* handle) {
  sqlite3_file* real = Of(handle)->real;
  return real->pMethods->xDeviceCharacteristics(real);
}

// Version 1: SQLite maps and shares memory through the database file only,
// never through its WAL.
const sqlite3_io_methods kWalMethods = {
    .iVersion = 1,
    .xClose = Close,
    .xRead = Read,
    .xWrite = Write,
    .xTruncate = Truncate,
    .xSync = Sync,
    .xFileSize = FileSize,
    .xLock = Lock,
    .xUnlock = Unlock,
    .xCheckReservedLock = CheckReservedLock,
    .xFileControl = FileControl,
    .xSectorSize = SectorSize,
    .xDeviceCharacteristics = DeviceCharacteristics,
    .xShmMap = nullptr,
    .xShmLock = nullptr,
    .xShmBarrier = nullptr,
    .xShmUnmap = nullptr,
    .xFetch = nullptr,
    .xUnfetch = nullptr,
};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* handle, int flags, int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0) return root->xOpen(root, name, handle, flags, out_flags);
  BatchedWalFile* file = Of(handle);
  file->base.pMethods = nullptr;
  file->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(handle) + kRealFileOffset);
  file->collected = new (std::nothrow) Collected;
  if (file->collected == nullptr) return SQLITE_NOMEM;
  const int rc = root->xOpen(root, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (file->real->pMethods != nullptr) file->real->pMethods->xClose(file->real);
    delete file->collected;
    file->collected = nullptr;
    return rc;
  }
  file->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

// The rest of the VFS is the default one's.
int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return root->xDelete(root, name, sync_dir);
}
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return root->xAccess(root, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return root->xFullPathname(root, name, size, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return root->xDlOpen(root, name); }
void DlError(sqlite3_vfs*, int size, char* out) { root->xDlError(root, size, out); }
void (*DlSym(sqlite3_vfs*, void* library, const char* symbol))(void) {
  return root->xDlSym(root, library, symbol);
}
void DlClose(sqlite3_vfs*, void* library) { root->xDlClose(root, library); }
int Randomness(sqlite3_vfs*, int size, char* out) { return root->xRandomness(root, size, out); }
int Sleep(sqlite3_vfs*, int microseconds) { return root->xSleep(root, microseconds); }
int CurrentTime(sqlite3_vfs*, double* out) { return root->xCurrentTime(root, out); }
int GetLastError(sqlite3_vfs*, int size, char* out) { return root->xGetLastError(root, size, out); }
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return root->xCurrentTimeInt64(root, out);
}

sqlite3_vfs vfs{};

}  // namespace

const char* BatchedWalVfs() {
  static std::once_flag registered;
  static const char* name = nullptr;
  std::call_once(registered, [] {
    ConfigureSqliteLibrary();
    root = sqlite3_vfs_find(nullptr);
    // Version 2 methods are what the forwarding needs.
    if (root == nullptr || root->iVersion < 2) return;
    vfs.iVersion = 2;
    vfs.szOsFile = kRealFileOffset + root->szOsFile;
    vfs.mxPathname = root->mxPathname;
    vfs.zName = kVfsName;
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    vfs.xDlOpen = DlOpen;
    vfs.xDlError = DlError;
    vfs.xDlSym = DlSym;
    vfs.xDlClose = DlClose;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = GetLastError;
    vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) == SQLITE_OK) name = kVfsName;
  });
  return name;
}

}  // namespace tokend::store::sqlite
