// Argument handling shared by the Node-API bindings of the element-wise, optimiser and layout
// kernels: every failure throws a TypeError "<who>: <what is wrong>" and returns false.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace mtc {
namespace napi_util {

inline void Fail(napi_env env, const char* who, const std::string& msg) {
  napi_throw_type_error(env, "MTC_NATIVE", (std::string(who) + ": " + msg).c_str());
}

inline bool Args(napi_env env, napi_callback_info info, size_t want, napi_value* argv, const char* who) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != want) {
    Fail(env, who, "expected " + std::to_string(want) + " arguments");
    return false;
  }
  return true;
}

inline bool Number(napi_env env, napi_value v, const char* name, double* out, const char* who) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    Fail(env, who, std::string(name) + " must be a number");
    return false;
  }
  return true;
}

inline const char* TypeName(napi_typedarray_type t) {
  switch (t) {
    case napi_float64_array: return "Float64Array";
    case napi_uint8_array: return "Uint8Array";
    default: return "Float32Array";
  }
}

// A typed array of type `want`; `length` >= 0 requires exactly that many elements.
template <typename T>
bool Typed(napi_env env, napi_value v, napi_typedarray_type want, double length, const std::string& name,
           T** out, const char* who, int64_t* actual = nullptr) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type;
  void* data = nullptr;
  size_t len = 0;
  if (!is_ta || napi_get_typedarray_info(env, v, &type, &len, &data, nullptr, nullptr) != napi_ok || type != want) {
    Fail(env, who, name + " must be a " + TypeName(want));
    return false;
  }
  if (length >= 0 && static_cast<double>(len) != length) {
    char buf[200];
    std::snprintf(buf, sizeof(buf), "%s has %zu elements, expected %.0f", name.c_str(), len, length);
    Fail(env, who, buf);
    return false;
  }
  *out = static_cast<T*>(data);
  if (actual) *actual = static_cast<int64_t>(len);
  return true;
}

// Positive integers (sizes), each below 9e15.
inline bool Sizes(napi_env env, const napi_value* v, int count, const char* names, int64_t* out, const char* who) {
  for (int i = 0; i < count; ++i) {
    double d;
    if (napi_get_value_double(env, v[i], &d) != napi_ok || !(d >= 1) ||
        d != static_cast<double>(static_cast<int64_t>(d)) || d > 9e15) {
      Fail(env, who, std::string(names) + " must be positive integers");
      return false;
    }
    out[i] = static_cast<int64_t>(d);
  }
  return true;
}

inline napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

}  // namespace napi_util
}  // namespace mtc
