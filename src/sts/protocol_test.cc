#include "sts/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace xrole::sts {
namespace {

using ::testing::HasSubstr;

FormParams Form(std::string_view text) {
  auto parsed = ParseForm(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
  return parsed.ok() ? *parsed : FormParams{};
}

std::string ValidationMessage(std::string_view form) {
  auto request = ParseAssumeRole(Form(form));
  if (request.ok()) return "OK";
  EXPECT_EQ(request.error().code, "ValidationError") << form;
  return request.error().message;
}

constexpr std::string_view kMinimal =
    "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fx"
    "&RoleSessionName=s1";

TEST(FormTest, DecodesPlusPercentAndBareNames) {
  const FormParams params = Form("a=1+2&b=%41%2b%2F%e2%82%ac&c&d=&e=x=y&&");
  ASSERT_EQ(params.fields.size(), 5u);
  EXPECT_EQ(*params.Find("a"), "1 2");
  EXPECT_EQ(*params.Find("b"), "A+/\xE2\x82\xAC");
  EXPECT_EQ(*params.Find("c"), "");
  EXPECT_EQ(*params.Find("d"), "");
  EXPECT_EQ(*params.Find("e"), "x=y");
  EXPECT_EQ(params.Find("A"), nullptr);    // names are case-sensitive
  EXPECT_EQ(params.fields[0].first, "a");  // order kept
  EXPECT_TRUE(Form("").fields.empty());
}

TEST(FormTest, RejectsBadEscapesEmptyNamesAndRepeats) {
  for (const std::string_view bad : {"a=%", "a=%4", "a=%4g", "a=%%41", "%zz=1", "=1", "a=1&a=2"}) {
    auto parsed = ParseForm(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, "InvalidQueryParameter") << bad;
    EXPECT_EQ(HttpStatusForStsError(parsed.error().code), 400);
  }
}

TEST(FormTest, EncodeRoundTrips) {
  const std::string text = "a b+c/d&e=f~\xC3\xBC\x01";
  EXPECT_EQ(FormEncode(text), "a+b%2Bc%2Fd%26e%3Df~%C3%BC%01");
  auto decoded = ParseForm("x=" + FormEncode(text));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded->Find("x"), text);
}

TEST(FormTest, LargeBodies) {
  std::string policy = "{\"Version\":\"2012-10-17\",\"Statement\":[";
  for (int i = 0; i < 400; ++i) {
    if (i > 0) policy += ",";
    policy += "{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b" +
              std::to_string(i) + "/*\"}";
  }
  policy += "]}";
  const std::string body = std::string(kMinimal) + "&Policy=" + FormEncode(policy);
  ASSERT_GT(body.size(), 8u * 1024);
  auto query = ParseQueryRequest(body);
  ASSERT_TRUE(query.ok()) << query.error().message;
  auto request = ParseAssumeRole(query->params);
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->policy, policy);  // carried whatever its size: the broker decides
}

TEST(QueryRequestTest, ActionAndVersion) {
  auto ok = ParseQueryRequest("Action=GetCallerIdentity&Version=2011-06-15");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->action, "GetCallerIdentity");

  auto missing = ParseQueryRequest("Version=2011-06-15");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "MissingAction");

  auto no_version = ParseQueryRequest("Action=AssumeRole");
  ASSERT_FALSE(no_version.ok());
  EXPECT_EQ(no_version.error().code, "InvalidAction");
  EXPECT_EQ(no_version.error().message,
            "Could not find operation AssumeRole for version NO_VERSION_SPECIFIED");

  auto wrong_version = ParseQueryRequest("Action=AssumeRole&Version=2011-06-16");
  ASSERT_FALSE(wrong_version.ok());
  EXPECT_EQ(wrong_version.error().message,
            "Could not find operation AssumeRole for version 2011-06-16");

  EXPECT_EQ(ParseQueryRequest("Action=%ZZ").error().code, "InvalidQueryParameter");
}

TEST(AssumeRoleTest, MinimalRequest) {
  auto request = ParseAssumeRole(Form(kMinimal));
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->role_arn, "arn:aws:iam::123456789012:role/x");
  EXPECT_EQ(request->role_session_name, "s1");
  EXPECT_FALSE(request->duration_seconds);
  EXPECT_FALSE(request->policy);
  EXPECT_TRUE(request->policy_arns.empty());
  EXPECT_TRUE(request->tags.empty());
  EXPECT_FALSE(request->external_id);
}

