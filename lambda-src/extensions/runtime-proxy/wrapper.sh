#!/bin/sh
# Wrapper script of the lambdaship-runtime-proxy layer, installed as
# /opt/lambdaship-runtime-proxy-wrapper and named by AWS_LAMBDA_EXEC_WRAPPER.
# Lambda starts it with the runtime's command line; it points the runtime at the
# proxy extension (which holds the real Runtime API address in its own
# environment) and then starts the runtime unchanged.
export AWS_LAMBDA_RUNTIME_API="127.0.0.1:${LAMBDASHIP_PROXY_PORT:-9009}"
exec "$@"
