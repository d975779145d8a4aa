# tokend_layer(<target> <layer> PUBLIC <header>...)
#
# Makes the headers of src/<layer> includable as "<layer>/<name>.h" in two
# trees of links in the build folder: the PUBLIC headers in the tree that
# every target linking <target> sees, the others in a tree that only <target>
# itself sees (and white-box tests, benchmarks and fuzzers, by linking
# <target>_internal). So an include of another layer's internals, or of a
# layer the library does not link, fails to compile.
function(tokend_layer target layer)
  cmake_parse_arguments(ARG "" "" "PUBLIC" ${ARGN})
  set(source_root ${PROJECT_SOURCE_DIR}/src/${layer})
  set(public_root ${CMAKE_BINARY_DIR}/include/public/${layer})
  set(private_root ${CMAKE_BINARY_DIR}/include/private/${layer})
  file(REMOVE_RECURSE ${public_root} ${private_root})
  file(GLOB_RECURSE headers RELATIVE ${source_root} CONFIGURE_DEPENDS ${source_root}/*.h)
  foreach(public ${ARG_PUBLIC})
    if(NOT public IN_LIST headers)
      message(FATAL_ERROR "tokend_layer: ${layer}/${public} does not exist")
    endif()
  endforeach()
  foreach(header ${headers})
    if(header IN_LIST ARG_PUBLIC)
      set(link ${public_root}/${layer}/${header})
    else()
      set(link ${private_root}/${layer}/${header})
    endif()
    get_filename_component(link_dir ${link} DIRECTORY)
    file(MAKE_DIRECTORY ${link_dir})
    file(CREATE_LINK ${source_root}/${header} ${link} SYMBOLIC)
  endforeach()
  file(MAKE_DIRECTORY ${public_root} ${private_root})
  target_include_directories(${target} PUBLIC ${public_root} PRIVATE ${private_root})
  add_library(${target}_internal INTERFACE)
  target_include_directories(${target}_internal INTERFACE ${private_root})
  target_link_libraries(${target}_internal INTERFACE ${target})
endfunction()
