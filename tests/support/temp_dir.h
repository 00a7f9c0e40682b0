// temp_dir.h: a fresh directory under the system temp directory for one test, removed with
// everything in it when the test ends.
#ifndef XROLE_TESTS_SUPPORT_TEMP_DIR_H_
#define XROLE_TESTS_SUPPORT_TEMP_DIR_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace xrole::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "xrole-test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace xrole::testing

#endif  // XROLE_TESTS_SUPPORT_TEMP_DIR_H_