TEST(AssumeRoleTest, EveryParameter) {
  // The body the AWS CLI sent with every option (aws-wire.md 6.1), plus MFA and list order.
  const std::string body =
      std::string(kMinimal) +
      "&PolicyArns.member.2.arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fp2"
      "&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fp1"
      "&Policy=%7B%22Version%22%3A%222012-10-17%22%7D&DurationSeconds=900"
      "&Tags.member.1.Key=team&Tags.member.1.Value=ml&Tags.member.2.Value=&Tags.member.2.Key=cost"
      "&TransitiveTagKeys.member.1=team&ExternalId=ext-1&SourceIdentity=agent-7"
      "&SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Fu&TokenCode=123456"
      "&ProvidedContexts=";
  auto request = ParseAssumeRole(Form(body));
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->duration_seconds, 900);
  EXPECT_EQ(request->policy, "{\"Version\":\"2012-10-17\"}");
  EXPECT_THAT(request->policy_arns, ::testing::ElementsAre("arn:aws:iam::123456789012:policy/p1",
                                                           "arn:aws:iam::123456789012:policy/p2"));
  EXPECT_THAT(request->tags, ::testing::ElementsAre(StsTag{"team", "ml"}, StsTag{"cost", ""}));
  EXPECT_THAT(request->transitive_tag_keys, ::testing::ElementsAre("team"));
  EXPECT_EQ(request->external_id, "ext-1");
  EXPECT_EQ(request->source_identity, "agent-7");
  EXPECT_EQ(request->serial_number, "arn:aws:iam::123456789012:mfa/u");
  EXPECT_EQ(request->token_code, "123456");
}

TEST(AssumeRoleTest, EmptyListsAsBotocoreSendsThem) {
  auto request = ParseAssumeRole(Form(std::string(kMinimal) + "&PolicyArns=&Tags="));
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_TRUE(request->policy_arns.empty());
}

TEST(AssumeRoleTest, SessionNameConstraints) {
  const std::string base = "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fx&RoleSessionName=";
  EXPECT_EQ(ValidationMessage(base + "a"),
            "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy "
            "constraint: Member must have length greater than or equal to 2");
  EXPECT_EQ(ValidationMessage(base + "a%2Bb%3D%2C.%40-_9"), "OK");
  EXPECT_EQ(ValidationMessage(base + std::string(64, 'x')), "OK");
  EXPECT_EQ(ValidationMessage(base + std::string(65, 'x')),
            "1 validation error detected: Value '" + std::string(65, 'x') +
                "' at 'roleSessionName' failed to satisfy constraint: Member must have length "
                "less than or equal to 64");
  EXPECT_EQ(ValidationMessage(base + "a+b"),  // '+' decodes to a space
            "1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*");
  EXPECT_THAT(ValidationMessage(base + "%C3%BCx"), HasSubstr("regular expression pattern"));
}

TEST(AssumeRoleTest, RequiredParameters) {
  EXPECT_EQ(ValidationMessage("Action=AssumeRole"),
            "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: "
            "Member must not be null; Value null at 'roleSessionName' failed to satisfy "
            "constraint: Member must not be null");
  EXPECT_THAT(ValidationMessage("RoleArn=short&RoleSessionName=s1"),
              HasSubstr("Value 'short' at 'roleArn' failed to satisfy constraint: Member must "
                        "have length greater than or equal to 20"));
}

