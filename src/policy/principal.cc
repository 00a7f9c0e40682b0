#include "policy/principal.h"

#include <algorithm>

#include "common/strings.h"
#include "policy/arn.h"

namespace xrole::policy {
namespace {

bool IsAccountId(std::string_view s) {
  return s.size() == 12 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view LastPathSegment(std::string_view s) {
  auto slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

// What one `AWS` principal value denotes.
struct AwsPrincipal {
  enum class Kind { kInvalid, kEveryone, kAccount, kUser, kRole, kSession, kFederatedUser };
  Kind kind = Kind::kInvalid;
  std::string_view account;
  std::string_view name;  // role name (kRole, kSession), whole ARN for exact comparisons
};

AwsPrincipal ReadAwsPrincipal(std::string_view value) {
  AwsPrincipal p;
  if (value == "*") {
    p.kind = AwsPrincipal::Kind::kEveryone;
    return p;
  }
  if (IsAccountId(value)) {
    p.kind = AwsPrincipal::Kind::kAccount;
    p.account = value;
    return p;
  }
  ArnFields f = SplitArn(value);
  if (f.count != 6 || f.field[0] != "arn") return p;
  p.account = f.field[4];
  std::string_view service = f.field[2];
  std::string_view resource = f.field[5];
  if (service == "iam") {
    if (resource == "root") {
      p.kind = AwsPrincipal::Kind::kAccount;
    } else if (resource.rfind("user/", 0) == 0) {
      p.kind = AwsPrincipal::Kind::kUser;
    } else if (resource.rfind("role/", 0) == 0) {
      p.kind = AwsPrincipal::Kind::kRole;
      p.name = LastPathSegment(resource);
    }
  } else if (service == "sts") {
    if (resource.rfind("assumed-role/", 0) == 0) {
      p.kind = AwsPrincipal::Kind::kSession;
    } else if (resource.rfind("federated-user/", 0) == 0) {
      p.kind = AwsPrincipal::Kind::kFederatedUser;
    }
  }
  return p;
}

// Compares two principal ARNs: the partition/service/account fields ASCII-case-insensitively,
// the resource part exactly.
bool SamePrincipalArn(std::string_view a, std::string_view b) {
  ArnFields fa = SplitArn(a), fb = SplitArn(b);
  if (fa.count != 6 || fb.count != 6) return false;
  for (int i = 0; i < 5; ++i) {
    if (!EqualsIgnoreCase(fa.field[i], fb.field[i])) return false;
  }
  return fa.field[5] == fb.field[5];
}

}  // namespace

CallerSummary SummarizeCaller(std::string_view p) {
  CallerSummary out;
  if (p.empty() || p == "*" || p == "anonymous") return out;
  if (IsAccountId(p)) return {Caller::Kind::kRoot, p};
  if (p.find(':') == std::string_view::npos) {
    if (p.find('.') != std::string_view::npos) out.kind = Caller::Kind::kService;
    return out;
  }
  ArnFields f = SplitArn(p);
  if (f.count != 6 || f.field[0] != "arn") return out;
  std::string_view service = f.field[2];
  std::string_view resource = f.field[5];
  Caller::Kind kind;
  if (service == "iam" && resource == "root") {
    kind = Caller::Kind::kRoot;
  } else if (service == "iam" && resource.rfind("user/", 0) == 0) {
    kind = Caller::Kind::kUser;
  } else if (service == "iam" && resource.rfind("role/", 0) == 0) {
    kind = Caller::Kind::kRoleSession;
  } else if (service == "sts" && resource.rfind("assumed-role/", 0) == 0 &&
             resource.find('/', 13) != std::string_view::npos) {
    kind = Caller::Kind::kRoleSession;
  } else if (service == "sts" && resource.rfind("federated-user/", 0) == 0) {
    kind = Caller::Kind::kFederatedUser;
  } else {
    return out;
  }
  return {kind, f.field[4]};
}

Caller ParseCaller(const Request& request) {
  Caller caller;
  std::string_view p = request.principal;
  CallerSummary summary = SummarizeCaller(p);
  caller.kind = summary.kind;
  caller.account = std::string(summary.account);
  switch (summary.kind) {
    case Caller::Kind::kAnonymous:
      caller.account.clear();
      return caller;
    case Caller::Kind::kService:
      caller.arn = std::string(p);
      return caller;
    case Caller::Kind::kRoot:
      if (IsAccountId(p)) {
        caller.arn = "arn:aws:iam::" + caller.account + ":root";
        return caller;
      }
      break;
    case Caller::Kind::kUser:
    case Caller::Kind::kRoleSession:
    case Caller::Kind::kFederatedUser:
      break;
  }
  ArnFields f = SplitArn(p);
  caller.partition = std::string(f.field[1]);
  caller.arn = std::string(p);
  if (caller.kind != Caller::Kind::kRoleSession) return caller;
  std::string_view resource = f.field[5];
  if (f.field[2] == "iam") {  // a role given as the caller: a session of unknown name
    caller.role_arn = caller.arn;
    caller.role_name = std::string(LastPathSegment(resource));
    return caller;
  }
  std::string_view rest = resource.substr(13);  // after "assumed-role/"
  auto slash = rest.find('/');
  caller.role_name = std::string(rest.substr(0, slash));
  caller.session_name = std::string(rest.substr(slash + 1));
  caller.role_arn =
      "arn:" + caller.partition + ":iam::" + caller.account + ":role/" + caller.role_name;
  // aws:PrincipalArn carries the role's path; use it when it names this very role.
  if (const ContextValue* v = request.context.Find("aws:principalarn");
      v != nullptr && !v->is_list && v->values.size() == 1) {
    AwsPrincipal named = ReadAwsPrincipal(v->values[0]);
    if (named.kind == AwsPrincipal::Kind::kRole && named.account == caller.account &&
        EqualsIgnoreCase(named.name, caller.role_name)) {
      caller.role_arn = v->values[0];
    }
  }
  return caller;
}

PrincipalMatch MatchPrincipal(const PrincipalBlock& block, const Caller& caller,
                              const Semantics& semantics) {
  if (block.wildcard) return PrincipalMatch::kDirect;
  PrincipalMatch best = PrincipalMatch::kNoMatch;
  auto raise = [&best](PrincipalMatch m) { best = std::max(best, m); };
  for (const std::string& value : block.aws) {
    AwsPrincipal p = ReadAwsPrincipal(value);
    if (p.kind == AwsPrincipal::Kind::kEveryone) return PrincipalMatch::kDirect;
    if (caller.kind == Caller::Kind::kAnonymous || caller.kind == Caller::Kind::kService) continue;
    if (p.account != caller.account) continue;
    switch (p.kind) {
      case AwsPrincipal::Kind::kAccount:
        raise(caller.kind == Caller::Kind::kRoot && semantics.account_principal_is_direct_for_root
                  ? PrincipalMatch::kDirect
                  : PrincipalMatch::kAccountLevel);
        break;
      case AwsPrincipal::Kind::kUser:
      case AwsPrincipal::Kind::kFederatedUser:
        if ((caller.kind == Caller::Kind::kUser || caller.kind == Caller::Kind::kFederatedUser) &&
            SamePrincipalArn(value, caller.arn)) {
          raise(PrincipalMatch::kDirect);
        }
        break;
      case AwsPrincipal::Kind::kRole:
        if (caller.kind == Caller::Kind::kRoleSession &&
            EqualsIgnoreCase(p.name, caller.role_name)) {
          raise(PrincipalMatch::kViaRoleOrUser);
        }
        break;
      case AwsPrincipal::Kind::kSession:
        if (caller.kind == Caller::Kind::kRoleSession && !caller.session_name.empty() &&
            SamePrincipalArn(value, caller.arn)) {
          raise(PrincipalMatch::kDirect);
        }
        break;
      case AwsPrincipal::Kind::kEveryone:
      case AwsPrincipal::Kind::kInvalid:
        break;
    }
  }
  if (caller.kind == Caller::Kind::kService) {
    for (const std::string& value : block.service) {
      if (value == "*" || EqualsIgnoreCase(value, caller.arn)) raise(PrincipalMatch::kDirect);
    }
  }
  return best;
}

bool NotPrincipalExempts(const PrincipalBlock& block, const Caller& caller,
                         bool caller_has_boundary, const Semantics& semantics) {
  if (semantics.not_principal_exempts_any_match) {
    // The oracle: a caller with a permissions boundary is never exempt, whatever is listed
    // (even "*"); otherwise any matching value exempts it.
    if (caller_has_boundary && caller.kind != Caller::Kind::kAnonymous &&
        caller.kind != Caller::Kind::kService) {
      return false;
    }
    return MatchPrincipal(block, caller, semantics) != PrincipalMatch::kNoMatch;
  }
  if (block.wildcard) return true;
  for (const std::string& value : block.aws) {
    if (value == "*") return true;
  }
  if (caller.kind == Caller::Kind::kAnonymous) return false;
  if (caller.kind == Caller::Kind::kService) {
    return std::any_of(block.service.begin(), block.service.end(),
                       [&](const std::string& v) { return EqualsIgnoreCase(v, caller.arn); });
  }
  // Docs (NotPrincipal page): a caller with a permissions boundary is never exempt.
  if (caller_has_boundary) return false;
  bool account_listed = false, self_listed = false, role_listed = false;
  for (const std::string& value : block.aws) {
    AwsPrincipal p = ReadAwsPrincipal(value);
    if (p.account != caller.account) continue;
    switch (p.kind) {
      case AwsPrincipal::Kind::kAccount:
        account_listed = true;
        if (caller.kind == Caller::Kind::kRoot) self_listed = true;
        break;
      case AwsPrincipal::Kind::kRole:
        if (caller.kind == Caller::Kind::kRoleSession &&
            EqualsIgnoreCase(p.name, caller.role_name)) {
          role_listed = true;
        }
        break;
      case AwsPrincipal::Kind::kUser:
      case AwsPrincipal::Kind::kSession:
      case AwsPrincipal::Kind::kFederatedUser:
        if (SamePrincipalArn(value, caller.arn)) self_listed = true;
        break;
      case AwsPrincipal::Kind::kEveryone:
      case AwsPrincipal::Kind::kInvalid:
        break;
    }
  }
  // A role given as the caller (no session name) is its own "self" at the role level.
  if (caller.kind == Caller::Kind::kRoleSession && caller.session_name.empty()) {
    self_listed = role_listed;
  }
  bool chain_listed = account_listed && self_listed;
  if (caller.kind == Caller::Kind::kRoleSession) chain_listed = chain_listed && role_listed;
  return chain_listed;
}

}  // namespace xrole::policy
