/* malloc_conf.c -- see malloc_conf.h. */
#include "malloc_conf.h"

const char *malloc_conf = "narenas:1";
