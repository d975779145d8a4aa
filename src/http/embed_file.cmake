# Writes a C++ file defining `std::string_view <FUNCTION>()` in namespace
# tokend::http that returns the bytes of IN. Run with
#   cmake -DIN=<file> -DOUT=<file.cc> -DFUNCTION=<name> -P embed_file.cmake
file(READ "${IN}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
get_filename_component(name "${IN}" NAME)
file(WRITE "${OUT}.tmp"
"// Generated from ${name} at build time; do not edit.
#include <string_view>

namespace tokend::http {
namespace {
const unsigned char kData[] = {
${bytes}0x00};
}  // namespace

std::string_view ${FUNCTION}() {
  return {reinterpret_cast<const char*>(kData), sizeof(kData) - 1};
}

}  // namespace tokend::http
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
