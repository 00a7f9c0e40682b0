// lint.h: every finding about a policy document, in the four classes of IAM Access Analyzer's
// ValidatePolicy (iam-semantics.md 6.4; design.md 4.2): errors (the parser's first error, unknown
// services and actions, malformed ARNs, bad variables and condition values), security warnings
// (over-broad grants), warnings (not best practice) and suggestions (no effect on access). Sits
// beside the parser: it parses the text itself and then inspects the tree and the AST. Also
// renders findings as text, JSON and SARIF 2.1.0 for `xrole lint`.
#ifndef XROLE_POLICY_LINT_H_
#define XROLE_POLICY_LINT_H_

#include <string>
#include <string_view>
#include <vector>

#include "policy/catalogue.h"
#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::policy {

enum class Severity { kError, kSecurityWarning, kWarning, kSuggestion };
// "error", "security-warning", "warning", "suggestion".
std::string_view SeverityName(Severity severity);

struct Finding {
  Severity severity = Severity::kError;
  std::string code;     // stable kebab-case id, e.g. "unknown-action", "admin-wrapper"
  std::string message;  // one line, lowercase, user input in backticks
  std::string path;     // JSON path, e.g. "Statement[1].Action[0]" ("" for the whole document)
  SourceLocation location;
};

struct LintOptions {
  // Apply IAM CreatePolicy's stricter acceptance rules as errors: `Version` must be
  // `2012-10-17`, `Action`/`Resource` arrays must not be empty and non-empty `Sid`s must be
  // unique. (Access Analyzer reports these as warnings or suggestions.)
  bool iam_create_policy_rules = false;
};

// Lints `text` as a policy of `kind`. A document the parser rejects yields that one error (with
// location) and nothing else. `catalogue` may be null: unknown service/action checks and the
// catalogue part of the single-valued-key check are then skipped. Findings come in document
// order within each statement.
std::vector<Finding> LintPolicy(std::string_view text, PolicyKind kind,
                                const ActionCatalogue* catalogue);
std::vector<Finding> LintPolicy(std::string_view text, PolicyKind kind,
                                const ActionCatalogue* catalogue, const LintOptions& options);

// Guesses the kind of a document for `xrole lint` without --kind: a document with a statement
// holding `Principal`/`NotPrincipal` is a trust policy when every action (of every statement)
// is an sts:AssumeRole*, sts:TagSession or sts:SetSourceIdentity action and no statement has
// `Resource`/`NotResource`, else a resource policy; otherwise `fallback`. Unparseable text:
// `fallback`.
PolicyKind DetectPolicyKind(std::string_view text, PolicyKind fallback);

// Parses "identity", "resource", "trust", "boundary", "session", "scp", "rcp".
Result<PolicyKind> PolicyKindFromName(std::string_view name);

// The findings of one linted file, for rendering.
struct FileFindings {
  std::string file;
  std::vector<Finding> findings;
};

// "file:line:col: severity code: message [path]", one per line.
std::string FormatFindingsText(const std::vector<FileFindings>& files);
// A JSON array of {"file","line","column","severity","code","message","path"}.
std::string FormatFindingsJson(const std::vector<FileFindings>& files);
// A SARIF 2.1.0 log: one run, tool.driver "xrole" with one rule per finding code used.
std::string FormatFindingsSarif(const std::vector<FileFindings>& files);

bool HasErrors(const std::vector<FileFindings>& files);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_LINT_H_