TEST(AssumeRoleTest, DurationSeconds) {
  const std::string base = std::string(kMinimal) + "&DurationSeconds=";
  EXPECT_EQ(ValidationMessage(base + "900"), "OK");
  EXPECT_EQ(ValidationMessage(base + "43200"), "OK");
  EXPECT_EQ(ValidationMessage(base + "899"),
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value greater than or equal to 900");
  EXPECT_EQ(ValidationMessage(base + "43201"),
            "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value less than or equal to 43200");
  EXPECT_THAT(ValidationMessage(base + "12x"), HasSubstr("Member must be an integer"));
  EXPECT_THAT(ValidationMessage(base), HasSubstr("Member must be an integer"));
  EXPECT_THAT(ValidationMessage(base + "99999999999999999999999"),
              HasSubstr("Member must be an integer"));
}

TEST(AssumeRoleTest, OptionalStringConstraints) {
  const std::string base(kMinimal);
  EXPECT_THAT(ValidationMessage(base + "&ExternalId=x"),
              HasSubstr("Value 'x' at 'externalId' failed to satisfy constraint: Member must "
                        "have length greater than or equal to 2"));
  EXPECT_EQ(ValidationMessage(base + "&ExternalId=a%3Ab%2Fc"), "OK");
  EXPECT_THAT(ValidationMessage(base + "&ExternalId=" + std::string(1225, 'e')),
              HasSubstr("less than or equal to 1224"));
  EXPECT_THAT(ValidationMessage(base + "&SourceIdentity=a%2Fb"),
              HasSubstr("at 'sourceIdentity' failed to satisfy constraint: Member must satisfy "
                        "regular expression pattern"));
  EXPECT_THAT(ValidationMessage(base + "&TokenCode=12345a"), HasSubstr("at 'tokenCode'"));
  EXPECT_THAT(ValidationMessage(base + "&SerialNumber=short"), HasSubstr("at 'serialNumber'"));
  EXPECT_THAT(ValidationMessage(base + "&Policy="),
              HasSubstr("at 'policy' failed to satisfy constraint: Member must have length "
                        "greater than or equal to 1"));
  EXPECT_THAT(ValidationMessage(base + "&Policy=%01"), HasSubstr("at 'policy'"));
}

TEST(AssumeRoleTest, MemberLists) {
  const std::string base(kMinimal);
  EXPECT_THAT(ValidationMessage(base + "&Tags.member.1.Key=team"),
              HasSubstr("Value null at 'tags.1.member.value' failed to satisfy constraint: "
                        "Member must not be null"));
  EXPECT_THAT(ValidationMessage(base + "&Tags.member.3.Value=v"),
              HasSubstr("Value null at 'tags.3.member.key'"));
  EXPECT_THAT(ValidationMessage(base + "&Tags.member.1.Key=a%2Ab&Tags.member.1.Value=v"),
              HasSubstr("at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy "
                        "regular expression pattern"));
  EXPECT_EQ(ValidationMessage(base + "&Tags.member.1.Key=caf%C3%A9+%3A%2F%3D%2B-%40&Tags.member.1."
                                     "Value="),
            "OK");
  for (const std::string bad :
       {"Tags.member.0.Key=a", "Tags.member.01.Key=a", "Tags.member.x.Key=a",
        "Tags.member.1.Name=a", "Tags.member.1=a", "PolicyArns.member.1=a",
        "PolicyArns.member.1.Arn=a", "TransitiveTagKeys.member.1.Key=a", "PolicyArns=x"}) {
    EXPECT_THAT(ValidationMessage(base + "&" + bad), HasSubstr("1 validation error detected"))
        << bad;
  }

  std::string fifty_one;
  for (int i = 1; i <= 51; ++i) {
    fifty_one += "&Tags.member." + std::to_string(i) + ".Key=k" + std::to_string(i) +
                 "&Tags.member." + std::to_string(i) + ".Value=v";
  }
  EXPECT_THAT(ValidationMessage(base + fifty_one),
              HasSubstr("at 'tags' failed to satisfy constraint: Member must have length less "
                        "than or equal to 50"));
  std::string eleven;
  for (int i = 1; i <= 11; ++i) {
    eleven += "&PolicyArns.member." + std::to_string(i) +
              ".arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fp" + std::to_string(i);
  }
  EXPECT_THAT(ValidationMessage(base + eleven),
              HasSubstr("at 'policyArns' failed to satisfy constraint: Member must have length "
                        "less than or equal to 10"));
}

TEST(XmlTest, EscapesSpecialCharacters) {
  EXPECT_EQ(XmlEscape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;");
  EXPECT_EQ(XmlEscape("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(XmlEscape("a\x01"
                      "b\xFF"
                      "c\r\n\t"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c&#13;\n\t");
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), "\xEF\xBF\xBD");  // an encoded surrogate
}

TEST(XmlTest, AssumeRoleResponseHasTheShapeTheCliAccepted) {
  AssumeRoleResult result;
  result.access_key_id = "ASIAEXAMPLEBROKER001";
  result.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
  result.session_token = "brk1.eyJzaWQiOiJzLTEifQ.c2ln";
  result.expiration = "2026-11-28T16:33:50Z";
  result.assumed_role_id = "AROA3XFRBF535PLBIFPI4:s1";
  result.assumed_role_arn = "arn:aws:sts::123456789012:assumed-role/x/s1";
  result.packed_policy_size = 6;
  result.source_identity = "agent-7";
  EXPECT_EQ(WriteAssumeRoleResponse(result, "c6104cbe-af31-11e0-8154-cbc7ccf896c7"),
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
            "  <AssumeRoleResult>\n"
            "    <SourceIdentity>agent-7</SourceIdentity>\n"
            "    <AssumedRoleUser>\n"
            "      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:s1</AssumedRoleId>\n"
            "      <Arn>arn:aws:sts::123456789012:assumed-role/x/s1</Arn>\n"
            "    </AssumedRoleUser>\n"
            "    <Credentials>\n"
            "      <AccessKeyId>ASIAEXAMPLEBROKER001</AccessKeyId>\n"
            "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
            "      <SessionToken>brk1.eyJzaWQiOiJzLTEifQ.c2ln</SessionToken>\n"
            "      <Expiration>2026-11-28T16:33:50Z</Expiration>\n"
            "    </Credentials>\n"
            "    <PackedPolicySize>6</PackedPolicySize>\n"
            "  </AssumeRoleResult>\n"
            "  <ResponseMetadata>\n"
            "    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
            "  </ResponseMetadata>\n"
            "</AssumeRoleResponse>\n");

  result.packed_policy_size.reset();
  result.source_identity.reset();
  result.assumed_role_id = "AROA:<&>";
  const std::string xml = WriteAssumeRoleResponse(result, "r-1");
  EXPECT_THAT(xml, ::testing::Not(HasSubstr("PackedPolicySize")));
  EXPECT_THAT(xml, ::testing::Not(HasSubstr("SourceIdentity")));
  EXPECT_THAT(xml, HasSubstr("<AssumedRoleId>AROA:&lt;&amp;&gt;</AssumedRoleId>"));
}

TEST(XmlTest, GetCallerIdentityResponse) {
  EXPECT_EQ(WriteGetCallerIdentityResponse(
                {"arn:aws:sts::123456789012:assumed-role/x/s1", "AROA:s1", "123456789012"}, "r"),
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
            "  <GetCallerIdentityResult>\n"
            "    <Arn>arn:aws:sts::123456789012:assumed-role/x/s1</Arn>\n"
            "    <UserId>AROA:s1</UserId>\n"
            "    <Account>123456789012</Account>\n"
            "  </GetCallerIdentityResult>\n"
            "  <ResponseMetadata>\n"
            "    <RequestId>r</RequestId>\n"
            "  </ResponseMetadata>\n"
            "</GetCallerIdentityResponse>\n");
}

TEST(XmlTest, ErrorResponse) {
  const StsError denied{"AccessDenied",
                        "User is not authorized to perform: sts:AssumeRole on resource: "
                        "arn:aws:iam::123456789012:role/<x>&'\"",
                        "secret canonical request"};
  const std::string xml = WriteErrorResponse(denied, "4b8e2a0f-0000-0000-0000-000000000000");
  EXPECT_EQ(xml,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
            "  <Error>\n"
            "    <Type>Sender</Type>\n"
            "    <Code>AccessDenied</Code>\n"
            "    <Message>User is not authorized to perform: sts:AssumeRole on resource: "
            "arn:aws:iam::123456789012:role/&lt;x&gt;&amp;&apos;&quot;</Message>\n"
            "  </Error>\n"
            "  <RequestId>4b8e2a0f-0000-0000-0000-000000000000</RequestId>\n"
            "</ErrorResponse>\n");
  EXPECT_THAT(xml, ::testing::Not(HasSubstr("secret canonical request")));
  EXPECT_THAT(WriteErrorResponse({"InternalFailure", "boom", ""}, "r"),
              HasSubstr("<Type>Receiver</Type>"));
  EXPECT_THAT(WriteErrorResponse({"ServiceUnavailable", "busy", ""}, "r"),
              HasSubstr("<Type>Receiver</Type>"));
}

TEST(XmlTest, HttpStatuses) {
  const std::vector<std::pair<std::string, int>> table = {
      {"AccessDenied", 403},
      {"ExpiredToken", 400},
      {"InvalidClientTokenId", 403},
      {"SignatureDoesNotMatch", 403},
      {"RequestExpired", 400},
      {"IncompleteSignature", 400},
      {"MissingAuthenticationToken", 403},
      {"MalformedPolicyDocument", 400},
      {"PackedPolicyTooLarge", 400},
      {"RegionDisabled", 403},
      {"ValidationError", 400},
      {"InvalidAction", 400},
      {"MissingAction", 400},
      {"InvalidQueryParameter", 400},
      {"MalformedQueryString", 404},
      {"InternalFailure", 500},
      {"ServiceUnavailable", 503},
      {"SomethingElse", 400},
  };
  for (const auto& [code, status] : table) EXPECT_EQ(HttpStatusForStsError(code), status) << code;
}

}  // namespace
}  // namespace xrole::sts
