{
  # Same sources as CMakeLists.txt (checked by scripts/check/sources.mjs).
  # System libraries come from pkg-config; scripts/build/check-deps.mjs runs first
  # (npm "install" script) and names the package to install if one is missing.
  "targets": [
    {
      "target_name": "h5vault",
      "sources": [
        "native/common/lock.cc",
        "native/common/error.cc",
        "native/h5/types.cc",
        "native/h5/file.cc",
        "native/h5/links.cc",
        "native/h5/dataset.cc",
        "native/h5/attribute.cc",
        "native/h5/walk.cc",
        "native/h5/walk_dataset.cc",
        "native/h5/value_type.cc",
        "native/h5/value_read.cc",
        "native/h5/value_write.cc",
        "native/h5/value_text.cc",
        "native/h5/heap_check.cc",
        "native/h5/ohdr.cc",
        "native/h5/ohdr_walk.cc",
        "native/h5/structure.cc",
        "native/h5/range_http.cc",
        "native/h5/range_vfd.cc",
        "native/h5/remote.cc",
        "native/codecs/status.cc",
        "native/codecs/lzf.cc",
        "native/codecs/lz4.cc",
        "native/codecs/zstd.cc",
        "native/codecs/blosc.cc",
        "native/codecs/bitshuffle.cc",
        "native/codecs/deflate.cc",
        "native/codecs/shuffle.cc",
        "native/codecs/fletcher32.cc",
        "native/codecs/szip.cc",
        "native/filters/lzf_filter.cc",
        "native/filters/lz4_filter.cc",
        "native/filters/zstd_filter.cc",
        "native/filters/blosc_filter.cc",
        "native/filters/bitshuffle_filter.cc",
        "native/filters/register.cc",
        "native/filters/bounded.cc",
        "native/engine/thread_pool.cc",
        "native/engine/chunk_index.cc",
        "native/engine/plan.cc",
        "native/engine/read.cc",
        "native/engine/write.cc",
        "native/mmap/mapping.cc",
        "native/io/copy_range.cc",
        "native/napi/addon.cc",
        "native/napi/js_error.cc",
        "native/napi/handles.cc",
        "native/napi/wrap_file.cc",
        "native/napi/wrap_dataset.cc",
        "native/napi/dataset_io.cc",
        "native/napi/wrap_view.cc",
        "native/napi/result_buffer.cc",
        "native/napi/wrap_attrs.cc",
        "native/napi/wrap_value.cc",
        "native/napi/wrap_untrusted.cc",
        "native/napi/wrap_mmap.cc",
        "native/napi/mapped_buffer.cc",
        "native/napi/wrap_structure.cc",
        "native/napi/wrap_scales.cc",
        "native/napi/wrap_image.cc",
        "native/napi/wrap_model.cc",
        "native/napi/wrap_remote.cc"
      ],
      "include_dirs": [
        "native",
        "<!@(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/build/pkg-config.mjs --include-dirs)"
      ],
      # libhdf5_hl (H5DS, dimension scales) sits next to libhdf5 in every
      # distribution's hdf5 package but has no pkg-config module of its own on
      # Debian; it must come before -lhdf5 on the link line.
      "libraries": ["-lhdf5_hl", "<!@(node scripts/build/pkg-config.mjs --libs)"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when a worker is terminated,
      # every napi call fails (the env cannot run JS) and node-addon-api's
      # rethrow of that failure escaped its C callback: std::terminate took
      # the whole process down. With it, the error is dropped in a dying env.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "H5_USE_110_API"],
      # C++ exceptions: node-gyp's defaults turn them off. On Linux that is the
      # -fno-exceptions removed here; the macOS (Xcode) generator ignores cflags
      # and reads GCC_ENABLE_CPP_EXCEPTIONS instead, so it is set there too.
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17"],
      # Only the module's entry point is exported (node-addon-api marks it
      # visibility("default")): hidden visibility keeps the ~650 C++ symbols out
      # of the dynamic symbol table, and with a section per function the link
      # drops code nothing calls (--gc-sections): the prebuilt binary is
      # smaller (docs/install.md, "The tarball").
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
                    "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-ffunction-sections", "-fdata-sections"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      },
      "ldflags": ["-pthread", "-Wl,--gc-sections"],
      "conditions": [
        # The prebuilt binary (scripts/build/prebuild.mjs): find the shared libraries
        # bundled in lib/ beside the addon. DT_RPATH, not RUNPATH: glibc applies
        # an RPATH to the dependencies of dependencies as well (libhdf5 -> libcurl
        # -> ...), which the bundled Debian libraries need since they carry none.
        # libstdc++ stays dynamic (Node itself loads it): Debian 12's static
        # libstdc++ would raise the glibc floor from 2.34 to 2.36 (arc4random).
        # Its -lhdf5_hl is the static libhdf5_hl.a of scripts/build/libhdf5.sh (found
        # first, in H5VAULT_HDF5_PREFIX/lib): only the H5DS functions used are
        # linked in, kept out of the dynamic symbol table (--exclude-libs).
        ["'<!(node -p \"process.env.H5VAULT_PREBUILD||''\")'=='1'", {
          "ldflags": ["-Wl,-rpath,'$$ORIGIN/lib'", "-Wl,--disable-new-dtags", "-Wl,--exclude-libs,ALL"]
        }],
        ["'<!(node -p \"process.env.H5VAULT_SANITIZE||''\")'=='1'", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
