// The broker's STS section: SigV4 callers (run, agent, human and session keys) and the AWS
// error codes of every rejection, AssumeRole mapped onto Assume (run binding, approvals,
// session policy size and validity, chaining), with a controlled clock. Requests are signed
// with the sts library's own signer, as an AWS SDK would sign them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "session/broker.h"
#include "store/store.h"
#include "sts/protocol.h"
#include "sts/sigv4.h"
#include "support/temp_dir.h"

namespace xrole::session {
namespace {

namespace fs = std::filesystem;
// `Run` alone would name testing::Test::Run inside fixtures.
using RunRecord = ::xrole::session::Run;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr std::int64_t kStart = 1900000000;  // 2030-03-17, epoch seconds
constexpr char kReaderArn[] = "arn:aws:iam::111122223333:role/reader";
constexpr char kGatedArn[] = "arn:aws:iam::111122223333:role/gated";
constexpr char kChainedArn[] = "arn:aws:iam::111122223333:role/chained";

constexpr std::string_view kCatalog = R"(apiVersion: xrole/v1
kind: Human
metadata: {name: bob}
spec: {email: bob@example.com, canApprove: true}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: worker}
spec: {tags: {tier: gold}}
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: reader}
spec:
  maxSessionDuration: 1h
  trust:
    agents: [worker]
    workflows: [main]
    conditions: {StringNotEquals: {"sts:ExternalId": wrong}}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: gated}
spec:
  trust: {agents: [worker], workflows: [main]}
  approval: {required: true, ttl: 1h}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:PutObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: chained}
spec:
  trust:
    workflows: [main]
    conditions: {ArnEquals: {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/reader"}}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: main}
spec: {roles: [reader, gated, chained], maxRunDuration: 4h}
)";

struct TempDir : xrole::testing::TempDir {
  TempDir() : xrole::testing::TempDir("xrole-sts") {}
};

struct Key {
  std::string access_key_id;
  std::string secret;
  std::string session_token;  // "" for long-term keys
};

// One signed `POST /` form request; view() is valid while the object lives.
struct SignedCall {
  std::vector<sts::HttpHeaderField> headers;
  std::string body;
  sts::SignedRequestView view() const { return {"POST", "/", "", headers, body}; }
};

SignedCall Sign(const Key& key, std::string body, std::int64_t when,
                std::string_view service = "sts") {
  SignedCall call;
  call.body = std::move(body);
  const std::string amz_date = sts::FormatAmzDate(when);
  call.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                  {"Host", "127.0.0.1:8600"},
                  {"X-Amz-Date", amz_date}};
  sts::SigV4Auth auth;
  auth.access_key_id = key.access_key_id;
  auth.scope_date = amz_date.substr(0, 8);
  auth.region = "us-east-1";
  auth.service = std::string(service);
  auth.signed_headers = {"content-type", "host", "x-amz-date"};
  auth.amz_date = amz_date;
  auth.request_time = when;
  if (!key.session_token.empty()) {
    call.headers.push_back({"X-Amz-Security-Token", key.session_token});
    auth.signed_headers.push_back("x-amz-security-token");
    auth.security_token = key.session_token;
  }
  auto computed = sts::ComputeSigV4(call.view(), auth, key.secret);
  EXPECT_TRUE(computed.ok()) << computed.error().message;
  if (computed.ok()) auth.signature = computed->signature;
  call.headers.push_back({"Authorization", sts::BuildAuthorizationHeader(auth)});
  return call;
}

constexpr char kIdentityForm[] = "Action=GetCallerIdentity&Version=2011-06-15";

class StsBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sqlite = store::OpenSqlite(dir_.File("xrole.db"));
    ASSERT_TRUE(sqlite.ok()) << sqlite.error().ToString();
    BrokerOptions options;
    options.now = [this] { return now_.load(); };
    auto broker = Broker::Open(dir_.File("data"), std::move(*sqlite), std::move(options));
    ASSERT_TRUE(broker.ok()) << broker.error().ToString();
    broker_ = std::move(*broker);
    auto docs = ParseObjectDocuments(kCatalog, "test.yaml");
    ASSERT_TRUE(docs.ok()) << docs.error().ToString();
    auto applied = broker_->Apply(Caller::Admin(), *docs, {}, false);
    ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  }

  RunRecord NewRun(std::int64_t ttl_seconds = 0) {
    StartRunRequest request;
    request.workflow = "main";
    request.agent = "worker";
    request.ttl_seconds = ttl_seconds;
    auto run = broker_->StartRun(Caller::Admin(), request);
    EXPECT_TRUE(run.ok()) << run.error().ToString();
    return run.ok() ? *run : RunRecord{};
  }
  static Key RunKey(const RunRecord& run) { return {run.access_key_id, run.secret_access_key, ""}; }

  sts::StsResult<StsPrincipal> Authenticate(const Key& key, std::string body = kIdentityForm) {
    SignedCall call = Sign(key, std::move(body), now_.load());
    return broker_->AuthenticateSigV4(call.view());
  }

  static sts::AssumeRoleRequest AssumeRoleOf(std::string role_arn, std::string name) {
    sts::AssumeRoleRequest request;
    request.role_arn = std::move(role_arn);
    request.role_session_name = std::move(name);
    return request;
  }

  // Authenticates `key` and assumes; fails the test on any error.
  sts::AssumeRoleResult AssumeOk(const Key& key, const sts::AssumeRoleRequest& request,
                                 std::string* session_id = nullptr) {
    auto principal = Authenticate(key);
    EXPECT_TRUE(principal.ok()) << principal.error().code << ": " << principal.error().message;
    if (!principal.ok()) return {};
    auto result = broker_->StsAssumeRole(*principal, request, session_id);
    EXPECT_TRUE(result.ok()) << result.error().code << ": " << result.error().message;
    return result.ok() ? *result : sts::AssumeRoleResult{};
  }

  sts::StsError AssumeFails(const Key& key, const sts::AssumeRoleRequest& request) {
    auto principal = Authenticate(key);
    EXPECT_TRUE(principal.ok()) << principal.error().code << ": " << principal.error().message;
    if (!principal.ok()) return principal.error();
    auto result = broker_->StsAssumeRole(*principal, request);
    EXPECT_FALSE(result.ok());
    return result.ok() ? sts::StsError{} : result.error();
  }

  static Key SessionKey(const sts::AssumeRoleResult& result) {
    return {result.access_key_id, result.secret_access_key, result.session_token};
  }

  std::string ErrorCodeOf(const Key& key) {
    auto principal = Authenticate(key);
    return principal.ok() ? "ok" : principal.error().code;
  }

  TempDir dir_;
  std::atomic<std::int64_t> now_{kStart};
  std::unique_ptr<Broker> broker_;
};

TEST_F(StsBrokerTest, RunKeyIdentifiesTheAgentAndItsRun) {
  RunRecord run = NewRun();
  EXPECT_THAT(run.access_key_id, StartsWith("AKIA"));
  EXPECT_EQ(run.secret_access_key.size(), 40u);
  auto principal = Authenticate(RunKey(run));
  ASSERT_TRUE(principal.ok()) << principal.error().message;
  EXPECT_EQ(principal->key_kind, "run");
  EXPECT_EQ(principal->run_id, run.id);
  EXPECT_EQ(principal->caller.Describe(), "agent:worker");
  EXPECT_EQ(principal->identity.arn, "arn:aws:iam::111122223333:user/xrole/agent/worker");
  EXPECT_EQ(principal->identity.account, "111122223333");
  EXPECT_THAT(principal->identity.user_id, StartsWith("AIDA"));
  EXPECT_EQ(principal->identity.user_id.size(), 21u);
  // The secret is never stored: GetRun has the key id only.
  auto stored = broker_->GetRun(run.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->access_key_id, run.access_key_id);
  EXPECT_TRUE(stored->secret_access_key.empty());
}

