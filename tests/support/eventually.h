// eventually.h: waits, bounded, for a condition that another thread makes true. A hang guard
// for tests, not a timing assertion: the caller asserts the result.
#ifndef XROLE_TESTS_SUPPORT_EVENTUALLY_H_
#define XROLE_TESTS_SUPPORT_EVENTUALLY_H_

#include <chrono>
#include <functional>
#include <thread>

namespace xrole::testing {

// True as soon as `condition` holds; false if it still does not after 30 seconds.
inline bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace xrole::testing

#endif  // XROLE_TESTS_SUPPORT_EVENTUALLY_H_
