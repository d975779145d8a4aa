# Writes a C++ file defining tokend::http::ConsoleFiles(): every file of the
# console folder (flat, no subfolders) with its name and bytes. Run with
#   cmake -DDIR=<console folder> -DOUT=<file.cc> -P embed_console.cmake
file(GLOB paths LIST_DIRECTORIES false "${DIR}/*")
list(SORT paths)
set(arrays "")
set(entries "")
set(index 0)
foreach(path ${paths})
  get_filename_component(name "${path}" NAME)
  file(READ "${path}" content HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
  string(APPEND arrays "const unsigned char kFile${index}[] = {\n${bytes}0x00};\n")
  string(APPEND entries "    {\"${name}\", {reinterpret_cast<const char*>(kFile${index}), sizeof(kFile${index}) - 1}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUT}.tmp"
"// Generated from the console folder at build time; do not edit.
#include \"http/console_files.h\"

namespace tokend::http {
namespace {
${arrays}
const ConsoleFile kFiles[] = {
${entries}};
}  // namespace

std::span<const ConsoleFile> ConsoleFiles() { return kFiles; }

}  // namespace tokend::http
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
