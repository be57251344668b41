/*
 * The subcommands of ptalloc that live in files of their own; main() in
 * cmd/ptalloc.c dispatches to them.  argv[0] is the subcommand's name.
 */
#ifndef PTALLOC_CMD_CMDS_H
#define PTALLOC_CMD_CMDS_H

#include <stddef.h>
#include <stdio.h>

int cmd_show(int argc, char **argv);        /* cmd/show.c */
int cmd_json(int argc, char **argv);        /* cmd/json.c */
int cmd_report(int argc, char **argv);      /* cmd/report.c */
int cmd_replay(int argc, char **argv);      /* cmd/replay.c */
int cmd_html(int argc, char **argv);        /* cmd/html.c */
int cmd_heap(int argc, char **argv);        /* cmd/heap.c */

struct rebuild;
/* The rebuilt heap drawn as ptalloc_print_heap draws the live one: every
 * chunk by arena in address order, then the bins in list order (view: the
 * thread whose caches count as caches, -1 all; all: no in-use chunk left
 * out of a big heap).  cmd/show.c */
void show_heap(const struct rebuild *rb, int view, int all);
/* A page of one heap state with no timeline (ptalloc heap --pid --html):
 * 0, or -1 with a one-line message in err.  cmd/html.c */
int html_write_state(const char *path, const struct rebuild *rb, const char *title,
                     char *err, size_t errlen);

/* -o NAME=VALUE: checked as the library reads PTALLOC_<NAME>, then set in
 * the environment; an error names the valid options (cmd/ptalloc.c). */
void cmd_set_option(const char *arg);

/* "ptalloc SUB: FILE: message" (FILE left out when NULL) on stderr, exit 2. */
void cmd_die(const char *sub, const char *file, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* s (n bytes) as a JSON string: invalid UTF-8 as U+FFFD, control
 * characters and '<' escaped (cmd/json.c). */
void cmd_json_string(FILE *out, const char *s, size_t n);
/* A number argument of an option, or cmd_die naming it. */
unsigned long long cmd_number(const char *sub, const char *opt, const char *arg);

#endif
