/*
 * The subcommands of ptalloc that live in files of their own; main() in
 * cmd/ptalloc.c dispatches to them.  argv[0] is the subcommand's name.
 */
#ifndef PTALLOC_CMD_CMDS_H
#define PTALLOC_CMD_CMDS_H

int cmd_show(int argc, char **argv);        /* cmd/show.c */
int cmd_json(int argc, char **argv);        /* cmd/json.c */
int cmd_report(int argc, char **argv);      /* cmd/report.c */
int cmd_replay(int argc, char **argv);      /* cmd/replay.c */

/* -o NAME=VALUE: checked as the library reads PTALLOC_<NAME>, then set in
 * the environment; an error names the valid options (cmd/ptalloc.c). */
void cmd_set_option(const char *arg);

/* "ptalloc SUB: FILE: message" (FILE left out when NULL) on stderr, exit 2. */
void cmd_die(const char *sub, const char *file, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* A number argument of an option, or cmd_die naming it. */
unsigned long long cmd_number(const char *sub, const char *opt, const char *arg);

#endif
