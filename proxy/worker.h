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
#include <stdbool.h>
#include <sys/time.h>

#include "common/list.h"
#include "common/rand.h"
#include "proxy/hop.h"

struct event;
struct event_base;
struct evconnlistener;
struct tb_access_log;
struct tb_arena;
struct tb_config;
struct tb_gen;
struct tb_metrics_worker;
struct tb_degrade;
struct tb_pipeline;

#define TB_WORKER_ARENA_CACHE 64

/* One configured listener as seen by one worker: its own SO_REUSEPORT
 * socket. It survives a reload that keeps its address; a reload that drops
 * it stops accepting at once and frees it when its last connection ends. */
struct tb_worker_listener {
    struct tb_list link; /* in worker->listeners */
    struct tb_worker *worker;
    struct evconnlistener *evl;           /* NULL once removed or draining */
    int fd;                               /* owned by the worker; -1 once closed */
    const struct tb_listener_config *cfg; /* in the worker's current generation */
    unsigned num_conns;
    bool removed;
};

/* What the main thread asks of a worker, passed by pointer through its pipe. */
enum tb_worker_msg_type {
    TB_WORKER_MSG_STOP = 1,   /* stop accepting, drain, exit the loop */
    TB_WORKER_MSG_CONFIG = 2, /* switch to `gen`, listening on `fds` */
};

struct tb_worker_msg {
    enum tb_worker_msg_type type;
    struct tb_gen *gen; /* CONFIG: a reference the worker takes over */
    int *fds;           /* CONFIG: gen->cfg.num_listeners sockets, in listener order */
};

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
    struct tb_gen *gen;          /* current generation (the worker holds a reference) */
    const struct tb_config *cfg; /* &gen->cfg */
    struct event_base *base;
    struct tb_list listeners;      /* struct tb_worker_listener.link */
    struct tb_list conns;          /* client connections (struct tb_conn.link) */
    struct tb_list idle_upstreams; /* pooled, most recently used first */
    unsigned num_conns;
    unsigned num_idle_upstreams;
    struct tb_arena *free_arenas[TB_WORKER_ARENA_CACHE];
    unsigned num_free_arenas;
    size_t arena_first_size, arena_cap;
    struct timeval tv_header, tv_idle, tv_drain, tv_linger;
    int msg_pipe[2];         /* the main thread writes struct tb_worker_msg pointers */
    struct event *msg_event; /* reads msg_pipe[0] */
    struct event *drain_timer;
    int draining;
    struct tb_rng rng; /* trace and span ids */
    struct tb_hop_counters hop_counters;
    struct tb_pipeline *pipeline; /* span export queues, or NULL */
    double root_tokens;           /* --max-root-spans-per-second bucket */
    uint64_t root_tokens_ms;
    /* Owned; NULL when the access log is off (the data path's only test). */
    struct tb_access_log *access_log;
    pthread_t thread;
    bool started; /* `thread` runs */

    /* This worker's counters (proxy/metrics.h); set by main before start. */
    struct tb_metrics_worker *metrics;

    /* Degradation (spans/degrade.h, proxy/monitor.h). The level is read once
     * per request; the lag counters have this worker as their only writer
     * and the monitor as their reader. */
    const struct tb_degrade *degrade; /* NULL: never degrade */
    struct event *lag_timer;          /* NULL when the lag trigger is off */
    uint64_t lag_due_ms;              /* when lag_timer should fire */
    _Atomic uint64_t lag_total_ms, lag_ticks, lag_last_ms;
};

/**
 * Prepares `w` to serve generation `gen` (the worker takes over the
 * caller's reference) on the listening sockets `fds` (one per configured
 * listener, which the worker then owns). Returns TB_OK or TB_EIO (logged;
 * then call tb_worker_join to release what was set up).
 */
int tb_worker_init(struct tb_worker *w, unsigned id, struct tb_gen *gen, const int *fds);

/** Starts the worker's thread. Returns TB_OK or TB_EIO. */
int tb_worker_start(struct tb_worker *w);

/**
 * Hands `msg` (heap-allocated with tb_xcalloc; the worker frees it) to the
 * worker from any thread. Returns TB_OK, or TB_EIO when the pipe failed
 * (the message was not sent and still belongs to the caller).
 */
int tb_worker_send(struct tb_worker *w, struct tb_worker_msg *msg);

/** Asks the worker, from any thread, to stop accepting and drain. */
void tb_worker_stop(struct tb_worker *w);

/** Waits for the worker's thread to end, then frees everything it owns. */
void tb_worker_join(struct tb_worker *w);

/**
 * Marks the start of a request on the worker's current generation and
 * returns that generation; tb_worker_request_end must follow with it.
 */
struct tb_gen *tb_worker_request_begin(struct tb_worker *w);

/** Ends a request begun on `gen`, releasing `gen` when nothing uses it any more. */
void tb_worker_request_end(struct tb_worker *w, struct tb_gen *gen);

/** Called by conn_free with the connection's listener. */
void tb_worker_listener_conn_closed(struct tb_worker_listener *wl);

/** A reset arena for a new request, from the cache or new. Worker thread only. */
struct tb_arena *tb_worker_arena_get(struct tb_worker *w);

/** Returns `arena` to the cache (or frees it when the cache is full). */
void tb_worker_arena_put(struct tb_worker *w, struct tb_arena *arena);

/** Writes `ms` milliseconds as a timeval (for libevent timeouts). */
void tb_ms_to_timeval(uint64_t ms, struct timeval *tv);

/** Milliseconds on a monotonic clock. */
uint64_t tb_worker_now_ms(void);

/** Copies `w`'s lag counters into `out`; any thread (relaxed loads). */
void tb_worker_lag(const struct tb_worker *w, struct tb_worker_lag *out);

#endif
