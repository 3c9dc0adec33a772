/* SPDX-License-Identifier: MIT
 * The admin listener on evhttp. The proxy's own data path is llhttp over
 * bufferevents (STYLE.md); evhttp is fine here, where requests are a few
 * probes and scrapes a minute and none of them is proxied. The main thread
 * talks to the admin thread only through the ready flag, the configuration
 * lock and the stop pipe.
 */
#include "proxy/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/tb.h"
#include "proxy/config.h"
#include "proxy/metrics.h"

/* Scrapes and probes are small: anything bigger is not for us. */
#define ADMIN_MAX_HEAD 8192
#define ADMIN_MAX_BODY 4096
#define ADMIN_TIMEOUT_S 30

struct tb_admin {
    struct event_base *base;
    struct evhttp *http;
    struct event *stop_event;
    int stop_pipe[2]; /* tb_admin_stop writes a byte; the admin loop exits */
    pthread_t thread;
    bool thread_started;
    unsigned port;
    struct tb_metrics *metrics;
    atomic_bool ready;
    pthread_mutex_t cfg_lock; /* held while /config reads `cfg` and while it is swapped */
    const struct tb_config *cfg;
};

/* ------------------------------------------------------------------------ */
/* responses                                                                 */

static void admin_reply(struct evhttp_request *req, int code, const char *reason,
                        const char *content_type, const char *body, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    if (buf == NULL) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }
    evhttp_add_header(h, "Content-Type", content_type);
    /* Probes and scrapes must see the state of now, never a cached copy. */
    evhttp_add_header(h, "Cache-Control", "no-store");
    evbuffer_add(buf, body, len);
    evhttp_send_reply(req, code, reason, buf);
    evbuffer_free(buf);
}

