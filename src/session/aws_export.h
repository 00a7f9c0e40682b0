// aws_export.h: `xrole export aws`. Turns the execution roles of a Catalog into AWS IAM
// artefacts, so that a team on real AWS runs the same roles: per role the CreateRole input
// (role.json), the trust policy, one inline policy per permission policy, the permissions
// boundary as a managed policy, every guardrail as an SCP (or RCP) document, the deny policies
// that revoke one run's sessions or every session issued before a time, and a CloudFormation
// template and a Terraform module built from the same in-memory documents. Every generated
// policy is linted (policy/lint.h) with IAM CreatePolicy's rules; an error fails the export.
//
// What xrole knows at decision time but AWS does not (its `xrole:` context keys) reaches AWS
// as session tags that the issuer sets on AssumeRole: conditions and policy variables on those
// keys are rewritten to `aws:RequestTag/xrole-...` in trust policies and to
// `aws:PrincipalTag/xrole-...` elsewhere (AwsConditionKey). Tag keys starting `xrole-` are
// reserved for the issuer. Output is deterministic: sorted keys, catalog order, no timestamps.
#ifndef XROLE_SESSION_AWS_EXPORT_H_
#define XROLE_SESSION_AWS_EXPORT_H_

#include <string>
#include <string_view>
#include <vector>

#include "policy/catalogue.h"
#include "session/objects.h"
#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::session {

// The session tag carrying the xrole run id; the revocation deny is keyed on it.
inline constexpr std::string_view kAwsRunTag = "xrole-run";
// The stand-in for the run id in revoke-run.json.
inline constexpr std::string_view kAwsRunIdPlaceholder = "REPLACE_WITH_RUN_ID";

struct AwsExportOptions {
  std::vector<std::string> roles;  // roles to export (names); empty: every role
  bool json = true;                // role.json and every policy document
  bool cloudformation = true;      // cloudformation.yaml
  bool terraform = true;           // main.tf
  // Lints action names too when given; may be null (the linter then skips those checks).
  const policy::ActionCatalogue* catalogue = nullptr;
};

// One generated policy document.
struct AwsPolicyFile {
  std::string file;  // name inside the role's directory: "trust-policy.json", ...
  // What the document is on AWS: "trust", "inline", "boundary", "scp", "rcp", "revocation".
  std::string use;
  std::string aws_name;  // its name on AWS: inline or managed policy name, SCP name; "" for trust
  policy::PolicyKind kind = policy::PolicyKind::kIdentity;  // the kind it is linted as
  std::string text;                                         // the file's content
};

struct AwsRoleExport {
  std::string role;
  std::vector<AwsPolicyFile> policies;  // trust, inline, boundary, guardrails, revocation
  std::vector<std::string> notes;       // what does not translate, lint warnings
};

struct ExportedFile {
  std::string path;  // relative to the output directory, '/'-separated
  std::string content;
};

struct AwsExport {
  std::vector<AwsRoleExport> roles;  // in name order
  std::vector<ExportedFile> files;   // everything to write (per the options), sorted by path
};

// Exports the roles of `catalog` named in options.roles (all when empty). Fails, exporting
// nothing, on an unknown role name, on a role that cannot be expressed in IAM (a trust policy
// open to every principal, an unmappable tag key, IAM length limits) and on any lint error.
Result<AwsExport> ExportAws(const Catalog& catalog, const AwsExportOptions& options);

// Writes `exported` under `out_dir` (created as needed). In each role directory written, stale
// generated files (*.json, *.yaml, *.tf not part of this export) are removed so that a
// re-export mirrors the catalog; nothing else is touched.
Status WriteAwsExport(const AwsExport& exported, const std::string& out_dir);

// The AWS form of condition key `key` in a policy of `kind`: an `xrole:` key that xrole sets in
// that kind's request context becomes the issuer's session tag (`xrole:RunId` ->
// `aws:RequestTag/xrole-run` in a trust policy, `aws:PrincipalTag/xrole-run` elsewhere);
// every other key is returned unchanged (an `xrole:` key xrole never sets there stays absent on
// AWS too).
std::string AwsConditionKey(std::string_view key, policy::PolicyKind kind);

// The AWS request context that corresponds to `context`, an xrole request context of a decision
// against policies of `kind` (kTrust: an assume; otherwise: a session's request): `xrole:` keys
// become the session tags the issuer sets (and for kTrust are added to aws:TagKeys); the
// source identity the issuer sets when the caller gave none (the run's initiator, else the
// agent) is added. The role's own tags (role.json `Tags`, principal tags on AWS too) are the
// caller's to add. Keys are lower-cased, as Context stores them.
policy::Context AwsRequestContext(const policy::Context& context, policy::PolicyKind kind);

}  // namespace xrole::session

#endif  // XROLE_SESSION_AWS_EXPORT_H_
