#include "generator.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/json.h"

namespace xrole::testing {
namespace {

using policy::PolicyKind;

constexpr std::string_view kAccountA = "111122223333";
constexpr std::string_view kAccountB = "444455556666";

// ---------------------------------------------------------------------------------------------
// Pools. Everything a policy names is drawn from the same pools as the requests.

struct ServiceInfo {
  std::string_view prefix;
  std::vector<std::string> actions;       // take a resource
  std::vector<std::string> resourceless;  // asked with resource "*" or ""
  std::vector<std::string> resources;     // concrete ARNs
};

const std::vector<ServiceInfo>& Services() {
  static const std::vector<ServiceInfo> kServices = {
      {"s3",
       {"GetObject", "PutObject", "DeleteObject", "ListBucket", "GetObjectTagging"},
       {"ListAllMyBuckets"},
       {"arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-a/alice/doc.txt",
        "arn:aws:s3:::bucket-a/public/img.png", "arn:aws:s3:::bucket-b/x:y/z.txt",
        "arn:aws:s3:::bucket-b/home/bob/a*b", "arn:aws:s3:::bucket-a/eng/report.csv"}},
      {"ec2",
       {"RunInstances", "TerminateInstances", "StartInstances", "StopInstances"},
       {"DescribeInstances", "DescribeRegions"},
       {"arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
        "arn:aws:ec2:eu-west-1:444455556666:instance/i-0def",
        "arn:aws:ec2:us-east-1::image/ami-0123", "arn:aws:ec2:us-east-1:111122223333:volume/v-1"}},
      {"iam",
       {"CreateUser", "GetUser", "PassRole", "GetRole", "DeleteRole"},
       {"ListRoles", "GetAccountSummary"},
       {"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/dev/bob",
        "arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:role/svc/app",
        "arn:aws:iam::444455556666:role/Auditor"}},
      {"sts",
       {"AssumeRole", "TagSession", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity",
        "SetSourceIdentity"},
       {"GetCallerIdentity", "GetSessionToken", "GetFederationToken"},
       {"arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:role/svc/app",
        "arn:aws:iam::444455556666:role/Auditor"}},
      {"kms",
       {"Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"},
       {"ListKeys", "CreateKey"},
       {"arn:aws:kms:us-east-1:111122223333:key/k-1", "arn:aws:kms:us-east-1:111122223333:key/k-2",
        "arn:aws:kms:eu-west-1:444455556666:key/k-3"}},
      {"sqs",
       {"SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueUrl"},
       {"ListQueues"},
       {"arn:aws:sqs:us-east-1:111122223333:queue-1", "arn:aws:sqs:us-east-1:111122223333:jobs",
        "arn:aws:sqs:eu-west-1:444455556666:queue-2"}},
      {"dynamodb",
       {"GetItem", "PutItem", "Query", "DeleteItem"},
       {"ListTables"},
       {"arn:aws:dynamodb:us-east-1:111122223333:table/Orders",
        "arn:aws:dynamodb:us-east-1:111122223333:table/Orders/index/ByDate",
        "arn:aws:dynamodb:eu-west-1:444455556666:table/Users"}},
  };
  return kServices;
}

constexpr int kStsService = 3;
constexpr int kKmsService = 4;

// Request principals, with the context a caller of that kind may carry.
struct CallerSpec {
  std::string principal;
  std::string principal_arn;  // aws:PrincipalArn when set
  std::string username;       // aws:username for IAM users
  std::string account;        // aws:PrincipalAccount
  int weight;
};

const std::vector<CallerSpec>& Callers() {
  static const std::vector<CallerSpec> kCallers = {
      {"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/alice", "alice",
       "111122223333", 14},
      {"arn:aws:iam::111122223333:user/dev/bob", "arn:aws:iam::111122223333:user/dev/bob", "bob",
       "111122223333", 8},
      {"arn:aws:iam::444455556666:user/carol", "arn:aws:iam::444455556666:user/carol", "carol",
       "444455556666", 4},
      {"arn:aws:sts::111122223333:assumed-role/Admin/s1", "arn:aws:iam::111122223333:role/Admin",
       "", "111122223333", 12},
      {"arn:aws:sts::111122223333:assumed-role/app/worker",
       "arn:aws:iam::111122223333:role/svc/app", "", "111122223333", 12},
      {"arn:aws:sts::444455556666:assumed-role/Auditor/x", "arn:aws:iam::444455556666:role/Auditor",
       "", "444455556666", 4},
      {"arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:role/Admin", "",
       "111122223333", 3},
      {"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root", "", "111122223333", 5},
      {"111122223333", "arn:aws:iam::111122223333:root", "", "111122223333", 2},
      {"arn:aws:iam::444455556666:root", "arn:aws:iam::444455556666:root", "", "444455556666", 2},
      {"arn:aws:sts::111122223333:federated-user/fed",
       "arn:aws:sts::111122223333:federated-user/fed", "", "111122223333", 5},
      {"s3.amazonaws.com", "", "", "", 2},
      {"lambda.amazonaws.com", "", "", "", 2},
      {"", "", "", "anonymous", 1},
      {"anonymous", "", "", "anonymous", 1},
  };
  return kCallers;
}

// Values of Principal/NotPrincipal "AWS" entries (never partial wildcards: the grammar forbids
// them).
const std::vector<std::string>& AwsPrincipalValues() {
  static const std::vector<std::string> kValues = {
      "111122223333",
      "arn:aws:iam::111122223333:root",
      "444455556666",
      "arn:aws:iam::444455556666:root",
      "arn:aws:iam::111122223333:user/alice",
      "arn:aws:iam::111122223333:user/dev/bob",
      "arn:aws:iam::444455556666:user/carol",
      "arn:aws:iam::111122223333:role/Admin",
      "arn:aws:iam::111122223333:role/svc/app",
      "arn:aws:iam::444455556666:role/Auditor",
      "arn:aws:sts::111122223333:assumed-role/Admin/s1",
      "arn:aws:sts::111122223333:assumed-role/app/worker",
      "arn:aws:sts::111122223333:federated-user/fed",
  };
  return kValues;
}

const std::vector<std::string>& ServicePrincipalValues() {
  static const std::vector<std::string> kValues = {"s3.amazonaws.com", "lambda.amazonaws.com",
                                                   "ec2.amazonaws.com"};
  return kValues;
}

const std::vector<std::string>& FederatedPrincipalValues() {
  static const std::vector<std::string> kValues = {"arn:aws:iam::111122223333:saml-provider/Okta",
                                                   "accounts.google.com"};
  return kValues;
}

// Condition keys.
enum class KeyType { kString, kNumeric, kDate, kBool, kBinary, kIp, kArn };

struct ValueSpec {
  std::string text;
  GeneratedRequest::Entry::Json json = GeneratedRequest::Entry::Json::kString;
};

struct KeySpec {
  std::string key;
  KeyType type;
  bool multivalued;
  std::vector<std::string> policy_values;
  std::vector<ValueSpec> request_values;
  bool oracle_known;  // the oracle accepts it in a request context
};

using J = GeneratedRequest::Entry::Json;

const std::vector<KeySpec>& Keys() {
  static const std::vector<KeySpec> kKeys = {
      {"aws:PrincipalTag/team",
       KeyType::kString,
       false,
       {"eng", "ops", "Eng", "e*", "?ps", "${aws:username}", "${aws:PrincipalTag/dept, 'eng'}", ""},
       {{"eng"}, {"ops"}, {"ENG"}, {""}, {"alice"}},
       true},
      {"aws:RequestedRegion",
       KeyType::kString,
       false,
       {"us-east-1", "eu-west-1", "eu-*", "us-east-?", "US-EAST-1"},
       {{"us-east-1"}, {"eu-west-1"}, {"ap-south-1"}},
       true},
      {"s3:prefix",
       KeyType::kString,
       false,
       {"home/", "home/${aws:username}/*", "", "public/*", "a${*}b", "home/${aws:nokey}/*",
        "x${?}y", "cost${$}"},
       {{"home/alice/x"},
        {"home/bob/y"},
        {"public/a"},
        {""},
        {"a*b"},
        {"x?y"},
        {"cost$"},
        {"home/"}},
       true},
      {"aws:username",
       KeyType::kString,
       false,
       {"alice", "bob", "al*", "ALICE"},
       {{"alice"}, {"bob"}, {"carol"}},
       true},
      {"aws:SourceAccount",
       KeyType::kString,
       false,
       {"111122223333", "444455556666", "${aws:PrincipalAccount}"},
       {{"111122223333"}, {"444455556666"}},
       true},
      {"aws:TagKeys",
       KeyType::kString,
       true,
       {"team", "env", "cost*", "Team", "${aws:PrincipalTag/team}"},
       {{"team"}, {"env"}, {"cost-center"}, {"Team"}, {"eng"}, {""}},
       true},
      {"aws:CalledVia",
       KeyType::kString,
       true,
       {"athena.amazonaws.com", "cloudformation.amazonaws.com", "*.amazonaws.com"},
       {{"athena.amazonaws.com"}, {"cloudformation.amazonaws.com"}},
       true},
      {"s3:max-keys",
       KeyType::kNumeric,
       false,
       {"10", "10.0", "5", "100", "-1", "2.5"},
       {{"10", J::kNumber}, {"5.5", J::kNumber}, {"100"}, {"abc"}, {"10.00", J::kNumber}, {"-1"}},
       true},
      {"aws:MultiFactorAuthAge",
       KeyType::kNumeric,
       false,
       {"3600", "300"},
       {{"100", J::kNumber}, {"7200"}, {"3600"}},
       true},
      {"aws:CurrentTime",
       KeyType::kDate,
       false,
       {"2024-01-01T00:00:00Z", "2024-06-01", "2024", "2024-03", "1704067200",
        "2024-01-01T00:00:00.000+00:00", "2024-01-01T02:00+02:00"},
       {{"2024-01-01T00:00:00Z"},
        {"2023-12-31T23:59:59Z"},
        {"2025-03-01T12:00:00Z"},
        {"1704067200"},
        {"not-a-date"},
        {"2024-06-01"}},
       true},
      {"aws:EpochTime",
       KeyType::kDate,
       false,
       {"1704067200", "1717200000", "2024-06-01T00:00:00Z"},
       {{"1704067200", J::kNumber}, {"1717200000"}, {"1800000000"}},
       true},
      {"aws:TokenIssueTime",
       KeyType::kDate,
       false,
       {"2024-01-01T00:00:00Z", "2024-05-01"},
       {{"2024-02-01T00:00:00Z"}, {"2023-01-01T00:00:00Z"}},
       true},
      {"aws:SecureTransport",
       KeyType::kBool,
       false,
       {"true", "false"},
       {{"true", J::kBool}, {"false", J::kBool}, {"TRUE"}, {"yes"}},
       true},
      {"aws:MultiFactorAuthPresent",
       KeyType::kBool,
       false,
       {"true", "false"},
       {{"true"}, {"false", J::kBool}},
       true},
      {"s3:x-amz-content-sha256",
       KeyType::kBinary,
       false,
       {"aGVsbG8=", "d29ybGQ=", "AAEC"},
       {{"hello"}, {"aGVsbG8="}, {"world"}, {"\x01\x02"}},
       false},
      {"aws:SourceIp",
       KeyType::kIp,
       false,
       {"10.0.0.0/8", "192.168.1.1", "192.168.1.0/24", "0.0.0.0/0", "2001:db8::/32", "2001:db8::1",
        "::/0", "203.0.113.0/24"},
       {{"10.1.2.3"},
        {"192.168.1.1"},
        {"8.8.8.8"},
        {"2001:db8::1"},
        {"2001:db9::1"},
        {"garbage"},
        {"203.0.113.9"}},
       true},
      {"aws:PrincipalArn",
       KeyType::kArn,
       false,
       {"arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:role/*",
        "arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/${aws:username}",
        "arn:aws:iam::111122223333:role/svc/*", "arn:aws:iam::111122223333:ROLE/admin",
        "arn:aws:iam::*:root"},
       {},  // from the caller
       true},
      {"aws:SourceArn",
       KeyType::kArn,
       false,
       {"arn:aws:s3:::bucket-a", "arn:aws:sqs:*:111122223333:*", "arn:aws:s3:::bucket-?",
        "arn:aws:*:*:111122223333:*"},
       {{"arn:aws:s3:::bucket-a"},
        {"arn:aws:sqs:us-east-1:111122223333:jobs"},
        {"arn:aws:s3:::bucket-b"},
        {"not-an-arn"}},
       true},
  };
  return kKeys;
}

const std::vector<std::string>& Operators(KeyType type) {
  static const std::vector<std::string> kString = {
      "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
      "StringLike",   "StringNotLike"};
  static const std::vector<std::string> kNumeric = {
      "NumericEquals",         "NumericNotEquals",   "NumericLessThan",
      "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"};
  static const std::vector<std::string> kDate = {"DateEquals",      "DateNotEquals",
                                                 "DateLessThan",    "DateLessThanEquals",
                                                 "DateGreaterThan", "DateGreaterThanEquals"};
  static const std::vector<std::string> kBool = {"Bool"};
  static const std::vector<std::string> kBinary = {"BinaryEquals"};
  static const std::vector<std::string> kIp = {"IpAddress", "NotIpAddress"};
  static const std::vector<std::string> kArn = {"ArnEquals", "ArnLike", "ArnNotEquals",
                                                "ArnNotLike"};
  switch (type) {
    case KeyType::kString:
      return kString;
    case KeyType::kNumeric:
      return kNumeric;
    case KeyType::kDate:
      return kDate;
    case KeyType::kBool:
      return kBool;
    case KeyType::kBinary:
      return kBinary;
    case KeyType::kIp:
      return kIp;
    case KeyType::kArn:
      return kArn;
  }
  return kString;
}

bool HasVariable(std::string_view s) { return s.find("${") != std::string_view::npos; }

void Quote(std::string& out, std::string_view s) { json::AppendQuoted(out, s); }

char FlipCase(char c) {
  if (c >= 'a' && c <= 'z') return static_cast<char>(c - 'a' + 'A');
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return c;
}

// Splits an ARN at its first five colons.
std::vector<std::string> SplitFields(std::string_view arn) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (fields.size() < 5) {
    std::size_t colon = arn.find(':', start);
    if (colon == std::string_view::npos) break;
    fields.emplace_back(arn.substr(start, colon - start));
    start = colon + 1;
  }
  fields.emplace_back(arn.substr(start));
  return fields;
}

std::string JoinFields(const std::vector<std::string>& fields, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < fields.size(); ++i) {
    if (i > 0) out += ':';
    out += fields[i];
  }
  return out;
}

