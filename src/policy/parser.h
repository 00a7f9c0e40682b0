// parser.h: JSON text (or an already-parsed located JSON tree) -> PolicyDocument. Applies the
// whole grammar of iam-semantics.md section 1: strict JSON (duplicate members rejected), known
// elements only (case-sensitive names), Version values, Effect, the mutually exclusive
// Action/NotAction, Resource/NotResource and Principal/NotPrincipal pairs, which elements each
// PolicyKind requires or forbids, principal shapes, condition operator names and value shapes,
// and the size limits. The first error is returned with its JSON path (prefixed with
// `path_prefix`) and line/column. Findings that do not make the document unusable (warnings,
// security warnings, suggestions) are the linter's job (lint.h), not the parser's.
#ifndef XROLE_POLICY_PARSER_H_
#define XROLE_POLICY_PARSER_H_

#include <memory>
#include <string_view>

#include "common/json.h"
#include "policy/document.h"
#include "xrole/status.h"

namespace xrole::policy {

struct ParseOptions {
  // Enforce the per-kind size limits of iam-semantics.md 1.1 (counted without whitespace;
  // SCP/RCP count all characters). Off for callers that knowingly exceed them.
  bool enforce_size_limits = true;
};

Result<std::shared_ptr<const PolicyDocument>> ParseDocument(const json::Value& root,
                                                            PolicyKind kind,
                                                            std::string_view path_prefix = "",
                                                            const ParseOptions& options = {});

Result<std::shared_ptr<const PolicyDocument>> ParseDocumentText(std::string_view text,
                                                                PolicyKind kind,
                                                                const ParseOptions& options = {});

}  // namespace xrole::policy

#endif  // XROLE_POLICY_PARSER_H_
