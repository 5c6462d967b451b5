// Node-API entry points of the optimiser kernels (optim_addon.cpp), registered by addon.cpp.
#pragma once

#include <node_api.h>

namespace mtc {
napi_value SgdStepBinding(napi_env env, napi_callback_info info);
napi_value AdamwStepBinding(napi_env env, napi_callback_info info);
napi_value SumSquaresBinding(napi_env env, napi_callback_info info);
napi_value ScaleArraysBinding(napi_env env, napi_callback_info info);
}  // namespace mtc