std::string ListOrSingle(Choices& c, const std::vector<std::string>& items) {
  std::string out;
  if (items.size() == 1 && c.Percent(50)) {
    Quote(out, items[0]);
    return out;
  }
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    Quote(out, items[i]);
  }
  out += ']';
  return out;
}

void AppendValue(std::string& out, std::string_view text, J json) {
  if (json == J::kString) {
    Quote(out, text);
  } else {
    out += text;
  }
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Choices

std::uint64_t Choices::Next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint32_t Choices::Below(std::uint32_t n) {
  if (n <= 1) return 0;
  if (from_bytes_) {
    if (pos_ >= size_) return 0;
    std::uint32_t v = data_[pos_++];
    if (n > 256 && pos_ < size_) v = (v << 8) | data_[pos_++];
    return v % n;
  }
  return static_cast<std::uint32_t>(((Next() >> 32) * n) >> 32);
}

// ---------------------------------------------------------------------------------------------
// GeneratedRequest

policy::Request GeneratedRequest::ToRequest() const {
  policy::Request r;
  r.principal = principal;
  r.action = action;
  r.resource = resource;
  r.resource_account = resource_account;
  for (const Entry& e : context) {
    r.context.Set(e.key, e.is_list ? policy::ContextValue::List(e.values)
                                   : policy::ContextValue::Scalar(e.values[0]));
  }
  return r;
}

std::string GeneratedRequest::ToJson() const {
  std::string out = "{\"principal\":";
  Quote(out, principal);
  out += ",\"action\":";
  Quote(out, action);
  out += ",\"resource\":";
  Quote(out, resource);
  if (!resource_account.empty()) {
    out += ",\"resourceAccount\":";
    Quote(out, resource_account);
  }
  if (!context.empty()) {
    out += ",\"context\":{";
    for (std::size_t i = 0; i < context.size(); ++i) {
      const Entry& e = context[i];
      if (i > 0) out += ',';
      Quote(out, e.key);
      out += ':';
      if (e.is_list) {
        out += '[';
        for (std::size_t j = 0; j < e.values.size(); ++j) {
          if (j > 0) out += ',';
          AppendValue(out, e.values[j], e.json);
        }
        out += ']';
      } else {
        AppendValue(out, e.values[0], e.json);
      }
    }
    out += '}';
  }
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
// CaseGenerator

CaseGenerator::CaseGenerator(Choices* choices, GeneratorOptions options)
    : choices_(choices), options_(options) {}

int CaseGenerator::Service() {
  if (choices_->Percent(65)) return profile_.focus_service;
  return static_cast<int>(choices_->Below(static_cast<std::uint32_t>(Services().size())));
}

std::string CaseGenerator::ActionPattern() {
  Choices& c = *choices_;
  if (c.Percent(4)) return "*";
  const ServiceInfo& svc = Services()[static_cast<std::size_t>(Service())];
  std::string prefix(svc.prefix);
  std::string name = c.Percent(80) ? c.Pick(svc.actions) : c.Pick(svc.resourceless);
  profile_.actions.push_back(prefix + ":" + name);
  switch (c.Below(10)) {
    case 0:  // service-wide
      name = "*";
      break;
    case 1:  // prefix wildcard
      name = name.substr(0, 1 + c.Below(static_cast<std::uint32_t>(name.size()))) + "*";
      break;
    case 2:  // suffix wildcard
      name = "*" + name.substr(c.Below(static_cast<std::uint32_t>(name.size())));
      break;
    case 3: {  // '?' for one character
      std::size_t at = c.Below(static_cast<std::uint32_t>(name.size()));
      name[at] = '?';
      break;
    }
    case 4:  // case variants of prefix and name
      for (char& ch : prefix) {
        if (c.Percent(50)) ch = FlipCase(ch);
      }
      for (char& ch : name) {
        if (c.Percent(30)) ch = FlipCase(ch);
      }
      break;
    case 5:  // a near miss
      name += "s";
      break;
    default:
      break;
  }
  return prefix + ":" + name;
}

std::string CaseGenerator::ResourcePattern(bool v2012) {
  Choices& c = *choices_;
  if (c.Percent(10)) return "*";
  const ServiceInfo& svc = Services()[static_cast<std::size_t>(Service())];
  const std::string& concrete = c.Pick(svc.resources);
  profile_.resources.push_back(concrete);
  std::vector<std::string> f = SplitFields(concrete);
  std::string& res = f[5];
  switch (c.Below(22)) {
    case 0:
      res = "*";
      break;
    case 1:  // cut the resource field: '*' crosses '/' and ':'
      res = res.substr(0, c.Below(static_cast<std::uint32_t>(res.size()) + 1)) + "*";
      break;
    case 2: {
      std::size_t at = c.Below(static_cast<std::uint32_t>(res.size()));
      res[at] = '?';
      break;
    }
    case 3: {  // resource field is case-sensitive
      std::size_t at = c.Below(static_cast<std::uint32_t>(res.size()));
      res[at] = FlipCase(res[at]);
      break;
    }
    case 4:  // partition, service, region, account compared case-insensitively
      for (std::size_t i = 1; i < 5; ++i) {
        for (char& ch : f[i]) {
          if (c.Percent(40)) ch = FlipCase(ch);
        }
      }
      break;
    case 5:  // wildcards in the other fields
      f[1 + c.Below(4)] = "*";
      if (c.Percent(40)) f[3 + c.Below(2)] = c.Percent(50) ? "*" : "";
      break;
    case 6:  // partial wildcards in the other fields
      if (!f[3].empty()) f[3] = f[3].substr(0, 3) + "*";
      if (!f[4].empty() && c.Percent(50)) f[4] = f[4].substr(0, 4) + "?" + f[4].substr(5);
      if (c.Percent(30)) f[2] = f[2].substr(0, 1) + "*";
      break;
    case 7: {  // short ARN: the last field usually ends in '*' and spans the missing ones
      std::size_t count = 2 + c.Below(4);
      std::string out = JoinFields(f, count);
      if (c.Percent(85)) {
        out += "*";
      }
      return out;
    }
    case 8:  // a field ending in '*' absorbing the following fields
      return JoinFields(f, 2 + c.Below(3)) + ":*" + (c.Percent(50) ? "" : ":" + res);
    case 9:
    case 10:
      if (v2012 || c.Percent(20)) {
        static const std::vector<std::string> kVarParts = {"${aws:username}",
                                                           "${aws:PrincipalTag/team}",
                                                           "${aws:PrincipalTag/team, 'eng'}",
                                                           "${aws:nokey, 'public'}",
                                                           "${aws:nokey}",
                                                           "${*}",
                                                           "${?}",
                                                           "${aws:PrincipalAccount}",
                                                           "${s3:prefix}"};
        std::size_t slash = res.find('/');
        std::string var = c.Pick(kVarParts);
        if (slash == std::string::npos) {
          res += "-" + var;
        } else {
          res = res.substr(0, slash + 1) + var + (c.Percent(60) ? "/*" : "");
        }
      }
      break;
    case 11:  // another service's ARN
      f = SplitFields(c.Pick(Services()[c.Below(7)].resources));
      break;
    default:
      break;
  }
  return JoinFields(f, 6);
}

std::string CaseGenerator::PrincipalBlock(bool allow_wildcard) {
  Choices& c = *choices_;
  if (allow_wildcard && c.Percent(20)) return c.Percent(50) ? "\"*\"" : "{\"AWS\":\"*\"}";
  std::string out = "{";
  bool any = false;
  std::uint32_t shape = c.Below(10);
  if (shape < 7 || shape == 9) {
    std::vector<std::string> values;
    std::uint32_t n = 1 + c.Below(3);
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::string& v = c.Pick(AwsPrincipalValues());
      bool dup = false;
      for (const std::string& x : values) dup = dup || x == v;
      if (!dup) values.push_back(v);
    }
    out += "\"AWS\":" + ListOrSingle(c, values);
    any = true;
  }
  if (shape >= 7) {
    if (any) out += ',';
    out += "\"Service\":";
    Quote(out, c.Pick(ServicePrincipalValues()));
    any = true;
  }
  if (shape == 8 || c.Percent(5)) {
    out += ",\"Federated\":";
    Quote(out, c.Pick(FederatedPrincipalValues()));
  }
  out += '}';
  return out;
}

std::string CaseGenerator::Condition(bool v2012) {
  Choices& c = *choices_;
  // operator name -> clauses; operators and keys unique within the block.
  std::vector<std::pair<std::string, std::vector<std::string>>> blocks;
  std::vector<std::pair<std::string, std::string>> used;  // (operator, lower key)
  std::uint32_t n = 1 + (c.Percent(30) ? 1 : 0);
  for (std::uint32_t i = 0; i < n; ++i) {
    const KeySpec& key = c.Pick(Keys());
    std::string op;
    std::vector<std::string> values;
    bool is_null = c.Percent(8);
    if (is_null) {
      op = "Null";
      values.push_back(c.Percent(50) ? "true" : "false");
    } else {
      op = c.Pick(Operators(key.type));
      bool qualifier_ok = key.type != KeyType::kBool && key.type != KeyType::kBinary;
      if (qualifier_ok && (key.multivalued ? c.Percent(85) : c.Percent(8))) {
        op = (c.Percent(50) ? "ForAllValues:" : "ForAnyValue:") + op;
      }
      if (c.Percent(15)) op += "IfExists";
      std::uint32_t count = key.type == KeyType::kBool ? 1 : 1 + c.Below(3);
      for (std::uint32_t j = 0; j < count; ++j) {
        std::string v = c.Pick(key.policy_values);
        if (HasVariable(v) && !v2012 && c.Percent(50)) continue;
        bool dup = false;
        for (const std::string& x : values) dup = dup || x == v;
        if (!dup) values.push_back(v);
      }
      if (values.empty()) values.push_back(key.policy_values[0]);
    }
    std::string key_text = key.key;
    if (c.Percent(10)) key_text = ToLower(key_text);
    bool clash = false;
    for (const auto& [o, k] : used) clash = clash || (o == op && k == ToLower(key_text));
    if (clash) continue;
    used.emplace_back(op, ToLower(key_text));
    std::string clause;
    Quote(clause, key_text);
    clause += ':';
    if (key.type == KeyType::kBool && c.Percent(30)) {
      clause += values[0];  // a JSON boolean
    } else if (key.type == KeyType::kNumeric && c.Percent(30) && values.size() == 1 &&
               values[0] != "-1") {
      clause += values[0];  // a JSON number
    } else {
      clause += ListOrSingle(c, values);
    }
    bool placed = false;
    for (auto& [o, clauses] : blocks) {
      if (o == op) {
        clauses.push_back(clause);
        placed = true;
      }
    }
    if (!placed) blocks.push_back({op, {clause}});
  }
  std::string out = "{";
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i > 0) out += ',';
    Quote(out, blocks[i].first);
    out += ":{";
    for (std::size_t j = 0; j < blocks[i].second.size(); ++j) {
      if (j > 0) out += ',';
      out += blocks[i].second[j];
    }
    out += '}';
  }
  out += '}';
  return out;
}

