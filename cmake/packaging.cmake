# `make deb`: a Debian package of the tokend binary, its systemd unit, its
# settings file (a conffile) and its documents, built by CPack.
include(GNUInstallDirs)

install(TARGETS tokend RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/tokend.service DESTINATION lib/systemd/system)
# An absolute destination: /etc, not /usr/etc. Mode 0640 in the archive: the
# maintainer scripts leave the file's mode alone, so an administrator's
# stricter one survives upgrades.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/tokend.env DESTINATION /etc/tokend
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/API.md
              ${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md ${PROJECT_SOURCE_DIR}/docs/PERFORMANCE.md
              ${PROJECT_SOURCE_DIR}/docs/openapi.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tokend)
set(CPACK_PACKAGE_VENDOR "tokend")
set(CPACK_PACKAGE_CONTACT "tokend maintainers <tokend@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "API token management service")
set(CPACK_PACKAGE_DESCRIPTION
    "tokend creates, checks, rotates and revokes API tokens over HTTP, with hashed\n secrets, scoped permissions and immediate revocation, on SQLite or PostgreSQL.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # tokend_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://localhost/tokend")
# Library dependencies from the binary itself (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
include(CPack)
