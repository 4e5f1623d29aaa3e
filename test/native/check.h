// Minimal native test harness (no external framework: nothing may download).
// Usage: TEST(name) { CHECK(cond); CHECK_EQ(a, b); }  and one `H5V_TEST_MAIN()`.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace h5v::test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}
inline int& failures() {
  static int f = 0;
  return f;
}
struct Registrar {
  Registrar(const char* n, std::function<void()> f) { cases().push_back({n, std::move(f)}); }
};

inline int run_all(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int run = 0;
  for (auto& c : cases()) {
    if (filter && std::string(c.name).find(filter) == std::string::npos) continue;
    int before = failures();
    c.fn();
    ++run;
    std::printf("%s %s\n", failures() == before ? "ok  " : "FAIL", c.name);
  }
  std::printf("%d tests, %d failed checks\n", run, failures());
  return failures() == 0 && run > 0 ? 0 : 1;
}

// A fresh directory /tmp/h5v-<tag>-XXXXXX ("" if it cannot be made).
inline std::string temp_dir(const std::string& tag) {
  std::string tmpl = "/tmp/h5v-" + tag + "-XXXXXX";
  return mkdtemp(tmpl.data()) ? tmpl : "";
}

}  // namespace h5v::test

#define H5V_CAT2(a, b) a##b
#define H5V_CAT(a, b) H5V_CAT2(a, b)
#define TEST(name)                                                \
  static void name();                                             \
  static ::h5v::test::Registrar H5V_CAT(reg_, name)(#name, name); \
  static void name()
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++::h5v::test::failures();                                                    \
    }                                                                               \
  } while (0)
#define CHECK_EQ(a, b)                                                                      \
  do {                                                                                      \
    auto _va = (a);                                                                         \
    auto _vb = (b);                                                                         \
    if (!(_va == _vb)) {                                                                    \
      std::fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed\n", __FILE__, __LINE__, #a, #b); \
      ++::h5v::test::failures();                                                            \
    }                                                                                       \
  } while (0)
#define H5V_TEST_MAIN() \
  int main(int argc, char** argv) { return ::h5v::test::run_all(argc, argv); }
