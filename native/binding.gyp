# node-gyp build of the turbo-oci native addon (zran-style gzip seek points and raw inflate from a point).
# zlib comes from the running Node: zlib.h is in <nodedir>/include/node and the inflate* symbols are
# exported by the node executable itself, so there is no -lz and no download.
{
  "targets": [
    {
      "target_name": "turbo_native",
      "sources": [
        "src/addon.cc",
        "src/gzip_indexer.cc",
        "src/indexer_object.cc",
        "src/inflate_binding.cc",
        "src/js_error.cc",
        "src/raw_inflate.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    }
  ]
}
