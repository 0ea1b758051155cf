# install() rules of the library (included by CMakeLists.txt with POCKETNN_INSTALL):
#   lib/libpocketnn.{a,so}, include/pocketnn.h,
#   lib/cmake/pocketnn/ (find_package(pocketnn) -> pocketnn::pocketnn), lib/pkgconfig/pocketnn.pc
include(CMakePackageConfigHelpers)
set(PNN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pocketnn)

install(TARGETS pocketnn EXPORT pocketnnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES runtime/include/pocketnn.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT pocketnnTargets NAMESPACE pocketnn:: DESTINATION ${PNN_CMAKE_DIR})

configure_package_config_file(cmake/pocketnnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/pocketnnConfig.cmake INSTALL_DESTINATION ${PNN_CMAKE_DIR})
# 0.x releases may change the API between minor versions.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pocketnnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pocketnnConfig.cmake ${PROJECT_BINARY_DIR}/pocketnnConfigVersion.cmake
  DESTINATION ${PNN_CMAKE_DIR})

# pkg-config: a shared library's users need -DPNN_SHARED only on Windows, but the flag
# keeps the two build systems' compile lines the same.
if(BUILD_SHARED_LIBS)
  set(PNN_PC_CFLAGS "-DPNN_SHARED")
else()
  set(PNN_PC_CFLAGS "")
endif()
# Relative install dirs are joined to ${prefix}, so the file stays relocatable.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(PNN_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(PNN_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(cmake/pocketnn.pc.in ${PROJECT_BINARY_DIR}/pocketnn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pocketnn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
