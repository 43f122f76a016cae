// What an exception says, whatever it is: for logging one that must not
// escape (out of a scrape it would end the process).
#pragma once

#include <exception>
#include <string>

namespace lme {

// `what()` of a std::exception, "unknown exception" for anything else.
inline std::string ExceptionText(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

// For a catch (...) block.
inline std::string CurrentExceptionText() {
  return ExceptionText(std::current_exception());
}

}  // namespace lme
