// Unit tests of the compiled evaluator (evaluator.cc, compiler.cc): one focused group per step of
// docs/evaluation-logic.md and the cross-policy edge cases E45-E70 of iam-semantics.md. Every
// decision is also checked against the index-free scan (use_index=false), the explain mode and
// the reference evaluator.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "policy/compiled_policy_set.h"
#include "policy/compiler.h"
#include "xrole/policy.h"

namespace xrole::policy {
namespace {

constexpr char kAccountA[] = "111122223333";
constexpr char kRole[] = "arn:aws:iam::111122223333:role/app/agent-runner";
constexpr char kSession[] = "arn:aws:sts::111122223333:assumed-role/agent-runner/run-42";
constexpr char kAlice[] = "arn:aws:iam::111122223333:user/alice";
constexpr char kBob[] = "arn:aws:iam::111122223333:user/bob";
constexpr char kRootA[] = "arn:aws:iam::111122223333:root";
constexpr char kSessionB[] = "arn:aws:sts::444455556666:assumed-role/builder/b-1";
constexpr char kRoleB[] = "arn:aws:iam::444455556666:role/builder";

// A document from statements: `Doc(R"({"Effect":"Allow",...})")`.
std::string Doc(const std::string& statements) {
  return R"({"Version":"2012-10-17","Statement":[)" + statements + "]}";
}

Policy P(const std::string& json, PolicyKind kind, std::string name = "") {
  Result<Policy> policy = ParsePolicy(json, kind, name);
  if (!policy.ok()) {
    ADD_FAILURE() << "policy does not parse: " << policy.error().ToString() << "\n" << json;
    return Policy(std::make_shared<PolicyDocument>(), name);
  }
  return *policy;
}

Policy Identity(const std::string& statements, std::string name = "") {
  return P(Doc(statements), PolicyKind::kIdentity, std::move(name));
}
Policy Resource(const std::string& statements) { return P(Doc(statements), PolicyKind::kResource); }
Policy Trust(const std::string& statements) { return P(Doc(statements), PolicyKind::kTrust); }
Policy Boundary(const std::string& statements) { return P(Doc(statements), PolicyKind::kBoundary); }
Policy Session(const std::string& statements) { return P(Doc(statements), PolicyKind::kSession); }
Policy Scp(const std::string& statements) { return P(Doc(statements), PolicyKind::kScp); }
Policy Rcp(const std::string& statements) { return P(Doc(statements), PolicyKind::kRcp); }

const char kAllowAll[] = R"({"Effect":"Allow","Action":"*","Resource":"*"})";
const char kAllowS3[] = R"({"Effect":"Allow","Action":"s3:*","Resource":"*"})";

Request Req(std::string principal, std::string action, std::string resource) {
  Request r;
  r.principal = std::move(principal);
  r.action = std::move(action);
  r.resource = std::move(resource);
  if (r.principal == kSession) r.context.Set("aws:PrincipalArn", ContextValue::Scalar(kRole));
  return r;
}

std::string Describe(const EvaluationResult& r) {
  std::string out = std::string(DecisionName(r.decision));
  if (r.decision == Decision::kImplicitlyDenied) out += "/" + std::string(LayerName(r.denied_by));
  for (const Reason& reason : r.reasons) {
    out += " " + reason.policy + "#" + std::to_string(reason.statement) + ":" +
           std::string(EffectName(reason.effect));
  }
  return out;
}

// Evaluates `request` every way there is and insists they agree; returns the indexed result.
EvaluationResult Eval(const PolicySet& set, const Request& request,
                      const Semantics& semantics = {}) {
  Result<std::shared_ptr<const CompiledPolicySet>> compiled = Compile(set, semantics);
  EXPECT_TRUE(compiled.ok());
  if (!compiled.ok()) return {};
  EvaluationResult indexed = Evaluate(**compiled, request);
  EvaluationResult scanned = Evaluate(**compiled, request, {.explain = false, .use_index = false});
  EvaluationResult explained = Evaluate(**compiled, request, {.explain = true, .use_index = true});
  EvaluationResult reference = EvaluateReference(set, request, semantics);
  EXPECT_EQ(Describe(indexed), Describe(scanned)) << "use_index=false disagrees";
  EXPECT_EQ(Describe(indexed), Describe(explained)) << "explain disagrees";
  EXPECT_EQ(Describe(indexed), Describe(reference)) << "reference evaluator disagrees";
  EXPECT_EQ(indexed.reasons, scanned.reasons);
  EXPECT_FALSE(explained.explanation.empty());
  EXPECT_TRUE(indexed.explanation.empty());
  return indexed;
}

Decision D(const PolicySet& set, const Request& request, const Semantics& semantics = {}) {
  return Eval(set, request, semantics).decision;
}

// ---- Actions and the index ----

TEST(EvaluatorTest, ActionCaseAndWildcards) {
  PolicySet set;
  set.identity = {Identity(R"({"Effect":"Allow","Action":"S3:getobject","Resource":"*"},
                              {"Effect":"Allow","Action":"s3:List?ucket","Resource":"*"},
                              {"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"})")};
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "S3:GETOBJECT", "arn:aws:s3:::b/k")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "s3:ListBucket", "arn:aws:s3:::b")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "s3:ListBuckets", "arn:aws:s3:::b")), Decision::kImplicitlyDenied);
  EXPECT_EQ(D(set, Req(kAlice, "ec2:DescribeInstances", "*")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "ec2:Describe", "*")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "ec2:RunInstances", "*")), Decision::kImplicitlyDenied);
  EXPECT_EQ(D(set, Req(kAlice, "s3getobject", "*")), Decision::kImplicitlyDenied);
}

TEST(EvaluatorTest, E3NoTrimmingAndNotActionReachesEverything) {
  PolicySet literal;
  literal.identity = {Identity(R"({"Effect":"Allow","Action":["s3:GetObject ",
      "s3:GetObject,s3:PutObject"],"Resource":"*"})")};
  EXPECT_EQ(D(literal, Req(kAlice, "s3:GetObject", "*")), Decision::kImplicitlyDenied);
  PolicySet not_action;
  not_action.identity = {Identity(R"({"Effect":"Allow","NotAction":"iam:*","Resource":"*"})")};
  EXPECT_EQ(D(not_action, Req(kAlice, "sts:AssumeRole", kRole)), Decision::kAllowed);
  EXPECT_EQ(D(not_action, Req(kAlice, "organizations:LeaveOrganization", "*")), Decision::kAllowed);
  EXPECT_EQ(D(not_action, Req(kAlice, "iam:CreateUser", "*")), Decision::kImplicitlyDenied);
}

