#include "policy/values.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>
#include <string>

namespace xrole::policy {
namespace {

constexpr std::int64_t k2030 = 1893456000000;  // 2030-01-01T00:00:00Z in epoch milliseconds

TEST(ParseNumberTest, Decimals) {
  EXPECT_EQ(ParseNumber("10"), 10.0L);
  EXPECT_EQ(ParseNumber("-3"), -3.0L);
  EXPECT_EQ(ParseNumber("+4"), 4.0L);
  EXPECT_EQ(ParseNumber("0"), 0.0L);
  EXPECT_EQ(ParseNumber("2.5"), 2.5L);
  EXPECT_EQ(ParseNumber("-0.25"), -0.25L);
  EXPECT_EQ(ParseNumber("007"), 7.0L);
  EXPECT_TRUE(ParseNumber("123456789012345678901234567890").has_value());
}

TEST(ParseNumberTest, ComparesNumerically) {
  // E38
  EXPECT_EQ(*ParseNumber("10"), *ParseNumber("10.0"));
  EXPECT_EQ(*ParseNumber("10"), *ParseNumber("10.000"));
  EXPECT_LT(*ParseNumber("9"), *ParseNumber("10"));  // "10" < "9" as strings
  EXPECT_LT(*ParseNumber("-10"), *ParseNumber("-9.5"));
}

TEST(ParseNumberTest, RejectsOtherForms) {
  for (const char* text : {"", "-", "+", ".5", "10.", "1e3", "1E3", "0x10", " 10", "10 ", "1,000",
                           "1.2.3", "--1", "NaN", "inf", "ten", "${aws:PrincipalTag/limit}"}) {
    EXPECT_FALSE(ParseNumber(text).has_value()) << text;  // E17 for the last one
  }
}

TEST(ParseDateTest, W3cFormsAgree) {
  // E37: every form of the same instant, and epoch seconds.
  for (const char* text :
       {"2030-01-01T00:00:00Z", "2030", "2030-01", "2030-01-01", "2030-01-01T00:00Z",
        "2030-01-01T00:00:00.000Z", "2030-01-01T01:00:00+01:00", "2029-12-31T19:00:00-05:00",
        "2030-01-01T05:30+05:30", "1893456000"}) {
    EXPECT_EQ(ParseDateMillis(text), k2030) << text;
  }
}

TEST(ParseDateTest, EpochUnits) {
  EXPECT_EQ(ParseDateMillis("1893456000", false), k2030);
  EXPECT_EQ(ParseDateMillis("1893456000000", true), k2030);
  // Mixing units is the classic bug: seconds read as milliseconds land in January 1970.
  EXPECT_EQ(ParseDateMillis("1893456000", true), 1893456000);
  EXPECT_EQ(ParseDateMillis("0"), 0);
  EXPECT_EQ(ParseDateMillis("-1"), -1000);
  EXPECT_FALSE(ParseDateMillis("99999999999999999999").has_value());
  EXPECT_FALSE(ParseDateMillis("9223372036854776").has_value());  // overflows as milliseconds
  EXPECT_FALSE(ParseDateMillis("1893456000.5").has_value());
}

TEST(ParseDateTest, FourDigitsAreAYear) {
  EXPECT_EQ(ParseDateMillis("1970"), 0);
  EXPECT_EQ(ParseDateMillis("2030"), k2030);
  EXPECT_EQ(ParseDateMillis("20300"), 20300000);  // five digits: epoch seconds
}

TEST(ParseDateTest, FractionsAndOffsets) {
  EXPECT_EQ(ParseDateMillis("2030-01-01T00:00:00.5Z"), k2030 + 500);
  EXPECT_EQ(ParseDateMillis("2030-01-01T00:00:00.123456Z"), k2030 + 123);
  EXPECT_EQ(ParseDateMillis("2030-01-01T00:00:01.07Z"), k2030 + 1070);
  EXPECT_EQ(ParseDateMillis("2030-01-01T00:00:00-00:30"), k2030 + 30 * 60 * 1000);
  EXPECT_EQ(ParseDateMillis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseDateMillis("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(ParseDateMillis("1969-12-31T23:59:59.5Z"), -500);
}

TEST(ParseDateTest, VariablesAreNotDates) {
  // E17: variables are not substituted in date values, so the text is not a date.
  EXPECT_FALSE(ParseDateMillis("${aws:CurrentTime}").has_value());
}

TEST(ParseDateTest, LeapYears) {
  EXPECT_TRUE(ParseDateMillis("2024-02-29").has_value());
  EXPECT_TRUE(ParseDateMillis("2000-02-29").has_value());
  EXPECT_FALSE(ParseDateMillis("2023-02-29").has_value());
  EXPECT_FALSE(ParseDateMillis("1900-02-29").has_value());
  EXPECT_EQ(*ParseDateMillis("2024-03-01") - *ParseDateMillis("2024-02-28"), 2 * 86400000LL);
  EXPECT_EQ(*ParseDateMillis("2023-03-01") - *ParseDateMillis("2023-02-28"), 86400000LL);
}

TEST(ParseDateTest, RejectsMalformedDates) {
  for (const char* text : {"",
                           "abc",
                           "20-3",
                           "2030-1-01",
                           "2030-01-1",
                           "2030-00-01",
                           "2030-13-01",
                           "2030-01-00",
                           "2030-01-32",
                           "2030-04-31",
                           "2030-01-01T00:00:00",
                           "2030-01-01 00:00:00Z",
                           "2030-01-01t00:00:00Z",
                           "2030-01-01T00:00:00z",
                           "2030-01-01T24:00:00Z",
                           "2030-01-01T00:60:00Z",
                           "2030-01-01T00:00:60Z",
                           "2030-01-01T00:00:00.Z",
                           "2030-01-01T00:00:00+0100",
                           "2030-01-01T00:00:00+24:00",
                           "2030-01-01T00:00:00+01:60",
                           "2030-01-01T0:00:00Z",
                           "2030-01-01T00Z",
                           "2030-01T00:00Z",
                           "2030-01-01Z",
                           "2030-01-01T00:00:00Z ",
                           " 2030",
                           "2030-01-01T00:00:00.1.2Z",
                           "+1893456000"}) {
    EXPECT_FALSE(ParseDateMillis(text).has_value()) << text;
  }
}

TEST(ParseDateTest, AgreesWithTimegm) {
  std::mt19937 rng(99);
  for (int i = 0; i < 5000; ++i) {
    const int year = 1600 + static_cast<int>(rng() % 800);
    const int month = 1 + static_cast<int>(rng() % 12);
    const int day = 1 + static_cast<int>(rng() % 28);
    const int hour = static_cast<int>(rng() % 24);
    const int minute = static_cast<int>(rng() % 60);
    const int second = static_cast<int>(rng() % 60);
    char text[32];
    std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ", year, month, day, hour,
                  minute, second);
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::int64_t expected = static_cast<std::int64_t>(timegm(&tm)) * 1000;
    ASSERT_EQ(ParseDateMillis(text), expected) << text;
  }
}

TEST(ParseBoolTest, CaseInsensitive) {
  EXPECT_EQ(ParseBool("true"), true);
  EXPECT_EQ(ParseBool("TRUE"), true);
  EXPECT_EQ(ParseBool("False"), false);
  EXPECT_EQ(ParseBool("fAlSe"), false);
  for (const char* text : {"", "yes", "1", "0", " true", "true ", "t", "truee"}) {
    EXPECT_FALSE(ParseBool(text).has_value()) << text;
  }
}

TEST(DecodeBase64Test, StandardAlphabetWithPadding) {
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_EQ(DecodeBase64("Zg=="), "f");
  EXPECT_EQ(DecodeBase64("Zm8="), "fo");
  EXPECT_EQ(DecodeBase64("Zm9v"), "foo");
  EXPECT_EQ(DecodeBase64("Zm9vYg=="), "foob");
  EXPECT_EQ(DecodeBase64("Zm9vYmFy"), "foobar");
  EXPECT_EQ(DecodeBase64("QmluYXJ5VmFsdWVJbkJhc2U2NA=="), "BinaryValueInBase64");
  EXPECT_EQ(DecodeBase64("AAEC/w=="), std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(DecodeBase64("+/+/"), std::string("\xfb\xff\xbf", 3));
}

TEST(DecodeBase64Test, RejectsMalformedText) {
  for (const char* text : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zm9v=", "Zm=v",
                           "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm-_", "Zm9v!A=="}) {
    EXPECT_FALSE(DecodeBase64(text).has_value()) << text;
  }
}

IpAddress V4(std::string_view text) {
  const auto a = ParseIpAddress(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

IpNetwork Net(std::string_view text) {
  const auto n = ParseIpNetwork(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(IpNetwork{});
}

bool Contains(std::string_view network, std::string_view address) {
  const auto a = ParseIpAddress(address);
  EXPECT_TRUE(a.has_value()) << address;
  return a.has_value() && NetworkContains(Net(network), *a);
}

TEST(IpTest, ParsesStrictIpv4) {
  const IpAddress a = V4("203.0.113.7");
  EXPECT_FALSE(a.v6);
  EXPECT_EQ(a.bytes[0], 203);
  EXPECT_EQ(a.bytes[1], 0);
  EXPECT_EQ(a.bytes[2], 113);
  EXPECT_EQ(a.bytes[3], 7);
  EXPECT_TRUE(ParseIpAddress("0.0.0.0").has_value());
  EXPECT_TRUE(ParseIpAddress("255.255.255.255").has_value());
  for (const char* text :
       {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
        "1..3.4", "1.2.3.4/", "a.b.c.d", "1.2.3.0004", "0x1.2.3.4"}) {
    EXPECT_FALSE(ParseIpAddress(text).has_value()) << text;
  }
}

TEST(IpTest, ParsesIpv6Forms) {
  const auto full = ParseIpAddress("2001:0db8:0000:0000:0000:0000:0000:0001");
  const auto compressed = ParseIpAddress("2001:db8::1");
  const auto upper = ParseIpAddress("2001:DB8:0:0::1");
  ASSERT_TRUE(full && compressed && upper);
  EXPECT_TRUE(full->v6);
  EXPECT_EQ(full->bytes, compressed->bytes);
  EXPECT_EQ(upper->bytes, compressed->bytes);
  const auto mapped = ParseIpAddress("::ffff:1.2.3.4");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->v6);
  EXPECT_EQ(mapped->bytes[10], 0xff);
  EXPECT_EQ(mapped->bytes[11], 0xff);
  EXPECT_EQ(mapped->bytes[12], 1);
  EXPECT_EQ(mapped->bytes[15], 4);
  EXPECT_TRUE(ParseIpAddress("::").has_value());
  EXPECT_TRUE(ParseIpAddress("::1").has_value());
  for (const char* text : {"1::2::3", "2001:db8::1%eth0", "gggg::1", "12345::", ":", "2001:db8:::1",
                           "1:2:3:4:5:6:7:8:9", " ::1", "[::1]"}) {
    EXPECT_FALSE(ParseIpAddress(text).has_value()) << text;
  }
}

TEST(IpTest, NetworksAndDefaultPrefixes) {
  const IpNetwork bare4 = Net("203.0.113.7");
  EXPECT_EQ(bare4.prefix, 32);
  EXPECT_FALSE(bare4.prefix_given);
  const IpNetwork bare6 = Net("2001:db8::1");
  EXPECT_EQ(bare6.prefix, 128);
  EXPECT_FALSE(bare6.prefix_given);
  const IpNetwork given = Net("10.1.2.3/8");
  EXPECT_EQ(given.prefix, 8);
  EXPECT_TRUE(given.prefix_given);
  // Host bits are cleared.
  EXPECT_EQ(given.address.bytes[0], 10);
  EXPECT_EQ(given.address.bytes[1], 0);
  EXPECT_EQ(given.address.bytes[3], 0);
  EXPECT_EQ(Net("10.255.255.255/9").address.bytes[1], 0x80);
  EXPECT_EQ(Net("2001:db8:ffff::1/36").address.bytes[4], 0xf0);
  EXPECT_EQ(Net("2001:db8:ffff::1/36").address.bytes[15], 0);
  for (const char* text : {"1.2.3.4/33", "::/129", "1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/a",
                           "1.2.3.4/8/8", "1.2.3.4/1000", "/8", "1.2.3/8", "1.2.3.4/ 8"}) {
    EXPECT_FALSE(ParseIpNetwork(text).has_value()) << text;
  }
}

TEST(IpTest, VariablesAreNotAddresses) {
  // E17
  EXPECT_FALSE(ParseIpNetwork("${aws:SourceIp}").has_value());
  EXPECT_FALSE(ParseIpAddress("${aws:SourceIp}").has_value());
}

TEST(IpTest, ContainsComparesBits) {
  // E36
  EXPECT_TRUE(Contains("203.0.113.7", "203.0.113.7"));
  EXPECT_FALSE(Contains("203.0.113.7", "203.0.113.8"));
  EXPECT_TRUE(Contains("203.0.113.0/24", "203.0.113.7"));
  EXPECT_FALSE(Contains("203.0.113.0/24", "203.0.114.7"));
  EXPECT_TRUE(Contains("2001:db8::/32", "2001:DB8:0:0::1"));
  EXPECT_FALSE(Contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_FALSE(Contains("2001:db8::/32", "203.0.113.7"));  // families never mix
  EXPECT_FALSE(Contains("0.0.0.0/0", "::1"));
  EXPECT_FALSE(Contains("::/0", "1.2.3.4"));
  EXPECT_FALSE(Contains("::ffff:0:0/96", "1.2.3.4"));
  EXPECT_TRUE(Contains("::ffff:0:0/96", "::ffff:1.2.3.4"));
  EXPECT_TRUE(Contains("0.0.0.0/0", "203.0.113.7"));
  EXPECT_TRUE(Contains("::/0", "2001:db8::1"));
  // Prefixes that do not end on a byte boundary.
  EXPECT_TRUE(Contains("10.0.0.0/9", "10.127.255.255"));
  EXPECT_FALSE(Contains("10.0.0.0/9", "10.128.0.0"));
  EXPECT_TRUE(Contains("2001:db8::8000:0:0:0/65", "2001:db8::ffff:1:2:3"));
  EXPECT_FALSE(Contains("2001:db8::8000:0:0:0/65", "2001:db8::7fff:1:2:3"));
  EXPECT_TRUE(Contains("2001:db8::1", "2001:0db8:0:0:0:0:0:1"));
  EXPECT_FALSE(Contains("2001:db8::1", "2001:db8::2"));
}

}  // namespace
}  // namespace xrole::policy
