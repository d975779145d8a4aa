// The --schema files of the create ceilings (sqlite_group_insert and
// pg_group_insert): tokend's migrations, applied in the order given.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tokend::bench {

// Appends every file's text to `text`, in order, each followed by a newline;
// false (after saying which, as `program`) when one cannot be read.
inline bool AppendSchemaFiles(const char* program, const std::vector<std::string>& paths,
                              std::string& text) {
  for (const std::string& path : paths) {
    std::ifstream file(path);
    if (!file) {
      std::fprintf(stderr, "%s: cannot read %s\n", program, path.c_str());
      return false;
    }
    std::stringstream content;
    content << file.rdbuf();
    text += content.str();
    text += '\n';
  }
  return true;
}

}  // namespace tokend::bench
