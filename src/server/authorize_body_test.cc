#include "server/authorize_body.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace xrole::server {
namespace {

// Equal requests: every member, the context key by key.
::testing::AssertionResult SameRequests(const AuthorizeBody& fast, const AuthorizeBody& slow) {
  if (fast.is_batch != slow.is_batch) return ::testing::AssertionFailure() << "batch form differs";
  if (fast.requests.size() != slow.requests.size()) {
    return ::testing::AssertionFailure() << "request count differs";
  }
  for (std::size_t i = 0; i < fast.requests.size(); ++i) {
    const auto& a = fast.requests[i];
    const auto& b = slow.requests[i];
    if (a.session_token != b.session_token || a.access_key_id != b.access_key_id ||
        a.action != b.action || a.resource != b.resource || a.explain != b.explain) {
      return ::testing::AssertionFailure() << "request " << i << " differs";
    }
    if (a.context.size() != b.context.size()) {
      return ::testing::AssertionFailure() << "request " << i << " context size differs";
    }
    for (const auto& [key, value] : a.context.values()) {
      const policy::ContextValue* other = b.context.Find(key);
      if (other == nullptr || other->is_list != value.is_list || other->values != value.values) {
        return ::testing::AssertionFailure() << "request " << i << " context key " << key;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// The contract: whenever the fast parse answers, the parse of record accepts the body and reads
// the same requests; the body itself is left as it was.
::testing::AssertionResult Agree(const std::string& text, bool* fast_answered = nullptr) {
  std::string body = text;
  std::optional<AuthorizeBody> fast = ParseAuthorizeBodyFast(body);
  if (body != text) return ::testing::AssertionFailure() << "the fast parse changed the body";
  if (fast_answered != nullptr) *fast_answered = fast.has_value();
  if (!fast) return ::testing::AssertionSuccess();
  Result<AuthorizeBody> slow = ParseAuthorizeBody(text);
  if (!slow.ok()) {
    return ::testing::AssertionFailure()
           << "fast parse accepted what the parse of record refuses: " << slow.error().message();
  }
  return SameRequests(*fast, *slow);
}

const std::string kToken = "xrt1.eyJzaWQiOiJzLTEyMyJ9.c2lnbmF0dXJl_-";

TEST(AuthorizeBodyTest, FastParseReadsTheCommonShapes) {
  const std::vector<std::string> bodies = {
      R"({"sessionToken":")" + kToken +
          R"(","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"})",
      R"({ "action" : "ec2:DescribeInstances" , "sessionToken" : ")" + kToken + "\" }\n",
      R"({"accessKeyId":"XRIA1234","action":"s3:GetObject","resource":null,"explain":true})",
      R"({"sessionToken":"t","action":"s3:PutObject","context":{"aws:SourceIp":"10.0.0.1",)"
      R"("aws:SecureTransport":true,"aws:TagKeys":["a","b"],"s3:prefix":[]}})",
      R"({"sessionToken":"t","action":"a:b","context":{"K":"upper","k":"lower"}})",
      R"({"sessionToken":"t","action":"a:b","resource":"café ☃ 𝄞"})",
      R"({"requests":[{"sessionToken":"t","action":"s3:GetObject"},)"
      R"({"sessionToken":"u","action":"s3:PutObject","explain":false}]})",
  };
  for (const auto& text : bodies) {
    std::string body = text;
    std::optional<AuthorizeBody> fast = ParseAuthorizeBodyFast(body);
    EXPECT_TRUE(fast.has_value()) << text;
    EXPECT_TRUE(Agree(text)) << text;
  }
  std::string body = bodies[0];
  auto parsed = ParseAuthorizeBodyFast(body);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->is_batch);
  ASSERT_EQ(parsed->requests.size(), 1u);
  EXPECT_EQ(parsed->requests[0].session_token, kToken);
  EXPECT_EQ(parsed->requests[0].action, "s3:GetObject");
  EXPECT_EQ(parsed->requests[0].resource, "arn:aws:s3:::b/k");

  body = bodies[4];  // keys differing in case: the later in byte order wins, as in the DOM
  parsed = ParseAuthorizeBodyFast(body);
  ASSERT_TRUE(parsed);
  ASSERT_NE(parsed->requests[0].context.Find("k"), nullptr);
  EXPECT_EQ(parsed->requests[0].context.Find("k")->values, std::vector<std::string>{"lower"});

  body = bodies[6];
  parsed = ParseAuthorizeBodyFast(body);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->is_batch);
  ASSERT_EQ(parsed->requests.size(), 2u);
  EXPECT_EQ(parsed->requests[1].session_token, "u");
}

