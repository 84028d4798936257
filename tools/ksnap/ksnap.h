#ifndef KSNAP_H
#define KSNAP_H
/* Each takes argc/argv starting at the subcommand name and returns the exit code. */
int cmd_capture(int argc, char **argv);  /* capture.c (issue: capture) */
int cmd_ls(int argc, char **argv);       /* ls.c */
int cmd_prune(int argc, char **argv);    /* prune.c */
int cmd_meta(int argc, char **argv);     /* meta.c (issue: metadata) */
int cmd_freeze(int argc, char **argv);   /* freeze.c */
int cmd_info(int argc, char **argv);     /* snapcmds.c */
int cmd_verify(int argc, char **argv);   /* snapcmds.c */
int cmd_merge(int argc, char **argv);    /* snapcmds.c */
#endif
