# Third-party dependencies, all from Debian 12 packages (see scripts/setup.sh).
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(Threads REQUIRED)
if(XROLE_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  find_package(yaml-cpp CONFIG REQUIRED)  # tests only: an independent reader of YAML xrole writes
endif()
if(XROLE_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
find_package(OpenSSL 3 REQUIRED)   # libcrypto: Ed25519, SHA-256, HMAC, CSPRNG
find_package(SQLite3 REQUIRED)     # the embedded store
find_package(Boost 1.81 EXACT REQUIRED)  # header-only Asio/Beast (libboost1.81-dev), server only
find_package(simdjson 3 CONFIG REQUIRED)  # the authorize hot path's JSON reader (libsimdjson-dev)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # HTTP client of the CLI/tests
pkg_check_modules(LIBYAML REQUIRED IMPORTED_TARGET yaml-0.1)  # roles as code (libyaml-dev)

# The server's allocator: tcmalloc (libgoogle-perftools-dev) serves the many small, short-lived,
# cross-thread allocations of request handling with per-thread caches; glibc malloc contends on
# its arena locks there. Not used with the sanitizers, which bring their own allocator.
option(XROLE_TCMALLOC "Link the xrole binary with tcmalloc_minimal when it is installed" ON)
set(XROLE_ALLOCATOR_LIBRARY "")
if(XROLE_TCMALLOC AND NOT XROLE_SANITIZE AND NOT XROLE_BUILD_FUZZ)
  find_library(XROLE_TCMALLOC_LIBRARY NAMES tcmalloc_minimal)
  if(XROLE_TCMALLOC_LIBRARY)
    set(XROLE_ALLOCATOR_LIBRARY ${XROLE_TCMALLOC_LIBRARY})
  else()
    message(STATUS "tcmalloc_minimal not found: xrole uses the C library's malloc")
  endif()
endif()
