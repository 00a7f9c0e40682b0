// api.h: xrole's HTTP/JSON API (design.md §4.4) on top of the broker. Routes requests, reads
// and checks JSON bodies, authenticates callers, and writes JSON answers and errors
// ({"error": {"code", "message", "path"?}} with the right status). Operations that wait for a
// durable audit record run on a small worker pool so the I/O threads never block; authorize
// decides on the I/O thread, which commits the round's decisions itself after the round
// (after_round) and answers from their completion callbacks.
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
  // For HttpServerOptions::after_round: commits the decisions the round's authorize requests
  // queued, and answers them (one audit commit per round, on the I/O thread). A server without
  // it has each decision committed by the audit writer thread instead.
  std::function<void()> after_round();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xrole::server

#endif  // XROLE_SERVER_API_H_
