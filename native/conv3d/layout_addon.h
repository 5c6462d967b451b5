// Node-API entry points of the layout and bias kernels (layout.cpp), registered by addon.cpp.
#pragma once

#include <node_api.h>

namespace mtc {
napi_value ConcatChannelsBinding(napi_env env, napi_callback_info info);
napi_value SplitChannelsBinding(napi_env env, napi_callback_info info);
napi_value AddBiasBinding(napi_env env, napi_callback_info info);
napi_value ColumnSumsBinding(napi_env env, napi_callback_info info);
napi_value DepthToSpaceBiasBinding(napi_env env, napi_callback_info info);
napi_value DepthToSpaceBiasGradBinding(napi_env env, napi_callback_info info);
napi_value ResidualActBinding(napi_env env, napi_callback_info info);
napi_value AddBinding(napi_env env, napi_callback_info info);
napi_value ResidualActGradBinding(napi_env env, napi_callback_info info);
}  // namespace mtc
