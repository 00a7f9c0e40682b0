#include "session/broker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "session/session_reuse.h"
#include "session/token.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace xrole::session {
namespace {

namespace fs = std::filesystem;
using policy::ContextValue;
using policy::Decision;
// `Run` alone would name testing::Test::Run inside fixtures.
using RunRecord = ::xrole::session::Run;
using ::testing::HasSubstr;

constexpr std::int64_t kStart = 1900000000;  // 2030-03-17, epoch seconds

// The organisation under test. alice sponsors `worker`; dave starts runs on whose behalf it
// acts; bob is an independent approver; carol may not approve at all.
constexpr std::string_view kCatalog = R"(apiVersion: xrole/v1
kind: Human
metadata: {name: alice}
spec: {email: alice@example.com, canApprove: true}
---
apiVersion: xrole/v1
kind: Human
metadata: {name: bob}
spec: {email: bob@example.com, canApprove: true}
---
apiVersion: xrole/v1
kind: Human
metadata: {name: carol}
spec: {email: carol@example.com, canApprove: false}
---
apiVersion: xrole/v1
kind: Human
metadata: {name: dave}
spec: {email: dave@example.com, canApprove: true}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: worker}
spec: {sponsor: alice, tags: {tier: gold}}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: scout}
spec: {sponsor: bob}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: outsider}
spec: {sponsor: bob}
---
apiVersion: xrole/v1
kind: Guardrail
metadata: {name: protect-evidence}
spec:
  scope: principal
  policy:
    Version: "2012-10-17"
    Statement:
      - {Sid: NeverDeleteSnapshots, Effect: Deny, Action: ec2:DeleteSnapshot, Resource: "*"}
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: reader}
spec:
  maxSessionDuration: 1h
  trust: {agents: [worker, scout], workflows: [main, short]}
  permissions:
    - Version: "2012-10-17"
      Statement:
        - Sid: ReadData
          Effect: Allow
          Action: [s3:GetObject, s3:ListBucket]
          Resource: ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]
        - Sid: WriteOwnProject
          Effect: Allow
          Action: s3:PutObject
          Resource: "arn:aws:s3:::projects/*"
          Condition: {StringEquals: {"aws:PrincipalTag/project": apollo}}
        - Sid: Snapshots
          Effect: Allow
          Action: [ec2:DescribeSnapshots, ec2:DeleteSnapshot]
          Resource: "*"
        - Sid: OnlyForAdminRole
          Effect: Allow
          Action: sqs:SendMessage
          Resource: "*"
          Condition: {ArnEquals: {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/admin"}}
        - Sid: OnlyForAnotherRun
          Effect: Allow
          Action: sqs:DeleteMessage
          Resource: "*"
          Condition: {StringEquals: {"xrole:RunId": run-spoofed}}
        - Sid: FromOfficeNetwork
          Effect: Allow
          Action: sqs:ReceiveMessage
          Resource: "*"
          Condition: {IpAddress: {"aws:SourceIp": 10.0.0.0/8}}
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: long}
spec:
  maxSessionDuration: 4h
  trust: {agents: [worker], workflows: [main]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: base}
spec:
  maxSessionDuration: 4h
  trust: {agents: [worker], workflows: [main]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: escalate}
spec:
  maxSessionDuration: 4h
  trust:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Principal: {AWS: "arn:aws:iam::111122223333:role/base"}
        Action: sts:AssumeRole
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:DeleteObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: escalate-by-arn}
spec:
  maxSessionDuration: 4h
  trust:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Principal: {AWS: "*"}
        Action: sts:AssumeRole
        Condition: {ArnEquals: {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/base"}}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:DeleteObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: ticketed}
spec:
  trust:
    agents: [worker]
    conditions: {StringLike: {"xrole:RunTag/ticket": "CHG-*"}}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: for-dave}
spec:
  trust: {agents: [worker], humans: [dave]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: prod}
spec:
  maxSessionDuration: 1h
  trust: {agents: [worker]}
  approval: {required: true, ttl: 10m}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: unlisted}
spec:
  trust: {agents: [worker]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: main}
spec:
  roles: [reader, long, base, escalate, escalate-by-arn, ticketed, for-dave, prod]
  maxRunDuration: 6h
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: short}
spec:
  roles: [reader]
  maxRunDuration: 30m
)";

constexpr int kCatalogDocuments = 19;

constexpr std::string_view kGetOnly =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}]})";
constexpr std::string_view kListOnly =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::data"}]})";

constexpr char kData[] = "arn:aws:s3:::data";
constexpr char kDataObject[] = "arn:aws:s3:::data/report.csv";

struct TempDir : xrole::testing::TempDir {
  TempDir() : xrole::testing::TempDir("xrole-broker") {}
};

// Test switches on the store: commits fail while `fail_commits` is set (a disk that went
// away), and `before_commit`, when set, runs on the committing thread before each commit.
struct StoreControl {
  std::atomic<bool> fail_commits{false};
  std::mutex mutex;
  std::function<void(const store::Batch&)> before_commit;  // guarded by mutex
  // When set, audit reads leave out the rows it is true for, as if they had been deleted from
  // the database (the limit counts the rows that are left). Guarded by mutex.
  std::function<bool(const store::AuditRow&)> hide_audit_row;
};

// The real SQLite store, steered by a StoreControl.
class ControlledStore : public store::Store {
 public:
  ControlledStore(std::unique_ptr<store::Store> inner, std::shared_ptr<StoreControl> control)
      : inner_(std::move(inner)), control_(std::move(control)) {}

  Status Commit(const store::Batch& batch) override {
    std::function<void(const store::Batch&)> hook;
    {
      std::lock_guard lock(control_->mutex);
      hook = control_->before_commit;
    }
    if (hook) hook(batch);
    if (control_->fail_commits.load()) return Error(ErrorCode::kUnavailable, "the disk is gone");
    return inner_->Commit(batch);
  }
  Result<std::vector<store::Entity>> LoadTable(store::Table table) override {
    return inner_->LoadTable(table);
  }
  Result<std::optional<std::string>> Get(store::Table table, std::string_view id) override {
    return inner_->Get(table, id);
  }
  Result<std::vector<store::AuditRow>> ReadAudit(std::int64_t after_seq,
                                                 std::size_t limit) override {
    std::function<bool(const store::AuditRow&)> hide;
    {
      std::lock_guard lock(control_->mutex);
      hide = control_->hide_audit_row;
    }
    if (!hide) return inner_->ReadAudit(after_seq, limit);
    XROLE_ASSIGN_OR_RETURN(std::vector<store::AuditRow> rows, inner_->ReadAudit(after_seq, 0));
    std::erase_if(rows, hide);
    if (limit != 0 && rows.size() > limit) rows.resize(limit);
    return rows;
  }
  Result<std::optional<store::AuditRow>> LastAudit() override { return inner_->LastAudit(); }
  Result<std::vector<store::CheckpointRow>> ReadCheckpoints() override {
    return inner_->ReadCheckpoints();
  }
  Status PruneAudit(std::int64_t through_seq, const store::CheckpointRow& anchor) override {
    return inner_->PruneAudit(through_seq, anchor);
  }
  Result<std::int64_t> AuditPrunedThrough() override { return inner_->AuditPrunedThrough(); }
  Result<std::unique_ptr<store::AuditLock>> ExcludeAuditReaders() override {
    return inner_->ExcludeAuditReaders();
  }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<store::Store> inner_;
  std::shared_ptr<StoreControl> control_;
};

std::map<std::string, std::string> Changes(const ApplyResult& result) {
  std::map<std::string, std::string> out;
  for (const auto& change : result.changes) out[change.object] = change.action;
  return out;
}

// The decoded payload of a session token.
nlohmann::json TokenPayload(const std::string& token) {
  std::size_t first = token.find('.');
  std::size_t second = token.find('.', first + 1);
  auto payload = crypto::Base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!payload.ok()) {
    ADD_FAILURE() << "token payload is not base64url";
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(*payload);
}

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenBroker());
    auto applied = broker_->Apply(Caller::Admin(), Docs(kCatalog), {}, false);
    ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  }

  void OpenBroker() {
    auto sqlite = store::OpenSqlite(dir_.File("xrole.db"));
    ASSERT_TRUE(sqlite.ok()) << sqlite.error().ToString();
    auto controlled = std::make_unique<ControlledStore>(std::move(*sqlite), control_);
    store_ = controlled.get();
    BrokerOptions options = options_;
    options.now = [this] {
      std::function<void()> hook;
      {
        std::lock_guard lock(clock_mutex_);
        hook = on_clock_read_;
      }
      if (hook) hook();
      return now_.load();
    };
    auto broker = Broker::Open(dir_.File("data"), std::move(controlled), std::move(options));
    ASSERT_TRUE(broker.ok()) << broker.error().ToString();
    broker_ = std::move(*broker);
  }

  // Closes the broker and opens a new one on the same database and data directory.
  void Reopen() {
    broker_.reset();
    store_ = nullptr;
    ASSERT_NO_FATAL_FAILURE(OpenBroker());
  }

  void Advance(std::int64_t seconds) { now_ += seconds; }
  std::int64_t Now() const { return now_.load(); }

  static std::vector<ObjectDocument> Docs(std::string_view yaml) {
    auto docs = ParseObjectDocuments(yaml, "test.yaml");
    EXPECT_TRUE(docs.ok()) << docs.error().ToString();
    return docs.ok() ? *docs : std::vector<ObjectDocument>{};
  }

  std::set<std::string> StoredObjects() {
    std::set<std::string> ids;
    auto rows = store_->LoadTable(store::Table::kObjects);
    EXPECT_TRUE(rows.ok());
    if (rows.ok()) {
      for (const auto& row : *rows) ids.insert(row.id);
    }
    return ids;
  }

  // Starts a run as the admin; fails the test when refused.
  RunRecord NewRun(std::string workflow = "main", std::string agent = "worker",
                   std::int64_t ttl_seconds = 0, std::map<std::string, std::string> tags = {},
                   std::string on_behalf_of = "") {
    StartRunRequest request;
    request.workflow = std::move(workflow);
    request.agent = std::move(agent);
    request.ttl_seconds = ttl_seconds;
    request.tags = std::move(tags);
    request.on_behalf_of = std::move(on_behalf_of);
    auto run = broker_->StartRun(Caller::Admin(), request);
    if (!run.ok()) {
      ADD_FAILURE() << "start run: " << run.error().ToString();
      return RunRecord{};
    }
    return *run;
  }

  static AssumeRequest Request(std::string role, const RunRecord& run,
                               std::int64_t duration_seconds = 0) {
    AssumeRequest request;
    request.role = std::move(role);
    request.run_id = run.id;
    request.duration_seconds = duration_seconds;
    return request;
  }

  // Assumes and expects a session (not a pending approval).
  AssumeResult MustAssume(const Caller& caller, const AssumeRequest& request) {
    auto result = broker_->Assume(caller, request);
    if (!result.ok()) {
      ADD_FAILURE() << "assume " << request.role << ": " << result.error().ToString();
      return AssumeResult{};
    }
    EXPECT_FALSE(result->pending);
    return *result;
  }

  AssumeResult MustAssume(const AssumeRequest& request) {
    return MustAssume(Caller::OfAgent("worker"), request);
  }

  // The API caller holding `session`'s token, as Authenticate sees it.
  Caller HolderOf(const AssumeResult& session) {
    auto caller = broker_->Authenticate("Bearer " + session.credentials.session_token);
    if (!caller.ok()) {
      ADD_FAILURE() << "authenticate: " << caller.error().ToString();
      return Caller{};
    }
    EXPECT_EQ(caller->kind, Caller::Kind::kSession);
    return *caller;
  }

  AuthorizeResult Check(const std::string& token, std::string action, std::string resource,
                        policy::Context context = {}) {
    AuthorizeRequest request;
    request.session_token = token;
    request.action = std::move(action);
    request.resource = std::move(resource);
    request.context = std::move(context);
    return broker_->AuthorizeAndWait(std::move(request));
  }
  AuthorizeResult Check(const AssumeResult& session, std::string action, std::string resource,
                        policy::Context context = {}) {
    return Check(session.credentials.session_token, std::move(action), std::move(resource),
                 std::move(context));
  }

  std::vector<store::AuditRow> Audit() {
    auto rows = broker_->ReadAudit(Caller::Admin(), 0, 0);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<store::AuditRow>{};
  }

  TempDir dir_;
  BrokerOptions options_;  // what OpenBroker opens the broker with (with the test clock)
  std::atomic<std::int64_t> now_{kStart};
  std::shared_ptr<StoreControl> control_ = std::make_shared<StoreControl>();
  std::mutex clock_mutex_;
  std::function<void()> on_clock_read_;  // guarded by clock_mutex_; runs when the broker reads
                                         // the clock
  store::Store* store_ = nullptr;        // owned by broker_
  std::unique_ptr<Broker> broker_;
};

// ---- roles as code ---------------------------------------------------------------------------

TEST_F(BrokerTest, ApplyReportsCreatedUpdatedUnchangedDeleted) {
  // The first apply (SetUp) created everything; the same set again changes nothing.
  auto again = broker_->Apply(Caller::Admin(), Docs(kCatalog), {}, false);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->changes.size(), static_cast<std::size_t>(kCatalogDocuments));
  for (const auto& change : again->changes) {
    EXPECT_EQ(change.action, "unchanged") << change.object;
  }
  EXPECT_GT(again->audit_id, 0);

  auto changed = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Human
metadata: {name: erin}
spec: {email: erin@example.com}
---
apiVersion: xrole/v1
kind: Human
metadata: {name: carol}
spec: {email: carol@example.org, canApprove: false}
---
apiVersion: xrole/v1
kind: Human
metadata: {name: bob}
spec: {email: bob@example.com, canApprove: true}
)"),
                                {}, false);
  ASSERT_TRUE(changed.ok()) << changed.error().ToString();
  EXPECT_EQ(Changes(*changed), (std::map<std::string, std::string>{{"Human/bob", "unchanged"},
                                                                   {"Human/carol", "updated"},
                                                                   {"Human/erin", "created"}}));
  EXPECT_EQ(broker_->catalog()->humans.at("carol").email, "carol@example.org");
  EXPECT_TRUE(StoredObjects().count("Human/erin"));

  auto deleted = broker_->Apply(Caller::Admin(), {}, {"Human/erin"}, false);
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  EXPECT_EQ(Changes(*deleted), (std::map<std::string, std::string>{{"Human/erin", "deleted"}}));
  EXPECT_FALSE(broker_->catalog()->humans.count("erin"));
  EXPECT_FALSE(StoredObjects().count("Human/erin"));

  // Every applied change is audited.
  int applies = 0;
  for (const auto& row : Audit()) applies += row.type == "apply";
  EXPECT_EQ(applies, 4);
}

TEST_F(BrokerTest, ApplyIsAllOrNothing) {
  std::set<std::string> stored_before = StoredObjects();
  auto catalog_before = broker_->catalog();
  // A valid new human and a workflow naming a role that does not exist.
  auto result = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Human
metadata: {name: zed}
spec: {email: zed@example.com}
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: broken}
spec: {roles: [no-such-role]}
)"),
                               {}, false);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().ToString(), HasSubstr("no-such-role"));
  EXPECT_EQ(broker_->catalog(), catalog_before);  // the very same catalog object
  EXPECT_FALSE(broker_->catalog()->humans.count("zed"));
  EXPECT_EQ(StoredObjects(), stored_before);

  // Deleting a role that a workflow still lists is refused the same way.
  auto deletion = broker_->Apply(Caller::Admin(), {}, {"ExecutionRole/reader"}, false);
  ASSERT_FALSE(deletion.ok());
  EXPECT_TRUE(broker_->catalog()->roles.count("reader"));
  EXPECT_EQ(StoredObjects(), stored_before);
}

