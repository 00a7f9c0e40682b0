#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "server/http.h"
#include "support/eventually.h"

namespace xrole::server {
namespace {

using std::chrono::milliseconds;

// How long a client waits for the server before the test gives up (a hang guard, not a
// timing assertion).
constexpr int kClientPatienceSeconds = 20;

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  const std::string* Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return &value;
    }
    return nullptr;
  }
};

// A blocking HTTP/1.1 client on a raw socket: it sends exactly the bytes a test writes.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    timeval patience{kClientPatienceSeconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof(patience));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect() failed: errno " + std::to_string(errno));
    }
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() { Close(); }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response (status line, headers, Content-Length body); nullopt when the connection
  // ends first.
  std::optional<ClientResponse> Read() {
    std::size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    ClientResponse response;
    const std::string head = pending_.substr(0, header_end);
    pending_.erase(0, header_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      response.headers.emplace_back(AsciiLower(line.substr(0, colon)), value);
    }
    std::size_t length = 0;
    if (const std::string* content_length = response.Header("content-length")) {
      length = std::stoul(*content_length);
    }
    if (response.Header("x-test-head") != nullptr) length = 0;  // a HEAD answer
    while (pending_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    response.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return response;
  }

  // True once the server has closed the connection: end of stream or reset, with no further
  // response bytes in between.
  bool WaitForClose() {
    while (pending_.empty()) {
      char byte;
      const ssize_t n = ::recv(fd_, &byte, 1, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      pending_.push_back(byte);
    }
    return false;
  }

  // True when the server sent nothing and has not closed, checked without waiting.
  bool QuietAndOpen() {
    char byte;
    const ssize_t n = ::recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

 private:
  bool Fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    pending_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string pending_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::string Post(std::string_view target, std::string_view body,
                 std::string_view extra_headers = "") {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

// Answers at once with a JSON description of the request.
void EchoHandler(HttpRequest&& request, Responder respond) {
  nlohmann::json echo = {{"method", request.method}, {"target", request.target},
                         {"path", request.path},     {"query", request.query},
                         {"body", request.body},     {"remote", request.remote_address}};
  if (const std::string* value = request.Header("x-echo")) echo["x_echo"] = *value;
  HttpResponse response;
  response.body = echo.dump();
  response.headers.emplace_back("X-Request-Path", request.path);
  if (request.method == "HEAD") response.headers.emplace_back("X-Test-Head", "1");
  respond(std::move(response));
}

HttpServerOptions TestOptions() {
  HttpServerOptions options;
  options.port = 0;
  options.io_threads = 2;
  return options;
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options, Handler handler) {
  auto server = MakeHttpServer(std::move(options), std::move(handler));
  Status status = server->Start();
  if (!status.ok()) throw std::runtime_error(status.error().ToString());
  return server;
}

using xrole::testing::Eventually;

int ProcessThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// Answers each request from its own thread after `delay`, as an audit writer would once the
// record is durable. Joins its threads on destruction.
class DeferredResponder {
 public:
  explicit DeferredResponder(milliseconds delay) : delay_(delay) {}
  ~DeferredResponder() {
    for (std::thread& thread : threads_) thread.join();
  }

  Handler handler() {
    return [this](HttpRequest&& request, Responder respond) {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back(
          [delay = delay_, body = std::move(request.body), respond = std::move(respond)] {
            std::this_thread::sleep_for(delay);
            HttpResponse response;
            response.status = 201;
            response.content_type = "text/plain";
            response.body = "deferred:" + body;
            respond(std::move(response));
          });
    };
  }

 private:
  milliseconds delay_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// Keeps the Responders of requests for the test to call later.
class HeldResponders {
 public:
  Handler handler() {
    return [this](HttpRequest&& request, Responder respond) {
      std::lock_guard<std::mutex> lock(mu_);
      held_.emplace_back(std::move(request), std::move(respond));
      arrived_.notify_all();
    };
  }

  // Waits for the next held request and takes it.
  std::pair<HttpRequest, Responder> Take() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!arrived_.wait_for(lock, std::chrono::seconds(kClientPatienceSeconds),
                           [this] { return !held_.empty(); })) {
      throw std::runtime_error("no request arrived");
    }
    auto taken = std::move(held_.front());
    held_.pop_front();
    return taken;
  }

 private:
  std::mutex mu_;
  std::condition_variable arrived_;
  std::deque<std::pair<HttpRequest, Responder>> held_;
};

HttpResponse TextResponse(std::string body) {
  HttpResponse response;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

TEST(HttpServerTest, PortZeroPicksAFreePort) {
  auto server = StartServer(TestOptions(), EchoHandler);
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->open_connections(), 0u);
}

TEST(HttpServerTest, StartFailsWhenThePortIsTaken) {
  auto first = StartServer(TestOptions(), EchoHandler);
  HttpServerOptions options = TestOptions();
  options.port = first->port();
  auto second = MakeHttpServer(options, EchoHandler);
  Status status = second->Start();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(status.error().message().find(std::to_string(options.port)), std::string::npos)
      << status.error().message();
}

TEST(HttpServerTest, StartRejectsAnUnknownHost) {
  HttpServerOptions options = TestOptions();
  options.host = "no-such-host.invalid";
  auto server = MakeHttpServer(options, EchoHandler);
  EXPECT_FALSE(server->Start().ok());
}

TEST(HttpServerTest, EchoesTheRequestAndWritesTheResponseHeaders) {
  auto server = StartServer(TestOptions(), EchoHandler);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/v1/echo?x=1&y=%20", "{\"a\":1}", "X-Echo: hello\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  ASSERT_NE(response->Header("server"), nullptr);
  EXPECT_EQ(*response->Header("server"), "xrole");
  ASSERT_NE(response->Header("content-type"), nullptr);
  EXPECT_EQ(*response->Header("content-type"), "application/json");
  ASSERT_NE(response->Header("content-length"), nullptr);
  EXPECT_EQ(*response->Header("content-length"), std::to_string(response->body.size()));
  ASSERT_NE(response->Header("x-request-path"), nullptr);
  EXPECT_EQ(*response->Header("x-request-path"), "/v1/echo");
  const auto echo = nlohmann::json::parse(response->body);
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["target"], "/v1/echo?x=1&y=%20");
  EXPECT_EQ(echo["path"], "/v1/echo");
  EXPECT_EQ(echo["query"], "x=1&y=%20");
  EXPECT_EQ(echo["body"], "{\"a\":1}");
  EXPECT_EQ(echo["remote"], "127.0.0.1");
  EXPECT_EQ(echo["x_echo"], "hello");
}

TEST(HttpServerTest, HandlerSeesHeadersLowerCasedInArrivalOrder) {
  std::promise<HttpRequest> seen;
  auto server = StartServer(TestOptions(), [&seen](HttpRequest&& request, Responder respond) {
    seen.set_value(std::move(request));
    respond(TextResponse("ok"));
  });
  RawClient client(server->port());
  ASSERT_TRUE(client.Send("GET /h HTTP/1.1\r\nHost: a\r\nX-Multi: one\r\nx-MULTI: two\r\n\r\n"));
  ASSERT_TRUE(client.Read().has_value());
  const HttpRequest request = seen.get_future().get();
  std::vector<std::pair<std::string, std::string>> expected = {
      {"host", "a"}, {"x-multi", "one"}, {"x-multi", "two"}};
  EXPECT_EQ(request.headers, expected);
  ASSERT_NE(request.Header("x-multi"), nullptr);
  EXPECT_EQ(*request.Header("x-multi"), "one");
  EXPECT_EQ(request.Header("x-missing"), nullptr);
  EXPECT_EQ(request.query, "");
  EXPECT_EQ(request.path, "/h");
}

TEST(HttpServerTest, ReadsChunkedRequestBodies) {
  auto server = StartServer(TestOptions(), EchoHandler);
  RawClient client(server->port());
  ASSERT_TRUE(
      client.Send("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(nlohmann::json::parse(response->body)["body"], "hello world");
}

TEST(HttpServerTest, HeadAnswersCarryTheLengthButNoBody) {
  auto server = StartServer(TestOptions(), EchoHandler);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto head = client.Read();  // reads no body because of X-Test-Head
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  ASSERT_NE(head->Header("content-length"), nullptr);
  EXPECT_NE(*head->Header("content-length"), "0");
  // The next response on the connection starts right after the head: no body was sent.
  ASSERT_TRUE(client.Send(Get("/after")));
  auto next = client.Read();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(nlohmann::json::parse(next->body)["path"], "/after");
}

TEST(HttpServerTest, KeepAliveServesSequentialRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  auto server = StartServer(TestOptions(), [&calls](HttpRequest&& request, Responder respond) {
    ++calls;
    EchoHandler(std::move(request), std::move(respond));
  });
  RawClient client(server->port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.Send(Post("/n", std::to_string(i))));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(nlohmann::json::parse(response->body)["body"], std::to_string(i));
    EXPECT_EQ(response->Header("connection"), nullptr);  // HTTP/1.1 default: keep-alive
  }
  EXPECT_EQ(calls.load(), 5);
  EXPECT_EQ(server->open_connections(), 1u);
  EXPECT_TRUE(client.QuietAndOpen());
}

TEST(HttpServerTest, RequestsSplitAcrossSegmentsAndPipelinedBatchesAreReassembled) {
  auto server = StartServer(TestOptions(), EchoHandler);
  RawClient client(server->port());
  // One request in pieces: inside the request line, inside a header, and the body apart.
  const std::string split = Post("/pieces", "the whole body");
  const std::size_t body_start = split.find("\r\n\r\n") + 4;
  std::size_t sent = 0;
  for (std::size_t cut :
       {std::size_t{3}, std::size_t{20}, body_start, body_start + 5, split.size()}) {
    ASSERT_TRUE(client.Send(std::string_view(split).substr(sent, cut - sent)));
    sent = cut;
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto whole = client.Read();
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(nlohmann::json::parse(whole->body)["body"], "the whole body");
  // Thirty requests with 1 KB bodies in one write: more than one receive's worth.
  std::string batch;
  for (int i = 0; i < 30; ++i) batch += Post("/batch", std::to_string(i) + std::string(1024, 'x'));
  ASSERT_TRUE(client.Send(batch));
  for (int i = 0; i < 30; ++i) {
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(nlohmann::json::parse(response->body)["body"],
              std::to_string(i) + std::string(1024, 'x'));
  }
  EXPECT_TRUE(client.QuietAndOpen());
}

TEST(HttpServerTest, ConnectionCloseIsHonoured) {
  auto server = StartServer(TestOptions(), EchoHandler);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/bye", "Connection: close\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  ASSERT_NE(response->Header("connection"), nullptr);
  EXPECT_EQ(AsciiLower(*response->Header("connection")), "close");
  EXPECT_TRUE(client.WaitForClose());
  client.Close();
  EXPECT_TRUE(Eventually([&] { return server->open_connections() == 0; }));
}

TEST(HttpServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  auto server = StartServer(TestOptions(), EchoHandler);
  {
    RawClient client(server->port());
    ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(client.WaitForClose());
  }
  RawClient client(server->port());
  ASSERT_TRUE(client.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto first = client.Read();
  ASSERT_TRUE(first.has_value());
  ASSERT_NE(first->Header("connection"), nullptr);
  EXPECT_EQ(AsciiLower(*first->Header("connection")), "keep-alive");
  ASSERT_TRUE(client.Send("GET /b HTTP/1.0\r\n\r\n"));
  auto second = client.Read();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(nlohmann::json::parse(second->body)["path"], "/b");
  EXPECT_TRUE(client.WaitForClose());
}

TEST(HttpServerTest, DeferredResponderAnswersFromAnotherThread) {
  DeferredResponder deferred(milliseconds(30));
  auto server = StartServer(TestOptions(), deferred.handler());
  RawClient client(server->port());
  for (int i = 0; i < 3; ++i) {  // the connection resumes reading after each late answer
    ASSERT_TRUE(client.Send(Post("/late", "n" + std::to_string(i))));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(*response->Header("content-type"), "text/plain");
    EXPECT_EQ(response->body, "deferred:n" + std::to_string(i));
  }
}

// A response answered from a worker thread with `render` is filled in on an I/O thread (named
// xrole-http-N), after the worker has returned; a render that throws becomes a 500.
TEST(HttpServerTest, RenderFillsTheResponseOnAnIoThread) {
  std::vector<std::thread> workers;
  std::mutex workers_mu;
  auto server = StartServer(TestOptions(), [&](HttpRequest&& request, Responder respond) {
    const bool fail = request.path == "/fail";
    std::lock_guard lock(workers_mu);
    workers.emplace_back([respond = std::move(respond), fail] {
      HttpResponse response;
      response.status = 202;
      response.render = [fail](HttpResponse& rendered) {
        if (fail) throw std::runtime_error("no body today");
        char name[16] = {};
        pthread_getname_np(pthread_self(), name, sizeof(name));
        rendered.body = std::string("rendered on ") + name;
      };
      respond(std::move(response));
    });
  });
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/render")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 202);
  EXPECT_EQ(response->body.rfind("rendered on xrole-http-", 0), 0u) << response->body;

  ASSERT_TRUE(client.Send(Get("/fail")));
  response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_NE(response->body.find("no body today"), std::string::npos);
  server->Stop();
  for (auto& worker : workers) worker.join();
}

TEST(HttpServerTest, NextRequestWaitsForThePendingResponse) {
  HeldResponders held;
  auto server = StartServer(TestOptions(), held.handler());
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/first") + Get("/second")));  // sent back to back
  auto [first, respond_first] = held.Take();
  EXPECT_EQ(first.path, "/first");
  respond_first(TextResponse("one"));
  respond_first(TextResponse("again"));  // a second call is ignored
  auto [second, respond_second] = held.Take();
  EXPECT_EQ(second.path, "/second");
  respond_second(TextResponse("two"));
  auto one = client.Read();
  auto two = client.Read();
  ASSERT_TRUE(one.has_value());
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(one->body, "one");
  EXPECT_EQ(two->body, "two");
  EXPECT_TRUE(client.QuietAndOpen());
}

// Handlers that ask for an after-round call leave their answers to it; it answers all the
// requests of its round, on their I/O thread, and runs once however many of them asked.
TEST(HttpServerTest, AfterRoundRunsOnTheHandlersThreadOnceForTheRequestsThatAskedForIt) {
  constexpr int kConnections = 50;
  std::mutex mu;
  std::map<std::thread::id, std::vector<Responder>> waiting;  // per I/O thread
  int requests = 0;
  int after_rounds = 0;
  int on_wrong_thread = 0;
  HttpServerOptions options = TestOptions();
  options.io_threads = 2;
  options.after_round = [&] {
    std::vector<Responder> answer;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++after_rounds;
      answer.swap(waiting[std::this_thread::get_id()]);
    }
    for (Responder& respond : answer) {
      HttpResponse response;
      response.content_type = "text/plain";
      response.body = "answered";
      respond(std::move(response));
    }
  };
  auto server = StartServer(options, [&](HttpRequest&&, Responder respond) {
    // Asked three times by each handler: still at most one call per round.
    if (!(CallAfterRound() && CallAfterRound() && CallAfterRound())) {
      std::lock_guard<std::mutex> lock(mu);
      ++on_wrong_thread;
      return respond(JsonError(500, "internal", "not on an I/O thread"));
    }
    std::lock_guard<std::mutex> lock(mu);
    ++requests;
    waiting[std::this_thread::get_id()].push_back(std::move(respond));
  });
  EXPECT_FALSE(CallAfterRound());  // not an I/O thread

  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<RawClient>(server->port()));
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& client : clients) ASSERT_TRUE(client->Send(Post("/r", "x")));
    for (auto& client : clients) {
      auto response = client->Read();
      ASSERT_TRUE(response.has_value());
      EXPECT_EQ(response->status, 200);
      EXPECT_EQ(response->body, "answered");
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(on_wrong_thread, 0);
  EXPECT_EQ(requests, 3 * kConnections);
  EXPECT_GE(after_rounds, 1);
  EXPECT_LE(after_rounds, requests);  // one per round, not one per ask
  for (const auto& [thread, left] : waiting) EXPECT_TRUE(left.empty());
}

TEST(HttpServerTest, WithoutAnAfterRoundCallHandlersAreToldToDoTheWorkThemselves) {
  std::atomic<int> asked{0};
  auto server = StartServer(TestOptions(), [&](HttpRequest&& request, Responder respond) {
    if (CallAfterRound()) ++asked;
    EchoHandler(std::move(request), std::move(respond));
  });
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/x", "y")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(asked.load(), 0);
}

TEST(HttpServerTest, ThousandConcurrentKeepAliveConnectionsOnTwoThreads) {
  constexpr int kConnections = 1000;
  constexpr int kRounds = 3;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  const rlim_t needed = 2 * kConnections + 256;
  if (limit.rlim_cur < needed) {
    if (limit.rlim_max < needed) GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low";
    limit.rlim_cur = needed;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  HttpServerOptions options = TestOptions();
  options.io_threads = 2;
  options.read_timeout = milliseconds(120000);  // the test pauses between rounds
  options.idle_timeout = milliseconds(120000);
  auto server = StartServer(options, EchoHandler);

  std::vector<std::unique_ptr<RawClient>> clients;
  clients.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<RawClient>(server->port()));
  }
  ASSERT_TRUE(Eventually([&] { return server->open_connections() == kConnections; }))
      << server->open_connections();
  for (int round = 0; round < kRounds; ++round) {
    // Every connection has a request in flight before any answer is read.
    for (int i = 0; i < kConnections; ++i) {
      ASSERT_TRUE(clients[i]->Send(Post("/c/" + std::to_string(i), std::to_string(round))));
    }
    for (int i = 0; i < kConnections; ++i) {
      auto response = clients[i]->Read();
      ASSERT_TRUE(response.has_value()) << "connection " << i << " round " << round;
      const auto echo = nlohmann::json::parse(response->body);
      ASSERT_EQ(echo["path"], "/c/" + std::to_string(i));
      ASSERT_EQ(echo["body"], std::to_string(round));
    }
  }
  EXPECT_EQ(server->open_connections(), static_cast<std::size_t>(kConnections));
  // Two I/O threads plus the test's own: no thread per connection.
  EXPECT_LT(ProcessThreadCount(), 20);
  clients.clear();
  EXPECT_TRUE(Eventually([&] { return server->open_connections() == 0; }))
      << server->open_connections();
}

TEST(HttpServerTest, OversizedBodyGets413AndTheConnectionCloses) {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = StartServer(options, [&calls](HttpRequest&& request, Responder respond) {
    ++calls;
    EchoHandler(std::move(request), std::move(respond));
  });
  {
    RawClient client(server->port());
    ASSERT_TRUE(client.Send(Post("/big", std::string(1024, 'a'))));  // at the limit: fine
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
  }
  {
    RawClient client(server->port());
    ASSERT_TRUE(client.Send(Post("/big", std::string(200000, 'a'))));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_EQ(*response->Header("content-type"), "application/json");
    const auto error = nlohmann::json::parse(response->body);
    EXPECT_EQ(error["error"]["code"], "payload_too_large");
    EXPECT_TRUE(error["error"]["message"].is_string());
    EXPECT_TRUE(client.WaitForClose());
  }
  {
    RawClient client(server->port());  // chunked bodies are counted too
    std::string chunked = "POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) chunked += "400\r\n" + std::string(1024, 'b') + "\r\n";
    chunked += "0\r\n\r\n";
    ASSERT_TRUE(client.Send(chunked));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_TRUE(client.WaitForClose());
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, ExpectContinueIsAnswered) {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  auto server = StartServer(options, EchoHandler);
  {
    RawClient client(server->port());
    ASSERT_TRUE(client.Send(
        "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    auto interim = client.Read();
    ASSERT_TRUE(interim.has_value());
    EXPECT_EQ(interim->status, 100);
    ASSERT_TRUE(client.Send("hello"));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(nlohmann::json::parse(response->body)["body"], "hello");
  }
  {
    RawClient client(server->port());  // too large: 413 instead of 100, before any body
    ASSERT_TRUE(client.Send(
        "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_TRUE(client.WaitForClose());
  }
}

TEST(HttpServerTest, HugeHeaderGets431) {
  HttpServerOptions options = TestOptions();
  options.max_header_bytes = 2048;
  auto server = StartServer(options, EchoHandler);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/", "X-Big: " + std::string(8000, 'h') + "\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "header_too_large");
  EXPECT_TRUE(client.WaitForClose());
}

TEST(HttpServerTest, MalformedRequestGets400) {
  auto server = StartServer(TestOptions(), EchoHandler);
  for (const std::string request :
       {"NOT AN HTTP REQUEST\r\n\r\n", "GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"}) {
    RawClient client(server->port());
    ASSERT_TRUE(client.Send(request));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << request;
    EXPECT_EQ(response->status, 400) << request;
    EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "bad_request");
    EXPECT_TRUE(client.WaitForClose());
  }
}

TEST(HttpServerTest, StalledRequestGets408AndSilentConnectionIsClosed) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = milliseconds(200);
  auto server = StartServer(options, EchoHandler);
  {
    RawClient client(server->port());
    ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: a\r\n"));  // never finishes
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 408);
    EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "request_timeout");
    EXPECT_TRUE(client.WaitForClose());
  }
  {
    RawClient client(server->port());  // says nothing at all
    EXPECT_TRUE(client.WaitForClose());
  }
  EXPECT_TRUE(Eventually([&] { return server->open_connections() == 0; }));
}

TEST(HttpServerTest, DribblingClientCannotExtendTheReadDeadline) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = milliseconds(200);
  auto server = StartServer(options, EchoHandler);
  RawClient client(server->port());
  // A header sent a byte at a time takes far longer than read_timeout to arrive whole, though
  // every single byte comes quickly.
  const std::string header = Get("/slow", "X-Padding: " + std::string(400, 'p') + "\r\n");
  for (char byte : header) {
    if (!client.Send(std::string_view(&byte, 1)) || !client.QuietAndOpen()) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 408);
  EXPECT_TRUE(client.WaitForClose());
}

TEST(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions options = TestOptions();
  options.idle_timeout = milliseconds(150);
  auto server = StartServer(options, EchoHandler);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_TRUE(Eventually([&] { return server->open_connections() == 0; }));
}

TEST(HttpServerTest, ConnectionsBeyondTheLimitAreRefused) {
  HttpServerOptions options = TestOptions();
  options.max_connections = 2;
  auto server = StartServer(options, EchoHandler);
  RawClient first(server->port());
  RawClient second(server->port());
  ASSERT_TRUE(Eventually([&] { return server->open_connections() == 2; }));
  RawClient third(server->port());
  EXPECT_TRUE(third.WaitForClose());
  ASSERT_TRUE(first.Send(Get("/still")));
  auto response = first.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  second.Close();
  ASSERT_TRUE(Eventually([&] { return server->open_connections() == 1; }));
  RawClient fourth(server->port());  // room again
  ASSERT_TRUE(fourth.Send(Get("/room")));
  response = fourth.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST(HttpServerTest, ResponderAfterClientDisconnectedIsHarmless) {
  HeldResponders held;
  auto server = StartServer(TestOptions(), held.handler());
  {
    RawClient client(server->port());
    ASSERT_TRUE(client.Send(Get("/gone")));
    auto [request, respond] = held.Take();
    client.Close();
    respond(TextResponse("nobody listens"));
  }
  ASSERT_TRUE(Eventually([&] { return server->open_connections() == 0; }));
  // The server still serves.
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/here")));
  auto [request, respond] = held.Take();
  respond(TextResponse("here"));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "here");
}

TEST(HttpServerTest, ResponderOutlivingTheServerIsANoOp) {
  HeldResponders held;
  auto server = StartServer(TestOptions(), held.handler());
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/pending")));
  auto [request, respond] = held.Take();
  server.reset();  // stops and destroys the server with the request unanswered
  EXPECT_TRUE(client.WaitForClose());
  std::thread late([respond = std::move(respond)] { respond(TextResponse("too late")); });
  late.join();
}

TEST(HttpServerTest, StopClosesLiveConnectionsAndIsIdempotent) {
  HeldResponders held;
  auto server = StartServer(TestOptions(), held.handler());
  RawClient idle(server->port());
  RawClient partial(server->port());
  RawClient pending(server->port());
  ASSERT_TRUE(partial.Send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  ASSERT_TRUE(pending.Send(Get("/wait")));
  auto [request, respond] = held.Take();
  ASSERT_TRUE(Eventually([&] { return server->open_connections() == 3; }));
  server->Stop();
  EXPECT_EQ(server->open_connections(), 0u);
  EXPECT_TRUE(idle.WaitForClose());
  EXPECT_TRUE(partial.WaitForClose());
  EXPECT_TRUE(pending.WaitForClose());
  respond(TextResponse("after stop"));
  server->Stop();
  // No longer accepting.
  EXPECT_THROW(RawClient(server->port()), std::runtime_error);
}

TEST(HttpServerTest, HandlerExceptionBecomes500) {
  auto server = StartServer(
      TestOptions(), [](HttpRequest&&, Responder) -> void { throw std::runtime_error("boom"); });
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/throw")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "internal");
}

TEST(HttpServerTest, UnsafeExtraHeadersAreDropped) {
  auto server = StartServer(TestOptions(), [](HttpRequest&&, Responder respond) {
    HttpResponse response = TextResponse("x");
    response.headers = {{"X-Good", "yes"},
                        {"X-Bad", "a\r\nInjected: 1"},
                        {"Content-Length", "999"},
                        {"Bad Name", "v"}};
    respond(std::move(response));
  });
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "x");
  ASSERT_NE(response->Header("x-good"), nullptr);
  EXPECT_EQ(response->Header("x-bad"), nullptr);
  EXPECT_EQ(response->Header("injected"), nullptr);
  EXPECT_EQ(*response->Header("content-length"), "1");
}

TEST(HttpServerTest, NoContentHasNoBodyOrLength) {
  auto server = StartServer(TestOptions(), [](HttpRequest&&, Responder respond) {
    HttpResponse response;
    response.status = 204;
    response.body = "ignored";
    respond(std::move(response));
  });
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/a") + Get("/b")));
  for (int i = 0; i < 2; ++i) {
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 204);
    EXPECT_EQ(response->Header("content-length"), nullptr);
  }
}

TEST(JsonErrorTest, BuildsTheErrorEnvelope) {
  HttpResponse response = JsonError(404, "not_found", "no role `deploy`");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"error":{"code":"not_found","message":"no role `deploy`"}})");
  HttpResponse invalid_utf8 = JsonError(400, "bad_request", "bad \xff byte");
  EXPECT_TRUE(nlohmann::json::accept(invalid_utf8.body));
}

}  // namespace
}  // namespace xrole::server
