// canonical.h: checks on the canonical encoding shared by the writer and the verifier.
#ifndef XROLE_AUDIT_CANONICAL_H_
#define XROLE_AUDIT_CANONICAL_H_

#include <string_view>

namespace xrole::audit {

// True if `body` is exactly the canonical encoding of the JSON object it holds (what
// CanonicalBody produces): any other byte sequence, even an equivalent JSON text, is false.
bool IsCanonicalBody(std::string_view body);

}  // namespace xrole::audit

#endif  // XROLE_AUDIT_CANONICAL_H_