TEST(AuthorizeBodyTest, FastParseDeclinesWhatItDoesNotRecognise) {
  const std::vector<std::string> bodies = {
      "",
      "[]",
      "null",
      R"({"action":"s3:GetObject","resource":"a\"b"})",            // an escape
      R"({"action":"s3:GetObject","resource":"\ud800"})",          // a lone surrogate
      R"({"action":"s3:GetObject","resource":"tab	here"})",  // a raw control character
      R"({"action":"s3:GetObject","context":{"n":1}})",            // a number in the context
      R"({"action":"s3:GetObject","context":{"n":[1.0]}})",
      R"({"action":"s3:GetObject","context":{"n":null}})",
      R"({"action":"s3:GetObject","context":{"o":{}}})",
      R"({"action":"s3:GetObject","context":{"k":"a","k":"b"}})",  // a repeated key
      R"({"action":"s3:GetObject","action":"s3:PutObject"})",
      R"({"action":"s3:GetObject","other":1})",  // an unknown member
      R"({"act\u0069on":"s3:GetObject"})",       // an escaped name
      R"({"action":"s3:GetObject"} trailing)",
      R"({"action":"s3:GetObject",})",
      R"({"action":"s3:GetObject","resource":"a": "b":"c"}})",  // found by the fuzzer
      R"({"action":"s3:GetObject","resource":"a" "b"})",
      R"({"action":"s3:GetObject","context":{"k":["a" "b"]}})",
      R"({"action":"s3:GetObject")",
      R"({"action":"GetObject"})",  // no service: the parse of record gives the error
      R"({"resource":"*"})",        // no action
      R"({"action":"s3:GetObject","explain":"yes"})",
      R"({"action":7})",
      R"({"requests":[]})",
      R"({"requests":{}})",
      R"({"requests":[1]})",
      R"({"requests":[{"action":"s3:GetObject"}],"action":"s3:GetObject"})",
      R"({"action":"s3:GetObject","requests":[{"action":"s3:GetObject"}]})",
      "\xef\xbb\xbf{\"action\":\"s3:GetObject\"}",                    // a byte-order mark
      "{\"action\":\"s3:GetObject\",\"resource\":\"\xc3\x28\"}",      // invalid UTF-8
      "{\"action\":\"s3:GetObject\",\"resource\":\"\xed\xa0\x80\"}",  // an encoded surrogate
  };
  for (const auto& text : bodies) {
    bool answered = true;
    EXPECT_TRUE(Agree(text, &answered)) << text;
    EXPECT_FALSE(answered) << text;
  }
}

TEST(AuthorizeBodyTest, BatchesOverTheLimitAreLeftToTheParseOfRecord) {
  std::string text = R"({"requests":[)";
  for (std::size_t i = 0; i <= kMaxAuthorizeBatch; ++i) {
    if (i != 0) text += ',';
    text += R"({"sessionToken":"t","action":"s3:GetObject"})";
  }
  text += "]}";
  std::string body = text;
  EXPECT_FALSE(ParseAuthorizeBodyFast(body).has_value());
  Result<AuthorizeBody> slow = ParseAuthorizeBody(text);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.error().path(), "requests");
}

TEST(AuthorizeBodyTest, TheParseOfRecordNamesWhatIsWrong) {
  struct Case {
    std::string body;
    std::string path;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {R"({"resource":"*"})", "action", "`action` is required"},
      {R"({"action":"GetObject"})", "action", "`service:Action`"},
      {R"({"action":"s3:GetObject","resource":5})", "resource", "must be a string"},
      {R"({"action":"s3:GetObject","context":{"k":null}})", "context.k", "context values"},
      {R"({"requests":[{"action":"s3:GetObject"},{"action":"x"}]})", "requests[1].action",
       "`service:Action`"},
      {R"({"requests":[{"action":"s3:GetObject"},{"action":"s3:Get","context":{"k":[[]]}}]})",
       "requests[1].context.k", "scalars"},
      {R"({"requests":[]})", "requests", "1 to 1000"},
      {R"({"action":"s3:GetObject")", "", "not valid JSON"},
  };
  for (const auto& c : cases) {
    Result<AuthorizeBody> parsed = ParseAuthorizeBody(c.body);
    ASSERT_FALSE(parsed.ok()) << c.body;
    EXPECT_EQ(parsed.error().path(), c.path) << c.body;
    EXPECT_NE(parsed.error().message().find(c.message_part), std::string::npos)
        << c.body << ": " << parsed.error().message();
  }
}

