/* triage.h -- the `prs why` and `prs try` commands of the CLI (tools/prs.c dispatches).
 *
 * Owns: their option parsing and usage texts; the work is in core/why.c (why) and the
 *   library's prs_job_run in try mode (try).
 * May call: core/why.h, core/prs.h, libc. Callers: main only. */
#ifndef PRS_TOOLS_TRIAGE_H
#define PRS_TOOLS_TRIAGE_H

/* argv[0] is the command's name. Return the process's exit code. */
int prs_cmd_why(int argc, char **argv);
int prs_cmd_try(int argc, char **argv);

#endif
