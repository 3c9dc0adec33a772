# SPDX-License-Identifier: MIT
# Integration test harness for tracebridge: processes, raw HTTP/1.1 client,
# deterministic bodies and named assertions. Python 3 standard library only.
