// variables.h: IAM policy variables (iam-semantics.md 3.8). A policy string is split once into
// literal text, ${key} / ${key, 'default'} references and the escapes ${*} ${?} ${$}; expansion
// against a request context then needs no re-parsing. Variables exist only in 2012-10-17
// documents: for 2008-10-17 (or no Version) the whole string is literal text.
#ifndef XROLE_POLICY_VARIABLES_H_
#define XROLE_POLICY_VARIABLES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/glob.h"
#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::policy {

class Template {
 public:
  struct Part {
    enum class Kind { kText, kVariable, kEscape } kind = Kind::kText;
    std::string text;  // kText: the text; kVariable: key, lower-cased; kEscape: "*", "?" or "$"
    std::optional<std::string> default_value;  // kVariable only
  };

  // Splits `text`. With `variables_enabled` false the result is one kText part. A malformed
  // reference ("${", "${}", "${a b}", bad default quoting) is kept as literal text here; the
  // validator reports it with ValidateVariables.
  static Template Parse(std::string_view text, bool variables_enabled);

  // Appends the expansion to `out`: kText parts as patterns (wildcards active), variable values
  // and escapes as literal text. Returns false when a variable cannot be resolved: the key is
  // absent and there is no default, or the key holds a list (multivalued keys never substitute).
  // With `empty_is_missing` (the oracle's way, Semantics::empty_variable_value_substitutes off)
  // a key holding "" takes the variable's non-empty default, or else a value that no request
  // text matches (still resolved: positive operators fail, negated ones hold).
  bool ExpandToGlob(const Context& context, Glob* out, bool empty_is_missing = false) const;
  // Appends the expansion to `out` as plain text (for StringEquals-like comparisons, where
  // '*' is literal anyway). Same resolution rule as ExpandToGlob. With `escapes_as_written`
  // the escapes stay as written ("${*}"), as the oracle compares them (Semantics).
  bool ExpandToText(const Context& context, std::string* out, bool escapes_as_written = false,
                    bool empty_is_missing = false) const;

  bool has_variables() const;  // any kVariable or kEscape part
  const std::vector<Part>& parts() const { return parts_; }

 private:
  std::vector<Part> parts_;
};

// Reports the first variable syntax error in `text` (missing closing brace, empty variable,
// space inside the name, malformed default), or OK. For validators.
Status ValidateVariables(std::string_view text);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_VARIABLES_H_
