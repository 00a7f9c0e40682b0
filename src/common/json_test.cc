#include "common/json.h"

#include <gtest/gtest.h>

namespace xrole::json {
namespace {

TEST(JsonTest, ParsesNestedValuesWithLocations) {
  auto r = Parse("{\n  \"a\": [1, 2.50, \"x\"],\n  \"b\": {\"c\": true}\n}");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const Value& root = **r;
  ASSERT_TRUE(root.is_object());
  const Value* a = root.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->location().line, 2);
  EXPECT_EQ(a->location().column, 8);
  ASSERT_EQ(a->items().size(), 3u);
  EXPECT_EQ(a->items()[1]->text(), "2.50");
  EXPECT_EQ(a->items()[1]->location().column, 12);
  EXPECT_EQ(a->items()[2]->text(), "x");
  EXPECT_EQ(root.members()[1].name_location.line, 3);
  EXPECT_EQ(root.members()[1].name_location.column, 3);
  EXPECT_EQ(root.Find("b")->Find("c")->text(), "true");
}

TEST(JsonTest, KeepsNumberTextAtEndOfInput) {
  auto r = Parse("-12.5e3");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->text(), "-12.5e3");
}

TEST(JsonTest, RejectsDuplicateMembersWithLocation) {
  auto r = Parse("{\"Effect\": \"Allow\",\n \"Effect\": \"Deny\"}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "duplicate member `Effect`");
  EXPECT_EQ(r.error().location().line, 2);
  EXPECT_EQ(r.error().location().column, 2);
}

TEST(JsonTest, DuplicateCheckIsPerObject) { EXPECT_TRUE(Parse("[{\"a\":1},{\"a\":2}]").ok()); }

TEST(JsonTest, ReportsSyntaxErrorsWithLocation) {
  auto r = Parse("{\"a\": tru}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("invalid JSON"), std::string::npos);
  EXPECT_EQ(r.error().location().line, 1);
  EXPECT_FALSE(Parse("{\"a\": 1} x").ok());
  EXPECT_FALSE(Parse("").ok());
  EXPECT_FALSE(Parse("{\"a\": \"\xff\"}").ok());
}

TEST(JsonTest, EnforcesDepthAndSizeLimits) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = Parse(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("nesting"), std::string::npos);
  Limits small;
  small.max_bytes = 4;
  EXPECT_EQ(Parse("[1,2,3]", small).error().code(), ErrorCode::kLimitExceeded);
}

TEST(JsonTest, RoundTripsToCompactJson) {
  auto r = Parse("{ \"a\" : [ 1.0 , \"q\\\"\" , null , false ] }");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->ToJson(), "{\"a\":[1.0,\"q\\\"\",null,false]}");
}

TEST(JsonTest, FirstLineOffsetsLineNumbers) {
  auto r = Parse("{\"a\": x}", {}, 7);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().location().line, 7);
}

}  // namespace
}  // namespace xrole::json
