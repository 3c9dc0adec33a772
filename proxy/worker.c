/* SPDX-License-Identifier: MIT
 * Worker threads. The main thread talks to a worker only through its stop
 * pipe, so the event base runs without libevent's locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "common/arena.h"
#include "common/reason.h"
#include "common/tb.h"
#include "proxy/config.h"
#include "proxy/conn.h"
#include "proxy/log.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

/* A request's first arena block holds the per-request state, a typical head
 * and its header tables; bigger heads spill into extra blocks up to the cap. */
#define WORKER_ARENA_FIRST_SIZE 8192

uint64_t tb_worker_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ms_to_timeval(uint64_t ms, struct timeval *tv)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)(ms % 1000 * 1000);
}

struct tb_arena *tb_worker_arena_get(struct tb_worker *w)
{
    if (w->num_free_arenas != 0)
        return w->free_arenas[--w->num_free_arenas];
    return tb_arena_new(w->arena_first_size, w->arena_cap);
}

void tb_worker_arena_put(struct tb_worker *w, struct tb_arena *arena)
{
    tb_arena_reset(arena);
    if (w->num_free_arenas < TB_WORKER_ARENA_CACHE)
        w->free_arenas[w->num_free_arenas++] = arena;
    else
        tb_arena_free(arena);
}

void tb_worker_on_conn_closed(struct tb_worker *w)
{
    if (w->draining && w->num_conns == 0)
        event_base_loopexit(w->base, NULL);
}

/* ------------------------------------------------------------------------ */
/* Event-loop lag, for degradation                                           */

static const struct timeval lag_tick = {0, TB_WORKER_LAG_TICK_MS * 1000};

/* The only writer of these counters: a plain load and store is enough. */
static void lag_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void worker_lag_arm(struct tb_worker *w, uint64_t now)
{
    /* libevent times the next run from its cached clock, which is as old
     * as this loop iteration: refresh it so that `lag_due_ms` holds. */
    event_base_update_cache_time(w->base);
    w->lag_due_ms = now + TB_WORKER_LAG_TICK_MS;
    evtimer_add(w->lag_timer, &lag_tick);
}

static void worker_on_lag_tick(evutil_socket_t fd, short events, void *arg)
{
    struct tb_worker *w = arg;
    uint64_t now = tb_worker_now_ms();

    (void)fd;
    (void)events;
    lag_add(&w->lag_total_ms, now > w->lag_due_ms ? now - w->lag_due_ms : 0);
    lag_add(&w->lag_ticks, 1);
    atomic_store_explicit(&w->lag_last_ms, now, memory_order_relaxed);
    worker_lag_arm(w, now);
}

