#include "kf_tool.h"
#include "ksnap.h"
int cmd_prune(int argc, char **argv) { (void)argc; (void)argv; kf_err("not implemented yet"); return KF_EXIT_ERR; }
