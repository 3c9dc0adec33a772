/* SPDX-License-Identifier: MIT
 * Process log: one logfmt line per event on stderr, written with a single
 * write(2) so lines from different workers never interleave. The level is set
 * once at startup, before any worker runs.
 */
#ifndef TB_PROXY_LOG_H
#define TB_PROXY_LOG_H

enum tb_log_level {
    TB_LOG_DEBUG = 0,
    TB_LOG_INFO = 1,
    TB_LOG_WARN = 2,
    TB_LOG_ERROR = 3,
};

/** Sets the minimum level written. Call before starting workers. */
void tb_log_set_level(enum tb_log_level level);

/** True when `level` would be written (to skip formatting work otherwise). */
int tb_log_enabled(enum tb_log_level level);

/**
 * Writes `ts=… level=… event=<event>` followed by the fields formatted from
 * `fmt` (which should start with a space, e.g. " status=%d reason=%s").
 * Lines longer than 1 KiB are truncated. Never allocates.
 */
void tb_log(enum tb_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
