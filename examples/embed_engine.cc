// embed_engine.cc: using xrole's policy engine as a library. Parse a role's policies once,
// compile them, then decide requests (from any number of threads) and print why.
#include <cstdio>

#include "xrole/policy.h"

namespace policy = xrole::policy;

int main() {
  auto role_policy = policy::ParsePolicy(R"({
    "Version": "2012-10-17",
    "Statement": [
      {"Sid": "ReadOneDataset", "Effect": "Allow", "Action": "s3:GetObject",
       "Resource": "arn:aws:s3:::analytics-lake/datasets/customers/*"},
      {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}
    ]})",
                                         policy::PolicyKind::kIdentity, "data-enrichment");
  if (!role_policy.ok()) {
    std::fprintf(stderr, "invalid policy: %s\n", role_policy.error().ToString().c_str());
    return 1;
  }

  policy::PolicySet set;
  set.identity.push_back(*role_policy);
  auto compiled = policy::Compile(set);
  if (!compiled.ok()) {
    std::fprintf(stderr, "compile failed: %s\n", compiled.error().ToString().c_str());
    return 1;
  }

  const char* kRequests[][2] = {
      {"s3:GetObject", "arn:aws:s3:::analytics-lake/datasets/customers/part-1.parquet"},
      {"s3:GetObject", "arn:aws:s3:::analytics-lake/warehouse/ledger.parquet"},
      {"s3:DeleteObject", "arn:aws:s3:::analytics-lake/datasets/customers/part-1.parquet"},
  };
  for (const auto& [action, resource] : kRequests) {
    policy::Request request;
    request.principal = "arn:aws:sts::111122223333:assumed-role/data-enrichment/run-3";
    request.action = action;
    request.resource = resource;
    policy::EvaluationResult result = policy::Evaluate(**compiled, request);
    std::printf("%-16s %-64s %s", action, resource,
                std::string(policy::DecisionName(result.decision)).c_str());
    for (const policy::Reason& reason : result.reasons) {
      std::printf("  [%s statement %d %s]", reason.policy.c_str(), reason.statement,
                  reason.sid.c_str());
    }
    std::printf("\n");
  }
  return 0;
}