TEST_F(StsBrokerTest, RejectionsCarryAwsCodes) {
  RunRecord run = NewRun();
  Key key = RunKey(run);
  EXPECT_EQ(ErrorCodeOf({"AKIAAAAAAAAAAAAAAAAA", key.secret, ""}), "InvalidClientTokenId");
  EXPECT_EQ(ErrorCodeOf({key.access_key_id, std::string(40, 'x'), ""}), "SignatureDoesNotMatch");
  // Signed six minutes before the server's clock.
  SignedCall stale = Sign(key, kIdentityForm, now_.load() - 360);
  EXPECT_EQ(broker_->AuthenticateSigV4(stale.view()).error().code, "RequestExpired");
  // Signed for another service.
  SignedCall s3 = Sign(key, kIdentityForm, now_.load(), "s3");
  EXPECT_EQ(broker_->AuthenticateSigV4(s3.view()).error().code, "SignatureDoesNotMatch");
  // No signature at all.
  SignedCall unsigned_call;
  unsigned_call.body = kIdentityForm;
  unsigned_call.headers = {{"Host", "127.0.0.1:8600"}};
  EXPECT_EQ(broker_->AuthenticateSigV4(unsigned_call.view()).error().code,
            "MissingAuthenticationToken");
  // A human's key authenticates, but may not assume.
  auto human_key = broker_->IssueKey(Caller::Admin(), "human", "bob", false);
  ASSERT_TRUE(human_key.ok());
  Key human{human_key->access_key_id, human_key->secret_access_key, ""};
  auto principal = Authenticate(human);
  ASSERT_TRUE(principal.ok());
  EXPECT_EQ(principal->identity.arn, "arn:aws:iam::111122223333:user/xrole/human/bob");
  EXPECT_EQ(AssumeFails(human, AssumeRoleOf(kReaderArn, "s1")).code, "AccessDenied");
}

TEST_F(StsBrokerTest, RunKeyDiesWithItsRun) {
  RunRecord ended = NewRun();
  ASSERT_TRUE(broker_->EndRun(Caller::Admin(), ended.id).ok());
  EXPECT_EQ(ErrorCodeOf(RunKey(ended)), "InvalidClientTokenId");
  RunRecord revoked = NewRun();
  RevokeRequest revoke;
  revoke.run_id = revoked.id;
  ASSERT_TRUE(broker_->Revoke(Caller::Admin(), revoke).ok());
  EXPECT_EQ(ErrorCodeOf(RunKey(revoked)), "InvalidClientTokenId");
  RunRecord expiring = NewRun(60);
  EXPECT_EQ(ErrorCodeOf(RunKey(expiring)), "ok");
  now_ += 60;
  EXPECT_EQ(ErrorCodeOf(RunKey(expiring)), "ExpiredToken");
  // A run key is no bearer credential for the JSON API.
  EXPECT_FALSE(
      broker_->Authenticate("Bearer " + expiring.access_key_id + ":" + expiring.secret_access_key)
          .ok());
}

TEST_F(StsBrokerTest, AssumeRoleBindsTheSessionToTheRun) {
  RunRecord run = NewRun();
  std::string session_id;
  sts::AssumeRoleResult result = AssumeOk(RunKey(run), AssumeRoleOf(kReaderArn, "s1"), &session_id);
  EXPECT_THAT(result.access_key_id, StartsWith("ASIA"));
  EXPECT_EQ(result.assumed_role_arn, "arn:aws:sts::111122223333:assumed-role/reader/s1");
  EXPECT_THAT(result.assumed_role_id, StartsWith("AROA"));
  EXPECT_EQ(result.expiration, "2030-03-17T18:01:40Z");  // the default 900 s
  EXPECT_FALSE(result.packed_policy_size.has_value());
  auto session = broker_->GetSession(Caller::Admin(), session_id);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->run_id, run.id);
  // The session's own credentials identify the assumed role.
  auto principal = Authenticate(SessionKey(result));
  ASSERT_TRUE(principal.ok()) << principal.error().message;
  EXPECT_EQ(principal->identity.arn, result.assumed_role_arn);
  EXPECT_EQ(principal->identity.user_id, result.assumed_role_id);
  // An unknown role: AWS's message.
  EXPECT_EQ(
      AssumeFails(RunKey(run), AssumeRoleOf("arn:aws:iam::111122223333:role/nope", "s1")).message,
      "User: arn:aws:iam::111122223333:user/xrole/agent/worker is not authorized to "
      "perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/nope");
  // Duration: clamped to the role's hour.
  auto longer = AssumeRoleOf(kReaderArn, "s2");
  longer.duration_seconds = 43200;
  EXPECT_EQ(AssumeOk(RunKey(run), longer).expiration, "2030-03-17T18:46:40Z");
}

TEST_F(StsBrokerTest, SessionKeysNeedTheirOwnLiveToken) {
  RunRecord run = NewRun();
  sts::AssumeRoleResult first = AssumeOk(RunKey(run), AssumeRoleOf(kReaderArn, "s1"));
  sts::AssumeRoleResult second = AssumeOk(RunKey(run), AssumeRoleOf(kReaderArn, "s2"));
  Key key = SessionKey(first);
  EXPECT_EQ(ErrorCodeOf(key), "ok");
  EXPECT_EQ(ErrorCodeOf({key.access_key_id, key.secret, ""}), "InvalidClientTokenId");
  EXPECT_EQ(ErrorCodeOf({key.access_key_id, key.secret, second.session_token}),
            "InvalidClientTokenId");
  now_ += 900;
  EXPECT_EQ(ErrorCodeOf(key), "ExpiredToken");
}

