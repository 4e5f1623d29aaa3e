// io::copy_range: the kernel copy the delta pull rebuilds unchanged tensors
// with. Exact bytes at both offsets, files larger than one step of the
// fallback, a source that ends early (H5_CORRUPT, nothing claimed copied), a
// destination that cannot be written (H5_IO with the errno's name), and the
// pread/pwrite fallback that a copy between different filesystems (or a
// kernel without copy_file_range) takes, called directly (this kernel may
// never take it) with the same checks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "check.h"
#include "io/copy_range.h"

using h5v::h5::ErrorInfo;
using h5v::io::copy_range;
using h5v::io::copy_range_by_reading;

namespace {

std::vector<char> pattern(size_t n, unsigned seed) {
  std::vector<char> v(n);
  unsigned x = seed;
  for (auto& c : v) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return v;
}

int make_file(const std::string& p, const std::vector<char>& bytes) {
  int fd = open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0 && !bytes.empty()) {
    ssize_t w = pwrite(fd, bytes.data(), bytes.size(), 0);
    (void)w;
  }
  return fd;
}

std::vector<char> read_all(int fd) {
  struct stat st;
  fstat(fd, &st);
  std::vector<char> v(static_cast<size_t>(st.st_size));
  ssize_t r = pread(fd, v.data(), v.size(), 0);
  (void)r;
  return v;
}

}  // namespace

TEST(copies_the_range_to_the_destination_offset) {
  std::string d = h5v::test::temp_dir("copy");
  auto src = pattern(3 * 1024 * 1024 + 17, 1);
  int s = make_file(d + "/src", src);
  int t = make_file(d + "/dst", std::vector<char>(100, 'x'));
  ErrorInfo err;
  CHECK(copy_range(s, 5, t, 4096, src.size() - 5, &err));
  CHECK(err.ok());
  auto out = read_all(t);
  CHECK_EQ(out.size(), 4096 + src.size() - 5);
  CHECK(std::equal(out.begin(), out.begin() + 100, std::vector<char>(100, 'x').begin()));
  CHECK(std::equal(out.begin() + 4096, out.end(), src.begin() + 5));
  // The descriptors' file positions are untouched.
  CHECK_EQ(lseek(s, 0, SEEK_CUR), static_cast<off_t>(0));
  CHECK_EQ(lseek(t, 0, SEEK_CUR), static_cast<off_t>(0));
  close(s);
  close(t);
}

TEST(a_source_shorter_than_the_range_is_corrupt) {
  std::string d = h5v::test::temp_dir("copy");
  int s = make_file(d + "/src", pattern(1000, 2));
  int t = make_file(d + "/dst", {});
  ErrorInfo err;
  CHECK(!copy_range(s, 500, t, 0, 1000, &err));
  CHECK_EQ(err.code, std::string("H5_CORRUPT"));
  CHECK(err.message.find("ends at byte 1000") != std::string::npos);
  close(s);
  close(t);
}

TEST(a_destination_opened_read_only_is_an_io_error) {
  std::string d = h5v::test::temp_dir("copy");
  int s = make_file(d + "/src", pattern(4096, 3));
  int t0 = make_file(d + "/dst", {});
  close(t0);
  int t = open((d + "/dst").c_str(), O_RDONLY);
  ErrorInfo err;
  CHECK(!copy_range(s, 0, t, 0, 4096, &err));
  CHECK_EQ(err.code, std::string("H5_IO"));
  CHECK(err.message.find("EBADF") != std::string::npos);
  close(s);
  close(t);
}

TEST(a_copy_between_filesystems_arrives_whole) {
  // /dev/shm is tmpfs, /tmp here is not: copy_file_range across them is EXDEV
  // on kernels before 5.3 (the fallback) and a generic copy after.
  std::string d = h5v::test::temp_dir("copy");
  char tmpl[] = "/dev/shm/h5v-copy-XXXXXX";
  std::string shm = mkdtemp(tmpl) ? tmpl : d;
  auto src = pattern(2 * 1024 * 1024 + 3, 4);
  int s = make_file(shm + "/src", src);
  int t = make_file(d + "/dst", {});
  ErrorInfo err;
  CHECK(copy_range(s, 0, t, 0, src.size(), &err));
  CHECK(read_all(t) == src);
  close(s);
  close(t);
  unlink((shm + "/src").c_str());
}

TEST(the_fallback_copies_in_steps_and_checks_the_same) {
  std::string d = h5v::test::temp_dir("copy");
  auto src = pattern(3 * 1024 * 1024 + 5, 5);  // more than three 1 MiB steps
  int s = make_file(d + "/src", src);
  int t = make_file(d + "/dst", {});
  ErrorInfo err;
  CHECK(copy_range_by_reading(s, 1, t, 7, src.size() - 1, &err));
  auto out = read_all(t);
  CHECK_EQ(out.size(), src.size() + 6);
  CHECK(std::equal(out.begin() + 7, out.end(), src.begin() + 1));
  CHECK(!copy_range_by_reading(s, src.size() - 10, t, 0, 11, &err));
  CHECK_EQ(err.code, std::string("H5_CORRUPT"));
  close(t);
  t = open((d + "/dst").c_str(), O_RDONLY);
  err = ErrorInfo();
  CHECK(!copy_range_by_reading(s, 0, t, 0, 10, &err));
  CHECK_EQ(err.code, std::string("H5_IO"));
  CHECK(err.message.find("EBADF") != std::string::npos);
  close(s);
  close(t);
}

H5V_TEST_MAIN()
