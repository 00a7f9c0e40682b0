# Warnings are errors for all of xrole's own code.
set(XROLE_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough -Werror)
# GCC 12 reports false -Wrestrict positives inside libstdc++'s string operator+ at -O3
# (GCC bug 105651); they are not about our code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  list(APPEND XROLE_WARNING_FLAGS -Wno-restrict)
endif()
function(xrole_set_warnings target)
  target_compile_options(${target} PRIVATE ${XROLE_WARNING_FLAGS})
endfunction()
