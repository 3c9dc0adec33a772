/* SPDX-License-Identifier: MIT
 * The reason constants of reason.h. Codes are part of the log and metrics
 * interface: never rename one, add a new one instead.
 */
#include "common/reason.h"

#define REASON(name, st, txt) const struct tb_reason tb_reason_##name = {st, #name, txt}

REASON(bad_request, 400, "malformed request");
REASON(cl_and_te, 400, "both Content-Length and Transfer-Encoding");
REASON(duplicate_content_length, 400, "repeated Content-Length");
REASON(bad_transfer_encoding, 400, "Transfer-Encoding other than a single chunked");
REASON(bare_cr, 400, "CR not followed by LF in the request head");
REASON(bare_lf, 400, "LF line ending without CR in the request head");
REASON(obs_fold, 400, "obsolete header line folding");
REASON(control_char, 400, "control character in a header field");
REASON(bad_chunk, 400, "invalid chunk size");
REASON(host_missing, 400, "missing Host header");
REASON(host_repeated, 400, "repeated Host header");
REASON(connect_not_supported, 405, "CONNECT is not supported");
REASON(request_line_too_long, 414, "request line too long");
REASON(header_too_large, 431, "request header fields too large");
REASON(header_timeout, 408, "request header not received in time");
REASON(body_timeout, 408, "request body not received in time");
REASON(request_too_large, 500, "request needs more memory than allowed");
REASON(no_route, 404, "no route for this host and path");
REASON(version_not_supported, 505, "only HTTP/1.0 and HTTP/1.1 are supported");

REASON(upstream_refused, 502, "upstream refused the connection");
REASON(upstream_unreachable, 502, "upstream unreachable");
REASON(upstream_reset, 502, "upstream closed before a complete response head");
REASON(upstream_bad_response, 502, "invalid response from upstream");
REASON(upstream_header_too_large, 502, "upstream response header too large");
REASON(upstream_connect_timeout, 504, "upstream connect timed out");
REASON(upstream_timeout, 504, "upstream response timed out");

REASON(client_closed, 0, "client closed the connection");
REASON(client_timeout, 0, "client stopped reading or sending");
REASON(idle_timeout, 0, "keep-alive connection idle too long");
REASON(upstream_truncated, 0, "upstream closed in the middle of the response");
REASON(drain_timeout, 0, "shutdown drain deadline reached");
REASON(done, 0, "exchange complete");

const char *tb_status_phrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
