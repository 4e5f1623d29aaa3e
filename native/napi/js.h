// The only include of napi.h (config defines live in the build files:
// NAPI_VERSION=8, NODE_ADDON_API_DISABLE_DEPRECATED). C++ exceptions on, so
// argument errors thrown with Napi::TypeError::New(...).ThrowAsJavaScriptException()
// or `throw Napi::TypeError::New(...)` both reach JS as exceptions.
#pragma once
#include <napi.h>
