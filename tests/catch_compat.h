// Catch2 2 (Debian 12) and Catch2 3 (Debian 13) differ in their header and in
// the names of a few matchers. The tests include this instead of Catch2's
// own header and use the matchers under these names, so one source builds
// against either.
#pragma once

#include <string>

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>

namespace test_matchers {
inline auto Contains(const std::string& text) {
  return Catch::Matchers::ContainsSubstring(text);
}
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;
}  // namespace test_matchers

using Catch::Approx;
#else
#include <catch2/catch.hpp>

namespace test_matchers {
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;
}  // namespace test_matchers
#endif
