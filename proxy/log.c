/* SPDX-License-Identifier: MIT
 * logfmt lines to stderr. The one process-wide setting is the level.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "proxy/log.h"

static enum tb_log_level log_level = TB_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void tb_log_set_level(enum tb_log_level level)
{
    log_level = level;
}

int tb_log_enabled(enum tb_log_level level)
{
    return level >= log_level;
}

void tb_log(enum tb_log_level level, const char *event, const char *fmt, ...)
{
    char line[1024];
    struct timespec now;
    struct tm tm;
    size_t len;
    int n;
    va_list ap;

    if (level < log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 now.tv_nsec / 1000000, level_names[level], event);
    len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (n > 0)
        len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* Best effort: a log line that cannot be written is not worth a failure. */
    if (write(STDERR_FILENO, line, len) < 0)
        return;
}