TEST(EvaluatorTest, E5NotActionScopedByResource) {
  PolicySet set;
  set.identity = {
      Identity(R"({"Effect":"Allow","NotAction":"s3:DeleteBucket","Resource":"arn:aws:s3:::*"})")};
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "s3:ListAllMyBuckets", "*")), Decision::kAllowed);
  EXPECT_EQ(
      D(set, Req(kAlice, "ec2:StartInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-1")),
      Decision::kImplicitlyDenied);
  EXPECT_EQ(D(set, Req(kAlice, "s3:DeleteBucket", "arn:aws:s3:::b")), Decision::kImplicitlyDenied);
}

TEST(EvaluatorTest, E10E12NotResourceDenies) {
  PolicySet set;
  set.identity = {Identity(std::string(kAllowS3) + R"(,
      {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::hr","arn:aws:s3:::hr/*"]})")};
  EXPECT_EQ(D(set, Req(kAlice, "s3:ListAllMyBuckets", "*")), Decision::kExplicitlyDenied);
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::hr/x")), Decision::kAllowed);

  PolicySet unresolved;
  unresolved.identity = {Identity(std::string(kAllowS3) + R"(,
      {"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"})")};
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::home/agent-runner/x");
  EXPECT_EQ(D(unresolved, request), Decision::kExplicitlyDenied);
  Semantics oracle;
  oracle.unresolved_not_resource_never_applies = true;
  EXPECT_EQ(D(unresolved, request, oracle), Decision::kAllowed);
}

TEST(EvaluatorTest, E13ResourceVariables) {
  PolicySet set;
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"})")};
  Request alice = Req(kAlice, "s3:GetObject", "arn:aws:s3:::home/alice/x");
  alice.context.Set("aws:username", ContextValue::Scalar("alice"));
  EXPECT_EQ(D(set, alice), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::home/alice/x")),
            Decision::kImplicitlyDenied);
}

// ---- Step 1: explicit deny, across every layer ----

TEST(EvaluatorTest, ExplicitDenyListsEveryApplicableDenyInLayerOrder) {
  PolicySet set;
  const std::string deny = R"({"Sid":"D","Effect":"Deny","Action":"s3:GetObject","Resource":"*"})";
  const std::string deny_p =
      R"({"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"})";
  set.identity = {Identity(std::string(kAllowAll) + "," + deny, "admin"), Identity(kAllowS3)};
  set.boundaries = {Boundary(std::string(kAllowAll) + "," + deny)};
  set.session = {Session(deny + "," + kAllowAll)};
  set.resource = Resource(deny_p);
  set.scps = std::vector<std::vector<Policy>>{{Scp(kAllowAll)}, {Scp(kAllowAll), Scp(deny)}};
  set.rcps = std::vector<std::vector<Policy>>{{Rcp(deny_p)}};
  EvaluationResult r = Eval(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k"));
  ASSERT_EQ(r.decision, Decision::kExplicitlyDenied);
  std::vector<std::string> labels;
  for (const Reason& reason : r.reasons) {
    labels.push_back(reason.policy + "#" + std::to_string(reason.statement));
    EXPECT_EQ(reason.effect, Effect::kDeny);
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"rcp[0][0]#0", "scp[1][1]#0", "resource#0",
                                              "identity[0]#1", "boundary[0]#1", "session[0]#0"}));
  EXPECT_EQ(r.reasons[3].layer, Layer::kIdentity);
  EXPECT_EQ(r.reasons[3].name, "admin");
  EXPECT_EQ(r.reasons[3].sid, "D");
  EXPECT_EQ(r.reasons[0].layer, Layer::kRcp);
}

TEST(EvaluatorTest, E20MissingKeyNegatedDenyFires) {
  PolicySet set;
  set.identity = {Identity(std::string(kAllowS3) + R"(,
      {"Effect":"Deny","Action":"s3:*","Resource":"*",
       "Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"blue"}}})")};
  Request untagged = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_EQ(D(set, untagged), Decision::kExplicitlyDenied);
  Request blue = untagged;
  blue.context.Set("aws:PrincipalTag/team", ContextValue::Scalar("blue"));
  EXPECT_EQ(D(set, blue), Decision::kAllowed);
}

TEST(EvaluatorTest, E23ConditionsAndAcrossKeysAndOperators) {
  PolicySet set;
  set.identity = {Identity(R"({"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
      "Condition":{"StringEquals":{"aws:PrincipalTag/dept":["hr","legal"],
                                  "aws:PrincipalTag/level":"senior"},
                   "Bool":{"aws:SecureTransport":"true"}}})")};
  Request r = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  r.context.Set("aws:PrincipalTag/dept", ContextValue::Scalar("legal"));
  r.context.Set("aws:SecureTransport", ContextValue::Scalar("true"));
  EXPECT_EQ(D(set, r), Decision::kImplicitlyDenied);
  r.context.Set("aws:PrincipalTag/level", ContextValue::Scalar("senior"));
  EXPECT_EQ(D(set, r), Decision::kAllowed);
  r.context.Set("aws:SecureTransport", ContextValue::Scalar("false"));
  EXPECT_EQ(D(set, r), Decision::kImplicitlyDenied);
}

TEST(EvaluatorTest, E51ResourcePolicyDenyWins) {
  PolicySet set;
  set.identity = {Identity(kAllowAll)};
  set.resource = Resource(R"({"Effect":"Deny","Principal":"*","Action":"s3:*",
      "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
      "Condition":{"Bool":{"aws:SecureTransport":"false"}}})");
  Request r = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  r.context.Set("aws:SecureTransport", ContextValue::Scalar("false"));
  EXPECT_EQ(D(set, r), Decision::kExplicitlyDenied);
  r.context.Set("aws:SecureTransport", ContextValue::Scalar("true"));
  EXPECT_EQ(D(set, r), Decision::kAllowed);
}

// ---- Steps 2 and 3: RCPs and SCPs ----

TEST(EvaluatorTest, E57ScpLevelsAreAnded) {
  PolicySet set;
  set.identity = {Identity(kAllowS3)};
  set.scps = std::vector<std::vector<Policy>>{
      {Scp(kAllowAll)},
      {Scp(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")},
      {Scp(kAllowAll)}};
  EvaluationResult r = Eval(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k"));
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kScp);
  EXPECT_TRUE(r.reasons.empty());
  // An empty level allows nothing either.
  set.scps = std::vector<std::vector<Policy>>{{Scp(kAllowAll)}, {}};
  EXPECT_EQ(Eval(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k")).denied_by, Layer::kScp);
  // Every level allows: the SCP allows are reasons too.
  set.scps = std::vector<std::vector<Policy>>{{Scp(kAllowAll)}, {Scp(kAllowS3)}};
  r = Eval(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k"));
  ASSERT_EQ(r.decision, Decision::kAllowed);
  ASSERT_EQ(r.reasons.size(), 3u);
  EXPECT_EQ(r.reasons[0].policy, "scp[0][0]");
  EXPECT_EQ(r.reasons[1].policy, "scp[1][0]");
  EXPECT_EQ(r.reasons[2].policy, "identity[0]");
}

TEST(EvaluatorTest, E58ScpRegionGuardrail) {
  PolicySet set;
  set.identity = {Identity(kAllowAll)};
  set.scps = std::vector<std::vector<Policy>>{{Scp(std::string(kAllowAll) + R"(,
      {"Effect":"Deny","NotAction":["iam:*","sts:*","organizations:*","support:*"],
       "Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1"]}}})")}};
  auto req = [](const char* action, const char* region) {
    Request r = Req(kAlice, action, "*");
    r.context.Set("aws:RequestedRegion", ContextValue::Scalar(region));
    return r;
  };
  EXPECT_EQ(D(set, req("iam:ListRoles", "us-east-1")), Decision::kAllowed);
  EXPECT_EQ(D(set, req("ec2:RunInstances", "us-east-1")), Decision::kExplicitlyDenied);
  EXPECT_EQ(D(set, req("ec2:RunInstances", "eu-west-1")), Decision::kAllowed);
}

TEST(EvaluatorTest, ScpsDoNotApplyToServicePrincipals) {
  PolicySet set;
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"s3:GetObject","Resource":"*"})");
  set.scps =
      std::vector<std::vector<Policy>>{{Scp(R"({"Effect":"Deny","Action":"*","Resource":"*"})")}};
  EXPECT_EQ(D(set, Req("lambda.amazonaws.com", "s3:GetObject", "arn:aws:s3:::b/k")),
            Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k")), Decision::kExplicitlyDenied);
}

TEST(EvaluatorTest, RcpsDenyAndEveryLevelMustAllow) {
  PolicySet set;
  set.identity = {Identity(kAllowAll)};
  const std::string perimeter = R"({"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",
      "Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-abc"},
                   "Bool":{"aws:PrincipalIsAWSService":"false"}}})";
  set.rcps = std::vector<std::vector<Policy>>{
      {Rcp(R"({"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"})")},
      {Rcp(R"({"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"})" + std::string(",") +
           perimeter)}};
  Request outsider = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  outsider.context.Set("aws:PrincipalOrgID", ContextValue::Scalar("o-xyz"));
  outsider.context.Set("aws:PrincipalIsAWSService", ContextValue::Scalar("false"));
  EXPECT_EQ(D(set, outsider), Decision::kExplicitlyDenied);
  Request insider = outsider;
  insider.context.Set("aws:PrincipalOrgID", ContextValue::Scalar("o-abc"));
  EXPECT_EQ(D(set, insider), Decision::kAllowed);

  // A level without an applicable Allow: implicit deny by rcp.
  set.rcps = std::vector<std::vector<Policy>>{
      {Rcp(R"({"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"})")}};
  EvaluationResult r = Eval(set, insider);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kRcp);
}

TEST(EvaluatorTest, RcpsOnlyForSupportedServices) {
  PolicySet set;
  set.identity = {Identity(kAllowAll)};
  set.rcps = std::vector<std::vector<Policy>>{
      {Rcp(R"({"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"})")}};
  const Request ec2 =
      Req(kAlice, "ec2:StartInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-1");
  EXPECT_EQ(D(set, ec2), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k")), Decision::kExplicitlyDenied);
  EXPECT_EQ(D(set, ec2, Semantics::OracleCompatible()), Decision::kExplicitlyDenied);
}

// ---- Step 4: callers without principal-side policies ----

TEST(EvaluatorTest, ServiceAndAnonymousCallersNeedTheResourcePolicy) {
  PolicySet set;
  set.identity = {Identity(R"({"Effect":"Deny","Action":"*","Resource":"*"})")};
  EXPECT_EQ(D(set, Req("lambda.amazonaws.com", "s3:GetObject", "arn:aws:s3:::b/k")),
            Decision::kImplicitlyDenied);
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})");
  EvaluationResult r = Eval(set, Req("", "s3:GetObject", "arn:aws:s3:::b/k"));
  EXPECT_EQ(r.decision, Decision::kAllowed);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0].layer, Layer::kResource);
  r = Eval(set, Req("anonymous", "s3:PutObject", "arn:aws:s3:::b/k"));
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kResource);
}

// ---- Step 5: cross-account ----

TEST(EvaluatorTest, E50CrossAccountNeedsBothSides) {
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  Request cross = request;
  cross.resource_account = "444455556666";
  const std::string bucket =
      R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},
      "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})";
  PolicySet resource_only;
  resource_only.resource = Resource(bucket);
  EvaluationResult r = Eval(resource_only, cross);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kIdentity);

  PolicySet identity_only;
  identity_only.identity = {Identity(kAllowS3)};
  r = Eval(identity_only, cross);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kResource);
  EXPECT_EQ(D(identity_only, request), Decision::kAllowed);  // same account: identity suffices

  PolicySet both = identity_only;
  both.resource = Resource(bucket);
  r = Eval(both, cross);
  EXPECT_EQ(r.decision, Decision::kAllowed);
  ASSERT_EQ(r.reasons.size(), 2u);
  EXPECT_EQ(r.reasons[0].layer, Layer::kResource);
  EXPECT_EQ(r.reasons[1].layer, Layer::kIdentity);

  // A grant naming the exact session does not remove the need for an identity allow.
  PolicySet direct;
  direct.resource = Resource(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kSession +
                             R"("},"Action":"s3:GetObject","Resource":"*"})");
  EXPECT_EQ(Eval(direct, cross).denied_by, Layer::kIdentity);

  // Boundary and session checks apply on the caller's side.
  both.boundaries = {Boundary(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")};
  EXPECT_EQ(Eval(both, cross).denied_by, Layer::kBoundary);
  both.boundaries = {Boundary(kAllowAll)};
  both.session = {Session(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")};
  EXPECT_EQ(Eval(both, cross).denied_by, Layer::kSession);
}

TEST(EvaluatorTest, CrossAccountByArnAccountField) {
  PolicySet set;
  set.identity = {Identity(kAllowAll)};
  // The SQS ARN names account B: cross-account without a queue policy.
  EXPECT_EQ(
      Eval(set, Req(kAlice, "sqs:SendMessage", "arn:aws:sqs:us-east-1:444455556666:q")).denied_by,
      Layer::kResource);
  set.resource = Resource(R"({"Effect":"Allow","Principal":{"AWS":")" + std::string(kAlice) +
                          R"("},"Action":"sqs:*","Resource":"*"})");
  EXPECT_EQ(D(set, Req(kAlice, "sqs:SendMessage", "arn:aws:sqs:us-east-1:444455556666:q")),
            Decision::kAllowed);
  // A caller from account B reaching into account A.
  PolicySet b;
  b.identity = {Identity(kAllowAll)};
  b.resource = Resource(R"({"Effect":"Allow","Principal":{"AWS":")" + std::string(kRoleB) +
                        R"("},"Action":"sqs:*","Resource":"*"})");
  Request from_b = Req(kSessionB, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q");
  EXPECT_EQ(D(b, from_b), Decision::kAllowed);
}

// ---- Step 6: root ----

TEST(EvaluatorTest, RootInItsOwnAccount) {
  PolicySet set;
  EXPECT_EQ(D(set, Req(kRootA, "s3:DeleteBucket", "arn:aws:s3:::b")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kAccountA, "ec2:RunInstances", "*")), Decision::kAllowed);
  // Explicit-trust resource: the key policy must trust the account.
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"})");
  const char kKey[] = "arn:aws:kms:us-east-1:111122223333:key/k-1";
  EvaluationResult r = Eval(set, Req(kRootA, "kms:Decrypt", kKey));
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kResource);
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"})");
  EXPECT_EQ(D(set, Req(kRootA, "kms:Decrypt", kKey)), Decision::kAllowed);
  // SCPs still restrict a member account's root user.
  set.scps = std::vector<std::vector<Policy>>{
      {Scp(R"({"Effect":"Allow","Action":"s3:*","Resource":"*"})")}};
  EXPECT_EQ(Eval(set, Req(kRootA, "kms:Decrypt", kKey)).denied_by, Layer::kScp);
}

TEST(EvaluatorTest, RootWithoutImplicitFullAccess) {
  Semantics oracle;
  oracle.root_has_implicit_full_access = false;
  PolicySet set;
  // Boundaries and session policies never apply to the root user.
  set.boundaries = {Boundary(R"({"Effect":"Deny","Action":"*","Resource":"*"})")};
  const Request request = Req(kRootA, "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  EvaluationResult r = Eval(set, request, oracle);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kIdentity);
  set.identity = {Identity(kAllowS3)};
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
}

TEST(EvaluatorTest, KmsKeyWithoutKeyPolicy) {
  PolicySet set;
  set.identity = {Identity(R"({"Effect":"Allow","Action":"kms:*","Resource":"*"})")};
  const Request request =
      Req(kSession, "kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k-1");
  EXPECT_EQ(D(set, request), Decision::kAllowed);  // no key policy given: it does not apply
  Semantics oracle;
  oracle.kms_key_without_key_policy_denies = true;
  EXPECT_EQ(Eval(set, request, oracle).denied_by, Layer::kResource);
}

// ---- Step 7: same account ----

TEST(EvaluatorTest, E46AccountPrincipalDoesNotGrantByItself) {
  PolicySet set;
  set.resource = Resource(R"({"Effect":"Allow","Principal":{"AWS":"111122223333"},
      "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})");
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  EvaluationResult r = Eval(set, request);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kIdentity);
  set.identity = {Identity(kAllowS3)};
  EXPECT_EQ(D(set, request), Decision::kAllowed);
}

TEST(EvaluatorTest, E47DirectUserGrantIgnoresBoundary) {
  PolicySet set;
  set.resource = Resource(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kAlice +
                          R"("},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})");
  const Request request = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  set.boundaries = {Boundary(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")};
  EvaluationResult r = Eval(set, request);
  EXPECT_EQ(r.decision, Decision::kAllowed);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0].policy, "resource");
}

TEST(EvaluatorTest, E48RoleGrantVsSessionGrantUnderBoundary) {
  PolicySet set;
  set.boundaries = {Boundary(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")};
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  set.resource = Resource(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kRole +
                          R"("},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})");
  EvaluationResult r = Eval(set, request);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kBoundary);
  set.resource = Resource(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kSession +
                          R"("},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})");
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  // Without a boundary the role grant alone suffices (no identity allow needed).
  set.boundaries.clear();
  set.resource = Resource(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kRole +
                          R"("},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})");
  EXPECT_EQ(D(set, request), Decision::kAllowed);
}

TEST(EvaluatorTest, E49WildcardPrincipalWithPrincipalArnBypassesBoundary) {
  PolicySet set;
  set.boundaries = {Boundary(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")};
  set.session = {Session(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")};
  set.resource = Resource(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
      "Resource":"arn:aws:s3:::b/*",
      "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app/*"}}})");
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  // With the oracle's semantics the session policy still limits the grant.
  Semantics oracle;
  oracle.direct_resource_grant_bypasses_session_policy = false;
  EvaluationResult r = Eval(set, request, oracle);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kSession);
  // The condition fails for another role: nothing grants.
  Request other = request;
  other.context.Set("aws:PrincipalArn",
                    ContextValue::Scalar("arn:aws:iam::111122223333:role/other"));
  EXPECT_EQ(D(set, other), Decision::kImplicitlyDenied);
}

TEST(EvaluatorTest, E55E56SessionPolicies) {
  PolicySet set;
  set.identity = {Identity(kAllowS3)};
  set.session = {
      Session(R"({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})")};
  EXPECT_EQ(D(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k")), Decision::kAllowed);
  EvaluationResult r = Eval(set, Req(kSession, "s3:PutObject", "arn:aws:s3:::b/k"));
  EXPECT_EQ(r.denied_by, Layer::kSession);

  PolicySet grant;
  grant.session = {Session(R"({"Effect":"Allow","Action":"ec2:*","Resource":"*"})")};
  grant.resource = Resource(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kSession +
                            R"("},"Action":"s3:GetObject","Resource":"*"})");
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_EQ(D(grant, request), Decision::kAllowed);
  EXPECT_EQ(D(grant, request, Semantics::OracleCompatible()), Decision::kImplicitlyDenied);
  grant.resource = Resource(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kRole +
                            R"("},"Action":"s3:GetObject","Resource":"*"})");
  EXPECT_EQ(Eval(grant, request).denied_by, Layer::kSession);
}

TEST(EvaluatorTest, FederatedUserNeedsASessionPolicy) {
  PolicySet set;
  set.identity = {Identity(kAllowS3)};
  const Request request =
      Req("arn:aws:sts::111122223333:federated-user/carol", "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_EQ(Eval(set, request).denied_by, Layer::kSession);
  Semantics oracle;
  oracle.federated_user_requires_session_policy = false;
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
  set.session = {Session(kAllowAll)};
  EXPECT_EQ(D(set, request), Decision::kAllowed);
}

TEST(EvaluatorTest, E60KmsKeyPolicyMustOptInToIam) {
  PolicySet set;
  set.identity = {Identity(R"({"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"})")};
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"})");
  const Request request =
      Req(kSession, "kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k-1");
  EvaluationResult r = Eval(set, request);
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kResource);
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"},
         {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"})");
  r = Eval(set, request);
  EXPECT_EQ(r.decision, Decision::kAllowed);
  ASSERT_EQ(r.reasons.size(), 2u);
  EXPECT_EQ(r.reasons[0].statement, 1);
  EXPECT_EQ(r.reasons[1].layer, Layer::kIdentity);
  // An S3 bucket is not explicit-trust: the identity allow alone suffices.
  set.identity = {Identity(kAllowS3)};
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"s3:*","Resource":"*"})");
  EXPECT_EQ(D(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k")), Decision::kAllowed);
}

TEST(EvaluatorTest, E61E62TrustPolicies) {
  const std::string role = "arn:aws:iam::111122223333:role/target";
  PolicySet account;
  account.resource =
      Trust(R"({"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"})");
  EXPECT_EQ(Eval(account, Req(kBob, "sts:AssumeRole", role)).denied_by, Layer::kIdentity);
  account.identity = {Identity(R"({"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"})")};
  EXPECT_EQ(D(account, Req(kBob, "sts:AssumeRole", role)), Decision::kAllowed);

  PolicySet direct;
  direct.resource = Trust(std::string(R"({"Effect":"Allow","Principal":{"AWS":")") + kBob +
                          R"("},"Action":"sts:AssumeRole"})");
  EXPECT_EQ(D(direct, Req(kBob, "sts:AssumeRole", role)), Decision::kAllowed);
  // 4.4 note: a boundary that does not allow sts:AssumeRole still denies.
  direct.boundaries = {Boundary(R"({"Effect":"Allow","Action":"s3:*","Resource":"*"})")};
  EXPECT_EQ(Eval(direct, Req(kBob, "sts:AssumeRole", role)).denied_by, Layer::kBoundary);
  Semantics oracle;
  oracle.trust_direct_grant_needs_boundary = false;
  EXPECT_EQ(D(direct, Req(kBob, "sts:AssumeRole", role), oracle), Decision::kAllowed);

  // E62: no implicit self-trust; an identity allow does not help without account trust.
  direct.boundaries.clear();
  direct.identity = {Identity(R"({"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"})")};
  EvaluationResult r = Eval(direct, Req(kSession, "sts:AssumeRole", role));
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kResource);
}

TEST(EvaluatorTest, E52NotPrincipalAlwaysDeniesCallersWithABoundary) {
  PolicySet set;
  set.identity = {Identity(kAllowS3)};
  set.resource = Resource(std::string(R"({"Effect":"Deny","NotPrincipal":{"AWS":[")") + kSession +
                          R"(",")" + kRole + R"(","arn:aws:iam::111122223333:root"]},
      "Action":"s3:*","Resource":"*"})");
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  set.boundaries = {Boundary(kAllowS3)};
  EvaluationResult r = Eval(set, request);
  EXPECT_EQ(r.decision, Decision::kExplicitlyDenied);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0].layer, Layer::kResource);
}

TEST(EvaluatorTest, E53NotPrincipalMustListTheWholeChain) {
  PolicySet set;
  set.identity = {Identity(kAllowS3)};
  set.resource = Resource(std::string(R"({"Effect":"Deny","NotPrincipal":{"AWS":")") + kSession +
                          R"("},"Action":"s3:*","Resource":"*"},
      {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"})");
  Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  request.resource_account = "444455556666";
  EXPECT_EQ(D(set, request), Decision::kExplicitlyDenied);
  // 8.3 #13: a listed account exempts everyone in it under the oracle's semantics.
  set.resource =
      Resource(R"({"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob",
      "111122223333"]},"Action":"s3:*","Resource":"*"})");
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k")), Decision::kExplicitlyDenied);
  Semantics oracle;
  oracle.not_principal_exempts_any_match = true;
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k"), oracle), Decision::kAllowed);
}

TEST(EvaluatorTest, E54ResourceStatementWithoutPrincipalNeverApplies) {
  // Built directly: the parser rejects such a statement.
  auto doc = std::make_shared<PolicyDocument>();
  doc->kind = PolicyKind::kResource;
  doc->version = PolicyVersion::k2012;
  Statement st;
  st.effect = Effect::kAllow;
  st.actions = {"s3:*"};
  st.resources = std::vector<std::string>{"arn:aws:s3:::b/*"};
  doc->statements.push_back(st);
  PolicySet set;
  set.resource = Policy(doc, "bucket");
  EvaluationResult r = Eval(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k"));
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kIdentity);
}

// ---- Step 0 ----

TEST(EvaluatorTest, E70GetCallerIdentityIgnoresDenies) {
  PolicySet set;
  set.identity = {Identity(R"({"Effect":"Deny","Action":"sts:*","Resource":"*"})")};
  set.scps =
      std::vector<std::vector<Policy>>{{Scp(R"({"Effect":"Deny","Action":"*","Resource":"*"})")}};
  EvaluationResult r = Eval(set, Req(kSession, "sts:GetCallerIdentity", "*"));
  EXPECT_EQ(r.decision, Decision::kAllowed);
  EXPECT_TRUE(r.reasons.empty());
  EXPECT_EQ(D(set, Req(kSession, "STS:getcalleridentity", "*")), Decision::kAllowed);
  EXPECT_EQ(D(set, Req(kSession, "sts:GetSessionToken", "*")), Decision::kExplicitlyDenied);
  EXPECT_EQ(D(set, Req("anonymous", "sts:GetCallerIdentity", "*")), Decision::kImplicitlyDenied);
  EXPECT_EQ(D(set, Req("lambda.amazonaws.com", "sts:GetCallerIdentity", "*")), Decision::kAllowed);
}

// ---- Reasons, explain, index ----

TEST(EvaluatorTest, AllowedListsEveryApplicableAllowInOrder) {
  PolicySet set;
  set.identity = {Identity(R"({"Sid":"A","Effect":"Allow","Action":"s3:Get*","Resource":"*"},
                              {"Effect":"Allow","Action":"ec2:*","Resource":"*"},
                              {"Sid":"C","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})",
                           "reader"),
                  Identity(kAllowAll)};
  set.boundaries = {Boundary(kAllowS3)};
  EvaluationResult r = Eval(set, Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k"));
  ASSERT_EQ(r.decision, Decision::kAllowed);
  ASSERT_EQ(r.reasons.size(), 4u);
  EXPECT_EQ(r.reasons[0],
            (Reason{Layer::kIdentity, "identity[0]", "reader", 0, "A", Effect::kAllow}));
  EXPECT_EQ(r.reasons[1],
            (Reason{Layer::kIdentity, "identity[0]", "reader", 2, "C", Effect::kAllow}));
  EXPECT_EQ(r.reasons[2].policy, "identity[1]");
  EXPECT_EQ(r.reasons[3].policy, "boundary[0]");
}

TEST(EvaluatorTest, ExplainNamesLayersStatementsAndFailedConditions) {
  PolicySet set;
  set.identity = {
      Identity(R"({"Sid":"Tagged","Effect":"Allow","Action":"s3:GetObject","Resource":"*",
      "Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}})")};
  Request request = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  request.context.Set("aws:PrincipalTag/team", ContextValue::Scalar("red"));
  auto compiled = Compile(set);
  ASSERT_TRUE(compiled.ok());
  EvaluationResult r = Evaluate(**compiled, request, {.explain = true});
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  std::string all;
  for (const std::string& line : r.explanation) all += line + "\n";
  EXPECT_NE(all.find("identity[0] Statement[0] `Tagged` Allow: does not apply"), std::string::npos)
      << all;
  EXPECT_NE(all.find("`red`"), std::string::npos) << all;
  EXPECT_NE(all.find("step 7"), std::string::npos) << all;
  EXPECT_NE(all.find("ImplicitlyDenied (identity)"), std::string::npos) << all;
}

TEST(EvaluatorTest, IndexBuildsPerServiceBuckets) {
  PolicySet set;
  set.identity = {
      Identity(R"({"Effect":"Allow","Action":["s3:GetObject","S3:PutObject"],"Resource":"*"},
      {"Effect":"Allow","Action":"s3:*","Resource":"*"},
      {"Effect":"Allow","Action":"s3:Get*","Resource":"*"},
      {"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::secret/*"},
      {"Effect":"Deny","NotAction":"ec2:*","Resource":"arn:aws:s3:::x"},
      {"Effect":"Allow","Action":"nocolon","Resource":"*"},
      {"Effect":"Allow","Action":"S3:GET*","Resource":"arn:aws:s3:::secret/*"})")};
  auto compiled = Compile(set);
  ASSERT_TRUE(compiled.ok());
  const ActionIndex& index = (*compiled)->index();
  EXPECT_EQ(index.always, (std::vector<std::uint32_t>{3, 4}));
  ASSERT_EQ(index.services.count("s3"), 1u);
  const ActionIndex::Service& s3 = index.services.at("s3");
  ASSERT_EQ(s3.exact.count("getobject"), 1u);
  EXPECT_EQ(s3.exact.at("getobject"), (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(s3.exact.at("putobject"), (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(s3.any_name, (std::vector<std::uint32_t>{1}));
  ASSERT_EQ(s3.wildcards.size(), 1u);
  EXPECT_EQ(s3.wildcards[0].statements, (std::vector<std::uint32_t>{2, 6}));
  EXPECT_EQ(index.services.size(), 1u);
  // Equal Resource entries share one compiled pattern.
  EXPECT_EQ((*compiled)->resource_patterns().size(), 3u);  // "*", secret/*, x
  EXPECT_EQ((*compiled)->statements()[3].resources, (*compiled)->statements()[6].resources);
}

// Many statements over several services; the index and the full scan must agree everywhere.
TEST(EvaluatorTest, IndexAndScanAgreeOnALargeSet) {
  const std::vector<std::string> services = {"s3", "ec2", "iam", "sqs", "kms", "dynamodb"};
  const std::vector<std::string> verbs = {"Get", "Put", "List", "Delete", "Describe", "Create"};
  std::string statements;
  int n = 0;
  for (const std::string& service : services) {
    for (const std::string& verb : verbs) {
      for (int k = 0; k < 5; ++k) {
        if (n > 0) statements += ",";
        const bool deny = (n % 7) == 3;
        std::string action =
            service + ":" + verb + (k % 2 == 0 ? "Thing" + std::to_string(k) : "*");
        if (k == 4) action = service + ":*" + std::to_string(k);
        statements += std::string(R"({"Effect":")") + (deny ? "Deny" : "Allow") +
                      R"(","Action":")" + action + R"(","Resource":"arn:aws:)" + service +
                      ":*:111122223333:r" + std::to_string(n % 3) + R"(*"})";
        ++n;
      }
    }
  }
  statements +=
      R"(,{"Effect":"Deny","NotAction":["s3:*","ec2:*"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}})";
  PolicySet set;
  set.identity = {Identity(statements)};
  auto compiled = Compile(set);
  ASSERT_TRUE(compiled.ok());
  int checked = 0;
  for (const std::string& service : services) {
    for (const std::string& verb : verbs) {
      for (const char* suffix : {"Thing0", "Thing1", "Thing2", "Other", "4", ""}) {
        for (int r = 0; r < 3; ++r) {
          for (const char* transport : {"true", "false"}) {
            Request request =
                Req(kAlice, service + ":" + verb + suffix,
                    "arn:aws:" + service + ":us-east-1:111122223333:r" + std::to_string(r) + "x");
            request.context.Set("aws:SecureTransport", ContextValue::Scalar(transport));
            EvaluationResult a = Evaluate(**compiled, request);
            EvaluationResult b = Evaluate(**compiled, request, {.use_index = false});
            ASSERT_EQ(Describe(a), Describe(b)) << request.action << " " << request.resource;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 6 * 6 * 6 * 3 * 2);
}

TEST(EvaluatorTest, ConcurrentEvaluationIsSafe) {
  PolicySet set;
  set.identity = {Identity(std::string(kAllowS3) + R"(,
      {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"})")};
  auto compiled = Compile(set);
  ASSERT_TRUE(compiled.ok());
  std::shared_ptr<const CompiledPolicySet> shared = *compiled;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const bool del = (i + t) % 2 == 0;
        Request r = Req(kAlice, del ? "s3:DeleteObject" : "s3:GetObject", "arn:aws:s3:::b/k");
        const Decision want = del ? Decision::kExplicitlyDenied : Decision::kAllowed;
        if (Evaluate(*shared, r).decision != want) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(EvaluatorTest, SummarizeCallerAgreesWithParseCaller) {
  const std::vector<std::string> principals = {"",
                                               "*",
                                               "anonymous",
                                               "111122223333",
                                               "11112222333",
                                               "lambda.amazonaws.com",
                                               "nodots",
                                               kRootA,
                                               kAlice,
                                               kRole,
                                               kSession,
                                               kSessionB,
                                               "arn:aws:iam::111122223333:user/path/bob",
                                               "arn:aws:sts::111122223333:federated-user/carol",
                                               "arn:aws:sts::111122223333:assumed-role/r",
                                               "arn:aws:sts::111122223333:assumed-role/r/",
                                               "arn:aws:iam::111122223333:group/g",
                                               "arn:aws-cn:iam::111122223333:user/x",
                                               "arn:aws:s3:::bucket",
                                               "arn:aws:iam::111122223333",
                                               "ARN:aws:iam::111122223333:root",
                                               "arn:aws:IAM::111122223333:root",
                                               "a:b:c:d:e:f",
                                               "arn:aws:iam::111122223333:role/",
                                               "arn:aws:iam::111122223333:user/"};
  for (const std::string& principal : principals) {
    Request request;
    request.principal = principal;
    const Caller caller = ParseCaller(request);
    const CallerSummary summary = SummarizeCaller(principal);
    EXPECT_EQ(static_cast<int>(summary.kind), static_cast<int>(caller.kind)) << principal;
    EXPECT_EQ(summary.account, caller.account) << principal;
  }
}

// The prefilter is a necessary condition of ResourcePattern::Match: it never rejects a match.
TEST(EvaluatorTest, ResourcePrefilterNeverRejectsAMatch) {
  const std::vector<std::string> patterns = {"arn:aws:s3:::b/*",
                                             "ARN:AWS:S3:::b/*",
                                             "arn:aws:s3:::B/*",
                                             "arn:aws:sqs:*:111122223333:q-*",
                                             "arn:aws:logs:us-east-1:111122223333:log-group:app*",
                                             "arn:aws:ec2:*",
                                             "arn:aws:s3:::b",
                                             "arn:aws:iam::111122223333:role/app/*",
                                             "arn:aws:s3:::*/x?y",
                                             "arn:aws:s3:::b/${x}",
                                             "arn:aws:s3",
                                             "arn:aws:sqs:us-*:*:q",
                                             "*",
                                             "arn:aws:s3:::b/*/test/*"};
  const std::vector<std::string> resources = {
      "arn:aws:s3:::b/k",
      "ARN:AWS:S3:::b/k",
      "arn:aws:s3:::B/k",
      "arn:aws:s3:::b",
      "arn:aws:sqs:us-east-1:111122223333:q-1",
      "arn:aws:sqs:us-east-1:999:111122223333:q-1",
      "arn:aws:logs:us-east-1:111122223333:log-group:app-prod:log-stream:s1",
      "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
      "arn:aws:iam::111122223333:role/app/r",
      "arn:aws:s3:::z/xzy",
      "arn:aws:s3:::b/1/2/test/x.jpg",
      "arn:aws:sqs:us-west-2:1:q",
      "b/k"};
  for (bool padding : {false, true}) {
    PolicySet set;
    std::string statements;
    for (const std::string& pattern : patterns) {
      if (!statements.empty()) statements += ",";
      statements += R"({"Effect":"Allow","Action":"*","Resource":")" + pattern + R"("})";
    }
    set.identity = {Identity(statements)};
    Semantics semantics;
    semantics.oracle_short_arn_padding = padding;
    semantics.oracle_resource_type_prefix = padding;
    auto compiled = Compile(set, semantics);
    ASSERT_TRUE(compiled.ok());
    const CompiledPolicySet& c = **compiled;
    ASSERT_EQ(c.resource_patterns().size(), patterns.size());
    int rejected = 0;
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      for (const std::string& resource : resources) {
        const bool admits = c.resource_prefilters()[i].Admits(resource);
        if (c.resource_patterns()[i].Match(resource, Context(), semantics) ==
            ResourcePattern::Outcome::kMatch) {
          EXPECT_TRUE(admits) << patterns[i] << " vs " << resource;
        }
        if (!admits) ++rejected;
      }
    }
    EXPECT_GT(rejected, 100);  // and it does reject most non-matches
  }
}

// ---- Semantics fields that reproduce the oracle (docs/fidelity.md) ----

TEST(EvaluatorTest, NotPrincipalExemptsAnyMatchUnderTheOracle) {
  PolicySet set;
  set.identity = {Identity(kAllowS3)};
  set.resource = Resource(
      R"({"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/app/agent-runner"},"Action":"s3:*","Resource":"*"})");
  const Request request = Req(kSession, "s3:GetObject", "arn:aws:s3:::b/k");
  Semantics oracle;
  oracle.not_principal_exempts_any_match = true;
  // Docs: the role alone does not exempt its session (account and session must be listed too).
  EXPECT_EQ(D(set, request), Decision::kExplicitlyDenied);
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
  // Either way a caller with a permissions boundary is never exempt.
  set.boundaries = {Boundary(kAllowS3)};
  EXPECT_EQ(D(set, request), Decision::kExplicitlyDenied);
  EXPECT_EQ(D(set, request, oracle), Decision::kExplicitlyDenied);
}

TEST(EvaluatorTest, AccountPrincipalNamesRootAtAccountLevelUnderTheOracle) {
  PolicySet set;
  set.resource = Resource(
      R"({"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sqs:*","Resource":"*"})");
  const Request request = Req(kRootA, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:jobs");
  Semantics oracle;
  oracle.root_has_implicit_full_access = false;
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);  // a direct grant to root
  oracle.account_principal_is_direct_for_root = false;
  EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied);
  set.identity = {Identity(R"({"Effect":"Allow","Action":"sqs:*","Resource":"*"})")};
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
}

