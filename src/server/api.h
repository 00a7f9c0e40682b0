// api.h: xrole's HTTP/JSON API (design.md §4.4) on top of the broker. Routes requests, reads
// and checks JSON bodies, authenticates callers, and writes JSON answers and errors
// ({"error": {"code", "message", "path"?}} with the right status). Operations that wait for a
// durable audit record run on a small worker pool so the I/O threads never block; authorize
// answers from the audit writer's completion callback and leaves rendering its body to the
// connection's I/O thread.
#ifndef XROLE_SERVER_API_H_
#define XROLE_SERVER_API_H_

#include <memory>

#include "server/http.h"
#include "session/broker.h"

namespace xrole::server {

struct ApiOptions {
  int worker_threads = 16;  // for calls that wait on the audit log (assume, revoke, ...)
};

class Api {
 public:
  Api(session::Broker& broker, ApiOptions options = {});
  ~Api();
  // The HTTP handler; valid while the Api lives.
  Handler handler();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xrole::server

#endif  // XROLE_SERVER_API_H_