void tb_worker_lag(const struct tb_worker *w, struct tb_worker_lag *out)
{
    out->total_ms = atomic_load_explicit(&w->lag_total_ms, memory_order_relaxed);
    out->ticks = atomic_load_explicit(&w->lag_ticks, memory_order_relaxed);
    out->last_ms = atomic_load_explicit(&w->lag_last_ms, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */

static void worker_on_accept(struct evconnlistener *listener, evutil_socket_t fd,
                             struct sockaddr *peer, int peer_len, void *arg)
{
    (void)listener;
    tb_conn_accept(arg, fd, peer, (socklen_t)peer_len);
}

static void worker_on_accept_error(struct evconnlistener *listener, void *arg)
{
    struct tb_worker *w = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)listener;
    /* EMFILE and friends: keep serving the connections we have. */
    tb_log(TB_LOG_ERROR, "accept_error", " worker=%u error=\"%s\"", w->id,
           evutil_socket_error_to_string(err));
}

static void worker_on_drain_timeout(evutil_socket_t fd, short events, void *arg)
{
    struct tb_worker *w = arg;

    (void)fd;
    (void)events;
    tb_log(TB_LOG_WARN, "drain_timeout", " worker=%u open_connections=%u", w->id, w->num_conns);
    tb_conn_close_all(w);
    event_base_loopexit(w->base, NULL);
}

static void worker_on_stop(evutil_socket_t fd, short events, void *arg)
{
    struct tb_worker *w = arg;
    char byte;

    (void)events;
    if (read(fd, &byte, 1) < 0 && errno != EAGAIN)
        tb_log(TB_LOG_ERROR, "stop_pipe", " worker=%u", w->id);
    if (w->draining)
        return;
    w->draining = 1;
    /* Closing the listening socket makes new connects fail at once instead
     * of waiting in a backlog nobody will accept from. */
    evconnlistener_free(w->listener);
    w->listener = NULL;
    tb_upstream_pool_clear(w);
    tb_conn_drain_all(w);
    if (w->num_conns == 0) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    w->drain_timer = evtimer_new(w->base, worker_on_drain_timeout, w);
    evtimer_add(w->drain_timer, &w->tv_drain);
}

int tb_worker_init(struct tb_worker *w, unsigned id, const struct tb_config *cfg, int listen_fd,
                   const struct sockaddr *upstream, socklen_t upstream_len)
{
    struct event_config *ecfg;

    memset(w, 0, sizeof(*w));
    w->id = id;
    w->cfg = cfg;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    tb_list_init(&w->conns);
    tb_list_init(&w->idle_upstreams);
    memcpy(&w->upstream_addr, upstream, upstream_len);
    w->upstream_addr_len = upstream_len;
    tb_address_format(&cfg->upstream, w->upstream_authority, sizeof(w->upstream_authority));
    w->arena_first_size = WORKER_ARENA_FIRST_SIZE;
    /* Room for the request head, the response head, and rewritten values. */
    w->arena_cap = 2 * cfg->max_header_size + 64 * 1024;
    ms_to_timeval(cfg->connect_timeout_ms, &w->tv_connect);
    ms_to_timeval(cfg->header_timeout_ms, &w->tv_header);
    ms_to_timeval(cfg->upstream_timeout_ms, &w->tv_upstream);
    ms_to_timeval(cfg->idle_timeout_ms, &w->tv_idle);
    ms_to_timeval(cfg->drain_timeout_ms, &w->tv_drain);
    ms_to_timeval(2000, &w->tv_linger);
    if (tb_rng_seed(&w->rng) != TB_OK) {
        close(listen_fd);
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"no entropy for ids\"", id);
        return TB_EIO;
    }

    ecfg = event_config_new();
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
    /* libevent's default clock is CLOCK_MONOTONIC_COARSE, a jiffy behind:
     * a loop that also wakes for other reasons (the lag timer does, every
     * 50 ms) then fires a timeout up to a jiffy before its time. The precise
     * clock keeps the configured timeouts exact, for a few ns per wake-up. */
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    w->base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    if (w->base == NULL) {
        close(listen_fd);
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"event base\"", id);
        return TB_EIO;
    }
    w->listener =
        evconnlistener_new(w->base, worker_on_accept, w, LEV_OPT_CLOSE_ON_FREE, -1, listen_fd);
    if (w->listener == NULL) {
        close(listen_fd);
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"listener\"", id);
        return TB_EIO;
    }
    evconnlistener_set_error_cb(w->listener, worker_on_accept_error);
    if (pipe(w->stop_pipe) != 0 || fcntl(w->stop_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(w->stop_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(w->stop_pipe[1], F_SETFD, FD_CLOEXEC) != 0) {
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"pipe: %s\"", id, strerror(errno));
        return TB_EIO;
    }
    w->stop_event = event_new(w->base, w->stop_pipe[0], EV_READ | EV_PERSIST, worker_on_stop, w);
    event_add(w->stop_event, NULL);
    /* Without spans there is nothing to shed, so nothing to measure. */
    if (cfg->degrade_enabled && cfg->degrade_lag_ms > 0 && cfg->export.enabled != 0)
        w->lag_timer = evtimer_new(w->base, worker_on_lag_tick, w);
    return TB_OK;
}

static void *worker_main(void *arg)
{
    struct tb_worker *w = arg;

    if (w->lag_timer != NULL) {
        uint64_t now = tb_worker_now_ms();

        atomic_store_explicit(&w->lag_last_ms, now, memory_order_relaxed);
        worker_lag_arm(w, now);
    }
    event_base_dispatch(w->base);
    /* A loop that has ended is not late: the monitor must not count it. */
    atomic_store_explicit(&w->lag_last_ms, 0, memory_order_relaxed);
    return NULL;
}

int tb_worker_start(struct tb_worker *w)
{
    int err = pthread_create(&w->thread, NULL, worker_main, w);

    if (err != 0) {
        tb_log(TB_LOG_ERROR, "worker_start", " worker=%u error=\"%s\"", w->id, strerror(err));
        return TB_EIO;
    }
    return TB_OK;
}

void tb_worker_stop(struct tb_worker *w)
{
    char byte = 's';

    if (write(w->stop_pipe[1], &byte, 1) != 1)
        tb_log(TB_LOG_ERROR, "worker_stop", " worker=%u error=\"%s\"", w->id, strerror(errno));
}

void tb_worker_join(struct tb_worker *w)
{
    pthread_join(w->thread, NULL);
    tb_conn_close_all(w);
    tb_upstream_pool_clear(w);
    if (w->listener != NULL)
        evconnlistener_free(w->listener);
    if (w->drain_timer != NULL)
        event_free(w->drain_timer);
    if (w->stop_event != NULL)
        event_free(w->stop_event);
    if (w->lag_timer != NULL)
        event_free(w->lag_timer);
    while (w->num_free_arenas != 0)
        tb_arena_free(w->free_arenas[--w->num_free_arenas]);
    event_base_free(w->base);
    close(w->stop_pipe[0]);
    close(w->stop_pipe[1]);
}
