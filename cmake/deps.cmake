# Third-party dependencies, all from Debian 12 packages (see scripts/setup.sh).
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(Threads REQUIRED)
if(XROLE_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(XROLE_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
find_package(OpenSSL 3 REQUIRED)   # libcrypto: Ed25519, SHA-256, HMAC, CSPRNG
find_package(SQLite3 REQUIRED)     # the embedded store
find_package(Boost 1.81 EXACT REQUIRED)  # header-only Asio/Beast (libboost1.81-dev), server only
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # HTTP client of the CLI/tests
