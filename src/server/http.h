// http.h: the one small interface between xrole and its HTTP stack. The implementation
// (http_server.cc, Boost.Beast/Asio) is confined to one translation unit: an asynchronous
// server whose few I/O threads serve thousands of concurrent keep-alive connections without a
// thread per connection. Handlers may answer at once or later from any thread (for instance
// after the audit record of a decision is durable) by calling the Responder exactly once.
#ifndef XROLE_SERVER_HTTP_H_
#define XROLE_SERVER_HTTP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xrole/status.h"

namespace xrole::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target: path and query, percent-encoded as sent
  std::string path;    // target before '?', not decoded
  std::string query;   // target after '?', not decoded ("" when none)
  // Header names lower-cased, in arrival order; repeated headers appear repeatedly.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // "127.0.0.1"

  // First value of a header (name lower-case), or nullptr.
  const std::string* Header(std::string_view name_lower) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // Optional: run on the connection's I/O thread just before the response is written, to fill
  // it in there. A handler answering from a thread that should do as little as possible (the
  // audit writer) leaves the rendering of the body to the I/O thread this way. An exception it
  // throws becomes a 500.
  std::function<void(HttpResponse&)> render;
};

// Call exactly once, from any thread. Safe to call after the connection has gone (no-op).
using Responder = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest&& request, Responder respond)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8600;  // 0: pick a free port (see HttpServer::port())
  int io_threads = 2;
  std::size_t max_body_bytes = 1 << 20;           // larger bodies get 413 with a JSON error
  std::size_t max_header_bytes = 16 << 10;        // larger headers get 431
  std::chrono::milliseconds read_timeout{10000};  // a request must arrive within this
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive idle connections are closed
  std::size_t max_connections = 10000;            // beyond this new connections are refused
  // Called on an I/O thread after a round of handlers there (the requests that were ready
  // together), once per round in which a handler asked for it with CallAfterRound(): work that
  // those requests left (such as their queued audit records) is done once for all of them, on
  // their thread. Empty: CallAfterRound() always answers false.
  std::function<void()> after_round;
};

// From a Handler running on an I/O thread: asks that thread to call the server's `after_round`
// once the handlers ready there now have run. False (nothing asked) when called elsewhere or
// when the server has no `after_round`; the caller then does that work itself.
bool CallAfterRound();

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds and starts the I/O threads; returns once the server accepts connections.
  virtual Status Start() = 0;
  // Stops accepting, closes connections, joins the I/O threads.
  virtual void Stop() = 0;
  virtual std::uint16_t port() const = 0;
  virtual std::size_t open_connections() const = 0;
};

std::unique_ptr<HttpServer> MakeHttpServer(HttpServerOptions options, Handler handler);

// {"error": {"code": CODE, "message": MESSAGE}} with `status`.
HttpResponse JsonError(int status, std::string_view code, std::string_view message);

}  // namespace xrole::server

#endif  // XROLE_SERVER_HTTP_H_
