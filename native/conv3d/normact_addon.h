// Node-API entry points defined in normact_addon.cpp (registered by addon.cpp).
#pragma once

#include <node_api.h>

namespace mtc {
napi_value NormActForwardBinding(napi_env env, napi_callback_info info);
napi_value NormActBackwardBinding(napi_env env, napi_callback_info info);
napi_value LossStatsBinding(napi_env env, napi_callback_info info);
napi_value LossGradBinding(napi_env env, napi_callback_info info);
}  // namespace mtc
