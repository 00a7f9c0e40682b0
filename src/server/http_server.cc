// http_server.cc: the Boost.Beast/Asio implementation of http.h, and the only translation
// unit that includes Beast.
//
// Threads and lifetimes. Each of the `io_threads` threads runs its own io_context, and new
// connections are dealt to them in turn, so a connection's handlers all run on one thread and
// never concurrently, without a strand, and no I/O thread wakes another. The acceptor lives on
// the first. The server's registry holds the only long-lived reference to a connection; a
// connection removes itself when it closes. A Responder holds a weak reference plus the
// ResponderGate: Stop() closes the gate before it tears anything down, so after Stop() a
// Responder never touches an io_context, and before it a Responder only posts to the
// connection's io_context.
//
// Reading. A connection reads with plain `async_read_some` into its buffer and feeds Beast's
// request parser synchronously, so a request that arrives in one segment costs one receive and
// no intermediate completion; a keep-alive connection waits for its next request with that
// same read (the first byte switches the idle deadline to the read deadline).
//
// Deadlines (one timer per connection, on its thread):
// - a new connection must deliver its first request within read_timeout of being accepted;
// - between requests a keep-alive connection may stay silent for idle_timeout; from the first
//   byte of the next request, the whole request must arrive within read_timeout;
// - while a handler works there is no deadline (the Responder must be called);
// - a response must be taken by the client within idle_timeout;
// - after a final response the server half-closes and discards input for at most kMaxLinger,
//   so that a client still sending (an oversized body, say) reads the error rather than a reset.
// A request that times out after some of it arrived gets 408; a silent connection is just closed.

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "common/thread_name.h"
#include "server/http.h"

namespace xrole::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
// Concrete executor types: a connection never needs a polymorphic executor.
using Executor = asio::io_context::executor_type;  // one thread runs each io_context
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

// Upper bound of the lingering close after a final response.
constexpr std::chrono::milliseconds kMaxLinger{5000};
// Pause before accepting again after accept() failed (for instance EMFILE), so that a full
// descriptor table does not turn the accept loop into a busy loop.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
// Longest extra header value passed through (Beast stores field lengths in 16 bits).
constexpr std::size_t kMaxHeaderValueBytes = 8192;
constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";
// Bytes asked of each receive: a typical request (with a session token) arrives in one.
constexpr std::size_t kReadChunk = 4096;

// Whether Responders may still reach the I/O layer. Responders hold it shared while they post;
// Stop() closes it exclusively before the io_context stops.
struct ResponderGate {
  std::shared_mutex mu;
  bool open = true;
};

class Connection;

// An I/O thread, as seen by the handlers it runs (CallAfterRound).
struct IoThread {
  asio::io_context* io_context = nullptr;
  const std::function<void()>* after_round = nullptr;
  bool after_round_posted = false;
};
thread_local IoThread* current_io_thread = nullptr;

// What the server shares with its connections. Owned by the server, which outlives every
// handler that runs on the I/O threads.
struct ServerContext {
  HttpServerOptions options;
  Handler handler;
  std::shared_ptr<ResponderGate> gate = std::make_shared<ResponderGate>();

  std::mutex registry_mu;
  std::unordered_map<const Connection*, std::shared_ptr<Connection>> connections;  // registry_mu
  bool stopping = false;                                                           // registry_mu
  std::atomic<std::size_t> open_connections{0};

