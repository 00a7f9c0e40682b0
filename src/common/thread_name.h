// thread_name.h: names the calling thread (as `top -H`, `ps -L`, perf and gdb show it).
#ifndef XROLE_COMMON_THREAD_NAME_H_
#define XROLE_COMMON_THREAD_NAME_H_

#include <pthread.h>

#include <string>

namespace xrole {

// Linux keeps at most 15 characters; longer names are cut. Failure is harmless and ignored.
inline void NameThisThread(std::string name) {
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace xrole

#endif  // XROLE_COMMON_THREAD_NAME_H_