std::string CaseGenerator::Statement(PolicyKind kind, bool v2012, int index) {
  Choices& c = *choices_;
  std::string out = "{";
  if (c.Percent(60)) out += "\"Sid\":\"S" + std::to_string(index) + "\",";
  int deny_percent = 30;
  switch (kind) {
    case PolicyKind::kIdentity:
      deny_percent = 22;
      break;
    case PolicyKind::kBoundary:
    case PolicyKind::kSession:
      deny_percent = 12;
      break;
    case PolicyKind::kResource:
    case PolicyKind::kTrust:
      deny_percent = 25;
      break;
    case PolicyKind::kScp:
      deny_percent = 70;
      break;
    case PolicyKind::kRcp:
      deny_percent = 100;
      break;
  }
  bool deny = c.Percent(static_cast<std::uint32_t>(deny_percent));
  out += deny ? "\"Effect\":\"Deny\"" : "\"Effect\":\"Allow\"";

  // Principal.
  if (kind == PolicyKind::kRcp) {
    out += ",\"Principal\":\"*\"";
  } else if (kind == PolicyKind::kResource || kind == PolicyKind::kTrust) {
    if (kind == PolicyKind::kResource && deny && c.Percent(20)) {
      out += ",\"NotPrincipal\":" + PrincipalBlock(false);
    } else {
      out += ",\"Principal\":" + PrincipalBlock(true);
    }
  }

  // Action.
  if (kind != PolicyKind::kTrust && kind != PolicyKind::kRcp && c.Percent(deny ? 10 : 30)) {
    // A broad grant or guardrail over the focus service.
    std::string prefix(Services()[static_cast<std::size_t>(Service())].prefix);
    out += ",\"Action\":\"" + prefix + ":*\",\"Resource\":\"*\"";
    if (c.Percent(25)) out += ",\"Condition\":" + Condition(v2012);
    out += '}';
    return out;
  }
  bool not_action = kind != PolicyKind::kRcp && c.Percent(12);
  std::vector<std::string> actions;
  if (kind == PolicyKind::kTrust) {
    static const std::vector<std::string> kTrustActions = {"sts:AssumeRole",
                                                           "sts:TagSession",
                                                           "sts:AssumeRoleWithSAML",
                                                           "sts:AssumeRoleWithWebIdentity",
                                                           "sts:*",
                                                           "sts:AssumeRole*",
                                                           "STS:assumerole",
                                                           "sts:SetSourceIdentity"};
    std::uint32_t n = 1 + c.Below(2);
    for (std::uint32_t i = 0; i < n; ++i) actions.push_back(c.Pick(kTrustActions));
    not_action = not_action && c.Percent(30);
  } else {
    std::uint32_t n = 1 + c.Below(3);
    for (std::uint32_t i = 0; i < n; ++i) actions.push_back(ActionPattern());
  }
  out += not_action ? ",\"NotAction\":" : ",\"Action\":";
  out += ListOrSingle(c, actions);
  const std::size_t resources_before = profile_.resources.size();

  // Resource.
  if (kind != PolicyKind::kTrust) {
    std::vector<std::string> resources;
    const bool not_resource = c.Percent(10);
    // The oracle reads short ARNs (fewer than six fields) its own way per policy kind (README.md):
    // padded with "*" fields, as Semantics::oracle_short_arn_padding does, only in the Resource
    // element of identity, boundary and session policies. Keep them out of its other cases.
    const bool short_arns_ok = !options_.oracle_inputs ||
                               ((kind == PolicyKind::kIdentity || kind == PolicyKind::kBoundary ||
                                 kind == PolicyKind::kSession) &&
                                !not_resource);
    if (kind == PolicyKind::kResource && profile_.focus_service == kKmsService && c.Percent(70)) {
      resources.push_back("*");  // a KMS key policy: "*" means this key
    } else {
      std::uint32_t n = 1 + c.Below(2);
      for (std::uint32_t i = 0; i < n; ++i) {
        std::string pattern = ResourcePattern(v2012);
        while (!short_arns_ok && pattern != "*" &&
               std::count(pattern.begin(), pattern.end(), ':') < 5) {
          pattern = ResourcePattern(v2012);
        }
        resources.push_back(pattern);
      }
    }
    if (!profile_.actions.empty() && profile_.resources.size() > resources_before) {
      profile_.pairs.emplace_back(profile_.actions.back(), profile_.resources.back());
    }
    out += not_resource ? ",\"NotResource\":" : ",\"Resource\":";
    out += ListOrSingle(c, resources);
  }

  if (c.Percent(kind == PolicyKind::kRcp ? 70 : 25)) out += ",\"Condition\":" + Condition(v2012);
  out += '}';
  return out;
}