TEST_F(StsBrokerTest, RevokedSessionsAndEndedRunsAreInvalid) {
  RunRecord run = NewRun();
  std::string session_id;
  Key session = SessionKey(AssumeOk(RunKey(run), AssumeRoleOf(kReaderArn, "s1"), &session_id));
  RevokeRequest revoke;
  revoke.session_id = session_id;
  ASSERT_TRUE(broker_->Revoke(Caller::Admin(), revoke).ok());
  auto refused = Authenticate(session);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "InvalidClientTokenId");
  EXPECT_THAT(refused.error().message, HasSubstr("revoked"));
  Key other = SessionKey(AssumeOk(RunKey(run), AssumeRoleOf(kReaderArn, "s2")));
  ASSERT_TRUE(broker_->EndRun(Caller::Admin(), run.id).ok());
  EXPECT_EQ(ErrorCodeOf(other), "InvalidClientTokenId");
}

TEST_F(StsBrokerTest, OffboardedAgentSignsNothingEvenOnceRegisteredAgain) {
  RunRecord run = NewRun();
  Key session = SessionKey(AssumeOk(RunKey(run), AssumeRoleOf(kReaderArn, "s1")));
  auto issued = broker_->IssueKey(Caller::Admin(), "agent", "worker", false);
  ASSERT_TRUE(issued.ok());
  Key agent_key{issued->access_key_id, issued->secret_access_key, ""};
  EXPECT_EQ(ErrorCodeOf(agent_key), "ok");

  OffboardRequest offboard;
  offboard.kind = "agent";
  offboard.name = "worker";
  auto offboarded = broker_->Offboard(Caller::Admin(), offboard);
  ASSERT_TRUE(offboarded.ok()) << offboarded.error().ToString();
  for (const Key& key : {RunKey(run), agent_key, session}) {
    EXPECT_EQ(ErrorCodeOf(key), "InvalidClientTokenId") << key.access_key_id;
  }

  // The same agent applied again is a new principal: none of the old keys sign for it.
  auto docs = ParseObjectDocuments(R"(apiVersion: xrole/v1
kind: Agent
metadata: {name: worker}
spec: {tags: {tier: gold}}
)",
                                   "test.yaml");
  ASSERT_TRUE(docs.ok());
  ASSERT_TRUE(broker_->Apply(Caller::Admin(), *docs, {}, false).ok());
  for (const Key& key : {RunKey(run), agent_key, session}) {
    EXPECT_EQ(ErrorCodeOf(key), "InvalidClientTokenId") << key.access_key_id;
  }
  RunRecord fresh = NewRun();
  AssumeOk(RunKey(fresh), AssumeRoleOf(kReaderArn, "s2"));
}

TEST_F(StsBrokerTest, ApprovalIsFoundForTheSameCallAndUsedOnce) {
  RunRecord run = NewRun();
  auto request = AssumeRoleOf(kGatedArn, "deploy-1");
  sts::StsError pending = AssumeFails(RunKey(run), request);
  EXPECT_EQ(pending.code, "AccessDenied");
  EXPECT_THAT(pending.message, HasSubstr("must be approved"));
  std::vector<Approval> approvals = broker_->ListApprovals(Caller::Admin(), true);
  ASSERT_EQ(approvals.size(), 1u);
  const std::string approval_id = approvals.front().id;
  EXPECT_THAT(pending.message, HasSubstr(approval_id));
  // Asking again before the decision opens no second request.
  EXPECT_THAT(AssumeFails(RunKey(run), request).message, HasSubstr(approval_id));
  EXPECT_EQ(broker_->ListApprovals(Caller::Admin(), true).size(), 1u);
  ASSERT_TRUE(broker_->DecideApproval(Caller::OfHuman("bob"), approval_id, true, "ok").ok());
  // A different request (duration) is not covered.
  auto different = request;
  different.duration_seconds = 1800;
  EXPECT_THAT(AssumeFails(RunKey(run), different).message, Not(HasSubstr(approval_id)));
  AssumeOk(RunKey(run), request);
  EXPECT_THAT(AssumeFails(RunKey(run), request).message, Not(HasSubstr(approval_id)));
}