TEST(EvaluatorTest, NegatedTypedOperatorsOnUnparsableValuesUnderTheOracle) {
  PolicySet set;
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ArnNotLike":{"aws:SourceArn":"arn:aws:sqs:*:111122223333:*"}}})")};
  Request request = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  request.context.Set("aws:SourceArn", ContextValue::Scalar("not-an-arn"));
  Semantics oracle;
  oracle.negated_operators_fail_on_unparsable_values = true;
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied);
  request.context.Set("aws:SourceArn", ContextValue::Scalar("arn:aws:s3:::b"));
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);

  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericNotEquals":{"s3:max-keys":"5"},"DateNotEquals":{"aws:CurrentTime":"2024-03-01"}}})")};
  request.context.Set("s3:max-keys", ContextValue::Scalar("abc"));
  request.context.Set("aws:CurrentTime", ContextValue::Scalar("2024-01-01T00:00:00Z"));
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied);
  request.context.Set("s3:max-keys", ContextValue::Scalar("10"));
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
  request.context.Set("aws:CurrentTime", ContextValue::Scalar("not-a-date"));
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied);
}

TEST(EvaluatorTest, ResourceTypePrefixUnderTheOracle) {
  PolicySet set;
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::111122223333:r?le/Admin"})")};
  const Request request = Req(kAlice, "iam:GetRole", "arn:aws:iam::111122223333:role/Admin");
  Semantics oracle;
  oracle.oracle_resource_type_prefix = true;
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied);
  // A NotResource entry whose variable cannot be resolved: under the oracle's order a service
  // mismatch is found first, so the entry excludes nothing and the statement applies.
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"*","NotResource":"arn:aws:kms:eu-west-1:444455556666:key/${aws:username}"})")};
  const Request session = Req(kSession, "iam:GetRole", "arn:aws:iam::111122223333:role/Admin");
  oracle.unresolved_not_resource_never_applies = true;
  EXPECT_EQ(D(set, session, oracle), Decision::kAllowed);
  oracle.oracle_resource_type_prefix = false;
  EXPECT_EQ(D(set, session, oracle), Decision::kImplicitlyDenied);
  // S3 bucket ARNs have no resource type: "bucket-?/..." still globs.
  set.identity = {Identity(R"({"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b?/k"})")};
  oracle.oracle_resource_type_prefix = true;
  EXPECT_EQ(D(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::bb/k"), oracle), Decision::kAllowed);
}

TEST(EvaluatorTest, FourDigitDatesAndEscapesUnderTheOracle) {
  PolicySet set;
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2024"}}})")};
  Request request = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  request.context.Set("aws:CurrentTime", ContextValue::Scalar("2023-06-01T00:00:00Z"));
  Semantics oracle;
  oracle.four_digit_date_is_year = false;  // "2024" is 2024 epoch seconds, in 1970
  EXPECT_EQ(D(set, request), Decision::kImplicitlyDenied);
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);

  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"a${*}b"}}})")};
  request.context.Set("s3:prefix", ContextValue::Scalar("a*b"));
  oracle = Semantics();
  oracle.variable_escapes_in_string_equals = false;
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied);
  request.context.Set("s3:prefix", ContextValue::Scalar("a${*}b"));
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
}

