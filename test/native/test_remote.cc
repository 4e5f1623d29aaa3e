// h5/remote: which files have a POSIX descriptor (views, truncation checks and
// the engine's pread path depend on it) and the ROS3 open's failure paths.
// Reads through ROS3 against a real server are tested from JS against radosgw
// (test/remote/open.test.ts).
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

TEST(ros3_open_of_an_unreachable_url_fails_with_an_error_and_no_handle) {
  CHECK(h5v::h5::ros3_available());
  Lock lock;
  ErrorInfo err;
  auto f = h5v::h5::open_ros3("s3://b/k", "http://127.0.0.1:1/b/k", {}, &err);
  CHECK(f == nullptr);
  CHECK(!err.ok());
  CHECK(err.message.find("s3://b/k") != std::string::npos);
}

TEST(ros3_credentials_longer_than_the_driver_allows_are_refused_before_any_request) {
  Lock lock;
  ErrorInfo err;
  h5v::h5::Ros3Credentials c;
  c.authenticate = true;
  c.region = std::string(40, 'r');
  c.key_id = "id";
  c.secret = "secret";
  auto f = h5v::h5::open_ros3("s3://b/k", "http://127.0.0.1:1/b/k", c, &err);
  CHECK(f == nullptr);
  CHECK_EQ(err.code, std::string("H5_INVALID_ARGUMENT"));
  CHECK(err.message.find("region") != std::string::npos);
}

H5V_TEST_MAIN()
