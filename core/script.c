/* script.c -- see script.h. */
#include "script.h"

#include "host.h"

#include <dlfcn.h>
#include <string.h>
#include <sys/stat.h>

/* The Python host (core/host, hostproc, hostmsg: 19 KB) is not in libprs.a, which stays
 * within the edge footprint (tools/bench/footprint): `prs` and libprs.so link it. Weak
 * references, so that a program linking libprs.a alone still links; it refuses a *.py
 * script (prs_host_entry_run is then null), naming why. */
#pragma weak prs_host_check
#pragma weak prs_host_spare_drop
#pragma weak prs_host_entry_init
#pragma weak prs_host_entry_run
#pragma weak prs_host_entry_shutdown
#pragma weak prs_host_entry_ready

/* A script run by a host process: a name ending in ".py". */
static bool python_script(const char *path) {
    size_t n = strlen(path);
    return n > 3 && strcmp(path + n - 3, ".py") == 0;
}

int prs_script_load(prs_script_lib *lib, const char *path, char *err, size_t err_size) {
    memset(lib, 0, sizeof(*lib));
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, err_size, "--entry-script %s: %s", path, strerror(errno));
        return -ENOENT;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "--entry-script %s: not a regular file", path);
        return -ENOEXEC;
    }
    if (python_script(path)) {
        if (!prs_host_entry_run) {
            snprintf(err, err_size,
                     "--entry-script %s: a Python script, and this program is linked without "
                     "prs's Python host (libprs.a leaves it out: link libprs.so, or run prs)",
                     path);
            return -ENOEXEC;
        }
        lib->hosted = true;
        lib->table = (prs_entry_table){.init = prs_host_entry_init,
                                       .run = prs_host_entry_run,
                                       .shutdown = prs_host_entry_shutdown};
        lib->ready = prs_host_entry_ready;
        return 0; /* imported by prs_script_check, once the job's log is open */
    }
    /* dlopen searches the library path for names without a '/': make it the file given. */
    char local[4200];
    snprintf(local, sizeof(local), "%s%s", strchr(path, '/') ? "" : "./", path);
    lib->handle = dlopen(local, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) {
        const char *why = dlerror();
        snprintf(err, err_size, "--entry-script %s: cannot load it as a shared object: %s", path,
                 why ? why : "unknown error");
        return -ENOEXEC;
    }
    /* POSIX: a data pointer from dlsym converts to a function pointer; the memcpy keeps
     * -Wpedantic quiet about it. */
    void *sym;
    sym = dlsym(lib->handle, "prs_run");
    if (!sym) {
        snprintf(err, err_size,
                 "--entry-script %s: it defines no prs_run(prs_ctx *, const prs_batch *, "
                 "prs_out *) (is it declared extern \"C\" / not static?)",
                 path);
        dlclose(lib->handle);
        lib->handle = NULL;
        return -ESRCH;
    }
    memcpy(&lib->table.run, &sym, sizeof(sym));
    if ((sym = dlsym(lib->handle, "prs_init"))) memcpy(&lib->table.init, &sym, sizeof(sym));
    if ((sym = dlsym(lib->handle, "prs_shutdown"))) memcpy(&lib->table.shutdown, &sym, sizeof(sym));
    if ((sym = dlsym(lib->handle, "prs_global_init")))
        memcpy(&lib->table.global_init, &sym, sizeof(sym));
    if ((sym = dlsym(lib->handle, "prs_global_shutdown")))
        memcpy(&lib->table.global_shutdown, &sym, sizeof(sym));
    return 0;
}

void prs_script_unload(prs_script_lib *lib) {
    if (lib->host_key) prs_host_spare_drop(lib->host_key); /* set only when hosted */
    lib->host_key = NULL;
    if (lib->handle) dlclose(lib->handle);
    lib->handle = NULL;
}

int prs_script_check(prs_script_lib *lib, const prs_job_config *cfg, int argc, char **argv,
                     prs_joblog *log, char *err, size_t err_size) {
    if (!lib->hosted) return 0;
    lib->host_key = cfg;
    return prs_host_check(cfg, argc, argv, log, err, err_size);
}
