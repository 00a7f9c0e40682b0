// openloop: an open-loop HTTP/1.1 load generator for latency at a fixed offered rate.
//
// A closed-loop tool such as wrk sends a connection's next request only when the previous answer
// has arrived, so at 1,000 connections its latency is 1,000 / throughput whatever the server
// does (Little's law), and a stalled server is simply offered less load. Here requests fall due
// at a fixed rate whatever the server's pace, round robin over keep-alive connections; a
// connection sends its next due request as soon as the previous answer is read (no pipelining).
// Each latency counts from the moment the request fell due, not from when it was sent, so a
// request queued behind a slow one is charged for the wait (no coordinated omission).
//
//   openloop --port P [--host 127.0.0.1] [--path /v1/authorize] [--connections 1000]
//            [--rate 30000] [--seconds 10] [--warmup 2] --bodies FILE [--header 'Name: value']...
//
// FILE holds one request body per line; requests cycle through them. Prints one line of
// counts and one of latency percentiles (milliseconds) over the measured window (requests that
// fell due after the warm-up); exits 1 when any request failed or was left unanswered.
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string path = "/v1/authorize";
  int connections = 1000;
  double rate = 30000;
  double seconds = 10;
  double warmup = 2;
  std::string bodies_file;
  std::vector<std::string> headers;
};

struct Totals {
  std::vector<double> latencies_ms;  // requests due inside the measured window
  long completed = 0;                // answered, due inside the window
  long non_2xx = 0;
  long failed = 0;  // transport errors (the request and those queued behind it)
};

class Generator;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, Generator& generator, std::size_t first_request)
      : socket_(io), generator_(generator), next_request_(first_request) {}

  tcp::socket& socket() { return socket_; }
  void Enqueue(Clock::time_point due);
  std::size_t pending() const { return due_.size(); }

 private:
  void SendNext();
  void OnResponse(beast::error_code ec);
  void Fail();

  tcp::socket socket_;
  Generator& generator_;
  std::size_t next_request_;
  std::deque<Clock::time_point> due_;
  bool busy_ = false;
  bool dead_ = false;
  beast::flat_buffer buffer_;
  http::response<http::string_body> response_;
};

class Generator {
 public:
  Generator(Options options, std::vector<std::string> requests)
      : options_(std::move(options)), requests_(std::move(requests)), timer_(io_) {}

  int Run() {
    tcp::resolver resolver(io_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(options_.host, options_.port, ec);
    if (ec) {
      std::cerr << "openloop: cannot resolve " << options_.host << ": " << ec.message() << "\n";
      return 2;
    }
    for (int i = 0; i < options_.connections; ++i) {
      auto connection = std::make_shared<Connection>(io_, *this, static_cast<std::size_t>(i));
      asio::connect(connection->socket(), endpoints, ec);
      if (ec) {
        std::cerr << "openloop: connection " << i << ": " << ec.message() << "\n";
        return 2;
      }
      connection->socket().set_option(tcp::no_delay(true));
      connections_.push_back(std::move(connection));
    }
    start_ = Clock::now();
    const auto to_duration = [](double s) {
      return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    measure_from_ = start_ + to_duration(options_.warmup);
    stop_issuing_ = measure_from_ + to_duration(options_.seconds);
    give_up_ = stop_issuing_ + std::chrono::seconds(5);
    Tick();
    io_.run();
    return Report();
  }

  const std::string& request(std::size_t index) const {
    return requests_[index % requests_.size()];
  }
  void Record(Clock::time_point due, unsigned status) {
    if (due < measure_from_ || due >= stop_issuing_) return;
    ++totals_.completed;
    if (status < 200 || status > 299) ++totals_.non_2xx;
    totals_.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - due).count());
  }
  void RecordFailure(Clock::time_point due) {
    if (due >= measure_from_ && due < stop_issuing_) ++totals_.failed;
  }
  std::size_t connection_count() const { return connections_.size(); }

