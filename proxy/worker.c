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
#include "proxy/access_log.h"
#include "proxy/config.h"
#include "proxy/conn.h"
#include "proxy/gen.h"
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

void tb_ms_to_timeval(uint64_t ms, struct timeval *tv)
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
    struct tb_worker_listener *wl = arg;

    (void)listener;
    tb_conn_accept(wl, fd, peer, (socklen_t)peer_len);
}

static void worker_on_accept_error(struct evconnlistener *listener, void *arg)
{
    struct tb_worker_listener *wl = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)listener;
    /* EMFILE and friends: keep serving the connections we have. */
    tb_log(TB_LOG_ERROR, "accept_error", " worker=%u listener=%s error=\"%s\"", wl->worker->id,
           wl->cfg->name, evutil_socket_error_to_string(err));
}

/* Stops accepting on `wl` and closes its socket. */
static void worker_listener_close(struct tb_worker_listener *wl)
{
    if (wl->evl != NULL) {
        evconnlistener_free(wl->evl);
        wl->evl = NULL;
    }
    if (wl->fd >= 0) {
        close(wl->fd);
        wl->fd = -1;
    }
}

static void worker_listener_free(struct tb_worker_listener *wl)
{
    worker_listener_close(wl);
    tb_list_unlink(&wl->link);
    tb_free(wl);
}

void tb_worker_listener_conn_closed(struct tb_worker_listener *wl)
{
    struct tb_worker *w = wl->worker;

    wl->num_conns--;
    if (wl->removed && wl->num_conns == 0)
        worker_listener_free(wl);
    if (w->draining && w->num_conns == 0)
        event_base_loopexit(w->base, NULL);
}

static struct tb_worker_listener *worker_listener_new(struct tb_worker *w, int fd,
                                                      const struct tb_listener_config *cfg)
{
    struct tb_worker_listener *wl = tb_xcalloc(1, sizeof(*wl));

    wl->worker = w;
    wl->fd = fd;
    wl->cfg = cfg;
    tb_list_insert_head(&w->listeners, &wl->link);
    /* The worker closes the socket itself (worker_listener_close), so a
     * reload can keep it across a new evconnlistener. */
    wl->evl = evconnlistener_new(w->base, worker_on_accept, wl, 0, -1, fd);
    if (wl->evl == NULL) {
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u listener=%s error=\"listener\"", w->id,
               cfg->name);
        worker_listener_free(wl);
        return NULL;
    }
    evconnlistener_set_error_cb(wl->evl, worker_on_accept_error);
    return wl;
}

struct tb_gen *tb_worker_request_begin(struct tb_worker *w)
{
    w->gen->workers[w->id].inflight++;
    return w->gen;
}

void tb_worker_request_end(struct tb_worker *w, struct tb_gen *gen)
{
    /* A generation the worker moved away from is released with its last
     * request (tb_worker_apply_config released it at once if it had none). */
    if (--gen->workers[w->id].inflight == 0 && gen != w->gen)
        tb_gen_unref(gen);
}

/* Timeouts and limits that the configuration sets for the whole worker. */
static void worker_take_config(struct tb_worker *w, struct tb_gen *gen)
{
    const struct tb_config *cfg = &gen->cfg;

    w->gen = gen;
    w->cfg = cfg;
    /* Room for the request head, the response head, and rewritten values. */
    w->arena_cap = 2 * cfg->max_header_size + 64 * 1024;
    tb_ms_to_timeval(cfg->header_timeout_ms, &w->tv_header);
    tb_ms_to_timeval(cfg->idle_timeout_ms, &w->tv_idle);
    tb_ms_to_timeval(cfg->drain_timeout_ms, &w->tv_drain);
}

static bool worker_access_log_changed(const struct tb_config *a, const struct tb_config *b)
{
    return strcmp(a->access_log, b->access_log) != 0 ||
           a->access_log_format != b->access_log_format ||
           strcmp(a->access_log_template, b->access_log_template) != 0 ||
           a->access_log_buffer != b->access_log_buffer ||
           a->access_log_flush_ms != b->access_log_flush_ms;
}

/* Switches to a new generation: listeners whose socket the main thread kept
 * stay (accept queues intact), new ones start, dropped ones stop accepting
 * and let their connections finish their current request. */
