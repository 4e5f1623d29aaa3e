// h5/remote: which files have a POSIX descriptor (views, truncation checks and
// the engine's pread path depend on it) and the range driver's open failure
// paths. Reads through it against real and hostile servers are tested from JS
// (test/remote/open.test.ts against radosgw, test/remote/range-driver.test.ts).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "check.h"
#include "h5_setup.h"
#include "h5/file.h"
#include "h5/remote.h"

using h5v::h5::ErrorInfo;
using h5v::h5::FileHandle;
using h5v::h5::Lock;

namespace {

std::string temp_file() {
  char tmpl[] = "/tmp/h5v-remote-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return std::string(d ? d : "/tmp") + "/f.h5";
}

}  // namespace

TEST(posix_fd_is_the_sec2_descriptor_of_a_local_file) {
  std::string p = temp_file();
  Lock lock;
  ErrorInfo err;
  {
    auto w = FileHandle::create(p, false, &err);
    CHECK(w != nullptr);
    w->close();
  }
  auto f = FileHandle::open(p, false, &err);
  CHECK(f != nullptr);
  int fd = h5v::h5::posix_fd(f->id());
  CHECK(fd >= 0);
  struct stat a, b;
  CHECK(::fstat(fd, &a) == 0 && ::stat(p.c_str(), &b) == 0);
  CHECK_EQ(a.st_ino, b.st_ino);
  CHECK(!h5v::h5::is_remote(f->id()));
  f->close();
  ::unlink(p.c_str());
}

TEST(posix_fd_is_minus_one_for_an_in_memory_file) {
  Lock lock;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 4096, false);
  hid_t fid = H5Fcreate("in-memory.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  CHECK(fid >= 0);
  CHECK_EQ(h5v::h5::posix_fd(fid), -1);
  CHECK(!h5v::h5::is_remote(fid));
  H5Fclose(fid);
  H5Pclose(fapl);
}

TEST(range_open_of_an_unreachable_port_fails_with_a_network_error_and_no_handle) {
  Lock lock;
  ErrorInfo err;
  h5v::h5::RangeOptions o;
  o.size = 4096;
  auto f = h5v::h5::open_range("s3://b/k", "http://127.0.0.1:1/t/1/k", o, &err);
  CHECK(f == nullptr);
  CHECK_EQ(err.code, std::string("H5_S3_NETWORK"));
  CHECK(err.message.find("s3://b/k") != std::string::npos);
  CHECK(err.message.find("connect to 127.0.0.1:1") != std::string::npos);
}

TEST(range_open_refuses_any_host_but_loopback_and_request_line_characters) {
  Lock lock;
  h5v::h5::RangeOptions o;
  o.size = 4096;
  for (const char* url : {"http://example.com:80/k", "https://127.0.0.1:443/k", "http://127.0.0.1:99999/k",
                          "http://127.0.0.1:8080/a b", "http://127.0.0.1:8080/a\r\nX: y"}) {
    ErrorInfo err;
    auto f = h5v::h5::open_range("s3://b/k", url, o, &err);
    CHECK(f == nullptr);
    CHECK(err.code == "H5_OPEN_FAILED" || err.code == "H5_S3_NETWORK");
  }
}

H5V_TEST_MAIN()