TEST(EvaluatorTest, EmptyVariableValuesUnderTheOracle) {
  PolicySet set;
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"s3:prefix":"${aws:PrincipalTag/team}"}}})")};
  Request request = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  request.context.Set("aws:PrincipalTag/team", ContextValue::Scalar(""));
  request.context.Set("s3:prefix", ContextValue::Scalar(""));
  Semantics oracle;
  oracle.unresolved_variable_matches_negated_operator = false;
  oracle.empty_variable_value_substitutes = false;
  // Docs: "" substitutes, so "" equals it. Oracle: the variable matches nothing, so the
  // negated operator holds (and the variable is not unresolved).
  EXPECT_EQ(D(set, request), Decision::kImplicitlyDenied);
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
  // A non-empty default takes over.
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"${aws:PrincipalTag/team, 'eng'}"}}})")};
  request.context.Set("s3:prefix", ContextValue::Scalar("eng"));
  EXPECT_EQ(D(set, request), Decision::kImplicitlyDenied);
  EXPECT_EQ(D(set, request, oracle), Decision::kAllowed);
}

TEST(EvaluatorTest, NotIpAddressQuirksUnderTheOracle) {
  Semantics oracle;
  oracle.oracle_ip_quirks = true;
  for (const char* value : {"2001:db8::1", "not-an-ip"}) {
    PolicySet set;
    set.identity = {Identity(
        std::string(
            R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":")") +
        value + R"("}}})")};
    Request request = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
    request.context.Set("aws:SourceIp", ContextValue::Scalar("192.0.2.1"));
    EXPECT_EQ(D(set, request), Decision::kAllowed) << value;
    EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied) << value;
  }
  PolicySet set;
  set.identity = {Identity(
      R"({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}})")};
  Request request = Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k");
  request.context.Set("aws:SourceIp", ContextValue::Scalar("garbage"));
  EXPECT_EQ(D(set, request), Decision::kAllowed);
  EXPECT_EQ(D(set, request, oracle), Decision::kImplicitlyDenied);
}

TEST(EvaluatorTest, EmptySetDeniesImplicitly) {
  PolicySet set;
  EvaluationResult r = Eval(set, Req(kAlice, "s3:GetObject", "arn:aws:s3:::b/k"));
  EXPECT_EQ(r.decision, Decision::kImplicitlyDenied);
  EXPECT_EQ(r.denied_by, Layer::kIdentity);
}

}  // namespace
}  // namespace xrole::policy
