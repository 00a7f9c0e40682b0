// broker_bench: the broker in process, on a real SQLite file, without HTTP. Authorize is the
// whole decision path (token check, revocation, guardrails + role + session policy, the audit
// record made durable through the group-committing log); Assume adds trust evaluation, token
// signing and a durable session row. Run with --benchmark_min_time to taste; threads share one
// broker, as the server's request handlers do.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "session/broker.h"
#include "session/objects.h"
#include "store/store.h"

namespace {

using namespace xrole;

struct Fixture {
  std::string dir;
  std::unique_ptr<session::Broker> broker;
  std::string run_id;
  std::string token;
};

Fixture& Shared() {
  static Fixture* fixture = [] {
    auto* f = new Fixture();
    f->dir = std::filesystem::temp_directory_path() /
             ("xrole-broker-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(f->dir);
    auto store = store::OpenSqlite(f->dir + ".db");
    if (!store.ok()) std::abort();
    auto broker = session::Broker::Open(f->dir, std::move(*store));
    if (!broker.ok()) std::abort();
    f->broker = std::move(*broker);
    std::vector<session::ObjectDocument> documents;
    for (const auto& entry :
         std::filesystem::directory_iterator(std::string(XROLE_SOURCE_DIR) + "/examples/roles")) {
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      auto parsed = session::ParseObjectDocuments(text.str(), entry.path().string());
      if (!parsed.ok()) std::abort();
      documents.insert(documents.end(), parsed->begin(), parsed->end());
    }
    auto admin = session::Caller::Admin();
    if (!f->broker->Apply(admin, documents, {}, false).ok()) std::abort();
    session::StartRunRequest start;
    start.workflow = "incident-response";
    start.agent = "ir-agent";
    start.ttl_seconds = 7200;
    auto run = f->broker->StartRun(admin, start);
    if (!run.ok()) std::abort();
    f->run_id = run->id;
    session::AssumeRequest assume;
    assume.role = "incident-responder";
    assume.run_id = f->run_id;
    auto session = f->broker->Assume(admin, assume);
    if (!session.ok()) std::abort();
    f->token = session->credentials.session_token;
    return f;
  }();
  return *fixture;
}

void BM_Authorize(benchmark::State& state) {
  Fixture& f = Shared();
  session::AuthorizeRequest request;
  request.session_token = f.token;
  request.action = "ec2:StopInstances";
  request.resource = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc";
  for (auto _ : state) {
    auto result = f.broker->AuthorizeAndWait(request);
    if (result.decision != policy::Decision::kAllowed) state.SkipWithError("not allowed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Authorize)->Threads(1)->Threads(8)->Threads(64)->UseRealTime();

void BM_Assume(benchmark::State& state) {
  Fixture& f = Shared();
  session::AssumeRequest assume;
  assume.role = "incident-responder";
  assume.run_id = f.run_id;
  for (auto _ : state) {
    auto session = f.broker->Assume(session::Caller::Admin(), assume);
    if (!session.ok()) state.SkipWithError("assume failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Assume)->Threads(1)->Threads(16)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
