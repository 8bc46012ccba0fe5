# All dependencies come from Debian 12 packages (see README.md and
# ../shared/DEPENDENCIES.md); nothing is downloaded at build time.
find_package(Threads REQUIRED)
find_package(DCMTK REQUIRED CONFIG)
find_package(OpenJPEG REQUIRED CONFIG)
# OpenJPEG's config exports plain variables; wrap them in a target.
if(NOT TARGET fluoroplan::openjp2)
  add_library(fluoroplan::openjp2 INTERFACE IMPORTED)
  set_target_properties(fluoroplan::openjp2 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OPENJPEG_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${OPENJPEG_LIBRARIES}")
endif()
find_package(nlohmann_json 3.10 REQUIRED)
find_package(SQLite3 REQUIRED) # the dose history (imaging/dose)

if(NOT FLUOROPLAN_FUZZ_ONLY)
  # Only the ITK modules we use, so that configure stays fast and the
  # include path short.
  find_package(ITK 5.2 REQUIRED COMPONENTS
    ITKCommon ITKIOImageBase ITKIONIFTI ITKIONRRD ITKIOPNG ITKIOGDCM
    ITKImageFunction ITKImageGrid)
  # Only the VTK modules we use; never GUISupportQt (Debian's is Qt 5).
  find_package(VTK 9.1 REQUIRED COMPONENTS
    CommonCore CommonDataModel CommonExecutionModel FiltersCore FiltersGeneral FiltersSources IOXML
    IOGeometry IOImage RenderingCore RenderingOpenGL2)
  find_package(CLI11 REQUIRED)
  find_package(GTest REQUIRED)
  find_package(benchmark REQUIRED)
endif()
