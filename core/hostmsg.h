/* hostmsg.h -- the payloads of core/prs_host.h's frames: requests built, answers decoded.
 *
 * Owns: a request buffer (prs_hostmsg), grown as needed and reused. Pure functions of
 *   their arguments otherwise: no I/O, no threads.
 * May call: libc; the worker's prs_emit (rows into a prs_out).
 * Callers: host.c, from the worker thread that owns the prs_out and the buffer. */
#ifndef PRS_HOSTMSG_H
#define PRS_HOSTMSG_H

#include "base.h"
#include "prs.h"

typedef struct prs_hostmsg {
    char *p;
    size_t len, cap;
} prs_hostmsg;

/* INIT's payload for the entry script at absolute path script (prs_host.h lists the
 * keys); argv as init() gets it. 0 or -ENOMEM. */
int prs_hostmsg_init(prs_hostmsg *m, const char *script, const prs_job_config *cfg, int worker,
                     bool check, int argc, char **argv);
/* BATCH's payload: files (names made absolute under root unless "" or already absolute)
 * or the tabular header and records. 0 or -ENOMEM. */
int prs_hostmsg_batch(prs_hostmsg *m, const prs_batch *b, bool files, const char *root);
void prs_hostmsg_free(prs_hostmsg *m);

/* ERROR: returns its kind (PRS_HOST_ERR_PROTOCOL for a short frame); *msg, *msg_len the
 * one-line message, *tb, *tb_len the traceback (views into p). */
uint32_t prs_hostmsg_error(const char *p, uint32_t len, const char **msg, size_t *msg_len,
                           const char **tb, size_t *tb_len);
/* ROWS / ROWS_TEXT into out (one prs_emit per row; a row prs_emit refuses for its newline
 * is a failed item said in out, not an error here); HEADER into out->header. 0, -EPROTO
 * (the payload does not match its counts), -ENOMEM. */
int prs_hostmsg_rows(prs_out *out, const char *p, uint32_t len);
int prs_hostmsg_rows_text(prs_out *out, const char *p, uint32_t len);
int prs_hostmsg_header(prs_out *out, const char *p, uint32_t len);

#endif