// Random bodies built from the members the fast parse knows and from hostile pieces, then
// randomly damaged: the two parses must never disagree.
TEST(AuthorizeBodyTest, RandomBodiesNeverMakeTheParsesDisagree) {
  std::mt19937 random(20261129);
  const std::vector<std::string> keys = {"sessionToken", "accessKeyId", "action",
                                         "resource",     "context",     "explain",
                                         "requests",     "Action",      "x"};
  const std::vector<std::string> strings = {"\"s3:GetObject\"",
                                            "\"ec2:Stop\"",
                                            "\"\"",
                                            "\"a\\\"b\"",
                                            "\"\\u00e9\"",
                                            "\"é\"",
                                            "\"\\ud83d\\ude00\"",
                                            "\"\\ud800\"",
                                            "\"arn:aws:s3:::b/*\"",
                                            "\"\x01\""};
  const std::vector<std::string> scalars = {
      "true", "false", "null", "0", "-0", "1.5e3", "1E400", "12345678901234567890", "tru", "nul"};
  auto pick = [&](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(random)];
  };
  auto chance = [&](int percent) {
    return std::uniform_int_distribution<int>(0, 99)(random) < percent;
  };
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    const int kind = std::uniform_int_distribution<int>(0, depth > 2 ? 1 : 3)(random);
    if (kind == 0) return pick(strings);
    if (kind == 1) return pick(scalars);
    std::string out = kind == 2 ? "[" : "{";
    const int count = std::uniform_int_distribution<int>(0, 3)(random);
    for (int i = 0; i < count; ++i) {
      if (i != 0) out += ',';
      if (kind == 3) out += '"' + pick(keys) + (chance(30) ? "K" : "") + "\":";
      out += value(depth + 1);
    }
    return out + (kind == 2 ? "]" : "}");
  };
  // A plausible request: known members, each once, in random order, mostly of the right type.
  auto plausible_request = [&]() {
    std::vector<std::string> members = {"\"action\":\"s3:GetObject\""};
    if (chance(80)) members.push_back("\"sessionToken\":" + pick(strings));
    if (chance(50)) members.push_back("\"resource\":" + (chance(80) ? pick(strings) : "null"));
    if (chance(30)) members.push_back("\"explain\":" + pick(scalars));
    if (chance(40)) {
      members.push_back("\"context\":{\"aws:SourceIp\":" + pick(strings) + ",\"Aws:sourceip\":[" +
                        pick(strings) + "," + pick(scalars) + "],\"b\":" + pick(scalars) + "}");
    }
    std::shuffle(members.begin(), members.end(), random);
    std::string out = "{";
    for (std::size_t i = 0; i < members.size(); ++i) out += (i ? "," : "") + members[i];
    return out + "}";
  };
  auto request = [&]() {
    if (chance(60)) return plausible_request();
    std::string out = "{";
    const int count = std::uniform_int_distribution<int>(0, 5)(random);
    for (int i = 0; i < count; ++i) {
      if (i != 0) out += chance(97) ? "," : ",,";
      const std::string key = pick(keys);
      out += (chance(10) ? " \"" : "\"") + key + "\":";
      if (key == "action" && chance(70)) {
        out += pick(strings);
      } else if (key == "context" && chance(70)) {
        out += "{\"aws:SourceIp\":" + pick(strings) + ",\"k\":[" + pick(strings) + "," +
               pick(scalars) + "]}";
      } else {
        out += value(1);
      }
    }
    return out + "}";
  };
  int fast_answers = 0;
  for (int iteration = 0; iteration < 50000; ++iteration) {
    std::string text;
    if (chance(20)) {
      text = "{\"requests\":[";
      const int count = std::uniform_int_distribution<int>(0, 3)(random);
      for (int i = 0; i < count; ++i) text += (i ? "," : "") + request();
      text += "]}";
    } else {
      text = request();
    }
    if (chance(30)) {  // damage: drop, repeat or replace one byte
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(random);
      const int how = std::uniform_int_distribution<int>(0, 2)(random);
      if (how == 0) text.erase(at, 1);
      if (how == 1) text.insert(at, 1, text[at]);
      constexpr std::string_view kDamage = "{}[]\",:\\ a1\xff";
      if (how == 2) {
        text[at] =
            kDamage[std::uniform_int_distribution<std::size_t>(0, kDamage.size() - 1)(random)];
      }
    }
    bool answered = false;
    ASSERT_TRUE(Agree(text, &answered)) << text;
    fast_answers += answered ? 1 : 0;
  }
  // The generator must reach the fast parse often enough for this test to mean something.
  EXPECT_GT(fast_answers, 3000);
}

}  // namespace
}  // namespace xrole::server
