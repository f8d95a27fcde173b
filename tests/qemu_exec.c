/* qemu_exec.c -- execve for the aarch64 test binaries run under qemu-user without binfmt_misc
 * (tests/test_aarch64.sh): Criterion's sandbox re-executes the test binary (/proc/self/exe)
 * for every test, and the host kernel cannot run an aarch64 ELF by itself, so an execve of
 * one is turned into an execve of $PRS_QEMU with the binary as its argument.
 *
 * Owns: nothing (no state). Linked into build/aarch64/tests/test_* only (tools/configure);
 * the executable's execve interposes libc's for libcriterion's call. Without $PRS_QEMU (a
 * real arm64 machine) it is plain execve. Calls: the execve system call, readlink, open/read.
 * Thread: the caller's (boxfort calls it in a forked child: no allocation, bounded arrays).
 * Errors: as execve's (-1, errno); E2BIG when argv or envp exceeds the bounds below. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define QE_MAX_ARGS 256 /* Criterion passes a handful; prs's tests never exec with more */
#define QE_EM_AARCH64 183

/* Default visibility (the build hides everything else): libcriterion's call must bind here. */
__attribute__((visibility("default"))) int execve(const char *path, char *const argv[],
                                                  char *const envp[]);

static int qe_sys_execve(const char *path, char *const argv[], char *const envp[]) {
    return (int)syscall(SYS_execve, path, argv, envp);
}

/* Whether PATH is an aarch64 ELF file (the ELF header's e_machine, little-endian). */
static int qe_is_aarch64(const char *path) {
    unsigned char h[20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, h, sizeof(h));
    close(fd);
    return n == (ssize_t)sizeof(h) && memcmp(h, "\177ELF", 4) == 0 &&
           (h[18] | h[19] << 8) == QE_EM_AARCH64;
}

int execve(const char *path, char *const argv[], char *const envp[]) {
    const char *qemu = getenv("PRS_QEMU");
    char target[PATH_MAX];
    if (!qemu || !qemu[0]) return qe_sys_execve(path, argv, envp);
    /* qemu-user answers readlink of /proc/self/exe with the emulated binary's path. */
    if (strcmp(path, "/proc/self/exe") == 0) {
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0) return qe_sys_execve(path, argv, envp);
        target[n] = 0;
    } else {
        snprintf(target, sizeof(target), "%s", path);
    }
    if (!qe_is_aarch64(target)) return qe_sys_execve(path, argv, envp);
    /* qemu -0 ARGV0 BINARY ARGS...: the child sees the argv[0] it was given. */
    char *args[QE_MAX_ARGS + 4];
    size_t n = 0;
    args[n++] = (char *)(uintptr_t)qemu;
    args[n++] = "-0";
    args[n++] = argv[0] ? argv[0] : target;
    args[n++] = target;
    for (size_t i = 1; argv[0] && argv[i]; i++) {
        if (n >= QE_MAX_ARGS + 3) {
            errno = E2BIG;
            return -1;
        }
        args[n++] = argv[i];
    }
    args[n] = NULL;
    return qe_sys_execve(qemu, args, envp);
}