std::string CaseGenerator::Document(PolicyKind kind) {
  Choices& c = *choices_;
  std::string out = "{";
  bool v2012 = true;
  if (kind != PolicyKind::kRcp) {
    std::uint32_t v = c.Below(10);
    if (v == 0) {
      v2012 = false;
      out += "\"Version\":\"2008-10-17\",";
    } else if (v == 1) {
      v2012 = false;
    } else {
      out += "\"Version\":\"2012-10-17\",";
    }
  } else {
    out += "\"Version\":\"2012-10-17\",";
  }
  std::uint32_t n = 1 + c.Below(static_cast<std::uint32_t>(options_.max_statements));
  if (n == 1 && c.Percent(20)) {
    out += "\"Statement\":" + Statement(kind, v2012, 0);
  } else {
    out += "\"Statement\":[";
    for (std::uint32_t i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      out += Statement(kind, v2012, static_cast<int>(i));
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string CaseGenerator::NamedOrPlain(PolicyKind kind) {
  if (choices_->Percent(15)) {
    std::string name = "p" + std::to_string(choices_->Below(7));
    return "{\"name\":\"" + name + "\",\"policy\":" + Document(kind) + "}";
  }
  return Document(kind);
}

std::string CaseGenerator::ScpOrRcpLevels(PolicyKind kind) {
  Choices& c = *choices_;
  static const std::string kFullAccessScp =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}})";
  static const std::string kFullAccessRcp =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]})";
  std::string out = "[";
  std::uint32_t levels = 1 + c.Below(3);
  for (std::uint32_t l = 0; l < levels; ++l) {
    if (l > 0) out += ',';
    std::vector<std::string> docs;
    if (c.Percent(kind == PolicyKind::kRcp ? 90 : 80)) {
      docs.push_back(kind == PolicyKind::kRcp ? kFullAccessRcp : kFullAccessScp);
    }
    std::uint32_t extra = c.Below(2) + (docs.empty() ? 1 : 0);
    for (std::uint32_t i = 0; i < extra; ++i) docs.push_back(Document(kind));
    std::uint32_t form = docs.size() == 1 ? c.Below(3) : 1 + c.Below(2);
    if (form == 0) {
      out += docs[0];
    } else {
      if (form == 2) out += "{\"policies\":";
      out += '[';
      for (std::size_t i = 0; i < docs.size(); ++i) {
        if (i > 0) out += ',';
        out += docs[i];
      }
      out += ']';
      if (form == 2) out += '}';
    }
  }
  out += ']';
  return out;
}

