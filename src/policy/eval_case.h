// eval_case.h: the evaluation-case format of `xrole eval` (docs/cli.md, design contract 4.1).
// A case is one JSON object naming the policies that apply and one request; the result is one
// JSON object with the decision and the statements that made it. Both directions live here so
// the CLI, the conformance tests and the differential tests read and write the same format.
#ifndef XROLE_POLICY_EVAL_CASE_H_
#define XROLE_POLICY_EVAL_CASE_H_

#include <string>
#include <string_view>

#include "common/json.h"
#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::policy {

struct EvalCase {
  std::string id;  // "" when the case has none
  bool has_id = false;
  PolicySet policies;
  Request request;
  // Canonical JSON of the case's policy members: equal keys mean equal policy sets, so a
  // compiled set can be cached by it.
  std::string policy_key;
};

// Parses one case. Members: id, identityPolicies, permissionBoundaries, sessionPolicy (one
// POLICY or an array of them), resourcePolicy, scps, rcps, request {principal, action,
// resource, resourceAccount, context}. POLICY is a document or {"name", "policy"}; a LEVEL is a
// document, an array of documents or {"policies": [...]}. Errors carry the JSON path inside
// the case (`identityPolicies[0].Statement[2].Condition`) and the line/column.
//
// With `parse_policies` false, only the id, the request and policy_key are filled: a caller
// holding a compiled set for that key needs nothing else. Members are still checked by name.
Result<EvalCase> ParseEvalCase(const json::Value& root, bool parse_policies = true);

// The case's "id" member, if it has a usable one (for error lines of unparsable cases).
std::string CaseId(const json::Value& root, bool* has_id);

// {"id":...,"decision":...,"reasons":[...]} (+ "deniedBy" for implicit denies, and
// "explanation" when present). `id` is omitted when !has_id.
std::string FormatResult(std::string_view id, bool has_id, const EvaluationResult& result);
// {"id":...,"error":{"message":...,"path":...,"line":...,"column":...}}
std::string FormatError(std::string_view id, bool has_id, const Error& error);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_EVAL_CASE_H_
