# Warnings are errors for all of xrole's own code.
set(XROLE_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough -Werror)
function(xrole_set_warnings target)
  target_compile_options(${target} PRIVATE ${XROLE_WARNING_FLAGS})
endfunction()
