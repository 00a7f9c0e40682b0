#include "policy/aws_services.h"

#include <array>

#include "common/strings.h"

namespace xrole::policy {

bool RcpSupportsService(std::string_view service) {
  // AWS Organizations user guide, "Resource control policies (RCPs)": supported services.
  static constexpr std::array<std::string_view, 10> kSupported = {
      "s3",          "sts",  "kms",      "sqs", "secretsmanager",
      "cognito-idp", "logs", "dynamodb", "ecr", "aoss"};
  for (std::string_view s : kSupported) {
    if (s == service) return true;
  }
  return false;
}

bool NeedsExplicitTrust(std::string_view service, std::string_view resource) {
  if (!StartsWithIgnoreCase(resource, "arn:")) return false;
  // arn:<partition>:kms:<region>:<account>:key/<id>
  if (service == "kms") {
    return resource.find(":kms:") != std::string_view::npos &&
           resource.find(":key/") != std::string_view::npos;
  }
  // arn:<partition>:iam::<account>:role/...
  if (service == "sts") {
    return resource.find(":iam::") != std::string_view::npos &&
           resource.find(":role/") != std::string_view::npos;
  }
  return false;
}

bool IsAssumeRoleAction(std::string_view action) {
  return StartsWithIgnoreCase(action, "sts:assumerole");
}

bool IsGetCallerIdentity(std::string_view action) {
  return EqualsIgnoreCase(action, "sts:getcalleridentity");
}

}  // namespace xrole::policy
