#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace xrole::json {
namespace {

// Strings that exercise every escaping rule: quotes, backslashes, each control character, DEL,
// two-, three- and four-byte UTF-8 (a surrogate pair in the output).
std::string RandomString(std::mt19937& random) {
  static const char* const kPieces[] = {"a",
                                        "Z",
                                        "0",
                                        " ",
                                        "/",
                                        "\"",
                                        "\\",
                                        "\b",
                                        "\f",
                                        "\n",
                                        "\r",
                                        "\t",
                                        "\x01",
                                        "\x1f",
                                        "\x7f",
                                        "~",
                                        "\xc3\xab",
                                        "\xe2\x82\xac",
                                        "\xf0\x9f\x98\x80",
                                        "\xef\xbf\xbf",
                                        "\xc2\x80",
                                        ":",
                                        ","};
  std::string out;
  const int length = static_cast<int>(random() % 12);
  for (int i = 0; i < length; ++i) out += kPieces[random() % std::size(kPieces)];
  return out;
}

// Writes a random value with `writer` and builds the same value as a DOM.
nlohmann::json WriteRandom(std::mt19937& random, Writer& writer, int depth) {
  const int kind = static_cast<int>(random() % (depth > 2 ? 4 : 6));
  switch (kind) {
    case 0: {
      std::string s = RandomString(random);
      writer.String(s);
      return s;
    }
    case 1: {
      std::int64_t n = static_cast<std::int64_t>(random()) - (1LL << 31);
      if (random() % 4 == 0) n = random() % 2 ? INT64_MIN : INT64_MAX;
      writer.Int(n);
      return n;
    }
    case 2: {
      bool b = random() % 2;
      writer.Bool(b);
      return b;
    }
    case 3:
      writer.Null();
      return nullptr;
    case 4: {
      nlohmann::json array = nlohmann::json::array();
      writer.BeginArray();
      const int n = static_cast<int>(random() % 4);
      for (int i = 0; i < n; ++i) array.push_back(WriteRandom(random, writer, depth + 1));
      writer.EndArray();
      return array;
    }
    default: {
      // Keys in ascending byte order, as the writer's contract requires.
      std::map<std::string, int> keys;
      const int n = static_cast<int>(random() % 4);
      for (int i = 0; i < n; ++i) keys[RandomString(random)] = 0;
      nlohmann::json object = nlohmann::json::object();
      writer.BeginObject();
      for (const auto& entry : keys) {
        writer.Key(entry.first);
        object[entry.first] = WriteRandom(random, writer, depth + 1);
      }
      writer.EndObject();
      return object;
    }
  }
}

TEST(JsonWriterTest, MatchesNlohmannAsciiDumpOnRandomValues) {
  std::mt19937 random(20261129);
  for (int i = 0; i < 5000; ++i) {
    Writer writer;
    nlohmann::json expected = WriteRandom(random, writer, 0);
    ASSERT_TRUE(writer.ok());
    ASSERT_EQ(writer.text(), expected.dump(-1, ' ', true)) << "value " << i;
  }
}

// Runs of plain characters with one other character at every position: each kind of byte at
// the start, inside and at the end of a run, and after runs of every length up to 24.
TEST(JsonWriterTest, EveryByteInEveryPositionOfAPlainRun) {
  std::vector<std::string> others;
  for (int byte = 0; byte < 0x80; ++byte) others.emplace_back(1, static_cast<char>(byte));
  for (const char* multibyte : {"\xc2\x80", "\xc3\xab", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}) {
    others.emplace_back(multibyte);
  }
  for (std::size_t length = 0; length <= 24; ++length) {
    for (std::size_t at = 0; at <= length; ++at) {
      for (const std::string& other : others) {
        const std::string value = std::string(at, 'a') + other + std::string(length - at, 'Z');
        std::string out;
        ASSERT_TRUE(AppendAsciiQuoted(out, value));
        ASSERT_EQ(out, nlohmann::json(value).dump(-1, ' ', true))
            << "byte " << static_cast<int>(static_cast<unsigned char>(other[0])) << " at " << at
            << " of " << length;
      }
    }
  }
  // A byte that starts no valid UTF-8 sequence, in every lane: reported and replaced.
  for (std::size_t at = 0; at < 16; ++at) {
    const std::string value = std::string(at, 'a') + "\xff" + std::string(16 - at, 'b');
    std::string out;
    EXPECT_FALSE(AppendAsciiQuoted(out, value));
    EXPECT_EQ(out, "\"" + std::string(at, 'a') + "\\ufffd" + std::string(16 - at, 'b') + "\"");
  }
}

TEST(JsonWriterTest, FieldsAndSeparators) {
  Writer writer;
  writer.BeginObject()
      .Field("a", "x")
      .Field("b", 2)
      .FieldIfSet("c", "")
      .Key("d")
      .BeginArray()
      .Raw(R"({"k":1})")
      .Int(-5)
      .EndArray()
      .Key("e")
      .BeginObject()
      .EndObject()
      .EndObject();
  EXPECT_EQ(writer.Take(), R"({"a":"x","b":2,"d":[{"k":1},-5],"e":{}})");
}

TEST(JsonWriterTest, InvalidUtf8IsReplacedAndReported) {
  for (const char* bad :
       {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80"}) {
    Writer writer;
    writer.String(bad);
    EXPECT_FALSE(writer.ok()) << bad;
    EXPECT_NE(writer.text().find("\\ufffd"), std::string::npos) << bad;
  }
  std::string out;
  EXPECT_TRUE(AppendAsciiQuoted(out, "\xc3\xab\x7f"));
  EXPECT_EQ(out, R"("\u00eb\u007f")");
}

}  // namespace
}  // namespace xrole::json