std::string CaseGenerator::PolicySetMembers() {
  Choices& c = *choices_;
  profile_ = SetProfile();
  profile_.focus_service = static_cast<int>(c.Below(static_cast<std::uint32_t>(Services().size())));
  profile_.has_resource_policy = c.Percent(45);
  profile_.trust =
      profile_.has_resource_policy && profile_.focus_service == kStsService && c.Percent(80);
  std::vector<std::string> members;
  if (c.Percent(93)) {
    std::string m = "\"identityPolicies\":[";
    std::uint32_t n = 1 + c.Below(2);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (i > 0) m += ',';
      m += NamedOrPlain(PolicyKind::kIdentity);
    }
    members.push_back(m + "]");
  }
  if (c.Percent(22)) {
    members.push_back("\"permissionBoundaries\":[" + NamedOrPlain(PolicyKind::kBoundary) + "]");
    profile_.has_boundary = true;
  }
  if (c.Percent(20)) {
    if (c.Percent(50)) {
      members.push_back("\"sessionPolicy\":" + NamedOrPlain(PolicyKind::kSession));
    } else {
      std::string m = "\"sessionPolicy\":[" + NamedOrPlain(PolicyKind::kSession);
      if (c.Percent(40)) m += "," + NamedOrPlain(PolicyKind::kSession);
      members.push_back(m + "]");
    }
  }
  profile_.has_principal_side = !members.empty();
  profile_.has_session = members.size() > 0 && members.back().rfind("\"sessionPolicy\"", 0) == 0;
  if (profile_.has_resource_policy) {
    members.push_back("\"resourcePolicy\":" +
                      NamedOrPlain(profile_.trust ? PolicyKind::kTrust : PolicyKind::kResource));
  }
  if (c.Percent(18)) {
    members.push_back("\"scps\":" + ScpOrRcpLevels(PolicyKind::kScp));
    profile_.has_principal_side = true;
  }
  if (c.Percent(15)) members.push_back("\"rcps\":" + ScpOrRcpLevels(PolicyKind::kRcp));
  std::string out;
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ',';
    out += members[i];
  }
  return out;
}

