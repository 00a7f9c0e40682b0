// End-to-end tests of `xrole eval`: the real binary, real files and pipes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

struct RunResult {
  int exit_status = -1;
  std::vector<nlohmann::json> lines;
  std::string raw;
};

// Runs `xrole <args>` with `input` on standard input.
RunResult RunXrole(const std::string& args, const std::string& input) {
  // Unique per process and call: CTest runs the tests of this file in parallel.
  static int calls = 0;
  std::string in_path = ::testing::TempDir() + "/xrole_eval_input." + std::to_string(getpid()) +
                        "." + std::to_string(++calls) + ".jsonl";
  std::ofstream(in_path) << input;
  std::string cmd = std::string(XROLE_BINARY_DIR) + "/src/xrole " + args + " < " + in_path;
  RunResult result;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) result.raw.append(buf, n);
  int status = pclose(pipe);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::size_t start = 0;
  while (start < result.raw.size()) {
    std::size_t end = result.raw.find('\n', start);
    if (end == std::string::npos) end = result.raw.size();
    result.lines.push_back(nlohmann::json::parse(result.raw.substr(start, end - start)));
    start = end + 1;
  }
  return result;
}

const char* kAllowCase =
    R"({"id":"ok","identityPolicies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
    R"("Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}],"request":{"principal":)"
    R"("arn:aws:iam::111122223333:user/alice","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}})";

TEST(EvalCliTest, AnswersEveryLineInOrderAndGoesOnAfterErrors) {
  std::string input =
      std::string(kAllowCase) + "\n" + "{\"id\":\"broken\", \"request\": \n" +  // invalid JSON
      "\n" +                                                                    // blank: skipped
      R"({"id":"dup","identityPolicies":[{"Version":"2012-10-17","Statement":)"
      R"([{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}]}],)"
      R"("request":{"action":"s3:GetObject"}})" +
      "\n" +
      R"({"id":"bad-op","identityPolicies":[{"Version":"2012-10-17","Statement":)"
      R"([{"Effect":"Allow","Action":"*","Resource":"*","Condition":)"
      R"({"StringEqualz":{"aws:SourceIp":"x"}}}]}],"request":{"action":"s3:Get"}})" +
      "\n" + R"({"id":"typo","identityPolicy":[],"request":{"action":"s3:Get"}})" + "\n" +
      std::string(200, '[') + "\n" + kAllowCase + "\n";
  RunResult r = RunXrole("eval", input);
  ASSERT_EQ(r.exit_status, 0) << r.raw;
  ASSERT_EQ(r.lines.size(), 7u) << r.raw;
  EXPECT_EQ(r.lines[0]["decision"], "Allowed");
  EXPECT_EQ(r.lines[0]["reasons"][0]["policy"], "identity[0]");

  ASSERT_TRUE(r.lines[1].contains("error"));
  EXPECT_EQ(r.lines[1]["error"]["line"], 2);  // each line is one case

  ASSERT_TRUE(r.lines[2].contains("error"));
  EXPECT_EQ(r.lines[2]["id"], "dup");
  EXPECT_THAT(r.lines[2]["error"]["message"].get<std::string>(),
              ::testing::HasSubstr("duplicate member `Effect`"));
  EXPECT_EQ(r.lines[2]["error"]["line"], 4);

  ASSERT_TRUE(r.lines[3].contains("error"));
  EXPECT_THAT(r.lines[3]["error"]["path"].get<std::string>(),
              ::testing::HasSubstr("identityPolicies[0].Statement[0].Condition"));
  EXPECT_THAT(r.lines[3]["error"]["message"].get<std::string>(),
              ::testing::HasSubstr("StringEqualz"));

  ASSERT_TRUE(r.lines[4].contains("error"));
  EXPECT_EQ(r.lines[4]["error"]["path"], "identityPolicy");

  ASSERT_TRUE(r.lines[5].contains("error"));
  EXPECT_THAT(r.lines[5]["error"]["message"].get<std::string>(), ::testing::HasSubstr("nesting"));

  EXPECT_EQ(r.lines[6]["decision"], "Allowed");
}

TEST(EvalCliTest, UnreadableInputIsExitTwo) {
  std::string cmd =
      std::string(XROLE_BINARY_DIR) + "/src/xrole eval /nonexistent/cases.jsonl 2>/dev/null";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

TEST(EvalCliTest, ReferenceAndCompiledAgreeAndExplain) {
  RunResult compiled = RunXrole("eval", std::string(kAllowCase) + "\n");
  RunResult reference = RunXrole("eval --reference", std::string(kAllowCase) + "\n");
  RunResult explained = RunXrole("eval --explain", std::string(kAllowCase) + "\n");
  ASSERT_EQ(compiled.lines.size(), 1u);
  EXPECT_EQ(compiled.lines[0], reference.lines[0]);
  ASSERT_EQ(explained.lines.size(), 1u);
  EXPECT_FALSE(explained.lines[0]["explanation"].empty());
}

// The four reference scenarios shipped in examples/ decide as the design says.
TEST(EvalCliTest, ExampleScenariosDecideAsDesigned) {
  std::ifstream file(std::string(XROLE_SOURCE_DIR) + "/examples/cases.jsonl");
  std::string input((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  RunResult r = RunXrole("eval", input);
  ASSERT_EQ(r.exit_status, 0);
  std::map<std::string, std::string> decision;
  for (const auto& line : r.lines) {
    ASSERT_TRUE(line.contains("decision")) << line.dump();
    decision[line["id"]] = line["decision"];
  }
  EXPECT_EQ(decision["incident-isolate-instance"], "Allowed");
  EXPECT_EQ(decision["incident-snapshot-volume"], "Allowed");
  EXPECT_EQ(decision["incident-delete-snapshot-denied-by-guardrail"], "ExplicitlyDenied");
  EXPECT_EQ(decision["incident-stop-logging-denied"], "ExplicitlyDenied");
  EXPECT_EQ(decision["staging-deploy"], "Allowed");
  EXPECT_EQ(decision["staging-artifact-own-run"], "Allowed");
  EXPECT_EQ(decision["staging-artifact-other-run"], "ImplicitlyDenied");
  EXPECT_EQ(decision["production-assume-with-ticket"], "Allowed");
  EXPECT_EQ(decision["production-assume-without-ticket"], "ImplicitlyDenied");
  EXPECT_EQ(decision["enrichment-read-dataset"], "Allowed");
  EXPECT_EQ(decision["enrichment-read-warehouse-next-door"], "ImplicitlyDenied");
  EXPECT_EQ(decision["enrichment-list-other-prefix"], "ImplicitlyDenied");
  EXPECT_EQ(decision["enrichment-send-queue"], "Allowed");
  EXPECT_EQ(decision["remediation-tag-allowed-keys"], "Allowed");
  EXPECT_EQ(decision["remediation-tag-other-key"], "ImplicitlyDenied");
}

}  // namespace
