#include "kf_tool.h"
#include "ksnap.h"
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; kf_err("not implemented yet"); return KF_EXIT_ERR; }
int cmd_verify(int argc, char **argv) { (void)argc; (void)argv; kf_err("not implemented yet"); return KF_EXIT_ERR; }
int cmd_merge(int argc, char **argv) { (void)argc; (void)argv; kf_err("not implemented yet"); return KF_EXIT_ERR; }
