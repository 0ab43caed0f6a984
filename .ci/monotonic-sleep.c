/* Preloaded before libfaketime in CI's shifted-clock run.
 *
 * libfaketime 0.9.10 (Debian bookworm) mangles clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME),
 * which is how Python 3.11+ implements time.sleep, even with FAKETIME_DONT_FAKE_MONOTONIC=1:
 * the kernel gets a negative time and answers EINVAL (libfaketime issue #426). Only the wall
 * clock is to be shifted, so monotonic sleeps go straight to the kernel; the others go on to
 * libfaketime. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *req,
                    struct timespec *rem) {
    if (clock_id == CLOCK_MONOTONIC) {
        /* the libc call returns the error number instead of setting errno */
        return syscall(SYS_clock_nanosleep, clock_id, flags, req, rem) == 0 ? 0 : errno;
    }
    clock_nanosleep_fn next = (clock_nanosleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
    return next ? next(clock_id, flags, req, rem) : ENOSYS;
}