 private:
  // Every half millisecond: issue the requests that have fallen due since the last tick.
  void Tick() {
    const Clock::time_point now = std::min(Clock::now(), stop_issuing_);
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const auto due_count = static_cast<long>(std::floor(elapsed * options_.rate));
    for (; issued_ < due_count; ++issued_) {
      const auto due = start_ + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(issued_ / options_.rate));
      connections_[static_cast<std::size_t>(issued_) % connections_.size()]->Enqueue(due);
    }
    if (Clock::now() >= stop_issuing_ && (AllAnswered() || Clock::now() >= give_up_)) {
      for (auto& connection : connections_) {
        beast::error_code ignored;
        connection->socket().close(ignored);
      }
      return;
    }
    timer_.expires_after(std::chrono::microseconds(500));
    timer_.async_wait([this](beast::error_code) { Tick(); });
  }

  bool AllAnswered() const {
    return std::all_of(connections_.begin(), connections_.end(),
                       [](const auto& c) { return c->pending() == 0; });
  }

  int Report() {
    long unanswered = 0;
    for (const auto& c : connections_) unanswered += static_cast<long>(c->pending());
    auto& l = totals_.latencies_ms;
    std::sort(l.begin(), l.end());
    const auto percentile = [&](double p) {
      if (l.empty()) return 0.0;
      const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * l.size()));
      return l[std::clamp<std::size_t>(rank, 1, l.size()) - 1];
    };
    std::printf(
        "offered %.0f req/s over %d connections for %.0f s: answered %.0f req/s, non-2xx %ld, "
        "failed %ld, unanswered %ld\n",
        options_.rate, options_.connections, options_.seconds,
        static_cast<double>(totals_.completed) / options_.seconds, totals_.non_2xx, totals_.failed,
        unanswered);
    std::printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", percentile(50),
                percentile(90), percentile(99), percentile(99.9), l.empty() ? 0.0 : l.back());
    return totals_.failed == 0 && unanswered == 0 && totals_.non_2xx == 0 ? 0 : 1;
  }

  Options options_;
  std::vector<std::string> requests_;
  asio::io_context io_;
  asio::steady_timer timer_;
  std::vector<std::shared_ptr<Connection>> connections_;
  Clock::time_point start_, measure_from_, stop_issuing_, give_up_;
  long issued_ = 0;
  Totals totals_;
};

void Connection::Enqueue(Clock::time_point due) {
  if (dead_) {
    generator_.RecordFailure(due);
    return;
  }
  due_.push_back(due);
  if (!busy_) SendNext();
}

void Connection::SendNext() {
  busy_ = true;
  const std::string& request = generator_.request(next_request_);
  next_request_ += generator_.connection_count();
  asio::async_write(socket_, asio::buffer(request),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return self->Fail();
                      self->response_ = {};
                      http::async_read(self->socket_, self->buffer_, self->response_,
                                       [self](beast::error_code read_ec, std::size_t) {
                                         self->OnResponse(read_ec);
                                       });
                    });
}

void Connection::OnResponse(beast::error_code ec) {
  if (ec) return Fail();
  generator_.Record(due_.front(), response_.result_int());
  due_.pop_front();
  if (!response_.keep_alive()) return Fail();
  if (due_.empty()) {
    busy_ = false;
  } else {
    SendNext();
  }
}

void Connection::Fail() {
  if (dead_) return;
  dead_ = true;
  for (const auto& due : due_) generator_.RecordFailure(due);
  due_.clear();
  beast::error_code ignored;
  socket_.close(ignored);
}

bool ParseArguments(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    try {
      if (flag == "--host")
        options->host = value;
      else if (flag == "--port")
        options->port = value;
      else if (flag == "--path")
        options->path = value;
      else if (flag == "--connections")
        options->connections = std::stoi(value);
      else if (flag == "--rate")
        options->rate = std::stod(value);
      else if (flag == "--seconds")
        options->seconds = std::stod(value);
      else if (flag == "--warmup")
        options->warmup = std::stod(value);
      else if (flag == "--bodies")
        options->bodies_file = value;
      else if (flag == "--header")
        options->headers.push_back(value);
      else
        return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return !options->port.empty() && !options->bodies_file.empty() && options->connections > 0 &&
         options->rate > 0 && options->seconds > 0 && options->warmup >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseArguments(argc, argv, &options)) {
    std::cerr << "usage: openloop --port P --bodies FILE [--host H] [--path /v1/authorize] "
                 "[--connections 1000] [--rate 30000] [--seconds 10] [--warmup 2] "
                 "[--header 'Name: value']...\n";
    return 2;
  }
  std::ifstream file(options.bodies_file);
  if (!file) {
    std::cerr << "openloop: cannot read " << options.bodies_file << "\n";
    return 2;
  }
  std::vector<std::string> requests;
  for (std::string body; std::getline(file, body);) {
    if (body.empty()) continue;
    std::string request =
        "POST " + options.path + " HTTP/1.1\r\nHost: " + options.host +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n";
    for (const auto& header : options.headers) request += header + "\r\n";
    requests.push_back(request + "\r\n" + body);
  }
  if (requests.empty()) {
    std::cerr << "openloop: " << options.bodies_file << " holds no request body\n";
    return 2;
  }
  return Generator(std::move(options), std::move(requests)).Run();
}
