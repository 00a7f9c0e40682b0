// `xrole serve`: the broker behind the HTTP API on the embedded store (or a given one).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/commands/commands.h"
#include "policy/catalogue.h"
#include "server/api.h"
#include "server/http.h"
#include "session/broker.h"
#include "session/objects.h"
#include "store/store.h"

namespace xrole::cli {
namespace {

Result<std::pair<std::string, std::uint16_t>> ParseListen(const std::string& listen) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "--listen must be HOST:PORT, got `" + listen + "`");
  }
  std::string host = listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Error(ErrorCode::kInvalidArgument,
                 "--listen port must be 0-65535, got `" + listen + "`");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

Result<std::vector<session::ObjectDocument>> LoadRoleFiles(const std::vector<std::string>& files) {
  std::vector<session::ObjectDocument> all;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error(ErrorCode::kNotFound, "cannot read `" + file + "`");
    std::stringstream text;
    text << in.rdbuf();
    XROLE_ASSIGN_OR_RETURN(auto documents, session::ParseObjectDocuments(text.str(), file));
    for (auto& d : documents) all.push_back(std::move(d));
  }
  return all;
}

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

}  // namespace

int RunServe(const ServeOptions& options) {
  auto listen = ParseListen(options.listen);
  if (!listen.ok()) {
    std::fprintf(stderr, "xrole serve: %s\n", listen.error().ToString().c_str());
    return 2;
  }
  std::string store_url =
      options.store.empty() ? "sqlite:" + options.data_dir + "/xrole.db" : options.store;
  session::BrokerOptions broker_options;
  broker_options.min_session_seconds = options.min_session_seconds;
  broker_options.audit.commit_delay = std::chrono::microseconds(options.audit_commit_delay_us);
  // Drift expands action patterns through the AWS action catalogue when one is installed.
  if (std::optional<std::string> dir = policy::ActionCatalogue::FindDefaultDirectory()) {
    auto loaded = policy::ActionCatalogue::LoadFromDirectory(*dir);
    if (loaded.ok()) {
      broker_options.actions =
          std::make_shared<const policy::ActionCatalogue>(std::move(loaded).value());
    } else {
      std::fprintf(stderr, "xrole serve: action catalogue not used: %s\n",
                   loaded.error().ToString().c_str());
    }
  }
  // The key ring creates the data directory; the store lives inside it.
  auto keys_probe = session::KeyRing::Open(options.data_dir);
  if (!keys_probe.ok()) {
    std::fprintf(stderr, "xrole serve: %s\n", keys_probe.error().ToString().c_str());
    return 1;
  }
  keys_probe->reset();
  auto store = store::OpenStore(store_url);
  if (!store.ok()) {
    std::fprintf(stderr, "xrole serve: %s\n", store.error().ToString().c_str());
    return 1;
  }
  auto broker = session::Broker::Open(options.data_dir, std::move(*store), broker_options);
  if (!broker.ok()) {
    std::fprintf(stderr, "xrole serve: %s\n", broker.error().ToString().c_str());
    return 1;
  }
  if (!options.load.empty()) {
    auto documents = LoadRoleFiles(options.load);
    if (!documents.ok()) {
      std::fprintf(stderr, "xrole serve: --load: %s\n", documents.error().ToString().c_str());
      return 2;
    }
    auto applied = (*broker)->Apply(session::Caller::Admin(), *documents, {}, false);
    if (!applied.ok()) {
      std::fprintf(stderr, "xrole serve: --load: %s\n", applied.error().ToString().c_str());
      return 2;
    }
    int changed = 0;
    for (const auto& c : applied->changes) changed += c.action != "unchanged";
    std::printf("loaded %zu objects (%d changed)\n", documents->size(), changed);
  }

  server::Api api(**broker, server::ApiOptions{options.workers});
  server::HttpServerOptions http;
  http.host = listen->first;
  http.port = listen->second;
  http.io_threads = options.io_threads;
  http.after_round = api.after_round();
  auto http_server = server::MakeHttpServer(http, api.handler());
  if (auto started = http_server->Start(); !started.ok()) {
    std::fprintf(stderr, "xrole serve: %s\n", started.error().ToString().c_str());
    return 1;
  }
  std::printf("xrole serve: listening on http://%s:%u (store %s)\n", listen->first.c_str(),
              http_server->port(), store_url.c_str());
  std::printf("admin token: %s/admin.token (mode 0600)\n", options.data_dir.c_str());
  std::fflush(stdout);

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  std::printf("xrole serve: stopping\n");
  http_server->Stop();
  return 0;
}

}  // namespace xrole::cli
