# Writes a C++ file defining tokend::store::EmbeddedMigration(path-tail) data:
# one entry per input file, keyed by "<backend>/<file name>".
separate_arguments(files UNIX_COMMAND "${INPUTS}")
set(body "// Generated from src/store/migrations; do not edit.\n#include \"store/embedded_migrations.h\"\n\nnamespace tokend::store {\n\nconst std::vector<EmbeddedFile>& EmbeddedMigrations() {\n  static const std::vector<EmbeddedFile> files = {\n")
foreach(f IN LISTS files)
  file(READ "${f}" content)
  get_filename_component(name "${f}" NAME)
  get_filename_component(dir "${f}" DIRECTORY)
  get_filename_component(backend "${dir}" NAME)
  string(APPEND body "      {\"${backend}/${name}\", R\"tokendsql(${content})tokendsql\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace tokend::store\n")
file(WRITE "${OUT}" "${body}")