  void Unregister(const Connection* connection) {
    std::lock_guard<std::mutex> lock(registry_mu);
    connections.erase(connection);
    open_connections.store(connections.size());
  }
};

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsSafeHeaderValue(std::string_view value) {
  return value.size() <= kMaxHeaderValueBytes &&
         value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Extra response headers may not break the framing the server owns or the message syntax.
bool IsAcceptableExtraHeader(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) return false;
  if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
      EqualsIgnoreCase(name, "connection")) {
    return false;
  }
  return IsSafeHeaderValue(value);
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerContext& context, Socket socket, std::string remote_address)
      : context_(context),
        socket_(std::move(socket)),
        executor_(socket_.get_executor()),
        timer_(executor_),
        remote_address_(std::move(remote_address)) {}

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Any thread.
  void Start() {
    asio::dispatch(executor_, [self = shared_from_this()] { self->ReadRequest(false); });
  }

  // Any thread.
  void CloseSoon() {
    asio::post(executor_, [self = shared_from_this()] { self->Close(); });
  }

  // Any thread, with the gate held open. Hands the response for request `sequence` to the
  // connection's thread: at once when called there (a handler answering synchronously, or a
  // commit made after the round), posted otherwise. Stale or repeated deliveries are ignored.
  void Deliver(std::uint64_t sequence, HttpResponse response) {
    if (executor_.running_in_this_thread()) return OnResponse(sequence, std::move(response));
    asio::post(executor_,
               [self = shared_from_this(), sequence, response = std::move(response)]() mutable {
                 self->OnResponse(sequence, std::move(response));
               });
  }

 private:
  enum class Phase {
    kIdle,           // between requests, waiting for the first byte
    kReadingHeader,  // request header
    kContinue,       // writing "100 Continue"
    kReadingBody,    // request body
    kHandling,       // the handler has the request
    kWriting,        // writing a response
    kLingering,      // half-closed after a final response, discarding input
    kClosed,
  };

  // Everything below runs on the connection's thread.

  // The deadline is re-armed lazily: moving it later only records it (the timer, when it fires
  // early, re-arms itself for the recorded deadline); only a deadline earlier than the armed
  // expiry restarts the timer. A keep-alive connection thus changes its deadline three times per
  // request without a timer cancellation and its completion each time.
  void ArmDeadline(std::chrono::milliseconds timeout) {
    deadline_ = Clock::now() + timeout;
    if (!timer_armed_ || deadline_ < timer_expiry_) StartTimer(deadline_);
  }

  void DisarmDeadline() { deadline_ = Clock::time_point::max(); }

  void StartTimer(Clock::time_point at) {
    const std::uint64_t generation = ++timer_generation_;
    timer_armed_ = true;
    timer_expiry_ = at;
    timer_.expires_at(at);  // a pending wait completes as cancelled, with a stale generation
    timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (generation != self->timer_generation_) return;
      self->timer_armed_ = false;
      if (ec || self->deadline_ == Clock::time_point::max()) return;
      if (Clock::now() < self->deadline_) return self->StartTimer(self->deadline_);
      self->OnDeadline();
    });
  }

  // Releases the timer's reference to the connection.
  void StopTimer() {
    ++timer_generation_;
    timer_armed_ = false;
    deadline_ = Clock::time_point::max();
    timer_.cancel();
  }

  void OnDeadline() {
    switch (phase_) {
      case Phase::kReadingHeader:
      case Phase::kContinue:
      case Phase::kReadingBody:
        // The read handler decides between 408 and a silent close. Cancelling aborts a read in
        // progress; shutting the receive side ends any read started after this.
        timed_out_ = true;
        {
          error_code ignored;
          socket_.cancel(ignored);
          socket_.shutdown(tcp::socket::shutdown_receive, ignored);
        }
        return;
      case Phase::kIdle:
      case Phase::kWriting:
      case Phase::kLingering:
        Close();
        return;
      case Phase::kHandling:
      case Phase::kClosed:
        return;
    }
  }

  // `after_response`: a previous request was answered on this connection, so the idle
  // deadline applies until the next request starts.
  void ReadRequest(bool after_response) {
    if (phase_ == Phase::kClosed) return;
    const HttpServerOptions& options = context_.options;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
    timed_out_ = false;
    head_request_ = false;
    header_seen_ = false;
    version_ = 11;
    if (after_response && buffer_.size() == 0) {
      phase_ = Phase::kIdle;
      ArmDeadline(options.idle_timeout);
    } else {
      phase_ = Phase::kReadingHeader;
      ArmDeadline(options.read_timeout);
    }
    ParseBuffered();
  }

  // Feeds the buffered bytes to the parser; hands a complete request on, or reads more. The
  // parser stops after the header, so "100 Continue" is answered only when no body byte has
  // arrived yet.
  void ParseBuffered() {
    while (!parser_->is_done()) {
      if (parser_->is_header_done() && !header_seen_) {
        header_seen_ = true;
        const auto& message = parser_->get();
        version_ = message.version();
        phase_ = Phase::kReadingBody;
        if (message.version() >= 11 && buffer_.size() == 0 &&
            beast::iequals(message[bhttp::field::expect], "100-continue")) {
          return AnswerContinue();
        }
      }
      if (buffer_.size() == 0) break;
      error_code ec;
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) return OnReadError(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return OnRequest();
    ReadSome();
  }

  void AnswerContinue() {
    phase_ = Phase::kContinue;
    asio::async_write(socket_, asio::buffer(kContinueResponse.data(), kContinueResponse.size()),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (self->phase_ == Phase::kClosed) return;
                        if (ec) return self->OnReadError(ec);
                        self->phase_ = Phase::kReadingBody;
                        self->ReadSome();
                      });
  }

  void ReadSome() {
    socket_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = shared_from_this()](error_code ec, std::size_t bytes) { self->OnRead(ec, bytes); });
  }

  void OnRead(error_code ec, std::size_t bytes) {
    if (phase_ == Phase::kClosed) return;
    if (ec == asio::error::eof && !timed_out_) {
      // The client finished sending: the end of the stream may complete a request without a
      // length; otherwise a request cut short is dropped.
      if (!parser_->got_some()) return Close();
      error_code eof_ec;
      parser_->put_eof(eof_ec);
      if (!eof_ec && parser_->is_done()) return OnRequest();
      return OnReadError(bhttp::error::partial_message);
    }
    if (ec) return OnReadError(ec);
    buffer_.commit(bytes);
    if (phase_ == Phase::kIdle) {
      phase_ = Phase::kReadingHeader;
      ArmDeadline(context_.options.read_timeout);
    }
    ParseBuffered();
  }

  void OnReadError(error_code ec) {
    const HttpServerOptions& options = context_.options;
    if (timed_out_) {
      if (parser_->got_some() || buffer_.size() > 0) {
        return SendFinal(JsonError(408, "request_timeout",
                                   "the request did not arrive within " +
                                       std::to_string(options.read_timeout.count()) + " ms"));
      }
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return SendFinal(JsonError(
          413, "payload_too_large",
          "the request body exceeds " + std::to_string(options.max_body_bytes) + " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return SendFinal(JsonError(
          431, "header_too_large",
          "the request header exceeds " + std::to_string(options.max_header_bytes) + " bytes"));
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return Close();
    if (&ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return SendFinal(JsonError(400, "bad_request", "malformed http request: " + ec.message()));
    }
    Close();  // a transport error: nobody to answer
  }

  void OnRequest() {
    DisarmDeadline();
    phase_ = Phase::kHandling;
    bhttp::request<bhttp::string_body> message = parser_->release();
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    head_request_ = message.method() == bhttp::verb::head;

    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const std::size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    for (const auto& field : message) {
      request.headers.emplace_back(AsciiLower(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote_address = remote_address_;

    const std::uint64_t sequence = ++request_sequence_;
    Responder respond = [connection = weak_from_this(), gate = context_.gate,
                         sequence](HttpResponse response) {
      std::shared_lock<std::shared_mutex> lock(gate->mu);
      if (!gate->open) return;
      if (std::shared_ptr<Connection> live = connection.lock()) {
        live->Deliver(sequence, std::move(response));
      }
    };
    try {
      context_.handler(std::move(request), std::move(respond));
    } catch (const std::exception& e) {
      Deliver(sequence,
              JsonError(500, "internal", std::string("request handler failed: ") + e.what()));
    } catch (...) {
      Deliver(sequence, JsonError(500, "internal", "request handler failed"));
    }
  }

  void OnResponse(std::uint64_t sequence, HttpResponse response) {
    if (phase_ != Phase::kHandling || sequence != request_sequence_) return;
    if (response.render) {
      auto render = std::move(response.render);
      response.render = nullptr;
      try {
        render(response);
      } catch (const std::exception& e) {
        response =
            JsonError(500, "internal", std::string("rendering the response failed: ") + e.what());
      } catch (...) {
        response = JsonError(500, "internal", "rendering the response failed");
      }
    }
    Write(std::move(response), keep_alive_);
  }

  // Answers with `response` and closes the connection.
  void SendFinal(HttpResponse response) { Write(std::move(response), false); }

  void Write(HttpResponse response, bool keep_alive) {
    try {
      BuildResponse(std::move(response), keep_alive);
    } catch (const std::exception&) {
      // Only allocation can fail here; answer with a minimal fixed response.
      keep_alive = false;
      body_.clear();
      head_.assign(version_ == 10 ? "HTTP/1.0" : "HTTP/1.1");
      head_.append(" 500 Internal Server Error\r\nServer: xrole\r\nContent-Length: 0\r\n");
      head_.append(version_ == 10 ? "\r\n" : "Connection: close\r\n\r\n");
    }
    close_after_write_ = !keep_alive;
    phase_ = Phase::kWriting;
    ArmDeadline(context_.options.idle_timeout);
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_), asio::buffer(body_)};
    asio::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
      self->OnWritten(ec);
    });
  }

  // The status line and header are written here rather than by Beast's serializer: the few
  // fields this server sends take one pass into a reused string, sent with the body in one
  // gathered write. Every response is framed by Content-Length (or has no body: 204, 304), so
  // the connection is closed after a response only when `keep_alive` is false.
  void BuildResponse(HttpResponse response, bool keep_alive) {
    if (response.status < 200 || response.status > 999) {
      response =
          JsonError(500, "internal",
                    "handler answered with invalid status " + std::to_string(response.status));
    }
    head_.assign(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    head_.append(std::to_string(response.status));
    head_.push_back(' ');
    const std::string_view reason =
        bhttp::obsolete_reason(static_cast<bhttp::status>(response.status));
    head_.append(reason);
    head_.append("\r\nServer: xrole\r\n");
    if (!response.content_type.empty() && IsSafeHeaderValue(response.content_type)) {
      AppendField("Content-Type", response.content_type);
    }
    for (const auto& [name, value] : response.headers) {
      if (IsAcceptableExtraHeader(name, value)) AppendField(name, value);
    }
    body_.clear();
    // 204 and 304 carry neither a body nor a length; a HEAD answer carries the length only.
    if (response.status != 204 && response.status != 304) {
      AppendField("Content-Length", std::to_string(response.body.size()));
      if (!head_request_) body_ = std::move(response.body);
    }
    // HTTP/1.1 keeps a connection open unless told; HTTP/1.0 closes it unless told.
    if (version_ >= 11 && !keep_alive) AppendField("Connection", "close");
    if (version_ < 11 && keep_alive) AppendField("Connection", "keep-alive");
    head_.append("\r\n");
  }

  void AppendField(std::string_view name, std::string_view value) {
    head_.append(name);
    head_.append(": ");
    head_.append(value);
    head_.append("\r\n");
  }

  void OnWritten(error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) return Close();
    body_ = {};
    if (close_after_write_) return Linger();
    ReadRequest(true);
  }

  // Half-closes and discards what the client still sends until it closes too.
  void Linger() {
    phase_ = Phase::kLingering;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    ArmDeadline(std::min(context_.options.read_timeout, kMaxLinger));
    Discard();
  }

  void Discard() {
    buffer_.consume(buffer_.size());
    socket_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](error_code ec, std::size_t) {
                              if (self->phase_ == Phase::kClosed) return;
                              if (ec) return self->Close();
                              self->Discard();
                            });
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    std::shared_ptr<Connection> self = shared_from_this();  // Unregister may drop the last owner
    phase_ = Phase::kClosed;
    StopTimer();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    // The parser, buffer and response stay until destruction: aborted operations still
    // reference them when their handlers run.
    context_.Unregister(this);
  }

  ServerContext& context_;
  Socket socket_;
  Executor executor_;  // the io_context of the one I/O thread this connection lives on
  Timer timer_;
  const std::string remote_address_;

  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string head_;  // the response being written: status line and header
  std::string body_;  // and its body

  Phase phase_ = Phase::kReadingHeader;
  std::uint64_t timer_generation_ = 0;
  bool timer_armed_ = false;
  Clock::time_point timer_expiry_{};
  Clock::time_point deadline_ = Clock::time_point::max();
  std::uint64_t request_sequence_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool timed_out_ = false;
  bool header_seen_ = false;
  bool close_after_write_ = false;
};

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(HttpServerOptions options, Handler handler)
      : io_contexts_(MakeContexts(options.io_threads)),
        acceptor_(io_contexts_[0]->get_executor()),
        accept_retry_timer_(acceptor_.get_executor()) {
    for (auto& io_context : io_contexts_) work_.emplace_back(io_context->get_executor());
    context_.options = std::move(options);
    context_.handler = std::move(handler);
  }

  ~BeastHttpServer() override { Stop(); }

  Status Start() override {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (started_) return Error(ErrorCode::kConflict, "http server already started");
    const HttpServerOptions& options = context_.options;
    const std::string where = "`" + options.host + ":" + std::to_string(options.port) + "`";
    try {
      error_code ec;
      tcp::endpoint endpoint;
      const asio::ip::address address = asio::ip::make_address(options.host, ec);
      if (!ec) {
        endpoint = tcp::endpoint(address, options.port);
      } else {
        tcp::resolver resolver(*io_contexts_[0]);
        auto results = resolver.resolve(options.host, std::to_string(options.port),
                                        tcp::resolver::passive, ec);
        if (ec || results.empty()) {
          return Error(ErrorCode::kInvalidArgument,
                       "cannot resolve http listen host `" + options.host + "`: " + ec.message());
        }
        endpoint = results.begin()->endpoint();
      }
      acceptor_.open(endpoint.protocol(), ec);
      if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor_.bind(endpoint, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        error_code ignored;
        acceptor_.close(ignored);
        return Error(ErrorCode::kUnavailable, "cannot listen on " + where + ": " + ec.message());
      }
      port_.store(acceptor_.local_endpoint(ec).port());
      Accept();
      for (std::size_t i = 0; i < io_contexts_.size(); ++i) {
        threads_.emplace_back([this, i] {
          NameThisThread("xrole-http-" + std::to_string(i));
          IoThread self{io_contexts_[i].get(), &context_.options.after_round};
          current_io_thread = &self;
          RunIo(*io_contexts_[i]);
          current_io_thread = nullptr;
        });
      }
    } catch (const std::exception& e) {
      started_ = true;  // let Stop() join whatever did start
      StopLocked();
      return Error(ErrorCode::kInternal,
                   "cannot start http server on " + where + ": " + std::string(e.what()));
    }
    started_ = true;
    return OkStatus();
  }

  void Stop() override {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    StopLocked();
  }

  std::uint16_t port() const override { return port_.load(); }

  std::size_t open_connections() const override { return context_.open_connections.load(); }

 private:
  void StopLocked() {
    if (!started_ || stopped_) return;
    stopped_ = true;
    {
      std::unique_lock<std::shared_mutex> gate_lock(context_.gate->mu);
      context_.gate->open = false;
    }
    asio::post(acceptor_.get_executor(), [this] {
      error_code ignored;
      acceptor_.close(ignored);
      accept_retry_timer_.cancel();
    });
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard<std::mutex> registry_lock(context_.registry_mu);
      context_.stopping = true;
      live.reserve(context_.connections.size());
      for (const auto& entry : context_.connections) live.push_back(entry.second);
    }
    for (const std::shared_ptr<Connection>& connection : live) connection->CloseSoon();
    live.clear();
    // With the acceptor and every connection closed, and the idle guards gone, no work is
    // left, so each run() returns.
    for (auto& guard : work_) guard.reset();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    std::lock_guard<std::mutex> registry_lock(context_.registry_mu);
    context_.connections.clear();
    context_.open_connections.store(0);
  }

  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int io_threads) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (int i = 0; i < std::max(1, io_threads); ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));  // run by one thread
    }
    return contexts;
  }

  static void RunIo(asio::io_context& io_context) {
    for (;;) {
      try {
        io_context.run();
        return;
      } catch (const std::exception&) {
        // A handler threw (only allocation failure can); keep serving.
      }
    }
  }

  // On the first I/O thread.
  void Accept() {
    acceptor_.async_accept(
        io_contexts_[next_context_++ % io_contexts_.size()]->get_executor(),
        [this](error_code ec, Socket socket) { OnAccept(ec, std::move(socket)); });
  }

  void OnAccept(error_code ec, Socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      accept_retry_timer_.expires_after(kAcceptRetryDelay);
      accept_retry_timer_.async_wait([this](error_code wait_ec) {
        if (!wait_ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const tcp::endpoint remote = socket.remote_endpoint(ignored);
    std::string remote_address = remote.address().to_string();
    std::shared_ptr<Connection> connection;
    {
      std::lock_guard<std::mutex> lock(context_.registry_mu);
      if (!context_.stopping && context_.connections.size() < context_.options.max_connections) {
        connection =
            std::make_shared<Connection>(context_, std::move(socket), std::move(remote_address));
        context_.connections.emplace(connection.get(), connection);
        context_.open_connections.store(context_.connections.size());
      }
    }
    if (connection) {
      connection->Start();
    } else {
      socket.close(ignored);  // over the limit (or stopping): refuse at once
    }
    Accept();
  }

  // Declared first so that it is destroyed last.
  std::vector<std::unique_ptr<asio::io_context>> io_contexts_;  // one per I/O thread
  // Keep each io_context's run() going while it has no connection, until Stop().
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  ServerContext context_;
  asio::basic_socket_acceptor<tcp, Executor> acceptor_;  // on the first I/O thread
  Timer accept_retry_timer_;                             // likewise
  std::size_t next_context_ = 0;  // the io_context the next connection goes to
  std::atomic<std::uint16_t> port_{0};

  std::mutex lifecycle_mu_;
  bool started_ = false;  // lifecycle_mu_
  bool stopped_ = false;  // lifecycle_mu_
  std::vector<std::thread> threads_;
};

}  // namespace

bool CallAfterRound() {
  IoThread* thread = current_io_thread;
  if (thread == nullptr || !*thread->after_round) return false;
  if (!thread->after_round_posted) {
    thread->after_round_posted = true;
    // Posted from this thread, the call is queued behind the completions of the current round.
    asio::post(*thread->io_context, [thread] {
      thread->after_round_posted = false;
      (*thread->after_round)();
    });
  }
  return true;
}

std::unique_ptr<HttpServer> MakeHttpServer(HttpServerOptions options, Handler handler) {
  return std::make_unique<BeastHttpServer>(std::move(options), std::move(handler));
}

}  // namespace xrole::server
