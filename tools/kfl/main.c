#include <stdio.h>
#include "kf_tool.h"
int main(int argc, char **argv) { kf_set_prog(argv[0]); (void)argc; kf_err("not implemented yet"); return KF_EXIT_ERR; }
