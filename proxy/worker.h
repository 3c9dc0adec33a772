/* SPDX-License-Identifier: MIT
 * A worker: one thread, one event base, one SO_REUSEPORT listener, one upstream
 * connection pool and one cache of request arenas. Workers share nothing on
 * the data path; the main thread only starts, stops and joins them.
 */
#ifndef TB_PROXY_WORKER_H
#define TB_PROXY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/list.h"
#include "common/rand.h"
#include "proxy/hop.h"

struct event;
struct event_base;
struct evconnlistener;
struct tb_arena;
struct tb_config;
struct tb_degrade;
struct tb_pipeline;

#define TB_WORKER_ARENA_CACHE 64

/* How often a worker's lag timer fires: a loop that runs late shows up as a
 * timer that fires late (degradation, proxy/monitor.h). */
#define TB_WORKER_LAG_TICK_MS 50

/* A snapshot of a worker's lag counters. */
struct tb_worker_lag {
    uint64_t total_ms; /* sum of every tick's lateness */
    uint64_t ticks;    /* ticks so far */
    uint64_t last_ms;  /* monotonic time of the last tick; 0 while the loop is not running */
};

struct tb_worker {
    unsigned id;
    const struct tb_config *cfg;
    struct event_base *base;
    struct evconnlistener *listener; /* NULL once draining */
    struct sockaddr_storage upstream_addr;
    socklen_t upstream_addr_len;
    char upstream_authority[300];  /* "host:port", Host for requests that lack one */
    struct tb_list conns;          /* client connections (struct tb_conn.link) */
    struct tb_list idle_upstreams; /* pooled, most recently used first */
    unsigned num_conns;
    unsigned num_idle_upstreams;
    struct tb_arena *free_arenas[TB_WORKER_ARENA_CACHE];
    unsigned num_free_arenas;
    size_t arena_first_size, arena_cap;
    struct timeval tv_connect, tv_header, tv_upstream, tv_idle, tv_drain, tv_linger;
    int stop_pipe[2];         /* main thread writes one byte to ask for a drain */
    struct event *stop_event; /* reads stop_pipe[0] */
    struct event *drain_timer;
    int draining;
    struct tb_rng rng; /* trace and span ids */
    struct tb_hop_counters hop_counters;
    struct tb_pipeline *pipeline; /* span export queues, or NULL */
    double root_tokens;           /* --max-root-spans-per-second bucket */
    uint64_t root_tokens_ms;
    pthread_t thread;

    /* Degradation (spans/degrade.h, proxy/monitor.h). The level is read once
     * per request; the lag counters have this worker as their only writer
     * and the monitor as their reader. */
    const struct tb_degrade *degrade; /* NULL: never degrade */
    struct event *lag_timer;          /* NULL when the lag trigger is off */
    uint64_t lag_due_ms;              /* when lag_timer should fire */
    _Atomic uint64_t lag_total_ms, lag_ticks, lag_last_ms;
};

/**
 * Prepares `w` to serve on the already listening socket `listen_fd` (which it
 * then owns) and to proxy to `upstream`. Returns TB_OK or TB_EIO (logged).
 */
int tb_worker_init(struct tb_worker *w, unsigned id, const struct tb_config *cfg, int listen_fd,
                   const struct sockaddr *upstream, socklen_t upstream_len);

/** Starts the worker's thread. Returns TB_OK or TB_EIO. */
int tb_worker_start(struct tb_worker *w);

/** Asks the worker, from any thread, to stop accepting and drain. */
void tb_worker_stop(struct tb_worker *w);

/** Waits for the worker's thread to end, then frees everything it owns. */
void tb_worker_join(struct tb_worker *w);

/** A reset arena for a new request, from the cache or new. Worker thread only. */
struct tb_arena *tb_worker_arena_get(struct tb_worker *w);

/** Returns `arena` to the cache (or frees it when the cache is full). */
void tb_worker_arena_put(struct tb_worker *w, struct tb_arena *arena);

/** Called by conn_free: when draining and the last connection ends, stop the loop. */
void tb_worker_on_conn_closed(struct tb_worker *w);

/** Milliseconds on a monotonic clock. */
uint64_t tb_worker_now_ms(void);

/** Copies `w`'s lag counters into `out`; any thread (relaxed loads). */
void tb_worker_lag(const struct tb_worker *w, struct tb_worker_lag *out);

#endif
