# Compiler settings shared by every FluoroPlan target.

# ccache pays off on 2-core machines where ITK templates compile slowly.
find_program(FLUOROPLAN_CCACHE ccache)
if(FLUOROPLAN_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${FLUOROPLAN_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${FLUOROPLAN_CCACHE})
endif()

add_library(fluoroplan_warnings INTERFACE)
target_compile_options(fluoroplan_warnings INTERFACE -Wall -Wextra)
# GCC 12 reports false -Wrestrict errors inside libstdc++ for ordinary string
# concatenation at -O3 (GCC bug 105329); the warning is off for GCC 12 only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(fluoroplan_warnings INTERFACE -Wno-restrict)
endif()
option(FLUOROPLAN_WERROR "Treat warnings as errors" ON)
if(FLUOROPLAN_WERROR)
  target_compile_options(fluoroplan_warnings INTERFACE -Werror)
endif()

# fluoroplan_add_library(name SOURCES ... DEPS ...): one library per folder.
function(fluoroplan_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} fluoroplan_warnings)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
