// aws_services.h: facts about AWS services that the decision procedure depends on, kept in one
// place so both evaluators read the same list.
#ifndef XROLE_POLICY_AWS_SERVICES_H_
#define XROLE_POLICY_AWS_SERVICES_H_

#include <string_view>

namespace xrole::policy {

// Services whose resources resource control policies (RCPs) govern (AWS Organizations,
// "Resource control policies", list of supported services). `service` is lower-case.
bool RcpSupportsService(std::string_view service);

// True when the resource policy of this request must itself trust the caller for an identity
// allow to count (iam-semantics 4.3): a role's trust policy for sts:* actions on a role ARN,
// and a KMS key policy for kms:* actions on a key ARN. `service` is lower-case.
bool NeedsExplicitTrust(std::string_view service, std::string_view resource);

// True for sts:AssumeRole, sts:AssumeRoleWithSAML, sts:AssumeRoleWithWebIdentity (any case).
bool IsAssumeRoleAction(std::string_view action);

// True for sts:GetCallerIdentity (any case): needs no permission and cannot be denied.
bool IsGetCallerIdentity(std::string_view action);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_AWS_SERVICES_H_