TEST_F(StsBrokerTest, SessionPolicyAndTagsArePackedWithinTheLimit) {
  RunRecord run = NewRun();
  auto request = AssumeRoleOf(kReaderArn, "s1");
  request.policy = R"({ "Version": "2012-10-17",
      "Statement": [ { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } ] })";
  request.tags = {{"project", "apollo"}};
  sts::AssumeRoleResult result = AssumeOk(RunKey(run), request);
  // 96 bytes of compact policy and 13 of tags, 109 of 10240: 2% (rounded up).
  EXPECT_EQ(result.packed_policy_size, 2);
  request.policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"*"}]})";
  EXPECT_EQ(AssumeFails(RunKey(run), request).code, "MalformedPolicyDocument");
  request.policy.reset();
  request.tags = {{"big", std::string(256, 'v')}};
  for (int i = 0; i < 40; ++i)
    request.tags.push_back({"k" + std::to_string(i), std::string(256, 'v')});
  EXPECT_EQ(AssumeFails(RunKey(run), request).code, "PackedPolicyTooLarge");
  request.tags = {};
  request.policy_arns = {"arn:aws:iam::aws:policy/ReadOnlyAccess"};
  sts::StsError arns = AssumeFails(RunKey(run), request);
  EXPECT_EQ(arns.code, "ValidationError");
  EXPECT_THAT(arns.message, HasSubstr("arn:aws:iam::aws:policy/ReadOnlyAccess` does not exist"));
}

TEST_F(StsBrokerTest, AgentKeyNamesItsRun) {
  auto issued = broker_->IssueKey(Caller::Admin(), "agent", "worker", false);
  ASSERT_TRUE(issued.ok());
  Key agent{issued->access_key_id, issued->secret_access_key, ""};
  auto request = AssumeRoleOf(kReaderArn, "s1");
  EXPECT_THAT(AssumeFails(agent, request).message, HasSubstr("0 active runs"));
  RunRecord only = NewRun();
  std::string session_id;
  AssumeOk(agent, request, &session_id);
  EXPECT_EQ(broker_->GetSession(Caller::Admin(), session_id)->run_id, only.id);
  RunRecord second = NewRun();
  EXPECT_EQ(AssumeFails(agent, request).code, "ValidationError");
  request.tags = {{"xrole:run", second.id}, {"step", "two"}};
  AssumeOk(agent, request, &session_id);
  auto session = broker_->GetSession(Caller::Admin(), session_id);
  EXPECT_EQ(session->run_id, second.id);
  EXPECT_EQ(session->tags, (std::map<std::string, std::string>{{"step", "two"}}));
  // A run key is bound to its own run.
  request.tags = {{"xrole:run", second.id}};
  EXPECT_EQ(AssumeFails(RunKey(only), request).code, "ValidationError");
}

TEST_F(StsBrokerTest, ChainingKeepsTransitiveTagsAndExternalIdIsATrustKey) {
  RunRecord run = NewRun();
  auto request = AssumeRoleOf(kReaderArn, "s1");
  request.external_id = "wrong";
  EXPECT_EQ(AssumeFails(RunKey(run), request).code, "AccessDenied");
  request.external_id = "ext-7";
  request.tags = {{"project", "apollo"}, {"ticket", "T-1"}};
  request.transitive_tag_keys = {"project"};
  request.source_identity = "agent-7";
  std::string parent_id;
  sts::AssumeRoleResult parent = AssumeOk(RunKey(run), request, &parent_id);
  EXPECT_EQ(parent.source_identity, "agent-7");
  std::string child_id;
  sts::AssumeRoleResult child =
      AssumeOk(SessionKey(parent), AssumeRoleOf(kChainedArn, "c1"), &child_id);
  EXPECT_EQ(child.assumed_role_arn, "arn:aws:sts::111122223333:assumed-role/chained/c1");
  auto record = broker_->GetSession(Caller::Admin(), child_id);
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(record->chained);
  EXPECT_EQ(record->parent_session_id, parent_id);
  EXPECT_EQ(record->run_id, run.id);
  EXPECT_EQ(record->transitive_tag_keys, std::vector<std::string>{"project"});
  EXPECT_EQ(record->tags.at("project"), "apollo");
  EXPECT_EQ(record->source_identity, "agent-7");
}

}  // namespace
}  // namespace xrole::session
