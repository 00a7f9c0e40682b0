// objects.h: roles as code. Kubernetes-style YAML or JSON documents (several per file,
// `---`-separated or a JSON array) of kinds ExecutionRole, Agent, Human, Workflow, Guardrail
// and ManagedPolicy, parsed strictly into typed objects. Every policy inside goes through the
// policy engine; every error names the file, the line and the path inside the document
// (`roles.yaml:12: ExecutionRole/deployer: spec.permissions[0].Statement[1].Action: ...`).
// A Catalog is one consistent, validated set (cross references resolved); it is immutable and
// shared by the broker's readers.
#ifndef XROLE_SESSION_OBJECTS_H_
#define XROLE_SESSION_OBJECTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::session {

enum class ObjectKind { kExecutionRole, kAgent, kHuman, kWorkflow, kGuardrail, kManagedPolicy };
std::string_view ObjectKindName(ObjectKind kind);  // "ExecutionRole", ...

// One document as written, before cross-reference checks.
struct ObjectDocument {
  ObjectKind kind;
  std::string name;
  // The whole document as canonical JSON (sorted keys, compact): what is stored and hashed.
  std::string canonical_json;
  std::string hash;    // SHA-256 hex of canonical_json
  std::string source;  // "roles.yaml:12" (file:line of the document's start)
};

// A policy document kept with its canonical text (stored, hashed, exported).
struct NamedPolicy {
  std::string name;  // "permissions[0]" unless the document gives one
  // Never null in objects of a Catalog; empty only in a default-constructed value.
  policy::Policy policy{nullptr, ""};
  std::string json;  // canonical JSON text of the document
};

struct ExecutionRole {
  std::string name;
  std::string owner;
  std::string description;
  std::string account = "111122223333";
  std::string objective;
  std::string environment;
  std::string review_by;                   // YYYY-MM-DD or ""
  std::int64_t max_session_seconds = 900;  // 900..43200
  // Trust policy (PolicyKind::kTrust). The shorthand {agents, workflows, humans, conditions}
  // is expanded to an IAM trust document naming the agents' principal ARNs.
  NamedPolicy trust;
  bool approval_required = false;
  std::int64_t approval_ttl_seconds = 3600;  // how long a pending approval stays valid
  std::vector<NamedPolicy> permissions;      // PolicyKind::kIdentity
  std::optional<NamedPolicy> boundary;       // PolicyKind::kBoundary
  std::map<std::string, std::string> tags;
  std::string hash;  // the document's hash: the role's policy version

  std::string Arn() const;  // arn:aws:iam::ACCOUNT:role/NAME
};

struct Agent {
  std::string name;
  std::string owner;
  std::string sponsor;  // a Human's name: accountable owner
  std::string account = "111122223333";
  std::string description;
  std::map<std::string, std::string> tags;
  bool disabled = false;
  std::string hash;

  std::string Arn() const;  // arn:aws:iam::ACCOUNT:user/xrole/agent/NAME
};

struct Human {
  std::string name;
  std::string email;
  std::map<std::string, std::string> tags;
  bool can_approve = true;
  std::string hash;
};

// The task set a workflow declares it needs (drift checks compare roles against it).
struct TaskRequirement {
  std::vector<std::string> actions;
  std::vector<std::string> resources;
};

struct Workflow {
  std::string name;
  std::string owner;
  std::string description;
  std::vector<std::string> roles;  // execution roles it may assume
  std::vector<TaskRequirement> needs;
  std::int64_t max_run_seconds = 3600;  // runs are clamped to this (at most 12 h)
  std::string hash;
};

enum class GuardrailScope { kPrincipal, kResource };  // applied as SCP / as RCP

struct Guardrail {
  std::string name;
  std::string description;
  GuardrailScope scope = GuardrailScope::kPrincipal;
  NamedPolicy policy;  // PolicyKind::kScp or kRcp
  std::string hash;
};

// A customer managed policy: an identity policy document with an ARN, which AssumeRole's
// PolicyArns (and `policyArns` of POST /v1/sessions) name to add it to a session's policy.
struct ManagedPolicy {
  std::string name;
  std::string account = "111122223333";
  std::string path = "/";  // starts and ends with '/'
  std::string description;
  NamedPolicy document;  // PolicyKind::kIdentity, named "document"
  std::string hash;

  std::string Arn() const;  // arn:aws:iam::ACCOUNT:policy{PATH}NAME
};

// A consistent set of objects. Invariants checked by BuildCatalog: names unique per kind;
// every workflow's roles exist; every agent's sponsor, when given, is a Human.
struct Catalog {
  std::map<std::string, ExecutionRole> roles;
  std::map<std::string, Agent> agents;
  std::map<std::string, Human> humans;
  std::map<std::string, Workflow> workflows;
  std::map<std::string, Guardrail> guardrails;
  std::map<std::string, ManagedPolicy> managed_policies;  // by name
  std::map<std::string, ObjectDocument> documents;        // by "Kind/name"
};

// Parses every document in `text` (YAML or JSON). `source_name` prefixes error locations.
// Fails on the first invalid document; nothing partial is returned.
Result<std::vector<ObjectDocument>> ParseObjectDocuments(std::string_view text,
                                                         std::string_view source_name);

// Builds a catalog from `base` with `changes` upserted (by Kind/name) and `deletions`
// ("Kind/name") removed, validating every object (policies through the policy engine) and
// every cross reference. The result is all-or-nothing.
Result<std::shared_ptr<const Catalog>> BuildCatalog(const Catalog& base,
                                                    const std::vector<ObjectDocument>& changes,
                                                    const std::vector<std::string>& deletions = {});

// The execution roles of `catalog` whose trust shorthand names `name` (an Agent in `agents`, a
// Workflow in `workflows`), each as a document with the shorthand replaced by the IAM trust
// document it expands to: every assume is decided as before, and the role no longer refers to
// `name` (so `name` can be deleted; an object of that name created later is trusted again, as
// it would be by name). Empty for other kinds and when no role names it.
Result<std::vector<ObjectDocument>> ExpandTrustShorthandsNaming(const Catalog& catalog,
                                                                ObjectKind kind,
                                                                std::string_view name);

// Parses a duration: "900", "900s", "15m", "1h", "1h30m", "12h". Seconds.
Result<std::int64_t> ParseDuration(std::string_view text);

}  // namespace xrole::session

#endif  // XROLE_SESSION_OBJECTS_H_
