// Process-wide libhdf5 set-up for native tests that call libhdf5: its error
// printing silenced (errors are checked as data) and h5vault's filters
// registered and its heap-ID checks installed, as the addon does at load. Include once per test executable.
#pragma once
#include <cstdio>

#include "common/error.h"
#include "common/lock.h"
#include "filters/register.h"
#include "h5/heap_check.h"

namespace {

struct H5TestSetup {
  H5TestSetup() {
    h5v::h5::Lock l;
    h5v::h5::silence_error_printing();
    if (!h5v::filters::register_builtin_filters()) std::fprintf(stderr, "filter registration failed\n");
    if (!h5v::h5::install_heap_checks()) std::fprintf(stderr, "heap-ID check registration failed\n");
  }
};
H5TestSetup g_h5_test_setup;

}  // namespace
