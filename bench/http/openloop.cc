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
//            [--trace FILE]
//
// FILE holds one request body per line; requests cycle through them. Prints one line of
// counts and one of latency percentiles (milliseconds) over the measured window (requests that
// fell due after the warm-up); exits 1 when any request failed or was left unanswered.
// --trace writes one line per measured request: due time (ms from start), latency (ms) and the
// wall-clock time of the answer (epoch seconds), to line stalls up with what the server did.
//
// The generator shares the machine with the server it measures, so it is built to cost little:
// one thread, one epoll set, non-blocking sockets, a request written with one send() and an
// answer framed by its Content-Length (the server under test never sends chunked answers).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

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
  std::string trace_file;
};

// One answer framed in a receive buffer.
struct Answer {
  int status = 0;
  bool keep_alive = true;
  std::size_t bytes = 0;  // header and body
};

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// The first complete answer at the start of `data`: nullopt while incomplete; an Answer with
// status 0 when the bytes are not an HTTP/1.1 answer this tool can frame.
std::optional<Answer> FrameAnswer(std::string_view data) {
  const std::size_t header_end = data.find("\r\n\r\n");
  if (header_end == std::string_view::npos) return std::nullopt;
  Answer answer;
  const std::string_view header = data.substr(0, header_end);
  if (header.size() < 12 || !header.starts_with("HTTP/1.")) return Answer{};
  answer.status = std::atoi(std::string(header.substr(9, 3)).c_str());
  std::optional<std::size_t> content_length;
  for (std::size_t start = header.find("\r\n"); start != std::string_view::npos;) {
    start += 2;
    const std::size_t end = header.find("\r\n", start);
    const std::string_view line =
        header.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (StartsWithIgnoreCase(line, "content-length:")) {
      content_length = std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10);
    } else if (StartsWithIgnoreCase(line, "connection:") &&
               line.find("close") != std::string_view::npos) {
      answer.keep_alive = false;
    } else if (StartsWithIgnoreCase(line, "transfer-encoding:")) {
      return Answer{};
    }
    start = end;
  }
  if (!content_length) return Answer{};
  answer.bytes = header_end + 4 + *content_length;
  if (data.size() < answer.bytes) return std::nullopt;
  return answer;
}

struct Connection {
  int fd = -1;
  std::size_t next_request = 0;
  std::deque<Clock::time_point> due;
  bool busy = false;  // a request is out (or partly written)
  bool dead = false;
  bool watching_out = false;  // EPOLLOUT is in the epoll set
  std::string_view unsent;    // the rest of the request being written
  std::string received;
};

class Generator {
 public:
  Generator(Options options, std::vector<std::string> requests)
      : options_(std::move(options)), requests_(std::move(requests)) {}

  ~Generator() {
    for (Connection& c : connections_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    if (epoll_ >= 0) ::close(epoll_);
    if (timer_ >= 0) ::close(timer_);
    if (trace_ != nullptr) std::fclose(trace_);
  }

  int Run() {
    if (!options_.trace_file.empty()) {
      trace_ = std::fopen(options_.trace_file.c_str(), "w");
      if (trace_ == nullptr) {
        std::cerr << "openloop: cannot write " << options_.trace_file << "\n";
        return 2;
      }
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* address = nullptr;
    if (::getaddrinfo(options_.host.c_str(), options_.port.c_str(), &hints, &address) != 0) {
      std::cerr << "openloop: cannot resolve " << options_.host << "\n";
      return 2;
    }
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    connections_.resize(static_cast<std::size_t>(options_.connections));
    int failed_at = -1;
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = connections_[i];
      c.next_request = i;
      c.fd = ::socket(address->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (c.fd < 0 || ::connect(c.fd, address->ai_addr, address->ai_addrlen) != 0) {
        failed_at = static_cast<int>(i);
        break;
      }
      const int one = 1;
      ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &event);
    }
    ::freeaddrinfo(address);
    if (failed_at >= 0) {
      std::cerr << "openloop: connection " << failed_at << ": " << std::strerror(errno) << "\n";
      return 2;
    }

    start_ = Clock::now();
    const auto to_duration = [](double s) {
      return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    measure_from_ = start_ + to_duration(options_.warmup);
    stop_issuing_ = measure_from_ + to_duration(options_.seconds);
    const Clock::time_point give_up = stop_issuing_ + std::chrono::seconds(5);
    // Requests fall due continuously; a timer every quarter millisecond issues them in small
    // groups, as a fleet of clients would, while answers wake the loop as they come.
    timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec tick{};
    tick.it_interval.tv_nsec = kTickNs;
    tick.it_value.tv_nsec = kTickNs;
    ::timerfd_settime(timer_, 0, &tick, nullptr);
    epoll_event timer_event{};
    timer_event.events = EPOLLIN;
    timer_event.data.u64 = kTimerKey;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &timer_event);

    std::vector<epoll_event> events(256);
    while (true) {
      IssueDue();
      const Clock::time_point now = Clock::now();
      if (now >= stop_issuing_ && (AllAnswered() || now >= give_up)) break;
      const int count = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
      for (int i = 0; i < count; ++i) {
        const epoll_event& event = events[static_cast<std::size_t>(i)];
        if (event.data.u64 == kTimerKey) {
          std::uint64_t expirations = 0;
          (void)!::read(timer_, &expirations, sizeof expirations);
          continue;
        }
        Connection& c = connections_[event.data.u64];
        if (event.events & EPOLLOUT) Flush(c);
        if (event.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Receive(c);
      }
    }
    return Report();
  }

 private:
  static constexpr long kTickNs = 250'000;
  static constexpr std::uint64_t kTimerKey = ~std::uint64_t{0};

  void IssueDue() {
    const Clock::time_point now = std::min(Clock::now(), stop_issuing_);
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const auto due_count = static_cast<long>(std::floor(elapsed * options_.rate));
    for (; issued_ < due_count; ++issued_) {
      const auto due = start_ + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(issued_ / options_.rate));
      Connection& c = connections_[static_cast<std::size_t>(issued_) % connections_.size()];
      if (c.dead) {
        RecordFailure(due);
        continue;
      }
      c.due.push_back(due);
      if (!c.busy) SendNext(c);
    }
  }

  void SendNext(Connection& c) {
    c.busy = true;
    c.unsent = requests_[c.next_request % requests_.size()];
    c.next_request += connections_.size();
    Flush(c);
  }

  void Flush(Connection& c) {
    while (!c.unsent.empty()) {
      const ssize_t sent = ::send(c.fd, c.unsent.data(), c.unsent.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        Watch(c, EPOLLIN | EPOLLOUT);
        return;
      }
      if (sent <= 0) return Fail(c);
      c.unsent.remove_prefix(static_cast<std::size_t>(sent));
    }
    Watch(c, EPOLLIN);
  }

  void Watch(Connection& c, std::uint32_t events) {
    const bool want_out = (events & EPOLLOUT) != 0;
    if (want_out == c.watching_out) return;
    c.watching_out = want_out;
    epoll_event event{};
    event.events = events;
    event.data.u64 = static_cast<std::uint64_t>(&c - connections_.data());
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event);
  }