TEST_F(BrokerTest, DeletingAPrincipalRetiresItsKeysAndKeepsLiveWorkAlive) {
  constexpr std::string_view kPrincipals = R"(apiVersion: xrole/v1
kind: Human
metadata: {name: erin}
spec: {email: erin@example.com}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: temp}
spec: {sponsor: alice}
)";
  auto applied = broker_->Apply(Caller::Admin(), Docs(kPrincipals), {}, false);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  auto human_key = broker_->IssueKey(Caller::Admin(), "human", "erin", false);
  auto agent_key = broker_->IssueKey(Caller::Admin(), "agent", "temp", false);
  ASSERT_TRUE(human_key.ok() && agent_key.ok());
  auto works = [this](const IssuedKey& key) {
    return broker_->Authenticate("Bearer " + key.access_key_id + ":" + key.secret_access_key).ok();
  };
  ASSERT_TRUE(works(*human_key) && works(*agent_key));

  // An agent with a live run is not deleted by an apply (offboarding ends its work).
  RunRecord run = NewRun("short", "temp");
  std::set<std::string> stored_before = StoredObjects();
  auto refused = broker_->Apply(Caller::Admin(), {}, {"Agent/temp", "Human/erin"}, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(refused.error().message(), HasSubstr("live run"));
  EXPECT_THAT(refused.error().message(), HasSubstr("xrole offboard agent temp"));
  EXPECT_TRUE(broker_->catalog()->agents.count("temp"));
  EXPECT_TRUE(broker_->catalog()->humans.count("erin"));
  EXPECT_EQ(StoredObjects(), stored_before);
  EXPECT_TRUE(works(*human_key) && works(*agent_key));

  // Once the run is over, the deletion retires both principals' keys in the same transaction,
  // and applying the names again does not bring the old keys back.
  ASSERT_TRUE(broker_->EndRun(Caller::Admin(), run.id).ok());
  auto deleted = broker_->Apply(Caller::Admin(), {}, {"Agent/temp", "Human/erin"}, false);
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  std::vector<std::string> expected = {human_key->access_key_id, agent_key->access_key_id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(deleted->retired_keys, expected);
  EXPECT_FALSE(works(*human_key));
  EXPECT_FALSE(works(*agent_key));
  ASSERT_TRUE(broker_->Apply(Caller::Admin(), Docs(kPrincipals), {}, false).ok());
  EXPECT_FALSE(works(*human_key));
  EXPECT_FALSE(works(*agent_key));
  Reopen();
  EXPECT_FALSE(works(*human_key));
  EXPECT_FALSE(works(*agent_key));
}

TEST_F(BrokerTest, AssumeInARunWhoseWorkflowWasDeletedIsRefused) {
  auto applied = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Workflow
metadata: {name: temporary}
spec: {roles: [reader]}
)"),
                                {}, false);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  RunRecord run = NewRun("temporary");
  auto deleted = broker_->Apply(Caller::Admin(), {}, {"Workflow/temporary"}, false);
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  auto assumed = broker_->Assume(Caller::OfAgent("worker"), Request("reader", run));
  ASSERT_FALSE(assumed.ok());
  EXPECT_EQ(assumed.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(assumed.error().message(), HasSubstr("workflow `temporary` of run"));
  EXPECT_THAT(assumed.error().message(), HasSubstr("no longer exists"));
}

TEST_F(BrokerTest, ApplyDryRunChangesNothing) {
  std::set<std::string> stored_before = StoredObjects();
  std::size_t audit_before = Audit().size();
  auto result = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Human
metadata: {name: frank}
spec: {email: frank@example.com}
)"),
                               {"Human/carol"}, true);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_TRUE(result->dry_run);
  EXPECT_EQ(result->audit_id, 0);
  EXPECT_EQ(Changes(*result), (std::map<std::string, std::string>{{"Human/carol", "deleted"},
                                                                  {"Human/frank", "created"}}));
  EXPECT_FALSE(broker_->catalog()->humans.count("frank"));
  EXPECT_TRUE(broker_->catalog()->humans.count("carol"));
  EXPECT_EQ(StoredObjects(), stored_before);
  EXPECT_EQ(Audit().size(), audit_before);
}

TEST_F(BrokerTest, ApplyIsForTheAdminOnly) {
  auto catalog_before = broker_->catalog();
  auto docs = Docs(R"(apiVersion: xrole/v1
kind: Human
metadata: {name: mallory}
spec: {email: mallory@example.com}
)");
  for (const Caller& caller : {Caller::OfAgent("worker"), Caller::OfHuman("bob"), Caller{}}) {
    auto result = broker_->Apply(caller, docs, {}, false);
    ASSERT_FALSE(result.ok()) << caller.Describe();
    EXPECT_EQ(result.error().code(), ErrorCode::kPermissionDenied);
  }
  EXPECT_EQ(broker_->catalog(), catalog_before);
  EXPECT_FALSE(StoredObjects().count("Human/mallory"));
}

TEST_F(BrokerTest, ApplyTakesEffectOnLiveSessions) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("long", run));
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  auto narrowed = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: long}
spec:
  maxSessionDuration: 4h
  trust: {agents: [worker], workflows: [main]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:ListBucket, Resource: "arn:aws:s3:::data"}]
)"),
                                 {}, false);
  ASSERT_TRUE(narrowed.ok()) << narrowed.error().ToString();
  EXPECT_EQ(Changes(*narrowed),
            (std::map<std::string, std::string>{{"ExecutionRole/long", "updated"}}));
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(Check(session, "s3:ListBucket", kData).decision, Decision::kAllowed);
}

// ---- runs ------------------------------------------------------------------------------------

TEST_F(BrokerTest, AgentStartsOnlyItsOwnRun) {
  StartRunRequest request;
  request.workflow = "main";
  auto own = broker_->StartRun(Caller::OfAgent("worker"), request);
  ASSERT_TRUE(own.ok()) << own.error().ToString();
  EXPECT_EQ(own->agent, "worker");
  EXPECT_EQ(own->status, "active");
  EXPECT_EQ(own->started_at, Now());

  request.agent = "scout";
  auto other = broker_->StartRun(Caller::OfAgent("worker"), request);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kPermissionDenied);

  // A human starts a run for an agent on their own behalf, and only their own.
  auto by_human = broker_->StartRun(Caller::OfHuman("dave"), request);
  ASSERT_TRUE(by_human.ok()) << by_human.error().ToString();
  EXPECT_EQ(by_human->on_behalf_of, "dave");
  StartRunRequest claimed = request;
  claimed.on_behalf_of = "carol";
  auto for_someone_else = broker_->StartRun(Caller::OfHuman("dave"), claimed);
  ASSERT_FALSE(for_someone_else.ok());
  EXPECT_EQ(for_someone_else.error().code(), ErrorCode::kPermissionDenied);

  auto by_admin = broker_->StartRun(Caller::Admin(), request);
  ASSERT_TRUE(by_admin.ok()) << by_admin.error().ToString();
  EXPECT_EQ(by_admin->agent, "scout");

  // An agent cannot assume within another agent's run.
  auto assume = broker_->Assume(Caller::OfAgent("worker"), Request("reader", *by_admin));
  ASSERT_FALSE(assume.ok());
  EXPECT_EQ(assume.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(BrokerTest, StartRunRefusesUnknownNames) {
  StartRunRequest request;
  request.workflow = "no-such-workflow";
  request.agent = "worker";
  auto workflow = broker_->StartRun(Caller::Admin(), request);
  ASSERT_FALSE(workflow.ok());
  EXPECT_EQ(workflow.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(workflow.error().message(), HasSubstr("no-such-workflow"));

  request.workflow = "main";
  request.agent = "ghost";
  auto agent = broker_->StartRun(Caller::Admin(), request);
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.error().code(), ErrorCode::kNotFound);

  request.agent = "worker";
  request.on_behalf_of = "nobody";
  auto human = broker_->StartRun(Caller::Admin(), request);
  ASSERT_FALSE(human.ok());
  EXPECT_EQ(human.error().code(), ErrorCode::kNotFound);
}

TEST_F(BrokerTest, RunTtlIsClampedToTheWorkflowMaximum) {
  RunRecord clamped = NewRun("short", "worker", 7200);
  EXPECT_EQ(clamped.expires_at - clamped.started_at, 1800);
  RunRecord default_short = NewRun("short");
  EXPECT_EQ(default_short.expires_at - default_short.started_at, 1800);
  RunRecord default_main = NewRun("main");
  EXPECT_EQ(default_main.expires_at - default_main.started_at, 3600);  // default_run_seconds
  RunRecord requested = NewRun("main", "worker", 5 * 3600);
  EXPECT_EQ(requested.expires_at - requested.started_at, 5 * 3600);
  RunRecord capped = NewRun("main", "worker", 7 * 3600);
  EXPECT_EQ(capped.expires_at - capped.started_at, 6 * 3600);
}

TEST_F(BrokerTest, RunExpiryBlocksAssumeAndAuthorize) {
  RunRecord run = NewRun("main", "worker", 600);
  AssumeResult session = MustAssume(Request("reader", run));
  EXPECT_EQ(session.session.expires_at, run.expires_at);  // 900 s default, cut at the run's end
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  Advance(600);
  auto assume = broker_->Assume(Caller::OfAgent("worker"), Request("reader", run));
  ASSERT_FALSE(assume.ok());
  EXPECT_EQ(assume.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(assume.error().message(), HasSubstr("not active"));

  AuthorizeResult by_token = Check(session, "s3:GetObject", kDataObject);
  EXPECT_EQ(by_token.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(by_token.error_code, "expired_token");
  AuthorizeRequest by_key;
  by_key.access_key_id = session.credentials.access_key_id;
  by_key.action = "s3:GetObject";
  by_key.resource = kDataObject;
  AuthorizeResult key_result = broker_->AuthorizeAndWait(by_key);
  EXPECT_EQ(key_result.decision, Decision::kImplicitlyDenied);
  EXPECT_FALSE(key_result.error_code.empty());
}

TEST_F(BrokerTest, EndRunRevokesItsSessions) {
  RunRecord run = NewRun();
  AssumeResult first = MustAssume(Request("reader", run));
  AssumeResult second = MustAssume(Request("long", run));
  EXPECT_EQ(broker_->EndRun(Caller::OfAgent("scout"), run.id).error().code(),
            ErrorCode::kPermissionDenied);
  auto ended = broker_->EndRun(Caller::OfAgent("worker"), run.id);
  ASSERT_TRUE(ended.ok()) << ended.error().ToString();
  EXPECT_EQ(*ended, 2);
  EXPECT_EQ(broker_->GetRun(run.id)->status, "ended");
  EXPECT_EQ(Check(first, "s3:GetObject", kDataObject).error_code, "revoked");
  EXPECT_EQ(Check(second, "s3:GetObject", kDataObject).error_code, "revoked");
  auto assume = broker_->Assume(Caller::OfAgent("worker"), Request("reader", run));
  ASSERT_FALSE(assume.ok());
  EXPECT_EQ(assume.error().code(), ErrorCode::kPermissionDenied);
}

// ---- assume ----------------------------------------------------------------------------------

TEST_F(BrokerTest, AssumeRequiresTheWorkflowToListTheRole) {
  RunRecord run = NewRun();
  auto result = broker_->Assume(Caller::OfAgent("worker"), Request("unlisted", run));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(result.error().message(), HasSubstr("does not list role `unlisted`"));

  auto missing = broker_->Assume(Caller::OfAgent("worker"), Request("no-such-role", run));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  RunRecord nowhere;
  nowhere.id = "run-doesnotexist";
  auto no_run = broker_->Assume(Caller::OfAgent("worker"), Request("reader", nowhere));
  ASSERT_FALSE(no_run.ok());
  EXPECT_EQ(no_run.error().code(), ErrorCode::kNotFound);

  for (const Caller& caller : {Caller::OfHuman("dave"), Caller{}}) {
    auto refused = broker_->Assume(caller, Request("reader", run));
    ASSERT_FALSE(refused.ok()) << caller.Describe();
    EXPECT_EQ(refused.error().code(), ErrorCode::kPermissionDenied);
  }
}

TEST_F(BrokerTest, AssumeEvaluatesTheTrustPolicy) {
  RunRecord outsider_run = NewRun("main", "outsider");
  auto untrusted = broker_->Assume(Caller::OfAgent("outsider"), Request("reader", outsider_run));
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(untrusted.error().message(), HasSubstr("trust policy of role `reader`"));
  EXPECT_THAT(untrusted.error().message(), HasSubstr("agent/outsider"));

  // The trusted agent, within a workflow the trust names.
  RunRecord run = NewRun();
  AssumeResult ok = MustAssume(Request("reader", run));
  EXPECT_EQ(ok.session.agent, "worker");
  EXPECT_EQ(ok.session.role, "reader");
  EXPECT_EQ(ok.session.role_arn, "arn:aws:iam::111122223333:role/reader");
  EXPECT_EQ(ok.session.assumed_role_arn,
            "arn:aws:sts::111122223333:assumed-role/reader/" + ok.session.session_name);
  EXPECT_EQ(ok.session.status, "active");
  EXPECT_FALSE(ok.session.chained);
}

TEST_F(BrokerTest, TrustConditionsSeeRunTags) {
  auto untagged = broker_->Assume(Caller::OfAgent("worker"), Request("ticketed", NewRun()));
  ASSERT_FALSE(untagged.ok());
  EXPECT_EQ(untagged.error().code(), ErrorCode::kPermissionDenied);

  RunRecord wrong = NewRun("main", "worker", 0, {{"ticket", "INC-7"}});
  auto wrong_tag = broker_->Assume(Caller::OfAgent("worker"), Request("ticketed", wrong));
  ASSERT_FALSE(wrong_tag.ok());
  EXPECT_EQ(wrong_tag.error().code(), ErrorCode::kPermissionDenied);

  // A session tag is not a run tag.
  AssumeRequest spoof = Request("ticketed", NewRun());
  spoof.tags = {{"ticket", "CHG-1"}};
  auto spoofed = broker_->Assume(Caller::OfAgent("worker"), spoof);
  ASSERT_FALSE(spoofed.ok());

  RunRecord ticketed = NewRun("main", "worker", 0, {{"ticket", "CHG-42"}});
  MustAssume(Request("ticketed", ticketed));
}

TEST_F(BrokerTest, TrustConditionsSeeOnBehalfOf) {
  RunRecord for_dave = NewRun("main", "worker", 0, {}, "dave");
  AssumeResult session = MustAssume(Request("for-dave", for_dave));
  EXPECT_EQ(session.session.on_behalf_of, "dave");

  RunRecord for_bob = NewRun("main", "worker", 0, {}, "bob");
  auto bob = broker_->Assume(Caller::OfAgent("worker"), Request("for-dave", for_bob));
  ASSERT_FALSE(bob.ok());
  EXPECT_EQ(bob.error().code(), ErrorCode::kPermissionDenied);

  auto nobody = broker_->Assume(Caller::OfAgent("worker"), Request("for-dave", NewRun()));
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(BrokerTest, DurationDefaultsAndClamps) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  // Default.
  EXPECT_EQ(MustAssume(Request("reader", run)).session.expires_at, Now() + 900);
  EXPECT_EQ(MustAssume(Request("reader", run)).credentials.expiration, Now() + 900);
  // The role's maximum (1 h).
  EXPECT_EQ(MustAssume(Request("reader", run, 7200)).session.expires_at, Now() + 3600);
  // Within the maximum: as requested; the minimum itself is accepted.
  EXPECT_EQ(MustAssume(Request("long", run, 3 * 3600)).session.expires_at, Now() + 3 * 3600);
  EXPECT_EQ(MustAssume(Request("long", run, 60)).session.expires_at, Now() + 60);
  // Below the minimum.
  auto short_request = broker_->Assume(Caller::OfAgent("worker"), Request("long", run, 30));
  ASSERT_FALSE(short_request.ok());
  EXPECT_EQ(short_request.error().code(), ErrorCode::kInvalidArgument);
  // The run's end.
  RunRecord brief = NewRun("main", "worker", 1200);
  EXPECT_EQ(MustAssume(Request("long", brief, 4 * 3600)).session.expires_at, brief.expires_at);
  // The parent's end.
  AssumeResult parent = MustAssume(Request("long", run, 1000));
  Advance(100);
  AssumeRequest child = Request("long", run, 3600);
  child.parent_session_id = parent.session.id;
  AssumeResult delegated = MustAssume(HolderOf(parent), child);
  EXPECT_EQ(delegated.session.expires_at, parent.session.expires_at);
  EXPECT_LE(delegated.credentials.expiration, parent.credentials.expiration);
}

TEST_F(BrokerTest, SessionPolicyScopesDown) {
  RunRecord run = NewRun();
  AssumeRequest request = Request("reader", run);
  request.policy = std::string(kGetOnly);
  AssumeResult session = MustAssume(request);
  EXPECT_FALSE(session.session.session_policy_hash.empty());
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  // Allowed by the role, not by the session policy.
  AuthorizeResult list = Check(session, "s3:ListBucket", kData);
  EXPECT_EQ(list.decision, Decision::kImplicitlyDenied);
  EXPECT_TRUE(list.error_code.empty());
  // The same role without a session policy may list.
  EXPECT_EQ(Check(MustAssume(Request("reader", run)), "s3:ListBucket", kData).decision,
            Decision::kAllowed);
  // A session policy cannot add what the role lacks.
  AssumeRequest wide = Request("reader", run);
  wide.policy =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
  EXPECT_EQ(Check(MustAssume(wide), "iam:CreateUser", "*").decision, Decision::kImplicitlyDenied);
  // A malformed session policy is refused.
  AssumeRequest bad = Request("reader", run);
  bad.policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]})";
  EXPECT_FALSE(broker_->Assume(Caller::OfAgent("worker"), bad).ok());
}

