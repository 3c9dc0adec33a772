/* SPDX-License-Identifier: MIT
 * The known-header table. A lookup first filters on length, then compares
 * case-insensitively against the few names of that length.
 */
#include "parsers/hdr_names.h"

static const struct tb_hdr_name hdr_table[TB_HDR_NUM_TOKENS] = {
    [TB_HDR_UNKNOWN] = {{"", 0}, 0},
    [TB_HDR_CONNECTION] = {TB_IOV_LIT("connection"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_CONTENT_LENGTH] = {TB_IOV_LIT("content-length"), 0},
    [TB_HDR_EXPECT] = {TB_IOV_LIT("expect"), 0},
    [TB_HDR_HOST] = {TB_IOV_LIT("host"), 0},
    [TB_HDR_KEEP_ALIVE] = {TB_IOV_LIT("keep-alive"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_PROXY_CONNECTION] = {TB_IOV_LIT("proxy-connection"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_TE] = {TB_IOV_LIT("te"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_TRAILER] = {TB_IOV_LIT("trailer"), TB_HDR_F_HOP_BY_HOP},
    /* Transfer-Encoding is hop-by-hop in principle, but chunked bodies are
     * forwarded with their framing, so the header travels with them. */
    [TB_HDR_TRANSFER_ENCODING] = {TB_IOV_LIT("transfer-encoding"), 0},
    [TB_HDR_UPGRADE] = {TB_IOV_LIT("upgrade"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_X_FORWARDED_FOR] = {TB_IOV_LIT("x-forwarded-for"), 0},
    [TB_HDR_X_FORWARDED_PROTO] = {TB_IOV_LIT("x-forwarded-proto"), 0},
    [TB_HDR_TRACEPARENT] = {TB_IOV_LIT("traceparent"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_TRACESTATE] = {TB_IOV_LIT("tracestate"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_BAGGAGE] = {TB_IOV_LIT("baggage"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_B3] = {TB_IOV_LIT("b3"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_B3_TRACEID] = {TB_IOV_LIT("x-b3-traceid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_B3_SPANID] = {TB_IOV_LIT("x-b3-spanid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_B3_PARENTSPANID] = {TB_IOV_LIT("x-b3-parentspanid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_B3_SAMPLED] = {TB_IOV_LIT("x-b3-sampled"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_B3_FLAGS] = {TB_IOV_LIT("x-b3-flags"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_UBER_TRACE_ID] = {TB_IOV_LIT("uber-trace-id"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_JAEGER_DEBUG_ID] = {TB_IOV_LIT("jaeger-debug-id"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_JAEGER_BAGGAGE] = {TB_IOV_LIT("jaeger-baggage"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_AMZN_TRACE_ID] = {TB_IOV_LIT("x-amzn-trace-id"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_OT_TRACER_TRACEID] = {TB_IOV_LIT("ot-tracer-traceid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_OT_TRACER_SPANID] = {TB_IOV_LIT("ot-tracer-spanid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_OT_TRACER_SAMPLED] = {TB_IOV_LIT("ot-tracer-sampled"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_DATADOG_TRACE_ID] = {TB_IOV_LIT("x-datadog-trace-id"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_DATADOG_PARENT_ID] = {TB_IOV_LIT("x-datadog-parent-id"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_DATADOG_SAMPLING_PRIORITY] = {TB_IOV_LIT("x-datadog-sampling-priority"),
                                            TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_DATADOG_ORIGIN] = {TB_IOV_LIT("x-datadog-origin"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_X_DATADOG_TAGS] = {TB_IOV_LIT("x-datadog-tags"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_SW8] = {TB_IOV_LIT("sw8"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_SW8_X] = {TB_IOV_LIT("sw8-x"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_SW8_CORRELATION] = {TB_IOV_LIT("sw8-correlation"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_TRACEID] = {TB_IOV_LIT("eagleeye-traceid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_RPCID] = {TB_IOV_LIT("eagleeye-rpcid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_SPANID] = {TB_IOV_LIT("eagleeye-spanid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_PSPANID] = {TB_IOV_LIT("eagleeye-pspanid"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_SAMPLED] = {TB_IOV_LIT("eagleeye-sampled"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_PAPPNAME] = {TB_IOV_LIT("eagleeye-pappname"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_PRPC] = {TB_IOV_LIT("eagleeye-prpc"), TB_HDR_F_TRACE_CONTEXT},
    [TB_HDR_EAGLEEYE_USERDATA] = {TB_IOV_LIT("eagleeye-userdata"), TB_HDR_F_TRACE_CONTEXT},
};

enum tb_hdr_token tb_hdr_lookup(const char *name, size_t name_len)
{
    /* Linear over a small table, but the length check rejects almost every
     * entry before a byte is compared. */
    for (int t = 1; t < TB_HDR_NUM_TOKENS; t++) {
        const struct tb_iov *known = &hdr_table[t].name;

        if (known->len == name_len && tb_memcaseeq(known->base, name, name_len))
            return (enum tb_hdr_token)t;
    }
    return TB_HDR_UNKNOWN;
}

const struct tb_hdr_name *tb_hdr_name(enum tb_hdr_token token)
{
    TB_ASSERT((unsigned)token < TB_HDR_NUM_TOKENS);
    return &hdr_table[token];
}
