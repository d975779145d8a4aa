// The files and folders tokend creates itself (the data folder, the SQLite
// file's folder, the bootstrap secret): private to the user tokend runs as,
// and never written through a link someone else planted.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace tokend::app {

// Creates `dir` and every missing folder above it with mode 0700 (exactly,
// whatever the umask). Folders that exist already are left as they are.
// Unavailable naming the folder when one cannot be created.
core::Status CreatePrivateDirectories(const std::string& dir);

// Writes `content` to DIR/NAME with mode 0600 and returns that path; creates
// DIR as CreatePrivateDirectories does. The content is written to
// DIR/NAME.tmp, created afresh (O_EXCL | O_NOFOLLOW: an old or planted
// NAME.tmp, symbolic link included, is removed first, never followed), synced,
// then renamed over NAME, which replaces whatever NAME was (a symbolic link
// there is replaced, its target left alone). Unavailable naming the file.
core::Result<std::string> WritePrivateFile(const std::string& dir, const std::string& name,
                                           std::string_view content);

// Whether WritePrivateFile(dir, name, ...) can succeed, creating nothing:
// `dir`, or the nearest folder above it that exists, is a folder this
// process may write in, and DIR/NAME is absent or something a rename can
// replace (not a folder). InvalidArgument naming the path otherwise.
core::Status CheckPrivateFileSpot(const std::string& dir, const std::string& name);

}  // namespace tokend::app