TEST_F(BrokerTest, ManagedPolicyArnsScopeDownAsTheSameInlinePolicyWould) {
  auto applied = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: ManagedPolicy
metadata: {name: get-only}
spec:
  path: /scoping/
  document:
    Version: "2012-10-17"
    Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ManagedPolicy
metadata: {name: list-only}
spec:
  document:
    Version: "2012-10-17"
    Statement: [{Effect: Allow, Action: s3:ListBucket, Resource: "arn:aws:s3:::data"}]
---
apiVersion: xrole/v1
kind: ManagedPolicy
metadata: {name: no-report}
spec:
  document:
    Version: "2012-10-17"
    Statement: [{Effect: Deny, Action: "s3:*", Resource: "arn:aws:s3:::data/report.csv"}]
)"),
                                {}, false);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  constexpr char kGetOnlyArn[] = "arn:aws:iam::111122223333:policy/scoping/get-only";
  constexpr char kListOnlyArn[] = "arn:aws:iam::111122223333:policy/list-only";
  constexpr char kNoReportArn[] = "arn:aws:iam::111122223333:policy/no-report";
  RunRecord run = NewRun();

  AssumeRequest inline_request = Request("reader", run);
  inline_request.policy = std::string(kGetOnly);
  AssumeResult by_inline = MustAssume(inline_request);
  AssumeRequest managed_request = Request("reader", run);
  managed_request.policy_arns = {kGetOnlyArn};
  AssumeResult by_arn = MustAssume(managed_request);
  EXPECT_EQ(by_arn.session.policy_arns, std::vector<std::string>{kGetOnlyArn});
  EXPECT_FALSE(by_arn.session.session_policy_hash.empty());
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"s3:GetObject", kDataObject},
      {"s3:ListBucket", kData},
      {"s3:PutObject", "arn:aws:s3:::projects/x"},
      {"ec2:DescribeSnapshots", "*"},
      {"iam:CreateUser", "*"}};
  for (const auto& request : requests) {
    EXPECT_EQ(Check(by_arn, request.first, request.second).decision,
              Check(by_inline, request.first, request.second).decision)
        << request.first;
  }
  EXPECT_EQ(Check(by_arn, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(Check(by_arn, "s3:ListBucket", kData).decision, Decision::kImplicitlyDenied);

  // Inline and managed policies are one layer: a union of their Allows, any Deny winning.
  AssumeRequest combined = Request("reader", run);
  combined.policy = std::string(kListOnly);
  combined.policy_arns = {kGetOnlyArn, kNoReportArn};
  AssumeResult both = MustAssume(combined);
  EXPECT_EQ(Check(both, "s3:ListBucket", kData).decision, Decision::kAllowed);
  EXPECT_EQ(Check(both, "s3:GetObject", "arn:aws:s3:::data/other.csv").decision,
            Decision::kAllowed);
  EXPECT_EQ(Check(both, "s3:GetObject", kDataObject).decision, Decision::kExplicitlyDenied);
  EXPECT_EQ(Check(both, "ec2:DescribeSnapshots", "*").decision, Decision::kImplicitlyDenied);
  // The merged text is deterministic: the inline statements first, then the ARNs' in order.
  EXPECT_EQ(both.session.session_policy,
            R"({"Statement":[{"Action":"s3:ListBucket","Effect":"Allow","Resource":)"
            R"("arn:aws:s3:::data"},{"Action":"s3:GetObject","Effect":"Allow","Resource":)"
            R"("arn:aws:s3:::data/*"},{"Action":"s3:*","Effect":"Deny","Resource":)"
            R"("arn:aws:s3:::data/report.csv"}],"Version":"2012-10-17"})");
  AssumeRequest same_policy = Request("reader", run);
  same_policy.policy = std::string(kListOnly);
  same_policy.policy_arns = {kListOnlyArn};
  EXPECT_EQ(MustAssume(same_policy).session.session_policy_hash,
            MustAssume(same_policy).session.session_policy_hash);

  // The ARNs are recorded in the session and in its audit record.
  auto stored = broker_->GetSession(Caller::Admin(), both.session.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->policy_arns, (std::vector<std::string>{kGetOnlyArn, kNoReportArn}));
  bool audited = false;
  for (const auto& row : Audit()) {
    if (row.type == "session.assume" && row.body.find(kNoReportArn) != std::string::npos) {
      audited = true;
    }
  }
  EXPECT_TRUE(audited);

  // An ARN that names no ManagedPolicy is refused, naming it.
  AssumeRequest unknown = Request("reader", run);
  unknown.policy_arns = {kGetOnlyArn, "arn:aws:iam::111122223333:policy/get-only"};
  auto refused = broker_->Assume(Caller::OfAgent("worker"), unknown);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.error().message(), HasSubstr("arn:aws:iam::111122223333:policy/get-only"));
  EXPECT_EQ(refused.error().path(), "policyArns[1]");

  // At most 10.
  AssumeRequest eleven = Request("reader", run);
  eleven.policy_arns.assign(11, kGetOnlyArn);
  auto too_many = broker_->Assume(Caller::OfAgent("worker"), eleven);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(too_many.error().message(), HasSubstr("at most 10"));
}

TEST_F(BrokerTest, SessionTagsBecomePrincipalTags) {
  RunRecord run = NewRun();
  AssumeRequest tagged = Request("reader", run);
  tagged.tags = {{"project", "apollo"}};
  AssumeResult apollo = MustAssume(tagged);
  EXPECT_EQ(apollo.session.tags.at("project"), "apollo");
  EXPECT_EQ(Check(apollo, "s3:PutObject", "arn:aws:s3:::projects/x").decision, Decision::kAllowed);

  tagged.tags = {{"project", "zeus"}};
  EXPECT_EQ(Check(MustAssume(tagged), "s3:PutObject", "arn:aws:s3:::projects/x").decision,
            Decision::kImplicitlyDenied);
  EXPECT_EQ(
      Check(MustAssume(Request("reader", run)), "s3:PutObject", "arn:aws:s3:::projects/x").decision,
      Decision::kImplicitlyDenied);

  // Reserved prefixes are refused as tag keys.
  for (const char* key : {"aws:PrincipalArn", "xrole:RunId", "XROLE:Agent"}) {
    AssumeRequest reserved = Request("reader", run);
    reserved.tags = {{key, "x"}};
    auto result = broker_->Assume(Caller::OfAgent("worker"), reserved);
    ASSERT_FALSE(result.ok()) << key;
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument) << key;
  }
}

TEST_F(BrokerTest, CallerContextCannotSpoofPrincipalKeys) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("reader", run));

  // A key the broker does not own passes through: the context is read.
  policy::Context office;
  office.Set("aws:SourceIp", ContextValue::Scalar("10.1.2.3"));
  EXPECT_EQ(Check(session, "sqs:ReceiveMessage", "*", office).decision, Decision::kAllowed);
  policy::Context home;
  home.Set("aws:SourceIp", ContextValue::Scalar("192.0.2.1"));
  EXPECT_EQ(Check(session, "sqs:ReceiveMessage", "*", home).decision, Decision::kImplicitlyDenied);

  policy::Context arn;
  arn.Set("aws:PrincipalArn", ContextValue::Scalar("arn:aws:iam::111122223333:role/admin"));
  EXPECT_EQ(Check(session, "sqs:SendMessage", "*", arn).decision, Decision::kImplicitlyDenied);
  policy::Context arn_upper;
  arn_upper.Set("AWS:PRINCIPALARN", ContextValue::Scalar("arn:aws:iam::111122223333:role/admin"));
  EXPECT_EQ(Check(session, "sqs:SendMessage", "*", arn_upper).decision,
            Decision::kImplicitlyDenied);

  policy::Context run_id;
  run_id.Set("xrole:RunId", ContextValue::Scalar("run-spoofed"));
  EXPECT_EQ(Check(session, "sqs:DeleteMessage", "*", run_id).decision, Decision::kImplicitlyDenied);

  // A principal tag the session does not carry cannot be claimed either.
  policy::Context tag;
  tag.Set("aws:PrincipalTag/project", ContextValue::Scalar("apollo"));
  EXPECT_EQ(Check(session, "s3:PutObject", "arn:aws:s3:::projects/x", tag).decision,
            Decision::kImplicitlyDenied);
}

TEST_F(BrokerTest, SourceIdentityIsImmutableAcrossDelegation) {
  RunRecord run = NewRun();
  AssumeRequest request = Request("reader", run);
  request.source_identity = "alice@example.com";
  AssumeResult parent = MustAssume(request);
  EXPECT_EQ(parent.session.source_identity, "alice@example.com");
  Caller holder = HolderOf(parent);

  AssumeRequest other = Request("reader", run);
  other.parent_session_id = parent.session.id;
  other.source_identity = "mallory@example.com";
  auto changed = broker_->Assume(holder, other);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(changed.error().message(), HasSubstr("immutable"));

  AssumeRequest same = other;
  same.source_identity = "alice@example.com";
  EXPECT_EQ(MustAssume(holder, same).session.source_identity, "alice@example.com");

  AssumeRequest inherit = other;
  inherit.source_identity.clear();
  AssumeResult child = MustAssume(holder, inherit);
  EXPECT_EQ(child.session.source_identity, "alice@example.com");
  // ... and down another level.
  AssumeRequest grandchild = Request("reader", run);
  grandchild.parent_session_id = child.session.id;
  EXPECT_EQ(MustAssume(HolderOf(child), grandchild).session.source_identity, "alice@example.com");

  // Malformed source identities are refused.
  AssumeRequest bad = Request("reader", run);
  bad.source_identity = "has space";
  auto malformed = broker_->Assume(Caller::OfAgent("worker"), bad);
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code(), ErrorCode::kInvalidArgument);
}

// ---- delegation ------------------------------------------------------------------------------

TEST_F(BrokerTest, DelegatedSessionStaysWithinItsParent) {
  RunRecord run = NewRun();
  AssumeRequest request = Request("reader", run);
  request.policy = std::string(kGetOnly);
  request.tags = {{"project", "apollo"}};
  AssumeResult parent = MustAssume(request);
  Caller holder = HolderOf(parent);

  // Delegating needs the parent's token, not the agent's own credential.
  AssumeRequest child_request = Request("reader", run);
  child_request.parent_session_id = parent.session.id;
  auto by_agent = broker_->Assume(Caller::OfAgent("worker"), child_request);
  ASSERT_FALSE(by_agent.ok());
  EXPECT_EQ(by_agent.error().code(), ErrorCode::kPermissionDenied);

  AssumeResult child = MustAssume(holder, child_request);
  EXPECT_EQ(child.session.parent_session_id, parent.session.id);
  EXPECT_FALSE(child.session.chained);
  EXPECT_TRUE(child.session.session_policy.empty());
  EXPECT_EQ(child.session.tags.at("project"), "apollo");  // inherited
  // The child has no session policy of its own, but its parent's still bounds it.
  EXPECT_EQ(Check(child, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(Check(child, "s3:ListBucket", kData).decision, Decision::kImplicitlyDenied);
  // A child policy narrows further: ListBucket (parent refuses) and GetObject (child refuses).
  AssumeRequest narrower = child_request;
  narrower.policy = std::string(kListOnly);
  AssumeResult narrow = MustAssume(holder, narrower);
  EXPECT_EQ(Check(narrow, "s3:ListBucket", kData).decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(Check(narrow, "s3:GetObject", kDataObject).decision, Decision::kImplicitlyDenied);
  // A guardrail deny reaches the child as well.
  EXPECT_EQ(Check(child, "ec2:DeleteSnapshot", "*").decision, Decision::kExplicitlyDenied);
}

TEST_F(BrokerTest, DelegationToASubAgentByName) {
  RunRecord run = NewRun();
  AssumeResult parent = MustAssume(Request("reader", run));
  Caller holder = HolderOf(parent);
  AssumeRequest request = Request("reader", run);
  request.parent_session_id = parent.session.id;
  request.agent = "scout";
  AssumeResult child = MustAssume(holder, request);
  EXPECT_EQ(child.session.agent, "scout");
  EXPECT_EQ(child.session.run_id, run.id);
  EXPECT_EQ(Check(child, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  // The sub-agent must be trusted by the role too.
  request.agent = "outsider";
  auto untrusted = broker_->Assume(holder, request);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(untrusted.error().message(), HasSubstr("trust policy"));

  request.agent = "ghost";
  auto unknown = broker_->Assume(holder, request);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
}

TEST_F(BrokerTest, ParentMustBelongToTheRun) {
  RunRecord run = NewRun();
  RunRecord other_run = NewRun();
  AssumeResult other = MustAssume(Request("reader", other_run));
  AssumeRequest request = Request("reader", run);
  request.parent_session_id = other.session.id;
  auto result = broker_->Assume(HolderOf(other), request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(result.error().message(), HasSubstr("another run"));

  request.parent_session_id = "ses-doesnotexist";
  auto missing = broker_->Assume(Caller::Admin(), request);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(BrokerTest, RevokingAParentRevokesTheSubtree) {
  RunRecord run = NewRun();
  AssumeResult parent = MustAssume(Request("reader", run));
  AssumeResult sibling = MustAssume(Request("reader", run));
  AssumeRequest request = Request("reader", run);
  request.parent_session_id = parent.session.id;
  AssumeResult child = MustAssume(HolderOf(parent), request);
  request.agent = "scout";
  AssumeResult scout = MustAssume(HolderOf(parent), request);
  AssumeRequest deeper = Request("reader", run);
  deeper.parent_session_id = child.session.id;
  AssumeResult grandchild = MustAssume(HolderOf(child), deeper);
  EXPECT_LE(grandchild.session.expires_at, child.session.expires_at);

  // Another agent may not revoke the worker's session.
  RevokeRequest revoke;
  revoke.session_id = parent.session.id;
  auto foreign = broker_->Revoke(Caller::OfAgent("scout"), revoke);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().code(), ErrorCode::kPermissionDenied);

  auto revoked = broker_->Revoke(Caller::OfAgent("worker"), revoke);
  ASSERT_TRUE(revoked.ok()) << revoked.error().ToString();
  EXPECT_EQ(*revoked, 4);
  for (const AssumeResult* s : {&parent, &child, &scout, &grandchild}) {
    AuthorizeResult r = Check(*s, "s3:GetObject", kDataObject);
    EXPECT_EQ(r.decision, Decision::kImplicitlyDenied) << s->session.id;
    EXPECT_EQ(r.error_code, "revoked") << s->session.id;
  }
  EXPECT_EQ(broker_->GetSession(Caller::Admin(), grandchild.session.id)->status, "revoked");
  EXPECT_EQ(Check(sibling, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  // A revoked session can neither authenticate nor delegate.
  EXPECT_FALSE(broker_->Authenticate("Bearer " + parent.credentials.session_token).ok());
  AssumeRequest again = Request("reader", run);
  again.parent_session_id = parent.session.id;
  auto from_revoked =
      broker_->Assume(Caller{Caller::Kind::kSession, parent.session.id, "worker"}, again);
  ASSERT_FALSE(from_revoked.ok());
  EXPECT_EQ(from_revoked.error().code(), ErrorCode::kPermissionDenied);
}

// ---- role chaining ---------------------------------------------------------------------------

TEST_F(BrokerTest, RoleChainingFollowsTheTrustAndIsCappedAtOneHour) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  // The agent itself is not trusted by `escalate`: only sessions of `base` are.
  auto direct = broker_->Assume(Caller::OfAgent("worker"), Request("escalate", run));
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.error().code(), ErrorCode::kPermissionDenied);

  AssumeResult base = MustAssume(Request("base", run, 4 * 3600));
  EXPECT_EQ(base.session.expires_at, Now() + 4 * 3600);
  AssumeRequest request = Request("escalate", run, 3 * 3600);
  request.parent_session_id = base.session.id;
  AssumeResult chained = MustAssume(HolderOf(base), request);
  EXPECT_TRUE(chained.session.chained);
  EXPECT_EQ(chained.session.expires_at, Now() + 3600);
  EXPECT_EQ(chained.session.assumed_role_arn,
            "arn:aws:sts::111122223333:assumed-role/escalate/" + chained.session.session_name);
  // The chained session has the new role's permissions, not an intersection with the parent's.
  EXPECT_EQ(Check(chained, "s3:DeleteObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(Check(chained, "s3:GetObject", kDataObject).decision, Decision::kImplicitlyDenied);

  // A session of another role is not trusted.
  AssumeResult reader = MustAssume(Request("reader", run));
  AssumeRequest from_reader = Request("escalate", run);
  from_reader.parent_session_id = reader.session.id;
  auto untrusted = broker_->Assume(HolderOf(reader), from_reader);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.error().code(), ErrorCode::kPermissionDenied);

  // Revoking the parent revokes the chained session.
  RevokeRequest revoke;
  revoke.session_id = base.session.id;
  ASSERT_TRUE(broker_->Revoke(Caller::Admin(), revoke).ok());
  EXPECT_EQ(Check(chained, "s3:DeleteObject", kDataObject).error_code, "revoked");
}

// For a chained assume, the trust context describes the parent's role session as AWS does:
// aws:PrincipalArn is the parent's role ARN (arn:aws:iam::ACCOUNT:role/NAME), not its
// assumed-role ARN, and the principal account and tags are the role's.
TEST_F(BrokerTest, ChainedTrustSeesTheParentRoleArnAsPrincipalArn) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  AssumeResult base = MustAssume(Request("base", run, 4 * 3600));
  AssumeRequest request = Request("escalate-by-arn", run);
  request.parent_session_id = base.session.id;
  auto chained = broker_->Assume(HolderOf(base), request);
  ASSERT_TRUE(chained.ok()) << chained.error().ToString();
  EXPECT_TRUE(chained->session.chained);
}

// ---- approvals -------------------------------------------------------------------------------

class ApprovalTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    run_ = NewRun("main", "worker", 0, {}, "dave");
  }

  std::string Pending(AssumeRequest request) {
    auto result = broker_->Assume(Caller::OfAgent("worker"), request);
    if (!result.ok()) {
      ADD_FAILURE() << result.error().ToString();
      return "";
    }
    EXPECT_TRUE(result->pending);
    EXPECT_TRUE(result->session.id.empty());
    EXPECT_TRUE(result->credentials.session_token.empty());
    EXPECT_GT(result->audit_id, 0);
    return result->approval_id;
  }
  std::string Pending() { return Pending(Request("prod", run_)); }

  RunRecord run_;
};

TEST_F(ApprovalTest, AssumePendsUntilAnIndependentHumanApproves) {
  std::string id = Pending();
  ASSERT_FALSE(id.empty());
  std::vector<Approval> listed = broker_->ListApprovals(Caller::OfHuman("bob"), true);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, id);
  EXPECT_EQ(listed[0].status, "pending");
  EXPECT_EQ(listed[0].role, "prod");
  EXPECT_EQ(listed[0].run_id, run_.id);
  EXPECT_EQ(listed[0].agent, "worker");
  EXPECT_EQ(listed[0].duration_seconds, 900);
  EXPECT_EQ(listed[0].expires_at, Now() + 600);
  EXPECT_TRUE(broker_->ListApprovals(Caller::OfAgent("worker"), false).empty());

  // Redeeming before the decision fails.
  AssumeRequest redeem = Request("prod", run_);
  redeem.approval_id = id;
  auto early = broker_->Assume(Caller::OfAgent("worker"), redeem);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code(), ErrorCode::kPermissionDenied);

  // Separation of duties and who may decide at all.
  struct Refusal {
    Caller caller;
    const char* why;
  };
  for (const Refusal& refusal : {
           Refusal{Caller::OfAgent("worker"), "the agent"},
           Refusal{Caller::Admin(), "the admin"},
           Refusal{Caller::OfHuman("carol"), "a human who may not approve"},
           Refusal{Caller::OfHuman("dave"), "the run's initiator"},
           Refusal{Caller::OfHuman("alice"), "the agent's sponsor"},
           Refusal{Caller::OfHuman("zed"), "an unknown human"},
       }) {
    auto decided = broker_->DecideApproval(refusal.caller, id, true, "ok");
    ASSERT_FALSE(decided.ok()) << refusal.why;
    EXPECT_EQ(decided.error().code(), ErrorCode::kPermissionDenied) << refusal.why;
  }
  EXPECT_EQ(broker_->ListApprovals(Caller::Admin(), true).size(), 1u);  // still pending

  auto approved = broker_->DecideApproval(Caller::OfHuman("bob"), id, true, "change CHG-9");
  ASSERT_TRUE(approved.ok()) << approved.error().ToString();
  EXPECT_EQ(approved->status, "approved");
  EXPECT_EQ(approved->decided_by, "bob");
  auto twice = broker_->DecideApproval(Caller::OfHuman("bob"), id, false, "");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code(), ErrorCode::kConflict);

  AssumeResult session = MustAssume(redeem);
  EXPECT_EQ(session.session.role, "prod");
  EXPECT_EQ(session.session.expires_at, Now() + 900);
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  // Single use.
  auto reuse = broker_->Assume(Caller::OfAgent("worker"), redeem);
  ASSERT_FALSE(reuse.ok());
  EXPECT_EQ(reuse.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(reuse.error().message(), HasSubstr("used"));
  std::vector<Approval> all = broker_->ListApprovals(Caller::Admin(), false);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status, "used");
}

TEST_F(ApprovalTest, ApprovalIsBoundToTheExactRequest) {
  AssumeRequest request = Request("prod", run_, 1800);
  request.policy = std::string(kGetOnly);
  std::string id = Pending(request);
  ASSERT_TRUE(broker_->DecideApproval(Caller::OfHuman("bob"), id, true, "").ok());

  AssumeRequest longer = request;
  longer.approval_id = id;
  longer.duration_seconds = 3600;
  auto duration = broker_->Assume(Caller::OfAgent("worker"), longer);
  ASSERT_FALSE(duration.ok());
  EXPECT_EQ(duration.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(duration.error().message(), HasSubstr("different request"));

  AssumeRequest no_policy = request;
  no_policy.approval_id = id;
  no_policy.policy.clear();
  auto policy = broker_->Assume(Caller::OfAgent("worker"), no_policy);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.error().message(), HasSubstr("different request"));

  AssumeRequest other_policy = request;
  other_policy.approval_id = id;
  other_policy.policy = std::string(kListOnly);
  EXPECT_FALSE(broker_->Assume(Caller::OfAgent("worker"), other_policy).ok());

  // Another run of the same agent and role.
  RunRecord other_run = NewRun("main", "worker", 0, {}, "dave");
  AssumeRequest elsewhere = request;
  elsewhere.approval_id = id;
  elsewhere.run_id = other_run.id;
  EXPECT_FALSE(broker_->Assume(Caller::OfAgent("worker"), elsewhere).ok());

  AssumeRequest unknown = request;
  unknown.approval_id = "apr-doesnotexist";
  EXPECT_FALSE(broker_->Assume(Caller::OfAgent("worker"), unknown).ok());

  // The mismatches did not use it up: the exact request still redeems it.
  AssumeRequest exact = request;
  exact.approval_id = id;
  AssumeResult session = MustAssume(exact);
  EXPECT_EQ(session.session.expires_at, Now() + 1800);
  EXPECT_EQ(session.session.session_policy, kGetOnly);
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
}

TEST_F(ApprovalTest, DeniedApprovalCannotBeRedeemed) {
  std::string id = Pending();
  auto denied = broker_->DecideApproval(Caller::OfHuman("bob"), id, false, "not now");
  ASSERT_TRUE(denied.ok()) << denied.error().ToString();
  EXPECT_EQ(denied->status, "denied");
  AssumeRequest redeem = Request("prod", run_);
  redeem.approval_id = id;
  auto result = broker_->Assume(Caller::OfAgent("worker"), redeem);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message(), HasSubstr("denied"));
}

TEST_F(ApprovalTest, ApprovalsExpire) {
  // Pending past its TTL: can no longer be decided.
  std::string stale = Pending();
  Advance(601);
  auto late = broker_->DecideApproval(Caller::OfHuman("bob"), stale, true, "");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code(), ErrorCode::kExpired);
  EXPECT_TRUE(broker_->ListApprovals(Caller::Admin(), true).empty());
  std::vector<Approval> all = broker_->ListApprovals(Caller::Admin(), false);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status, "expired");

  // Approved, but redeemed too late.
  std::string approved = Pending();
  ASSERT_TRUE(broker_->DecideApproval(Caller::OfHuman("bob"), approved, true, "").ok());
  Advance(601);
  AssumeRequest redeem = Request("prod", run_);
  redeem.approval_id = approved;
  auto result = broker_->Assume(Caller::OfAgent("worker"), redeem);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(result.error().message(), HasSubstr("expired"));
}

TEST_F(ApprovalTest, TrustIsCheckedBeforeAnApprovalIsRequested) {
  RunRecord outsider_run = NewRun("main", "outsider");
  auto result = broker_->Assume(Caller::OfAgent("outsider"), Request("prod", outsider_run));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(broker_->ListApprovals(Caller::Admin(), false).empty());
}

// ---- authorize -------------------------------------------------------------------------------

TEST_F(BrokerTest, AuthorizeVerifiesTheTokenFirst) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("reader", run));
  const std::string& token = session.credentials.session_token;
  EXPECT_EQ(TokenPayload(token).value("sid", ""), session.session.id);

  std::vector<std::string> garbage = {"garbage", "xrt1.", "xrt1.e30.AAAA", "xrt1..",
                                      token.substr(0, token.size() - 3)};
  for (const std::string& bad : garbage) {
    AuthorizeResult r = Check(bad, "s3:GetObject", kDataObject);
    EXPECT_EQ(r.decision, Decision::kImplicitlyDenied) << bad;
    EXPECT_EQ(r.error_code, "invalid_token") << bad;
    EXPECT_TRUE(r.session_id.empty()) << bad;
    EXPECT_GT(r.audit_id, 0) << bad;  // rejections are audited
  }

  // Neither a token nor an access key.
  AuthorizeRequest empty;
  empty.action = "s3:GetObject";
  EXPECT_EQ(broker_->AuthorizeAndWait(empty).error_code, "invalid_token");

  // Claims re-signed by a key the broker does not hold, under the broker's key id.
  TokenClaims claims;
  claims.key_id = session.session.key_id;
  claims.session_id = session.session.id;
  claims.role = session.session.role;
  claims.run_id = session.session.run_id;
  claims.agent = session.session.agent;
  claims.access_key_id = session.session.access_key_id;
  claims.policy_hash = session.session.policy_hash;
  claims.issued_at = session.session.issued_at;
  claims.expires_at = session.session.expires_at + 86400;
  crypto::Ed25519PrivateKey attacker = crypto::Ed25519PrivateKey::Generate();
  AuthorizeResult forged = Check(IssueToken(claims, attacker), "s3:GetObject", kDataObject);
  EXPECT_EQ(forged.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(forged.error_code, "invalid_token");

  // The genuine signature over an edited payload.
  nlohmann::json payload = TokenPayload(token);
  payload["exp"] = payload["exp"].get<std::int64_t>() + 86400;
  std::size_t last_dot = token.rfind('.');
  std::string edited = "xrt1." + crypto::Base64UrlEncode(payload.dump()) + token.substr(last_dot);
  AuthorizeResult tampered = Check(edited, "s3:GetObject", kDataObject);
  EXPECT_EQ(tampered.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(tampered.error_code, "invalid_token");

  // Unknown access key id.
  AuthorizeRequest by_key;
  by_key.access_key_id = "ASIAAAAAAAAAAAAAAAAA";
  by_key.action = "s3:GetObject";
  by_key.resource = kDataObject;
  EXPECT_EQ(broker_->AuthorizeAndWait(by_key).error_code, "invalid_token");
  by_key.access_key_id = session.credentials.access_key_id;
  EXPECT_EQ(broker_->AuthorizeAndWait(by_key).decision, Decision::kAllowed);

  // The genuine token works, and stops working when it expires.
  AuthorizeResult genuine = Check(session, "s3:GetObject", kDataObject);
  EXPECT_EQ(genuine.decision, Decision::kAllowed);
  EXPECT_EQ(genuine.session_id, session.session.id);
  Advance(899);
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  Advance(1);
  AuthorizeResult expired = Check(session, "s3:GetObject", kDataObject);
  EXPECT_EQ(expired.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(expired.error_code, "expired_token");
  EXPECT_GT(expired.audit_id, 0);
}

TEST_F(BrokerTest, AuthorizeRefusesRevokedSessionsRunsAgentsAndRoles) {
  RunRecord run1 = NewRun();
  RunRecord run2 = NewRun();
  RunRecord run3 = NewRun();
  RunRecord scout_run = NewRun("main", "scout");
  AssumeResult by_session = MustAssume(Request("reader", run1));
  AssumeResult by_run = MustAssume(Request("reader", run2));
  AssumeResult by_role = MustAssume(Request("long", run3));
  AssumeResult by_agent = MustAssume(Caller::OfAgent("scout"), Request("reader", scout_run));
  AssumeResult control = MustAssume(Request("reader", run3));

  auto expect_revoked = [&](const AssumeResult& session) {
    AuthorizeResult r = Check(session, "s3:GetObject", kDataObject);
    EXPECT_EQ(r.decision, Decision::kImplicitlyDenied) << session.session.id;
    EXPECT_EQ(r.error_code, "revoked") << session.session.id;
  };

  RevokeRequest revoke;
  revoke.session_id = by_session.session.id;
  revoke.reason = "suspicious";
  EXPECT_EQ(broker_->Revoke(Caller::Admin(), revoke).value(), 1);
  expect_revoked(by_session);
  EXPECT_EQ(broker_->GetSession(Caller::Admin(), by_session.session.id)->revoke_reason,
            "suspicious");

  revoke = {};
  revoke.run_id = run2.id;
  EXPECT_EQ(broker_->Revoke(Caller::Admin(), revoke).value(), 1);
  expect_revoked(by_run);
  EXPECT_EQ(broker_->GetRun(run2.id)->status, "revoked");
  EXPECT_FALSE(broker_->Assume(Caller::OfAgent("worker"), Request("reader", run2)).ok());

  revoke = {};
  revoke.role = "long";
  EXPECT_FALSE(broker_->Revoke(Caller::OfAgent("worker"), revoke).ok());  // admin only
  EXPECT_EQ(broker_->Revoke(Caller::Admin(), revoke).value(), 1);
  expect_revoked(by_role);

  revoke = {};
  revoke.agent = "scout";
  EXPECT_EQ(broker_->Revoke(Caller::Admin(), revoke).value(), 1);
  expect_revoked(by_agent);

  EXPECT_EQ(Check(control, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  revoke = {};
  EXPECT_EQ(broker_->Revoke(Caller::Admin(), revoke).error().code(), ErrorCode::kInvalidArgument);
  revoke.agent = "ghost";
  EXPECT_EQ(broker_->Revoke(Caller::Admin(), revoke).error().code(), ErrorCode::kNotFound);
}

// A session joins the broker's state under the lock that checked it, before its commit
// completes: a revocation by role (or agent) that runs while the assume is being committed
// covers it.
TEST_F(BrokerTest, RevokeByRoleCoversASessionCommittedBeforeIt) {
  RunRecord run = NewRun();
  std::promise<void> assume_committing;
  std::promise<void> release_assume;
  std::shared_future<void> released = release_assume.get_future().share();
  std::atomic<bool> commit_armed{true};
  {
    std::lock_guard lock(control_->mutex);
    control_->before_commit = [&](const store::Batch& batch) {
      bool issues_session =
          std::any_of(batch.mutations.begin(), batch.mutations.end(),
                      [](const store::Mutation& m) { return m.table == store::Table::kSessions; });
      if (issues_session && commit_armed.exchange(false)) {
        assume_committing.set_value();
        released.wait();
      }
    };
  }
  Result<AssumeResult> assumed = Error(ErrorCode::kInternal, "not run");
  std::thread assume_thread(
      [&] { assumed = broker_->Assume(Caller::OfAgent("worker"), Request("long", run)); });
  bool hooked = assume_committing.get_future().wait_for(std::chrono::seconds(30)) ==
                std::future_status::ready;
  EXPECT_TRUE(hooked) << "the session's record was never committed";

  // The session's record is being written, outside the broker's lock. Revoke the role now, and
  // let the write finish once the revocation holds the lock (it reads the clock under it).
  std::promise<void> revoke_locked;
  std::atomic<bool> clock_armed{true};
  {
    std::lock_guard lock(clock_mutex_);
    on_clock_read_ = [&] {
      if (clock_armed.exchange(false)) revoke_locked.set_value();
    };
  }
  Result<std::int64_t> revoked = Error(ErrorCode::kInternal, "not run");
  std::thread revoke_thread([&] {
    RevokeRequest request;
    request.role = "long";
    revoked = broker_->Revoke(Caller::Admin(), request);
  });
  // A broker that keeps its lock while the session is written makes the revocation wait for
  // the issue instead; the bounded wait lets that order play out too.
  (void)revoke_locked.get_future().wait_for(std::chrono::seconds(2));
  release_assume.set_value();
  assume_thread.join();
  revoke_thread.join();
  {
    std::lock_guard lock(control_->mutex);
    control_->before_commit = nullptr;
  }
  {
    std::lock_guard lock(clock_mutex_);
    on_clock_read_ = nullptr;
  }

  ASSERT_TRUE(assumed.ok()) << assumed.error().ToString();
  ASSERT_TRUE(revoked.ok()) << revoked.error().ToString();
  std::int64_t revoke_seq = 0;
  for (const auto& row : Audit()) {
    if (row.type == "revoke") revoke_seq = row.seq;
  }
  ASSERT_LT(assumed->audit_id, revoke_seq);  // issued first, in the audit log's order
  AuthorizeResult after = Check(*assumed, "s3:GetObject", kDataObject);
  EXPECT_EQ(after.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(after.error_code, "revoked");
}

TEST_F(BrokerTest, GuardrailDenyNamesTheGuardrail) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("reader", run));
  EXPECT_EQ(Check(session, "ec2:DescribeSnapshots", "*").decision, Decision::kAllowed);
  AuthorizeResult denied = Check(session, "ec2:DeleteSnapshot", "*");
  EXPECT_EQ(denied.decision, Decision::kExplicitlyDenied);
  EXPECT_TRUE(denied.error_code.empty());
  auto guardrail =
      std::find_if(denied.reasons.begin(), denied.reasons.end(),
                   [](const policy::Reason& r) { return r.layer == policy::Layer::kScp; });
  ASSERT_NE(guardrail, denied.reasons.end());
  EXPECT_EQ(guardrail->name, "protect-evidence");
  EXPECT_EQ(guardrail->sid, "NeverDeleteSnapshots");
  EXPECT_EQ(guardrail->effect, policy::Effect::kDeny);

  // The audit record carries the decision and the deciding statement.
  auto rows = Audit();
  auto row = std::find_if(rows.begin(), rows.end(),
                          [&](const store::AuditRow& r) { return r.seq == denied.audit_id; });
  ASSERT_NE(row, rows.end());
  EXPECT_EQ(row->type, "authorize");
  EXPECT_THAT(row->body, HasSubstr("ExplicitlyDenied"));
  EXPECT_THAT(row->body, HasSubstr("NeverDeleteSnapshots"));
  EXPECT_THAT(row->body, HasSubstr(session.session.id));
}

TEST_F(BrokerTest, AuthorizeBatchAnswersInOrder) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("reader", run));
  auto make = [&](std::string token, std::string action, std::string resource) {
    AuthorizeRequest request;
    request.session_token = std::move(token);
    request.action = std::move(action);
    request.resource = std::move(resource);
    return request;
  };
  const std::string& token = session.credentials.session_token;
  std::vector<AuthorizeRequest> requests = {
      make(token, "s3:GetObject", kDataObject), make(token, "s3:PutObject", kDataObject),
      make("garbage", "s3:GetObject", kDataObject), make(token, "ec2:DeleteSnapshot", "*"),
      make(token, "s3:ListBucket", kData)};
  std::promise<std::vector<AuthorizeResult>> promise;
  auto future = promise.get_future();
  broker_->AuthorizeBatch(requests, [&promise](std::vector<AuthorizeResult> results) {
    promise.set_value(std::move(results));
  });
  std::vector<AuthorizeResult> results = future.get();
  ASSERT_EQ(results.size(), requests.size());
  EXPECT_EQ(results[0].decision, Decision::kAllowed);
  EXPECT_EQ(results[1].decision, Decision::kImplicitlyDenied);
  EXPECT_TRUE(results[1].error_code.empty());
  EXPECT_EQ(results[2].error_code, "invalid_token");
  EXPECT_EQ(results[3].decision, Decision::kExplicitlyDenied);
  EXPECT_EQ(results[4].decision, Decision::kAllowed);
  for (std::size_t i = 1; i < results.size(); ++i) {
    EXPECT_GT(results[i].audit_id, results[i - 1].audit_id) << i;
  }
  EXPECT_GT(results[0].audit_id, 0);

  // An empty batch answers at once.
  bool answered = false;
  broker_->AuthorizeBatch({},
                          [&answered](std::vector<AuthorizeResult> r) { answered = r.empty(); });
  EXPECT_TRUE(answered);
}

TEST_F(BrokerTest, AuditIdsAreUniqueAndIncreasing) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("reader", run));
  std::vector<std::int64_t> ids = {session.audit_id};
  for (int i = 0; i < 6; ++i) {
    ids.push_back(Check(session, i % 2 ? "s3:GetObject" : "s3:PutObject", kDataObject).audit_id);
    ids.push_back(Check("garbage", "s3:GetObject", kDataObject).audit_id);
  }
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i], ids[i - 1]) << i;
  std::set<std::int64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  auto report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok);
  EXPECT_GE(report->last_seq, ids.back());
}

// ---- credentials -----------------------------------------------------------------------------

TEST_F(BrokerTest, AuthenticateAcceptsIssuedKeysAndTheAdminToken) {
  auto admin = broker_->Authenticate("Bearer " + broker_->admin_token());
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->kind, Caller::Kind::kAdmin);
  EXPECT_FALSE(broker_->Authenticate("Bearer xadm_wrong").ok());
  EXPECT_FALSE(broker_->Authenticate("").ok());
  EXPECT_FALSE(broker_->Authenticate("Basic abc").ok());

  EXPECT_FALSE(broker_->IssueKey(Caller::OfAgent("worker"), "agent", "worker", false).ok());
  auto key = broker_->IssueKey(Caller::Admin(), "agent", "worker", false);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(key->principal, "agent:worker");
  auto agent = broker_->Authenticate("Bearer " + key->access_key_id + ":" + key->secret_access_key);
  ASSERT_TRUE(agent.ok()) << agent.error().ToString();
  EXPECT_EQ(agent->kind, Caller::Kind::kAgent);
  EXPECT_EQ(agent->name, "worker");
  auto wrong = broker_->Authenticate("Bearer " + key->access_key_id + ":" +
                                     std::string(key->secret_access_key.size(), 'x'));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kUnauthenticated);

  // Rotation retires the old key.
  auto rotated = broker_->IssueKey(Caller::Admin(), "agent", "worker", true);
  ASSERT_TRUE(rotated.ok());
  EXPECT_FALSE(
      broker_->Authenticate("Bearer " + key->access_key_id + ":" + key->secret_access_key).ok());
  EXPECT_TRUE(
      broker_->Authenticate("Bearer " + rotated->access_key_id + ":" + rotated->secret_access_key)
          .ok());

  auto human = broker_->IssueKey(Caller::Admin(), "human", "bob", false);
  ASSERT_TRUE(human.ok());
  auto bob =
      broker_->Authenticate("Bearer " + human->access_key_id + ":" + human->secret_access_key);
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->kind, Caller::Kind::kHuman);
  EXPECT_EQ(broker_->IssueKey(Caller::Admin(), "agent", "ghost", false).error().code(),
            ErrorCode::kNotFound);
}

// ---- restart ---------------------------------------------------------------------------------

TEST_F(BrokerTest, StateSurvivesARestart) {
  auto extra = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Human
metadata: {name: erin}
spec: {email: erin@example.com}
)"),
                              {}, false);
  ASSERT_TRUE(extra.ok());
  auto key = broker_->IssueKey(Caller::Admin(), "agent", "worker", false);
  ASSERT_TRUE(key.ok());
  RunRecord run = NewRun("main", "worker", 0, {{"ticket", "CHG-1"}}, "dave");
  AssumeResult active = MustAssume(Request("reader", run));
  AssumeResult revoked = MustAssume(Request("reader", run));
  AssumeResult parent = MustAssume(Request("reader", run));
  AssumeRequest child_request = Request("reader", run);
  child_request.parent_session_id = parent.session.id;
  child_request.policy = std::string(kGetOnly);
  AssumeResult child = MustAssume(HolderOf(parent), child_request);
  RevokeRequest revoke;
  revoke.session_id = revoked.session.id;
  ASSERT_TRUE(broker_->Revoke(Caller::Admin(), revoke).ok());
  auto pending = broker_->Assume(Caller::OfAgent("worker"), Request("prod", run));
  ASSERT_TRUE(pending.ok());
  AssumeRequest approved_request = Request("prod", run, 1200);
  auto approved = broker_->Assume(Caller::OfAgent("worker"), approved_request);
  ASSERT_TRUE(approved.ok());
  ASSERT_TRUE(
      broker_->DecideApproval(Caller::OfHuman("bob"), approved->approval_id, true, "").ok());
  std::size_t documents_before = broker_->catalog()->documents.size();
  std::vector<store::AuditRow> rows_before = Audit();
  ASSERT_FALSE(rows_before.empty());
  const store::AuditRow last_before = rows_before.back();

  Advance(60);
  ASSERT_NO_FATAL_FAILURE(Reopen());

  // Catalog.
  EXPECT_EQ(broker_->catalog()->documents.size(), documents_before);
  EXPECT_TRUE(broker_->catalog()->humans.count("erin"));
  // Run.
  auto reloaded_run = broker_->GetRun(run.id);
  ASSERT_TRUE(reloaded_run.ok());
  EXPECT_EQ(reloaded_run->status, "active");
  EXPECT_EQ(reloaded_run->expires_at, run.expires_at);
  EXPECT_EQ(reloaded_run->on_behalf_of, "dave");
  EXPECT_EQ(reloaded_run->tags, run.tags);
  // Sessions and revocations.
  auto reloaded = broker_->GetSession(Caller::Admin(), active.session.id);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->expires_at, active.session.expires_at);
  EXPECT_EQ(reloaded->access_key_id, active.session.access_key_id);
  EXPECT_EQ(Check(active, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(Check(revoked, "s3:GetObject", kDataObject).error_code, "revoked");
  // The child is still bounded by its session policy, and still part of its parent's subtree.
  EXPECT_EQ(Check(child, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(Check(child, "s3:ListBucket", kData).decision, Decision::kImplicitlyDenied);
  revoke.session_id = parent.session.id;
  auto subtree = broker_->Revoke(Caller::Admin(), revoke);
  ASSERT_TRUE(subtree.ok());
  EXPECT_EQ(*subtree, 2);
  EXPECT_EQ(Check(child, "s3:GetObject", kDataObject).error_code, "revoked");
  // Approvals: still pending, still approved and redeemable.
  std::map<std::string, std::string> statuses;
  for (const Approval& a : broker_->ListApprovals(Caller::Admin(), false))
    statuses[a.id] = a.status;
  EXPECT_EQ(statuses, (std::map<std::string, std::string>{{pending->approval_id, "pending"},
                                                          {approved->approval_id, "approved"}}));
  approved_request.approval_id = approved->approval_id;
  EXPECT_EQ(MustAssume(approved_request).session.role, "prod");
  // Principal keys.
  auto agent = broker_->Authenticate("Bearer " + key->access_key_id + ":" + key->secret_access_key);
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->name, "worker");

  // The audit chain continues where it stopped.
  std::vector<store::AuditRow> rows_after = Audit();
  auto next = std::find_if(rows_after.begin(), rows_after.end(),
                           [&](const store::AuditRow& r) { return r.seq == last_before.seq + 1; });
  ASSERT_NE(next, rows_after.end());
  EXPECT_EQ(next->type, "server.start");
  EXPECT_EQ(next->prev_hash, last_before.hash);
  AuthorizeResult after = Check(active, "s3:GetObject", kDataObject);
  EXPECT_GT(after.audit_id, last_before.seq);
  auto report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->ok);
  EXPECT_TRUE(report->problems.empty());
  EXPECT_GE(report->last_seq, after.audit_id);
  EXPECT_EQ(report->records, report->last_seq);
  EXPECT_GT(report->checkpoints, 0);
}

// A stored session policy that no longer parses (say, written by a later version) must not
// silently fall back to the role's full permissions: the session is denied (fail closed).
TEST_F(BrokerTest, UnreadableStoredSessionPolicyFailsClosed) {
  RunRecord run = NewRun();
  AssumeRequest request = Request("reader", run);
  request.policy = std::string(kGetOnly);
  AssumeResult session = MustAssume(request);
  EXPECT_EQ(Check(session, "s3:ListBucket", kData).decision, Decision::kImplicitlyDenied);

  const std::string unreadable =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",)"
      R"("Resource":"arn:aws:s3:::data/*","Condition":{"StringEqualsFromTheFuture":{"k":"v"}}}]})";
  ASSERT_FALSE(policy::ParsePolicy(unreadable, policy::PolicyKind::kSession).ok());
  broker_.reset();
  store_ = nullptr;
  {
    auto db = store::OpenSqlite(dir_.File("xrole.db"));
    ASSERT_TRUE(db.ok());
    auto doc = (*db)->Get(store::Table::kSessions, session.session.id);
    ASSERT_TRUE(doc.ok() && doc->has_value());
    nlohmann::json record = nlohmann::json::parse(**doc);
    record["sessionPolicy"] = unreadable;
    store::Batch batch;
    batch.mutations.push_back({store::Table::kSessions, session.session.id, record.dump()});
    ASSERT_TRUE((*db)->Commit(batch).ok());
  }
  ASSERT_NO_FATAL_FAILURE(OpenBroker());
  AuthorizeResult list = Check(session, "s3:ListBucket", kData);
  EXPECT_NE(list.decision, Decision::kAllowed);
}

// ---- audit verification and retention in pages ----------------------------------------------

// VerifyAudit and PruneAudit stream the chain through the verifier a page at a time: pages of 4
// records here and a checkpoint every 5 records, so that page ends, checkpoints and cuts fall
// in every relation to each other.
class AuditPagesTest : public BrokerTest {
 protected:
  void SetUp() override {
    options_.audit_page_rows = 4;
    options_.audit.checkpoint_every_records = 5;
    BrokerTest::SetUp();
  }

  // Appends `count` records: decisions on a token that is not one are recorded too.
  void AddRecords(int count) {
    for (int i = 0; i < count; ++i) Check("garbage", "s3:GetObject", kDataObject);
  }

  // Verify (the reference) on every record at once.
  audit::VerifyReport ReferenceReport() {
    auto checkpoints = store_->ReadCheckpoints();
    EXPECT_TRUE(checkpoints.ok());
    if (!checkpoints.ok()) return audit::VerifyReport{};
    audit::PublicKeys keys;
    for (const auto& key : broker_->PublicKeys()) keys[key.key_id] = key.public_key;
    return audit::Verify(Audit(), *checkpoints, keys);
  }

  static std::string Text(const audit::VerifyReport& report) {
    std::string text = "ok=" + std::to_string(report.ok) +
                       " records=" + std::to_string(report.records) +
                       " last=" + std::to_string(report.last_seq) + ":" + report.last_hash +
                       " checkpoints=" + std::to_string(report.checkpoints) + "@" +
                       std::to_string(report.last_checkpoint_seq) +
                       " pruned=" + std::to_string(report.pruned_through) + "\n";
    for (const auto& problem : report.problems) {
      text += problem.kind + "@" + std::to_string(problem.seq) + ": " + problem.message + "\n";
    }
    return text;
  }
};

TEST_F(AuditPagesTest, VerifyReadsTheWholeChainAcrossPages) {
  AddRecords(41);
  auto report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->ok) << Text(*report);
  const std::vector<store::AuditRow> rows = Audit();
  ASSERT_GT(rows.size(), 40u);
  EXPECT_EQ(report->records, static_cast<std::int64_t>(rows.size()));
  EXPECT_EQ(report->last_seq, rows.back().seq);
  EXPECT_GE(report->checkpoints, 8);
  EXPECT_EQ(Text(*report), Text(ReferenceReport()));
}

TEST_F(AuditPagesTest, ARecordMissingAtAPageEndIsAGap) {
  AddRecords(20);
  // Pages hold records 1-4, 5-8, 9-12, ...: 8 ends the second one.
  {
    std::lock_guard lock(control_->mutex);
    control_->hide_audit_row = [](const store::AuditRow& row) { return row.seq == 8; };
  }
  auto report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  ASSERT_FALSE(report->ok);
  ASSERT_EQ(report->problems.size(), 1u) << Text(*report);
  EXPECT_EQ(report->problems[0].kind, "gap");
  EXPECT_EQ(report->problems[0].seq, 8);
  EXPECT_EQ(Text(*report), Text(ReferenceReport()));

  PruneAuditRequest request;
  request.through_seq = 3;
  auto pruned = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_FALSE(pruned.ok());
  EXPECT_EQ(pruned.error().code(), ErrorCode::kConflict);
  EXPECT_NE(pruned.error().message().find("first at record 8"), std::string::npos)
      << pruned.error().message();
}

// While another process reads the log offline, a prune is refused before it writes anything;
// a dry run is not, and once the reader is done the prune goes ahead.
TEST_F(AuditPagesTest, PruneIsRefusedWhileTheLogIsReadOffline) {
  AddRecords(12);
  const std::vector<store::AuditRow> before = Audit();
  PruneAuditRequest request;
  request.through_seq = 5;
  {
    auto reader = store::HoldOffAuditPrune(dir_.File("xrole.db"));
    ASSERT_TRUE(reader.ok()) << reader.error().ToString();
    auto refused = broker_->PruneAudit(Caller::Admin(), request);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
    EXPECT_NE(refused.error().message().find("xrole audit verify --offline"), std::string::npos)
        << refused.error().message();
    EXPECT_EQ(Audit().size(), before.size());  // not even the prune record
    request.dry_run = true;
    EXPECT_TRUE(broker_->PruneAudit(Caller::Admin(), request).ok());
    request.dry_run = false;
  }
  auto pruned = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_TRUE(pruned.ok()) << pruned.error().ToString();
  EXPECT_EQ(pruned->records, 5);
}

TEST_F(AuditPagesTest, PruneFindsItsCutAcrossPages) {
  AddRecords(30);
  const std::vector<store::AuditRow> before = Audit();

  PruneAuditRequest request;
  request.through_seq = 13;  // inside the fourth page
  request.dry_run = true;
  auto dry = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_TRUE(dry.ok()) << dry.error().ToString();
  EXPECT_EQ(dry->first_seq, 1);
  EXPECT_EQ(dry->through_seq, 13);
  EXPECT_EQ(dry->hash, before[12].hash);
  EXPECT_EQ(dry->records, 13);

  request.dry_run = false;
  request.expect_hash = before[12].hash;
  auto pruned = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_TRUE(pruned.ok()) << pruned.error().ToString();
  EXPECT_EQ(pruned->records, 13);
  auto report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->ok) << Text(*report);
  EXPECT_EQ(report->pruned_through, 13);
  EXPECT_EQ(report->records, static_cast<std::int64_t>(before.size()) - 13 + 1);
  EXPECT_EQ(Text(*report), Text(ReferenceReport()));

  // The refusals name what the pages held.
  const std::int64_t last = Audit().back().seq;
  request.expect_hash.clear();
  request.through_seq = 5;
  auto refused = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(),
            "record 5 is not in the log (it holds records 14.." + std::to_string(last) + ")");
  request.through_seq = last;
  refused = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(),
            "the last record (" + std::to_string(last) + ") stays: the chain continues from it");

  // A cut by age: every record is older than a minute from now, so all but the last go.
  request.through_seq = 0;
  request.before_ms = audit::NowMs() + 60000;
  request.dry_run = true;
  refused = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("stays"), std::string::npos);
  request.before_ms = 1;
  refused = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(), "no record is older than the cut-off");

  // A second cut continues from the first.
  request = PruneAuditRequest{};
  request.through_seq = 22;
  pruned = broker_->PruneAudit(Caller::Admin(), request);
  ASSERT_TRUE(pruned.ok()) << pruned.error().ToString();
  EXPECT_EQ(pruned->first_seq, 14);
  EXPECT_EQ(pruned->records, 9);
  report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->ok) << Text(*report);
  EXPECT_EQ(report->pruned_through, 22);
}

// ---- failing closed --------------------------------------------------------------------------

TEST_F(BrokerTest, FailsClosedWhenTheAuditLogCannotBeWritten) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("reader", run));
  EXPECT_TRUE(broker_->healthy());
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  control_->fail_commits.store(true);
  AuthorizeResult denied = Check(session, "s3:GetObject", kDataObject);
  EXPECT_EQ(denied.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(denied.error_code, "audit_unavailable");
  EXPECT_TRUE(denied.reasons.empty());
  EXPECT_EQ(denied.audit_id, 0);
  EXPECT_FALSE(broker_->healthy());

  auto assume = broker_->Assume(Caller::OfAgent("worker"), Request("reader", run));
  EXPECT_FALSE(assume.ok());
  StartRunRequest start;
  start.workflow = "main";
  start.agent = "worker";
  EXPECT_FALSE(broker_->StartRun(Caller::Admin(), start).ok());

  // The failure is sticky: the disk coming back does not resume unaudited service.
  control_->fail_commits.store(false);
  AuthorizeResult still = Check(session, "s3:GetObject", kDataObject);
  EXPECT_EQ(still.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(still.error_code, "audit_unavailable");
  EXPECT_FALSE(broker_->healthy());
}

// ---- key rotation ----------------------------------------------------------------------------

TEST_F(BrokerTest, SigningKeyRotationKeepsOldTokensValid) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  AssumeResult old_session = MustAssume(Request("long", run, 3600));
  std::string old_kid = old_session.session.key_id;
  EXPECT_EQ(TokenPayload(old_session.credentials.session_token).value("kid", ""), old_kid);

  auto refused = broker_->RotateSigningKey(Caller::OfAgent("worker"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kPermissionDenied);

  auto rotated = broker_->RotateSigningKey(Caller::Admin());
  ASSERT_TRUE(rotated.ok()) << rotated.error().ToString();
  std::string new_kid = *rotated;
  EXPECT_NE(new_kid, old_kid);
  std::map<std::string, bool> keys;
  for (const auto& key : broker_->PublicKeys()) keys[key.key_id] = key.active;
  EXPECT_EQ(keys, (std::map<std::string, bool>{{old_kid, false}, {new_kid, true}}));

  EXPECT_EQ(Check(old_session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  AssumeResult new_session = MustAssume(Request("long", run));
  EXPECT_EQ(new_session.session.key_id, new_kid);
  EXPECT_EQ(TokenPayload(new_session.credentials.session_token).value("kid", ""), new_kid);
  EXPECT_EQ(Check(new_session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  // Both keys keep verifying after a restart, and the audit chain (checkpoints signed by
  // either key) verifies.
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(Check(old_session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(Check(new_session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(MustAssume(Request("long", run)).session.key_id, new_kid);
  auto report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok);
  EXPECT_TRUE(report->problems.empty());
}

// ---- offboarding -----------------------------------------------------------------------------

class OffboardTest : public BrokerTest {
 protected:
  Result<OffboardResult> Offboard(std::string kind, std::string name, std::string reason = "",
                                  const Caller& caller = Caller::Admin()) {
    OffboardRequest request;
    request.kind = std::move(kind);
    request.name = std::move(name);
    request.reason = std::move(reason);
    return broker_->Offboard(caller, request);
  }

  // The audit records of type "offboard" that report a completed offboard.
  std::vector<nlohmann::json> OffboardRecords() {
    std::vector<nlohmann::json> out;
    for (const auto& row : Audit()) {
      if (row.type != "offboard") continue;
      nlohmann::json body = nlohmann::json::parse(row.body);
      if (body.value("outcome", "") == "ok") out.push_back(std::move(body));
    }
    return out;
  }

  bool KeyWorks(const IssuedKey& key) {
    return broker_->Authenticate("Bearer " + key.access_key_id + ":" + key.secret_access_key).ok();
  }

  std::string ApprovalStatus(const std::string& id) {
    for (const auto& approval : broker_->ListApprovals(Caller::Admin(), false)) {
      if (approval.id == id) return approval.status;
    }
    return "";
  }

  void ExpectRevoked(const AssumeResult& session) {
    AuthorizeResult r = Check(session, "s3:GetObject", kDataObject);
    EXPECT_EQ(r.decision, Decision::kImplicitlyDenied) << session.session.id;
    EXPECT_EQ(r.error_code, "revoked") << session.session.id;
  }

  // Why a run of `workflow` for `agent` cannot start (kInternal if it can).
  ErrorCode StartRunError(std::string workflow, std::string agent) {
    StartRunRequest start;
    start.workflow = std::move(workflow);
    start.agent = std::move(agent);
    auto run = broker_->StartRun(Caller::Admin(), start);
    return run.ok() ? ErrorCode::kInternal : run.error().code();
  }

  // The catalog's canonical JSON of `object` ("Kind/name").
  std::string CatalogDocument(const std::string& object) {
    return broker_->catalog()->documents.at(object).canonical_json;
  }

  void ExpectAuditVerifies() {
    auto report = broker_->VerifyAudit(Caller::Admin());
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->ok);
    EXPECT_TRUE(report->problems.empty());
  }

  std::string PendingApproval(const RunRecord& run, const std::string& role) {
    auto pending = broker_->Assume(Caller::OfAgent("worker"), Request(role, run));
    if (!pending.ok() || !pending->pending) {
      ADD_FAILURE() << "expected a pending approval for " << role;
      return "";
    }
    return pending->approval_id;
  }
};

constexpr std::string_view kWorkerAgent = R"(apiVersion: xrole/v1
kind: Agent
metadata: {name: worker}
spec: {sponsor: alice, tags: {tier: gold}}
)";

TEST_F(OffboardTest, AgentLeavesNoSessionRunKeyOrApprovalBehind) {
  auto worker_key = broker_->IssueKey(Caller::Admin(), "agent", "worker", false);
  auto scout_key = broker_->IssueKey(Caller::Admin(), "agent", "scout", false);
  ASSERT_TRUE(worker_key.ok() && scout_key.ok());
  // The worker's own run: a session, one delegated from it to the scout, a pending approval.
  RunRecord run = NewRun();
  AssumeResult own = MustAssume(Request("reader", run));
  AssumeRequest delegate = Request("reader", run);
  delegate.parent_session_id = own.session.id;
  delegate.agent = "scout";
  AssumeResult delegated_to_scout = MustAssume(HolderOf(own), delegate);
  std::string approval = PendingApproval(run, "prod");
  // The scout's run: its own session stays, the one it delegated to the worker does not.
  RunRecord scout_run = NewRun("main", "scout");
  AssumeResult scout_own = MustAssume(Caller::OfAgent("scout"), Request("reader", scout_run));
  AssumeRequest to_worker = Request("reader", scout_run);
  to_worker.parent_session_id = scout_own.session.id;
  to_worker.agent = "worker";
  AssumeResult delegated_to_worker = MustAssume(HolderOf(scout_own), to_worker);
  RunRecord ended_before = NewRun();
  ASSERT_TRUE(broker_->EndRun(Caller::Admin(), ended_before.id).ok());

  auto offboarded = Offboard("agent", "worker", "key leaked");
  ASSERT_TRUE(offboarded.ok()) << offboarded.error().ToString();
  EXPECT_EQ(offboarded->object, "Agent/worker");
  std::vector<std::string> sessions = {own.session.id, delegated_to_scout.session.id,
                                       delegated_to_worker.session.id};
  std::sort(sessions.begin(), sessions.end());
  EXPECT_EQ(offboarded->revoked_sessions, sessions);
  EXPECT_EQ(offboarded->ended_runs, std::vector<std::string>{run.id});
  std::vector<std::string> keys = {worker_key->access_key_id, run.access_key_id};
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(offboarded->retired_keys, keys);
  EXPECT_EQ(offboarded->cancelled_approvals, std::vector<std::string>{approval});
  // Every role whose trust shorthand lists the worker keeps its trust, written out in full.
  EXPECT_EQ(offboarded->rewritten_roles,
            (std::vector<std::string>{"base", "for-dave", "long", "prod", "reader", "ticketed",
                                      "unlisted"}));
  EXPECT_GT(offboarded->audit_id, 0);

  // Every later request is refused.
  ExpectRevoked(own);
  ExpectRevoked(delegated_to_scout);
  ExpectRevoked(delegated_to_worker);
  EXPECT_FALSE(KeyWorks(*worker_key));
  EXPECT_FALSE(broker_->Authenticate("Bearer " + own.credentials.session_token).ok());
  EXPECT_EQ(broker_->GetRun(run.id)->status, "revoked");
  EXPECT_EQ(broker_->GetRun(run.id)->ended_by, "admin");
  EXPECT_EQ(broker_->GetSession(Caller::Admin(), own.session.id)->revoke_reason,
            "offboarded Agent/worker: key leaked");
  EXPECT_EQ(ApprovalStatus(approval), "cancelled");
  EXPECT_FALSE(broker_->catalog()->agents.count("worker"));
  EXPECT_FALSE(StoredObjects().count("Agent/worker"));
  EXPECT_EQ(StartRunError("main", "worker"), ErrorCode::kNotFound);
  // The scout is untouched, and the expanded trust of `reader` still admits it.
  EXPECT_TRUE(KeyWorks(*scout_key));
  EXPECT_EQ(Check(scout_own, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  const std::string reader_document = CatalogDocument("ExecutionRole/reader");
  EXPECT_EQ(reader_document.find("\"agents\""), std::string::npos) << reader_document;
  EXPECT_NE(reader_document.find("user/xrole/agent/worker"), std::string::npos);
  AssumeResult scout_again = MustAssume(Caller::OfAgent("scout"), Request("reader", scout_run));
  EXPECT_EQ(Check(scout_again, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  // One audit record says what was done.
  std::vector<nlohmann::json> records = OffboardRecords();
  ASSERT_EQ(records.size(), 1u);
  const nlohmann::json& details = records[0]["details"];
  EXPECT_EQ(details["deleted"], "Agent/worker");
  EXPECT_EQ(details["reason"], "key leaked");
  EXPECT_EQ(details["counts"]["revokedSessions"], 3);
  EXPECT_EQ(details["counts"]["endedRuns"], 1);
  EXPECT_EQ(details["counts"]["retiredKeys"], 2);
  EXPECT_EQ(details["counts"]["cancelledApprovals"], 1);
  EXPECT_EQ(details["counts"]["rewrittenRoles"], 7);
  EXPECT_EQ(records[0]["actor"]["agent"], "worker");
  ExpectAuditVerifies();

  // It all holds after a restart (the rewritten roles load as they were stored), and offboarding
  // again finds nothing.
  ASSERT_NO_FATAL_FAILURE(Reopen());
  ExpectRevoked(own);
  EXPECT_FALSE(KeyWorks(*worker_key));
  EXPECT_FALSE(broker_->catalog()->agents.count("worker"));
  EXPECT_EQ(Offboard("agent", "worker").error().code(), ErrorCode::kNotFound);

  // Applying the agent again onboards it afresh: the roles trust it by name as before, none of
  // its old credentials work, new ones do.
  auto reapplied = broker_->Apply(Caller::Admin(), Docs(kWorkerAgent), {}, false);
  ASSERT_TRUE(reapplied.ok()) << reapplied.error().ToString();
  EXPECT_EQ(Changes(*reapplied), (std::map<std::string, std::string>{{"Agent/worker", "created"}}));
  EXPECT_FALSE(KeyWorks(*worker_key));
  ExpectRevoked(own);
  EXPECT_EQ(broker_->GetRun(run.id)->status, "revoked");
  EXPECT_FALSE(broker_->Assume(Caller::OfAgent("worker"), Request("reader", run)).ok());
  auto fresh_key = broker_->IssueKey(Caller::Admin(), "agent", "worker", false);
  ASSERT_TRUE(fresh_key.ok());
  EXPECT_TRUE(KeyWorks(*fresh_key));
  RunRecord fresh_run = NewRun();
  AssumeResult fresh = MustAssume(Request("reader", fresh_run));
  EXPECT_EQ(Check(fresh, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  ExpectAuditVerifies();
}

TEST_F(OffboardTest, RoleStillListedByAWorkflowIsRefusedAndNothingChanges) {
  RunRecord run = NewRun();
  AssumeResult session = MustAssume(Request("reader", run));
  const std::set<std::string> stored_before = StoredObjects();
  auto catalog_before = broker_->catalog();

  auto refused = Offboard("role", "reader");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(refused.error().message(), HasSubstr("`main`, `short`"));
  EXPECT_EQ(broker_->catalog(), catalog_before);  // the very same catalog object
  EXPECT_EQ(StoredObjects(), stored_before);
  EXPECT_EQ(Check(session, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(broker_->GetSession(Caller::Admin(), session.session.id)->status, "active");
  EXPECT_TRUE(OffboardRecords().empty());
  ExpectAuditVerifies();
}

TEST_F(OffboardTest, RoleRevokesItsSessionsAndCancelsItsApprovals) {
  RunRecord run = NewRun("main", "worker", 0, {}, "dave");
  AssumeResult long_session = MustAssume(Request("long", run));
  AssumeResult reader = MustAssume(Request("reader", run));
  std::string approval = PendingApproval(run, "prod");
  std::string approved = PendingApproval(NewRun("main", "worker", 0, {}, "dave"), "prod");
  ASSERT_TRUE(broker_->DecideApproval(Caller::OfHuman("bob"), approved, true, "").ok());

  // The workflow stops listing `long` and `prod`; their sessions and approvals live on.
  auto edited = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Workflow
metadata: {name: main}
spec:
  roles: [reader, base, escalate, escalate-by-arn, ticketed, for-dave]
  maxRunDuration: 6h
)"),
                               {}, false);
  ASSERT_TRUE(edited.ok()) << edited.error().ToString();

  auto long_gone = Offboard("role", "long", "unused");
  ASSERT_TRUE(long_gone.ok()) << long_gone.error().ToString();
  EXPECT_EQ(long_gone->object, "ExecutionRole/long");
  EXPECT_EQ(long_gone->revoked_sessions, std::vector<std::string>{long_session.session.id});
  EXPECT_TRUE(long_gone->ended_runs.empty());
  EXPECT_TRUE(long_gone->retired_keys.empty());
  EXPECT_TRUE(long_gone->rewritten_roles.empty());
  ExpectRevoked(long_session);
  EXPECT_EQ(Check(reader, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(broker_->GetRun(run.id)->status, "active");
  EXPECT_FALSE(broker_->catalog()->roles.count("long"));
  EXPECT_FALSE(StoredObjects().count("ExecutionRole/long"));

  auto prod_gone = Offboard("role", "prod");
  ASSERT_TRUE(prod_gone.ok()) << prod_gone.error().ToString();
  std::vector<std::string> approvals = {approval, approved};
  std::sort(approvals.begin(), approvals.end());
  EXPECT_EQ(prod_gone->cancelled_approvals, approvals);
  EXPECT_EQ(ApprovalStatus(approval), "cancelled");
  EXPECT_EQ(ApprovalStatus(approved), "cancelled");
  EXPECT_EQ(OffboardRecords().size(), 2u);
  ExpectAuditVerifies();
}

TEST_F(OffboardTest, WorkflowEndsItsRunsAndKeepsTheTrustThatNamedIt) {
  RunRecord short_run = NewRun("short");
  AssumeResult in_short = MustAssume(Request("reader", short_run));
  RunRecord main_run = NewRun();
  AssumeResult in_main = MustAssume(Request("reader", main_run));
  // `short` also lists `prod` for a while: an approval asked for in its run is cancelled.
  auto edited = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Workflow
metadata: {name: short}
spec: {roles: [reader, prod], maxRunDuration: 30m}
)"),
                               {}, false);
  ASSERT_TRUE(edited.ok()) << edited.error().ToString();
  std::string approval = PendingApproval(short_run, "prod");
  std::string main_approval = PendingApproval(main_run, "prod");

  auto offboarded = Offboard("workflow", "short");
  ASSERT_TRUE(offboarded.ok()) << offboarded.error().ToString();
  EXPECT_EQ(offboarded->object, "Workflow/short");
  EXPECT_EQ(offboarded->revoked_sessions, std::vector<std::string>{in_short.session.id});
  EXPECT_EQ(offboarded->ended_runs, std::vector<std::string>{short_run.id});
  EXPECT_EQ(offboarded->retired_keys, std::vector<std::string>{short_run.access_key_id});
  EXPECT_EQ(offboarded->cancelled_approvals, std::vector<std::string>{approval});
  EXPECT_EQ(offboarded->rewritten_roles, std::vector<std::string>{"reader"});

  ExpectRevoked(in_short);
  EXPECT_EQ(broker_->GetRun(short_run.id)->status, "revoked");
  EXPECT_EQ(ApprovalStatus(main_approval), "pending");
  EXPECT_FALSE(broker_->catalog()->workflows.count("short"));
  EXPECT_FALSE(StoredObjects().count("Workflow/short"));
  EXPECT_EQ(StartRunError("short", "worker"), ErrorCode::kNotFound);
  // `reader`'s trust still requires one of its workflows: `main` works as before.
  const std::string reader_document = CatalogDocument("ExecutionRole/reader");
  EXPECT_EQ(reader_document.find("\"workflows\""), std::string::npos) << reader_document;
  EXPECT_NE(reader_document.find("xrole:Workflow"), std::string::npos);
  EXPECT_EQ(Check(in_main, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  AssumeResult again = MustAssume(Request("reader", main_run));
  EXPECT_EQ(Check(again, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  ExpectAuditVerifies();
}

TEST_F(OffboardTest, AdminOnlyKnownKindsAndNames) {
  for (const Caller& caller : {Caller::OfAgent("worker"), Caller::OfHuman("bob"), Caller{}}) {
    auto refused = Offboard("agent", "scout", "", caller);
    ASSERT_FALSE(refused.ok()) << caller.Describe();
    EXPECT_EQ(refused.error().code(), ErrorCode::kPermissionDenied) << caller.Describe();
  }
  EXPECT_EQ(Offboard("human", "bob").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Offboard("agent", "").error().code(), ErrorCode::kInvalidArgument);
  auto unknown = Offboard("workflow", "nightly");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(unknown.error().message(), HasSubstr("no workflow named `nightly`"));
  EXPECT_EQ(Offboard("role", "nobody").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(broker_->catalog()->agents.count("scout"));
  EXPECT_TRUE(OffboardRecords().empty());
}

// ---- access review ---------------------------------------------------------------------------

// kStart is 2030-03-17. `unowned` was due for review on 2030-03-01, `owned` is due on
// 2030-06-01; `loner` has no sponsor.
constexpr std::string_view kReviewCatalog = R"(apiVersion: xrole/v1
kind: Human
metadata: {name: alice}
spec: {email: alice@example.com}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: busy}
spec: {sponsor: alice}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: loner}
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: owned, owner: ops@example.com}
spec:
  reviewBy: 2030-06-01
  trust: {agents: [busy, loner], workflows: [work]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: unowned}
spec:
  reviewBy: 2030-03-01
  trust: {agents: [busy]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: work}
spec: {roles: [owned, unowned], maxRunDuration: 12h}
)";

class ReviewTest : public BrokerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenBroker());
    auto applied = broker_->Apply(Caller::Admin(), Docs(kReviewCatalog), {}, false);
    ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  }

  // "kind/name code" of every finding, in report order; the report in `report_out`.
  std::vector<std::string> Findings(std::int64_t stale_days = 30,
                                    ReviewReport* report_out = nullptr) {
    auto report = broker_->Review(Caller::Admin(), stale_days);
    if (!report.ok()) {
      ADD_FAILURE() << report.error().ToString();
      return {};
    }
    std::vector<std::string> out;
    for (const auto& f : report->findings) out.push_back(f.kind + "/" + f.name + " " + f.code);
    if (report_out != nullptr) *report_out = *report;
    return out;
  }

  const ReviewFinding* Find(const ReviewReport& report, std::string_view code,
                            std::string_view name) {
    for (const auto& f : report.findings) {
      if (f.code == code && f.name == name) return &f;
    }
    ADD_FAILURE() << "no finding " << code << " for " << name;
    return nullptr;
  }
};

TEST_F(ReviewTest, FindsWhatOwnersShouldLookAt) {
  auto busy_key = broker_->IssueKey(Caller::Admin(), "agent", "busy", false);
  auto alice_key = broker_->IssueKey(Caller::Admin(), "human", "alice", false);
  ASSERT_TRUE(busy_key.ok() && alice_key.ok());
  RunRecord run = NewRun("work", "busy", 12 * 3600);
  AssumeResult session = MustAssume(Caller::OfAgent("busy"), Request("owned", run));

  ReviewReport report;
  EXPECT_EQ(Findings(30, &report),
            (std::vector<std::string>{"role/unowned review_overdue", "role/unowned no_owner",
                                      "role/unowned never_assumed", "agent/loner no_sponsor",
                                      "agent/loner never_active"}));
  EXPECT_EQ(report.stale_days, 30);
  EXPECT_EQ(report.as_of, kStart);
  EXPECT_EQ(report.roles, 2u);
  EXPECT_EQ(report.agents, 2u);
  EXPECT_EQ(report.access_keys, 2u);
  if (const ReviewFinding* f = Find(report, "review_overdue", "unowned")) {
    EXPECT_EQ(f->detail, "review was due by 2030-03-01 (16 days ago)");
    EXPECT_THAT(f->action, HasSubstr("xrole offboard role unowned"));
  }
  if (const ReviewFinding* f = Find(report, "never_assumed", "unowned")) {
    EXPECT_EQ(f->action,
              "remove it from workflow `work` (xrole apply), then: xrole offboard role unowned");
  }
  if (const ReviewFinding* f = Find(report, "never_active", "loner")) {
    EXPECT_EQ(f->action, "xrole offboard agent loner");
  }

  // 31 days on: what was used is now stale, and the keys are old.
  Advance(31 * 86400);
  EXPECT_EQ(Findings(30, &report),
            (std::vector<std::string>{
                "role/owned not_assumed", "role/unowned review_overdue", "role/unowned no_owner",
                "role/unowned never_assumed", "agent/busy inactive", "agent/loner no_sponsor",
                "agent/loner never_active", "accessKey/" + busy_key->access_key_id + " old_key",
                "accessKey/" + alice_key->access_key_id + " old_key"}));
  if (const ReviewFinding* f = Find(report, "not_assumed", "owned")) {
    EXPECT_EQ(f->detail, "last assumed 2030-03-17 (31 days ago), no session in the last 30 days");
  }
  if (const ReviewFinding* f = Find(report, "old_key", busy_key->access_key_id)) {
    EXPECT_EQ(f->detail, "agent `busy`'s key, issued 2030-03-17 (31 days ago), is still active");
    EXPECT_EQ(f->action, "xrole agent rotate busy");
  }
  if (const ReviewFinding* f = Find(report, "old_key", alice_key->access_key_id)) {
    EXPECT_EQ(f->action, "xrole human rotate alice");
  }
  // A longer window: only what does not depend on it.
  EXPECT_EQ(Findings(60),
            (std::vector<std::string>{"role/unowned review_overdue", "role/unowned no_owner",
                                      "role/unowned never_assumed", "agent/loner no_sponsor",
                                      "agent/loner never_active"}));
  // A rotated key is no longer active; a new one is not old.
  ASSERT_TRUE(broker_->IssueKey(Caller::Admin(), "agent", "busy", true).ok());
  Findings(30, &report);
  EXPECT_EQ(std::count_if(report.findings.begin(), report.findings.end(),
                          [](const ReviewFinding& f) { return f.code == "old_key"; }),
            1);

  // Past 2030-06-01 `owned` is due for review too.
  Advance(60 * 86400);
  Findings(365, &report);
  if (const ReviewFinding* f = Find(report, "review_overdue", "owned")) {
    EXPECT_EQ(f->detail, "review was due by 2030-06-01 (15 days ago)");
  }
  (void)session;
}

TEST_F(ReviewTest, CleanWhenEverythingIsOwnedSponsoredAndInUse) {
  auto fixed = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: Agent
metadata: {name: loner}
spec: {sponsor: alice}
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: unowned, owner: ops@example.com}
spec:
  reviewBy: 2031-01-01
  trust: {agents: [busy]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
)"),
                              {}, false);
  ASSERT_TRUE(fixed.ok()) << fixed.error().ToString();
  auto key = broker_->IssueKey(Caller::Admin(), "agent", "busy", false);
  ASSERT_TRUE(key.ok());
  RunRecord run = NewRun("work", "busy");
  MustAssume(Caller::OfAgent("busy"), Request("owned", run));
  MustAssume(Caller::OfAgent("busy"), Request("unowned", run));
  // The sub-agent acts only through a session delegated to it: that counts as activity.
  AssumeResult parent = MustAssume(Caller::OfAgent("busy"), Request("owned", run));
  AssumeRequest delegate = Request("owned", run);
  delegate.parent_session_id = parent.session.id;
  delegate.agent = "loner";
  MustAssume(HolderOf(parent), delegate);

  ReviewReport report;
  EXPECT_EQ(Findings(30, &report), std::vector<std::string>{});
  EXPECT_EQ(report.access_keys, 1u);
  Advance(29 * 86400);
  EXPECT_EQ(Findings(30), std::vector<std::string>{});
  Advance(86400);
  EXPECT_FALSE(Findings(30).empty());
}

TEST_F(ReviewTest, AdminAndHumansOnlyAndAPositiveWindow) {
  EXPECT_TRUE(broker_->Review(Caller::OfHuman("alice"), 30).ok());
  EXPECT_EQ(broker_->Review(Caller::OfAgent("busy"), 30).error().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(broker_->Review(Caller{Caller::Kind::kSession, "ses-x", "busy"}, 30).error().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(broker_->Review(Caller::Admin(), 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(broker_->Review(Caller::Admin(), -5).error().code(), ErrorCode::kInvalidArgument);
}

// ---- session reuse for SDK credential providers (session_reuse.h) ----------------------------

// A one-hour assume with reuse, as the credential providers send it.
AssumeRequest ReuseRequest(std::string role, const RunRecord& run,
                           std::int64_t duration_seconds = kProviderSessionSeconds) {
  AssumeRequest request;
  request.role = std::move(role);
  request.run_id = run.id;
  request.duration_seconds = duration_seconds;
  request.reuse = true;
  return request;
}

class SessionReuseTest : public BrokerTest {
 protected:
  int AuditCount(std::string_view type) {
    int count = 0;
    for (const auto& row : Audit()) count += row.type == type;
    return count;
  }
};

TEST_F(SessionReuseTest, SameSessionWhileMoreThanTheRefreshMarginRemains) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  AssumeResult first = MustAssume(ReuseRequest("long", run));
  EXPECT_FALSE(first.reused);
  EXPECT_EQ(first.session.expires_at, Now() + 3600);

  Advance(600);
  AssumeResult again = MustAssume(ReuseRequest("long", run));
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.session.id, first.session.id);
  EXPECT_EQ(again.credentials.access_key_id, first.credentials.access_key_id);
  EXPECT_EQ(again.credentials.secret_access_key, first.credentials.secret_access_key);
  EXPECT_EQ(again.credentials.expiration, first.credentials.expiration);
  // Re-signed over the same claims with the same key: the very token first issued.
  EXPECT_EQ(again.credentials.session_token, first.credentials.session_token);
  EXPECT_GT(again.audit_id, first.audit_id);

  // The re-issued token verifies against the published keys and authorizes.
  std::map<std::string, std::string> public_keys;
  for (const auto& key : broker_->PublicKeys()) public_keys[key.key_id] = key.public_key;
  auto claims = VerifyToken(
      again.credentials.session_token,
      [&public_keys](std::string_view kid) -> const std::string* {
        auto it = public_keys.find(std::string(kid));
        return it == public_keys.end() ? nullptr : &it->second;
      },
      Now());
  ASSERT_TRUE(claims.ok()) << claims.error().ToString();
  EXPECT_EQ(claims->session_id, first.session.id);
  EXPECT_EQ(Check(again, "s3:GetObject", kDataObject).decision, Decision::kAllowed);
  EXPECT_EQ(Check(again, "s3:DeleteObject", kDataObject).decision, Decision::kImplicitlyDenied);

  // Up to 15 min + 61 s left: still the same session; at 15 min + 60 s a new one.
  Advance(3600 - 600 - (kReuseMarginSeconds + 1));
  EXPECT_EQ(MustAssume(ReuseRequest("long", run)).session.id, first.session.id);
  Advance(1);
  AssumeResult renewed = MustAssume(ReuseRequest("long", run));
  EXPECT_FALSE(renewed.reused);
  EXPECT_NE(renewed.session.id, first.session.id);
  EXPECT_EQ(renewed.session.expires_at, Now() + 3600);
  // The next reuse hands out the newest session; the older one stays valid until it expires.
  EXPECT_EQ(MustAssume(ReuseRequest("long", run)).session.id, renewed.session.id);
  EXPECT_EQ(Check(first, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  EXPECT_EQ(AuditCount("session.assume"), 2);
  EXPECT_EQ(AuditCount("session.reuse"), 3);
  auto report = broker_->VerifyAudit(Caller::Admin());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok);
}

TEST_F(SessionReuseTest, OnlyWhenAskedFor) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  AssumeResult first = MustAssume(ReuseRequest("long", run));
  AssumeRequest plain = ReuseRequest("long", run);
  plain.reuse = false;
  AssumeResult second = MustAssume(plain);
  EXPECT_FALSE(second.reused);
  EXPECT_NE(second.session.id, first.session.id);
}

TEST_F(SessionReuseTest, NeverAcrossCallersRunsRolesOrRequests) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  RunRecord other_run = NewRun("main", "worker", 5 * 3600);
  AssumeResult base = MustAssume(ReuseRequest("long", run));
  std::set<std::string> ids{base.session.id};
  auto expect_new = [&](const Caller& caller, const AssumeRequest& request, const char* what) {
    AssumeResult result = MustAssume(caller, request);
    EXPECT_FALSE(result.reused) << what;
    EXPECT_TRUE(ids.insert(result.session.id).second) << what << " reused " << result.session.id;
    // Asked again, each request finds its own session.
    AssumeResult repeated = MustAssume(caller, request);
    EXPECT_TRUE(repeated.reused) << what;
    EXPECT_EQ(repeated.session.id, result.session.id) << what;
  };
  Caller worker = Caller::OfAgent("worker");
  expect_new(Caller::Admin(), ReuseRequest("long", run), "another caller (the admin)");
  expect_new(worker, ReuseRequest("long", other_run), "another run");
  expect_new(worker, ReuseRequest("base", run), "another role");
  AssumeRequest scoped = ReuseRequest("long", run);
  scoped.policy = std::string(kGetOnly);
  expect_new(worker, scoped, "a session policy");
  scoped.policy = std::string(kListOnly);
  expect_new(worker, scoped, "another session policy");
  AssumeRequest named = ReuseRequest("long", run);
  named.session_name = "nightly-report";
  expect_new(worker, named, "another session name");
  AssumeRequest tagged = ReuseRequest("long", run);
  tagged.tags = {{"project", "apollo"}};
  expect_new(worker, tagged, "session tags");
  tagged.transitive_tag_keys = {"project"};
  expect_new(worker, tagged, "transitive tag keys");
  AssumeRequest sourced = ReuseRequest("long", run);
  sourced.source_identity = "ci-pipeline";
  expect_new(worker, sourced, "a source identity");

  // A delegated session is never reused (nor handed out for its parent's request).
  AssumeRequest delegated = ReuseRequest("long", run);
  delegated.parent_session_id = base.session.id;
  Caller holder = HolderOf(base);
  AssumeResult child = MustAssume(holder, delegated);
  EXPECT_FALSE(child.reused);
  AssumeResult child_again = MustAssume(holder, delegated);
  EXPECT_FALSE(child_again.reused);
  EXPECT_NE(child_again.session.id, child.session.id);
  EXPECT_EQ(MustAssume(ReuseRequest("long", run)).session.id, base.session.id);
}

TEST_F(SessionReuseTest, NeverARevokedSessionOrOneOfAnEndedRun) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  AssumeResult first = MustAssume(ReuseRequest("long", run));
  RevokeRequest revoke;
  revoke.session_id = first.session.id;
  ASSERT_TRUE(broker_->Revoke(Caller::Admin(), revoke).ok());
  AssumeResult second = MustAssume(ReuseRequest("long", run));
  EXPECT_FALSE(second.reused);
  EXPECT_NE(second.session.id, first.session.id);
  EXPECT_EQ(Check(second, "s3:GetObject", kDataObject).decision, Decision::kAllowed);

  ASSERT_TRUE(broker_->EndRun(Caller::Admin(), run.id).ok());
  auto after_end = broker_->Assume(Caller::OfAgent("worker"), ReuseRequest("long", run));
  ASSERT_FALSE(after_end.ok());
  EXPECT_EQ(after_end.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(after_end.error().message(), HasSubstr("is not active"));
  EXPECT_EQ(Check(second, "s3:GetObject", kDataObject).error_code, "revoked");

  // A run that expired on its own: no reuse either.
  RunRecord brief = NewRun("main", "worker", 1800);
  MustAssume(ReuseRequest("long", brief));
  Advance(1800);
  EXPECT_FALSE(broker_->Assume(Caller::OfAgent("worker"), ReuseRequest("long", brief)).ok());
}

TEST_F(SessionReuseTest, ToTheEndOfARunThatEndsWithinTheRefreshWindow) {
  RunRecord run = NewRun("main", "worker", 600);
  AssumeResult first = MustAssume(ReuseRequest("long", run));
  EXPECT_EQ(first.session.expires_at, run.expires_at);
  for (std::int64_t step : {300, 250, 49}) {
    Advance(step);
    AssumeResult again = MustAssume(ReuseRequest("long", run));
    EXPECT_TRUE(again.reused) << (run.expires_at - Now()) << " s left";
    EXPECT_EQ(again.session.id, first.session.id);
  }
  EXPECT_EQ(AuditCount("session.assume"), 1);
}

TEST_F(SessionReuseTest, UntilItsLastMinuteWhenTheRoleMaximumIsShort) {
  auto applied = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: quick}
spec:
  maxSessionDuration: 15m
  trust: {agents: [worker], workflows: [brief]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: brief}
spec: {roles: [quick], maxRunDuration: 2h}
)"),
                                {}, false);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  RunRecord run = NewRun("brief", "worker", 7200);
  AssumeResult first = MustAssume(ReuseRequest("quick", run));
  EXPECT_EQ(first.session.expires_at, Now() + 900);
  Advance(900 - kReuseMinimumSeconds - 1);
  EXPECT_EQ(MustAssume(ReuseRequest("quick", run)).session.id, first.session.id);
  Advance(1);
  AssumeResult renewed = MustAssume(ReuseRequest("quick", run));
  EXPECT_FALSE(renewed.reused);
  EXPECT_NE(renewed.session.id, first.session.id);
}

TEST_F(SessionReuseTest, NeverLongerThanAskedNorAcrossRoleVersionsKeysOrRestarts) {
  RunRecord run = NewRun("main", "worker", 5 * 3600);
  AssumeResult hour = MustAssume(ReuseRequest("long", run));
  // A shorter request does not get the hour-long session.
  AssumeResult short_one = MustAssume(ReuseRequest("long", run, 1200));
  EXPECT_FALSE(short_one.reused);
  EXPECT_NE(short_one.session.id, hour.session.id);

  // A new role version (its permissions changed) gets a new session.
  AssumeResult current = MustAssume(ReuseRequest("long", run));
  EXPECT_TRUE(current.reused);
  auto applied = broker_->Apply(Caller::Admin(), Docs(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: long}
spec:
  maxSessionDuration: 4h
  trust: {agents: [worker], workflows: [main]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: [s3:GetObject, s3:ListBucket], Resource: "*"}]
)"),
                                {}, false);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  AssumeResult after_update = MustAssume(ReuseRequest("long", run));
  EXPECT_FALSE(after_update.reused);
  EXPECT_EQ(MustAssume(ReuseRequest("long", run)).session.id, after_update.session.id);

  // A new signing key: the old token could not be re-signed as it was, so a new session.
  ASSERT_TRUE(broker_->RotateSigningKey(Caller::Admin()).ok());
  AssumeResult after_rotation = MustAssume(ReuseRequest("long", run));
  EXPECT_FALSE(after_rotation.reused);
  EXPECT_NE(after_rotation.session.id, after_update.session.id);

  // Who asked for a session is kept in memory only: after a restart, a new session.
  ASSERT_NO_FATAL_FAILURE(Reopen());
  AssumeResult after_restart = MustAssume(ReuseRequest("long", run));
  EXPECT_FALSE(after_restart.reused);
  EXPECT_TRUE(MustAssume(ReuseRequest("long", run)).reused);
}

TEST(SessionReuseRule, MayReuseUntil) {
  constexpr std::int64_t kNow = 1000000;
  EXPECT_TRUE(MayReuseUntil(kNow + 3600, kNow + 3600, kNow));
  EXPECT_TRUE(MayReuseUntil(kNow + kReuseMarginSeconds + 1, kNow + 3600, kNow));
  EXPECT_FALSE(MayReuseUntil(kNow + kReuseMarginSeconds, kNow + 3600, kNow));
  EXPECT_FALSE(MayReuseUntil(kNow + 3601, kNow + 3600, kNow));  // longer than asked
  EXPECT_FALSE(MayReuseUntil(kNow, kNow, kNow));                // expired
  EXPECT_TRUE(MayReuseUntil(kNow + 5, kNow + 5, kNow));         // the run's end clamps both
  EXPECT_TRUE(MayReuseUntil(kNow + 61, kNow + 900, kNow));      // no new one lasts longer
  EXPECT_FALSE(MayReuseUntil(kNow + 60, kNow + 900, kNow));
}

TEST(SessionReuseRule, KeysDifferForEveryField) {
  ReuseIdentity base{"agent:worker", "long", "run-1", "worker-1", "ph", {{"a", "b"}}, {"a"}, "si"};
  std::set<std::string> keys{ReuseKey(base)};
  auto vary = [&keys, &base](auto change) {
    ReuseIdentity changed = base;
    change(changed);
    EXPECT_TRUE(keys.insert(ReuseKey(changed)).second);
  };
  vary([](ReuseIdentity& i) { i.requested_by = "admin"; });
  vary([](ReuseIdentity& i) { i.role = "base"; });
  vary([](ReuseIdentity& i) { i.run_id = "run-2"; });
  vary([](ReuseIdentity& i) { i.session_name = "worker-2"; });
  vary([](ReuseIdentity& i) { i.policy_hash = "ph2"; });
  vary([](ReuseIdentity& i) { i.tags = {{"a", "c"}}; });
  vary([](ReuseIdentity& i) { i.tags = {{"ab", ""}}; });
  vary([](ReuseIdentity& i) { i.transitive_tag_keys.clear(); });
  vary([](ReuseIdentity& i) { i.source_identity = ""; });
  EXPECT_EQ(ReuseKey(base), ReuseKey(ReuseIdentity(base)));
}

}  // namespace
}  // namespace xrole::session