GeneratedRequest CaseGenerator::NextRequest() {
  Choices& c = *choices_;
  GeneratedRequest r;

  // The caller.
  int total = 0;
  for (const CallerSpec& s : Callers()) total += s.weight;
  int pick = static_cast<int>(c.Below(static_cast<std::uint32_t>(total)));
  const CallerSpec* caller = &Callers()[0];
  for (const CallerSpec& s : Callers()) {
    if (pick < s.weight) {
      caller = &s;
      break;
    }
    pick -= s.weight;
  }
  if (options_.oracle_inputs) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const std::string& who = caller->principal;
      // The oracle applies principal-side policies to service principals too; xrole, as
      // documented, gives service principals only the resource policy. Keep such inputs out.
      bool anonymous = who.empty() || who == "anonymous" || who == "*" ||
                       (who.find(':') == std::string::npos && who.find('.') != std::string::npos);
      bool session_capable = who.find(":role/") != std::string::npos ||
                             who.find(":assumed-role/") != std::string::npos ||
                             who.find(":federated-user/") != std::string::npos;
      // The root user cannot have a permissions boundary (they attach to users and roles);
      // xrole ignores one given for root, the oracle applies it.
      bool root = who.find(":root") != std::string::npos ||
                  (who.size() == 12 && who.find_first_not_of("0123456789") == std::string::npos);
      if (!(anonymous && profile_.has_principal_side) &&
          !(profile_.has_session && !session_capable) && !(root && profile_.has_boundary)) {
        break;
      }
      caller = &Callers()[c.Below(static_cast<std::uint32_t>(Callers().size()))];
    }
  }
  r.principal = caller->principal;

  // The action and resource.
  if (profile_.trust) {
    const ServiceInfo& sts = Services()[kStsService];
    r.action = "sts:" + (c.Percent(60) ? std::string("AssumeRole") : c.Pick(sts.actions));
    r.resource = c.Pick(sts.resources);
  } else {
    int service = Service();
    std::string reused_action;
    std::string paired_resource;
    if (!profile_.pairs.empty() && c.Percent(55)) {
      const auto& pair = c.Pick(profile_.pairs);
      reused_action = pair.first;
      paired_resource = pair.second;
    } else if (!profile_.actions.empty() && c.Percent(60)) {
      reused_action = c.Pick(profile_.actions);
    }
    if (!reused_action.empty()) {
      for (std::size_t i = 0; i < Services().size(); ++i) {
        if (reused_action.compare(0, Services()[i].prefix.size() + 1,
                                  std::string(Services()[i].prefix) + ":") == 0) {
          service = static_cast<int>(i);
        }
      }
    }
    const ServiceInfo& svc = Services()[static_cast<std::size_t>(service)];
    bool resourceless = c.Percent(12);
    r.action = std::string(svc.prefix) + ":" +
               (resourceless ? c.Pick(svc.resourceless) : c.Pick(svc.actions));
    if (!reused_action.empty()) {
      r.action = reused_action;
      for (const std::string& a : svc.resourceless) {
        resourceless = resourceless || reused_action.substr(svc.prefix.size() + 1) == a;
      }
    }
    std::vector<std::string> reusable;
    for (const std::string& arn : profile_.resources) {
      if (arn.compare(0, 8 + svc.prefix.size(), "arn:aws:" + std::string(svc.prefix)) == 0) {
        reusable.push_back(arn);
      }
    }
    if (resourceless) {
      r.resource = c.Percent(75) ? "*" : "";
    } else if (!paired_resource.empty() && c.Percent(90)) {
      r.resource = paired_resource;
    } else if (!reusable.empty() && c.Percent(75)) {
      r.resource = c.Pick(reusable);
    } else if (c.Percent(92)) {
      r.resource = c.Pick(svc.resources);
    } else {
      r.resource = c.Pick(Services()[c.Below(7)].resources);
    }
    if (profile_.has_resource_policy && service == kStsService &&
        r.resource.find(":role/") != std::string::npos) {
      // A non-trust resource policy cannot be read as a trust policy: keep to resource-less.
      r.resource = "*";
      r.action = "sts:" + c.Pick(svc.resourceless);
    }
    if (options_.oracle_inputs && profile_.has_resource_policy &&
        (service == kStsService || r.resource.empty() || r.resource == "*")) {
      // A resource policy belongs to a resource: an action that takes none has none, and the
      // only resource policy STS reads is a role's trust policy. The oracle reads any resource
      // policy given with an sts:* request as a trust policy (explicit trust), xrole only for
      // one on a role ARN. Ask such sets about a resource of another service instead.
      int other = service;
      while (other == kStsService) {
        other = static_cast<int>(c.Below(static_cast<std::uint32_t>(Services().size())));
      }
      const ServiceInfo& with_resource = Services()[static_cast<std::size_t>(other)];
      r.action = std::string(with_resource.prefix) + ":" + c.Pick(with_resource.actions);
      std::vector<std::string> same_service;
      for (const std::string& arn : profile_.resources) {
        if (arn.compare(0, 9 + with_resource.prefix.size(),
                        "arn:aws:" + std::string(with_resource.prefix) + ":") == 0) {
          same_service.push_back(arn);
        }
      }
      r.resource = !same_service.empty() && c.Percent(75) ? c.Pick(same_service)
                                                          : c.Pick(with_resource.resources);
    }
    if (c.Percent(4)) {  // a case variant of the requested action
      for (char& ch : r.action) {
        if (c.Percent(30)) ch = FlipCase(ch);
      }
      if (profile_.has_resource_policy && r.action.size() > 3 &&
          ToLower(r.action.substr(0, 4)) == "sts:" &&
          r.resource.find(":role/") != std::string::npos) {
        r.action = "s3:GetObject";
      }
    }
  }
  // Keep most requests inside the caller's account: cross-account requests need a resource
  // policy, so too many of them make implicit denies dominate.
  if (!profile_.trust && !caller->account.empty() && r.resource.size() > 8 &&
      r.resource.find(caller->account) == std::string::npos &&
      r.resource.find(caller->account == kAccountA ? kAccountB : kAccountA) != std::string::npos &&
      c.Percent(70)) {
    const std::string other(caller->account == kAccountA ? kAccountB : kAccountA);
    r.resource.replace(r.resource.find(other), other.size(), caller->account);
  }
  if (options_.oracle_inputs && r.resource != "*") {
    // The oracle reads a '*' in the requested ARN as a wildcard (it also answers questions
    // about sets of resources); xrole reads it as the literal character of an S3 key.
    std::replace(r.resource.begin(), r.resource.end(), '*', '-');
  }
  if (c.Percent(8)) r.resource_account = c.Percent(50) ? kAccountA : kAccountB;

  // The context.
  for (std::size_t k = 0; k < Keys().size(); ++k) {
    const KeySpec& spec = Keys()[k];
    if (options_.oracle_inputs && !spec.oracle_known) continue;
    GeneratedRequest::Entry e;
    e.key = spec.key;
    if (c.Percent(8)) e.key = ToLower(e.key);
    if (spec.key == "aws:PrincipalArn") {
      if (caller->principal_arn.empty() || !c.Percent(70)) continue;
      e.values.push_back(c.Percent(90) ? caller->principal_arn
                                       : std::string("arn:aws:iam::111122223333:role/Other"));
    } else if (spec.key == "aws:username") {
      if (caller->username.empty() || !c.Percent(60)) continue;
      e.values.push_back(c.Percent(90) ? caller->username : std::string("mallory"));
    } else {
      if (!c.Percent(spec.multivalued ? 45 : 30)) continue;
      bool as_list = spec.multivalued ? c.Percent(85) : (!options_.oracle_inputs && c.Percent(4));
      if (as_list) {
        e.is_list = true;
        std::uint32_t n = c.Below(4);
        if (n == 0 && c.Percent(40)) {
          e.values.push_back("");  // a single empty string
        }
        for (std::uint32_t i = 0; i < n; ++i) {
          const ValueSpec& v = c.Pick(spec.request_values);
          bool dup = false;
          for (const std::string& x : e.values) dup = dup || x == v.text;
          if (!dup) e.values.push_back(v.text);
        }
        // List items are written as strings unless every item can be a JSON literal.
        e.json = J::kString;
      } else {
        const ValueSpec& v = c.Pick(spec.request_values);
        e.values.push_back(v.text);
        e.json = c.Percent(50) && !options_.oracle_inputs ? v.json : J::kString;
      }
    }
    r.context.push_back(std::move(e));
  }
  // Tags used by policy variables.
  if (c.Percent(30)) {
    GeneratedRequest::Entry e;
    e.key = "aws:PrincipalTag/dept";
    e.values.push_back(c.Percent(50) ? "eng" : "ops");
    r.context.push_back(std::move(e));
  }
  if (!caller->account.empty() && c.Percent(40)) {
    GeneratedRequest::Entry e;
    e.key = "aws:PrincipalAccount";
    e.values.push_back(caller->account);
    r.context.push_back(std::move(e));
  }
  return r;
}