static void admin_reply_text(struct evhttp_request *req, int code, const char *reason,
                             const char *text)
{
    admin_reply(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

/* Runs `write` into a memory stream and sends what it wrote. */
static void admin_reply_stream(struct evhttp_request *req, const char *content_type,
                               void (*write)(struct tb_admin *, FILE *), struct tb_admin *admin)
{
    char *data = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&data, &len);

    if (out == NULL) {
        admin_reply_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    write(admin, out);
    if (fclose(out) != 0) {
        free(data);
        admin_reply_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    admin_reply(req, 200, "OK", content_type, data, len);
    free(data); /* open_memstream's buffer: malloc'd by libc */
}

/* ------------------------------------------------------------------------ */
/* endpoints                                                                 */

static void admin_healthz(struct tb_admin *admin, struct evhttp_request *req)
{
    (void)admin;
    /* Alive: this thread answered. Liveness says nothing about readiness. */
    admin_reply_text(req, 200, "OK", "ok\n");
}

static void admin_readyz(struct tb_admin *admin, struct evhttp_request *req)
{
    if (atomic_load(&admin->ready))
        admin_reply_text(req, 200, "OK", "ready\n");
    else
        admin_reply_text(req, 503, "Service Unavailable", "not ready\n");
}

static void admin_write_config(struct tb_admin *admin, FILE *out)
{
    tb_config_write_json(admin->cfg, out);
}

static void admin_config(struct tb_admin *admin, struct evhttp_request *req)
{
    /* Held across the whole write: tb_admin_set_config waits for it, so
     * the configuration cannot be freed under the reader. */
    pthread_mutex_lock(&admin->cfg_lock);
    if (admin->cfg == NULL)
        admin_reply_text(req, 503, "Service Unavailable", "no configuration loaded\n");
    else
        admin_reply_stream(req, "application/json", admin_write_config, admin);
    pthread_mutex_unlock(&admin->cfg_lock);
}

static void admin_write_metrics(struct tb_admin *admin, FILE *out)
{
    tb_metrics_render(admin->metrics, out);
}

static void admin_metrics(struct tb_admin *admin, struct evhttp_request *req)
{
    admin_reply_stream(req, "text/plain; version=0.0.4; charset=utf-8", admin_write_metrics, admin);
}

static const struct {
    const char *path;
    void (*serve)(struct tb_admin *, struct evhttp_request *);
} admin_endpoints[] = {
    {"/healthz", admin_healthz},
    {"/readyz", admin_readyz},
    {"/config", admin_config},
    {"/metrics", admin_metrics},
};

static void admin_on_request(struct evhttp_request *req, void *arg)
{
    struct tb_admin *admin = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);

    for (size_t i = 0; path != NULL && i < TB_ARRAY_SIZE(admin_endpoints); i++) {
        if (strcmp(path, admin_endpoints[i].path) != 0)
            continue;
        /* Read-only endpoints: GET, and HEAD which evhttp answers without
         * the body (RFC 9110 §9.3.2). */
        if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
            admin_reply_text(req, 405, "Method Not Allowed", "method not allowed\n");
            return;
        }
        admin_endpoints[i].serve(admin, req);
        return;
    }
    admin_reply_text(req, 404, "Not Found",
                     "not found: the admin endpoints are /healthz /readyz /config /metrics\n");
}

/* ------------------------------------------------------------------------ */
/* thread                                                                    */

static void admin_on_stop(evutil_socket_t fd, short events, void *arg)
{
    struct tb_admin *admin = arg;
    char byte;

    (void)events;
    (void)!read(fd, &byte, 1);
    event_base_loopexit(admin->base, NULL);
}

static void *admin_main(void *arg)
{
    struct tb_admin *admin = arg;

    event_base_dispatch(admin->base);
    return NULL;
}

/* Frees what tb_admin_start made, whatever it got to. */
static void admin_free(struct tb_admin *admin)
{
    if (admin->http != NULL)
        evhttp_free(admin->http);
    if (admin->stop_event != NULL)
        event_free(admin->stop_event);
    if (admin->base != NULL)
        event_base_free(admin->base);
    for (int i = 0; i < 2; i++)
        if (admin->stop_pipe[i] >= 0)
            close(admin->stop_pipe[i]);
    pthread_mutex_destroy(&admin->cfg_lock);
    tb_free(admin);
}

static unsigned admin_bound_port(struct evhttp_bound_socket *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct tb_admin *tb_admin_start(const struct tb_address *addr, struct tb_metrics *metrics,
                                const struct tb_config *cfg, char *err, size_t err_size)
{
    struct tb_admin *admin = tb_xcalloc(1, sizeof(*admin));
    struct evhttp_bound_socket *bound;
    char *end;
    unsigned long port = strtoul(addr->port, &end, 10);
    int rc;

    admin->stop_pipe[0] = admin->stop_pipe[1] = -1;
    admin->metrics = metrics;
    admin->cfg = cfg;
    atomic_init(&admin->ready, false);
    pthread_mutex_init(&admin->cfg_lock, NULL);
    if (*end != '\0' || port > 65535) {
        snprintf(err, err_size, "admin address %s:%s: bad port", addr->host, addr->port);
        goto fail;
    }
    admin->base = event_base_new();
    admin->http = admin->base != NULL ? evhttp_new(admin->base) : NULL;
    if (admin->http == NULL) {
        snprintf(err, err_size, "admin: cannot create the event loop");
        goto fail;
    }
    evhttp_set_allowed_methods(admin->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                                EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                                EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                                EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(admin->http, ADMIN_MAX_HEAD);
    evhttp_set_max_body_size(admin->http, ADMIN_MAX_BODY);
    evhttp_set_timeout(admin->http, ADMIN_TIMEOUT_S);
    evhttp_set_gencb(admin->http, admin_on_request, admin);
    errno = 0;
    bound = evhttp_bind_socket_with_handle(admin->http, addr->host, (ev_uint16_t)port);
    if (bound == NULL) {
        snprintf(err, err_size, "admin address %s:%s: %s", addr->host, addr->port,
                 errno != 0 ? strerror(errno) : "cannot bind");
        goto fail;
    }
    admin->port = admin_bound_port(bound);
    if (pipe(admin->stop_pipe) != 0 || fcntl(admin->stop_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(admin->stop_pipe[1], F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, err_size, "admin: pipe: %s", strerror(errno));
        goto fail;
    }
    admin->stop_event = event_new(admin->base, admin->stop_pipe[0], EV_READ, admin_on_stop, admin);
    if (admin->stop_event == NULL || event_add(admin->stop_event, NULL) != 0) {
        snprintf(err, err_size, "admin: cannot watch the stop pipe");
        goto fail;
    }
    rc = pthread_create(&admin->thread, NULL, admin_main, admin);
    if (rc != 0) {
        snprintf(err, err_size, "admin: thread: %s", strerror(rc));
        goto fail;
    }
    admin->thread_started = true;
    return admin;

fail:
    admin_free(admin);
    return NULL;
}

unsigned tb_admin_port(const struct tb_admin *admin)
{
    return admin->port;
}

void tb_admin_set_ready(struct tb_admin *admin, bool ready)
{
    if (admin != NULL)
        atomic_store(&admin->ready, ready);
}

void tb_admin_set_config(struct tb_admin *admin, const struct tb_config *cfg)
{
    if (admin == NULL)
        return;
    pthread_mutex_lock(&admin->cfg_lock);
    admin->cfg = cfg;
    pthread_mutex_unlock(&admin->cfg_lock);
}

void tb_admin_stop(struct tb_admin *admin)
{
    char byte = 's';

    if (admin == NULL)
        return;
    if (admin->thread_started) {
        ssize_t n;

        while ((n = write(admin->stop_pipe[1], &byte, 1)) < 0 && errno == EINTR)
            ;
        /* An empty pipe always takes one byte; without it the thread could
         * not be told to stop, and freeing under it would be worse. */
        if (n != 1)
            tb_bug("admin stop pipe refused a byte");
        pthread_join(admin->thread, NULL);
    }
    admin_free(admin);
}
