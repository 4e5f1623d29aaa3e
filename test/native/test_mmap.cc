// Mapping::map_path: the whole-file mapping behind formats h5vault reads
// without libhdf5 (safetensors). Contents, lifetime, MAP_PRIVATE writes, and
// refusal of missing paths, directories and FIFOs without blocking.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "check.h"
#include "mmap/mapping.h"

using h5v::h5::ErrorInfo;
using h5v::mmap::Mapping;

namespace {

void write_file(const std::string& p, const std::string& bytes) {
  FILE* f = std::fopen(p.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

std::string read_file(const std::string& p) {
  std::string out;
  FILE* f = std::fopen(p.c_str(), "rb");
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace

TEST(map_path_maps_the_whole_file) {
  std::string d = h5v::test::temp_dir("mmap");
  std::string p = d + "/a.bin";
  write_file(p, "hello mapping");
  size_t live = Mapping::live_mappings();
  {
    ErrorInfo err;
    auto m = Mapping::map_path(p, &err);
    CHECK(m != nullptr);
    CHECK(err.ok());
    CHECK_EQ(m->size(), size_t{13});
    CHECK(std::memcmp(m->data(), "hello mapping", 13) == 0);
    CHECK_EQ(Mapping::live_mappings(), live + 1);
  }
  CHECK_EQ(Mapping::live_mappings(), live);
  unlink(p.c_str());
  rmdir(d.c_str());
}

TEST(map_path_outlives_unlink_and_writes_stay_private) {
  std::string d = h5v::test::temp_dir("mmap");
  std::string p = d + "/b.bin";
  write_file(p, "abcdef");
  ErrorInfo err;
  auto m = Mapping::map_path(p, &err);
  CHECK(m != nullptr);
  m->data()[0] = 'X';  // copy-on-write page of this process only
  CHECK_EQ(read_file(p), std::string("abcdef"));
  unlink(p.c_str());  // the mapping keeps the inode
  CHECK(std::memcmp(m->data(), "Xbcdef", 6) == 0);
  rmdir(d.c_str());
}

TEST(map_path_empty_file_is_an_empty_mapping) {
  std::string d = h5v::test::temp_dir("mmap");
  std::string p = d + "/empty.bin";
  write_file(p, "");
  ErrorInfo err;
  auto m = Mapping::map_path(p, &err);
  CHECK(m != nullptr);
  CHECK_EQ(m->size(), size_t{0});
  CHECK(m->data() == nullptr);
  unlink(p.c_str());
  rmdir(d.c_str());
}

TEST(map_path_missing_file_is_file_not_found) {
  ErrorInfo err;
  auto m = Mapping::map_path("/nonexistent/h5v/x.safetensors", &err);
  CHECK(m == nullptr);
  CHECK_EQ(err.code, std::string("H5_FILE_NOT_FOUND"));
}

TEST(map_path_refuses_directories) {
  std::string d = h5v::test::temp_dir("mmap");
  ErrorInfo err;
  auto m = Mapping::map_path(d, &err);
  CHECK(m == nullptr);
  CHECK_EQ(err.code, std::string("H5_OPEN_FAILED"));
  CHECK(err.message.find("not a regular file") != std::string::npos);
  rmdir(d.c_str());
}

// A FIFO with no writer: a blocking open would hang here forever; the test
// finishing at all is the assertion that the open does not wait.
TEST(map_path_refuses_a_fifo_without_blocking) {
  std::string d = h5v::test::temp_dir("mmap");
  std::string p = d + "/fifo";
  CHECK_EQ(mkfifo(p.c_str(), 0600), 0);
  ErrorInfo err;
  auto m = Mapping::map_path(p, &err);
  CHECK(m == nullptr);
  CHECK_EQ(err.code, std::string("H5_OPEN_FAILED"));
  CHECK(err.message.find("not a regular file") != std::string::npos);
  unlink(p.c_str());
  rmdir(d.c_str());
}

H5V_TEST_MAIN()