  void Receive(Connection& c) {
    char buffer[16384];
    while (!c.dead) {
      const ssize_t got = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (got <= 0) return Fail(c);
      c.received.append(buffer, static_cast<std::size_t>(got));
      if (static_cast<std::size_t>(got) < sizeof buffer) break;
    }
    while (!c.dead) {
      const std::optional<Answer> answer = FrameAnswer(c.received);
      if (!answer) return;
      if (answer->status == 0 || c.due.empty() || !c.unsent.empty()) return Fail(c);
      Record(c.due.front(), answer->status);
      c.due.pop_front();
      c.received.erase(0, answer->bytes);
      if (!answer->keep_alive) return Fail(c);
      if (c.due.empty()) {
        c.busy = false;
      } else {
        SendNext(c);
      }
    }
  }

  void Fail(Connection& c) {
    if (c.dead) return;
    c.dead = true;
    for (const auto& due : c.due) RecordFailure(due);
    c.due.clear();
    ::close(c.fd);
    c.fd = -1;
  }

  void Record(Clock::time_point due, int status) {
    if (due < measure_from_ || due >= stop_issuing_) return;
    ++completed_;
    if (status < 200 || status > 299) ++non_2xx_;
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
    latencies_ms_.push_back(ms);
    if (trace_ != nullptr) {
      std::fprintf(
          trace_, "%.3f %.3f %.3f\n",
          std::chrono::duration<double, std::milli>(due - start_).count(), ms,
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count());
    }
  }

  void RecordFailure(Clock::time_point due) {
    if (due >= measure_from_ && due < stop_issuing_) ++failed_;
  }

  bool AllAnswered() const {
    return std::all_of(connections_.begin(), connections_.end(),
                       [](const Connection& c) { return c.due.empty(); });
  }

  int Report() {
    long unanswered = 0;
    for (const Connection& c : connections_) unanswered += static_cast<long>(c.due.size());
    auto& l = latencies_ms_;
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
        static_cast<double>(completed_) / options_.seconds, non_2xx_, failed_, unanswered);
    std::printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", percentile(50),
                percentile(90), percentile(99), percentile(99.9), l.empty() ? 0.0 : l.back());
    return failed_ == 0 && unanswered == 0 && non_2xx_ == 0 ? 0 : 1;
  }

  Options options_;
  std::vector<std::string> requests_;
  std::vector<Connection> connections_;
  int epoll_ = -1;
  int timer_ = -1;
  std::FILE* trace_ = nullptr;
  Clock::time_point start_, measure_from_, stop_issuing_;
  long issued_ = 0;
  std::vector<double> latencies_ms_;  // requests due inside the measured window
  long completed_ = 0;                // answered, due inside the window
  long non_2xx_ = 0;
  long failed_ = 0;  // transport errors (the request and those queued behind it)
};

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
      else if (flag == "--trace")
        options->trace_file = value;
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
                 "[--header 'Name: value']... [--trace FILE]\n";
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