GeneratedRequest CaseGenerator::RepresentativeRequest(const SetProfile& profile) {
  GeneratedRequest r;
  r.principal = "arn:aws:iam::111122223333:user/alice";
  if (profile.trust) {
    r.action = "sts:AssumeRole";
    r.resource = "arn:aws:iam::111122223333:role/Admin";
  } else {
    r.action = "s3:GetObject";
    r.resource = "arn:aws:s3:::bucket-a/alice/doc.txt";
  }
  return r;
}

std::string CaseGenerator::CaseJson(std::string_view id, std::string_view policy_members,
                                    const GeneratedRequest& request) {
  std::string out = "{\"id\":";
  Quote(out, id);
  if (!policy_members.empty()) {
    out += ',';
    out += policy_members;
  }
  out += ",\"request\":";
  out += request.ToJson();
  out += '}';
  return out;
}

std::string CaseGenerator::NextCase(std::string_view id) {
  std::string members = PolicySetMembers();
  GeneratedRequest request = NextRequest();
  return CaseJson(id, members, request);
}

Result<policy::EvalCase> ParseCaseJson(std::string_view text) {
  auto root = json::Parse(text);
  if (!root.ok()) return root.error();
  return policy::ParseEvalCase(**root);
}

std::string DiffRequests(const policy::Request& a, const policy::Request& b) {
  if (a.principal != b.principal) return "principal";
  if (a.action != b.action) return "action";
  if (a.resource != b.resource) return "resource";
  if (a.resource_account != b.resource_account) return "resourceAccount";
  if (a.context.size() != b.context.size()) return "context size";
  for (const auto& [key, value] : a.context.values()) {
    const policy::ContextValue* other = b.context.Find(key);
    if (other == nullptr) return "context key `" + key + "` missing";
    if (other->is_list != value.is_list || other->values != value.values) {
      return "context key `" + key + "` differs";
    }
  }
  return "";
}

bool SameResult(const policy::EvaluationResult& a, const policy::EvaluationResult& b) {
  return a.decision == b.decision && a.denied_by == b.denied_by && a.reasons == b.reasons;
}

}  // namespace xrole::testing
