/* SPDX-License-Identifier: MIT
 * Route matching on Host and path prefix.
 */
#include <string.h>
#include <strings.h>

#include "proxy/route.h"

struct tb_iov tb_route_host_name(struct tb_iov host)
{
    if (host.len != 0 && host.base[0] == '[') {
        const char *close = memchr(host.base, ']', host.len);

        if (close != NULL)
            return (struct tb_iov){host.base + 1, (size_t)(close - host.base - 1)};
        return host;
    }
    for (size_t i = host.len; i > 0; i--) {
        if (host.base[i - 1] == ':')
            return (struct tb_iov){host.base, i - 1};
        if (host.base[i - 1] < '0' || host.base[i - 1] > '9')
            break;
    }
    return host;
}

/* "" matches any host; "*.example.com" any name ending in ".example.com"
 * (not example.com itself, as in Envoy); anything else the whole name,
 * ignoring case (RFC 9110 §4.2.3). A trailing dot is not special. */
static bool host_matches(const char *pattern, struct tb_iov name)
{
    size_t plen = strlen(pattern);

    if (plen == 0)
        return true;
    if (pattern[0] == '*') {
        size_t suffix = plen - 1;

        return name.len > suffix &&
               strncasecmp(name.base + name.len - suffix, pattern + 1, suffix) == 0;
    }
    return name.len == plen && strncasecmp(name.base, pattern, plen) == 0;
}

const struct tb_route_config *tb_route_match(const struct tb_listener_config *listener,
                                             struct tb_iov host, struct tb_iov path)
{
    struct tb_iov name = tb_route_host_name(host);

    /* "OPTIONS *" asks about the server as a whole: it goes where "/" goes. */
    if (path.len == 1 && path.base[0] == '*')
        path = (struct tb_iov){"/", 1};

    for (size_t i = 0; i < listener->num_routes; i++) {
        const struct tb_route_config *r = &listener->routes[i];
        size_t plen = strlen(r->path_prefix);

        if (!host_matches(r->host, name))
            continue;
        if (plen <= path.len && memcmp(path.base, r->path_prefix, plen) == 0)
            return r;
    }
    return NULL;
}