static void worker_apply_config(struct tb_worker *w, struct tb_gen *gen, const int *fds)
{
    struct tb_gen *old = w->gen;
    struct tb_list *node;
    size_t n = gen->cfg.num_listeners;
    bool *kept = tb_xcalloc(n ? n : 1, sizeof(bool));

    if (old != NULL && worker_access_log_changed(&old->cfg, &gen->cfg)) {
        char why[600];

        /* A writer that cannot switch keeps the old file and format. */
        if (tb_access_log_reopen(&w->access_log, w->base, &gen->cfg, w->id, why, sizeof(why)) !=
            TB_OK)
            tb_log(TB_LOG_ERROR, "access_log_reopen", " worker=%u error=\"%s\"", w->id, why);
    }
    worker_take_config(w, gen);
    for (node = w->listeners.next; node != &w->listeners;) {
        struct tb_worker_listener *wl = TB_CONTAINER_OF(node, struct tb_worker_listener, link);
        size_t i;

        node = node->next;
        if (wl->removed)
            continue;
        for (i = 0; i < n; i++)
            if (!kept[i] && fds[i] == wl->fd)
                break;
        if (i < n && !w->draining) {
            kept[i] = true;
            wl->cfg = &gen->cfg.listeners[i];
            continue;
        }
        /* Dropped: no more accepts; its connections finish their current
         * request on the generation that routed it, then close. */
        worker_listener_close(wl);
        wl->removed = true;
        if (wl->num_conns == 0)
            worker_listener_free(wl);
        else
            tb_conn_drain_listener(wl); /* frees wl with its last connection */
    }
    for (size_t i = 0; i < n; i++) {
        if (kept[i])
            continue;
        if (w->draining) {
            close(fds[i]);
            continue;
        }
        worker_listener_new(w, fds[i], &gen->cfg.listeners[i]);
    }
    tb_free(kept);
    /* Pooled connections may lead to endpoints the new clusters dropped. */
    tb_upstream_pool_clear(w);
    if (old != NULL && old->workers[w->id].inflight == 0)
        tb_gen_unref(old);
    tb_log(TB_LOG_INFO, "config_applied", " worker=%u generation=%llu listeners=%zu", w->id,
           (unsigned long long)gen->id, n);
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

static void worker_drain(struct tb_worker *w)
{
    struct tb_list *node;

    if (w->draining)
        return;
    w->draining = 1;
    /* Closing the listening sockets makes new connects fail at once instead
     * of waiting in a backlog nobody will accept from. */
    for (node = w->listeners.next; node != &w->listeners; node = node->next)
        worker_listener_close(TB_CONTAINER_OF(node, struct tb_worker_listener, link));
    tb_upstream_pool_clear(w);
    tb_conn_drain_all(w);
    if (w->num_conns == 0) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    w->drain_timer = evtimer_new(w->base, worker_on_drain_timeout, w);
    evtimer_add(w->drain_timer, &w->tv_drain);
}

static void worker_on_msg(evutil_socket_t fd, short events, void *arg)
{
    struct tb_worker *w = arg;
    struct tb_worker_msg *msg;
    ssize_t got;

    (void)events;
    /* Pointer-sized writes to a pipe are atomic (PIPE_BUF), so a read
     * returns whole pointers. */
    while ((got = read(fd, &msg, sizeof(msg))) == (ssize_t)sizeof(msg)) {
        if (msg->type == TB_WORKER_MSG_CONFIG) {
            worker_apply_config(w, msg->gen, msg->fds);
            tb_free(msg->fds);
        } else {
            worker_drain(w);
        }
        tb_free(msg);
    }
    if (got < 0 && errno != EAGAIN)
        tb_log(TB_LOG_ERROR, "worker_pipe", " worker=%u error=\"%s\"", w->id, strerror(errno));
}

int tb_worker_init(struct tb_worker *w, unsigned id, struct tb_gen *gen, const int *fds)
{
    struct event_config *ecfg;
    char why[600];

    memset(w, 0, sizeof(*w));
    w->id = id;
    w->msg_pipe[0] = w->msg_pipe[1] = -1;
    tb_list_init(&w->listeners);
    tb_list_init(&w->conns);
    tb_list_init(&w->idle_upstreams);
    worker_take_config(w, gen);
    w->arena_first_size = WORKER_ARENA_FIRST_SIZE;
    tb_ms_to_timeval(2000, &w->tv_linger);
    if (tb_rng_seed(&w->rng) != TB_OK) {
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"no entropy for ids\"", id);
        goto fail_fds;
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
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"event base\"", id);
        goto fail_fds;
    }
    if (tb_access_log_open(&w->access_log, w->base, &gen->cfg, id, why, sizeof(why)) != TB_OK) {
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"%s\"", id, why);
        goto fail_fds;
    }
    for (size_t i = 0; i < gen->cfg.num_listeners; i++) {
        if (worker_listener_new(w, fds[i], &gen->cfg.listeners[i]) == NULL) {
            for (size_t j = i + 1; j < gen->cfg.num_listeners; j++)
                close(fds[j]);
            return TB_EIO;
        }
    }
    if (pipe(w->msg_pipe) != 0 || fcntl(w->msg_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(w->msg_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(w->msg_pipe[1], F_SETFD, FD_CLOEXEC) != 0) {
        tb_log(TB_LOG_ERROR, "worker_init", " worker=%u error=\"pipe: %s\"", id, strerror(errno));
        return TB_EIO;
    }
    w->msg_event = event_new(w->base, w->msg_pipe[0], EV_READ | EV_PERSIST, worker_on_msg, w);
    event_add(w->msg_event, NULL);
    /* Without spans there is nothing to shed, so nothing to measure. */
    if (gen->cfg.degrade_enabled && gen->cfg.degrade_lag_ms > 0 && gen->cfg.export.enabled != 0)
        w->lag_timer = evtimer_new(w->base, worker_on_lag_tick, w);
    return TB_OK;

fail_fds:
    for (size_t i = 0; i < gen->cfg.num_listeners; i++)
        close(fds[i]);
    return TB_EIO;
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

    w->started = err == 0;
    if (err != 0) {
        tb_log(TB_LOG_ERROR, "worker_start", " worker=%u error=\"%s\"", w->id, strerror(err));
        return TB_EIO;
    }
    return TB_OK;
}

int tb_worker_send(struct tb_worker *w, struct tb_worker_msg *msg)
{
    if (write(w->msg_pipe[1], &msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
        tb_log(TB_LOG_ERROR, "worker_send", " worker=%u error=\"%s\"", w->id, strerror(errno));
        return TB_EIO;
    }
    return TB_OK;
}

void tb_worker_stop(struct tb_worker *w)
{
    struct tb_worker_msg *msg = tb_xcalloc(1, sizeof(*msg));

    msg->type = TB_WORKER_MSG_STOP;
    if (tb_worker_send(w, msg) != TB_OK)
        tb_free(msg);
}

void tb_worker_join(struct tb_worker *w)
{
    struct tb_worker_msg *msg;

    if (w->started)
        pthread_join(w->thread, NULL);
    if (w->base == NULL)
        return;
    tb_conn_close_all(w);
    /* After the last requests ended, before the base its timer is on. */
    tb_access_log_close(w->access_log);
    w->access_log = NULL;
    tb_upstream_pool_clear(w);
    while (!tb_list_is_empty(&w->listeners))
        worker_listener_free(TB_CONTAINER_OF(w->listeners.next, struct tb_worker_listener, link));
    /* Messages sent after the loop ended still own references. */
    if (w->msg_pipe[0] >= 0) {
        while (read(w->msg_pipe[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
            if (msg->type == TB_WORKER_MSG_CONFIG) {
                for (size_t i = 0; i < msg->gen->cfg.num_listeners; i++)
                    close(msg->fds[i]);
                tb_gen_unref(msg->gen);
                tb_free(msg->fds);
            }
            tb_free(msg);
        }
    }
    if (w->drain_timer != NULL)
        event_free(w->drain_timer);
    if (w->msg_event != NULL)
        event_free(w->msg_event);
    if (w->lag_timer != NULL)
        event_free(w->lag_timer);
    while (w->num_free_arenas != 0)
        tb_arena_free(w->free_arenas[--w->num_free_arenas]);
    event_base_free(w->base);
    if (w->msg_pipe[0] >= 0)
        close(w->msg_pipe[0]);
    if (w->msg_pipe[1] >= 0)
        close(w->msg_pipe[1]);
    if (w->gen != NULL && w->gen->workers[w->id].inflight == 0)
        tb_gen_unref(w->gen);
    w->gen = NULL;
}
